/* Pseudo-terminal pairs made inside the tree: a terminal emulator, `script`, a tmux-like
 * server holds the master (/dev/ptmx), a child leads a session with the slave (/dev/pts/N)
 * as its controlling terminal.
 *
 * Dump: the first time a terminal descriptor is met, every task's descriptors are looked
 * at once for masters (pty_scan): each master's number (TIOCGPTN) and its slave (an O_PATH
 * peer, TIOCGPTPEER: the devpts instance and device number) make a pair; slave descriptors
 * of a pair whose master is in the tree are then this kind, not the job's terminal (tty.c).
 * A master is one open file description (opening /dev/ptmx again makes another pair), so
 * the master entry holds the pair: N, the slave's termios and window size (read through the
 * master, which acts on the slave's), packet mode, the /dev/pts/N node's owner and mode, the
 * session whose controlling terminal it is and its foreground group, and the bytes queued
 * both ways (pty_queue.c: output for the master to read, input for the slave's reader with
 * its line structure and a partial canonical line; read and put back at once). Refused by
 * name: a lock still on (unlockpt not called), no slave in the tree, a packet-mode status not
 * read yet, input queued in EXTPROC mode or beyond the line discipline's buffer, a line
 * discipline other than N_TTY, a session without its leader in the tree, a pair also held
 * outside the tree.
 *
 * Restore: each pair is a global made by the root before the tree: /dev/ptmx opened until
 * the kernel gives number N (it gives the lowest free one: the lower ones are held open
 * meanwhile, then closed; N taken is refused, after waiting a moment for the dumped tree's
 * last close), unlocked, its settings, packet mode, node owner and mode set, the master at a
 * service fd. The master entry is a copy of it; every slave description is a new one
 * (TIOCGPTPEER). The session leader takes the slave as controlling terminal (TIOCSCTTY)
 * once it has its session; a task of the foreground group makes its group the foreground
 * (TIOCSPGRP through the master) once it is in it. The queued bytes go back in after the
 * settings and before packet mode (pty_queue.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/others.h"
#include "files/kind.h"
#include "files/tty.h"

#define PTY_MAX_INDEX (1u << 20)
#define PTY_MAX_PAIRS 4096

struct pty_obj {
	uint64_t dev, rdev; /* the slave's devpts instance and device */
	uint32_t index, id;
	int m_task, m_fd; /* the master's first holder */
	int s_task, s_fd; /* a slave holder, s_task -1 if none */
	FdEntry *carrier; /* the master entry */
};

struct pty_table {
	struct pty_obj *objs;
	uint32_t n, cap;
	bool scanned;
};

static int copy_of(pid_t pid, int fd)
{
	int pidfd = sys_pidfd_open(pid), copy = -1;
	if (pidfd >= 0) {
		copy = sys_pidfd_getfd(pidfd, fd);
		int err = errno;
		close(pidfd);
		errno = err;
	}
	return copy;
}

/* The slave of master fd: its devpts and device, through an O_PATH peer (no open of the
 * terminal happens, measured: it works even while the pair is locked). */
static int peer_of(int master, struct stat *st)
{
	int peer = ioctl(master, TIOCGPTPEER, O_PATH | O_NOCTTY | O_CLOEXEC);
	if (peer < 0)
		return -errno;
	int ret = fstat(peer, st) < 0 ? -errno : 0;
	close(peer);
	return ret;
}

static struct pty_obj *table_find(struct pty_table *pt, uint64_t dev, uint64_t rdev)
{
	for (uint32_t i = 0; pt && i < pt->n; i++)
		if (pt->objs[i].dev == dev && pt->objs[i].rdev == rdev)
			return &pt->objs[i];
	return NULL;
}

