/* FIFOs: a pipe object with a name. The descriptions are saved as pipes are (pipe.c: the
 * buffer size and the queued bytes, once per FIFO, an outside holder refused), plus the path,
 * checked to lead to the same inode (named.c; by file handle when that name is gone but
 * another remains). At restore the root opens the FIFO read-write by its path, which never
 * waits for a partner, writes the bytes back, and every description of the tree is a new
 * description of that open FIFO (through /proc/self/fd), with its own access mode and flags. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "files/kind.h"

static bool fifo_recognise(const struct fd_info *fi)
{
	return fi->has_st && S_ISFIFO(fi->st.st_mode) && fi->link[0] == '/';
}

static int fifo_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		     FdEntry *e)
{
	int ret;
	if (fi->st.st_nlink == 0) {
		size_t l = strlen(fi->link), sl = strlen(" (deleted)");
		if (l > sl && !strcmp(fi->link + l - sl, " (deleted)"))
			l -= sl;
		pr_err("task %d: fd %d is the FIFO %.*s, deleted while open: not supported yet",
		       t->pid, fi->fd, (int)l, fi->link);
		return -ENOTSUP;
	}
	if ((ret = named_dump(ctx, t, fi, e)))
		return ret;
	return pipe_note(ctx, t, fi, e, true);
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
