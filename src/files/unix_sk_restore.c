/* Unix sockets, restore half (the dump is unix_sk.c).
 *
 * Every unix socket of the tree is a global object: the root makes them, before it creates
 * any task, in one pass over the whole set (restore_unix_child), because they depend on each
 * other; a pair another task made (its peer credentials name that task: UnixSk.maker) is
 * made by that task in its own setup, before it creates its children, by the same pass over
 * its pairs only (unix_check_makers holds what they may be: unnamed, held below the maker,
 * nothing in flight). A pair connected to each other is one socketpair(); then names are bound
 * (a path's stale socket file, left by the dumped tree, is removed first if no socket is
 * bound to it any more; one still in use refuses the restore) and listening sockets listen;
 * an accepted socket is made by connecting its client to its listener and accepting; a
 * datagram socket connected to a named one connects to that name; buffer sizes and timeouts
 * are set; each queue is written back by the socket that sent it (its peer, or a socket of
 * the tree bound to the datagram's sender address, or an unnamed socket of cryo's), each
 * message with the credentials it carried (unix_send.c); a
 * socket whose peer was closed gets a pair whose other end is closed now; shutdown states
 * and the remaining options (SO_PASSCRED, SO_PEEK_OFF...) come last. Each socket then sits
 * at its service fd; each task's descriptor is a copy of it with the entry's status flags. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"
#include "files/sockopt.h"
#include "files/unix_diag.h"
#include "files/unix_send.h"
#include "files/unix_sk.h"

static struct svc_file *global_of(struct restore_ctx *ctx, uint32_t id)
{
	return id < ctx->nr_unix_sks && ctx->unix_sks[id] >= 0 ? &ctx->globals[ctx->unix_sks[id]]
							       : NULL;
}

static UnixSk *sk_of(struct restore_ctx *ctx, uint32_t id)
{
	struct svc_file *g = global_of(ctx, id);
	return g ? g->desc->unix_sk : NULL;
}

int unix_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e)
{
	uint32_t id = e->unix_sk->id; /* validated: below FILES_MAX_FD */
	struct svc_file *g;
	char img[64];

	img_name(IMG_FILES, t->pid, img, sizeof(img));
	if (id >= ctx->nr_unix_sks) {
		uint32_t n = id + 1 > ctx->nr_unix_sks * 2 ? id + 1 : ctx->nr_unix_sks * 2;
		int *a = realloc(ctx->unix_sks, n * sizeof(*a));
		if (!a)
			return -ENOMEM;
		for (uint32_t i = ctx->nr_unix_sks; i < n; i++)
			a[i] = -1;
		ctx->unix_sks = a, ctx->nr_unix_sks = n;
	}
	if (ctx->unix_sks[id] >= 0)
		return files_refuse(img, "fd %d: unix socket %u appears twice", e->fd, id);
	g = restore_add_global(
	    ctx, (struct svc_file){.kind = SVC_UNIX, .desc_pid = t->pid, .desc = (FdEntry *)e});
	if (!g)
		return -ENOMEM;
	ctx->unix_sks[id] = (int)(g - ctx->globals);
	return 0;
}

/* Pairs made by another task than the root (unix_check_makers): 0, 1 with why[] and *bad
 * (refused), or -errno. */
static int check_makers(struct restore_ctx *ctx, UnixSk *const *sks, uint32_t n, char *why,
			size_t len, uint32_t *bad)
{
	struct unix_task_view *tv;
	int *owner, *owner_fd, ret;
	uint32_t i;

	for (i = 0; i < n && !sks[i]->has_maker; i++)
		;
	if (i == n)
		return 0;
	tv = calloc((size_t)ctx->nr_tasks, sizeof(*tv));
	owner = malloc(n * sizeof(*owner));
	owner_fd = malloc(n * sizeof(*owner_fd));
	if (!tv || !owner || !owner_fd) {
		free(tv), free(owner), free(owner_fd);
		return -ENOMEM;
	}
	for (int k = 0; k < ctx->nr_tasks; k++) {
		const struct restore_task *t = &ctx->tasks[k];
		tv[k] = (struct unix_task_view){.pid = t->pid,
						.parent = t->parent,
						.zombie = t->zombie,
						.files_shared = t->core->files_shared_with_parent,
						.sid = (pid_t)t->pst->sid,
						.pgid = (pid_t)t->pst->pgid,
						.files = t->zombie ? NULL : t->files};
	}
	for (i = 0; i < n; i++) {
		struct svc_file *g = global_of(ctx, i);
		struct restore_task *o = restore_find_task(ctx, g->desc_pid);
		owner[i] = o ? o->idx : -1, owner_fd[i] = g->desc->fd;
	}
	ret = unix_check_makers(sks, owner, owner_fd, n, tv, ctx->nr_tasks, why, len, bad) ? 1 : 0;
	free(tv), free(owner), free(owner_fd);
	return ret;
}