static int table_add(struct pty_table *pt, const struct pty_obj *o)
{
	if (pt->n == pt->cap) {
		uint32_t cap = pt->cap ? pt->cap * 2 : 8;
		struct pty_obj *n = realloc(pt->objs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		pt->objs = n, pt->cap = cap;
	}
	pt->objs[pt->n] = *o;
	pt->objs[pt->n].id = pt->n;
	pt->n++;
	return 0;
}

/* Every task's masters, then the slaves of those pairs, in the order tasks and fds come. */
static int pty_scan(struct dump_ctx *ctx)
{
	struct pty_table *pt = ctx->ptys;
	int ret = 0;

	if (!pt && !(pt = ctx->ptys = arena_alloc(&ctx->arena, sizeof(*pt))))
		return -ENOMEM;
	if (pt->scanned)
		return 0;
	pt->scanned = true;
	for (int pass = 0; pass < 2 && !ret; pass++)
		for (int i = 0; i < ctx->nr_tasks && !ret; i++) {
			char path[64];
			struct dirent *de;
			snprintf(path, sizeof(path), "/proc/%d/fd", ctx->tasks[i].pid);
			DIR *d = opendir(path);
			if (!d)
				continue;
			while ((de = readdir(d)) && !ret) {
				struct stat st;
				int fd = atoi(de->d_name);
				if (de->d_name[0] == '.' ||
				    fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
				    !S_ISCHR(st.st_mode))
					continue;
				if (pass == 1 && tty_is_pts_major(major(st.st_rdev))) {
					struct pty_obj *o = table_find(pt, st.st_dev, st.st_rdev);
					if (o && o->s_task < 0)
						o->s_task = i, o->s_fd = fd;
					continue;
				}
				if (pass != 0 || !tty_is_ptmx(st.st_rdev))
					continue;
				int m = copy_of(ctx->tasks[i].pid, fd);
				unsigned idx;
				struct stat ps;
				if (m < 0)
					continue; /* gone meanwhile: its own walk says so */
				if (ioctl(m, TIOCGPTN, &idx) == 0 && peer_of(m, &ps) == 0 &&
				    !table_find(pt, ps.st_dev, ps.st_rdev))
					ret = table_add(pt, &(struct pty_obj){.dev = ps.st_dev,
									      .rdev = ps.st_rdev,
									      .index = idx,
									      .m_task = i,
									      .m_fd = fd,
									      .s_task = -1});
				close(m);
			}
			closedir(d);
		}
	return ret;
}

/* a live task of the tree leads session sid (a zombie cannot take a terminal again) */
static bool tree_has_leader(struct dump_ctx *ctx, pid_t sid)
{
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].pid == sid)
			return ctx->tasks[i].stat.sid == sid && ctx->tasks[i].stat.state != 'Z' &&
			       ctx->tasks[i].stat.state != 'X';
	return false;
}

static bool tree_has_group(struct dump_ctx *ctx, pid_t pgid, pid_t sid)
{
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].stat.pgid == pgid && ctx->tasks[i].stat.sid == sid)
			return true;
	return false;
}

