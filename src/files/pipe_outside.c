/* The pipes of the tree that a process outside it holds too, and --external. At the end of the
 * dump's walk every other process's descriptors are looked at (core/others.c read them): a
 * pipe or FIFO of the tree held there would be cut off from the restored tree, or keep the old pipe
 * with the same bytes, so it is refused by name, with the --external pipe:[INODE] that saves it by
 * its key alone (its bytes left in the kernel's pipe for the outside end; the restore takes its
 * ends from --inherit-fd). An end the tree lacks and the scan does not find (another pid namespace,
 * a descriptor in flight) is told by poll on the end the tree has. Apart from pipe.c since it is
 * about processes outside the tree, not about the pipe's own state. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/others.h"
#include "core/proc.h"
#include "files/pipe.h"

/* The key --external names an object by: "pipe:[INODE]" for a pipe, "fifo:PATH" for a FIFO
 * (its path: the restore opens it there again). Empty for a FIFO deleted while open: no
 * path leads to it, so no key can save it. */
static void external_key_of(const struct pipe_obj *o, char *key, size_t size)
{
	if (!o->fifo)
		snprintf(key, size, "pipe:[%lu]", (unsigned long)o->ino);
	else if (o->carrier && !o->carrier->fifo_deleted && !o->carrier->has_handle && o->path)
		snprintf(key, size, "fifo:%s", o->path);
	else
		key[0] = 0;
}

/* Does --external name this pipe or FIFO? */
static bool named_external(struct dump_ctx *ctx, const struct pipe_obj *o)
{
	char key[4200];

	external_key_of(o, key, sizeof(key));
	for (int i = 0; key[0] && i < ctx->opts->nr_external; i++)
		if (!strcmp(ctx->opts->external[i], key))
			return true;
	return false;
}

static void refuse_outside(struct dump_ctx *ctx, struct pipe_obj *o, pid_t pid, int fd)
{
	struct proc_stat st;
	const char *comm = proc_parse_stat(pid, 0, &st) ? "?" : st.comm;
	struct dump_task *t = &ctx->tasks[o->any_task];

	o->outside = true;
	if (o->fifo && o->carrier && (o->carrier->fifo_deleted || o->carrier->has_handle))
		pr_err(
		    "task %d: fd %d is the FIFO %s, deleted or renamed while open, which process "
		    "%d (%s) "
		    "outside the tree holds open too (its fd %d): not supported (no path leads "
		    "to it, so the restored tree could not share it with that process)",
		    t->pid, o->any_fd, o->path, pid, comm, fd);
	else if (o->fifo)
		pr_err("task %d: fd %d is the FIFO %s, which process %d (%s) outside the tree "
		       "holds open too (its fd %d): dump it with --external fifo:%s (its bytes "
		       "are left in it for that process; the restore opens it again by its path)",
		       t->pid, o->any_fd, o->path, pid, comm, fd, o->path);
	else
		pr_err("task %d: fd %d is a pipe (pipe:[%lu]) whose other holder, process %d (%s, "
		       "fd %d), is outside the tree: dump it with --external pipe:[%lu] (and "
		       "restore with --inherit-fd fd[N]:pipe:[%lu])",
		       t->pid, o->any_fd, (unsigned long)o->ino, pid, comm, fd,
		       (unsigned long)o->ino, (unsigned long)o->ino);
}

void pipes_others_want(struct dump_ctx *ctx)
{
	struct pipe_table *pt = ctx->pipes;
	if (pt && pt->n)
		others_want(ctx, OTHERS_FD_LINKS | (pt->has_fifo ? OTHERS_FD_PATHS : 0));
}

/* Every other process's descriptors (core/others.c): a pipe or FIFO of the tree held outside
 * it would be cut off from the restored tree (or would keep the old pipe with the same bytes
 * in it). */
int pipe_scan_outside(struct dump_ctx *ctx)
{
	const struct others *w = others_read(ctx);
	struct pipe_table *pt = ctx->pipes;
	int ret = 0;

	if (!w)
		return -EINVAL;
	for (uint32_t p = 0; p < w->nr_procs; p++) {
		const struct other_proc *op = &w->procs[p];
		for (uint32_t i = op->fd0; i < op->fd0 + op->nr_fds; i++) {
			const struct other_fd *f = &w->fds[i];
			struct pipe_obj *o = NULL;
			if (f->pipe)
				o = pipe_table_find(pt, pt->pipefs_dev, f->ino);
			else if (pt->has_fifo && f->has_st && S_ISFIFO(f->mode))
				o = pipe_table_find(pt, f->dev, f->ino);
			if (o && !o->outside && !o->external && named_external(ctx, o)) {
				o->external = true;
				pr_info("pipe:[%lu] is held outside the tree by process %d (fd "
					"%d): external (--external)",
					(unsigned long)o->ino, op->pid, f->fd);
			} else if (o && !o->outside && !o->external) {
				refuse_outside(ctx, o, op->pid, f->fd);
				ret = -ENOTSUP;
			}
		}
	}
	return ret;
}

