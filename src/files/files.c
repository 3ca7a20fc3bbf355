/* The descriptor dispatcher. Dump: walk /proc/PID/fd, learn what the kernel says of each fd
 * (link text, fdinfo, stat: fd_read.c), find its kind in the table below, and hand it to that
 * kind's dump op; descriptions shared with an fd saved before are saved as references to it
 * (shared.c). Restore: each fd rebuilt by its kind's restore op, at its number, with its
 * close-on-exec flag. A kind is one file of this directory and one line of `kinds[]`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/others.h"
#include "core/util.h"
#include "files/fd_read.h"
#include "files/kind.h"
#include "files/tty.h"
#include "res/locks.h"

/* Asked in this order; the first that recognises a descriptor takes it. O_PATH first (it
 * may point at anything; a memfd before it, which refuses an O_PATH one), then the precise
 * kinds, then the catch-alls. */
static const struct fd_ops *const kinds[] = {
    &fd_memfd_ops,
    &fd_path_ops,
    &fd_tty_ops,
    &fd_reg_ops,
    &fd_dir_ops,
    &fd_chr_ops,
    &fd_pipe_ops,
    &fd_fifo_ops,
    &fd_eventfd_ops,
    &fd_signalfd_ops,
    &fd_pidfd_ops,
    &fd_timerfd_ops,
    &fd_inotify_ops,
    &fd_fanotify_ops,
    &fd_epoll_ops,
    /* found by the terminal kind (tty.c hands a pair made inside the tree to pty.c) */
    &fd_pty_master_ops,
    &fd_pty_slave_ops,
    &fd_unix_sk_ops,
    &fd_inet_sk_ops,
    &fd_netlink_sk_ops,
    &fd_packet_sk_ops,
};

const struct fd_ops *fd_ops_of(FdKind k)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i]->kind == k)
			return kinds[i];
	return NULL;
}

static bool recognises(const struct fd_ops *k, const struct fd_info *fi)
{
	if (k->recognise)
		return k->recognise(fi);
	return k->link_prefix && !strncmp(fi->link, k->link_prefix, strlen(k->link_prefix));
}

const struct fd_ops *files_kind_of(const struct fd_info *fi)
{
	/* the unsupported ones first: they are recognised by exact link texts, and some of
	 * them would otherwise pass for a file */
	for (int i = 0; fd_unsupported[i]; i++)
		if (recognises(fd_unsupported[i], fi))
			return fd_unsupported[i];
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (recognises(kinds[i], fi))
			return kinds[i];
	for (int i = 0; fd_catch_all[i]; i++)
		if (recognises(fd_catch_all[i], fi))
			return fd_catch_all[i];
	return NULL;
}

/* 1: the fd is gone (closed meanwhile by another thread: the task is frozen, so not) */
int fd_take_copy(const struct fd_info *fi, const char *what)
{
	/* a dup of the walk's copy: the same description, without asking the task again */
	int copy = fi->copy >= 0	? fcntl(fi->copy, F_DUPFD_CLOEXEC, 0)
		   : fi->task_pidfd < 0 ? -1
					: sys_pidfd_getfd(fi->task_pidfd, fi->fd);
	if (copy >= 0)
		return copy;
	int err = fi->copy < 0 && fi->task_pidfd < 0 ? EBADF : errno;
	pr_errno(err, "task %d: fd %d: cannot take a copy of %s", fi->pid, fi->fd, what);
	return -err;
}

int fd_dump_copy(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e,
		 const char *what, fd_copy_dump_fn dump)
{
	char who[64];
	int copy, ret;

	snprintf(who, sizeof(who), "task %d: fd %d", t->pid, fi->fd);
	if ((copy = fd_take_copy(fi, what)) < 0)
		return copy;
	ret = dump(ctx, t, fi, copy, e, who);
	close(copy);
	return ret;
}

/* The descriptors of one task cryo cannot save, for one message that names them all. */
struct refusals {
	struct refused {
		const struct fd_ops *k;
		int fd;
		char link[80];
	} * r;
	int n;
};

static void refusals_report(pid_t pid, struct refusals *rs)
{
	char msg[4096];
	size_t len;
	bool *done = rs->n ? calloc(rs->n, sizeof(bool)) : NULL;

	if (!done)
		return;
	len = snprintf(msg, sizeof(msg), "task %d: ", pid);
	for (int i = 0; i < rs->n && len < sizeof(msg); i++) {
		const struct fd_ops *k = rs->r[i].k;
		int count = 0;
		if (done[i])
			continue;
		len += snprintf(msg + len, sizeof(msg) - len, "%sfd ", i ? "; " : "");
		for (int j = i; j < rs->n && len < sizeof(msg); j++) {
			if (rs->r[j].k != k)
				continue;
			done[j] = true;
			len += snprintf(msg + len, sizeof(msg) - len, "%s%d", count++ ? ", " : "",
					rs->r[j].fd);
			if (k->show_link && len < sizeof(msg))
				len +=
				    snprintf(msg + len, sizeof(msg) - len, " (%s)", rs->r[j].link);
		}
		if (len < sizeof(msg))
			len += snprintf(msg + len, sizeof(msg) - len, " %s %s",
					count > 1 ? "are" : "is", count > 1 ? k->names : k->name);
	}
	free(done);
	pr_err("%s: not supported yet", msg);
}