/* The pair's state, read through cryo's copies of the master and of a slave. */
static int save_pair(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		     struct pty_obj *o, int m, FdEntry *e)
{
	int s = -1, lock = 0, pkt = 0, q[4] = {0}, ret = 0;
	pid_t sid = 0, pgrp = 0;
	struct stat ps;
	char node[64];

	snprintf(node, sizeof(node), "/dev/pts/%u", o->index);
	if (o->s_task < 0) {
		pr_err("task %d: fd %d is the master of the pseudo-terminal %s, whose slave no "
		       "task of the tree holds: not supported yet",
		       t->pid, fi->fd, node);
		return -ENOTSUP;
	}
	if ((s = copy_of(ctx->tasks[o->s_task].pid, o->s_fd)) < 0 ||
	    ioctl(m, TIOCGPTLCK, &lock) < 0 || ioctl(m, TIOCGPKT, &pkt) < 0 ||
	    ioctl(m, FIONREAD, &q[0]) < 0 || ioctl(m, TIOCOUTQ, &q[1]) < 0 ||
	    ioctl(s, FIONREAD, &q[2]) < 0 || ioctl(s, TIOCOUTQ, &q[3]) < 0 || peer_of(m, &ps) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot read the state of the pseudo-terminal %s (fd %d)",
			 t->pid, node, fi->fd);
		goto out;
	}
	if (lock) {
		pr_err("task %d: fd %d is the master of the pseudo-terminal %s, still locked "
		       "(unlockpt not called) with its slave open: not supported yet",
		       t->pid, fi->fd, node);
		ret = -ENOTSUP;
		goto out;
	}
	if (q[1] || q[3]) {
		/* (n_tty: the pty driver has no queue of its own, these are always 0 here) */
		pr_err("task %d: fd %d is the master of the pseudo-terminal %s, with bytes "
		       "in a driver queue (%d from the master, %d from the slave): not supported",
		       t->pid, fi->fd, node, q[1], q[3]);
		ret = -ENOTSUP;
		goto out;
	}
	/* a packet-mode status byte waiting for the master's next read (TIOCPKT_FLUSHREAD...) */
	struct pollfd p = {.fd = m, .events = POLLPRI};
	if (pkt && poll(&p, 1, 0) == 1 && (p.revents & POLLPRI)) {
		pr_err("task %d: fd %d is the master of the pseudo-terminal %s in packet mode, "
		       "with a status not read yet: not supported yet",
		       t->pid, fi->fd, node);
		ret = -ENOTSUP;
		goto out;
	}
	if ((ret = tty_settings_read(ctx, m, e))) {
		pr_errno(-ret, "task %d: cannot read the settings of the pseudo-terminal %s",
			 t->pid, node);
		goto out;
	}
	if (e->tty_line != N_TTY) {
		pr_err("task %d: the pseudo-terminal %s has line discipline %u: only N_TTY is "
		       "supported",
		       t->pid, node, e->tty_line);
		ret = -ENOTSUP;
		goto out;
	}
	/* last: it reads the queues and puts them back (nothing else changes the pair after) */
	if ((ret = pty_queues_dump(ctx, t->pid, fi->fd, o->index, m, pkt, e)))
		goto out;
	/* the session it is the controlling terminal of, if any (ENOTTY: none) */
	if (ioctl(m, TIOCGSID, &sid) < 0)
		sid = 0;
	if (sid && ioctl(m, TIOCGPGRP, &pgrp) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot read the foreground group of %s", t->pid, node);
		goto out;
	}
	if (sid && !tree_has_leader(ctx, sid)) {
		pr_err("task %d: the pseudo-terminal %s (its master is fd %d) is the controlling "
		       "terminal of session %d, whose leader is not a live task of the tree: not "
		       "supported yet",
		       t->pid, node, fi->fd, sid);
		ret = -ENOTSUP;
		goto out;
	}
	if (sid && pgrp > 0 && !tree_has_group(ctx, pgrp, sid)) {
		pr_err("task %d: the foreground group %d of the pseudo-terminal %s has no task "
		       "in the tree: not supported yet",
		       t->pid, pgrp, node);
		ret = -ENOTSUP;
		goto out;
	}
	e->has_pty_index = e->has_pty_packet = e->has_pty_uid = e->has_pty_gid = true;
	e->has_pty_mode = e->has_pty_session = e->has_pty_fg_pgrp = true;
	e->pty_index = o->index;
	e->pty_packet = pkt != 0;
	e->pty_uid = ps.st_uid, e->pty_gid = ps.st_gid, e->pty_mode = ps.st_mode & 07777;
	e->pty_session = sid, e->pty_fg_pgrp = sid ? pgrp : 0;
	pr_info("task %d: fd %d: the pseudo-terminal pair %s, session %d, foreground %d", t->pid,
		fi->fd, node, sid, pgrp);
out:
	if (s >= 0)
		close(s);
	return ret;
}

