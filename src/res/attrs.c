/* Per-process and per-thread attributes that are single values: rlimits, personality, prctl
 * flags (parent-death signal, dumpable, child subreaper, THP disable, no_new_privs), OOM score
 * adjustment, scheduling policy and nice value, comm, rseq, robust futex list and
 * clear-child-tid address. Each is set where it can be: in the child phase, by remote call,
 * or from outside. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "compat.h"
#include "core/dump.h"
#include "core/log.h"
#include "core/restore.h"
#include "core/util.h"

/* prlimit from inside: on a task with other credentials it would need CAP_SYS_RESOURCE */
void attrs_ask(struct remote_batch *b, struct dump_task *t)
{
	struct task_answers *a = &t->ans;
	struct remote *r = &t->rem;
	for (int res = 0; res < RLIM_NLIMITS; res++)
		batch_ask(b, &a->prlimit_rv[res], __NR_prlimit64, 0, res, 0,
			  batch_out(b, r, &a->rlimits[res], sizeof(a->rlimits[0])), 0, 0);
	batch_ask(b, &a->pdeathsig_rv, __NR_prctl, PR_GET_PDEATHSIG,
		  batch_out(b, r, &a->pdeathsig, sizeof(a->pdeathsig)), 0, 0, 0, 0);
	batch_ask(b, &a->subreaper_rv, __NR_prctl, PR_GET_CHILD_SUBREAPER,
		  batch_out(b, r, &a->subreaper, sizeof(a->subreaper)), 0, 0, 0, 0);
	batch_ask(b, &a->dumpable, __NR_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0, 0);
	batch_ask(b, &a->thp_disable, __NR_prctl, PR_GET_THP_DISABLE, 0, 0, 0, 0, 0);
	batch_ask(b, &a->mce_kill, __NR_prctl, PR_MCE_KILL_GET, 0, 0, 0, 0, 0);
}

void attrs_ask_thread(struct remote_batch *b, struct dump_thread *th)
{
	struct thread_answers *a = &th->ans;
	batch_ask(b, &a->timer_slack, __NR_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0, 0);
	batch_ask(b, &a->tid_address_rv, __NR_prctl, PR_GET_TID_ADDRESS,
		  batch_out(b, th->rem, &a->clear_child_tid, sizeof(a->clear_child_tid)), 0, 0, 0,
		  0);
}

int dump_task_attrs(struct dump_ctx *ctx, struct dump_task *t)
{
	const struct task_answers *a = &t->ans;
	TaskCore *core = t->core;
	char path[64], buf[64];
	long rv;

	for (int res = 0; res < RLIM_NLIMITS; res++) {
		if ((rv = a->prlimit_rv[res]) < 0) {
			pr_errno((int)-rv, "task %d: cannot read its resource limit %d", t->pid,
				 res);
			return (int)rv;
		}
		RlimitEntry *e = A_NEW(&ctx->arena, RlimitEntry, RLIMIT_ENTRY);
		if (!e || !DUMP_PUSH(ctx, core->rlimits, core->n_rlimits, e))
			return -ENOMEM;
		e->resource = res, e->cur = a->rlimits[res].cur, e->max = a->rlimits[res].max;
	}

	snprintf(path, sizeof(path), "/proc/%d/personality", t->pid);
	if (read_file_at(-1, path, buf, sizeof(buf)) < 0)
		return -errno;
	core->personality = strtoul(buf, NULL, 16);
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", t->pid);
	if (read_file_at(-1, path, buf, sizeof(buf)) < 0)
		return -errno;
	core->oom_score_adj = atoi(buf);

	if ((rv = a->pdeathsig_rv) < 0 || (rv = a->subreaper_rv) < 0 || (rv = a->dumpable) < 0 ||
	    (rv = a->thp_disable) < 0 || (rv = a->mce_kill) < 0) {
		pr_errno((int)-rv, "task %d: cannot read its prctl settings", t->pid);
		return (int)rv;
	}
	core->pdeathsig = a->pdeathsig;
	core->child_subreaper = a->subreaper;
	core->dumpable = a->dumpable;
	core->thp_disable = a->thp_disable;
	core->has_mce_kill = true;
	core->mce_kill = a->mce_kill;
	core->no_new_privs = t->status.no_new_privs;
	core->umask = t->status.umask;
	core->exit_signal = t->stat.exit_signal;
	return 0;
}