/* What any description may have besides its kind's state: an owner and signal (owner.c), a
 * lease (res/leases.c), read from cryo's own copy of the fd. */
static int desc_extras_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			    FdEntry *e)
{
	int ret;

	if (fi->flags & O_PATH)
		return 0; /* it can have neither */
	if (fi->copy < 0) {
		ret = fi->copy_err ? -fi->copy_err : -EBADF;
		pr_errno(-ret, "task %d: cannot take a copy of fd %d", t->pid, fi->fd);
		return ret;
	}
	ret = owner_dump(ctx, t, fi, fi->copy, e);
	if (!ret)
		ret = lease_dump(ctx, t, fi, fi->copy, e);
	return ret;
}

void fd_info_free(struct fd_info *fi)
{
	if (fi->copy >= 0)
		close(fi->copy);
	free(fi->fdinfo);
	free(fi->opts_pre);
	free(fi);
}

void files_ref_entry(FdEntry *e, const FdEntry *orig, int fd)
{
	*e = *orig;
	e->fd = fd;
	/* the description's epoll registrations are saved once, with its first fd */
	e->n_epoll_targets = 0;
	e->epoll_targets = NULL;
	e->has_ghost = false;
	e->ghost = -1;
	e->memfd = NULL; /* the object is saved once, with the first */
	e->unix_sk = NULL;
	e->has_unix_peer_uid = e->has_unix_peer_gid = false; /* the socket's, with it */
	e->n_unix_peer_groups = 0;
	e->unix_peer_groups = NULL;
	e->unix_renamed = NULL;
	e->inet = NULL;
	e->netlink_sk = NULL;
	e->packet_sk = NULL;
	e->has_inflight_same = false;
	e->has_dup_of = true;
	e->dup_of = orig->fd;
}

int fd_info_own(int fd, int self_pidfd, struct fd_info *fi)
{
	struct fd_dirs dirs = {.fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
			       .info =
				   open("/proc/self/fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
			       .pidfd = self_pidfd};
	int ret = dirs.fd < 0 || dirs.info < 0 ? -errno : fd_info_read(getpid(), &dirs, fd, fi);
	if (dirs.fd >= 0)
		close(dirs.fd);
	if (dirs.info >= 0)
		close(dirs.info);
	return ret > 0 ? -EBADF : ret;
}

/* The descriptor fi by its kind (the caller frees fi). */
static int dump_fd_kind(struct dump_ctx *ctx, struct dump_task *t, struct fd_info *fi,
			struct refusals *rs)
{
	const struct fd_ops *k = files_kind_of(fi);
	int fd = fi->fd, ret;
	FdEntry *e;

	if (!k || !k->dump) {
		static const struct fd_ops unknown = {.name = "a file of a kind cryo does not know",
						      .names = "files of kinds cryo does not know",
						      .show_link = true};
		struct refused *n = realloc(rs->r, (rs->n + 1) * sizeof(*n));
		if (!n) {
			return -ENOMEM;
		}
		rs->r = n;
		n[rs->n].k = k ? k : &unknown;
		n[rs->n].fd = fd;
		snprintf(n[rs->n].link, sizeof(n[rs->n].link), "%.*s",
			 (int)sizeof(n[rs->n].link) - 1, fi->link);
		rs->n++;
		return -ENOTSUP;
	}
	if (!fi->has_st) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot stat fd %d (%s)", t->pid, fd, fi->link);
		return ret;
	}
	e = A_NEW(&ctx->arena, FdEntry, FD_ENTRY);
	if (!e || !DUMP_PUSH(ctx, t->files->fds, t->files->n_fds, e)) {
		return -ENOMEM;
	}
	e->fd = fd;
	e->kind = k->kind;
	e->cloexec = !!(fi->flags & O_CLOEXEC);
	e->flags = fi->flags & ~O_CLOEXEC;
	e->pos = fi->pos;
	e->has_mode = e->has_size = e->has_rdev = true;
	e->mode = fi->st.st_mode, e->size = fi->st.st_size, e->rdev = fi->st.st_rdev;

	pid_t owner = 0;
	FdEntry *orig = k->own_sharing ? NULL : shared_find(ctx, t, fi, &owner);
	if (orig) {
		/* the same open file description: a reference to the one saved first */
		files_ref_entry(e, orig, fd);
		e->cloexec = !!(fi->flags & O_CLOEXEC);
		e->has_dup_of_pid = owner != t->pid;
		e->dup_of_pid = owner != t->pid ? (uint32_t)owner : 0;
		pr_info("task %d: fd %d shares its file description with fd %d of task %d", t->pid,
			fd, orig->fd, owner);
		return 0;
	}
	ret = k->dump(ctx, t, fi, e);
	if (!ret && !k->own_sharing)
		ret = shared_note(ctx, t, fi, e);
	if (!ret)
		ret = desc_extras_dump(ctx, t, fi, e);
	if (!ret)
		pr_info("task %d: fd %d is %s: %s flags %#o pos %lu", t->pid, fd, k->name, fi->link,
			e->flags, e->pos);
	return ret;
}

