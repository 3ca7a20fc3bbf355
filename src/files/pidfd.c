/* pidfd: a descriptor of a process (pidfd_open, clone3 CLONE_PIDFD) or, with PIDFD_THREAD
 * (O_EXCL in its flags), of one thread. fdinfo's "Pid:" names it in cryo's pid namespace:
 * -1 once it was reaped, 0 when it lives in a namespace cryo does not see. Only a pidfd of a
 * task of the tree is saved (a zombie of the tree too: the restore makes it again, unreaped);
 * a reaped one cannot be given again (a new pidfd_open would find nothing, or another
 * process with that pid), nor one of a process outside the tree, which the restore does not
 * create: both are refused by name.
 *
 * The restore cannot open it in the child phase: its task may not exist yet (a child, a later
 * sibling, a thread made in the remote phase). It is built late (late.c): in the remote phase,
 * once every process exists and the holder's threads were made, by a remote pidfd_open in the
 * holder with the same flags. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "core/log.h"
#include "files/kind.h"

static bool pidfd_recognise(const struct fd_info *fi)
{
	return !strcmp(fi->link, "anon_inode:[pidfd]") || !strncmp(fi->link, "pidfd:", 6);
}

const struct dump_task *dump_tree_task_of(struct dump_ctx *ctx, pid_t tid, bool thread)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		const struct dump_task *o = &ctx->tasks[i];
		if (o->pid == tid)
			return o;
		for (int k = 1; thread && !o->zombie && k < o->nr_threads; k++)
			if (o->threads[k].tid == tid)
				return o;
	}
	return NULL;
}

static int pidfd_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		      FdEntry *e)
{
	const char *p = strstr(fi->fdinfo, "\nPid:");
	bool thread = fi->flags & PIDFD_THREAD;
	const char *what = thread ? "thread" : "process";
	long pid;

	if (!p) {
		pr_err("task %d: fd %d: a pidfd without its Pid in fdinfo", t->pid, fi->fd);
		return -ENOTSUP;
	}
	pid = strtol(p + 5, NULL, 10);
	if (pid == -1) {
		pr_err("task %d: fd %d is a pidfd of a process that has been reaped: "
		       "it cannot be made again",
		       t->pid, fi->fd);
		return -ENOTSUP;
	}
	if (pid <= 0) {
		pr_err("task %d: fd %d is a pidfd of a process outside cryo's pid namespace",
		       t->pid, fi->fd);
		return -ENOTSUP;
	}
	const struct dump_task *o = dump_tree_task_of(ctx, (pid_t)pid, thread);
	if (!o) {
		pr_err("task %d: fd %d is a pidfd of %s %ld, which is not in the dumped tree",
		       t->pid, fi->fd, what, pid);
		return -ENOTSUP;
	}
	/* a thread other than a leader is made in the remote phase of its process, after the
	 * late descriptors of the tasks before it (the order of ctx->tasks is the restore's) */
	if (thread && o->pid != pid && o > t) {
		pr_err("task %d: fd %d is a pidfd of thread %ld of process %d, which the restore "
		       "creates after this task's descriptors: not supported yet",
		       t->pid, fi->fd, pid, o->pid);
		return -ENOTSUP;
	}
	e->has_pidfd_pid = true;
	e->pidfd_pid = (uint32_t)pid;
	pr_info("task %d: fd %d is a pidfd of %s %ld%s%s", t->pid, fi->fd, what, pid,
		o->zombie ? " (a zombie)" : "", fi->flags & O_NONBLOCK ? ", non-blocking" : "");
	return 0;
}

static long pidfd_restore_late(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e)
{
	long fd = rsys2(&t->rem, SYS_pidfd_open, e->pidfd_pid,
			e->flags & (PIDFD_NONBLOCK | PIDFD_THREAD));
	(void)ctx;
	if (fd < 0)
		pr_errno((int)-fd, "task %d: cannot open the pidfd of fd %d (of %s %u)", t->pid,
			 e->fd, e->flags & PIDFD_THREAD ? "thread" : "process", e->pidfd_pid);
	return fd;
}

/* Not the reference (ctx) checks: files_validate has them in pidfd_validate_tree. */
static int pidfd_validate(const char *img, const Files *f, const FdEntry *e)
{
	(void)f;
	if (e->has_dup_of)
		return 0;
	if (!e->has_pidfd_pid || !e->pidfd_pid || e->pidfd_pid > INT32_MAX)
		return files_refuse(img, "fd %d: a pidfd without a valid pid", e->fd);
	/* pidfd_open gives O_RDWR, and only these flags can be asked for or set later */
	if ((e->flags & O_ACCMODE) != O_RDWR ||
	    e->flags & ~(uint32_t)(O_ACCMODE | PIDFD_NONBLOCK | PIDFD_THREAD | O_ASYNC | 0100000))
		return files_refuse(img, "fd %d: flags %#o are not a pidfd's", e->fd, e->flags);
	return 0;
}

/* The pid must be a task (or with PIDFD_THREAD a thread) of the images' tree. */
int pidfd_validate_tree(struct restore_ctx *ctx, struct restore_task *t, const char *img,
			const FdEntry *e)
{
	bool thread = e->flags & PIDFD_THREAD;
	if (e->kind != FD_KIND__FD_PIDFD || e->has_dup_of)
		return 0;
	if (!restore_tree_has(ctx, (pid_t)e->pidfd_pid, thread ? F_OWNER_TID : F_OWNER_PID) ||
	    (thread && !restore_tid_in_time(ctx, t, (pid_t)e->pidfd_pid)))
		return files_refuse(img,
				    "fd %d: a pidfd of %u, which is not a %s of the tree made "
				    "before this task's descriptors",
				    e->fd, e->pidfd_pid, thread ? "thread" : "process");
	return 0;
}

const struct fd_ops fd_pidfd_ops = {
    .name = "a pidfd",
    .names = "pidfds",
    .kind = FD_KIND__FD_PIDFD,
    .recognise = pidfd_recognise,
    .dump = pidfd_dump,
    .validate = pidfd_validate,
    .late = true,
    .restore_late = pidfd_restore_late,
};
