/* epoll: every registration ("target") of the epoll, as /proc/PID/fdinfo/N lists it: the fd
 * number it was added with (its key), the events mask the kernel holds, the 64-bit data.
 *
 * Dump (the sources: epoll_source.c): each registration is checked with kcmp(KCMP_EPOLL_TFD)
 * against the task's fds. The
 * key is only a number the kernel remembers: the registered file may since have been closed
 * at that number (and live on through a dup), or another file may sit there now. The fd of
 * the task that holds the registered file is saved as its source (src_fd); a registered
 * file no fd of the task holds is looked for among the fds of the tree's other tasks (a
 * process that registered an inherited fd and closed it, its parent keeping it): then the
 * source is that task's description (src_pid, src_fd), which the restore opens once for
 * both (a global of the root). A file no task holds is refused, naming the task, the epoll
 * and the target fd.
 *
 * Restore: the epoll is made empty with the other descriptors (so it can be shared, placed,
 * watched by another epoll), and filled once every fd of the task is in place (the late op,
 * below, restore_finish): each registration is added with its own key, its source dup2()ed to that
 * number for the moment of the call when it is not there (another task's description: the
 * root's copy of it, at its service fd). Epolls watched by other epolls of the
 * task are filled first. Pending readiness is not saved: the kernel recomputes it from the
 * targets as they are added (an edge-triggered registration whose file is ready reports one
 * edge after the restore, as it does when it is added).
 *
 * A one-shot registration that fired is disarmed as it was (epoll_oneshot.c). After the
 * restore each epoll's fdinfo is read back and must list the same registrations, masks and
 * data. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "files/epoll.h"
#include "files/kind.h"

/* what a registration's events can hold */
#define EP_KNOWN_BITS (EP_FLAG_BITS | EP_POLL_BITS)
/* the status flags fcntl(F_SETFL) can give an epoll description */
#define EP_SETFL (O_NONBLOCK | O_APPEND | O_ASYNC)
/* the bound of an image (a dump refuses more, naming the epoll) */
#define EPOLL_MAX_TARGETS (1 << 16)

/* Is e an epoll this task fills (the first fd of its description here)? */
static bool filled_here(const FdEntry *e)
{
	return e->kind == FD_KIND__FD_EPOLL && !e->has_dup_of && !e->has_dup_of_pid;
}

/* The "tfd: N events: HEX data: HEX" lines of an epoll's fdinfo: their count, or -1 if one
 * of them does not read so (*out is then freed). */
static int parse_targets(const char *text, struct ep_line **out)
{
	struct ep_line *v = NULL;
	int n = 0, cap = 0;

	for (const char *p = strstr(text, "tfd:"); p; p = strstr(p + 4, "tfd:")) {
		struct ep_line l;
		unsigned long long data;
		if (p != text && p[-1] != '\n')
			continue;
		if (sscanf(p, "tfd: %d events: %" SCNx32 " data: %llx", &l.fd, &l.events, &data) !=
		    3) {
			free(v);
			*out = NULL;
			return -1;
		}
		l.data = data;
		l.ino = 0, l.sdev = 0;
		const char *eol = strchr(p, '\n'), *ino = strstr(p, " ino:"),
			   *sdev = strstr(p, " sdev:");
		if (ino && (!eol || ino < eol))
			l.ino = strtoull(ino + 5, NULL, 16);
		if (sdev && (!eol || sdev < eol))
			l.sdev = (uint32_t)strtoul(sdev + 6, NULL, 16);
		if (n == cap) {
			struct ep_line *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));
			if (!nv) {
				free(v);
				*out = NULL;
				return -1;
			}
			v = nv, cap = cap ? cap * 2 : 16;
		}
		v[n++] = l;
	}
	*out = v;
	return n;
}

/* ---- dump ---- */