/* One descriptor, read (by the walk or ahead of it: fd_read.c) with result rc */
static int dump_one_fd(struct dump_ctx *ctx, struct dump_task *t, struct fd_info *fi, int fd,
		       int rc, struct refusals *rs, struct lock_walk *locks)
{
	int ret, kind_ret;

	if (!fi)
		return -ENOMEM;
	if (rc) {
		if (rc < 0)
			pr_errno(-rc, "task %d: cannot read fd %d", t->pid, fd);
		fd_info_free(fi);
		return rc < 0 ? rc : 0;
	}
	/* the locks held through it (fdinfo "lock:" lines), whatever its kind */
	ret = locks ? locks_note(ctx, t, locks, fd, fi->fdinfo) : 0;
	kind_ret = ret && ret != -ENOTSUP ? 0 : dump_fd_kind(ctx, t, fi, rs);
	fd_info_free(fi);
	/* a refusal does not hide an error */
	return ret && ret != -ENOTSUP ? ret : kind_ret ? kind_ret : ret;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* The descriptor numbers of the task, ascending, from its /proc/PID/fdinfo opened at dirfd
 * (a dup is read: the walk keeps dirfd for its lookups). The same numbers as /proc/PID/fd,
 * but the listing makes the kernel's entry of each name it lists, and the walk opens every
 * fdinfo entry and only a few fd ones (a link the stat cannot tell): listing fd made 10,000
 * entries the walk never used, beside the 10,000 of fdinfo its opens made. malloc'd into
 * *out; the count or -errno. cryo's own memory tracking (res/track.c) is not the
 * program's, never listed. */
static int list_fds(struct dump_task *t, int dirfd, int **out)
{
	int dup_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0), n = 0, cap = 0;
	DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
	int *v = NULL;
	struct dirent *de;

	if (!d) {
		int err = errno;
		if (dup_fd >= 0)
			close(dup_fd);
		return -err;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || track_hidden_fd(t, atoi(de->d_name)))
			continue;
		if (n == cap) {
			int *nv = realloc(v, (size_t)(cap ? cap * 2 : 64) * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv, cap = cap ? cap * 2 : 64;
		}
		v[n++] = atoi(de->d_name);
	}
	closedir(d);
	/* numbers, not names: a sort of 10,000 by strverscmp was milliseconds */
	sort_n(v, (size_t)n, sizeof(*v), cmp_int);
	*out = v;
	return n;
}

int dump_files(struct dump_ctx *ctx, struct dump_task *t)
{
	char path[64];
	struct refusals rs = {0};
	struct lock_walk locks = {0};
	int ret = 0, r;
	int *fds = NULL, nfds = 0;

	t->files = A_NEW(&ctx->arena, Files, FILES);
	if (!t->files)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/fd", t->pid);
	struct fd_dirs dirs = {.fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), .info = -1};
	if (dirs.fd < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot list %s", path);
		return ret;
	}
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", t->pid);
	dirs.info = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dirs.pidfd = sys_pidfd_open(t->pid);
	if (dirs.info < 0 || dirs.pidfd < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot open the descriptor directories of task %d", t->pid);
	}
	if (!ret && (nfds = list_fds(t, dirs.info, &fds)) < 0) {
		ret = nfds;
		nfds = 0;
		pr_errno(-ret, "cannot list /proc/%d/fdinfo", t->pid);
	}
	struct fd_reader *reader = ret ? NULL : fd_reader_start(t->pid, &dirs, fds, nfds);
	if (!ret && !reader)
		ret = -ENOMEM;
	/* a refusal does not stop the walk: the user learns of every one at once */
	for (int i = 0; reader && i < nfds && (!ret || ret == -ENOTSUP); i++) {
		struct fd_info *fi;
		int rc = fd_reader_next(reader, &fi);
		r = dump_one_fd(ctx, t, fi, fds[i], rc, &rs, &locks);
		if (r && (r != -ENOTSUP || !ret))
			ret = r;
	}
	fd_reader_stop(reader);
	free(fds);
	if (dirs.fd >= 0)
		close(dirs.fd);
	if (dirs.info >= 0)
		close(dirs.info);
	if (dirs.pidfd >= 0)
		close(dirs.pidfd);
	refusals_report(t->pid, &rs);
	free(rs.r);
	r = locks_walk_end(ctx, t, &locks);
	return ret && ret != -ENOTSUP ? ret : r ? r : ret;
}