int dump_thread_attrs(struct dump_ctx *ctx, struct dump_task *t, struct dump_thread *th)
{
	ThreadCore *tc = th->tc;
	pid_t tid = th->tid;
	struct sched_param sp;
	struct cryo_rseq_config rseq;
	char path[64], buf[64];
	uint64_t head, len;
	int policy;
	long rv;

	policy = sched_getscheduler(tid);
	if (policy < 0 || sched_getparam(tid, &sp) < 0) {
		int err = errno;
		pr_errno(err, "task %d: cannot read its scheduling policy", tid);
		return -err;
	}
	tc->sched_reset_on_fork = !!(policy & SCHED_RESET_ON_FORK);
	tc->has_sched_reset_on_fork = true;
	tc->sched_policy = policy & ~SCHED_RESET_ON_FORK;
	tc->sched_prio = sp.sched_priority;
	errno = 0;
	tc->nice = getpriority(PRIO_PROCESS, tid);
	if (errno)
		return -errno;

	cpu_set_t cpus;
	if (sched_getaffinity(tid, sizeof(cpus), &cpus) < 0) {
		int err = errno;
		pr_errno(err, "task %d: cannot read its CPU affinity", tid);
		return -err;
	}
	tc->has_cpu_affinity = true;
	tc->cpu_affinity.len = sizeof(cpus);
	tc->cpu_affinity.data = arena_memdup(&ctx->arena, &cpus, sizeof(cpus));
	if (!tc->cpu_affinity.data)
		return -ENOMEM;

	rv = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, tid);
	if (rv < 0) {
		int err = errno;
		pr_errno(err, "task %d: cannot read its I/O priority", tid);
		return -err;
	}
	tc->has_ioprio = true;
	tc->ioprio = rv;
	rv = th->ans.timer_slack;
	if (rv < 0) {
		pr_errno((int)-rv, "task %d: cannot read its timer slack", tid);
		return (int)rv;
	}
	tc->has_timer_slack_ns = true;
	tc->timer_slack_ns = rv;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", t->pid, tid);
	if (read_file_at(-1, path, buf, sizeof(buf)) < 0)
		return -errno;
	buf[strcspn(buf, "\n")] = 0;
	tc->comm = arena_strdup(&ctx->arena, buf);

	if (syscall(SYS_get_robust_list, tid, &head, &len) < 0) {
		int err = errno;
		pr_errno(err, "task %d: cannot read its robust futex list", tid);
		return -err;
	}
	tc->robust_list = head, tc->robust_list_len = len;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rseq), &rseq) == sizeof(rseq) &&
	    rseq.rseq_abi_pointer) {
		tc->has_rseq_ptr = tc->has_rseq_len = tc->has_rseq_sig = true;
		tc->rseq_ptr = rseq.rseq_abi_pointer;
		tc->rseq_len = rseq.rseq_abi_size;
		tc->rseq_sig = rseq.signature;
	}

	if ((rv = th->ans.tid_address_rv) < 0) {
		pr_errno((int)-rv, "task %d: cannot read its clear-child-tid address", tid);
		return (int)rv;
	}
	tc->clear_child_tid = th->ans.clear_child_tid;
	return 0;
}

/* In the new task itself, before it stops. */
int restore_task_attrs_child(struct restore_ctx *ctx, struct restore_task *t)
{
	TaskCore *core = t->core;

	if (personality(core->personality) < 0) {
		child_fail(t, errno, "cannot set personality %#x", core->personality);
		return -1;
	}
	if (prctl(PR_SET_NAME, t->thread->comm, 0, 0, 0) < 0) {
		child_fail(t, errno, "cannot set its name");
		return -1;
	}
	if (core->child_subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		child_fail(t, errno, "cannot become a child subreaper");
		return -1;
	}
	/* set either way: it is inherited from cryo */
	if (prctl(PR_SET_THP_DISABLE, core->thp_disable ? 1 : 0, 0, 0, 0) < 0) {
		child_fail(t, errno, "cannot disable transparent huge pages");
		return -1;
	}
	if (core->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		child_fail(t, errno, "cannot set no_new_privs");
		return -1;
	}
	return 0;
}

/* Limits are set from inside: prlimit on another task may need CAP_SYS_RESOURCE. After the
 * service descriptors are closed, as RLIMIT_NOFILE may be below their numbers. */
int restore_rlimits_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	struct remote_batch b = {0};
	int ret;
	if (t->core->n_rlimits > RLIM_NLIMITS) {
		pr_err("core-%d.img: %zu rlimits", t->pid, t->core->n_rlimits);
		return -EINVAL;
	}
	for (size_t i = 0; i < t->core->n_rlimits; i++) {
		RlimitEntry *e = t->core->rlimits[i];
		struct rlimit64 rl = {e->cur, e->max};
		uint64_t at = remote_batch_data(r) + i * sizeof(rl);
		if (e->resource >= RLIM_NLIMITS) {
			pr_err("core-%d.img: unknown rlimit %u", t->pid, e->resource);
			return -EINVAL;
		}
		if ((ret = remote_write(t->pid, at, &rl, sizeof(rl))))
			return ret;
		batch_add(&b, __NR_prlimit64, 0, e->resource, at, 0, 0, 0);
	}
	if ((ret = remote_batch_run(r, &b)))
		return ret;
	for (size_t i = 0; i < t->core->n_rlimits; i++) {
		RlimitEntry *e = t->core->rlimits[i];
		long rv = batch_result(&b, i);
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot set rlimit %u to %llu/%llu", t->pid,
				 e->resource, (unsigned long long)e->cur,
				 (unsigned long long)e->max);
			return (int)rv;
		}
	}
	return 0;
}

