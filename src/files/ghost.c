/* Files deleted while open ("ghosts"): no name leads to them any more, so the dump saves the
 * file itself and the restore recreates it at its old path (or beside it, if that name is
 * taken now), opens it as the task had it, and removes the name again.
 *
 * Exactly as it was: a regular file's data ranges only (SEEK_DATA/SEEK_HOLE), so holes stay
 * holes and a 1 GiB sparse file with 4 KiB of data makes a 4 KiB image; its size; owner,
 * mode, access and modification times (set last, after every write); the content as it is at
 * the dump, also when it changed after the unlink. Besides regular files: a deleted directory
 * (always empty: rmdir removes only empty ones), a device node (mknod) and a symbolic link
 * (its target). The times of the directory the ghost is created in are put back too.
 *
 * Several fds of a task that hold the same deleted file share one ghost: the first opens it,
 * the others reopen it through the first one. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "files/kind.h"

#define GHOST_MAX_EXTENTS (1u << 20)

static uint64_t ts_ns(struct timespec ts)
{
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct timespec ns_ts(uint64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / 1000000000ull),
				 .tv_nsec = (long)(ns % 1000000000ull)};
}

/* The data ranges of the file into the image, holes skipped. */
static int save_content(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			GhostFile *g, const char *name)
{
	char path[64];
	int src, out, ret = 0;
	off_t size = fi->st.st_size;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", t->pid, fi->fd);
	/* O_NOATIME: reading it must not change its access time */
	src = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (src < 0 && errno == EPERM)
		src = open(path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot open deleted file %s (fd %d) to save it", t->pid,
			 g->orig_path, fi->fd);
		return ret;
	}
	out = img_raw_create(ctx->dirfd, IMG_GHOST, g->id);
	if (out < 0) {
		close(src);
		return out;
	}
	g->has_sparse = true;
	g->sparse = true;
	for (off_t off = 0; off < size && !ret;) {
		off_t data = lseek(src, off, SEEK_DATA), hole;
		if (data < 0 && errno == ENXIO)
			break;
		hole = data < 0 ? -1 : lseek(src, data, SEEK_HOLE);
		if (data < 0 || hole < 0) {
			ret = -errno;
			pr_errno(-ret, "task %d: cannot find the data of deleted file %s", t->pid,
				 g->orig_path);
			break;
		}
		if (data >= size)
			break;
		if (hole > size)
			hole = size;
		GhostExtent *x = A_NEW(&ctx->arena, GhostExtent, GHOST_EXTENT);
		if (!x || !DUMP_PUSH(ctx, g->extents, g->n_extents, x)) {
			ret = -ENOMEM;
			break;
		}
		x->off = data;
		x->len = hole - data;
		for (off_t p = data; p < hole;) {
			ssize_t n = sendfile(out, src, &p, hole - p);
			if (n <= 0) {
				ret = n < 0 ? -errno : -EIO;
				pr_errno(-ret, "task %d: cannot copy deleted file %s into %s",
					 t->pid, g->orig_path, name);
				break;
			}
		}
		off = hole;
	}
	close(src);
	if (ret)
		close(out);
	else
		ret = img_close_synced(out, name);
	return ret;
}

static int read_target(struct dump_task *t, const struct fd_info *fi, GhostFile *g, struct arena *a)
{
	char buf[4096];
	int pidfd = sys_pidfd_open(t->pid), fd = -1, err = 0;
	ssize_t n = -1;

	if (pidfd >= 0)
		fd = sys_pidfd_getfd(pidfd, fi->fd);
	if (fd >= 0)
		n = readlinkat(fd, "", buf, sizeof(buf) - 1);
	if (n < 0)
		err = errno;
	if (fd >= 0)
		close(fd);
	if (pidfd >= 0)
		close(pidfd);
	if (n < 0) {
		pr_errno(err, "task %d: cannot read the deleted symbolic link of fd %d", t->pid,
			 fi->fd);
		return -err;
	}
	buf[n] = 0;
	g->target = arena_strdup(a, buf);
	return g->target ? 0 : -ENOMEM;
}