int unix_plan_check(struct restore_ctx *ctx)
{
	uint32_t n = 0, bad = 0;
	UnixSk **sks;
	char why[256];
	int ret = 0;

	while (n < ctx->nr_unix_sks && ctx->unix_sks[n] >= 0)
		n++;
	for (uint32_t i = n; i < ctx->nr_unix_sks; i++)
		if (ctx->unix_sks[i] >= 0) {
			pr_err("files images: unix socket %u is missing", n);
			return -EINVAL;
		}
	ctx->nr_unix_sks = n;
	if (!n)
		return 0;
	if (!(sks = malloc(n * sizeof(*sks))))
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		sks[i] = sk_of(ctx, i);
	const FdEntry **ents = malloc(n * sizeof(*ents));
	if (!ents) {
		free(sks);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		ents[i] = global_of(ctx, i)->desc;
	/* the files in flight each message names are in its socket's task's image */
	for (uint32_t i = 0; i < n && !ret; i++) {
		struct svc_file *g = global_of(ctx, i);
		struct restore_task *t = restore_find_task(ctx, g->desc_pid);
		for (size_t q = 0; t && q < sks[i]->n_queue && !ret; q++) {
			const UnixMsg *m = sks[i]->queue[q];
			/* a sender's pid this system can number (held for it if free) */
			if (m->has_cred_pid && ctx->pid_max > 0 &&
			    m->cred_pid >= (uint32_t)ctx->pid_max) {
				pr_err("files-%d.img: fd %d: unix socket %u: message %zu from pid "
				       "%u, above the pid_max of this system (%d)",
				       g->desc_pid, g->desc->fd, i, q, m->cred_pid, ctx->pid_max);
				ret = -EINVAL;
			}
			for (size_t k = 0; k < sks[i]->queue[q]->n_fds && !ret; k++)
				if (sks[i]->queue[q]->fds[k] >= t->files->n_inflight) {
					pr_err("files-%d.img: fd %d: unix socket %u: message %zu "
					       "carries file in flight %u, which is not in the "
					       "image",
					       g->desc_pid, g->desc->fd, i, q,
					       sks[i]->queue[q]->fds[k]);
					ret = -EINVAL;
				}
		}
	}
	if (!ret)
		ret = inflight_plan(ctx);
	if (ret) {
		free(ents);
		free(sks);
		return ret;
	}
	if (unix_check_set(sks, n, why, sizeof(why), &bad) ||
	    unix_check_ids(sks, ents, n, why, sizeof(why), &bad) ||
	    (ret = check_makers(ctx, sks, n, why, sizeof(why), &bad)) > 0) {
		struct svc_file *g = global_of(ctx, bad);
		pr_err("files-%d.img: fd %d: unix socket %u: %s", g->desc_pid, g->desc->fd, bad,
		       why);
		ret = -EINVAL;
	}
	free(ents);
	free(sks);
	return ret;
}

/* The child phase's descriptor: a copy of the root's socket, with the entry's flags. */
int unix_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	struct svc_file *g = e->unix_sk ? global_of(ctx, e->unix_sk->id) : NULL;
	int fd;

	if (!g) { /* validated */
		child_fail(t, EINVAL, "fd %d: unix socket unknown", e->fd);
		return -1;
	}
	fd = dup(g->fd);
	if (fd < 0 || fcntl(fd, F_SETFL, flags) < 0) {
		child_fail(t, errno, "cannot make fd %d (unix socket %u)", e->fd, e->unix_sk->id);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* ---- the root's pass ---- */

struct build {
	struct restore_ctx *ctx;
	struct restore_task *root; /* the task that makes them: the root, or a pair's maker */
	bool *mine;		   /* per id: a socket this pass makes */
	UnixSk **sks;
	uint32_t n;
	int *fd, *other; /* per id: the socket, and the closed peer's stand-in */
	int anon;	 /* an unnamed datagram socket of cryo's, for unnamed senders */
	/* inodes of the socket files still bound, in cryo's namespace (loaded when needed) */
	uint64_t *bound;
	uint32_t nr_bound, cap_bound;
	bool bound_loaded;
	/* the root's own ids, taken back after each call made with a socket's peer ids */
	bool ids_saved;
	uid_t euid;
	gid_t egid;
	int n_groups, dumpable, pdeathsig;
	gid_t *groups;
	struct unix_holds holds; /* pids of queued messages' credentials (unix_send.c) */
	int **opened; /* per task: the files in flight the root opened (inflight.c), or NULL */
};

/* The descriptors of message m of socket i, into fds[] (at most 253, validated). */
static int msg_fds(struct build *b, uint32_t i, const UnixMsg *m, int *fds)
{
	struct svc_file *g = global_of(b->ctx, i);
	struct restore_task *t = restore_find_task(b->ctx, g->desc_pid);
	int **op = &b->opened[t->idx];

	if (!*op) {
		size_t n = t->files->n_inflight;
		if (!(*op = malloc((n ? n : 1) * sizeof(int)))) {
			child_fail(b->root, ENOMEM, "files in flight");
			return -1;
		}
		for (size_t k = 0; k < n; k++)
			(*op)[k] = -1;
	}
	for (size_t k = 0; k < m->n_fds; k++)
		if ((fds[k] = inflight_fd(b->ctx, t, m->fds[k], *op, b->fd, b->n)) < 0)
			return -1;
	return 0;
}

static const char *nm(const UnixSk *s, char *buf, size_t cap)
{
	return unix_name_str(s->name.data, s->name.len, buf, cap);
}

/* The address to reach s at (a relative name: from its directory, made absolute). */
static int addr_of(const UnixSk *s, struct sockaddr_un *a, socklen_t *len)
{
	size_t off = 0;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (s->name_dir) {
		off = strlen(s->name_dir) + 1;
		if (off + s->name.len > sizeof(a->sun_path))
			return -ENAMETOOLONG;
		memcpy(a->sun_path, s->name_dir, off - 1);
		a->sun_path[off - 1] = '/';
	}
	memcpy(a->sun_path + off, s->name.data, s->name.len);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + off + s->name.len);
	return 0;
}

static int collect_bound(const struct unix_diag_sk *d, void *arg)
{
	struct build *b = arg;
	if (!d->has_vfs)
		return 0;
	if (b->nr_bound == b->cap_bound) {
		uint32_t cap = b->cap_bound ? b->cap_bound * 2 : 64;
		uint64_t *n = realloc(b->bound, cap * 2 * sizeof(*n));
		if (!n)
			return -ENOMEM;
		b->bound = n, b->cap_bound = cap;
	}
	b->bound[2 * b->nr_bound] = d->vfs_dev;
	b->bound[2 * b->nr_bound + 1] = d->vfs_ino;
	b->nr_bound++;
	return 0;
}

/* Whether socket file st is bound by a socket that still exists (refused: reported). */
static bool in_use(struct build *b, const UnixSk *s, const struct stat *st)
{
	char buf[UNIX_NAME_MAX * 4 + 8];

	if (!b->bound_loaded) {
		if (unix_diag_each(collect_bound, b)) {
			child_fail(b->root, EIO, "cannot list the bound unix sockets (sock_diag)");
			return true;
		}
		b->bound_loaded = true;
	}
	for (uint32_t i = 0; i < b->nr_bound; i++)
		if (b->bound[2 * i] == st->st_dev && b->bound[2 * i + 1] == st->st_ino) {
			child_fail(b->root, EADDRINUSE,
				   "unix socket %s: its socket file is bound by a socket that "
				   "still exists (is the dumped tree still running?)",
				   nm(s, buf, sizeof(buf)));
			return true;
		}
	return false;
}

/* A socket file left at s's path: removed if no socket is bound to it any more (the dumped
 * socket's, after the dump); one in use (the tree still runs, dumped with -R) or a file of
 * another kind refuses the restore. */
static int clear_path(struct build *b, const UnixSk *s)
{
	char buf[UNIX_NAME_MAX * 4 + 8];
	struct stat st;
	const char *path = (const char *)s->name.data;

	if (lstat(path, &st) < 0)
		return errno == ENOENT
			   ? 0
			   : (child_fail(b->root, errno, "cannot look at %s", path), -1);
	if (!S_ISSOCK(st.st_mode)) {
		child_fail(b->root, EEXIST, "unix socket %s: a file that is no socket is there",
			   nm(s, buf, sizeof(buf)));
		return -1;
	}
	if (in_use(b, s, &st))
		return -1;
	if (unlink(path) < 0) {
		child_fail(b->root, errno, "cannot remove the stale socket file %s", path);
		return -1;
	}
	return 0;
}

/* The socket file bind made: its owner and mode as dumped, through a descriptor of that very
 * file (never following a link someone put in its place). */
static int file_attrs(struct build *b, const UnixSk *s, const char *path)
{
	char proc[64];
	struct stat st;
	int fd, ret = -1;

	errno = 0;
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    fchownat(fd, "", s->file_uid, s->file_gid, AT_EMPTY_PATH) == 0 &&
	    chmod(proc, s->file_mode) == 0)
		ret = 0;
	else
		child_fail(b->root, errno ? errno : EEXIST,
			   "cannot give the socket file %s its owner and mode", path);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int bind_one(struct build *b, const UnixSk *s, int fd)
{
	char buf[UNIX_NAME_MAX * 4 + 8];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + s->name.len);
	int here = -1, dir = -1, ret = 0;

	memcpy(a.sun_path, s->name.data, s->name.len);
	if (s->name_dir) {
		/* bound by a relative name: from its directory, so that it keeps that name */
		here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		dir = open(s->name_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (here < 0 || dir < 0 || fchdir(dir) < 0) {
			child_fail(b->root, errno, "unix socket %s: cannot enter %s",
				   nm(s, buf, sizeof(buf)), s->name_dir);
			ret = -1;
			goto out;
		}
	}
	if (s->name.data[0] && clear_path(b, s)) {
		ret = -1;
		goto out;
	}
	if (bind(fd, (struct sockaddr *)&a, len) < 0) {
		child_fail(b->root, errno, "cannot bind a unix socket to %s",
			   nm(s, buf, sizeof(buf)));
		ret = -1;
		goto out;
	}
	if (s->name.data[0] && s->has_file_mode && file_attrs(b, s, a.sun_path))
		ret = -1;
out:
	if (here >= 0) {
		if (fchdir(here) < 0 && !ret) {
			child_fail(b->root, errno, "cannot go back to the root's directory");
			ret = -1;
		}
		close(here);
	}
	if (dir >= 0)
		close(dir);
	return ret;
}

/* Peer credentials (SO_PEERCRED, SO_PEERGROUPS) are those of the caller of socketpair(),
 * listen() or (for the socket a listener accepts) connect(), taken when it calls: the root
 * makes that call with the effective ids the dump saw (the entry's unix_peer_* fields), then
 * takes its own back. Raw system calls: this thread's ids only, nothing else runs in the
 * root now. A change of effective ids clears the parent death signal and the dumpable flag
 * (the kernel does so on any change of credentials): both are put back. */
static int ids_save(struct build *b)
{
	uid_t r, s;
	gid_t rg, sg;
	int n;

	if (b->ids_saved)
		return 0;
	n = getgroups(0, NULL);
	if (n < 0 || !(b->groups = malloc(((size_t)n + 1) * sizeof(gid_t))) ||
	    (b->n_groups = getgroups(n, b->groups)) < 0 || getresuid(&r, &b->euid, &s) ||
	    getresgid(&rg, &b->egid, &sg) || (b->dumpable = prctl(PR_GET_DUMPABLE)) < 0 ||
	    prctl(PR_GET_PDEATHSIG, &b->pdeathsig) < 0) {
		child_fail(b->root, errno ? errno : ENOMEM, "cannot read the root's own ids");
		return -1;
	}
	b->ids_saved = true;
	return 0;
}

static int ids_take(struct build *b, uint32_t id)
{
	const FdEntry *e = global_of(b->ctx, id)->desc;

	if (!e->has_unix_peer_uid)
		return 0;
	if (ids_save(b))
		return -1;
	/* validated: at most UNIX_PEER_GROUPS_MAX groups, no id is -1 */
	if (syscall(SYS_setgroups, e->n_unix_peer_groups, e->unix_peer_groups) < 0 ||
	    syscall(SYS_setresgid, -1, e->unix_peer_gid, -1) < 0 ||
	    syscall(SYS_setresuid, -1, e->unix_peer_uid, -1) < 0) {
		child_fail(
		    b->root, errno,
		    "unix socket %u: cannot take its peer's ids (uid %u, gid %u, %zu groups)", id,
		    e->unix_peer_uid, e->unix_peer_gid, e->n_unix_peer_groups);
		return -1;
	}
	return 0;
}

static int ids_back(struct build *b, uint32_t id)
{
	if (!global_of(b->ctx, id)->desc->has_unix_peer_uid)
		return 0;
	int err = errno; /* the caller's errno survives */
	if (syscall(SYS_setresuid, -1, b->euid, -1) < 0 ||
	    syscall(SYS_setresgid, -1, b->egid, -1) < 0 ||
	    syscall(SYS_setgroups, b->n_groups, b->groups) < 0 ||
	    prctl(PR_SET_DUMPABLE, b->dumpable, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, b->pdeathsig, 0, 0, 0) < 0) {
		child_fail(b->root, errno, "cannot take the root's own ids back");
		return -1;
	}
	errno = err;
	return 0;
}

static int fail_sk(struct build *b, uint32_t id, const char *what)
{
	child_fail(b->root, errno, "unix socket %u: cannot %s", id, what);
	return -1;
}

/* A new socket out of the way of every service fd still to be placed: the service fds are
 * all held from the root's start (restore_root_setup), a free number is none of them. */
static int high(struct build *b, int fd)
{
	int h = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (fd >= 0)
		close(fd);
	return h;
}

/* Sockets, pairs, names, listeners, accepted connections, connected datagram sockets. */
static int make_sockets(struct build *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		UnixSk *s = b->sks[i];
		int sp[2];
		if (b->fd[i] >= 0 || s->has_listener || !b->mine[i])
			continue;
		if (unix_mutual(b->sks, b->n, s) || s->peer_gone) {
			if (ids_take(b, i))
				return -1;
			int r = socketpair(AF_UNIX, (int)s->type | SOCK_CLOEXEC, 0, sp);
			if (ids_back(b, i))
				return r < 0 ? -1 : (close(sp[0]), close(sp[1]), -1);
			if (r < 0)
				return fail_sk(b, i, "make a socket pair");
			if ((b->fd[i] = high(b, sp[0])) < 0)
				return close(sp[1]), fail_sk(b, i, "place a socket");
			if (s->peer_gone)
				b->other[i] = high(b, sp[1]);
			else
				b->fd[s->peer] = high(b, sp[1]);
			if ((s->peer_gone ? b->other[i] : b->fd[s->peer]) < 0)
				return fail_sk(b, i, "place a socket");
		} else if ((b->fd[i] = high(b, socket(AF_UNIX, (int)s->type | SOCK_CLOEXEC, 0))) <
			   0) {
			return fail_sk(b, i, "make a socket");
		}
	}
	for (uint32_t i = 0; i < b->n; i++) {
		UnixSk *s = b->sks[i];
		if (!b->mine[i])
			continue;
		if (s->has_name && !s->has_listener && bind_one(b, s, b->fd[i]))
			return -1;
		if (s->state != UNIX_ST_LISTEN)
			continue;
		if (ids_take(b, i))
			return -1;
		int r = listen(b->fd[i], (int)s->backlog);
		if (ids_back(b, i))
			return -1;
		if (r < 0)
			return fail_sk(b, i, "listen");
	}
	for (uint32_t i = 0; i < b->n; i++) {
		UnixSk *s = b->sks[i], *p = s->has_peer ? b->sks[s->peer] : NULL;
		struct sockaddr_un a;
		socklen_t len;
		if (!b->mine[i])
			continue;
		if (s->has_listener) {
			/* its client connects to the listener, which accepts it: the connect
			 * gives the accepted socket its peer credentials */
			int r = -1;
			if (addr_of(b->sks[s->listener], &a, &len) < 0)
				return fail_sk(b, s->peer, "connect to its listening socket");
			if (ids_take(b, i))
				return -1;
			r = connect(b->fd[s->peer], (struct sockaddr *)&a, len);
			if (ids_back(b, i))
				return -1;
			if (r < 0)
				return fail_sk(b, s->peer, "connect to its listening socket");
			b->fd[i] = high(b, accept4(b->fd[s->listener], NULL, NULL, SOCK_CLOEXEC));
			if (b->fd[i] < 0)
				return fail_sk(b, i, "be accepted");
		} else if (s->has_ext_peer) {
			/* --ext-unix-sk: the socket outside the tree, by its name */
			memset(&a, 0, sizeof(a));
			a.sun_family = AF_UNIX;
			memcpy(a.sun_path, s->ext_peer.data, s->ext_peer.len);
			len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + s->ext_peer.len);
			if (connect(b->fd[i], (struct sockaddr *)&a, len) < 0) {
				char nb[UNIX_NAME_MAX * 4 + 8];
				child_fail(b->root, errno,
					   "unix socket %u: cannot connect to %s outside the tree",
					   i,
					   unix_name_str(s->ext_peer.data, s->ext_peer.len, nb,
							 sizeof(nb)));
				return -1;
			}
		} else if (p && !unix_mutual(b->sks, b->n, s) && !p->has_listener) {
			/* a datagram socket connected to a named one (checked) */
			if (addr_of(p, &a, &len) < 0 ||
			    connect(b->fd[i], (struct sockaddr *)&a, len) < 0)
				return fail_sk(b, i, "connect to its peer");
		}
	}
	/* then connections not accepted yet, in their listener's order: nothing accepts them */
	for (uint32_t i = 0; i < b->n; i++) {
		UnixSk *l = b->sks[i];
		struct sockaddr_un a;
		socklen_t len;
		for (size_t k = 0; b->mine[i] && k < l->n_pending; k++) {
			int c = b->fd[l->pending[k]];
			/* never waiting: the queue had room for all of them */
			if (addr_of(l, &a, &len) < 0 || fcntl(c, F_SETFL, O_NONBLOCK) < 0 ||
			    connect(c, (struct sockaddr *)&a, len) < 0 || fcntl(c, F_SETFL, 0) < 0)
				return fail_sk(b, l->pending[k],
					       "connect to its listening socket (not accepted)");
		}
	}
	return 0;
}