static int epoll_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		      FdEntry *e)
{
	struct ep_line *l = NULL;
	struct fd_list fds = {0};
	int *toff = NULL, n, ret = 0;

	if ((fi->flags & O_ACCMODE) != O_RDWR || fi->flags & ~(O_ACCMODE | O_CLOEXEC | EP_SETFL)) {
		pr_err("task %d: epoll fd %d: open flags %#o cryo cannot give an epoll again",
		       t->pid, fi->fd, fi->flags);
		return -ENOTSUP;
	}
	n = parse_targets(fi->fdinfo ? fi->fdinfo : "", &l);
	if (n < 0) {
		pr_err("task %d: epoll fd %d: its fdinfo does not read as registrations", t->pid,
		       fi->fd);
		return -ENOTSUP;
	}
	if (n > EPOLL_MAX_TARGETS) {
		pr_err("task %d: epoll fd %d watches %d files, more than cryo saves (%d)", t->pid,
		       fi->fd, n, EPOLL_MAX_TARGETS);
		free(l);
		return -ENOTSUP;
	}
	e->epoll_targets = n ? arena_alloc(&ctx->arena, n * sizeof(*e->epoll_targets)) : NULL;
	if (n && !e->epoll_targets)
		ret = -ENOMEM;
	if (n && !ret && !(toff = epoll_toffs(l, n)))
		ret = -ENOMEM;
	for (int i = 0; i < n && ret != -ENOMEM; i++) {
		int src = epoll_find_source(t->pid, fi->fd, &l[i], toff[i], &fds);
		if (src < -1) {
			ret = src;
			pr_errno(-ret, "task %d: cannot list its fds", t->pid);
			break;
		}
		pid_t holder = t->pid;
		if (src == -1)
			src = epoll_find_other_source(ctx, t, fi->fd, &l[i], toff[i], &holder);
		if (src < -1) {
			ret = src;
			pr_errno(-ret, "task %d: epoll fd %d: cannot list the fds of the tree",
				 t->pid, fi->fd);
			break;
		}
		if (src < 0) {
			bool open_there =
			    epoll_kcmp_tfd(t->pid, l[i].fd, fi->fd, l[i].fd, toff[i]) >= 0;
			pr_err("task %d: epoll fd %d: target fd %d (events %#x) %s, and the "
			       "registered file is held by no fd of the tree: cryo cannot add it "
			       "again",
			       t->pid, fi->fd, l[i].fd, l[i].events,
			       open_there ? "now holds another file" : "was closed");
			ret = -ENOTSUP;
			continue;
		}
		if (holder != t->pid && epoll_disarmed(l[i].events)) {
			pr_err("task %d: epoll fd %d: target fd %d is a one-shot registration that "
			       "fired, on fd %d of task %d: not supported yet",
			       t->pid, fi->fd, l[i].fd, src, holder);
			ret = -ENOTSUP;
			continue;
		}
		const char *late = holder == t->pid ? epoll_late_source_at(ctx, t, src) : NULL;
		if (late) {
			pr_err("task %d: epoll fd %d: target fd %d is %s, which the restore makes "
			       "after the epolls are filled: cryo cannot add it again yet",
			       t->pid, fi->fd, l[i].fd, late);
			ret = -ENOTSUP;
			continue;
		}
		const char *why =
		    epoll_disarmed(l[i].events) ? epoll_oneshot_unfireable(t->pid, src) : NULL;
		if (why) {
			pr_err("task %d: epoll fd %d: target fd %d is a one-shot registration that "
			       "fired, on %s: cryo cannot make it fire again to disarm it",
			       t->pid, fi->fd, l[i].fd, why);
			ret = -ENOTSUP;
			continue;
		}
		EpollTarget *tg = A_NEW(&ctx->arena, EpollTarget, EPOLL_TARGET);
		if (!tg) {
			ret = -ENOMEM;
			break;
		}
		tg->fd = l[i].fd, tg->events = l[i].events, tg->data = l[i].data;
		if (src != l[i].fd || holder != t->pid) {
			tg->has_src_fd = true;
			tg->src_fd = src;
			tg->has_src_pid = holder != t->pid;
			tg->src_pid = (uint32_t)holder;
			pr_info("task %d: epoll fd %d: target fd %d is held at fd %d of task %d",
				t->pid, fi->fd, l[i].fd, src, holder);
		}
		e->epoll_targets[e->n_epoll_targets++] = tg;
		pr_debug("task %d: epoll fd %d: target fd %d events %#x data %#" PRIx64, t->pid,
			 fi->fd, tg->fd, tg->events, tg->data);
	}
	free(toff);
	free(fds.v);
	free(l);
	if (!ret)
		pr_info("task %d: fd %d is an epoll with %zu registrations", t->pid, fi->fd,
			e->n_epoll_targets);
	return ret;
}