int ghost_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e,
	       const char *orig_path)
{
	Files *f = t->files;
	mode_t type = fi->st.st_mode & S_IFMT;
	char name[64];
	int ret = 0;

	for (size_t i = 0; i < f->n_ghosts; i++)
		if (f->ghosts[i]->dev == fi->st.st_dev && f->ghosts[i]->ino == fi->st.st_ino) {
			e->has_ghost = true;
			e->ghost = (int32_t)i;
			return 0;
		}
	for (int k = 0; k < ctx->nr_tasks; k++) {
		Files *of = ctx->tasks[k].files;
		for (size_t i = 0; of && of != f && i < of->n_ghosts; i++)
			if (of->ghosts[i]->dev == fi->st.st_dev &&
			    of->ghosts[i]->ino == fi->st.st_ino) {
				pr_err("task %d: fd %d: the deleted file %s is also held open by "
				       "task %d: not supported yet",
				       t->pid, fi->fd, orig_path, ctx->tasks[k].pid);
				return -ENOTSUP;
			}
	}
	if (type != S_IFREG && type != S_IFDIR && type != S_IFCHR && type != S_IFBLK &&
	    type != S_IFLNK) {
		pr_err("task %d: fd %d: %s was deleted, and a deleted file of mode %o cannot be "
		       "recreated: not supported yet",
		       t->pid, fi->fd, orig_path, fi->st.st_mode);
		return -ENOTSUP;
	}
	GhostFile *g = A_NEW(&ctx->arena, GhostFile, GHOST_FILE);
	if (!g || !DUMP_PUSH(ctx, f->ghosts, f->n_ghosts, g))
		return -ENOMEM;
	g->id = ctx->next_ghost_id++;
	g->orig_path = (char *)orig_path;
	g->mode = fi->st.st_mode;
	g->size = fi->st.st_size;
	g->has_uid = g->has_gid = g->has_atime_ns = g->has_mtime_ns = true;
	g->uid = fi->st.st_uid;
	g->gid = fi->st.st_gid;
	g->atime_ns = ts_ns(fi->st.st_atim);
	g->mtime_ns = ts_ns(fi->st.st_mtim);
	g->has_dev = g->has_ino = true;
	g->dev = fi->st.st_dev;
	g->ino = fi->st.st_ino;
	e->has_ghost = true;
	e->ghost = (int32_t)(f->n_ghosts - 1);
	img_name(IMG_GHOST, (int)g->id, name, sizeof(name));
	if (type == S_IFREG)
		ret = save_content(ctx, t, fi, g, name);
	else if (type == S_IFLNK)
		ret = read_target(t, fi, g, &ctx->arena);
	else if (type == S_IFCHR || type == S_IFBLK) {
		g->has_rdev = true;
		g->rdev = fi->st.st_rdev;
	}
	if (!ret)
		pr_info("task %d: fd %d: deleted %s (mode %o, %lu bytes, %zu data ranges) saved "
			"as ghost %u",
			t->pid, fi->fd, orig_path, g->mode, g->size, g->n_extents, g->id);
	return ret;
}

/* ---- restore ---- */

/* Create the object at path; on success return an fd of it: O_WRONLY for a regular file
 * (its content written), O_PATH for the others. -errno on failure (EEXIST: name taken). */
