/* Signals: dispositions (handler, flags, mask, restorer), the blocked mask, pending signals
 * with their siginfo (thread-private and process-shared), and the alternate signal stack.
 * Dispositions and the altstack can only be read and set from inside the task: remote calls. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"

#define SIGINFO_SIZE 128

static int dump_pending(struct dump_ctx *ctx, pid_t tid, bool shared, Siginfo ***out, size_t *n)
{
	uint8_t buf[32 * SIGINFO_SIZE];
	struct cryo_peeksiginfo_args args = {
	    .off = 0, .flags = shared ? CRYO_PEEKSIGINFO_SHARED : 0, .nr = 32};

	for (;;) {
		long got = ptrace(PTRACE_PEEKSIGINFO, tid, &args, buf);
		if (got < 0) {
			int err = errno;
			pr_errno(err, "cannot read pending signals of task %d", tid);
			return -err;
		}
		if (got == 0)
			return 0;
		for (long i = 0; i < got; i++) {
			Siginfo *si = A_NEW(&ctx->arena, Siginfo, SIGINFO);
			if (!si)
				return -ENOMEM;
			si->raw.len = SIGINFO_SIZE;
			si->raw.data =
			    arena_memdup(&ctx->arena, buf + i * SIGINFO_SIZE, SIGINFO_SIZE);
			if (!si->raw.data || !dump_push(ctx, (void ***)out, n, si))
				return -ENOMEM;
			pr_info("task %d: pending %s signal %d", tid, shared ? "shared" : "private",
				*(int *)(buf + i * SIGINFO_SIZE));
		}
		args.off += got;
	}
}

/* Dispositions can only be read from inside: rt_sigaction(sig, NULL, &old). */
void signals_ask(struct remote_batch *b, struct dump_task *t)
{
	struct task_answers *a = &t->ans;
	for (int sig = 1; sig <= NSIG_KERNEL; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			batch_ask(
			    b, &a->sigaction_rv[sig], __NR_rt_sigaction, sig, 0,
			    batch_out(b, &t->rem, &a->sigactions[sig], sizeof(a->sigactions[0])), 8,
			    0, 0);
}

void signals_ask_thread(struct remote_batch *b, struct dump_thread *th)
{
	struct thread_answers *a = &th->ans;
	batch_ask(b, &a->altstack_rv, __NR_sigaltstack, 0,
		  batch_out(b, th->rem, &a->altstack, sizeof(a->altstack)), 0, 0, 0, 0);
}

/* Per process: dispositions and the shared pending signals. */
int dump_sigactions(struct dump_ctx *ctx, struct dump_task *t)
{
	const struct task_answers *a = &t->ans;
	TaskCore *core = t->core;

	for (int sig = 1; sig <= NSIG_KERNEL; sig++) {
		struct kernel_sigaction ka = a->sigactions[sig];
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		long rv = a->sigaction_rv[sig];
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot read the action of signal %d", t->pid,
				 sig);
			return (int)rv;
		}
		if (!ka.handler && !ka.flags && !ka.mask && !ka.restorer)
			continue; /* default, as a new task has it */
		SigactionEntry *e = A_NEW(&ctx->arena, SigactionEntry, SIGACTION_ENTRY);
		if (!e)
			return -ENOMEM;
		e->signo = sig;
		e->handler = ka.handler;
		e->flags = ka.flags;
		e->restorer = ka.restorer;
		e->mask = ka.mask;
		if (!DUMP_PUSH(ctx, core->sigactions, core->n_sigactions, e))
			return -ENOMEM;
		pr_info("task %d: signal %d handler %#lx flags %#lx", t->pid, sig, ka.handler,
			ka.flags);
	}
	return dump_pending(ctx, t->pid, true, &core->shared_pending, &core->n_shared_pending);
}

/* Per thread: the blocked mask, the alternate stack, the private pending signals. */
int dump_thread_signals(struct dump_ctx *ctx, struct dump_task *t, struct dump_thread *th)
{
	const struct kernel_stack ss = th->ans.altstack;
	ThreadCore *tc = th->tc;

	(void)t;
	if (th->ans.altstack_rv < 0) {
		pr_errno((int)-th->ans.altstack_rv,
			 "thread %d: cannot read the alternate signal stack", th->tid);
		return (int)th->ans.altstack_rv;
	}
	tc->altstack_sp = ss.sp;
	tc->altstack_size = ss.size;
	tc->altstack_flags = (uint32_t)ss.flags;
	tc->blocked = th->blocked;
	return dump_pending(ctx, th->tid, false, &tc->pending, &tc->n_pending);
}