/* The entry of fd of task pid (a reference to another fd, maybe), or NULL */
static FdEntry *dump_entry_of(struct dump_ctx *ctx, pid_t pid, int fd)
{
	for (int k = 0; k < ctx->nr_tasks; k++) {
		const Files *f = ctx->tasks[k].pid == pid ? ctx->tasks[k].files : NULL;
		for (size_t i = 0; f && i < f->n_fds; i++)
			if (f->fds[i]->fd == fd)
				return f->fds[i];
	}
	return NULL;
}

/* Kinds a registration may come from in another task: those the restore's root opens once
 * as a shared description (shared.c). Unix sockets and terminals are made otherwise, epolls
 * are filled in their order, late kinds after the epolls: not yet. */
static const char *other_task_kind_unsupported(const FdEntry *orig)
{
	const struct fd_ops *k = fd_ops_of(orig->kind);
	if (!k || files_entry_is_late(orig))
		return k ? k->name : "a descriptor of an unknown kind";
	switch (orig->kind) {
	case FD_KIND__FD_PTY_MASTER:
	case FD_KIND__FD_PTY_SLAVE:
	case FD_KIND__FD_TTY:
	case FD_KIND__FD_EPOLL:
		return k->name;
	default:
		return NULL;
	}
}

/* A unix pair a task other than the root made is made by that task, before its children
 * (unix_check_makers): only a task below it can have it to register. Is task `pid` the
 * maker of orig or below it (or orig no such pair)? */
static bool below_maker(const FdEntry *orig, pid_t pid, int nr, pid_t (*parent_of)(void *, pid_t),
			void *arg)
{
	if (orig->kind != FD_KIND__FD_UNIX_SK || !orig->unix_sk || !orig->unix_sk->has_maker)
		return true;
	for (int hops = 0; pid > 0 && hops <= nr; hops++, pid = parent_of(arg, pid))
		if (pid == (pid_t)orig->unix_sk->maker)
			return true;
	return false;
}

static pid_t dump_parent_of(void *arg, pid_t pid)
{
	struct dump_ctx *ctx = arg;
	struct dump_task *t = dump_find_task(ctx, pid);
	return t && t->parent >= 0 ? ctx->tasks[t->parent].pid : 0;
}

static pid_t restore_parent_of(void *arg, pid_t pid)
{
	struct restore_ctx *ctx = arg;
	struct restore_task *t = restore_find_task(ctx, pid);
	return t && t->parent >= 0 ? ctx->tasks[t->parent].pid : 0;
}

/* Once every task is walked: each registration whose file another task holds names that
 * task's first fd of the description (the object the restore opens once), and is of a kind
 * the restore can share so. */
int epoll_dump_finish(struct dump_ctx *ctx)
{
	int ret = 0;

	for (int k = 0; k < ctx->nr_tasks; k++) {
		struct dump_task *t = &ctx->tasks[k];
		for (size_t i = 0; t->files && i < t->files->n_fds; i++) {
			FdEntry *e = t->files->fds[i];
			if (e->kind != FD_KIND__FD_EPOLL || !filled_here(e))
				continue;
			for (size_t j = 0; j < e->n_epoll_targets; j++) {
				EpollTarget *tg = e->epoll_targets[j];
				if (!tg->has_src_pid)
					continue;
				FdEntry *h = dump_entry_of(ctx, (pid_t)tg->src_pid, tg->src_fd);
				pid_t opid = (pid_t)tg->src_pid;
				int ofd = tg->src_fd;
				if (h && h->has_dup_of_pid)
					opid = (pid_t)h->dup_of_pid, ofd = h->dup_of;
				else if (h && h->has_dup_of)
					ofd = h->dup_of;
				FdEntry *orig = h ? dump_entry_of(ctx, opid, ofd) : NULL;
				const char *why = !orig ? "not saved"
						  : orig->has_dup_of || orig->has_dup_of_pid
						      ? "not the first fd of its description"
						      : other_task_kind_unsupported(orig);
				if (!why &&
				    !below_maker(orig, t->pid, ctx->nr_tasks, dump_parent_of, ctx))
					why = "a unix socket of a pair another task made, which it "
					      "is "
					      "not below";
				if (why) {
					pr_err(
					    "task %d: epoll fd %d: target fd %d is held only by fd "
					    "%d of task %u, %s: not supported yet",
					    t->pid, e->fd, tg->fd, tg->src_fd, tg->src_pid, why);
					ret = -ENOTSUP;
					continue;
				}
				tg->src_pid = (uint32_t)opid;
				tg->src_fd = ofd;
			}
		}
	}
	return ret;
}