/* An external pipe or FIFO: its key only. Its size and bytes are the outside end's business:
 * they stay in the kernel's pipe, which the restored tree gets again through --inherit-fd (a
 * pipe) or its path (a FIFO: the outside holder keeps the same pipe alive meanwhile). */
static int save_external(struct dump_ctx *ctx, struct pipe_obj *o, int *pidfds)
{
	struct dump_task *t = &ctx->tasks[o->any_task];
	char key[4200];
	int fd, queued = -1;

	external_key_of(o, key, sizeof(key));
	if (!(o->carrier->external_key = arena_strdup(&ctx->arena, key)))
		return -ENOMEM;
	fd = pipe_take_copy(ctx, pidfds, o->any_task, o->any_fd);
	if (fd >= 0) {
		if (ioctl(fd, FIONREAD, &queued) < 0)
			queued = -1;
		close(fd);
	}
	pr_info("task %d: fd %d: %s is external: saved by its key, not its size or the %d "
		"byte(s) queued in it (they stay in the pipe, with its outside end)",
		t->pid, o->any_fd, key, queued);
	if (o->fifo) {
		/* which FIFO the outside holder has: the restore checks its path leads there */
		o->carrier->has_external_dev = o->carrier->has_external_ino = true;
		o->carrier->external_dev = o->dev;
		o->carrier->external_ino = o->ino;
	}
	return 0;
}

int pipe_outside_end(struct dump_ctx *ctx, struct pipe_obj *o, int *pidfds)
{
	struct dump_task *t = &ctx->tasks[o->any_task];
	struct pollfd pfd;

	if (o->external)
		return save_external(ctx, o, pidfds) ?: 1;
	/* (an end in flight only is the tree's: inflight.c) */
	if (!o->fifo && ((o->r_task < 0 && !o->r_inflight) || (!o->has_w && !o->w_inflight))) {
		/* one end only in the tree: the other must be closed everywhere, not held by a
		 * process cryo cannot see (another pid namespace, a message in flight) */
		int any = pipe_take_copy(ctx, pidfds, o->any_task, o->any_fd);
		if (any < 0)
			return -errno;
		pfd = (struct pollfd){.fd = any, .events = o->r_task < 0 ? POLLOUT : POLLIN};
		poll(&pfd, 1, 0);
		close(any);
		if (!(pfd.revents & (o->r_task < 0 ? POLLERR : POLLHUP)) &&
		    named_external(ctx, o)) {
			o->external = true;
			return save_external(ctx, o, pidfds) ?: 1;
		}
		if (!(pfd.revents & (o->r_task < 0 ? POLLERR : POLLHUP))) {
			pr_err(
			    "task %d: fd %d is the %s end of a pipe (pipe:[%lu]) whose %s end is "
			    "held outside the tree: dump it with --external pipe:[%lu] (and "
			    "restore with --inherit-fd fd[N]:pipe:[%lu])",
			    t->pid, o->any_fd, o->r_task < 0 ? "write" : "read",
			    (unsigned long)o->ino, o->r_task < 0 ? "read" : "write",
			    (unsigned long)o->ino, (unsigned long)o->ino);
			return -ENOTSUP;
		}
	}
	return 0;
}

/* An --external that names no pipe of the tree held outside it is said so (a pipe the tree
 * holds alone is saved whole: the key was not needed). */
void pipe_externals_note(struct dump_ctx *ctx)
{
	struct pipe_table *pt = ctx->pipes;

	for (int i = 0; i < ctx->opts->nr_external; i++) {
		const char *k = ctx->opts->external[i];
		struct pipe_obj *o = NULL;
		if (pt && !strncmp(k, "fifo:", 5)) {
			for (uint32_t j = 0; !o && j < pt->n; j++)
				if (pt->objs[j].fifo && pt->objs[j].path &&
				    !strcmp(pt->objs[j].path, k + 5))
					o = &pt->objs[j];
		} else if (pt) {
			o = pipe_table_find(pt, pt->pipefs_dev, strtoull(k + 6, NULL, 10));
		}
		if (!o)
			pr_warn("--external %s: no task of the tree holds that %s", k,
				strncmp(k, "fifo:", 5) ? "pipe" : "FIFO");
		else if (!o->external)
			pr_warn("--external %s: no process outside the tree holds that %s: it "
				"was saved whole",
				k, o->fifo ? "FIFO" : "pipe");
	}
}
