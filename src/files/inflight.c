/* Open files in flight: passed with SCM_RIGHTS in a message a unix socket of the tree has not
 * received yet. The kernel holds them only through that message (and maybe through a task's
 * fd too: the same open file description, whose position, flags and state are one).
 *
 * Dump: the peek of the message (unix_queue.c) gives cryo a copy of each (as a receive
 * would, without taking it from the queue): kept here until every task was walked, then each
 * is looked up among the descriptions the tree's tasks hold (shared.c, kcmp): one found is
 * saved as a reference to that task's fd; one the queues alone hold is saved by its kind,
 * from cryo's copy, as if it were an fd of cryo's (fd_info_own), for the kinds whose restore
 * needs nothing else of the tree (regular files, eventfds, memfds: their objects are the
 * tree's, memfd.c, in flight or not), and ends of pipes whose object a task holds (pipe.c
 * saves the bytes; the root opens a new description of that end); one in flight twice
 * refers to its
 * first place. Every other one is refused by name: the task and socket, the message, which
 * descriptor of it, the file and its kind. cryo's copies are closed at the end.
 *
 * Restore: a description a task holds becomes a global the root makes before the queues are
 * written (SVC_DESC; a unix socket is one already), so the message and the task get the
 * same; the others are opened by the root with their kind's restore, sent, and closed again
 * once every queue is written (the messages hold them then). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "files/kind.h"
#include "files/unix_sk.h"

#define INFLIGHT_MAX 4096u /* files in flight in the whole tree */
#define SCM_FDS_MAX 253u   /* SCM_MAX_FD: descriptors in one message */

struct inflight_copy {
	int fd;	   /* cryo's copy */
	dev_t dev; /* its inode (0, 0: fstat failed), so that kcmp compares only candidates */
	ino_t ino;
	struct dump_task *t;
	int skfd;   /* the socket's fd in t */
	size_t msg; /* which message of its queue */
	UnixMsg *m;
	uint32_t slot; /* which of its descriptors */
};

struct inflight_table {
	struct inflight_copy *c;
	size_t n, cap;
};

int inflight_note(struct dump_ctx *ctx, struct dump_task *t, int fd, size_t msg, UnixMsg *m,
		  const int *fds, size_t n)
{
	struct inflight_table *x = ctx->inflight;
	int ret = 0;

	if (!x && !(x = ctx->inflight = arena_alloc(&ctx->arena, sizeof(*x))))
		ret = -ENOMEM;
	if (!ret && (n > SCM_FDS_MAX || x->n + n > INFLIGHT_MAX)) {
		pr_err("task %d: fd %d: unix socket with more than %u descriptors in flight in "
		       "the tree: not supported",
		       t->pid, fd, INFLIGHT_MAX);
		ret = -ENOTSUP;
	}
	if (!ret && x->n + n > x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		while (cap < x->n + n)
			cap *= 2;
		struct inflight_copy *c = realloc(x->c, cap * sizeof(*c));
		if (!c)
			ret = -ENOMEM;
		else
			x->c = c, x->cap = cap;
	}
	if (!ret && !(m->fds = arena_alloc(&ctx->arena, n * sizeof(*m->fds))))
		ret = -ENOMEM;
	if (ret) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		return ret;
	}
	m->n_fds = n;
	for (size_t i = 0; i < n; i++) {
		struct stat st = {0};
		fstat(fds[i], &st);
		x->c[x->n++] = (struct inflight_copy){.fd = fds[i],
						      .dev = st.st_dev,
						      .ino = st.st_ino,
						      .t = t,
						      .skfd = fd,
						      .msg = msg,
						      .m = m,
						      .slot = (uint32_t)i};
	}
	return 0;
}

static bool saved_by_kind(const struct fd_ops *k, const struct fd_info *fi)
{
	if (!k || !k->dump)
		return false;
	/* a deleted file would be a ghost of the task's (its content read through it) */
	if (k->kind == FD_KIND__FD_REG)
		return fi->has_st && fi->st.st_nlink > 0 && !(fi->flags & O_PATH);
	/* a memfd's object is a global of the tree's (memfd.c), saved with it if new */
	return k->kind == FD_KIND__FD_EVENTFD || k->kind == FD_KIND__FD_MEMFD;
}