/* ---- restore ---- */

/* The entry of task o that opened the description at fd (not a reference), or NULL */
static const FdEntry *restore_entry_of(struct restore_task *o, int fd)
{
	for (size_t j = 0; o && !o->zombie && j < o->files->n_fds; j++)
		if (o->files->fds[j]->fd == fd && !o->files->fds[j]->has_dup_of &&
		    !o->files->fds[j]->has_dup_of_pid)
			return o->files->fds[j];
	return NULL;
}

int epoll_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e)
{
	char img[64];

	img_name(IMG_FILES, t->pid, img, sizeof(img));
	for (size_t i = 0; i < e->n_epoll_targets; i++) {
		const EpollTarget *tg = e->epoll_targets[i];
		if (!tg->has_src_pid)
			continue;
		struct restore_task *o = restore_find_task(ctx, (pid_t)tg->src_pid);
		const FdEntry *orig = o != t ? restore_entry_of(o, tg->src_fd) : NULL;
		if (orig && !below_maker(orig, t->pid, ctx->nr_tasks, restore_parent_of, ctx))
			return files_refuse(img,
					    "epoll fd %d: target fd %d: fd %d of task %u is a unix "
					    "socket of a pair made by task %u, which this task is "
					    "not below",
					    e->fd, tg->fd, tg->src_fd, tg->src_pid,
					    orig->unix_sk->maker);
		if (!orig || other_task_kind_unsupported(orig))
			return files_refuse(img,
					    "epoll fd %d: target fd %d: fd %d of task %u is not a "
					    "description that task opens and can share",
					    e->fd, tg->fd, tg->src_fd, tg->src_pid);
		/* the root opens it once, for its task and for this registration */
		if (!restore_add_global(ctx, (struct svc_file){.kind = SVC_DESC,
							       .desc_pid = o->pid,
							       .desc = (FdEntry *)orig}))
			return -ENOMEM;
	}
	return 0;
}

/* The fd of this task, in the child phase, that holds tg's file: its source, or the root's
 * copy of another task's description (planned); -1 if there is none. */
static int source_fd(struct restore_ctx *ctx, const EpollTarget *tg)
{
	if (!tg->has_src_pid)
		return epoll_target_source(tg);
	struct svc_file *g = restore_find_desc(ctx, (pid_t)tg->src_pid, tg->src_fd);
	return g ? g->fd : -1;
}

static int epoll_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
			 int flags)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);
	(void)ctx;
	if (fd < 0) {
		child_fail(t, errno, "cannot make the epoll of fd %d", e->fd);
		return -1;
	}
	if (flags & EP_SETFL && fcntl(fd, F_SETFL, flags & EP_SETFL) < 0) {
		child_fail(t, errno, "cannot set the flags %#o of the epoll of fd %d", flags,
			   e->fd);
		close(fd);
		return -1;
	}
	return fd;
}

static int index_build(struct fd_index *x, const Files *f)
{
	x->f = f, x->max = -1;
	/* numbers out of range are refused by files_validate, maybe after this entry */
	for (size_t i = 0; i < f->n_fds; i++)
		if (f->fds[i]->fd >= 0 && f->fds[i]->fd < FILES_MAX_FD && f->fds[i]->fd > x->max)
			x->max = f->fds[i]->fd;
	if (!(x->at = malloc(((size_t)x->max + 2) * sizeof(int))))
		return -ENOMEM;
	memset(x->at, 0xff, ((size_t)x->max + 1) * sizeof(int));
	for (size_t i = 0; i < f->n_fds; i++)
		if (f->fds[i]->fd >= 0 && f->fds[i]->fd <= x->max)
			x->at[f->fds[i]->fd] = (int)i;
	return 0;
}

