/* Regular files: reopened by path (or by handle, or as a ghost: named.c) with the task's open
 * flags, at the task's position. Nothing here may change the file or its times: never
 * O_CREAT, O_TRUNC; the content is only read (ghosts, with O_NOATIME). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"

static bool reg_recognise(const struct fd_info *fi)
{
	return fi->has_st && S_ISREG(fi->st.st_mode) && fi->link[0] == '/';
}

static int reg_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e)
{
	return named_dump(ctx, t, fi, e);
}

/* --inherit-fd fd[N]:PATH (PATH without its leading '/', as the original's key): the
 * caller's own open file stands for this one; a service fd for it (inherit.c) */
int reg_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e)
{
	const char *key = inherit_path_key(ctx, e);
	return key ? inherit_plan(ctx, t, e, key, (int)(e->flags & O_ACCMODE),
				  restore_alloc_fd(ctx))
		   : 0;
}

/* The caller's description, with the task's status flags; its position is the caller's
 * (the file is theirs: cryo neither seeks nor checks it) */
static int reg_inherited(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
			 const char *key, int flags)
{
	int at = inherit_find(ctx, key, (int)(e->flags & O_ACCMODE));
	int fd = at < 0 ? -1 : dup(at);

	if (fd < 0) {
		child_fail(t, at < 0 ? EINVAL : errno, "fd %d: no inherited descriptor for %s",
			   e->fd, key);
		return -1;
	}
	if (fcntl(fd, F_SETFL, flags) < 0) {
		child_fail(t, errno, "cannot set the flags %#o of fd %d (%s, inherited)", flags,
			   e->fd, e->path);
		close(fd);
		return -1;
	}
	return fd;
}

static int reg_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	const char *key = inherit_path_key(ctx, e);
	if (key)
		return reg_inherited(ctx, t, e, key, flags);
	int fd = named_open(ctx, t, e, flags);
	if (fd < 0)
		return -1;
	if (lseek(fd, (off_t)e->pos, SEEK_SET) < 0) {
		child_fail(t, errno, "cannot seek %s to %lu", e->path, e->pos);
		close(fd);
		return -1;
	}
	if (e->has_size && !e->has_ghost) {
		struct stat st;
		if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < e->pos)
			pr_warn("task %d: %s is shorter now than the position of fd %d", t->pid,
				e->path, e->fd);
	}
	return fd;
}

static int reg_validate(const char *img, const Files *f, const FdEntry *e)
{
	if (e->has_mode && !S_ISREG(e->mode))
		return files_refuse(img, "fd %d: mode %#o is not a regular file's", e->fd, e->mode);
	return named_validate(img, f, e);
}

const struct fd_ops fd_reg_ops = {
    .name = "a regular file",
    .names = "regular files",
    .kind = FD_KIND__FD_REG,
    .recognise = reg_recognise,
    .dump = reg_dump,
    .restore = reg_restore,
    .validate = reg_validate,
};