static int create_at(struct restore_ctx *ctx, struct restore_task *t, const GhostFile *g,
		     const char *path)
{
	mode_t type = g->mode & S_IFMT;
	int fd, ret = 0;

	switch (type) {
	case S_IFREG:
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		return fd < 0 ? -errno : fd;
	case S_IFDIR:
		ret = mkdir(path, 0700);
		break;
	case S_IFCHR:
	case S_IFBLK:
		ret = mknod(path, type | 0600, (dev_t)g->rdev);
		break;
	case S_IFLNK:
		ret = symlink(g->target, path);
		break;
	default:
		return -EINVAL;
	}
	if (ret < 0)
		return -errno;
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int write_content(struct restore_ctx *ctx, struct restore_task *t, const GhostFile *g,
			 int dst)
{
	char name[64];
	uint64_t size;
	int src, err = 0;
	off_t soff = IMG_RAW_HDR;

	img_name(IMG_GHOST, g->id, name, sizeof(name));
	src = img_raw_open(ctx->svc_dirfd, IMG_GHOST, g->id, &size);
	if (src < 0) {
		child_fail(t, -src, "cannot open %s", name);
		return -1;
	}
	GhostExtent whole = {.off = 0, .len = g->size};
	size_t n_ext = g->sparse ? g->n_extents : 1;
	for (size_t i = 0; i < n_ext && !err; i++) {
		const GhostExtent *x = g->sparse ? g->extents[i] : &whole;
		if (lseek(dst, (off_t)x->off, SEEK_SET) < 0) {
			err = errno;
			break;
		}
		for (off_t end = soff + (off_t)x->len; soff < end;) {
			ssize_t n = sendfile(dst, src, &soff, end - soff);
			if (n <= 0) {
				err = n < 0 ? errno : EIO;
				break;
			}
		}
	}
	close(src);
	/* the size as it was: holes at the end included */
	if (!err && ftruncate(dst, (off_t)g->size) < 0)
		err = errno;
	if (err) {
		child_fail(t, err, "cannot write the content of deleted file %s", g->orig_path);
		return -1;
	}
	return 0;
}

/* Owner, mode, times: last, once nothing will change them any more */
static int set_attrs(struct restore_task *t, const GhostFile *g, int fd, const char *path)
{
	char self[64];
	bool lnk = S_ISLNK(g->mode);
	struct timespec ts[2] = {ns_ts(g->atime_ns), ns_ts(g->mtime_ns)};

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (g->has_uid && g->has_gid && fchownat(fd, "", g->uid, g->gid, AT_EMPTY_PATH) < 0) {
		child_fail(t, errno, "cannot give deleted file %s its owner %u:%u", g->orig_path,
			   g->uid, g->gid);
		return -1;
	}
	if (!lnk && chmod(self, g->mode & 07777) < 0) {
		child_fail(t, errno, "cannot give deleted file %s its mode %o", g->orig_path,
			   g->mode & 07777);
		return -1;
	}
	if (g->has_atime_ns && g->has_mtime_ns &&
	    (lnk ? utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW)
		 : utimensat(AT_FDCWD, self, ts, 0)) < 0) {
		child_fail(t, errno, "cannot give deleted file %s its times", g->orig_path);
		return -1;
	}
	return 0;
}

/* Remove the ghost's name. Built beside its old name (taken by a new file), it is given the
 * old name for an instant first, so that its fd reads "NAME (deleted)" as before. */
static void remove_name(struct restore_task *t, const GhostFile *g, const char *path)
{
	int rmflag = S_ISDIR(g->mode) ? AT_REMOVEDIR : 0;
	if (strcmp(path, g->orig_path) &&
	    renameat2(AT_FDCWD, path, AT_FDCWD, g->orig_path, RENAME_EXCHANGE) == 0) {
		unlinkat(AT_FDCWD, g->orig_path, rmflag);
		if (rename(path, g->orig_path) < 0)
			pr_warn("task %d: %s is left at %s", t->pid, g->orig_path, path);
	} else {
		unlinkat(AT_FDCWD, path, rmflag);
	}
}

