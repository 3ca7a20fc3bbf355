/* Terminals. A pseudo-terminal slave (/dev/pts/N) is the job's terminal and needs
 * --shell-job: the terminal is outside the tree and is not saved, only how the job had it:
 * termios, window size, foreground group. At restore the job gets cryo's terminal when cryo
 * runs on one (the job comes to the shell that restores it), else its own terminal again,
 * reopened by path and checked to be the same one (device, devpts instance, node change
 * time): that terminal becomes the controlling terminal of the job's session. Each open
 * file description the job had on it is opened again on that terminal with its access mode
 * and flags, and shared as it was (shared.c).
 * A pseudo-terminal master (/dev/ptmx) means a terminal made inside the tree (a terminal
 * emulator, script, tmux): that pair, master and slave, is pty.c's. Consoles, virtual consoles,
 * serial lines and /dev/tty are not this kind: they are devices reopened by path (dev.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "files/kind.h"
#include "files/tty.h"

bool tty_is_pts_major(unsigned major)
{
	return major >= 136 && major <= 143; /* UNIX98_PTY_SLAVE_MAJOR .. + 7 */
}

bool tty_is_ptmx(dev_t rdev)
{
	return major(rdev) == 5 && minor(rdev) == 2;
}

static bool tty_recognise(const struct fd_info *fi)
{
	return fi->has_st && S_ISCHR(fi->st.st_mode) &&
	       (tty_is_pts_major(major(fi->st.st_rdev)) || tty_is_ptmx(fi->st.st_rdev));
}

/* /dev/pts/N and nothing else: the path the restore opens */
bool tty_is_pts_path(const char *p)
{
	if (strncmp(p, "/dev/pts/", 9) || !p[9] || strlen(p) > 20)
		return false;
	for (p += 9; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/* /proc/PID/stat's tty_nr, the kernel's encoding of a device number */
static dev_t tty_nr_dev(int nr)
{
	unsigned u = (unsigned)nr;
	return makedev((u >> 8) & 0xfff, (u & 0xff) | ((u >> 12) & 0xfff00));
}

int tty_settings_read(struct dump_ctx *ctx, int fd, FdEntry *e)
{
	struct termios tio;
	struct winsize ws;

	if (tcgetattr(fd, &tio) < 0 || ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return -errno;
	e->has_tty_iflag = e->has_tty_oflag = e->has_tty_cflag = e->has_tty_lflag = true;
	e->tty_iflag = tio.c_iflag, e->tty_oflag = tio.c_oflag;
	e->tty_cflag = tio.c_cflag, e->tty_lflag = tio.c_lflag;
	e->has_tty_line = e->has_tty_ispeed = e->has_tty_ospeed = true;
	e->tty_line = tio.c_line;
	e->tty_ispeed = cfgetispeed(&tio), e->tty_ospeed = cfgetospeed(&tio);
	e->has_tty_rows = e->has_tty_cols = e->has_tty_xpixel = e->has_tty_ypixel = true;
	e->tty_rows = ws.ws_row, e->tty_cols = ws.ws_col;
	e->tty_xpixel = ws.ws_xpixel, e->tty_ypixel = ws.ws_ypixel;
	e->tty_cc.data = arena_memdup(&ctx->arena, tio.c_cc, NCCS);
	if (!e->tty_cc.data)
		return -ENOMEM;
	e->has_tty_cc = true;
	e->tty_cc.len = NCCS;
	return 0;
}

/* the terminal's settings, read through a copy of the task's fd */
static int read_settings(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			 FdEntry *e)
{
	int fd = fd_take_copy(fi, "its terminal"), err;

	if (fd < 0)
		return fd;
	err = -tty_settings_read(ctx, fd, e);
	close(fd);
	if (err) {
		pr_errno(err, "task %d: cannot read the settings of its terminal %s (fd %d)",
			 t->pid, fi->link, fi->fd);
		return -err;
	}
	return 0;
}

/* The first terminal fd saved in the tree before this one, or NULL. */
static const FdEntry *first_tty(struct dump_ctx *ctx, struct dump_task *t, const FdEntry *self)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *o = &ctx->tasks[i];
		for (size_t j = 0; o->files && j < o->files->n_fds; j++)
			if (o->files->fds[j] != self && o->files->fds[j]->kind == FD_KIND__FD_TTY &&
			    o->files->fds[j]->path)
				return o->files->fds[j];
		if (o == t)
			break;
	}
	return NULL;
}

static int tty_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e)
{
	const FdEntry *first;
	int ret;

	/* a pair made inside the tree (a terminal emulator, script, tmux): pty.c */
	if (tty_is_ptmx(fi->st.st_rdev))
		return pty_master_dump(ctx, t, fi, e);
	if ((ret = pty_slave_dump(ctx, t, fi, e)) != 1)
		return ret;
	if (!ctx->opts->shell_job) {
		pr_err("task %d: fd %d is the terminal %s: dump it with --shell-job", t->pid,
		       fi->fd, fi->link);
		return -ENOTSUP;
	}
	if (!tty_is_pts_path(fi->link)) {
		pr_err("task %d: fd %d is a terminal that has no /dev/pts name (%s): its devpts "
		       "is not mounted at /dev/pts",
		       t->pid, fi->fd, fi->link);
		return -ENOTSUP;
	}
	first = first_tty(ctx, t, e);
	if (first && (first->rdev != fi->st.st_rdev || first->dev != fi->st.st_dev)) {
		pr_err("task %d: fd %d is the terminal %s, a second one (the job's is %s): a "
		       "job on several terminals is not supported",
		       t->pid, fi->fd, fi->link, first->path);
		return -ENOTSUP;
	}
	e->path = arena_strdup(&ctx->arena, fi->link);
	if (!e->path)
		return -ENOMEM;
	if ((ret = read_settings(ctx, t, fi, e)))
		return ret;
	e->has_dev = e->has_tty_ctime_ns = e->has_tty_fg_pgrp = true;
	e->dev = fi->st.st_dev;
	e->tty_ctime_ns = (int64_t)fi->st.st_ctim.tv_sec * 1000000000 + fi->st.st_ctim.tv_nsec;
	/* the foreground group, if this is the task's controlling terminal */
	e->tty_fg_pgrp = 0;
	if (tty_nr_dev(t->stat.tty_nr) == fi->st.st_rdev && t->stat.tpgid > 0)
		e->tty_fg_pgrp = t->stat.tpgid;
	return 0;
}

