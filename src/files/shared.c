/* One open file description held by several descriptors (dup, dup2, F_DUPFD) or by several
 * tasks (inherited through fork): position, status flags and everything but close-on-exec
 * are one object. The dump finds them with kcmp and saves every later fd as a reference to
 * the first (dup_of, and dup_of_pid when the first is another task's): that pair is the
 * object's id. At restore the object is built once: within a task the later fds are dup2()
 * copies; across tasks the root opens it at a service fd before it creates the tree, and
 * every task inherits it. Works for any kind: the object is built by its kind's restore op. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"
#include "files/tty.h"

/* Every description saved so far (not dup references), found again in O(log n) system calls:
 * grouped by inode, and within a group (all eventfds share one anonymous inode) kept in the
 * kernel's kcmp order, which is a total order of open file descriptions. A linear scan with
 * one kcmp per saved fd made 10,000 eventfds take 28 s. Everything lives in the arena. */
struct desc_ref {
	pid_t pid;
	int fd;
	FdEntry *e;
};

struct desc_group {
	uint64_t dev, ino, sub;
	struct desc_ref *refs; /* in kcmp order */
	uint32_t n, cap;
};

struct desc_index {
	struct desc_group *groups;
	uint32_t n, cap;
	uint32_t *hash; /* open addressing: index + 1, 0 empty */
	uint32_t hcap;
	/* where the last description not found would go: shared_note takes it from there */
	struct desc_group *miss_group;
	uint32_t miss_pos;
	pid_t miss_pid;
	int miss_fd;
};

/* Objects that share one inode but that the kernel numbers in fdinfo (each eventfd has an
 * "eventfd-id"): the number + 1 splits their group, so that most need no kcmp at all. */
static uint64_t object_sub_id(const struct fd_info *fi)
{
	const char *p = fi->anon ? strstr(fi->fdinfo, "\neventfd-id:") : NULL;
	return p ? strtoull(p + 12, NULL, 10) + 1 : 0;
}

static uint32_t group_hash(uint64_t dev, uint64_t ino, uint64_t sub, uint32_t mask)
{
	uint64_t h =
	    (ino ^ (dev << 32) ^ dev ^ (sub * 0xff51afd7ed558ccdull)) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & mask;
}

static struct desc_group *group_find(struct desc_index *x, uint64_t dev, uint64_t ino, uint64_t sub)
{
	if (!x || !x->hcap)
		return NULL;
	for (uint32_t h = group_hash(dev, ino, sub, x->hcap - 1);; h = (h + 1) & (x->hcap - 1)) {
		uint32_t i = x->hash[h];
		if (!i)
			return NULL;
		struct desc_group *g = &x->groups[i - 1];
		if (g->dev == dev && g->ino == ino && g->sub == sub)
			return g;
	}
}

static void group_place(struct desc_index *x, uint32_t i)
{
	struct desc_group *g = &x->groups[i];
	uint32_t h = group_hash(g->dev, g->ino, g->sub, x->hcap - 1);
	while (x->hash[h])
		h = (h + 1) & (x->hcap - 1);
	x->hash[h] = i + 1;
}

static struct desc_group *group_get(struct dump_ctx *ctx, uint64_t dev, uint64_t ino, uint64_t sub)
{
	struct desc_index *x = ctx->descs;
	struct desc_group *g;

	if (!x && !(x = ctx->descs = arena_alloc(&ctx->arena, sizeof(*x))))
		return NULL;
	if ((g = group_find(x, dev, ino, sub)))
		return g;
	if (x->n == x->cap) {
		uint32_t cap = x->cap ? x->cap * 2 : 64;
		struct desc_group *groups = arena_alloc(&ctx->arena, cap * sizeof(*groups));
		uint32_t *hash = arena_alloc(&ctx->arena, cap * 2 * sizeof(*hash));
		if (!groups || !hash)
			return NULL;
		if (x->n)
			memcpy(groups, x->groups, x->n * sizeof(*groups));
		x->groups = groups, x->cap = cap, x->hash = hash, x->hcap = cap * 2;
		for (uint32_t i = 0; i < x->n; i++)
			group_place(x, i);
		x->miss_group = NULL; /* it moved */
	}
	g = &x->groups[x->n];
	*g = (struct desc_group){.dev = dev, .ino = ino, .sub = sub};
	group_place(x, x->n++);
	return g;
}