static bool has_owner(int fd)
{
	struct f_owner_ex o = {0};
	return fcntl(fd, F_GETOWN_EX, &o) == 0 && o.pid != 0;
}

/* One copy c (index i of the table) into its task's files.inflight; *k_out its index. */
static int save_one(struct dump_ctx *ctx, struct inflight_table *x, size_t i, int self_pidfd,
		    uint32_t *k_out)
{
	struct inflight_copy *c = &x->c[i];
	Files *f = c->t->files;
	struct fd_info *fi = calloc(1, sizeof(*fi));
	FdEntry *e = A_NEW(&ctx->arena, FdEntry, FD_ENTRY);
	pid_t self = getpid(), owner = 0;
	int ret = 0;

	if (!fi || !e || !DUMP_PUSH(ctx, f->inflight, f->n_inflight, e)) {
		free(fi);
		return -ENOMEM;
	}
	*k_out = (uint32_t)(f->n_inflight - 1);
	/* in flight before, in a message of this task's sockets: one description */
	for (size_t j = 0; j < i; j++) {
		/* (anonymous inodes are shared by many: kcmp tells) */
		if (x->c[j].dev != c->dev || x->c[j].ino != c->ino ||
		    syscall(SYS_kcmp, self, self, KCMP_FILE, x->c[j].fd, c->fd) != 0)
			continue;
		if (x->c[j].t != c->t) {
			pr_err("task %d: fd %d: unix socket with a file in flight (message %zu, "
			       "descriptor %u) that is in flight to a socket of task %d too: not "
			       "supported yet",
			       c->t->pid, c->skfd, c->msg, c->slot, x->c[j].t->pid);
			free(fi);
			return -ENOTSUP;
		}
		e->fd = (int32_t)*k_out, e->kind = FD_KIND__FD_REG; /* any: a reference */
		e->has_inflight_same = true;
		e->inflight_same = x->c[j].m->fds[x->c[j].slot];
		free(fi);
		return 0;
	}
	if ((ret = fd_info_own(c->fd, self_pidfd, fi)) < 0) {
		pr_errno(-ret, "task %d: fd %d: cannot look at a file in flight (message %zu)",
			 c->t->pid, c->skfd, c->msg);
		free(fi);
		return ret;
	}
	const struct fd_ops *k = files_kind_of(fi);
	struct dump_task me = {.pid = self, .parent = -1};
	e->fd = (int32_t)*k_out;
	e->kind = k ? k->kind : 0;
	e->flags = fi->flags & ~O_CLOEXEC;
	e->pos = fi->pos;
	e->has_mode = e->has_size = e->has_rdev = fi->has_st;
	e->mode = fi->st.st_mode, e->size = fi->st.st_size, e->rdev = fi->st.st_rdev;
	FdEntry *orig =
	    fi->has_st && (!k || !k->own_sharing) ? shared_find(ctx, &me, fi, &owner) : NULL;
	if (orig && files_entry_is_late(orig)) {
		/* made in the remote phase, long after the queues are written */
		pr_err("task %d: fd %d: unix socket with a file in flight that is fd %d of task %d "
		       "(message %zu, descriptor %u: %s), of a kind the restore makes late: not "
		       "supported yet",
		       c->t->pid, c->skfd, orig->fd, owner, c->msg, c->slot, fi->link);
		ret = -ENOTSUP;
	} else if (orig) {
		files_ref_entry(e, orig, e->fd);
		e->cloexec = false;
		e->has_dup_of_pid = true;
		e->dup_of_pid = (uint32_t)owner;
		pr_info("task %d: fd %d: message %zu carries fd %d of task %d (%s)", c->t->pid,
			c->skfd, c->msg, orig->fd, owner, fi->link);
	} else if (strstr(fi->fdinfo, "\nlock:") || has_owner(c->fd)) {
		/* a task's fd would have had them saved (locks.c, owner.c) */
		pr_err("task %d: fd %d: unix socket with a file in flight that holds a lock or has "
		       "an owner (F_SETOWN) (message %zu, descriptor %u: %s): not supported yet",
		       c->t->pid, c->skfd, c->msg, c->slot, fi->link);
		ret = -ENOTSUP;
	} else if (k && k->kind == FD_KIND__FD_PIPE && pipe_note_inflight(ctx, fi, e) == 0) {
		/* an end of a pipe of the tree: its bytes are saved with the pipe (pipe.c) */
		pr_info("task %d: fd %d: message %zu carries an end of pipe %u (%s), in flight "
			"only",
			c->t->pid, c->skfd, c->msg, e->pipe_id, fi->link);
	} else if (!saved_by_kind(k, fi)) {
		pr_err("task %d: fd %d: unix socket with a file in flight that no task of the tree "
		       "holds (message %zu, descriptor %u: %s, %s): not supported yet",
		       c->t->pid, c->skfd, c->msg, c->slot, fi->link,
		       k ? k->name : "a file of a kind cryo does not know");
		ret = -ENOTSUP;
	} else if ((ret = k->dump(ctx, &me, fi, e)) == 0) {
		if (e->has_ghost_id || (e->has_ghost && e->ghost >= 0) || e->has_proc_pid ||
		    e->has_handle) {
			pr_err("task %d: fd %d: unix socket with a file in flight whose name is "
			       "gone or moved (message %zu, descriptor %u: %s): not supported yet",
			       c->t->pid, c->skfd, c->msg, c->slot, fi->link);
			ret = -ENOTSUP;
		}
		pr_info("task %d: fd %d: message %zu carries %s (%s), in flight only", c->t->pid,
			c->skfd, c->msg, k->name, fi->link);
	}
	fd_info_free(fi);
	return ret;
}

