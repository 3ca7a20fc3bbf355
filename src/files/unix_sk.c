/* Unix sockets, dump half (the restore is unix_sk_restore.c).
 *
 * What the kernel says of every unix socket of the namespace comes from one sock_diag dump
 * (unix_diag.c), taken at the first unix socket of the tree: type, state, name, peer, queue
 * lengths, shutdown state. Each socket of the tree has one open file description (a socket
 * cannot be opened again), so one entry, numbered 0, 1, 2... in the tree's order; its other
 * fds are dup references (shared.c). From cryo's copy of it (pidfd_getfd): its options
 * (sockopt.c) and its receive queue, read without being consumed (unix_queue.c). Pending
 * errors are refused by name.
 *
 * Once every task was walked (unix_dump_finish): each peer is found in the tree (a peer held
 * outside it is refused, naming the process), accepted sockets are tied to their listener,
 * and the set is checked against the rules of unix_check.c. */
#include <dirent.h>
#include <errno.h>
#include <linux/sockios.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/proc.h"
#include "files/kind.h"
#include "files/sockopt.h"
#include "files/unix_diag.h"
#include "files/unix_sk.h"

struct usk {
	struct unix_diag_sk d;
	UnixSk *s;  /* NULL: not in the tree */
	FdEntry *e; /* its entry, when s */
	pid_t pid;  /* its first holder in the tree */
	int fd;
};

struct unix_table {
	struct usk *sks;
	uint32_t n, cap;
	uint32_t *hash; /* by inode: index + 1, 0 empty */
	uint32_t hcap;
	struct usk **tree; /* the tree's, by id */
	uint32_t nr_tree, cap_tree;
	bool refused; /* the walk refused one of the tree's (named then) */
};