int ghost_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	Files *f = t->files;
	const GhostFile *g = f->ghosts[e->ghost];
	char path[4200], dir[4200], self[64];
	struct stat dst_st, pst, st;
	int obj = -1, fd;

	/* another fd of this task holds it already (placed before this one) */
	for (size_t i = 0; i < f->n_fds && f->fds[i] != e; i++) {
		const FdEntry *o = f->fds[i];
		if (o->has_ghost && o->ghost == e->ghost && !o->has_dup_of) {
			snprintf(self, sizeof(self), "/proc/self/fd/%d", o->fd);
			/* a symbolic link cannot be reopened through /proc: O_PATH holds no
			 * state of its own, a copy is the same */
			fd = S_ISLNK(g->mode) ? dup(o->fd) : open(self, flags & ~O_NOFOLLOW);
			if (fd < 0)
				child_fail(t, errno, "cannot reopen deleted file %s for fd %d",
					   g->orig_path, e->fd);
			return fd;
		}
	}
	snprintf(dir, sizeof(dir), "%s", g->orig_path);
	const char *parent = dirname(dir);
	bool dir_times = stat(parent, &pst) == 0;

	snprintf(path, sizeof(path), "%s", g->orig_path);
	obj = create_at(ctx, t, g, path);
	for (int i = 0; obj == -EEXIST && i < 100; i++) {
		snprintf(path, sizeof(path), "%s.cryo-ghost-%d-%d", g->orig_path, t->pid, i);
		obj = create_at(ctx, t, g, path);
	}
	if (obj < 0) {
		child_fail(t, -obj, "cannot recreate deleted file %s", g->orig_path);
		return -1;
	}
	if ((S_ISREG(g->mode) && write_content(ctx, t, g, obj)) || set_attrs(t, g, obj, path) ||
	    fstat(obj, &dst_st) < 0) {
		close(obj);
		remove_name(t, g, path);
		return -1;
	}
	/* opened again through the object itself: no name is looked up twice */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", obj);
	if ((flags & O_PATH) && S_ISLNK(g->mode))
		fd = dup(obj);
	else
		fd = open(self, flags & ~O_NOFOLLOW);
	int err = errno;
	close(obj);
	remove_name(t, g, path);
	if (dir_times) {
		struct timespec ts[2] = {pst.st_atim, pst.st_mtim};
		utimensat(AT_FDCWD, parent, ts, 0);
	}
	if (fd < 0) {
		child_fail(t, err, "cannot open recreated deleted file %s", path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_ino != dst_st.st_ino || st.st_dev != dst_st.st_dev) {
		close(fd);
		child_fail(t, ESTALE, "recreated deleted file %s is not the one opened", path);
		return -1;
	}
	return fd;
}

int ghosts_validate(struct restore_ctx *ctx, struct restore_task *t, const char *img)
{
	Files *f = t->files;
	for (size_t i = 0; i < f->n_ghosts; i++) {
		GhostFile *g = f->ghosts[i];
		mode_t type = g->mode & S_IFMT;
		char name[64];
		uint64_t size, sum = 0, end = 0;

		for (size_t j = 0; j < i; j++)
			if (f->ghosts[j]->id == g->id)
				return files_refuse(img, "ghost file %zu: id %u appears twice", i,
						    g->id);
		if (g->id >= (1u << 24) || !g->orig_path || g->orig_path[0] != '/' ||
		    strlen(g->orig_path) >= 4096)
			return files_refuse(img, "ghost file %zu is invalid (id, path)", i);
		if ((type != S_IFREG && type != S_IFDIR && type != S_IFCHR && type != S_IFBLK &&
		     type != S_IFLNK) ||
		    g->mode & ~(uint32_t)(S_IFMT | 07777))
			return files_refuse(
			    img, "ghost file %zu: mode %#o is not one cryo recreates", i, g->mode);
		if (type == S_IFLNK && (!g->target || !g->target[0] || strlen(g->target) >= 4096))
			return files_refuse(img, "ghost file %zu: a symbolic link without target",
					    i);
		if ((type == S_IFCHR || type == S_IFBLK) && !g->has_rdev)
			return files_refuse(img, "ghost file %zu: a device without its number", i);
		if (type != S_IFREG)
			continue;
		if (g->size > INT64_MAX)
			return files_refuse(img, "ghost file %zu: size %lu out of range", i,
					    g->size);
		if (g->n_extents > GHOST_MAX_EXTENTS || (!g->sparse && g->n_extents))
			return files_refuse(img, "ghost file %zu: %zu data ranges", i,
					    g->n_extents);
		for (size_t j = 0; j < g->n_extents; j++) {
			GhostExtent *x = g->extents[j];
			if (x->off < end || x->len == 0 || x->len > g->size ||
			    x->off > g->size - x->len)
				return files_refuse(img,
						    "ghost file %zu: data range %zu (%lu+%lu) is "
						    "out of order or beyond its size %lu",
						    i, j, x->off, x->len, g->size);
			end = x->off + x->len;
			sum += x->len;
		}
		if (!g->sparse)
			sum = g->size;
		img_name(IMG_GHOST, g->id, name, sizeof(name));
		int fd = img_raw_open(ctx->dirfd, IMG_GHOST, g->id, &size);
		if (fd < 0)
			return fd;
		close(fd);
		if (size != sum)
			return files_refuse(img,
					    "ghost file %zu: %lu bytes of data, but %s holds %lu",
					    i, sum, name, size);
	}
	return 0;
}