/* The description of fd: the fd that first holds it in this task, or -1 for one that is
 * another task's (then *pid, *pfd name it), -2 for no entry. */
static int description_of(const struct fd_index *x, int fd, uint32_t *pid, int *pfd)
{
	int i = epoll_entry_at(x, fd);
	const FdEntry *e = i >= 0 ? x->f->fds[i] : NULL;
	if (!e)
		return -2;
	if (e->has_dup_of_pid) {
		*pid = e->dup_of_pid, *pfd = e->dup_of;
		return -1;
	}
	return e->has_dup_of ? e->dup_of : e->fd;
}

/* the registered file at its key for the moment of the add */
struct placed {
	int key, moved, moved_fdflags;
	bool placed;
};

static int place(struct restore_task *t, const FdEntry *e, const EpollTarget *tg, int src,
		 struct placed *p)
{
	p->key = tg->fd, p->moved = -1, p->placed = false;
	if (src < 0) {
		child_fail(t, EBADF, "epoll fd %d: the file of target fd %d is not there", e->fd,
			   tg->fd);
		return -1;
	}
	if (src == tg->fd)
		return 0;
	p->moved_fdflags = fcntl(tg->fd, F_GETFD);
	if (p->moved_fdflags >= 0 && (p->moved = fcntl(tg->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		child_fail(t, errno, "epoll fd %d: cannot move fd %d aside", e->fd, tg->fd);
		return -1;
	}
	if (dup2(src, tg->fd) < 0) {
		child_fail(t, errno, "epoll fd %d: cannot put fd %d at fd %d", e->fd, src, tg->fd);
		return -1;
	}
	p->placed = true;
	return 0;
}

static int unplace(struct restore_task *t, const FdEntry *e, struct placed *p)
{
	if (!p->placed && p->moved < 0)
		return 0;
	if (p->moved < 0)
		return close(p->key);
	if (dup2(p->moved, p->key) < 0 || fcntl(p->key, F_SETFD, p->moved_fdflags) < 0) {
		child_fail(t, errno, "epoll fd %d: cannot put fd %d back", e->fd, p->key);
		return -1;
	}
	close(p->moved);
	return 0;
}

int epoll_add_one(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
		  const EpollTarget *tg, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = tg->data};
	struct placed p;
	int ret = place(t, e, tg, source_fd(ctx, tg), &p), err;

	if (ret == 0) {
		/* the key may be the epoll's own number now (dup2()ed there after the close):
		 * then the epoll is the fd moved aside for the call */
		int ep = p.moved >= 0 && tg->fd == e->fd ? p.moved : e->fd;
		ret = epoll_ctl(ep, EPOLL_CTL_ADD, tg->fd, &ev);
		err = errno;
		if (unplace(t, e, &p))
			return -1;
		if (ret < 0) {
			child_fail(t, err, "epoll fd %d: cannot add target fd %d (events %#x)",
				   e->fd, tg->fd, tg->events);
			return -1;
		}
	}
	return ret;
}

static int cmp_line(const void *a, const void *b)
{
	const struct ep_line *x = a, *y = b;
	if (x->fd != y->fd)
		return x->fd < y->fd ? -1 : 1;
	if (x->events != y->events)
		return x->events < y->events ? -1 : 1;
	return x->data < y->data ? -1 : x->data > y->data;
}

/* The epoll as the kernel now lists it must be the dumped one. */
static int check_restored(struct restore_task *t, const FdEntry *e)
{
	char path[64];
	struct ep_line *got = NULL, *want;
	size_t n = e->n_epoll_targets;
	char *text;
	int m, ret = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", e->fd);
	if ((m = (int)read_file_alloc(path, &text)) < 0) {
		child_fail(t, -m, "epoll fd %d: cannot read its fdinfo back", e->fd);
		return -1;
	}
	m = parse_targets(text, &got);
	free(text);
	want = malloc((n ? n : 1) * sizeof(*want));
	if (m < 0 || !want) {
		child_fail(t, ENOMEM, "epoll fd %d: cannot read its registrations back", e->fd);
		free(got);
		free(want);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		want[i] = (struct ep_line){e->epoll_targets[i]->fd, e->epoll_targets[i]->events,
					   e->epoll_targets[i]->data};
	sort_n(want, n, sizeof(*want), cmp_line);
	sort_n(got, (size_t)m, sizeof(*got), cmp_line);
	if ((size_t)m != n) {
		child_fail(t, EIO, "epoll fd %d holds %d registrations after the restore, not %zu",
			   e->fd, m, n);
		ret = -1;
	}
	for (size_t i = 0; !ret && i < n; i++)
		if (cmp_line(&want[i], &got[i])) {
			child_fail(t, EIO,
				   "epoll fd %d: target fd %d came back with events %#x data "
				   "%#" PRIx64 ", not events %#x data %#" PRIx64,
				   e->fd, got[i].fd, got[i].events, got[i].data, want[i].events,
				   want[i].data);
			ret = -1;
		}
	free(got);
	free(want);
	return ret;
}

static int fill_one(struct restore_ctx *ctx, struct restore_task *t, const struct fd_index *x,
		    const FdEntry *e)
{
	int ret = epoll_oneshot_disarm(ctx, t, x, e);

	for (size_t i = 0; i < e->n_epoll_targets && !ret; i++) {
		const EpollTarget *tg = e->epoll_targets[i];
		if (!epoll_disarmed(tg->events) && epoll_add_one(ctx, t, e, tg, tg->events))
			ret = -1;
	}
	return ret ? ret : check_restored(t, e);
}

/* Finish op: every fd of the task is in place. Each epoll the task made (a description shared
 * with other tasks is made by the root, and filled here by the task the dump read it from)
 * is filled after the epolls of this task it watches. */
static int epoll_restore_finish(struct restore_ctx *ctx, struct restore_task *t)
{
	const Files *f = t->files;
	struct fd_index x = {0};
	size_t left = 0;
	bool *done;
	int ret = 0;

	for (size_t i = 0; i < f->n_fds; i++)
		left += filled_here(f->fds[i]);
	if (!left)
		return 0;
	if (!(done = calloc(f->n_fds, sizeof(bool))) || index_build(&x, f)) {
		child_fail(t, ENOMEM, "cannot restore the epolls");
		free(done);
		return -1;
	}
	while (left && !ret) {
		size_t before = left;
		for (size_t i = 0; i < f->n_fds && !ret; i++) {
			const FdEntry *e = f->fds[i];
			bool wait = false;
			if (done[i] || !filled_here(e))
				continue;
			/* an epoll of this task it watches, not filled yet: that one first */
			for (size_t k = 0; k < e->n_epoll_targets && !wait; k++) {
				const EpollTarget *tg = e->epoll_targets[k];
				uint32_t pid;
				int pfd, j,
				    d = tg->has_src_pid /* never an epoll (planned) */
					    ? -1
					    : description_of(&x, epoll_target_source(tg), &pid,
							     &pfd);
				j = d >= 0 ? epoll_entry_at(&x, d) : -1;
				wait =
				    j >= 0 && (size_t)j != i && !done[j] && filled_here(f->fds[j]);
			}
			if (wait)
				continue;
			if (fill_one(ctx, t, &x, e))
				ret = -1;
			done[i] = true;
			left--;
		}
		if (!ret && left == before) { /* an image, not a kernel's: it refuses loops */
			child_fail(t, ELOOP, "the epolls of the task watch each other in a loop");
			ret = -1;
		}
	}
	free(x.at);
	free(done);
	return ret;
}

/* The highest fd number the filling uses: a key may be a number no fd has now. */
static int epoll_max_fd(const FdEntry *e)
{
	int max = -1;
	if (!filled_here(e))
		return -1;
	for (size_t i = 0; i < e->n_epoll_targets; i++)
		if (e->epoll_targets[i]->fd > max)
			max = e->epoll_targets[i]->fd;
	return max;
}

struct reg_id {
	int key;
	uint32_t pid;
	int fd;
};

static int cmp_reg(const void *a, const void *b)
{
	const struct reg_id *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

static int epoll_validate(const char *img, const Files *f, const FdEntry *e)
{
	struct reg_id *ids;
	struct rlimit nofile;
	struct fd_index x;
	uint64_t max_fd = FILES_MAX_FD;
	int ret = 0;

	if ((e->flags & O_ACCMODE) != O_RDWR || e->flags & ~(uint32_t)(O_ACCMODE | EP_SETFL))
		return files_refuse(img, "fd %d: open flags %#o are not an epoll's", e->fd,
				    e->flags);
	/* a reference to a description saved before: its registrations are the first fd's */
	if (!filled_here(e) && e->n_epoll_targets)
		return files_refuse(img, "fd %d: registrations on a copy of another fd's epoll",
				    e->fd);
	if (!e->n_epoll_targets)
		return 0;
	if (e->n_epoll_targets > EPOLL_MAX_TARGETS)
		return files_refuse(img, "fd %d: an epoll with %zu registrations (at most %d)",
				    e->fd, e->n_epoll_targets, EPOLL_MAX_TARGETS);
	/* a key is an fd number the restore uses: below the limit every fd is (validate.c) */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max < max_fd)
		max_fd = nofile.rlim_max;
	if (!(ids = malloc(e->n_epoll_targets * sizeof(*ids))))
		return -ENOMEM;
	if (index_build(&x, f)) {
		free(ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < e->n_epoll_targets && !ret; i++) {
		const EpollTarget *tg = e->epoll_targets[i];
		int src = epoll_target_source(tg), pfd = 0, d = 0;
		uint32_t pid = 0, ev = tg->events;
		if (tg->fd < 0 || (uint64_t)tg->fd >= max_fd ||
		    (tg->has_src_fd && tg->src_fd == tg->fd && !tg->has_src_pid))
			ret = files_refuse(img, "epoll fd %d: target fd %d is out of range", e->fd,
					   tg->fd);
		else if (tg->has_src_pid && (!tg->has_src_fd || tg->src_fd < 0 ||
					     tg->src_fd >= FILES_MAX_FD || epoll_disarmed(ev)))
			ret = files_refuse(img,
					   "epoll fd %d: target fd %d of another task is invalid",
					   e->fd, tg->fd);
		else if (!tg->has_src_pid && (d = description_of(&x, src, &pid, &pfd)) == -2)
			ret = files_refuse(img, "epoll fd %d: target fd %d is no fd of the task",
					   e->fd, src);
		else if (!tg->has_src_pid && d == e->fd)
			ret = files_refuse(img, "epoll fd %d watches itself (fd %d)", e->fd, src);
		else if (!tg->has_src_pid && files_entry_is_late(x.f->fds[epoll_entry_at(&x, src)]))
			ret = files_refuse(img, "epoll fd %d: target fd %d is of a kind made later",
					   e->fd, src);
		else if (ev & ~(uint32_t)EP_KNOWN_BITS ||
			 (!epoll_disarmed(ev) &&
			  (ev & (EPOLLERR | EPOLLHUP)) != (EPOLLERR | EPOLLHUP)) ||
			 ((ev & EPOLLEXCLUSIVE) && (ev & EPOLLONESHOT)))
			ret = files_refuse(img, "epoll fd %d: target fd %d: events %#x are invalid",
					   e->fd, tg->fd, ev);
		if (tg->has_src_pid) /* another task's description: checked by epoll_plan */
			pid = tg->src_pid, pfd = tg->src_fd, d = -1;
		ids[i] = (struct reg_id){tg->fd, pid, d >= 0 ? d : pfd};
	}
	if (!ret) {
		/* one file is registered once under one key */
		sort_n(ids, e->n_epoll_targets, sizeof(*ids), cmp_reg);
		for (size_t i = 1; i < e->n_epoll_targets && !ret; i++)
			if (!cmp_reg(&ids[i - 1], &ids[i]))
				ret = files_refuse(img, "epoll fd %d: target fd %d is there twice",
						   e->fd, ids[i].key);
	}
	free(x.at);
	free(ids);
	return ret;
}

const struct fd_ops fd_epoll_ops = {
    .name = "an epoll",
    .names = "epolls",
    .kind = FD_KIND__FD_EPOLL,
    .link_prefix = "anon_inode:[eventpoll]",
    .dump = epoll_dump,
    .restore = epoll_restore,
    .restore_finish = epoll_restore_finish,
    .max_fd = epoll_max_fd,
    .validate = epoll_validate,
};
