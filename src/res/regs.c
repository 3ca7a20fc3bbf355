/* CPU state of a thread (x86_64): general registers with fs/gs base, and the whole XSAVE area
 * (x87, SSE, AVX, AVX-512...). A thread frozen inside a system call is given back to the
 * program as the kernel would after a signal: restarted, or failed with EINTR where the
 * kernel's own restart record cannot be carried over. */
#include <elf.h>
#include <errno.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"

#define XSTATE_MAX (64 * 1024)

static void regs_to_image(const struct user_regs_struct *r, X86Regs *m)
{
	m->r15 = r->r15, m->r14 = r->r14, m->r13 = r->r13, m->r12 = r->r12;
	m->bp = r->rbp, m->bx = r->rbx, m->r11 = r->r11, m->r10 = r->r10;
	m->r9 = r->r9, m->r8 = r->r8, m->ax = r->rax, m->cx = r->rcx;
	m->dx = r->rdx, m->si = r->rsi, m->di = r->rdi, m->orig_ax = r->orig_rax;
	m->ip = r->rip, m->cs = r->cs, m->flags = r->eflags, m->sp = r->rsp;
	m->ss = r->ss, m->fs_base = r->fs_base, m->gs_base = r->gs_base;
	m->ds = r->ds, m->es = r->es, m->fs = r->fs, m->gs = r->gs;
}

static void regs_from_image(const X86Regs *m, struct user_regs_struct *r)
{
	r->r15 = m->r15, r->r14 = m->r14, r->r13 = m->r13, r->r12 = m->r12;
	r->rbp = m->bp, r->rbx = m->bx, r->r11 = m->r11, r->r10 = m->r10;
	r->r9 = m->r9, r->r8 = m->r8, r->rax = m->ax, r->rcx = m->cx;
	r->rdx = m->dx, r->rsi = m->si, r->rdi = m->di, r->orig_rax = m->orig_ax;
	r->rip = m->ip, r->cs = m->cs, r->eflags = m->flags, r->rsp = m->sp;
	r->ss = m->ss, r->fs_base = m->fs_base, r->gs_base = m->gs_base;
	r->ds = m->ds, r->es = m->es, r->fs = m->fs, r->gs = m->gs;
}

/* A restored task resumes from a stop inside the kernel's signal code, with the registers it
 * had when it was frozen: leaving that stop, the kernel restarts an interrupted call, or fails
 * it with EINTR if a signal handler runs first, as it would have done in the original task.
 * Only -ERESTART_RESTARTBLOCK needs help: it relies on a restart record inside the kernel's
 * task, which a new task does not have. It becomes -ERESTARTNOHAND, which makes the same call
 * again with the same registers (a program may rely on them): a relative sleep, poll or futex
 * wait starts its timeout anew, so it can wait longer than it asked, never wake early. */
void regs_fixup_restart(struct user_regs_struct *r)
{
	if ((long)r->orig_rax >= 0 && (long)r->rax == -CRYO_ERESTART_RESTARTBLOCK)
		r->rax = (unsigned long)-CRYO_ERESTARTNOHAND;
}

int dump_regs(struct dump_ctx *ctx, struct dump_task *t, struct dump_thread *th)
{
	static uint8_t xbuf[XSTATE_MAX];
	struct iovec iov = {xbuf, sizeof(xbuf)};
	ThreadCore *tc = th->tc;
	pid_t tid = th->tid;

	tc->regs = A_NEW(&ctx->arena, X86Regs, X86_REGS);
	if (!tc->regs)
		return -ENOMEM;
	regs_to_image(&th->rem->regs, tc->regs);
	/* a restart_syscall is saved as the call it continues (restart.c) */
	int ret = restart_resolve(&th->seen, &th->rem->regs, tid, &tc->regs->orig_ax);
	if (ret)
		return ret;
	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) < 0) {
		int err = errno;
		pr_errno(err, "cannot read the extended FPU state (xstate) of task %d", tid);
		return -err;
	}
	tc->xstate.len = iov.iov_len;
	tc->xstate.data = arena_memdup(&ctx->arena, xbuf, iov.iov_len);
	if (!tc->xstate.data)
		return -ENOMEM;
	pr_info("task %d: registers, ip %#lx, %zu bytes of xstate", tid, tc->regs->ip, iov.iov_len);
	return 0;
}

int restore_regs(struct restore_ctx *ctx, struct restore_task *t, struct restore_thread *th)
{
	ThreadCore *tc = th->tc;
	struct user_regs_struct regs;
	struct iovec iov = {tc->xstate.data, tc->xstate.len};

	regs_from_image(tc->regs, &regs);
	regs_fixup_restart(&regs);
	/* user code and stack segments are the only ones a 64-bit task runs with */
	if (regs.cs != 0x33 || regs.ss != 0x2b) {
		pr_err(
		    "thread %d: image has segment registers cs=%#llx ss=%#llx: not a 64-bit task",
		    th->tid, regs.cs, regs.ss);
		return -EINVAL;
	}
	if (ptrace(PTRACE_SETREGSET, th->tid, NT_X86_XSTATE, &iov) < 0) {
		int err = errno;
		pr_errno(err, "thread %d: cannot set the extended FPU state (%zu bytes)", th->tid,
			 (size_t)tc->xstate.len);
		return -err;
	}
	if (ptrace(PTRACE_SETREGS, th->tid, 0, &regs) < 0) {
		int err = errno;
		pr_errno(err, "thread %d: cannot set registers", th->tid);
		return -err;
	}
	pr_info("thread %d: registers set, ip %#llx", th->tid, regs.rip);
	return 0;
}
