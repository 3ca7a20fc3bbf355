/* Character devices (/dev/null, /dev/zero, /dev/urandom...): reopened by their node's path,
 * or from a node recreated with mknod when the node was deleted (named.c). Terminals are
 * tty.c's. */
#include <sys/stat.h>

#include "files/kind.h"

static bool chr_recognise(const struct fd_info *fi)
{
	return fi->has_st && S_ISCHR(fi->st.st_mode) && fi->link[0] == '/';
}

static int chr_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e)
{
	return named_dump(ctx, t, fi, e);
}

static int chr_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	return named_open(ctx, t, e, flags);
}

static int chr_validate(const char *img, const Files *f, const FdEntry *e)
{
	if (e->has_mode && !S_ISCHR(e->mode))
		return files_refuse(img, "fd %d: mode %#o is not a character device's", e->fd,
				    e->mode);
	return named_validate(img, f, e);
}

const struct fd_ops fd_chr_ops = {
    .name = "a character device",
    .names = "character devices",
    .kind = FD_KIND__FD_CHR,
    .recognise = chr_recognise,
    .dump = chr_dump,
    .restore = chr_restore,
    .validate = chr_validate,
};
