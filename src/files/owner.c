/* The owner of an open file description (F_SETOWN, F_SETOWN_EX: a thread, a process or a
 * process group that gets SIGIO, or the F_SETSIG signal, when the file becomes ready with
 * O_ASYNC set, or when its lease is broken). Nothing of it shows in /proc: the dump asks
 * F_GETOWN_EX and F_GETSIG of its own copy of the descriptor (pidfd_getfd: the owner belongs
 * to the description, so the copy has it), for the first fd of every description, of any
 * kind. An owner outside the tree is refused by name: the restore does not make it.
 *
 * Restore: in the remote phase of the task holding the description's first fd, after its
 * credentials (the kernel keeps the uid and euid of whoever sets the owner, and checks them
 * when it sends the signal: the task itself, as it was most likely the task that set it; the
 * dumped ones cannot be read), F_SETOWN_EX, F_SETSIG, then O_ASYNC set through that fd (open
 * ignores O_ASYNC, and the kernel notes the fd the signal names in si_fd). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "files/kind.h"

static const char *owner_what(int type)
{
	return type == F_OWNER_TID ? "thread" : type == F_OWNER_PGRP ? "process group" : "process";
}

int owner_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, int copy,
	       FdEntry *e)
{
	struct f_owner_ex own = {0};
	int sig;

	if (fcntl(copy, F_GETOWN_EX, &own) < 0 || (sig = fcntl(copy, F_GETSIG)) < 0) {
		int err = errno;
		pr_errno(err, "task %d: fd %d: cannot read its owner (F_GETOWN_EX)", t->pid,
			 fi->fd);
		return -err;
	}
	if (!own.pid && !sig)
		return 0;
	if (own.pid < 0 ||
	    (own.type != F_OWNER_TID && own.type != F_OWNER_PID && own.type != F_OWNER_PGRP)) {
		pr_err("task %d: fd %d: its owner (type %d, %d) is not one cryo knows", t->pid,
		       fi->fd, own.type, own.pid);
		return -ENOTSUP;
	}
	if (own.pid && own.type == F_OWNER_PGRP) {
		bool found = false;
		for (int i = 0; !found && i < ctx->nr_tasks; i++)
			found = ctx->tasks[i].stat.pgid == own.pid;
		/* a job's group led from outside becomes another group at restore */
		if (found && ctx->opts->shell_job && !dump_tree_task_of(ctx, own.pid, false))
			found = false;
		if (!found) {
			pr_err("task %d: fd %d: its owner (F_SETOWN) is process group %d, which is "
			       "not a group of the dumped tree",
			       t->pid, fi->fd, own.pid);
			return -ENOTSUP;
		}
	} else if (own.pid) {
		const struct dump_task *o =
		    dump_tree_task_of(ctx, own.pid, own.type == F_OWNER_TID);
		if (!o) {
			pr_err("task %d: fd %d: its owner (F_SETOWN) is %s %d, which is not in the "
			       "dumped tree",
			       t->pid, fi->fd, owner_what(own.type), own.pid);
			return -ENOTSUP;
		}
		/* threads other than leaders are made as their process is rebuilt, in the
		 * order of the tree, and the owner is set as the holder is rebuilt */
		if (own.type == F_OWNER_TID && o->pid != own.pid && o > t) {
			pr_err(
			    "task %d: fd %d: its owner (F_SETOWN_EX) is thread %d of process %d, "
			    "which the restore creates after this task: not supported yet",
			    t->pid, fi->fd, own.pid, o->pid);
			return -ENOTSUP;
		}
	}
	e->has_fown_type = e->has_fown_pid = e->has_fown_sig = true;
	e->fown_type = (uint32_t)own.type;
	e->fown_pid = (uint32_t)own.pid;
	e->fown_sig = (uint32_t)sig;
	pr_info("task %d: fd %d: owner %s %d, signal %d", t->pid, fi->fd, owner_what(own.type),
		own.pid, sig);
	return 0;
}

