/* Per-process and per-thread attributes that are single values: rlimits, personality, prctl
 * flags (parent-death signal, dumpable, child subreaper, THP disable, no_new_privs), OOM score
 * adjustment, scheduling policy and nice value, comm, rseq, robust futex list,
 * clear-child-tid address, membarrier registrations. Each is set where it can be: in the child
 * phase, by remote call, or from outside. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"

/* The private expedited membarrier kinds: the barrier, and the registration that readies it */
static const struct {
	int cmd, reg;
	const char *name;
} membarrier_kinds[3] = {
    {MEMBARRIER_CMD_PRIVATE_EXPEDITED, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
     "PRIVATE_EXPEDITED"},
    {MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE,
     MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, "PRIVATE_EXPEDITED_SYNC_CORE"},
    {MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
     "PRIVATE_EXPEDITED_RSEQ"},
};
#define MEMBARRIER_REGISTRATIONS                                                                   \
	(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED |    \
	 MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE |                                     \
	 MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ)

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
	/* The mm's membarrier registrations show nowhere in /proc. The mask says what was
	 * registered; the barriers themselves say which are ready (a registration for the
	 * SYNC_CORE or RSEQ kind shows PRIVATE_EXPEDITED in the mask, but does not make the
	 * plain barrier work). A barrier is harmless here: the other threads are stopped. */
	batch_ask(b, &a->membarrier_regs, __NR_membarrier, CRYO_MEMBARRIER_CMD_GET_REGISTRATIONS, 0,
		  0, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		batch_ask(b, &a->membarrier_probe[i], __NR_membarrier, membarrier_kinds[i].cmd, 0,
			  0, 0, 0, 0);
}

void attrs_ask_thread(struct remote_batch *b, struct dump_thread *th)
{
	struct thread_answers *a = &th->ans;
	batch_ask(b, &a->timer_slack, __NR_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0, 0);
	for (int w = 0; w < 3; w++)
		batch_ask(b, &a->spec_ctrl[w], __NR_prctl, PR_GET_SPECULATION_CTRL, w, 0, 0, 0, 0);
	batch_ask(b, &a->tid_address_rv, __NR_prctl, PR_GET_TID_ADDRESS,
		  batch_out(b, th->rem, &a->clear_child_tid, sizeof(a->clear_child_tid)), 0, 0, 0,
		  0);
}

/* The registrations mask a restore makes by registering the kinds in `ready` (and the global
 * one): every private kind also sets the plain PRIVATE_EXPEDITED state in the kernel. */
static uint32_t membarrier_mask_of(uint32_t ready, bool global)
{
	uint32_t mask = global ? MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED : 0;
	for (int i = 0; i < 3; i++)
		if (ready & membarrier_kinds[i].cmd)
			mask |= membarrier_kinds[i].reg | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
	return mask;
}

static int dump_membarrier(struct dump_task *t)
{
	const struct task_answers *a = &t->ans;
	TaskCore *core = t->core;
	uint32_t ready = 0;
	long rv;

	for (int i = 0; i < 3; i++) {
		rv = a->membarrier_probe[i];
		if (rv == 0)
			ready |= membarrier_kinds[i].cmd;
		else if (rv != -EPERM && rv != -EINVAL) { /* EINVAL: a kind this kernel lacks */
			pr_errno((int)-rv, "task %d: cannot probe its membarrier %s registration",
				 t->pid, membarrier_kinds[i].name);
			return (int)rv;
		}
	}
	core->has_membarrier_ready = true;
	core->membarrier_ready = ready;
	rv = a->membarrier_regs;
	if (rv == -EINVAL) {
		/* before 6.3 the global registration shows nowhere */
		pr_warn("task %d: this kernel does not report membarrier registrations; only the "
			"private expedited ones are saved",
			t->pid);
		return 0;
	}
	if (rv < 0) {
		pr_errno((int)-rv, "task %d: cannot read its membarrier registrations", t->pid);
		return (int)rv;
	}
	if (rv != membarrier_mask_of(ready, rv & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)) {
		pr_err("task %d: membarrier registrations %#lx with ready barriers %#x: a restore "
		       "cannot make them again exactly",
		       t->pid, rv, ready);
		return -ENOTSUP;
	}
	core->has_membarrier_registered = true;
	core->membarrier_registered = (uint32_t)rv;
	if (rv)
		pr_info("task %d: membarrier registrations %#lx", t->pid, rv);
	return 0;
}

static int read_u32(const char *path, uint32_t *v)
{
	char buf[32];
	*v = 0;
	if (read_file_at(-1, path, buf, sizeof(buf)) < 0)
		return errno ? -errno : -EIO;
	*v = (uint32_t)strtoul(buf, NULL, 10);
	return 0;
}

/* The audit login uid and session id. They are per thread in the kernel; a restore gives
 * every thread the process's (threads inherit them), so threads that differ are refused. */
