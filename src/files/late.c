/* Descriptors of late kinds (a pidfd, a file of /proc/N/ of the tree: procfile.c): the child phase
 * leaves their numbers free, and they are made in the remote phase, in each task after its threads,
 * by remote calls: once every process of the tree exists, and every thread of this task and of the
 * tasks before it. A description shared with an fd of the same task is a dup3 of it; one shared
 * with a task before this one (inherited through fork) is taken from that task with pidfd_getfd, so
 * it is still one open file description (its flags, its owner). */
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "files/kind.h"

bool files_entry_is_late(const FdEntry *e)
{
	const struct fd_ops *k = fd_ops_of(e->kind);
	return e->has_proc_pid || (k && k->late);
}

/* Move the task's descriptor `fd` to e's number, with e's close-on-exec flag. */
static int late_place(struct restore_task *t, long fd, const FdEntry *e)
{
	struct remote *r = &t->rem;
	long rv;

	if (fd == e->fd) {
		rv = rsys3(r, __NR_fcntl, fd, F_SETFD, e->cloexec ? FD_CLOEXEC : 0);
	} else {
		/* its number was left free; never replace something that is there */
		if (rsys3(r, __NR_fcntl, e->fd, F_GETFD, 0) != -EBADF) {
			pr_err("task %d: fd %d is taken: cannot place it there", t->pid, e->fd);
			rsys1(r, __NR_close, fd);
			return -EEXIST;
		}
		rv = rsys3(r, __NR_dup3, fd, e->fd, e->cloexec ? O_CLOEXEC : 0);
		rsys1(r, __NR_close, fd);
	}
	if (rv < 0) {
		pr_errno((int)-rv, "task %d: cannot place fd %d", t->pid, e->fd);
		return (int)rv;
	}
	return 0;
}

/* A copy of fd `fd` of task o, as a new descriptor of t. */
static long late_copy_from(struct restore_task *t, struct restore_task *o, int fd)
{
	struct remote *r = &t->rem;
	long pidfd = rsys2(r, SYS_pidfd_open, o->pid, 0);
	long copy;

	if (pidfd < 0)
		return pidfd;
	copy = rsys3(r, SYS_pidfd_getfd, pidfd, fd, 0);
	rsys1(r, __NR_close, pidfd);
	return copy;
}

int restore_files_late(struct restore_ctx *ctx, struct restore_task *t)
{
	if (t->core->files_shared_with_parent)
		return 0; /* its parent's table: built there */
	for (size_t i = 0; i < t->files->n_fds; i++) {
		const FdEntry *e = t->files->fds[i];
		const struct fd_ops *k = fd_ops_of(e->kind);
		long fd;
		int ret;

		if (!k || !files_entry_is_late(e))
			continue;
		if (e->has_dup_of_pid && (pid_t)e->dup_of_pid != t->pid) {
			struct restore_task *o = restore_find_task(ctx, e->dup_of_pid);
			fd = o ? late_copy_from(t, o, e->dup_of) : -ESRCH;
			if (fd < 0)
				pr_errno((int)-fd,
					 "task %d: cannot copy fd %d of task %u for fd %d", t->pid,
					 e->dup_of, e->dup_of_pid, e->fd);
		} else if (e->has_dup_of) {
			/* placed before it (validated) */
			fd = rsys3(&t->rem, __NR_fcntl, e->dup_of, F_DUPFD_CLOEXEC, 0);
			if (fd < 0)
				pr_errno((int)-fd, "task %d: cannot copy fd %d for fd %d", t->pid,
					 e->dup_of, e->fd);
		} else {
			fd = e->has_proc_pid ? procfile_restore_late(ctx, t, e)
					     : k->restore_late(ctx, t, e);
		}
		if (fd < 0)
			return (int)fd;
		if ((ret = late_place(t, fd, e)))
			return ret;
		pr_info("task %d: fd %d: %s made again", t->pid, e->fd,
			e->has_proc_pid ? e->path : k->name);
	}
	return t->rem.err;
}