static uint32_t ino_hash(uint64_t ino, uint32_t mask)
{
	return (uint32_t)((ino * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

struct loading {
	struct dump_ctx *ctx;
	struct unix_table *ut;
};

static int collect(const struct unix_diag_sk *d, void *arg)
{
	struct loading *l = arg;
	struct unix_table *ut = l->ut;
	if (ut->n == ut->cap) {
		uint32_t cap = ut->cap ? ut->cap * 2 : 256;
		struct usk *n = arena_alloc(&l->ctx->arena, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		if (ut->n)
			memcpy(n, ut->sks, ut->n * sizeof(*n));
		ut->sks = n, ut->cap = cap;
	}
	ut->sks[ut->n] = (struct usk){.d = *d};
	if (d->nr_icons) {
		uint32_t *ic = arena_memdup(&l->ctx->arena, d->icons, d->nr_icons * sizeof(*ic));
		if (!ic)
			return -ENOMEM;
		ut->sks[ut->n].d.icons = ic;
	} else {
		ut->sks[ut->n].d.icons = NULL;
	}
	ut->n++;
	return 0;
}

/* Everything lives in the dump's arena. */
static struct unix_table *table_load(struct dump_ctx *ctx)
{
	struct unix_table *ut = ctx->unix_sks;
	if (ut)
		return ut;
	ut = arena_alloc(&ctx->arena, sizeof(*ut));
	if (!ut || unix_diag_each(collect, &(struct loading){ctx, ut}))
		return NULL;
	for (ut->hcap = 64; ut->hcap < ut->n * 2; ut->hcap *= 2)
		;
	ut->hash = arena_alloc(&ctx->arena, ut->hcap * sizeof(*ut->hash));
	if (!ut->hash)
		return NULL;
	for (uint32_t i = 0; i < ut->n; i++) {
		uint32_t h = ino_hash(ut->sks[i].d.ino, ut->hcap - 1);
		while (ut->hash[h])
			h = (h + 1) & (ut->hcap - 1);
		ut->hash[h] = i + 1;
	}
	ctx->unix_sks = ut;
	return ut;
}

static struct usk *table_find(struct unix_table *ut, uint64_t ino)
{
	if (!ino)
		return NULL;
	for (uint32_t h = ino_hash(ino, ut->hcap - 1);; h = (h + 1) & (ut->hcap - 1)) {
		uint32_t i = ut->hash[h];
		if (!i)
			return NULL;
		if (ut->sks[i - 1].d.ino == ino)
			return &ut->sks[i - 1];
	}
}

/* ---- a bound name ---- */

/* The socket file of a name that is gone, if it was renamed in its own directory: the one
 * entry there that is this socket's file (st: its attributes). 1 found, 0 not there, <0 it
 * has several names (hard links: which one the program uses cannot be known). */
static int find_renamed(struct dump_ctx *ctx, pid_t pid, int fd, const char *path,
			const struct usk *u, struct stat *st, FdEntry *e)
{
	char dir[PATH_MAX + 64], nm[UNIX_NAME_MAX * 4 + 8], found[NAME_MAX + 1] = "";
	struct dirent *de;
	struct stat s2;
	char *slash;
	DIR *dp;
	int d, n = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	if (!(slash = strrchr(dir, '/')))
		return 0;
	if (slash == dir)
		slash++;
	*slash = 0;
	if ((d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	if (!(dp = fdopendir(d))) {
		close(d);
		return 0;
	}
	while ((de = readdir(dp))) {
		if (de->d_type != DT_SOCK && de->d_type != DT_UNKNOWN)
			continue;
		if (fstatat(d, de->d_name, &s2, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(s2.st_mode) ||
		    s2.st_ino != u->d.vfs_ino || s2.st_dev != u->d.vfs_dev)
			continue;
		if (n++ == 0) {
			snprintf(found, sizeof(found), "%s", de->d_name);
			*st = s2;
		}
	}
	closedir(dp);
	if (n > 1) {
		unix_name_str((const uint8_t *)u->d.name, u->d.namelen, nm, sizeof(nm));
		pr_err("task %d: fd %d: unix socket bound to %s, whose socket file has %d names in "
		       "%s now (%s...): not supported yet",
		       pid, fd, nm, n, dir, found);
		return -ENOTSUP;
	}
	if (!n)
		return 0;
	if (!(e->unix_renamed = arena_strdup(&ctx->arena, found)))
		return -ENOMEM;
	pr_info("task %d: fd %d: its socket file was renamed to %s in %s", pid, fd, found, dir);
	return 1;
}

static int save_name(struct dump_ctx *ctx, pid_t pid, int fd, const struct usk *u, UnixSk *s,
		     FdEntry *e)
{
	char path[PATH_MAX + 64], nm[UNIX_NAME_MAX * 4 + 8], root[8];
	struct stat st;
	ssize_t n;

	s->has_name = true;
	s->name.len = u->d.namelen;
	s->name.data = arena_memdup(&ctx->arena, u->d.name, u->d.namelen);
	if (!s->name.data)
		return -ENOMEM;
	if (!u->d.name[0])
		return 0; /* abstract: nothing in the file system */
	unix_name_str((const uint8_t *)u->d.name, u->d.namelen, nm, sizeof(nm));
	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	n = readlink(path, root, sizeof(root));
	if (n != 1 || root[0] != '/') {
		pr_err("task %d: fd %d: unix socket bound to %s by a task with a root directory "
		       "of its own: not supported yet",
		       pid, fd, nm);
		return -ENOTSUP;
	}
	if (u->d.name[0] != '/') {
		char cwd[PATH_MAX];
		snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
		n = readlink(path, cwd, sizeof(cwd) - 1);
		if (n <= 0 || cwd[0] != '/') {
			pr_err("task %d: fd %d: unix socket bound to the relative path %s, and the "
			       "task's directory cannot be known",
			       pid, fd, nm);
			return -ENOTSUP;
		}
		cwd[n] = 0;
		if (!(s->name_dir = arena_strdup(&ctx->arena, cwd)))
			return -ENOMEM;
		snprintf(path, sizeof(path), "/proc/%d/cwd/%s", pid, u->d.name);
	} else {
		snprintf(path, sizeof(path), "%s", u->d.name);
	}
	if (u->d.has_vfs && lstat(path, &st) < 0 && errno == ENOENT) {
		/* gone from its name: renamed in the same directory? */
		int r = find_renamed(ctx, pid, fd, path, u, &st, e);
		if (r < 0)
			return r;
		if (r)
			goto found;
	}
	if (!u->d.has_vfs || lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_ino != u->d.vfs_ino || st.st_dev != u->d.vfs_dev) {
		pr_err("task %d: fd %d: unix socket bound to %s, whose socket file %s: not "
		       "supported yet",
		       pid, fd, nm,
		       u->d.name[0] == '/'
			   ? "was removed or replaced"
			   : "is not there from the task's working directory (bound "
			     "from another one, or removed or replaced)");
		return -ENOTSUP;
	}
found:
	s->has_file_mode = s->has_file_uid = s->has_file_gid = true;
	s->file_mode = st.st_mode & 07777, s->file_uid = st.st_uid, s->file_gid = st.st_gid;
	return 0;
}

/* The credentials the socket holds of its peer (SO_PEERCRED: who made the pair, who connected
 * or listened, with the ids it had then; SO_PEERGROUPS: its groups then). The restore makes
 * the tree's sockets in its root: a maker with the root's pid comes back, with the ids kept
 * here taken by the root for the call that sets them (unix_sk_restore.c). A pair another
 * task of the tree made is made again by that task (s->maker), which the set's checks at the
 * walk's end allow only for a pair that task and its descendants alone hold
 * (unix_check_makers). A maker outside the tree cannot come back. */
static int save_peercred(struct dump_ctx *ctx, pid_t pid, int fd, int sk, FdEntry *e, UnixSk *s)
{
	struct ucred uc = {0};
	socklen_t len = sizeof(uc);
	uint32_t *groups;

	if (getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		pr_errno(errno, "task %d: fd %d: cannot read SO_PEERCRED", pid, fd);
		return -errno;
	}
	if (!uc.pid)
		return 0;
	if (uc.pid != ctx->tasks[0].pid) {
		if (!dump_find_task(ctx, uc.pid)) {
			pr_err("task %d: fd %d: unix socket whose peer credentials (SO_PEERCRED: "
			       "pid %d, uid %u, gid %u) cannot be made again (process %d, which "
			       "made it, is not in the tree): not supported yet",
			       pid, fd, uc.pid, uc.uid, uc.gid, uc.pid);
			return -ENOTSUP;
		}
		s->has_maker = true;
		s->maker = (uint32_t)uc.pid;
	}
	if (uc.uid == (uid_t)-1 || uc.gid == (gid_t)-1) {
		pr_err("task %d: fd %d: unix socket whose peer credentials hold ids unmapped here "
		       "(SO_PEERCRED: uid %u, gid %u): not supported yet",
		       pid, fd, uc.uid, uc.gid);
		return -ENOTSUP;
	}
	/* the groups: as many as the kernel says there are (ERANGE tells the length) */
	len = 0;
	if (getsockopt(sk, SOL_SOCKET, SO_PEERGROUPS, NULL, &len) < 0 && errno != ERANGE) {
		pr_errno(errno, "task %d: fd %d: cannot read SO_PEERGROUPS", pid, fd);
		return -errno;
	}
	if (len % sizeof(*groups) || len / sizeof(*groups) > UNIX_PEER_GROUPS_MAX) {
		pr_err("task %d: fd %d: SO_PEERGROUPS gave %u bytes", pid, fd, len);
		return -EIO;
	}
	groups = len ? arena_alloc(&ctx->arena, len) : NULL;
	if (len && !groups)
		return -ENOMEM;
	if (len && getsockopt(sk, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		pr_errno(errno, "task %d: fd %d: cannot read SO_PEERGROUPS", pid, fd);
		return -errno;
	}
	for (size_t i = 0; i < len / sizeof(*groups); i++)
		if (groups[i] == (uint32_t)-1) {
			pr_err("task %d: fd %d: unix socket whose peer credentials hold a group "
			       "unmapped here (SO_PEERGROUPS): not supported yet",
			       pid, fd);
			return -ENOTSUP;
		}
	e->has_unix_peer_uid = e->has_unix_peer_gid = true;
	e->unix_peer_uid = uc.uid, e->unix_peer_gid = uc.gid;
	e->n_unix_peer_groups = len / sizeof(*groups);
	e->unix_peer_groups = groups;
	return 0;
}

static int unix_dump_one(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			 FdEntry *e);

/* A socket refused here is left out of the set: its checks at the walk's end would name
 * what is missing, not what is wrong (the refusal said it) */
static int unix_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		     FdEntry *e)
{
	int ret = unix_dump_one(ctx, t, fi, e);
	if (ret == -ENOTSUP && ctx->unix_sks)
		ctx->unix_sks->refused = true;
	return ret;
}

static int unix_dump_one(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			 FdEntry *e)
{
	struct unix_table *ut = table_load(ctx);
	struct usk *u;
	UnixSk *s;
	int copy = -1, ret;

	if (!ut)
		return -ENOMEM;
	u = table_find(ut, fi->st.st_ino);
	if (!u) {
		pr_err("task %d: fd %d: unix socket %s is not seen by sock_diag (in another "
		       "network namespace?): not supported yet",
		       t->pid, fi->fd, fi->link);
		return -ENOTSUP;
	}
	if (!(s = A_NEW(&ctx->arena, UnixSk, UNIX_SK)))
		return -ENOMEM;
	if (ut->nr_tree == ut->cap_tree) {
		uint32_t cap = ut->cap_tree ? ut->cap_tree * 2 : 16;
		struct usk **n = arena_alloc(&ctx->arena, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		if (ut->nr_tree)
			memcpy(n, ut->tree, ut->nr_tree * sizeof(*n));
		ut->tree = n, ut->cap_tree = cap;
	}
	s->id = ut->nr_tree;
	ut->tree[ut->nr_tree++] = u;
	u->s = s, u->e = e, u->pid = t->pid, u->fd = fi->fd;
	e->unix_sk = s;
	s->type = u->d.type;
	s->state = u->d.state;
	s->has_shutdown = true;
	s->shutdown = u->d.shutdown;
	if (s->state == UNIX_ST_LISTEN) {
		s->has_backlog = true;
		s->backlog = u->d.wqueue;
		if (u->d.rqueue != u->d.nr_icons || u->d.nr_icons > UNIX_BACKLOG_MAX) {
			pr_err("task %d: fd %d: listening unix socket with %u connections not "
			       "yet accepted, of which sock_diag names %u: not supported yet",
			       t->pid, fi->fd, u->d.rqueue, u->d.nr_icons);
			return -ENOTSUP;
		}
	}
	if (u->d.namelen && (ret = save_name(ctx, t->pid, fi->fd, u, s, e)))
		return ret;

	if ((copy = fd_take_copy(fi, "the socket")) < 0) {
		ret = copy;
		goto out;
	}
	if (!(s->opts = sockopt_dump(ctx, t->pid, fi->fd, copy, fi->opts_pre))) {
		ret = -EIO;
		goto out;
	}
	if ((ret = save_peercred(ctx, t->pid, fi->fd, copy, e, s)))
		goto out;
	struct pollfd p = {.fd = copy, .events = 0};
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR)) {
		pr_err("task %d: fd %d: unix socket with an error pending (SO_ERROR): not "
		       "supported yet",
		       t->pid, fi->fd);
		ret = -ENOTSUP;
		goto out;
	}
	if (s->state == UNIX_ST_LISTEN) {
		ret = 0;
		goto out;
	}
	/* the reads below turn SO_OOBINLINE, SO_PASSCRED and SO_PEEK_OFF over for a moment:
	 * put back even if cryo dies. Not a stream with nothing queued and SO_OOBINLINE off,
	 * the most common socket, on which they change nothing (and a tree of such needs no
	 * guard started) */
	uint32_t id;
	int inq = 0, inl = 0;
	socklen_t il = sizeof(inl);
	bool changes = s->type != SOCK_STREAM || ioctl(copy, SIOCINQ, &inq) < 0 || inq > 0 ||
		       getsockopt(copy, SOL_SOCKET, SO_OOBINLINE, &inl, &il) < 0 || inl;
	if (changes &&
	    (ret = sk_guard_hold(&ctx->sk_guard, &copy, 1,
				 SKG_OOBINLINE | SKG_PASSCRED | SKG_PEEK_OFF, NULL, &id))) {
		pr_errno(-ret, "task %d: fd %d: cannot hand the unix socket to the socket guard",
			 t->pid, fi->fd);
		goto out;
	}
	/* urgent data first: the queue's peeks would take its byte for an inline one, so a
	 * queue with any of it is read after the kernel's buffers */
	const char *oob = NULL;
	if (!(ret = unix_oob_dump(t->pid, fi->fd, copy, s, &oob)))
		ret = unix_queue_dump(ctx, t, fi->fd, copy, s, oob);
	if (changes && !ret && (ret = sk_guard_release(&ctx->sk_guard, id)))
		pr_errno(-ret,
			 "task %d: fd %d: cannot tell the socket guard the unix socket is back",
			 t->pid, fi->fd);
out:
	if (copy >= 0)
		close(copy);
	return ret;
}

/* ---- the whole tree's ---- */

/* A process outside the tree that holds socket ino: its pid and fd, or 0. */
static pid_t outside_holder(struct dump_ctx *ctx, uint64_t ino, int *hfd)
{
	char want[64], link[64], path[64];
	DIR *proc = opendir("/proc");
	struct dirent *de;
	pid_t found = 0, self = getpid();

	if (!proc)
		return 0;
	snprintf(want, sizeof(want), "socket:[%lu]", (unsigned long)ino);
	while (!found && (de = readdir(proc))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		bool tree = false;
		if (pid <= 0 || pid == self)
			continue;
		for (int i = 0; i < ctx->nr_tasks && !tree; i++)
			tree = ctx->tasks[i].pid == pid;
		if (tree)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		DIR *fds = opendir(path);
		struct dirent *f;
		while (fds && (f = readdir(fds))) {
			ssize_t n = readlinkat(dirfd(fds), f->d_name, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = 0;
			if (!strcmp(link, want)) {
				found = pid, *hfd = atoi(f->d_name);
				break;
			}
		}
		if (fds)
			closedir(fds);
	}
	closedir(proc);
	return found;
}

static void refuse_outside(struct dump_ctx *ctx, const struct usk *u, uint64_t other,
			   const char *how)
{
	struct proc_stat st;
	int hfd = -1;
	pid_t pid = outside_holder(ctx, other, &hfd);
	char nm[UNIX_NAME_MAX * 4 + 8];

	unix_name_str((const uint8_t *)u->d.name, u->d.namelen, nm, sizeof(nm));
	if (pid)
		pr_err("task %d: fd %d: unix socket %s (socket:[%lu]) %s socket:[%lu] of process "
		       "%d (%s, fd %d) outside the tree: not supported yet (--ext-unix-sk: only a "
		       "datagram socket connected to a named one)",
		       u->pid, u->fd, nm, (unsigned long)u->d.ino, how, (unsigned long)other, pid,
		       proc_parse_stat(pid, 0, &st) ? "?" : st.comm, hfd);
	else
		pr_err("task %d: fd %d: unix socket %s (socket:[%lu]) %s socket:[%lu], which no "
		       "process of the tree holds (in flight, or in another namespace): not "
		       "supported yet",
		       u->pid, u->fd, nm, (unsigned long)u->d.ino, how, (unsigned long)other);
}

static bool same_name(const struct usk *a, const struct usk *b)
{
	return a->d.namelen && a->d.namelen == b->d.namelen &&
	       !memcmp(a->d.name, b->d.name, a->d.namelen) &&
	       (a->d.name[0] != 0 || !a->d.has_vfs || a->d.vfs_ino == b->d.vfs_ino);
}

/* Pairs made by a task other than the root (unix_check_makers): 0, 1 with why[] and *bad
 * (refused), or -errno. */
static int check_makers(struct dump_ctx *ctx, struct unix_table *ut, UnixSk *const *sks, char *why,
			size_t len, uint32_t *bad)
{
	struct unix_task_view *tv;
	int *owner, *owner_fd, ret;
	uint32_t i;

	for (i = 0; i < ut->nr_tree && !sks[i]->has_maker; i++)
		;
	if (i == ut->nr_tree)
		return 0;
	tv = calloc((size_t)ctx->nr_tasks, sizeof(*tv));
	owner = malloc(ut->nr_tree * sizeof(*owner));
	owner_fd = malloc(ut->nr_tree * sizeof(*owner_fd));
	if (!tv || !owner || !owner_fd) {
		free(tv), free(owner), free(owner_fd);
		return -ENOMEM;
	}
	for (int k = 0; k < ctx->nr_tasks; k++) {
		const struct dump_task *t = &ctx->tasks[k];
		tv[k] = (struct unix_task_view){.pid = t->pid,
						.parent = t->parent,
						.zombie = t->zombie,
						.files_shared = t->files_shared,
						.sid = t->stat.sid,
						.pgid = t->stat.pgid,
						.files = t->files};
	}
	for (i = 0; i < ut->nr_tree; i++) {
		struct dump_task *o = dump_find_task(ctx, ut->tree[i]->pid);
		owner[i] = o ? (int)(o - ctx->tasks) : -1, owner_fd[i] = ut->tree[i]->fd;
	}
	ret = unix_check_makers(sks, owner, owner_fd, ut->nr_tree, tv, ctx->nr_tasks, why, len, bad)
		  ? 1
		  : 0;
	free(tv), free(owner), free(owner_fd);
	return ret;
}

int unix_dump_finish(struct dump_ctx *ctx)
{
	struct unix_table *ut = ctx->unix_sks;
	UnixSk **sks;
	int ret = 0;

	if (!ut || !ut->nr_tree)
		return 0;
	/* connections a listener of the tree did not accept yet: their clients connect again
	 * at restore, in the same order (nothing can be in flight on them: see below) */
	for (uint32_t i = 0; i < ut->nr_tree; i++) {
		struct usk *l = ut->tree[i];
		if (!l->d.nr_icons)
			continue;
		l->s->pending = arena_alloc(&ctx->arena, l->d.nr_icons * sizeof(uint32_t));
		if (!l->s->pending)
			return -ENOMEM;
		for (uint32_t k = 0; k < l->d.nr_icons; k++) {
			struct usk *c = table_find(ut, l->d.icons[k]);
			if (!c || !c->s) {
				refuse_outside(ctx, l, l->d.icons[k],
					       "has a connection not accepted yet from");
				ret = -ENOTSUP;
				continue;
			}
			if (c->d.wqueue) {
				pr_err("task %d: fd %d: unix socket with data sent on a connection "
				       "not accepted yet (%u bytes of buffers): not supported yet",
				       c->pid, c->fd, c->d.wqueue);
				c->s->has_pending_on = true; /* named once */
				ret = -ENOTSUP;
				continue;
			}
			c->s->has_pending_on = true;
			c->s->pending_on = l->s->id;
			l->s->pending[l->s->n_pending++] = c->s->id;
		}
	}
	for (uint32_t i = 0; i < ut->nr_tree; i++) {
		struct usk *u = ut->tree[i];
		UnixSk *s = u->s;
		/* a datagram socket another one connected to is "connected" too, without a
		 * peer of its own */
		if (u->d.state != UNIX_ST_CONNECTED || !u->d.has_peer || s->has_pending_on)
			continue;
		if (!u->d.peer) {
			/* a peer without an inode: closed (a stream's survivor is shut down
			 * both ways and has nothing in flight), or a connection no one
			 * accepted yet (its client is neither) */
			if (u->d.type != SOCK_DGRAM &&
			    (u->d.shutdown != (UNIX_RCV_SHUTDOWN | UNIX_SEND_SHUTDOWN) ||
			     u->d.wqueue)) {
				char nm[UNIX_NAME_MAX * 4 + 8];
				pr_err("task %d: fd %d: unix socket %s (socket:[%lu]) is connected "
				       "to a listening socket that did not accept it yet: not "
				       "supported yet",
				       u->pid, u->fd,
				       unix_name_str((const uint8_t *)u->d.name, u->d.namelen, nm,
						     sizeof(nm)),
				       (unsigned long)u->d.ino);
				ret = -ENOTSUP;
				continue;
			}
			s->peer_gone = s->has_peer_gone = true;
			continue;
		}
		struct usk *p = table_find(ut, u->d.peer);
		if (p && !p->s && ctx->opts->ext_unix_sk && u->d.type == SOCK_DGRAM &&
		    p->d.namelen && (!p->d.name[0] || p->d.name[0] == '/')) {
			/* --ext-unix-sk: connected to that name again at restore */
			s->has_ext_peer = true;
			s->ext_peer.len = p->d.namelen;
			s->ext_peer.data = arena_memdup(&ctx->arena, p->d.name, p->d.namelen);
			if (!s->ext_peer.data)
				return -ENOMEM;
			if (s->n_queue) {
				pr_err(
				    "task %d: fd %d: unix socket connected to a socket outside the "
				    "tree, with datagrams from it queued: not supported yet",
				    u->pid, u->fd);
				ret = -ENOTSUP;
			}
			continue;
		}
		if (!p || !p->s) {
			refuse_outside(ctx, u, u->d.peer, "is connected to");
			ret = -ENOTSUP;
			continue;
		}
		s->has_peer = true;
		s->peer = p->s->id;
		/* an accepted socket has the name of its listener */
		for (uint32_t j = 0; j < ut->nr_tree && u->d.namelen && u->d.type != SOCK_DGRAM;
		     j++) {
			struct usk *l = ut->tree[j];
			if (l->d.state == UNIX_ST_LISTEN && l->d.type == u->d.type &&
			    same_name(l, u)) {
				s->has_listener = true;
				s->listener = l->s->id;
			}
		}
	}
	/* sockets outside the tree connected to one of the tree's (a datagram socket whose
	 * peer it is) would lose it */
	for (uint32_t i = 0; i < ut->n; i++) {
		struct usk *o = &ut->sks[i], *p;
		if (o->s || !o->d.peer || !(p = table_find(ut, o->d.peer)) || !p->s)
			continue;
		if (p->d.peer == o->d.ino && !p->s->has_ext_peer)
			continue; /* refused above */
		refuse_outside(ctx, p, o->d.ino, "is the peer of");
		ret = -ENOTSUP;
	}
	if (ret)
		return ret;
	if (ut->refused)
		return -ENOTSUP;
	sks = malloc(ut->nr_tree * sizeof(*sks));
	if (!sks)
		return -ENOMEM;
	for (uint32_t i = 0; i < ut->nr_tree; i++)
		sks[i] = ut->tree[i]->s;
	char why[256];
	uint32_t bad = 0;
	for (uint32_t i = 0; i < ut->nr_tree && !ret; i++)
		if (unix_check_one(sks[i], why, sizeof(why))) {
			bad = i;
			ret = -ENOTSUP;
		}
	if (!ret && unix_check_set(sks, ut->nr_tree, why, sizeof(why), &bad))
		ret = -ENOTSUP;
	if (!ret) {
		const FdEntry **ents = malloc(ut->nr_tree * sizeof(*ents));
		if (!ents) {
			free(sks);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < ut->nr_tree; i++)
			ents[i] = ut->tree[i]->e;
		if (unix_check_ids(sks, ents, ut->nr_tree, why, sizeof(why), &bad))
			ret = -ENOTSUP;
		free(ents);
	}
	if (!ret && (ret = check_makers(ctx, ut, sks, why, sizeof(why), &bad)) < 0) {
		free(sks);
		return ret;
	}
	if (ret > 0)
		ret = -ENOTSUP;
	if (ret)
		pr_err("task %d: fd %d: unix socket socket:[%lu]: %s: not supported yet",
		       ut->tree[bad]->pid, ut->tree[bad]->fd, (unsigned long)ut->tree[bad]->d.ino,
		       why);
	free(sks);
	return ret;
}

/* ---- image checks of one entry ---- */

static int unix_validate(const char *img, const Files *f, const FdEntry *e)
{
	char why[256];
	(void)f;
	if (e->has_mode && !S_ISSOCK(e->mode))
		return files_refuse(img, "fd %d: mode %#o is not a socket's", e->fd, e->mode);
	if (e->path || e->pos)
		return files_refuse(img, "fd %d: a unix socket with a path or position", e->fd);
	if (e->has_unix_peer_uid != e->has_unix_peer_gid ||
	    (e->n_unix_peer_groups && !e->has_unix_peer_uid))
		return files_refuse(img, "fd %d: peer credentials without their uid or gid", e->fd);
	if (e->has_unix_peer_uid && (e->has_dup_of || !e->unix_sk))
		return files_refuse(img, "fd %d: peer credentials on an entry without the socket",
				    e->fd);
	if (e->has_unix_peer_uid &&
	    (e->unix_peer_uid == (uint32_t)-1 || e->unix_peer_gid == (uint32_t)-1))
		return files_refuse(img, "fd %d: peer credentials with the id -1", e->fd);
	if (e->n_unix_peer_groups > UNIX_PEER_GROUPS_MAX)
		return files_refuse(img, "fd %d: peer credentials with %zu groups (at most %u)",
				    e->fd, e->n_unix_peer_groups, UNIX_PEER_GROUPS_MAX);
	for (size_t i = 0; i < e->n_unix_peer_groups; i++)
		if (e->unix_peer_groups[i] == (uint32_t)-1)
			return files_refuse(img, "fd %d: peer credentials with the group -1",
					    e->fd);
	int ret = files_sock_state(img, e, e->unix_sk, "a unix socket");
	if (ret)
		return ret < 0 ? ret : 0;
	if (e->unix_sk->has_maker &&
	    (!e->has_unix_peer_uid || !e->unix_sk->maker || e->unix_sk->maker >= UNIX_CRED_PID_MAX))
		return files_refuse(img,
				    "fd %d: unix socket %u: a maker that is no pid, or one "
				    "without peer credentials",
				    e->fd, e->unix_sk->id);
	if (e->unix_sk->id >= FILES_MAX_FD)
		return files_refuse(img, "fd %d: unix socket %u out of range", e->fd,
				    e->unix_sk->id);
	if (unix_check_one(e->unix_sk, why, sizeof(why)))
		return files_refuse(img, "fd %d: unix socket %u: %s", e->fd, e->unix_sk->id, why);
	/* renamed: one name in the bound path's directory, of a socket bound to a path */
	if (e->unix_renamed &&
	    (!e->unix_sk->has_name || !e->unix_sk->name.data[0] || !e->unix_renamed[0] ||
	     strchr(e->unix_renamed, '/') || !strcmp(e->unix_renamed, ".") ||
	     !strcmp(e->unix_renamed, "..") || strlen(e->unix_renamed) > NAME_MAX))
		return files_refuse(img, "fd %d: unix socket %u: an invalid name to rename to",
				    e->fd, e->unix_sk->id);
	return sockopt_validate(img, e->fd, e->unix_sk->opts);
}

static bool unix_recognise(const struct fd_info *fi)
{
	return fi->sk_family == AF_UNIX;
}

const struct fd_ops fd_unix_sk_ops = {
    .name = "a unix socket",
    .names = "unix sockets",
    .kind = FD_KIND__FD_UNIX_SK,
    .recognise = unix_recognise,
    .dump = unix_dump,
    .restore = unix_restore,
    .validate = unix_validate,
};
