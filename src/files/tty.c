/* Terminals, with --shell-job only: the job's terminal is not saved; at restore every such fd
 * is a copy of the terminal cryo restore runs on (one description, as a shell gives its job
 * one). Without --shell-job the dump refuses them, naming the option. */
#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"

static bool is_tty_major(unsigned major)
{
	/* 4: virtual consoles and serial, 5: /dev/tty and ptmx, 136-143: pty slaves */
	return major == 4 || major == 5 || (major >= 136 && major <= 143);
}

static bool tty_recognise(const struct fd_info *fi)
{
	return fi->has_st && S_ISCHR(fi->st.st_mode) && is_tty_major(major(fi->st.st_rdev));
}

static int tty_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e)
{
	if (!ctx->opts->shell_job) {
		pr_err("task %d: fd %d is the terminal %s: dump it with --shell-job", t->pid,
		       fi->fd, fi->link);
		return -ENOTSUP;
	}
	e->path = arena_strdup(&ctx->arena, fi->link);
	return e->path ? 0 : -ENOMEM;
}

static int tty_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	int fd = dup(ctx->svc_tty);
	if (fd < 0)
		child_fail(t, errno, "cannot give fd %d the terminal", e->fd);
	return fd;
}

static int tty_validate(const char *img, const Files *f, const FdEntry *e)
{
	if (e->has_mode && !S_ISCHR(e->mode))
		return files_refuse(img, "fd %d: mode %#o is not a terminal's", e->fd, e->mode);
	return 0;
}

const struct fd_ops fd_tty_ops = {
    .name = "a terminal",
    .names = "terminals",
    .kind = FD_KIND__FD_TTY,
    .recognise = tty_recognise,
    .own_sharing = true,
    .dump = tty_dump,
    .restore = tty_restore,
    .validate = tty_validate,
};