int inflight_dump_finish(struct dump_ctx *ctx)
{
	struct inflight_table *x = ctx->inflight;
	int self_pidfd, ret = 0;

	if (!x || !x->n)
		return 0;
	self_pidfd = sys_pidfd_open(getpid());
	if (self_pidfd < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot open a pidfd of cryo");
	}
	for (size_t i = 0; i < x->n && self_pidfd >= 0; i++) {
		uint32_t k = 0;
		int r = save_one(ctx, x, i, self_pidfd, &k);
		x->c[i].m->fds[x->c[i].slot] = k;
		/* every refusal named; an error stops */
		if (r && (!ret || r != -ENOTSUP))
			ret = r;
		if (r && r != -ENOTSUP)
			break;
	}
	if (self_pidfd >= 0)
		close(self_pidfd);
	for (size_t i = 0; i < x->n; i++)
		close(x->c[i].fd);
	free(x->c);
	x->c = NULL, x->n = x->cap = 0;
	return ret;
}

/* ---- restore ---- */

int inflight_validate(struct restore_ctx *ctx, struct restore_task *t, const char *img)
{
	const Files *f = t->files;

	if (f->n_inflight > INFLIGHT_MAX)
		return files_refuse(img, "%zu files in flight (at most %u)", f->n_inflight,
				    INFLIGHT_MAX);
	for (size_t i = 0; i < f->n_inflight; i++) {
		const FdEntry *e = f->inflight[i];
		const struct fd_ops *k = fd_ops_of(e->kind);
		if (e->fd != (int32_t)i)
			return files_refuse(img, "file in flight %zu numbered %d", i, e->fd);
		if (e->has_inflight_same) {
			if (e->inflight_same >= i ||
			    f->inflight[e->inflight_same]->has_inflight_same)
				return files_refuse(img,
						    "file in flight %zu: the same as %u, which "
						    "is not a file before it",
						    i, e->inflight_same);
			continue;
		}
		if (e->has_dup_of != e->has_dup_of_pid)
			return files_refuse(img,
					    "file in flight %zu: a reference without its task "
					    "or fd",
					    i);
		if (e->has_dup_of) {
			if (!restore_find_task(ctx, (pid_t)e->dup_of_pid) || e->dup_of < 0)
				return files_refuse(img,
						    "file in flight %zu: fd %d of task %u, "
						    "which is not in the images",
						    i, e->dup_of, e->dup_of_pid);
			continue; /* checked against that fd by inflight_plan */
		}
		if (!k || (e->kind != FD_KIND__FD_REG && e->kind != FD_KIND__FD_EVENTFD &&
			   e->kind != FD_KIND__FD_MEMFD && e->kind != FD_KIND__FD_PIPE))
			return files_refuse(img,
					    "file in flight %zu: kind %d cannot be in flight "
					    "alone",
					    i, e->kind);
		if (e->has_ghost_id || (e->has_ghost && e->ghost >= 0) || e->has_handle ||
		    e->has_proc_pid || e->external_key || e->has_fown_type || e->has_lease ||
		    e->unix_sk || (e->memfd && e->kind != FD_KIND__FD_MEMFD) ||
		    (e->has_pipe_id && e->kind != FD_KIND__FD_PIPE) || e->has_pipe_size ||
		    e->has_pipe_data || e->n_pipe_chunk_len)
			return files_refuse(img, "file in flight %zu: state it cannot have", i);
		int ret = k->validate ? k->validate(img, f, e) : 0;
		if (ret)
			return ret;
	}
	return 0;
}