/* The socket of the tree bound to a datagram's sender address. */
static int sender_named(struct build *b, const ProtobufCBinaryData *from)
{
	for (uint32_t i = 0; i < b->n; i++)
		if (b->sks[i]->type == SOCK_DGRAM && b->sks[i]->has_name &&
		    b->sks[i]->name.len == from->len &&
		    !memcmp(b->sks[i]->name.data, from->data, from->len))
			return b->fd[i];
	return -1;
}

static int write_queues(struct build *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		UnixSk *s = b->sks[i];
		int peer = s->peer_gone ? b->other[i] : s->has_peer ? b->fd[s->peer] : -1;
		bool mutual = s->peer_gone || unix_mutual(b->sks, b->n, s) || s->has_listener ||
			      (s->has_peer && b->sks[s->peer]->has_listener);
		struct sockaddr_un to;
		socklen_t tolen = 0;
		if (!b->mine[i])
			continue;
		if (s->n_queue && s->has_name && addr_of(s, &to, &tolen) < 0)
			return fail_sk(b, i, "be reached by its name");
		for (size_t q = 0; q < s->n_queue; q++) {
			const UnixMsg *m = s->queue[q];
			int via = peer;
			const struct sockaddr_un *dst = NULL;
			if (s->type == SOCK_DGRAM && !mutual) {
				/* to its name, from its peer or the datagram's sender */
				dst = &to;
				if (!s->has_peer && m->has_from && m->from.len)
					via = sender_named(b, &m->from);
				else if (!s->has_peer) {
					if (b->anon < 0 &&
					    (b->anon =
						 high(b, socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC,
								0))) < 0)
						return fail_sk(b, i, "make a sender");
					via = b->anon;
				}
			}
			int fds[253];
			if (m->n_fds && msg_fds(b, i, m, fds))
				return -1;
			if (via < 0 || unix_send_msg(b->ctx, &b->holds, via, b->fd[i], m, fds,
						     m->n_fds, dst, tolen) < 0)
				return fail_sk(b, i, "have its queued data written back");
		}
	}
	return 0;
}