static int dump_loginuid(struct dump_task *t)
{
	TaskCore *core = t->core;
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/loginuid", t->pid);
	if ((ret = read_u32(path, &core->loginuid)) == -ENOENT)
		return 0; /* a kernel without audit */
	snprintf(path, sizeof(path), "/proc/%d/sessionid", t->pid);
	if (ret || (ret = read_u32(path, &core->sessionid))) {
		pr_errno(-ret, "task %d: cannot read its audit login uid and session id", t->pid);
		return ret;
	}
	core->has_loginuid = core->has_sessionid = true;
	for (int k = 1; k < t->nr_threads; k++) {
		uint32_t uid, sid;
		pid_t tid = t->threads[k].tid;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/loginuid", t->pid, tid);
		if (!(ret = read_u32(path, &uid))) {
			snprintf(path, sizeof(path), "/proc/%d/task/%d/sessionid", t->pid, tid);
			ret = read_u32(path, &sid);
		}
		if (ret) {
			pr_errno(-ret, "thread %d of %d: cannot read its audit login uid", tid,
				 t->pid);
			return ret;
		}
		if (uid != core->loginuid || sid != core->sessionid) {
			pr_err(
			    "process %d, thread %d: audit login uid %u and session %u differ from "
			    "the process's (%u, session %u): not supported, a restore gives every "
			    "thread the process's",
			    t->pid, tid, uid, sid, core->loginuid, core->sessionid);
			return -ENOTSUP;
		}
	}
	return 0;
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
	/* per thread in the kernel (a thread may set it alone), one value per process here */
	for (int k = 1; k < t->nr_threads; k++)
		if (t->threads[k].status.no_new_privs != t->threads[0].status.no_new_privs) {
			pr_err("process %d, thread %d: no_new_privs %d, the main thread's is %d: "
			       "not supported, a restore sets one value for the process",
			       t->pid, t->threads[k].tid, t->threads[k].status.no_new_privs,
			       t->threads[0].status.no_new_privs);
			return -ENOTSUP;
		}
	core->umask = t->status.umask;
	core->exit_signal = t->stat.exit_signal;
	if ((rv = dump_membarrier(t)))
		return (int)rv;
	return dump_loginuid(t);
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
	/* only a state the thread can change (PR_SPEC_PRCTL) is its own choice */
	tc->spec_ctrl = arena_alloc(&ctx->arena, 3 * sizeof(*tc->spec_ctrl));
	if (!tc->spec_ctrl)
		return -ENOMEM;
	tc->n_spec_ctrl = 3;
	for (int w = 0; w < 3; w++) {
		long v = th->ans.spec_ctrl[w];
		tc->spec_ctrl[w] = v > 0 && (v & PR_SPEC_PRCTL) ? (uint32_t)v : 0;
	}

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

#define AUDIT_UNSET 4294967295u

/* The audit login uid, written by the task itself (the kernel allows no other writer), before
 * its children and threads exist, which inherit it, and before its credentials change
 * (writing a login uid that is set takes CAP_AUDIT_CONTROL). Writing one gives the task a new
 * session id: the dumped one cannot come back (the kernel has no way to set it). A task keeps
 * the pair it inherited when that is the dumped pair, or when its parent had the same pair
 * (then it shares the session id its parent got, as it shared it before); cryo warns of each
 * session id it could not restore (restore_task_attrs_outside). */
static int restore_loginuid_child(struct restore_ctx *ctx, struct restore_task *t)
{
	TaskCore *c = t->core, *pc = t->parent >= 0 ? ctx->tasks[t->parent].core : NULL;
	uint32_t uid, sid;
	char buf[16];
	int fd, n;

	if (!c->has_loginuid || !c->has_sessionid)
		return 0;
	if (read_u32("/proc/thread-self/loginuid", &uid) ||
	    read_u32("/proc/thread-self/sessionid", &sid)) {
		child_fail(t, errno, "cannot read its audit login uid (it had %u)", c->loginuid);
		return -1;
	}
	if (uid == c->loginuid && sid == c->sessionid)
		return 0;
	if (pc && pc->has_loginuid && pc->has_sessionid && pc->loginuid == c->loginuid &&
	    pc->sessionid == c->sessionid && uid == c->loginuid)
		return 0;
	n = snprintf(buf, sizeof(buf), "%u", c->loginuid);
	fd = open("/proc/thread-self/loginuid", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, n) != n) {
		child_fail(t, errno, "cannot set its audit login uid %u", c->loginuid);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* In the new task itself, before it stops. */
int restore_task_attrs_child(struct restore_ctx *ctx, struct restore_task *t)
{
	TaskCore *core = t->core;

	if (restore_loginuid_child(ctx, t))
		return -1;

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

/* Register again what the task had registered, then check the result as the dump saw it. */
static int restore_membarrier_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	TaskCore *c = t->core;
	struct remote *r = &t->rem;
	struct remote_batch b = {0};
	int reg[4], probe[3], regs = -1, n = 0, ret;
	bool global = c->has_membarrier_registered &&
		      (c->membarrier_registered & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);

	if (!c->has_membarrier_ready)
		return 0;
	if (c->membarrier_ready & ~(uint32_t)(membarrier_kinds[0].cmd | membarrier_kinds[1].cmd |
					      membarrier_kinds[2].cmd) ||
	    (c->has_membarrier_registered &&
	     c->membarrier_registered != membarrier_mask_of(c->membarrier_ready, global))) {
		pr_err("core-%d.img: membarrier registrations %#x, ready %#x: not a state the "
		       "kernel makes",
		       t->pid, c->membarrier_registered, c->membarrier_ready);
		return -EINVAL;
	}
	if (global)
		reg[n++] = batch_add(&b, __NR_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
				     0, 0, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		if (c->membarrier_ready & membarrier_kinds[i].cmd)
			reg[n++] =
			    batch_add(&b, __NR_membarrier, membarrier_kinds[i].reg, 0, 0, 0, 0, 0);
	if (!n)
		return 0;
	if (c->has_membarrier_registered)
		regs = batch_add(&b, __NR_membarrier, CRYO_MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0,
				 0, 0, 0);
	for (int i = 0; i < 3; i++)
		probe[i] = batch_add(&b, __NR_membarrier, membarrier_kinds[i].cmd, 0, 0, 0, 0, 0);
	if ((ret = remote_batch_run(r, &b)))
		return ret;
	for (int i = 0; i < n; i++)
		if (batch_result(&b, reg[i]) < 0) {
			pr_errno((int)-batch_result(&b, reg[i]),
				 "task %d: cannot register for membarrier (command %#lx)", t->pid,
				 b.e[reg[i]][0 + 1]);
			return (int)batch_result(&b, reg[i]);
		}
	for (int i = 0; i < 3; i++) {
		bool was = c->membarrier_ready & membarrier_kinds[i].cmd;
		if ((batch_result(&b, probe[i]) == 0) != was) {
			pr_err("task %d: membarrier %s %s after the restore, %s before", t->pid,
			       membarrier_kinds[i].name,
			       batch_result(&b, probe[i]) ? "fails" : "works",
			       was ? "worked" : "failed");
			return -EIO;
		}
	}
	if (regs >= 0 && batch_result(&b, regs) != (long)c->membarrier_registered) {
		pr_err("task %d: membarrier registrations %#lx after the restore, %#x before",
		       t->pid, batch_result(&b, regs), c->membarrier_registered);
		return -EIO;
	}
	return 0;
}

/* After the credentials: changing them resets the first two. */
int restore_task_attrs_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	long rv;
	int ret;

	if ((ret = restore_membarrier_remote(ctx, t)))
		return ret;

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
	int spec[3] = {-1, -1, -1};
	for (size_t w = 0; w < tc->n_spec_ctrl && w < 3; w++)
		if (tc->spec_ctrl[w] & PR_SPEC_PRCTL)
			spec[w] = batch_add(&b, __NR_prctl, PR_SET_SPECULATION_CTRL, w,
					    tc->spec_ctrl[w] & ~(uint32_t)PR_SPEC_PRCTL, 0, 0, 0);
	if ((ret = remote_batch_run(r, &b)))
		return ret;
	for (int w = 0; w < 3; w++)
		if (spec[w] >= 0 && batch_result(&b, spec[w]) < 0) {
			pr_errno((int)-batch_result(&b, spec[w]),
				 "thread %d: cannot set its speculation control %d to %#x", th->tid,
				 w, tc->spec_ctrl[w]);
			return (int)batch_result(&b, spec[w]);
		}
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

/* The login uid is the dumped one; the session id may not be: nothing is lost unsaid. */
static int check_loginuid(struct restore_task *t)
{
	TaskCore *c = t->core;
	uint32_t uid, sid;
	char path[64];
	int ret;

	if (!c->has_loginuid || !c->has_sessionid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/loginuid", t->pid);
	if (!(ret = read_u32(path, &uid))) {
		snprintf(path, sizeof(path), "/proc/%d/sessionid", t->pid);
		ret = read_u32(path, &sid);
	}
	if (ret) {
		pr_errno(-ret, "task %d: cannot read its audit login uid", t->pid);
		return ret;
	}
	if (uid != c->loginuid) {
		pr_err("task %d: audit login uid %u after the restore, %u before", t->pid, uid,
		       c->loginuid);
		return -EIO;
	}
	if (sid != c->sessionid)
		pr_warn("process %d: its audit session id was %u and is %u now (the kernel gives a "
			"new one with each login uid set, and no way to choose it)",
			t->pid, c->sessionid, sid);
	return 0;
}

/* From cryo, once the task's service descriptors are closed. */
int restore_task_attrs_outside(struct restore_ctx *ctx, struct restore_task *t)
{
	char path[64], buf[32];
	int ret;

	if ((ret = check_loginuid(t)))
		return ret;

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