/* ---- restore ---- */

static int tty_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	/* a description of its own on the terminal, with the fd's access mode and flags:
	 * the terminal opened again through cryo's descriptor of it */
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", ctx->svc_tty);
	fd = open(path, flags);
	if (fd < 0)
		child_fail(t, errno, "cannot open the terminal for fd %d", e->fd);
	return fd;
}

int tty_settings_validate(const char *img, const FdEntry *e)
{
	if (e->has_tty_cc && e->tty_cc.len > NCCS)
		return files_refuse(img, "fd %d: %zu terminal control characters, more than %d",
				    e->fd, e->tty_cc.len, NCCS);
	if ((e->has_tty_rows && e->tty_rows > 0xffff) ||
	    (e->has_tty_cols && e->tty_cols > 0xffff) ||
	    (e->has_tty_xpixel && e->tty_xpixel > 0xffff) ||
	    (e->has_tty_ypixel && e->tty_ypixel > 0xffff))
		return files_refuse(img, "fd %d: the window size is out of range", e->fd);
	if (e->has_tty_line && e->tty_line > 0xff)
		return files_refuse(img, "fd %d: line discipline %u is out of range", e->fd,
				    e->tty_line);
	if (e->has_tty_fg_pgrp && (e->tty_fg_pgrp < 0 || e->tty_fg_pgrp > 4194304))
		return files_refuse(img, "fd %d: foreground group %d is out of range", e->fd,
				    e->tty_fg_pgrp);
	return 0;
}

static int tty_validate(const char *img, const Files *f, const FdEntry *e)
{
	if (e->has_mode && !S_ISCHR(e->mode))
		return files_refuse(img, "fd %d: mode %#o is not a terminal's", e->fd, e->mode);
	if (!e->path || !tty_is_pts_path(e->path))
		return files_refuse(img, "fd %d: '%s' is not a /dev/pts terminal", e->fd,
				    e->path ? e->path : "");
	if (!e->has_rdev || !tty_is_pts_major(major(e->rdev)))
		return files_refuse(img, "fd %d: device %#llx is not a pseudo-terminal", e->fd,
				    (unsigned long long)e->rdev);
	return tty_settings_validate(img, e);
}

int tty_plan(struct restore_ctx *ctx, struct restore_task *t)
{
	for (size_t i = 0; i < t->files->n_fds; i++) {
		const FdEntry *e = t->files->fds[i];
		if (e->kind != FD_KIND__FD_TTY)
			continue;
		ctx->need_tty = true;
		if (!ctx->tty) {
			ctx->tty = e;
		} else if (strcmp(ctx->tty->path, e->path) || ctx->tty->rdev != e->rdev) {
			pr_err("files-%d.img: fd %d is the terminal %s, but the job's is %s",
			       t->pid, e->fd, e->path, ctx->tty->path);
			return -EINVAL;
		}
	}
	return 0;
}