/* Socket files renamed since bind (the entry's unix_renamed): the file bind made at the
 * bound name takes its new name in the same directory, after every connect by the bound
 * name. A socket file left there (the dumped socket's) is replaced; one that a live socket is
 * bound to, or a file of another kind, refuses the restore, as at the bound name. */
static int rename_files(struct build *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		const char *to = global_of(b->ctx, i)->desc->unix_renamed;
		char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1], *slash;
		struct sockaddr_un a;
		struct stat st;
		socklen_t len;
		int dir, ret = 0;

		/* an accepted socket has its listener's name and file: renamed with it */
		if (!to || b->sks[i]->has_listener || !b->mine[i])
			continue;
		if (addr_of(b->sks[i], &a, &len) < 0)
			return fail_sk(b, i, "be renamed");
		memcpy(path, a.sun_path, sizeof(a.sun_path));
		path[sizeof(a.sun_path)] = 0;
		if (!(slash = strrchr(path, '/')))
			return fail_sk(b, i, "be renamed");
		*slash = 0;
		dir = open(slash == path ? "/" : path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0) {
			child_fail(b->root, errno, "unix socket %u: cannot open the directory %s",
				   i, slash == path ? "/" : path);
			return -1;
		}
		if (fstatat(dir, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				child_fail(
				    b->root, EEXIST,
				    "unix socket %u: cannot rename its file to %s/%s: a file "
				    "that is no socket is there",
				    i, path, to);
				ret = -1;
			} else if (in_use(b, b->sks[i], &st)) {
				ret = -1;
			}
		} else if (errno != ENOENT) {
			child_fail(b->root, errno, "unix socket %u: cannot look at %s/%s", i, path,
				   to);
			ret = -1;
		}
		if (!ret && renameat(dir, slash + 1, dir, to) < 0) {
			child_fail(b->root, errno,
				   "unix socket %u: cannot rename its file %s to %s", i, slash + 1,
				   to);
			ret = -1;
		}
		close(dir);
		if (ret)
			return ret;
	}
	return 0;
}