/* Binary search of g for the description of fd of task pid: its ref, or NULL and *pos, where
 * it would go. A kcmp that fails (it should not: both are frozen and ours) counts as "not
 * the same", which saves the fd as a description of its own, as before. */
static struct desc_ref *group_search(struct desc_group *g, pid_t pid, int fd, uint32_t *pos)
{
	uint32_t lo = 0, hi = g->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		struct desc_ref *r = &g->refs[mid];
		long c = syscall(SYS_kcmp, r->pid, pid, KCMP_FILE, r->fd, fd);
		if (c == 0)
			return r;
		if (c == 1) /* r's description comes before fd's */
			lo = mid + 1;
		else if (c == 2)
			hi = mid;
		else {
			pr_warn("task %d: fd %d: cannot compare it with fd %d of task %d (%s)", pid,
				fd, r->fd, r->pid, c < 0 ? strerror(errno) : "no order");
			break;
		}
	}
	*pos = lo;
	return NULL;
}

FdEntry *shared_find(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		     pid_t *owner)
{
	struct desc_index *x = ctx->descs;
	struct desc_group *g;
	struct desc_ref *r;
	uint32_t pos = 0;

	/* pipes and FIFOs: only the descriptions of the same pipe (pipe.c) */
	if (fi->has_st && S_ISFIFO(fi->st.st_mode) && !(fi->flags & O_PATH))
		return pipe_shared_find(ctx, t, fi, owner);
	if (x)
		x->miss_group = NULL;
	g = group_find(x, fi->st.st_dev, fi->st.st_ino, object_sub_id(fi));
	if (!g)
		return NULL;
	r = group_search(g, t->pid, fi->fd, &pos);
	if (r) {
		*owner = r->pid;
		return r->e;
	}
	x->miss_group = g, x->miss_pos = pos, x->miss_pid = t->pid, x->miss_fd = fi->fd;
	return NULL;
}

int shared_note(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e)
{
	struct desc_group *g;
	uint32_t pos = 0;

	if (fi->has_st && S_ISFIFO(fi->st.st_mode) && !(fi->flags & O_PATH))
		return 0; /* pipe.c keeps its own */
	g = group_get(ctx, fi->st.st_dev, fi->st.st_ino, object_sub_id(fi));
	if (!g)
		return -ENOMEM;
	struct desc_index *x = ctx->descs;
	if (x->miss_group == g && x->miss_pid == t->pid && x->miss_fd == fi->fd)
		pos = x->miss_pos;
	else if (g->n && group_search(g, t->pid, fi->fd, &pos))
		return 0; /* (not reached: shared_find found none) */
	x->miss_group = NULL;
	if (g->n == g->cap) {
		uint32_t cap = g->cap ? g->cap * 2 : 4;
		struct desc_ref *refs = arena_alloc(&ctx->arena, cap * sizeof(*refs));
		if (!refs)
			return -ENOMEM;
		if (g->n)
			memcpy(refs, g->refs, g->n * sizeof(*refs));
		g->refs = refs, g->cap = cap;
	}
	memmove(&g->refs[pos + 1], &g->refs[pos], (g->n - pos) * sizeof(*g->refs));
	g->refs[pos] = (struct desc_ref){.pid = t->pid, .fd = fi->fd, .e = e};
	g->n++;
	return 0;
}