/* The task's entry of fd (not a reference itself), or NULL. */
static const FdEntry *entry_of(struct restore_task *o, int fd)
{
	for (size_t j = 0; o && !o->zombie && j < o->files->n_fds; j++)
		if (o->files->fds[j]->fd == fd && !o->files->fds[j]->has_dup_of)
			return o->files->fds[j];
	return NULL;
}

int inflight_plan(struct restore_ctx *ctx)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		char img[64];
		img_name(IMG_FILES, t->pid, img, sizeof(img));
		for (size_t k = 0; !t->zombie && k < t->files->n_inflight; k++) {
			const FdEntry *e = t->files->inflight[k];
			/* an end of a pipe a task holds the object of (its carrier planned it) */
			if (e->kind == FD_KIND__FD_PIPE && !e->has_dup_of &&
			    !e->has_inflight_same && !pipe_inflight_ok(ctx, e))
				return files_refuse(img,
						    "file in flight %zu: pipe %u is not a pipe "
						    "of the tree",
						    k, e->pipe_id);
			if (!e->has_dup_of || e->has_inflight_same)
				continue;
			struct restore_task *o = restore_find_task(ctx, (pid_t)e->dup_of_pid);
			const FdEntry *orig = entry_of(o, e->dup_of);
			if (!orig || orig->has_dup_of_pid || files_entry_is_late(orig))
				return files_refuse(img,
						    "file in flight %zu: fd %d of task %u is not "
						    "a description that task opens",
						    k, e->dup_of, e->dup_of_pid);
			/* a unix socket is a global already; any other becomes one */
			if (orig->kind == FD_KIND__FD_UNIX_SK)
				continue;
			if (!restore_add_global(ctx, (struct svc_file){.kind = SVC_DESC,
								       .desc_pid = o->pid,
								       .desc = (FdEntry *)orig}))
				return -ENOMEM;
		}
	}
	return 0;
}

int inflight_fd(struct restore_ctx *ctx, struct restore_task *t, uint32_t k, int *opened,
		const int *unix_fds, uint32_t n_unix)
{
	struct restore_task *root = &ctx->tasks[0];
	const FdEntry *e = t->files->inflight[k]; /* k validated */

	if (e->has_inflight_same) /* validated: an entry before it, not a reference itself */
		return inflight_fd(ctx, t, e->inflight_same, opened, unix_fds, n_unix);
	if (opened[k] >= 0)
		return opened[k];
	if (e->has_dup_of) {
		struct restore_task *o = restore_find_task(ctx, (pid_t)e->dup_of_pid);
		const FdEntry *orig = entry_of(o, e->dup_of); /* planned */
		struct svc_file *g = orig ? restore_find_desc(ctx, o->pid, orig->fd) : NULL;
		int fd = -1;
		if (orig && orig->kind == FD_KIND__FD_UNIX_SK)
			fd = orig->unix_sk && orig->unix_sk->id < n_unix
				 ? unix_fds[orig->unix_sk->id]
				 : -1;
		else if (g)
			fd = g->fd;
		if (fd < 0)
			child_fail(root, EINVAL,
				   "file in flight %u of task %d: fd %d of task %u is not there", k,
				   t->pid, e->dup_of, e->dup_of_pid);
		return fd;
	}
	/* opened by the root, as the task had it (flags, position) */
	opened[k] = fd_ops_of(e->kind)->restore(ctx, root, e, files_reopen_flags(e));
	return opened[k];
}