/* The task that makes socket id: the root, or its pair's maker (checked: a task of the
 * tree, alive, with a table of its own). */
static int maker_of(struct restore_ctx *ctx, uint32_t id)
{
	const UnixSk *s = sk_of(ctx, id);
	struct restore_task *m = s && s->has_maker ? restore_find_task(ctx, (pid_t)s->maker) : NULL;
	return m ? m->idx : 0;
}

bool unix_made_by_root(struct restore_ctx *ctx, const FdEntry *e)
{
	return !e->unix_sk || maker_of(ctx, e->unix_sk->id) == 0;
}

int restore_unix_child(struct restore_ctx *ctx, struct restore_task *t)
{
	struct build b = {.ctx = ctx, .root = t, .n = ctx->nr_unix_sks, .anon = -1};
	uint32_t made = 0;
	int ret = -1;

	if (!b.n)
		return 0;
	/* a task other than the root: most make none (no allocation for those) */
	for (made = 0; t->idx && made < b.n; made++) {
		const UnixSk *s = sk_of(ctx, made);
		if (s && s->has_maker && (pid_t)s->maker == t->pid)
			break;
	}
	if (t->idx && made == b.n)
		return 0;
	made = 0;
	b.mine = calloc(b.n, sizeof(*b.mine));
	b.sks = calloc(b.n, sizeof(*b.sks));
	b.fd = malloc(b.n * sizeof(int));
	b.other = malloc(b.n * sizeof(int));
	b.opened = calloc((size_t)ctx->nr_tasks, sizeof(*b.opened));
	if (!b.mine || !b.sks || !b.fd || !b.other || !b.opened) {
		child_fail(b.root, ENOMEM, "unix sockets");
		goto out;
	}
	for (uint32_t i = 0; i < b.n; i++) {
		b.sks[i] = sk_of(ctx, i);
		b.fd[i] = b.other[i] = -1;
		b.mine[i] = maker_of(ctx, i) == t->idx;
		made += b.mine[i];
	}
	if (!made) {
		ret = 0;
		goto out;
	}
	if (make_sockets(&b))
		goto out;
	for (uint32_t i = 0; i < b.n; i++)
		if (b.mine[i] && sockopt_restore_early(b.root, global_of(ctx, i)->desc->fd, b.fd[i],
						       b.sks[i]->opts))
			goto out;
	if (write_queues(&b) || rename_files(&b))
		goto out;
	for (uint32_t i = 0; i < b.n; i++) {
		UnixSk *s = b.sks[i];
		if (!b.mine[i])
			continue;
		if (b.other[i] >= 0)
			close(b.other[i]), b.other[i] = -1; /* the peer that was closed */
		if ((s->shutdown & UNIX_RCV_SHUTDOWN) && shutdown(b.fd[i], SHUT_RD) < 0 &&
		    errno != ENOTCONN)
			goto fail_shut;
		if ((s->shutdown & UNIX_SEND_SHUTDOWN) && shutdown(b.fd[i], SHUT_WR) < 0 &&
		    errno != ENOTCONN)
			goto fail_shut;
	}
	for (uint32_t i = 0; i < b.n; i++) {
		struct svc_file *g = global_of(ctx, i);
		if (!b.mine[i])
			continue;
		if (sockopt_restore_late(b.root, g->desc->fd, b.fd[i], b.sks[i]->opts) ||
		    sockopt_restore_filter(b.root, g->desc->fd, b.fd[i], b.sks[i]->opts))
			goto out;
		if (dup2(b.fd[i], g->fd) < 0) {
			child_fail(b.root, errno, "cannot place unix socket %u at fd %d", i, g->fd);
			goto out;
		}
		close(b.fd[i]);
		b.fd[i] = g->fd;
	}
	/* a maker's pairs: their descriptions other tasks below it share, at their service fds
	 * (the root places those of its own after this pass) */
	for (int i = 0; t->idx && i < ctx->nr_globals; i++) {
		struct svc_file *g = &ctx->globals[i];
		if (g->kind == SVC_DESC && g->desc->kind == FD_KIND__FD_UNIX_SK &&
		    g->desc->unix_sk && g->desc->unix_sk->id < b.n &&
		    b.mine[g->desc->unix_sk->id] && restore_shared_desc_child(ctx, g, t))
			goto out;
	}
	ret = 0;
	goto out;
fail_shut:
	child_fail(b.root, errno, "cannot shut a unix socket down as it was");
out:
	for (uint32_t i = 0; b.other && i < b.n; i++)
		if (b.other[i] >= 0)
			close(b.other[i]);
	for (uint32_t i = 0; ret && b.fd && i < b.n; i++)
		if (b.fd[i] >= 0)
			close(b.fd[i]);
	if (b.anon >= 0)
		close(b.anon);
	unix_holds_release(&b.holds);
	/* the root's own copies of files in flight: the messages hold them now */
	for (int i = 0; b.opened && i < ctx->nr_tasks; i++) {
		for (size_t k = 0; b.opened[i] && k < ctx->tasks[i].files->n_inflight; k++)
			if (b.opened[i][k] >= 0)
				close(b.opened[i][k]);
		free(b.opened[i]);
	}
	free(b.opened);
	free(b.mine), free(b.sks), free(b.fd), free(b.other), free(b.bound), free(b.groups);
	return ret;
}
