/* System V semaphore sets of the tree: the check of a task's undo list, the sets saved
 * (values and each semaphore's last user), a set made again or taken again with its values,
 * and each semaphore's last user (sempid) made a task of the tree again. The rule of which
 * sets are saved, and what the three kinds share, are in sysvipc.c. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kcmp.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "img/image.h"
#include "res/sysv_kinds.h"
#include "res/sysvipc.h"

/* The semaphore sets operated on since `since` (wall seconds): their ids, for a message */
/* The sets operated on since `since` whose last operation on some semaphore was made by a task
 * of the tree: only such a set can hold an undo adjustment of a task of the tree, unless
 * processes outside it have operated on each of its semaphores since (then the tree's last
 * operations do not show; a host's unrelated semaphores, a database's, must not make every
 * threaded process of the tree undumpable). */
static int sets_used_since(struct dump_ctx *ctx, time_t since, char *ids, size_t len)
{
	struct seminfo info;
	union semun arg = {.buf = (struct semid_ds *)&info};
	int max = semctl(0, 0, SEM_INFO, arg), n = 0;
	size_t used = 0;

	ids[0] = 0;
	for (int idx = 0; idx <= max; idx++) {
		struct semid_ds ds;
		arg.buf = &ds;
		int id = semctl(idx, 0, SEM_STAT_ANY, arg);
		if (id < 0 || ds.sem_otime < since)
			continue;
		bool ours = false;
		for (unsigned long k = 0; k < ds.sem_nsems && !ours; k++) {
			int pid = semctl(id, (int)k, GETPID);
			ours = pid > 0 && sysv_tree_pid(ctx, pid);
		}
		if (!ours)
			continue;
		if (used + 16 < len)
			used += (size_t)snprintf(ids + used, len - used, "%s%d", n ? ", " : "", id);
		n++;
	}
	return n;
}

/* When the task started, in wall seconds (its start time counts from boot) */
static time_t started_at(const struct dump_task *t)
{
	struct timespec boot, real;
	long tick = sysconf(_SC_CLK_TCK);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_REALTIME, &real);
	return real.tv_sec - boot.tv_sec +
	       (time_t)(t->stat.start_time / (uint64_t)(tick > 0 ? tick : 100));
}

/* A process with no undo list to compare with: a child of cryo made without CLONE_SYSVSEM
 * never has one (cryo itself has one once it made a thread, as a dump before this one in the
 * same process does). It waits until sysv_undo_ref_end. */
static pid_t undo_ref(struct dump_ctx *ctx)
{
	if (ctx->sem_ref > 0)
		return ctx->sem_ref;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	if (pid < 0)
		return -errno;
	return ctx->sem_ref = pid;
}

void sysv_undo_ref_end(struct dump_ctx *ctx)
{
	if (ctx->sem_ref > 0) {
		kill(ctx->sem_ref, SIGKILL);
		while (waitpid(ctx->sem_ref, NULL, 0) < 0 && errno == EINTR)
			;
	}
	ctx->sem_ref = 0;
}

int sysv_check_undo(struct dump_ctx *ctx, struct dump_task *t)
{
	char ids[256];
	/* kcmp compares the undo lists of two tasks: a task whose list differs from that of a
	 * process without one has one. No task of the tree can share cryo's, so one that
	 * compares equal to cryo has none; cryo has one once it made a thread (a dump before
	 * this one in the same process), and then a child of its own is the reference
	 * (undo_ref). No interface shows a list's adjustments, and the kernel also gives an empty
	 * list to every process that made a thread (CLONE_SYSVSEM). A list the task made itself
	 * can only hold adjustments for sets operated on since it started (by a task of the
	 * tree, as far as the sets show: sets_used_since) */
	for (int k = 0; k < t->nr_threads; k++) {
		long r = syscall(SYS_kcmp, getpid(), t->threads[k].tid, KCMP_SYSVSEM, 0, 0);
		if (r > 0) {
			pid_t ref = undo_ref(ctx);
			if (ref < 0) {
				pr_errno((int)-ref,
					 "task %d: cannot make a process to compare its semaphore "
					 "undo list with",
					 t->pid);
				return (int)ref;
			}
			r = syscall(SYS_kcmp, ref, t->threads[k].tid, KCMP_SYSVSEM, 0, 0);
		}
		if (r < 0) {
			int err = errno;
			if (err == ESRCH)
				return -ESRCH;
			pr_errno(err, "task %d: cannot compare its semaphore undo list", t->pid);
			return -err;
		}
		if (!r)
			continue;
		if (t->stat.ppid > 0 &&
		    syscall(SYS_kcmp, t->stat.ppid, t->threads[k].tid, KCMP_SYSVSEM, 0, 0) == 0) {
			pr_err("task %d (thread %d) shares its System V semaphore undo list with "
			       "process %d (CLONE_SYSVSEM): cryo cannot restore that",
			       t->pid, t->threads[k].tid, t->stat.ppid);
			return -ENOTSUP;
		}
		/* a second of slack: the times are in whole seconds */
		if (sets_used_since(ctx, started_at(t) - 2, ids, sizeof(ids))) {
			pr_err("task %d (thread %d) has a System V semaphore undo list (semop with "
			       "SEM_UNDO, or threads), and semaphore sets were operated on by the "
			       "tree "
			       "since it started (ids %s): the kernel does not show its undo "
			       "adjustments, cryo cannot restore them",
			       t->pid, t->threads[k].tid, ids);
			return -ENOTSUP;
		}
	}
	return 0;
}