int pty_master_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e)
{
	struct pty_obj *o = NULL;
	struct stat ps;
	int m, ret;

	if (strcmp(fi->link, "/dev/ptmx") && strcmp(fi->link, "/dev/pts/ptmx")) {
		pr_err("task %d: fd %d is a pseudo-terminal master opened as %s, not /dev/ptmx: "
		       "not supported yet",
		       t->pid, fi->fd, fi->link);
		return -ENOTSUP;
	}
	if ((ret = pty_scan(ctx)))
		return ret;
	if ((m = copy_of(t->pid, fi->fd)) < 0) {
		pr_errno(errno, "task %d: cannot take a copy of fd %d (%s)", t->pid, fi->fd,
			 fi->link);
		return -errno;
	}
	if ((ret = peer_of(m, &ps)) == 0)
		o = table_find(ctx->ptys, ps.st_dev, ps.st_rdev);
	if (!o || o->carrier) {
		/* (a master is one description: a second one is another pair) */
		pr_err("task %d: fd %d (%s): its pseudo-terminal pair is not found again", t->pid,
		       fi->fd, fi->link);
		close(m);
		return ret ? ret : -EIO;
	}
	e->kind = FD_KIND__FD_PTY_MASTER;
	e->has_pty_id = true;
	e->pty_id = o->id;
	if (!(e->path = arena_strdup(&ctx->arena, fi->link)))
		ret = -ENOMEM;
	else
		ret = save_pair(ctx, t, fi, o, m, e);
	close(m);
	if (!ret)
		o->carrier = e;
	return ret;
}

int pty_slave_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e)
{
	struct pty_obj *o;
	int ret;

	if ((ret = pty_scan(ctx)))
		return ret;
	if (!(o = table_find(ctx->ptys, fi->st.st_dev, fi->st.st_rdev)))
		return 1; /* the job's terminal (tty.c) */
	if (!tty_is_pts_path(fi->link)) {
		pr_err("task %d: fd %d is the slave of a pseudo-terminal of the tree without a "
		       "/dev/pts name (%s): not supported yet",
		       t->pid, fi->fd, fi->link);
		return -ENOTSUP;
	}
	e->kind = FD_KIND__FD_PTY_SLAVE;
	e->has_pty_id = true;
	e->pty_id = o->id;
	e->path = arena_strdup(&ctx->arena, fi->link);
	return e->path ? 0 : -ENOMEM;
}

void ptys_others_want(struct dump_ctx *ctx)
{
	if (ctx->ptys && ctx->ptys->n)
		others_want(ctx, OTHERS_FD_PATHS);
}

/* A pair of the tree that a process outside it holds too (its slave by device, a master by
 * kcmp with the tree's): cut off from the restored tree. Their descriptors are the walk's
 * (core/others.c). */
int ptys_dump_finish(struct dump_ctx *ctx)
{
	struct pty_table *pt = ctx->ptys;
	const struct others *w = others_read(ctx);
	int ret = 0;

	if (!pt || !pt->n)
		goto out;
	if (!w) {
		ret = -EINVAL;
		goto out;
	}
	for (uint32_t p = 0; p < w->nr_procs; p++) {
		pid_t pid = w->procs[p].pid;
		for (uint32_t k = w->procs[p].fd0; k < w->procs[p].fd0 + w->procs[p].nr_fds; k++) {
			const struct other_fd *f = &w->fds[k];
			struct pty_obj *o = NULL;
			if (!f->has_st || !S_ISCHR(f->mode))
				continue;
			if (tty_is_pts_major(major(f->rdev)))
				o = table_find(pt, f->dev, f->rdev);
			for (uint32_t i = 0; !o && tty_is_ptmx(f->rdev) && i < pt->n; i++)
				if (syscall(SYS_kcmp, ctx->tasks[pt->objs[i].m_task].pid, pid,
					    KCMP_FILE, pt->objs[i].m_fd, f->fd) == 0)
					o = &pt->objs[i];
			if (o) {
				pr_err(
				    "the pseudo-terminal /dev/pts/%u of the tree (master: fd %d of "
				    "task %d) is held outside the tree too, by process %d (its "
				    "fd %d): not supported yet",
				    o->index, o->m_fd, ctx->tasks[o->m_task].pid, pid, f->fd);
				ret = -ENOTSUP;
			}
		}
	}
out:
	if (pt)
		free(pt->objs), pt->objs = NULL, pt->n = pt->cap = 0;
	return ret;
}

