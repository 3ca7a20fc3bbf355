/* One open file description held by several descriptors (dup, dup2, F_DUPFD) or by several
 * tasks (inherited through fork): position, status flags and everything but close-on-exec
 * are one object. The dump finds them with kcmp and saves every later fd as a reference to
 * the first (dup_of, and dup_of_pid when the first is another task's): that pair is the
 * object's id. At restore the object is built once: within a task the later fds are dup2()
 * copies; across tasks the root opens it at a service fd before it creates the tree, and
 * every task inherits it. Works for any kind: the object is built by its kind's restore op. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"
#include "files/tty.h"

FdEntry *shared_find(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		     pid_t *owner)
{
	/* pipes and FIFOs: only the descriptions of the same pipe (pipe.c) */
	if (fi->has_st && S_ISFIFO(fi->st.st_mode) && !(fi->flags & O_PATH))
		return pipe_shared_find(ctx, t, fi, owner);
	for (int k = 0; k < ctx->nr_tasks; k++) {
		struct dump_task *o = &ctx->tasks[k];
		if (o->zombie || !o->files)
			continue;
		for (size_t i = 0; i < o->files->n_fds; i++) {
			FdEntry *e = o->files->fds[i];
			const struct fd_ops *ek = fd_ops_of(e->kind);
			/* cheap filters before the system call */
			if (e->has_dup_of || e->has_dup_of_pid || e->rdev != fi->st.st_rdev ||
			    e->mode != fi->st.st_mode || (ek && ek->own_sharing) ||
			    (o == t && e->fd == fi->fd))
				continue;
			if (syscall(SYS_kcmp, o->pid, t->pid, KCMP_FILE, e->fd, fi->fd) == 0) {
				*owner = o->pid;
				return e;
			}
		}
		if (o == t)
			break;
	}
	return NULL;
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
int restore_shared_desc_child(struct restore_ctx *ctx, struct svc_file *g)
{
	struct restore_task *root = &ctx->tasks[0];
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