bool restore_tree_has(struct restore_ctx *ctx, pid_t id, int type)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		const PstreeTask *p = ctx->tasks[i].pst;
		if (type == F_OWNER_PGRP ? (pid_t)p->pgid == id : (pid_t)p->pid == id)
			return true;
		for (size_t k = 1; type == F_OWNER_TID && k < p->n_threads; k++)
			if ((pid_t)p->threads[k] == id)
				return true;
	}
	return false;
}

bool restore_tid_in_time(struct restore_ctx *ctx, struct restore_task *t, pid_t tid)
{
	for (int i = t->idx + 1; i < ctx->nr_tasks; i++) {
		const PstreeTask *p = ctx->tasks[i].pst;
		for (size_t k = 1; k < p->n_threads; k++)
			if ((pid_t)p->threads[k] == tid)
				return false;
	}
	return true;
}

int owner_validate(struct restore_ctx *ctx, struct restore_task *t, const char *img,
		   const FdEntry *e)
{
	/* a copy of a description carries its first fd's values: only those are used */
	if ((!e->has_fown_type && !e->has_fown_pid && !e->has_fown_sig) || e->has_dup_of)
		return 0;
	if (!e->has_fown_type || !e->has_fown_pid || !e->has_fown_sig ||
	    e->kind == FD_KIND__FD_PATH)
		return files_refuse(img, "fd %d: an owner that is not complete or not its own",
				    e->fd);
	if (e->fown_type > F_OWNER_PGRP || e->fown_sig >= _NSIG || e->fown_pid > INT32_MAX ||
	    (e->fown_pid && !restore_tree_has(ctx, (pid_t)e->fown_pid, (int)e->fown_type)) ||
	    (e->fown_type == F_OWNER_TID && !restore_tid_in_time(ctx, t, (pid_t)e->fown_pid)))
		return files_refuse(img, "fd %d: owner type %u, %u, signal %u is not of the tree",
				    e->fd, e->fown_type, e->fown_pid, e->fown_sig);
	return 0;
}

int restore_owners_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	(void)ctx;
	if (t->core->files_shared_with_parent)
		return 0; /* its parent's table: set there */
	for (size_t i = 0; i < t->files->n_fds; i++) {
		const FdEntry *e = t->files->fds[i];
		long rv = 0, fl;
		if (e->has_dup_of)
			continue;
		if (e->has_fown_pid && e->fown_pid) {
			struct f_owner_ex own = {.type = (int)e->fown_type,
						 .pid = (pid_t)e->fown_pid};
			int ret = remote_write(t->pid, remote_scratch(r), &own, sizeof(own));
			if (ret)
				return ret;
			rv = rsys3(r, __NR_fcntl, e->fd, F_SETOWN_EX, remote_scratch(r));
		}
		if (!rv && e->has_fown_sig && e->fown_sig)
			rv = rsys3(r, __NR_fcntl, e->fd, F_SETSIG, e->fown_sig);
		if (rv < 0) {
			pr_errno((int)-rv,
				 "task %d: fd %d: cannot set its owner (%s %u, signal %u)", t->pid,
				 e->fd, owner_what((int)e->fown_type), e->fown_pid, e->fown_sig);
			return (int)rv;
		}
		if (!(e->flags & O_ASYNC))
			continue;
		/* off and on again: the kernel's note of the fd is this one */
		fl = rsys2(r, __NR_fcntl, e->fd, F_GETFL);
		if (fl >= 0 && (rv = rsys3(r, __NR_fcntl, e->fd, F_SETFL, fl & ~O_ASYNC)) >= 0)
			rv = rsys3(r, __NR_fcntl, e->fd, F_SETFL, fl | O_ASYNC);
		if (fl < 0 || rv < 0) {
			pr_errno((int)-(fl < 0 ? fl : rv), "task %d: fd %d: cannot set O_ASYNC",
				 t->pid, e->fd);
			return (int)(fl < 0 ? fl : rv);
		}
	}
	return r->err;
}
