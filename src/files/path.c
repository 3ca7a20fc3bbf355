/* O_PATH descriptors: a place in the file system, not an open file; whatever they point at
 * (a file, a directory, a device, a symbolic link opened with O_NOFOLLOW) is found again by
 * path, by handle or as a ghost (named.c), and opened with O_PATH again. */
#include <fcntl.h>
#include <sys/stat.h>

#include "files/kind.h"

static bool path_recognise(const struct fd_info *fi)
{
	return (fi->flags & O_PATH) && fi->link[0] == '/';
}

static int path_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		     FdEntry *e)
{
	return named_dump(ctx, t, fi, e);
}

static int path_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
			int flags)
{
	return named_open(ctx, t, e, O_PATH | (e->flags & (O_DIRECTORY | O_NOFOLLOW)));
}

static int path_validate(const char *img, const Files *f, const FdEntry *e)
{
	if (!(e->flags & O_PATH))
		return files_refuse(img, "fd %d: an O_PATH descriptor without O_PATH", e->fd);
	return named_validate(img, f, e);
}

const struct fd_ops fd_path_ops = {
    .name = "an O_PATH descriptor",
    .names = "O_PATH descriptors",
    .kind = FD_KIND__FD_PATH,
    .recognise = path_recognise,
    .dump = path_dump,
    .restore = path_restore,
    .validate = path_validate,
};