int restore_signals_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	uint64_t scratch = remote_scratch(r);
	TaskCore *core = t->core;
	bool own_sigtrap = false;
	int ret;

	/* Every disposition is set, the default ones too: the new task is a copy of cryo and
	 * has cryo's (handlers of a sanitizer, signals ignored by whoever started cryo...). */
	struct kernel_sigaction acts[NSIG_KERNEL + 1];
	struct remote_batch b = {0};
	uint64_t data = remote_batch_data(r);
	int idx[NSIG_KERNEL + 1];

	memset(acts, 0, sizeof(acts));
	for (size_t i = 0; i < core->n_sigactions; i++) {
		SigactionEntry *e = core->sigactions[i];
		if (e->signo < 1 || e->signo > NSIG_KERNEL || e->signo == SIGKILL ||
		    e->signo == SIGSTOP) {
			pr_err("core-%d.img: invalid signal number %u", t->pid, e->signo);
			return -EINVAL;
		}
		acts[e->signo] =
		    (struct kernel_sigaction){e->handler, e->flags, e->restorer, e->mask};
		if (e->signo == SIGTRAP)
			own_sigtrap = true;
	}
	ret = remote_write(t->pid, data, acts, sizeof(acts));
	if (ret)
		return ret;
	for (int sig = 1; sig <= NSIG_KERNEL; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && !(sig == SIGTRAP && own_sigtrap))
			idx[sig] = batch_add(&b, __NR_rt_sigaction, sig,
					     data + sig * sizeof(acts[0]), 0, 8, 0, 0);
	ret = remote_batch_run(r, &b);
	if (ret)
		return ret;
	for (int sig = 1; sig <= NSIG_KERNEL; sig++) {
		long rv;
		if (sig == SIGKILL || sig == SIGSTOP || (sig == SIGTRAP && own_sigtrap))
			continue;
		rv = batch_result(&b, idx[sig]);
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot set the action of signal %d", t->pid,
				 sig);
			return (int)rv;
		}
	}
	/* remote calls in trap mode need SIGTRAP at its default: set the task's own last and
	 * leave trap mode */
	for (size_t i = 0; own_sigtrap && i < core->n_sigactions; i++) {
		SigactionEntry *e = core->sigactions[i];
		struct kernel_sigaction ka = {e->handler, e->flags, e->restorer, e->mask};
		if (e->signo != SIGTRAP)
			continue;
		r->stop_mode = true;
		ret = remote_write(t->pid, scratch, &ka, sizeof(ka));
		if (ret)
			return ret;
		long rv = rsys4(r, __NR_rt_sigaction, SIGTRAP, scratch, 0, 8);
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot set the action of SIGTRAP", t->pid);
			return (int)rv;
		}
	}

	return 0;
}

int restore_altstack_remote(struct restore_ctx *ctx, struct restore_task *t,
			    struct restore_thread *th)
{
	ThreadCore *tc = th->tc;
	uint64_t scratch = remote_scratch(th->rem);
	int ret;

	/* always: a new thread of a copy of cryo may have cryo's */
	{
		struct kernel_stack ss = {tc->altstack_sp,
					  (int32_t)(tc->altstack_flags & ~SS_ONSTACK), 0,
					  tc->altstack_size};
		if (tc->altstack_flags & SS_DISABLE)
			ss = (struct kernel_stack){0, SS_DISABLE, 0, 0};
		ret = remote_write(t->pid, scratch, &ss, sizeof(ss));
		if (ret)
			return ret;
		long rv = rsys2(th->rem, __NR_sigaltstack, scratch, 0);
		if (rv < 0) {
			pr_errno((int)-rv,
				 "thread %d: cannot set the alternate signal stack %#lx+%lu",
				 th->tid, tc->altstack_sp, tc->altstack_size);
			return (int)rv;
		}
	}
	return 0;
}

static int queue_pending(struct restore_task *t, pid_t tid, Siginfo *si, bool shared)
{
	struct remote *r = &t->rem;
	uint64_t scratch = remote_scratch(r);
	int signo, ret;
	long rv;

	if (si->raw.len != SIGINFO_SIZE) {
		pr_err("core-%d.img: a pending signal's siginfo has %zu bytes, not %d", t->pid,
		       (size_t)si->raw.len, SIGINFO_SIZE);
		return -EINVAL;
	}
	memcpy(&signo, si->raw.data, sizeof(signo));
	if (signo < 1 || signo > NSIG_KERNEL) {
		pr_err("core-%d.img: pending signal with invalid number %d", t->pid, signo);
		return -EINVAL;
	}
	ret = remote_write(t->pid, scratch, si->raw.data, SIGINFO_SIZE);
	if (ret)
		return ret;
	/* sent by the task to itself, so any si_code is accepted */
	if (shared)
		rv = rsys3(r, __NR_rt_sigqueueinfo, t->pid, signo, scratch);
	else
		rv = rsys4(r, __NR_rt_tgsigqueueinfo, t->pid, tid, signo, scratch);
	if (rv < 0) {
		pr_errno((int)-rv, "task %d: cannot queue pending signal %d", t->pid, signo);
		return (int)rv;
	}
	return 0;
}

int restore_pending_signals_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	int ret;
	for (int k = 0; k < t->nr_threads; k++)
		for (size_t i = 0; i < t->threads[k].tc->n_pending; i++)
			if ((ret = queue_pending(t, t->threads[k].tid, t->threads[k].tc->pending[i],
						 false)))
				return ret;
	for (size_t i = 0; i < t->core->n_shared_pending; i++)
		if ((ret = queue_pending(t, t->pid, t->core->shared_pending[i], true)))
			return ret;
	return 0;
}