int dump_files_finish(struct dump_ctx *ctx)
{
	/* every refusal named: a refusal does not hide an error, nor the others' refusals;
	 * the files in flight first, which closes cryo's copies of them (a pipe's holders are
	 * counted next) */
	int ret = inflight_dump_finish(ctx), r;
	if (ret && ret != -ENOTSUP)
		return ret;
	/* every descriptor of the tree is known: the processes outside it are read once, for
	 * what the checks of pipes, terminals and memory objects (and tracers, res/tracees.c)
	 * look for there (core/others.c) */
	pipes_others_want(ctx);
	ptys_others_want(ctx);
	if ((r = memfd_outside_want(ctx)) || (r = others_walk(ctx)))
		return r;
	r = pipes_dump_finish(ctx);
	if (r && (!ret || (ret == -ENOTSUP && r != -ENOTSUP)))
		ret = r;
	r = ptys_dump_finish(ctx);
	if (r && (!ret || (ret == -ENOTSUP && r != -ENOTSUP)))
		ret = r;
	r = unix_dump_finish(ctx);
	if (r && (!ret || (ret == -ENOTSUP && r != -ENOTSUP)))
		ret = r;
	r = epoll_dump_finish(ctx);
	return ret && ret != -ENOTSUP ? ret : r ? r : ret;
}

/* ---- restore ---- */

int files_reopen_flags(const FdEntry *e)
{
	int flags = (e->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_ASYNC)) | O_NOCTTY;
	if ((flags & O_TMPFILE) == O_TMPFILE)
		flags &= ~O_TMPFILE;
	return flags;
}

int files_open_one(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e)
{
	const struct fd_ops *k = fd_ops_of(e->kind);
	int flags = files_reopen_flags(e);

	if (!k) { /* validate refused it already */
		child_fail(t, EINVAL, "fd %d: kind %d is unknown", e->fd, e->kind);
		return -1;
	}
	return k->restore(ctx, t, e, flags);
}

static int set_cloexec(struct restore_task *t, const FdEntry *e)
{
	if (fcntl(e->fd, F_SETFD, e->cloexec ? FD_CLOEXEC : 0) < 0) {
		child_fail(t, errno, "cannot set close-on-exec of fd %d", e->fd);
		return -1;
	}
	return 0;
}

int restore_files_child(struct restore_ctx *ctx, struct restore_task *t)
{
	for (size_t i = 0; i < t->files->n_fds; i++) {
		FdEntry *e = t->files->fds[i];
		if (files_entry_is_late(e))
			continue; /* its number stays free until the remote phase (late.c) */
		int src = shared_source(ctx, t, e);
		if (src >= 0) {
			if (dup2(src, e->fd) < 0) {
				child_fail(t, errno, "cannot place fd %d as a copy of fd %d", e->fd,
					   src);
				return -1;
			}
			if (set_cloexec(t, e))
				return -1;
			continue;
		}
		int fd = files_open_one(ctx, t, e);
		if (fd < 0)
			return -1;
		if (fd != e->fd) {
			if (dup2(fd, e->fd) < 0) {
				child_fail(t, errno, "cannot place %s at fd %d",
					   e->path ? e->path : "a descriptor", e->fd);
				return -1;
			}
			close(fd);
		}
		if (set_cloexec(t, e))
			return -1;
	}
	/* second pass: what needs the task's other fds in place (an epoll's targets) */
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i]->restore_finish && kinds[i]->restore_finish(ctx, t))
			return -1;
	return 0;
}

int files_max_fd(const Files *f)
{
	int max = 2;
	for (size_t i = 0; i < f->n_fds; i++) {
		const struct fd_ops *k = fd_ops_of(f->fds[i]->kind);
		int m = k && k->max_fd ? k->max_fd(f->fds[i]) : -1;
		if (f->fds[i]->fd > max)
			max = f->fds[i]->fd;
		if (m > max)
			max = m;
	}
	return max;
}