/* ---- restore ---- */

static struct svc_file *global_of(struct restore_ctx *ctx, const FdEntry *e)
{
	return e->pty_id < ctx->nr_ptys && ctx->ptys[e->pty_id] >= 0
		   ? &ctx->globals[ctx->ptys[e->pty_id]]
		   : NULL;
}

int pty_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e)
{
	char img[64];
	struct svc_file *g;

	img_name(IMG_FILES, t->pid, img, sizeof(img));
	if (e->pty_id >= ctx->nr_ptys) {
		int *n = realloc(ctx->ptys, (e->pty_id + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		for (uint32_t i = ctx->nr_ptys; i <= e->pty_id; i++)
			n[i] = -1;
		ctx->ptys = n, ctx->nr_ptys = e->pty_id + 1;
	}
	if (!(g = global_of(ctx, e))) {
		g = restore_add_global(ctx, (struct svc_file){.kind = SVC_PTY, .fd2 = -1});
		if (!g)
			return -ENOMEM;
		ctx->ptys[e->pty_id] = (int)(g - ctx->globals);
	}
	if (e->kind == FD_KIND__FD_PTY_MASTER) {
		if (g->desc)
			return files_refuse(img, "fd %d: pseudo-terminal pair %u has two masters",
					    e->fd, e->pty_id);
		g->desc = (FdEntry *)e;
		g->desc_pid = t->pid;
		/* the session and foreground group it names are the tree's */
		struct restore_task *l =
		    e->pty_session ? restore_find_task(ctx, e->pty_session) : NULL;
		bool fg_ok = !e->pty_fg_pgrp;
		for (int i = 0; l && !fg_ok && i < ctx->nr_tasks; i++)
			fg_ok = !ctx->tasks[i].zombie &&
				(pid_t)ctx->tasks[i].pst->pgid == e->pty_fg_pgrp &&
				(pid_t)ctx->tasks[i].pst->sid == e->pty_session;
		if (e->pty_session && (!l || l->zombie || (pid_t)l->pst->sid != l->pid || !fg_ok))
			return files_refuse(img,
					    "fd %d: session %d or foreground group %d of "
					    "/dev/pts/%u is not the tree's",
					    e->fd, e->pty_session, e->pty_fg_pgrp, e->pty_index);
	}
	/* every index once: two pairs cannot both be /dev/pts/N */
	for (uint32_t i = 0; g->desc && i < ctx->nr_ptys; i++) {
		struct svc_file *o = ctx->ptys[i] >= 0 ? &ctx->globals[ctx->ptys[i]] : NULL;
		if (o && o != g && o->desc && o->desc->pty_index == g->desc->pty_index)
			return files_refuse(img, "fd %d: two pseudo-terminal pairs are /dev/pts/%u",
					    e->fd, g->desc->pty_index);
	}
	return 0;
}

/* /dev/ptmx opened until the kernel gives number n (the lowest free one each time) */
static int open_index(struct restore_task *root, const FdEntry *e)
{
	unsigned n = e->pty_index, got = 0;
	int *held = malloc((n + 1) * sizeof(*held)), nheld = 0, fd = -1;

	if (!held) {
		child_fail(root, ENOMEM, "cannot open /dev/pts/%u", n);
		return -1;
	}
	for (int tries = 0; fd < 0;) {
		int m = open(e->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (m < 0 || ioctl(m, TIOCGPTN, &got) < 0) {
			child_fail(root, errno, "cannot open %s for /dev/pts/%u", e->path, n);
			if (m >= 0)
				close(m);
			break;
		}
		if (got == n) {
			fd = m;
		} else if (got < n && nheld < (int)n) {
			held[nheld++] = m;
		} else if (++tries < 200) {
			/* taken: maybe by the dumped tree, whose last close is on its way */
			close(m);
			while (nheld)
				close(held[--nheld]);
			usleep(10000);
		} else {
			close(m);
			child_fail(root, EBUSY,
				   "the pseudo-terminal /dev/pts/%u is taken (the programs of the "
				   "tree know their terminal by that name)",
				   n);
			break;
		}
	}
	while (nheld)
		close(held[--nheld]);
	free(held);
	return fd;
}

/* The node's owner and mode, through an O_PATH peer of master m */
static int set_node(int m, const FdEntry *e)
{
	char self[64];
	int peer = ioctl(m, TIOCGPTPEER, O_PATH | O_NOCTTY | O_CLOEXEC), ret = 0;

	if (peer < 0)
		return -errno;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", peer);
	if (fchownat(peer, "", e->pty_uid, e->pty_gid, AT_EMPTY_PATH) < 0 ||
	    chmod(self, e->pty_mode) < 0)
		ret = -errno;
	close(peer);
	return ret;
}

static int make_pair(struct restore_ctx *ctx, struct svc_file *g)
{
	struct restore_task *root = &ctx->tasks[0];
	const FdEntry *e = g->desc;
	const char *what = "unlock";
	int m, unlock = 0, pkt, ret = 0;

	if (!e) {
		child_fail(root, EINVAL, "a pseudo-terminal pair has no master in the images");
		return -1;
	}
	if ((m = open_index(root, e)) < 0)
		return -1;
	/* packet mode after the settings: turning it on forgets the status changes they made */
	pkt = e->pty_packet;
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		ret = -errno;
	if (!ret)
		ret = tty_settings_apply(m, e, true, &what);
	if (!ret)
		ret = pty_queues_restore(m, e, &what);
	if (!ret) {
		what = "set packet mode on";
		if (ioctl(m, TIOCPKT, &pkt) < 0)
			ret = -errno;
	}
	if (!ret) {
		what = "give its owner and mode to";
		ret = set_node(m, e);
	}
	if (ret) {
		child_fail(root, -ret, "cannot %s the pseudo-terminal /dev/pts/%u", what,
			   e->pty_index);
		close(m);
		return -1;
	}
	if (m != g->fd && (dup2(m, g->fd) < 0 || close(m) < 0)) {
		child_fail(root, errno, "cannot place the pseudo-terminal master at fd %d", g->fd);
		return -1;
	}
	return 0;
}

int restore_ptys_child(struct restore_ctx *ctx)
{
	for (int i = 0; i < ctx->nr_globals; i++)
		if (ctx->globals[i].kind == SVC_PTY && make_pair(ctx, &ctx->globals[i]))
			return -1;
	return 0;
}

static int master_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	struct svc_file *g = global_of(ctx, e);
	int fd = g ? dup(g->fd) : -1;

	if (fd < 0 || fcntl(fd, F_SETFL, flags) < 0) {
		child_fail(t, g ? errno : EINVAL, "cannot make fd %d, the master of /dev/pts/%u",
			   e->fd, g && g->desc ? g->desc->pty_index : 0);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int slave_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	struct svc_file *g = global_of(ctx, e);
	int fd = g ? ioctl(g->fd, TIOCGPTPEER, (flags & (O_ACCMODE | O_NONBLOCK)) | O_NOCTTY) : -1;

	if (fd < 0 || fcntl(fd, F_SETFL, flags) < 0) {
		child_fail(t, g ? errno : EINVAL, "cannot open fd %d, %s", e->fd, e->path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int pty_session_setup(struct restore_ctx *ctx, struct restore_task *t)
{
	for (uint32_t i = 0; i < ctx->nr_ptys; i++) {
		struct svc_file *g = ctx->ptys[i] >= 0 ? &ctx->globals[ctx->ptys[i]] : NULL;
		const FdEntry *e = g ? g->desc : NULL;
		if (!e || !e->pty_session || (pid_t)t->pst->sid != e->pty_session)
			continue;
		if (e->pty_session == t->pid) {
			/* the leader, in its new session: the slave is its controlling terminal */
			int s = ioctl(g->fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
			if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0) {
				child_fail(t, errno,
					   "cannot make /dev/pts/%u the controlling terminal of "
					   "session %d",
					   e->pty_index, t->pid);
				if (s >= 0)
					close(s);
				return -1;
			}
			close(s);
		}
		/* in its group: that group is the foreground again (signals are blocked: no
		 * SIGTTOU for a background caller) */
		pid_t fg = e->pty_fg_pgrp;
		if (fg > 0 && (pid_t)t->pst->pgid == fg && getpgrp() == fg &&
		    ioctl(g->fd, TIOCSPGRP, &fg) < 0) {
			child_fail(t, errno, "cannot make group %d the foreground of /dev/pts/%u",
				   fg, e->pty_index);
			return -1;
		}
	}
	return 0;
}

static int common_validate(const char *img, const FdEntry *e)
{
	if (e->has_mode && !S_ISCHR(e->mode))
		return files_refuse(img, "fd %d: mode %#o is not a terminal's", e->fd, e->mode);
	if (!e->has_pty_id || e->pty_id >= PTY_MAX_PAIRS)
		return files_refuse(img, "fd %d: a pseudo-terminal without a valid pty_id", e->fd);
	return 0;
}

static int master_validate(const char *img, const Files *f, const FdEntry *e)
{
	int ret;
	if ((ret = common_validate(img, e)))
		return ret;
	if (!e->path || (strcmp(e->path, "/dev/ptmx") && strcmp(e->path, "/dev/pts/ptmx")))
		return files_refuse(img, "fd %d: a pseudo-terminal master must be /dev/ptmx",
				    e->fd);
	if (!e->has_pty_index || e->pty_index >= PTY_MAX_INDEX || !e->has_pty_uid ||
	    !e->has_pty_gid || e->pty_uid == (uint32_t)-1 || e->pty_gid == (uint32_t)-1 ||
	    !e->has_pty_mode || e->pty_mode & ~07777u || !e->has_tty_lflag || !e->has_tty_cc)
		return files_refuse(img,
				    "fd %d: the pseudo-terminal pair is invalid (number, "
				    "owner, mode, settings)",
				    e->fd);
	if (e->has_tty_line && e->tty_line != N_TTY)
		return files_refuse(img, "fd %d: line discipline %u is not N_TTY", e->fd,
				    e->tty_line);
	if (e->pty_session < 0 || e->pty_session > 4194304 || e->pty_fg_pgrp < 0 ||
	    e->pty_fg_pgrp > 4194304 || (!e->pty_session && e->pty_fg_pgrp))
		return files_refuse(img, "fd %d: session %d, foreground %d are invalid", e->fd,
				    e->pty_session, e->pty_fg_pgrp);
	if ((ret = pty_queues_validate(img, e)))
		return ret;
	return tty_settings_validate(img, e);
}

static int slave_validate(const char *img, const Files *f, const FdEntry *e)
{
	int ret;
	if ((ret = common_validate(img, e)))
		return ret;
	if (!e->path || !tty_is_pts_path(e->path))
		return files_refuse(img, "fd %d: '%s' is not a /dev/pts terminal", e->fd,
				    e->path ? e->path : "");
	return 0;
}

const struct fd_ops fd_pty_master_ops = {
    .name = "a pseudo-terminal master",
    .names = "pseudo-terminal masters",
    .kind = FD_KIND__FD_PTY_MASTER,
    .restore = master_open,
    .validate = master_validate,
};

const struct fd_ops fd_pty_slave_ops = {
    .name = "a pseudo-terminal slave",
    .names = "pseudo-terminal slaves",
    .kind = FD_KIND__FD_PTY_SLAVE,
    .restore = slave_open,
    .validate = slave_validate,
};
