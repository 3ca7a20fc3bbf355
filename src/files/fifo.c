/* FIFOs: a pipe object with a name. The descriptions are saved as pipes are (pipe.c: the
 * buffer size and the queued bytes, once per FIFO, an outside holder refused), plus the path,
 * checked to lead to the same inode (named.c; by file handle when that name is gone but
 * another remains). At restore the root opens the FIFO read-write by its path, which never
 * waits for a partner, writes the bytes back, and every description of the tree is a new
 * description of that open FIFO (through /proc/self/fd), with its own access mode and flags.
 *
 * A FIFO deleted while open (no name left) keeps its old path, owner, mode and times: the
 * root makes a FIFO there again (mkfifo; beside it when the name is taken now), opens it
 * read-write, and removes the name at once (given the old name for an instant first, so that
 * the fds read "PATH (deleted)" as before); the bytes go back as for any FIFO, the times are
 * set last. A FIFO has no content of its own besides its pipe: nothing else to save. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"

#define DELETED_SUFFIX " (deleted)"

static bool fifo_recognise(const struct fd_info *fi)
{
	return fi->has_st && S_ISFIFO(fi->st.st_mode) && fi->link[0] == '/';
}

static uint64_t ts_ns(struct timespec ts)
{
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int deleted_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			FdEntry *e)
{
	size_t l = strlen(fi->link), sl = strlen(DELETED_SUFFIX);

	if (l > sl && !strcmp(fi->link + l - sl, DELETED_SUFFIX))
		l -= sl;
	if (!(e->path = arena_alloc(&ctx->arena, l + 1)))
		return -ENOMEM;
	memcpy(e->path, fi->link, l);
	e->path[l] = 0;
	e->has_fifo_deleted = e->fifo_deleted = true;
	e->has_fifo_uid = e->has_fifo_gid = e->has_fifo_atime_ns = e->has_fifo_mtime_ns = true;
	e->fifo_uid = fi->st.st_uid, e->fifo_gid = fi->st.st_gid;
	e->fifo_atime_ns = ts_ns(fi->st.st_atim), e->fifo_mtime_ns = ts_ns(fi->st.st_mtim);
	pr_info("task %d: fd %d: the FIFO %s, deleted while open, is saved to be made again",
		t->pid, fi->fd, e->path);
	return 0;
}

static int fifo_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		     FdEntry *e)
{
	int ret = fi->st.st_nlink == 0 ? deleted_dump(ctx, t, fi, e) : named_dump(ctx, t, fi, e);
	return ret ? ret : pipe_note(ctx, t, fi, e, true);
}

/* ---- restore ---- */

/* Remove the FIFO's name; made beside its old name (taken by another file now), it is given
 * the old name for an instant first. */
static void remove_name(struct restore_task *t, const char *orig, const char *path)
{
	if (strcmp(path, orig) && renameat2(AT_FDCWD, path, AT_FDCWD, orig, RENAME_EXCHANGE) == 0) {
		unlink(orig);
		if (rename(path, orig) < 0)
			pr_warn("task %d: %s is left at %s", t->pid, orig, path);
	} else {
		unlink(path);
	}
}

int fifo_deleted_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e)
{
	char path[4200], dir[4200];
	struct stat pst, st;
	int fd, ret, i;

	snprintf(dir, sizeof(dir), "%s", e->path);
	const char *parent = dirname(dir);
	bool dir_times = stat(parent, &pst) == 0;

	snprintf(path, sizeof(path), "%s", e->path);
	ret = mkfifo(path, 0600);
	for (i = 0; ret < 0 && errno == EEXIST && i < 100; i++) {
		snprintf(path, sizeof(path), "%s.cryo-fifo-%d-%d", e->path, t->pid, i);
		ret = mkfifo(path, 0600);
	}
	if (ret < 0) {
		child_fail(t, errno, "cannot make the deleted FIFO %s again", e->path);
		return -1;
	}
	/* read-write: no partner is waited for; O_NOFOLLOW: the name just made */
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	int err = errno;
	remove_name(t, e->path, path);
	if (dir_times) {
		struct timespec ts[2] = {pst.st_atim, pst.st_mtim};
		utimensat(AT_FDCWD, parent, ts, 0);
	}
	if (fd < 0) {
		child_fail(t, err, "cannot open the deleted FIFO %s made again", e->path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || st.st_nlink != 0) {
		close(fd);
		child_fail(t, ESTALE, "the deleted FIFO %s made again is not the one opened",
			   e->path);
		return -1;
	}
	if (fchown(fd, e->fifo_uid, e->fifo_gid) < 0 || fchmod(fd, e->mode & 07777) < 0) {
		child_fail(t, errno, "cannot give the deleted FIFO %s its owner %u:%u and mode %o",
			   e->path, e->fifo_uid, e->fifo_gid, e->mode & 07777);
		close(fd);
		return -1;
	}
	return fd;
}

int fifo_deleted_finish(struct restore_task *t, const FdEntry *e, int fd)
{
	char self[64];
	struct timespec ts[2] = {
	    {(time_t)(e->fifo_atime_ns / 1000000000ull), (long)(e->fifo_atime_ns % 1000000000ull)},
	    {(time_t)(e->fifo_mtime_ns / 1000000000ull), (long)(e->fifo_mtime_ns % 1000000000ull)}};

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (utimensat(AT_FDCWD, self, ts, 0) < 0) {
		child_fail(t, errno, "cannot give the deleted FIFO %s its times", e->path);
		return -1;
	}
	return 0;
}

static int fifo_validate(const char *img, const Files *f, const FdEntry *e)
{
	int ret;
	if (e->has_mode && !S_ISFIFO(e->mode))
		return files_refuse(img, "fd %d: mode %#o is not a FIFO's", e->fd, e->mode);
	if (e->has_ghost && e->ghost >= 0)
		return files_refuse(img, "fd %d: a FIFO cannot be a ghost", e->fd);
	if ((ret = named_validate(img, f, e)))
		return ret;
	if (e->fifo_deleted &&
	    (!e->has_mode || (e->mode & ~(uint32_t)(S_IFMT | 07777)) || !e->has_fifo_uid ||
	     !e->has_fifo_gid || !e->has_fifo_atime_ns || !e->has_fifo_mtime_ns || e->has_handle ||
	     strlen(e->path) >= 4096 || e->fifo_uid == (uint32_t)-1 ||
	     e->fifo_gid == (uint32_t)-1 || e->fifo_atime_ns / 1000000000ull > INT64_MAX / 2 ||
	     e->fifo_mtime_ns / 1000000000ull > INT64_MAX / 2))
		return files_refuse(img,
				    "fd %d: the deleted FIFO %s is invalid (mode, owner, "
				    "times)",
				    e->fd, e->path);
	if (!e->fifo_deleted && (e->has_fifo_uid || e->has_fifo_gid))
		return files_refuse(img, "fd %d: an owner for a FIFO not deleted", e->fd);
	return pipe_validate_common(img, e);
}

const struct fd_ops fd_fifo_ops = {
    .name = "a FIFO",
    .names = "FIFOs",
    .kind = FD_KIND__FD_FIFO,
    .recognise = fifo_recognise,
    .dump = fifo_dump,
    .restore = pipe_open,
    .validate = fifo_validate,
};