int sysv_dump_sems(struct dump_ctx *ctx)
{
	struct seminfo info;
	union semun arg = {.buf = (struct semid_ds *)&info};
	int max = semctl(0, 0, SEM_INFO, arg);

	if (max < 0) {
		pr_errno(errno, "cannot list System V semaphore sets (SEM_INFO)");
		return -errno;
	}
	for (int idx = 0; idx <= max; idx++) {
		struct semid_ds ds;
		arg.buf = &ds;
		int id = semctl(idx, 0, SEM_STAT_ANY, arg);
		pid_t user = 0;
		if (id < 0)
			continue;
		for (unsigned long k = 0; k < ds.sem_nsems && !user; k++) {
			int p = semctl(id, (int)k, GETPID);
			if (sysv_tree_pid(ctx, p))
				user = p;
		}
		if (!user) {
			pr_info(
			    "System V semaphore set %d (key %#x) was not last used by the tree: "
			    "left as it is",
			    id, ds.sem_perm.__key);
			continue;
		}
		unsigned short *vals = arena_alloc(&ctx->arena, ds.sem_nsems * sizeof(*vals) + 1);
		SysvSemSet *s = A_NEW(&ctx->arena, SysvSemSet, SYSV_SEM_SET);
		if (!vals || !s || !(s->perm = sysv_new_perm(ctx, id, &ds.sem_perm)))
			return -ENOMEM;
		arg.array = vals;
		if (semctl(id, 0, GETALL, arg) < 0) {
			pr_errno(errno, "System V semaphore set %d: cannot read its values", id);
			return -errno;
		}
		s->n_values = s->n_pids = ds.sem_nsems;
		s->values = arena_alloc(&ctx->arena, ds.sem_nsems * sizeof(uint32_t) + 1);
		s->pids = arena_alloc(&ctx->arena, ds.sem_nsems * sizeof(uint32_t) + 1);
		if (!s->values || !s->pids || !DUMP_PUSH(ctx, ctx->ipc->sems, ctx->ipc->n_sems, s))
			return -ENOMEM;
		for (size_t k = 0; k < s->n_values; k++) {
			int p = semctl(id, (int)k, GETPID);
			s->values[k] = vals[k];
			s->pids[k] = p > 0 ? (uint32_t)p : 0;
		}
		pr_info("System V semaphore set %d (key %#x, %lu semaphores, last used by task "
			"%d): saved",
			id, ds.sem_perm.__key, (unsigned long)ds.sem_nsems, user);
	}
	return 0;
}

int sysv_restore_sem(const SysvSemSet *s, bool *made)
{
	struct ipc_perm have;
	int ret = sysv_find_existing(K_SEM, s->perm, &have);
	union semun arg;

	if (ret == -ENOENT) {
		if ((ret = sysv_create_with_id(K_SEM, s->perm, 0, (int)s->n_values)))
			return ret;
		*made = true;
	} else if (ret) {
		return ret;
	} else {
		struct semid_ds ds;
		arg.buf = &ds;
		if (semctl((int)s->perm->id, 0, IPC_STAT, arg) < 0)
			return -errno;
		if (ds.sem_nsems != s->n_values) {
			pr_err("semaphore set %u (key %#x) exists with %lu semaphores, the dumped "
			       "one had %zu: not the same",
			       s->perm->id, s->perm->key, (unsigned long)ds.sem_nsems, s->n_values);
			return -EEXIST;
		}
		pr_info("semaphore set %u (key %#x) still exists: taken again, its values set "
			"back to the dumped ones",
			s->perm->id, s->perm->key);
	}
	unsigned short *vals = calloc(s->n_values, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (size_t k = 0; k < s->n_values; k++)
		vals[k] = (unsigned short)s->values[k];
	arg.array = vals;
	ret = semctl((int)s->perm->id, 0, SETALL, arg) < 0 ? -errno : 0;
	free(vals);
	if (ret) {
		pr_errno(-ret, "semaphore set %u: cannot set its values", s->perm->id);
		return ret;
	}
	return sysv_set_owner(K_SEM, s->perm, 0);
}

/* Each semaphore's last operation is its task's (sempid): an operation that leaves its value
 * as it is, +1 then -1 (-1 then +1 at the maximum), made by that task. */
int sysv_sem_pids_remote(struct restore_ctx *ctx, const SysvSemSet *s)
{
	struct sembuf *ops = calloc(2 * s->n_pids + 2, sizeof(*ops));
	int ret = 0;

	if (!ops)
		return -ENOMEM;
	for (size_t k = 0; k < s->n_pids && !ret; k++) {
		struct restore_task *t = sysv_live_task(ctx, true, s->pids[k]);
		bool first = true;
		for (size_t j = 0; j < k && first; j++)
			first = s->pids[j] != s->pids[k];
		if (!t || !first)
			continue;
		/* a few semaphores a call: SEMOPM (operations per call) is 32 on old kernels */
		for (size_t j = k, n = 0; !ret && j <= s->n_pids; j++) {
			if (j < s->n_pids && s->pids[j] == s->pids[k]) {
				short d = s->values[j] < SEM_MAX_VALUE ? 1 : -1;
				ops[n++] = (struct sembuf){(unsigned short)j, d, IPC_NOWAIT};
				ops[n++] =
				    (struct sembuf){(unsigned short)j, (short)-d, IPC_NOWAIT};
			}
			if (n && (n == 32 || j == s->n_pids)) {
				uint64_t scratch = remote_scratch(&t->rem);
				ret = remote_write(t->pid, scratch, ops, n * sizeof(*ops));
				if (!ret)
					ret = sysv_task_call(
					    t, "make the last operation on its semaphores",
					    s->perm->id, __NR_semop, s->perm->id, (long)scratch,
					    (long)n, 0, 0);
				n = 0;
			}
		}
	}
	free(ops);
	return ret;
}