/* Is fd the terminal e was (same device, same devpts, node not made anew)? */
static bool same_terminal(int fd, const FdEntry *e)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != e->rdev)
		return false;
	if (e->has_dev && st.st_dev != e->dev)
		return false;
	return !e->has_tty_ctime_ns ||
	       (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec == e->tty_ctime_ns;
}

int tty_root_open(struct restore_ctx *ctx, struct restore_task *t)
{
	const FdEntry *e = ctx->tty;
	int fd = -1;

	for (int i = 0; i < 3 && fd < 0; i++)
		if (isatty(i))
			fd = dup(i);
	ctx->tty_own = fd < 0;
	if (fd < 0) {
		/* cryo has no terminal: the job's own, if it is still there */
		fd = open(e->path, O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			child_fail(t, errno,
				   "--shell-job: cryo runs without a terminal, and the job's "
				   "terminal %s cannot be opened",
				   e->path);
			return -1;
		}
		if (!same_terminal(fd, e)) {
			close(fd);
			child_fail(t, ENXIO,
				   "--shell-job: cryo runs without a terminal, and the job's "
				   "terminal %s is gone (that name is another terminal now)",
				   e->path);
			return -1;
		}
	}
	ctx->tty_same = ctx->tty_own || same_terminal(fd, e);
	/* its own terminal: the job leads a session on it, from now on (the shared
	 * descriptions opened next may be /dev/tty) */
	if (ctx->tty_own && setsid() < 0) {
		child_fail(t, errno, "cannot start a session for the job");
		return -1;
	}
	if (ctx->tty_own && ioctl(fd, TIOCSCTTY, 0) < 0) {
		child_fail(t, errno,
			   "--shell-job: the job's terminal %s is the controlling terminal of "
			   "another session: restore the job from that terminal",
			   e->path);
		return -1;
	}
	if (fd != ctx->svc_tty && (dup2(fd, ctx->svc_tty) < 0 || close(fd) < 0)) {
		child_fail(t, errno, "cannot place the terminal at fd %d", ctx->svc_tty);
		return -1;
	}
	return 0;
}

int tty_settings_apply(int fd, const FdEntry *e, bool winsize, const char **what)
{
	struct termios tio;

	*what = "read the settings of";
	if (tcgetattr(fd, &tio) < 0)
		return -errno;
	tio.c_iflag = e->tty_iflag, tio.c_oflag = e->tty_oflag;
	tio.c_cflag = e->tty_cflag, tio.c_lflag = e->tty_lflag;
	tio.c_line = (cc_t)e->tty_line;
	if (e->has_tty_cc)
		memcpy(tio.c_cc, e->tty_cc.data, e->tty_cc.len);
	if (e->has_tty_ispeed)
		cfsetispeed(&tio, e->tty_ispeed);
	if (e->has_tty_ospeed)
		cfsetospeed(&tio, e->tty_ospeed);
	/* every signal is blocked in the child phase: no SIGTTOU stops a background caller */
	*what = "set the settings back on";
	if (tcsetattr(fd, TCSANOW, &tio) < 0)
		return -errno;
	if (winsize && e->has_tty_rows) {
		struct winsize ws = {(unsigned short)e->tty_rows, (unsigned short)e->tty_cols,
				     (unsigned short)e->tty_xpixel, (unsigned short)e->tty_ypixel};
		*what = "set the window size back on";
		if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
			return -errno;
	}
	return 0;
}

static int set_settings(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e)
{
	const char *what;
	int ret;

	if (!e->has_tty_lflag)
		return 0;
	/* the window size only on the job's own terminal: another one has its own size */
	if ((ret = tty_settings_apply(ctx->svc_tty, e, ctx->tty_same, &what))) {
		child_fail(t, -ret, "cannot %s the terminal", what);
		return -1;
	}
	return 0;
}

int tty_session_setup(struct restore_ctx *ctx, struct restore_task *t)
{
	const FdEntry *e = ctx->tty;

	if (pty_session_setup(ctx, t))
		return -1;
	if (!ctx->need_tty || !e)
		return 0;
	if (t->idx == 0)
		return set_settings(ctx, t, e);
	/* the leader of the dumped foreground group takes the terminal's foreground */
	if (e->has_tty_fg_pgrp && e->tty_fg_pgrp == t->pid && (pid_t)t->pst->pgid == t->pid &&
	    tcsetpgrp(ctx->svc_tty, t->pid) < 0) {
		child_fail(t, errno, "cannot make group %d the terminal's foreground again",
			   t->pid);
		return -1;
	}
	return 0;
}

const struct fd_ops fd_tty_ops = {
    .name = "a terminal",
    .names = "terminals",
    .kind = FD_KIND__FD_TTY,
    .recognise = tty_recognise,
    .dump = tty_dump,
    .restore = tty_restore,
    .validate = tty_validate,
};
