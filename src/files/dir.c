/* Directories: reopened by path (or by handle; a deleted one, always empty, is recreated
 * as a ghost and removed again: named.c). */
#include <sys/stat.h>

#include "files/kind.h"

static bool dir_recognise(const struct fd_info *fi)
{
	return fi->has_st && S_ISDIR(fi->st.st_mode) && fi->link[0] == '/';
}

static int dir_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e)
{
	return named_dump(ctx, t, fi, e);
}

static int dir_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	return named_open(ctx, t, e, flags);
}

static int dir_validate(const char *img, const Files *f, const FdEntry *e)
{
	if (e->has_mode && !S_ISDIR(e->mode))
		return files_refuse(img, "fd %d: mode %#o is not a directory's", e->fd, e->mode);
	return named_validate(img, f, e);
}

const struct fd_ops fd_dir_ops = {
    .name = "a directory",
    .names = "directories",
    .kind = FD_KIND__FD_DIR,
    .recognise = dir_recognise,
    .dump = dir_dump,
    .restore = dir_restore,
    .validate = dir_validate,
};
