/* Files of /proc/N/ where N is another process of the tree or a thread of the tree (its own
 * too): a parent reading /proc/CHILD/status or /proc/CHILD/stat, a task holding a thread's
 * /proc/PID/task/TID/stat. (The task's own other files, /proc/self/maps, are reopened by path
 * in the child phase: its pid is its own from the start.) At restore N may not exist yet when the
 * holder rebuilds its descriptors in the child phase (a child, a later sibling, a thread other than
 * a leader), so such a descriptor is *late* (late.c): opened again in the holder's remote phase,
 * once every process of the tree and every thread of the tasks up to this one exist, by a remote
 * openat of /proc/N/REL in the holder (its own view of /proc), then put at its position.
 * What it reads is made by the kernel at each read: nothing else to save. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"

/* The task of the tree with process or thread n, or NULL */
static const struct dump_task *tree_task_of(struct dump_ctx *ctx, long n, bool *thread)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		const struct dump_task *o = &ctx->tasks[i];
		if (o->pid == n) {
			*thread = false;
			return o;
		}
		for (int k = 0; k < o->nr_threads; k++)
			if (o->threads[k].tid == n) {
				*thread = true;
				return o;
			}
	}
	return NULL;
}

/* Whose file of /proc is path: the task of the tree (o), the process or thread number n,
 * the thread tid (n unless /proc/N/task/TID/), where REL starts (end). NULL: not a file of
 * /proc/N/ of the tree. */
static const struct dump_task *proc_target(struct dump_ctx *ctx, const char *path, long *n,
					   long *tid, bool *thread, char **end)
{
	if (strncmp(path, "/proc/", 6) || path[6] < '1' || path[6] > '9')
		return NULL;
	*n = strtol(path + 6, end, 10);
	if ((**end && **end != '/') || *n > INT32_MAX)
		return NULL;
	const struct dump_task *o = tree_task_of(ctx, *n, thread);
	if (!o)
		return NULL; /* a process outside the tree: reopened by path, as any file */
	/* /proc/PID/task/TID/...: that thread's */
	*tid = *n;
	if (!*thread && !strncmp(*end, "/task/", 6)) {
		char *tend;
		*tid = strtol(*end + 6, &tend, 10);
		*thread = *tid != *n && *tid > 0 && (!*tend || *tend == '/');
		if (!*thread)
			*tid = *n;
	}
	return o;
}

bool procfile_is_late(struct dump_ctx *ctx, struct dump_task *t, const char *link)
{
	long n, tid;
	bool thread = false;
	char *end;
	const struct dump_task *o = proc_target(ctx, link, &n, &tid, &thread, &end);
	return o && (o != t || thread);
}

int procfile_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e)
{
	const char *path = fi->link;
	char *end;
	bool thread = false;
	long n, tid;
	const struct dump_task *o = proc_target(ctx, path, &n, &tid, &thread, &end);

	if (!o)
		return 1;
	/* the task's own (not of a thread other than its leader): it has its pid from its
	 * creation on, so it is reopened by path in the child phase, as any file (an epoll may
	 * watch it: /proc/self/mountinfo) */
	if (o == t && !thread)
		return 1;
	/* a thread other than a leader is made in its process's remote phase, after the late
	 * descriptors of the tasks before it (pidfd.c has the same rule) */
	if (thread && o > t) {
		pr_err("task %d: fd %d is %s, a file of thread %ld of task %d, which the restore "
		       "creates after this task's descriptors: not supported yet",
		       t->pid, fi->fd, path, tid, o->pid);
		return -ENOTSUP;
	}
	e->path = arena_strdup(&ctx->arena, path);
	e->proc_rel = arena_strdup(&ctx->arena, *end ? end + 1 : "");
	if (!e->path || !e->proc_rel)
		return -ENOMEM;
	e->has_proc_pid = true;
	e->proc_pid = (uint32_t)n;
	pr_info("task %d: fd %d is %s, of %s %ld of the tree: opened again late", t->pid, fi->fd,
		path, thread ? "thread" : "process", tid);
	return 0;
}

long procfile_restore_late(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e)
{
	struct remote *r = &t->rem;
	uint64_t scratch = remote_scratch(r);
	char path[4200];
	int flags = (int)(e->flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC | O_ASYNC)) | O_NOCTTY |
		    O_CLOEXEC;
	long fd, rv;
	int n;

	(void)ctx;
	n = snprintf(path, sizeof(path), "/proc/%u%s%s", e->proc_pid, e->proc_rel[0] ? "/" : "",
		     e->proc_rel);
	if (n < 0 || (size_t)n + 1 > remote_scratch_size(r))
		return -ENAMETOOLONG;
	int ret = remote_write(t->pid, scratch, path, (size_t)n + 1);
	if (ret)
		return ret;
	fd = rsys4(r, __NR_openat, AT_FDCWD, scratch, flags, 0);
	if (fd < 0) {
		pr_errno((int)-fd, "task %d: cannot open %s again for fd %d", t->pid, path, e->fd);
		return fd;
	}
	if (e->pos && !(e->flags & O_PATH) &&
	    (rv = rsys3(r, __NR_lseek, fd, (long)e->pos, SEEK_SET)) != (long)e->pos) {
		pr_errno(rv < 0 ? (int)-rv : EIO, "task %d: cannot seek %s to %lu for fd %d",
			 t->pid, path, e->pos, e->fd);
		rsys1(r, __NR_close, fd);
		return rv < 0 ? rv : -EIO;
	}
	return fd;
}

int procfile_validate(struct restore_ctx *ctx, struct restore_task *t, const char *img,
		      const FdEntry *e)
{
	char want[4200];

	if (!e->has_proc_pid && !e->proc_rel)
		return 0;
	if (e->has_dup_of)
		return 0; /* the first of its description has them */
	if (!e->has_proc_pid || !e->proc_rel || !e->path ||
	    (e->kind != FD_KIND__FD_REG && e->kind != FD_KIND__FD_DIR &&
	     e->kind != FD_KIND__FD_PATH))
		return files_refuse(img, "fd %d: /proc file fields are incomplete or on kind %d",
				    e->fd, e->kind);
	if (strlen(e->proc_rel) >= 4000 || e->proc_rel[0] == '/' || strstr(e->proc_rel, "..") ||
	    e->has_ghost_id || (e->has_ghost && e->ghost >= 0) || e->has_handle)
		return files_refuse(img, "fd %d: /proc file %s is invalid", e->fd, e->proc_rel);
	snprintf(want, sizeof(want), "/proc/%u%s%s", e->proc_pid, e->proc_rel[0] ? "/" : "",
		 e->proc_rel);
	if (strcmp(want, e->path))
		return files_refuse(img, "fd %d: /proc file %s does not fit its path %s", e->fd,
				    want, e->path);
	/* /proc/PID/task/TID/...: that thread must be there in time too */
	long tid = e->proc_pid;
	if (!strncmp(e->proc_rel, "task/", 5)) {
		char *end;
		long n = strtol(e->proc_rel + 5, &end, 10);
		if (n > 0 && n <= INT32_MAX && (!*end || *end == '/'))
			tid = n;
	}
	if (!restore_tree_has(ctx, (pid_t)e->proc_pid, F_OWNER_TID) ||
	    !restore_tid_in_time(ctx, t, (pid_t)e->proc_pid) ||
	    !restore_tid_in_time(ctx, t, (pid_t)tid))
		return files_refuse(img,
				    "fd %d: %s is a file of %u, which is not a process or thread "
				    "of the tree made before this task's late descriptors",
				    e->fd, e->path, e->proc_pid);
	return 0;
}