int shared_source(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e)
{
	/* a description shared with other tasks was opened once, by the root */
	struct svc_file *g = e->has_dup_of_pid && (pid_t)e->dup_of_pid != t->pid
				 ? restore_find_desc(ctx, e->dup_of_pid, e->dup_of)
				 : restore_find_desc(ctx, t->pid, e->fd);
	if (g)
		return g->fd;
	if (e->has_dup_of && !e->has_dup_of_pid)
		return e->dup_of; /* placed before it (validated) */
	return -1;
}

/* In the root, before it creates the tree: one open file description shared by several
 * tasks, at its service fd, for all of them to inherit. */
int restore_shared_desc_child(struct restore_ctx *ctx, struct svc_file *g, struct restore_task *by)
{
	struct restore_task *root = by;
	struct restore_task *owner = restore_find_task(ctx, g->desc_pid);
	int fd = files_open_one(ctx, owner ? owner : root, g->desc);

	if (fd < 0) {
		if (owner && owner != root)
			*root->state = *owner->state;
		return -1;
	}
	if (fd != g->fd && (dup2(fd, g->fd) < 0 || close(fd) < 0)) {
		child_fail(root, errno, "cannot place %s at fd %d",
			   g->desc->path ? g->desc->path : "a shared descriptor", g->fd);
		return -1;
	}
	return 0;
}

/* Descriptions shared between tasks become global objects; a terminal needs cryo's. */
int files_plan(struct restore_ctx *ctx, struct restore_task *t)
{
	if (tty_plan(ctx, t))
		return -EINVAL;
	for (size_t i = 0; i < t->files->n_fds; i++) {
		FdEntry *e = t->files->fds[i];
		/* a pipe object is made once, by the root, for all its descriptions (pipe.c) */
		if ((e->kind == FD_KIND__FD_PIPE || e->kind == FD_KIND__FD_FIFO) &&
		    !e->has_dup_of) {
			int ret = pipe_plan(ctx, t, e);
			if (ret)
				return ret;
		}
		/* a regular file the caller gives (--inherit-fd) */
		if (e->kind == FD_KIND__FD_REG && !e->has_dup_of) {
			int ret = reg_plan(ctx, t, e);
			if (ret)
				return ret;
		}
		/* a pseudo-terminal pair is made once, by the root (pty.c) */
		if ((e->kind == FD_KIND__FD_PTY_MASTER || e->kind == FD_KIND__FD_PTY_SLAVE) &&
		    !e->has_dup_of) {
			int ret = pty_plan(ctx, t, e);
			if (ret)
				return ret;
		}
		/* a unix socket too, all of them in one pass (unix_sk_restore.c) */
		if (e->kind == FD_KIND__FD_UNIX_SK && !e->has_dup_of) {
			int ret = unix_plan(ctx, t, e);
			if (ret)
				return ret;
		}
		/* an epoll's registrations of files another task holds (epoll.c) */
		if (e->kind == FD_KIND__FD_EPOLL && !e->has_dup_of && !e->has_dup_of_pid) {
			int ret = epoll_plan(ctx, t, e);
			if (ret)
				return ret;
		}
		/* late kinds copy their shared descriptions themselves (late.c) */
		if (!e->has_dup_of_pid || (pid_t)e->dup_of_pid == t->pid || files_entry_is_late(e))
			continue;
		struct restore_task *o = restore_find_task(ctx, e->dup_of_pid);
		FdEntry *orig = NULL;
		for (size_t j = 0; o && !o->zombie && j < o->files->n_fds; j++)
			if (o->files->fds[j]->fd == e->dup_of && !o->files->fds[j]->has_dup_of &&
			    !o->files->fds[j]->has_dup_of_pid)
				orig = o->files->fds[j];
		if (!orig || o->idx >= t->idx) {
			pr_err("files-%d.img: fd %d shares the description of fd %d of task %u, "
			       "which is not there",
			       t->pid, e->fd, e->dup_of, e->dup_of_pid);
			return -EINVAL;
		}
		if (!restore_add_global(
			ctx, (struct svc_file){.kind = SVC_DESC, .desc_pid = o->pid, .desc = orig}))
			return -ENOMEM;
	}
	return 0;
}