/* After the credentials: changing them resets the first two. */
int restore_task_attrs_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	long rv;

	if (t->core->has_mce_kill) {
		rv = t->core->mce_kill == PR_MCE_KILL_DEFAULT
			 ? rsys2(r, __NR_prctl, PR_MCE_KILL, PR_MCE_KILL_CLEAR)
			 : rsys3(r, __NR_prctl, PR_MCE_KILL, PR_MCE_KILL_SET, t->core->mce_kill);
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot set its MCE kill policy", t->pid);
			return (int)rv;
		}
	}

	rv = rsys2(r, __NR_prctl, PR_SET_PDEATHSIG, t->core->pdeathsig);
	if (rv < 0) {
		pr_errno((int)-rv, "task %d: cannot set parent-death signal %d", t->pid,
			 t->core->pdeathsig);
		return (int)rv;
	}
	rv = rsys2(r, __NR_prctl, PR_SET_DUMPABLE, t->core->dumpable);
	if (rv < 0) {
		pr_errno((int)-rv, "task %d: cannot set dumpable %d", t->pid, t->core->dumpable);
		return (int)rv;
	}
	return 0;
}

int restore_thread_attrs_remote(struct restore_ctx *ctx, struct restore_task *t,
				struct restore_thread *th)
{
	struct remote *r = th->rem;
	ThreadCore *tc = th->tc;
	struct remote_batch b = {0};
	char comm[16] = {0};
	int robust, rseq = -1, slack = -1, ret;

	/* all in one stop of the thread */
	snprintf(comm, sizeof(comm), "%s", tc->comm);
	if ((ret = remote_write(t->pid, remote_batch_data(r), comm, sizeof(comm))))
		return ret;
	robust =
	    batch_add(&b, __NR_set_robust_list, tc->robust_list, tc->robust_list_len, 0, 0, 0, 0);
	batch_add(&b, __NR_set_tid_address, tc->clear_child_tid, 0, 0, 0, 0, 0);
	if (tc->has_rseq_ptr && tc->rseq_ptr)
		rseq = batch_add(&b, SYS_rseq, tc->rseq_ptr, tc->rseq_len, 0, tc->rseq_sig, 0, 0);
	if (tc->has_timer_slack_ns)
		slack =
		    batch_add(&b, __NR_prctl, PR_SET_TIMERSLACK, tc->timer_slack_ns, 0, 0, 0, 0);
	batch_add(&b, __NR_prctl, PR_SET_NAME, remote_batch_data(r), 0, 0, 0, 0);
	if ((ret = remote_batch_run(r, &b)))
		return ret;
	if (batch_result(&b, robust) < 0 && tc->robust_list) {
		pr_errno((int)-batch_result(&b, robust),
			 "thread %d: cannot set its robust futex list", th->tid);
		return (int)batch_result(&b, robust);
	}
	if (rseq >= 0 && batch_result(&b, rseq) < 0) {
		pr_errno((int)-batch_result(&b, rseq), "thread %d: cannot register rseq area %#lx",
			 th->tid, tc->rseq_ptr);
		return (int)batch_result(&b, rseq);
	}
	if (slack >= 0 && batch_result(&b, slack) < 0) {
		pr_errno((int)-batch_result(&b, slack), "thread %d: cannot set its timer slack",
			 th->tid);
		return (int)batch_result(&b, slack);
	}
	return 0;
}

/* From cryo, once the task's service descriptors are closed. */
int restore_task_attrs_outside(struct restore_ctx *ctx, struct restore_task *t)
{
	char path[64], buf[32];

	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", t->pid);
	snprintf(buf, sizeof(buf), "%d", t->core->oom_score_adj);
	if (write_file(path, buf) < 0) {
		int err = errno;
		pr_errno(err, "task %d: cannot set oom_score_adj %d", t->pid,
			 t->core->oom_score_adj);
		return -err;
	}
	for (int k = 0; k < t->nr_threads; k++) {
		ThreadCore *tc = t->threads[k].tc;
		pid_t tid = t->threads[k].tid;
		struct sched_param sp = {.sched_priority = tc->sched_prio};
		int policy = tc->sched_policy | (tc->sched_reset_on_fork ? SCHED_RESET_ON_FORK : 0);

		if (tc->has_ioprio &&
		    syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, tid, tc->ioprio) < 0) {
			int err = errno;
			pr_errno(err, "thread %d: cannot set its I/O priority %#x", tid,
				 tc->ioprio);
			return -err;
		}
		if (tc->has_cpu_affinity && tc->cpu_affinity.len > 0 &&
		    tc->cpu_affinity.len <= sizeof(cpu_set_t) &&
		    sched_setaffinity(tid, tc->cpu_affinity.len,
				      (const cpu_set_t *)tc->cpu_affinity.data) < 0) {
			int err = errno;
			pr_errno(err, "thread %d: cannot set its CPU affinity", tid);
			return -err;
		}
		if (sched_setscheduler(tid, policy, &sp) < 0) {
			int err = errno;
			pr_errno(err, "thread %d: cannot set scheduling policy %d", tid,
				 tc->sched_policy);
			return -err;
		}
		if (setpriority(PRIO_PROCESS, tid, tc->nice) < 0) {
			int err = errno;
			pr_errno(err, "thread %d: cannot set nice value %d", tid, tc->nice);
			return -err;
		}
	}
	return 0;
}
