#include "remote/remote.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "core/fault.h"
#include "core/log.h"
#include "core/util.h"
#include "remote/guard.h"

static const uint8_t syscall_insn[] = {0x0f, 0x05, 0xcc}; /* syscall; int3 */
#define BATCH_CODE_OFF 16
extern const uint8_t cryo_batch_code[], cryo_batch_code_end[];

int wait_stopped(pid_t tid, int *sig, int *event)
{
	int status;
	for (;;) {
		pid_t w = waitpid(tid, &status, __WALL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		break;
	}
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		pr_info("task %d died while under control (%s %d)", tid,
			WIFEXITED(status) ? "exit code" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -ESRCH;
	}
	*sig = WSTOPSIG(status);
	*event = (unsigned)status >> 16;
	return 0;
}

int ptrace_seize_stop(pid_t tid, unsigned long options)
{
	return ptrace_seize_stop_sig(tid, options, NULL);
}

int ptrace_seize_stop_sig(pid_t tid, unsigned long options, int *stop_sig)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, options) < 0)
		return -errno;
	return ptrace_stop_wait(tid, stop_sig);
}

/* wait_stopped, giving up at deadline (CLOCK_MONOTONIC ns): the stop's SIGCHLD, blocked
 * meanwhile so that it stays pending, ends each wait, which is also bounded to 10 ms (the
 * signal may be taken by another thread). A task in an uninterruptible sleep (a vfork parent,
 * I/O) stops only when the sleep ends: this is what bounds the freeze (--timeout). */
static int wait_stopped_until(pid_t tid, int *sig, int *event, uint64_t deadline)
{
	sigset_t chld, old;
	int status = 0, ret = 0;

	if (!deadline)
		return wait_stopped(tid, sig, event);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old);
	for (;;) {
		pid_t w = waitpid(tid, &status, __WALL | WNOHANG);
		if (w < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		if (w == tid)
			break;
		uint64_t now = now_ns();
		if (now >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		uint64_t left = deadline - now < 10000000 ? deadline - now : 10000000;
		struct timespec ts = {0, (long)left};
		sigtimedwait(&chld, NULL, &ts);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return ret;
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		pr_info("task %d died while under control (%s %d)", tid,
			WIFEXITED(status) ? "exit code" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -ESRCH;
	}
	*sig = WSTOPSIG(status);
	*event = (unsigned)status >> 16;
	return 0;
}

int ptrace_stop_wait(pid_t tid, int *stop_sig)
{
	return ptrace_stop_wait_until(tid, stop_sig, 0);
}

int ptrace_stop_wait_until(pid_t tid, int *stop_sig, uint64_t deadline)
{
	int sig, event, ret;

	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return -errno;
	/* wait for the interrupt stop itself; a signal-delivery stop may come first (below) */
	for (;;) {
		ret = wait_stopped_until(tid, &sig, &event, deadline);
		if (ret)
			return ret;
		if (event == PTRACE_EVENT_STOP) {
			if (stop_sig)
				*stop_sig = sig;
			return 0;
		}
		/* Another stop came first (a signal's delivery, most often). Any stop consumes
		 * the pending interrupt, so ask again before leaving this one, or a task that
		 * keeps receiving signals would never stop where cryo waits: the interrupt stop
		 * then comes before the next signal is taken. The signal itself would be lost if
		 * suppressed: it is handed back (its handler's frame is set up, and runs once the
		 * task is released). */
		if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 ||
		    ptrace(PTRACE_CONT, tid, 0, event ? 0 : sig) < 0)
			return -errno;
	}
}

/* One limit of the task: " (NAME, LIMIT, is N KiB and it has M KiB: the area needs K KiB)"
 * into why when mapping need bytes more would pass it, else nothing */
static void over_limit(pid_t tid, int res, const char *name, const char *field, size_t need,
		       char *why, size_t len)
{
	struct rlimit rl;
	char path[64], line[128];
	unsigned long kb = 0;
	FILE *f;

	if (prlimit(tid, res, NULL, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return;
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)) &&
		    sscanf(line + strlen(field), " %lu", &kb) == 1)
			break;
	fclose(f);
	if (kb * 1024 + need > rl.rlim_cur)
		snprintf(why, len,
			 " (its %s, %s, is %lu KiB and it has %lu KiB: the area needs %zu KiB "
			 "more; cryo does not raise a task's limits)",
			 name, res == RLIMIT_AS ? "RLIMIT_AS" : "RLIMIT_DATA",
			 (unsigned long)(rl.rlim_cur / 1024), kb, need / 1024);
}

void remote_area_why(pid_t tid, int err, size_t need, char *why, size_t len)
{
	why[0] = 0;
	if (err == EPERM || err == EACCES) {
		snprintf(why, len,
			 " (a task that denies itself memory both writable and executable, "
			 "PR_SET_MDWE, is not supported yet)");
	} else if (err == ENOMEM) {
		over_limit(tid, RLIMIT_AS, "address-space limit", "VmSize:", need, why, len);
		if (!why[0])
			over_limit(tid, RLIMIT_DATA, "data limit", "VmData:", need, why, len);
	}
}

int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec l = {(void *)buf, len}, rv = {(void *)addr, len};
	ssize_t n = process_vm_writev(pid, &l, 1, &rv, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = {buf, len}, rv = {(void *)addr, len};
	ssize_t n = process_vm_readv(pid, &l, 1, &rv, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* The calls that run with a temporary mask and leave the thread's own one aside in the
 * kernel (TIF_RESTORE_SIGMASK), to be put back on the way out to user space: stopped in one
 * of them, the mask ptrace reads is the temporary one, and ptrace setting a mask would drop
 * the one kept aside. */
static bool swaps_signal_mask(long nr)
{
	switch (nr) {
	case __NR_rt_sigsuspend:
	case __NR_ppoll:
	case __NR_pselect6:
	case __NR_epoll_pwait:
	case __NR_epoll_pwait2:
	case __NR_io_pgetevents:
	case __NR_io_uring_enter:
		return true;
	default:
		return false;
	}
}

int remote_init(struct remote *r, pid_t tid)
{
	memset(r, 0, sizeof(*r));
	r->tid = tid;
	if (ptrace(PTRACE_GETREGS, tid, 0, &r->regs) < 0) {
		int err = errno;
		pr_errno(err, "cannot read registers of task %d", tid);
		return -err;
	}
	if (!swaps_signal_mask((long)r->regs.orig_rax) &&
	    ptrace(PTRACE_GETSIGMASK, tid, sizeof(r->mask), &r->mask) == 0)
		r->mask_own_at_stop = true;
	return 0;
}

/* At most this many signals are kept aside in one thread; more is a signal storm that cryo
 * cannot tell from a livelock (a sender outside the tree that never stops). */
#define STOLEN_MAX 4096

/* A signal that the stolen ones already stand for, as the kernel itself would merge it had
 * it stayed pending: a standard signal already there (the second is dropped), or one more
 * expiry of a POSIX timer whose signal is there (counted as an overrun). */
static bool merge_stolen(struct remote *r, const siginfo_t *si)
{
	for (int i = 0; i < r->nr_stolen; i++) {
		siginfo_t *old = (siginfo_t *)r->stolen[i].info;
		if (old->si_signo != si->si_signo)
			continue;
		if (si->si_code == SI_TIMER && old->si_code == SI_TIMER &&
		    old->si_timerid == si->si_timerid) {
			old->si_overrun += 1 + si->si_overrun;
			return true;
		}
		if (si->si_signo < SIGRTMIN)
			return true;
	}
	return false;
}

/* A signal was dequeued for delivery before the call ran (it arrived just then, while the
 * task's mask was still its own): keep its siginfo and suppress it for now. */
static int steal_signal(struct remote *r, int sig, int event)
{
	/* SIGSTOP cannot be blocked: queued again in the task, it would stop the next call.
	 * Its siginfo reaches nobody (it has no handler): the stop is handed over at the detach
	 * (remote_release) and saved in the images (dump.c) instead. */
	if (sig == SIGSTOP && !event) {
		r->stop_arrived = true;
		pr_info("task %d: SIGSTOP arrived during the freeze; the task stops when released",
			r->tid);
		return 0;
	}
	if (event) {
		pr_err("task %d: unexpected stop (signal %d, event %d) in a remote call", r->tid,
		       sig, event);
		return -EIO;
	}
	struct stolen_signal got = {0};
	if (ptrace(PTRACE_GETSIGINFO, r->tid, 0, got.info) < 0)
		return -errno;
	if (merge_stolen(r, (const siginfo_t *)got.info))
		return 0;
	if (r->nr_stolen == r->room_stolen) {
		int room = r->room_stolen ? r->room_stolen * 2 : 8;
		if (room > STOLEN_MAX) {
			pr_err(
			    "task %d: more than %d signals arrived during remote calls (signal %d "
			    "last): a sender that never stops",
			    r->tid, STOLEN_MAX, sig);
			return -EIO;
		}
		struct stolen_signal *more = realloc(r->stolen, room * sizeof(*more));
		if (!more)
			return -ENOMEM;
		r->stolen = more;
		r->room_stolen = room;
	}
	r->stolen[r->nr_stolen++] = got;
	pr_debug("task %d: signal %d arrived during the freeze; it stays pending", r->tid, sig);
	return 0;
}

void remote_forget_stolen(struct remote *r)
{
	free(r->stolen);
	r->stolen = NULL;
	r->nr_stolen = r->room_stolen = 0;
}

int remote_requeue_signals(struct remote *r)
{
	int kept = 0;
	for (int i = 0; i < r->nr_stolen; i++) {
		int sig;
		memcpy(&sig, r->stolen[i].info, sizeof(sig));
		/* queued now, the stop signal would end the next call: kept for remote_release */
		if (r->guarded && sig == r->stop_sig) {
			r->stolen[kept++] = r->stolen[i];
			continue;
		}
		int ret = remote_write(r->tid, remote_scratch(r), r->stolen[i].info,
				       sizeof(r->stolen[i].info));
		if (ret)
			return ret;
		long rv = rsys4(r, __NR_rt_tgsigqueueinfo, r->tid, r->tid, sig, remote_scratch(r));
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot queue signal %d again", r->tid, sig);
			return (int)rv;
		}
	}
	r->nr_stolen = kept;
	return 0;
}

static int run_wait(struct remote *r, struct user_regs_struct *regs);

/* Signals taken out of the way, one after the other, before one call could start: more is a
 * flood that never leaves the thread a gap (timers firing every few microseconds). */
#define STORM_STEALS 20000

static void storm_error(const struct remote *r, int sig)
{
	pr_err("task %d: %d signals in a row (signal %d last) before a remote call could start: "
	       "they arrive faster than cryo can take them out of the way%s",
	       r->tid, STORM_STEALS, sig,
	       r->mask_own_at_stop ? ""
				   : ", and the thread, stopped in a call with a signal mask of "
				     "its own (sigsuspend, ppoll, pselect, epoll_pwait...), cannot "
				     "have them blocked first");
}

/* Run the task with `regs` set up for the call and wait until the call is done. */
int remote_run(struct remote *r, struct user_regs_struct *regs)
{
	int sig, event, ret, traps = 0, steals = 0;

	if ((ret = fault_point("remote: before a call", EIO)))
		return ret;
	if (ptrace(PTRACE_SETREGS, r->tid, 0, regs) < 0)
		return -errno;
	fault_point("remote: registers set for a call", 0);
	r->at_signal_stop = false;
	if (r->stop_mode) {
		for (int stop = 0; stop < 2; stop++) {
			if (ptrace(PTRACE_SYSCALL, r->tid, 0, 0) < 0)
				return -errno;
			fault_point("remote: a call runs (stop mode)", 0);
			ret = wait_stopped(r->tid, &sig, &event);
			if (ret)
				return ret;
			if (event == PTRACE_EVENT_CLONE ||
			    (event == PTRACE_EVENT_STOP && ++traps < 8)) {
				stop--;
			} else if (sig != (SIGTRAP | 0x80)) {
				if (++steals > STORM_STEALS) {
					storm_error(r, sig);
					return -EBUSY;
				}
				ret = steal_signal(r, sig, event);
				if (ret)
					return ret;
				stop--; /* the syscall stop is still to come */
			}
		}
	} else {
		if (ptrace(PTRACE_CONT, r->tid, 0, 0) < 0)
			return -errno;
		fault_point("remote: a call runs", 0);
		return run_wait(r, regs);
	}
	r->at_syscall_exit = r->stop_mode;
	if (ptrace(PTRACE_GETREGS, r->tid, 0, regs) < 0)
		return -errno;
	return 0;
}

/* Guarded: is this delivery stop of the stop signal the end of the call? The thread's own
 * tgkill says so; the same signal from someone else is kept for later (and when it merged
 * with ours, the call has ended all the same). */
static int guarded_end(struct remote *r, int sig, bool *done)
{
	siginfo_t si;
	*done = false;
	if (ptrace(PTRACE_GETSIGINFO, r->tid, 0, &si) < 0)
		return -errno;
	if (si.si_code == SI_TKILL && si.si_pid == r->tgid) {
		*done = true;
		return 0;
	}
	int ret = steal_signal(r, sig, 0);
	if (ret)
		return ret;
	struct user_regs_struct now;
	if (ptrace(PTRACE_GETREGS, r->tid, 0, &now) < 0)
		return -errno;
	*done = now.rip == guard_entry(r, GUARD_RECOVER);
	return 0;
}

/* Trap mode: the task runs; wait for the int3 (guarded: the stop signal) that ends the
 * call(s). */
static int run_wait(struct remote *r, struct user_regs_struct *regs)
{
	int sig, event, ret, traps = 0;

	for (;;) {
		ret = wait_stopped(r->tid, &sig, &event);
		if (ret)
			return ret;
		if (r->guarded && sig == r->stop_sig && !event) {
			bool done;
			if ((ret = guarded_end(r, sig, &done)))
				return ret;
			if (done) {
				r->at_signal_stop = true;
				break;
			}
			if (ptrace(PTRACE_CONT, r->tid, 0, 0) < 0)
				return -errno;
			continue;
		}
		if (!r->guarded && sig == SIGTRAP && !event)
			break;
		/* a thread being created, or (a task stopped by job control) the trap of a pending
		 * interrupt: the call goes on; a signal that just arrived is kept for later */
		if (!(event == PTRACE_EVENT_CLONE || (event == PTRACE_EVENT_STOP && ++traps < 8)) &&
		    (ret = steal_signal(r, sig, event)))
			return ret;
		if (ptrace(PTRACE_CONT, r->tid, 0, 0) < 0)
			return -errno;
	}
	r->at_syscall_exit = false;
	fault_point("remote: a call ended", 0);
	if (ptrace(PTRACE_GETREGS, r->tid, 0, regs) < 0)
		return -errno;
	return 0;
}

/* What the guarded code expects in the registers of every call (guard.S). */
static void guard_regs(const struct remote *r, struct user_regs_struct *regs)
{
	regs->rsp = r->stack_top;
	regs->r12 = (unsigned long)r->tgid;
	regs->r13 = (unsigned long)r->tid;
	regs->r14 = r->frame + 8;
	regs->r15 = (unsigned long)r->stop_sig;
}

static long call_at(struct remote *r, uint64_t ip, long nr, const long a[6])
{
	struct user_regs_struct regs = r->regs;
	int ret;

	if (r->err)
		return r->err;
	regs.rip = ip;
	regs.rax = nr;
	/* the task's own stack may be gone (restore) or must not be touched (dump) */
	if (r->area)
		regs.rsp = r->area + r->area_size - 256;
	if (r->guarded) {
		regs.rip = guard_entry(r, r->stop_mode ? GUARD_SYS : GUARD_CALL);
		guard_regs(r, &regs);
	}
	/* -1: no syscall to restart when the task leaves its current stop */
	regs.orig_rax = (unsigned long)-1;
	regs.rdi = a[0];
	regs.rsi = a[1];
	regs.rdx = a[2];
	regs.r10 = a[3];
	regs.r8 = a[4];
	regs.r9 = a[5];
	ret = remote_run(r, &regs);
	if (ret) {
		pr_errno(-ret, "remote system call %ld in task %d failed", nr, r->tid);
		r->err = ret == -ESRCH ? ret : -EIO;
		return r->err;
	}
	/* guarded in trap mode, the call's result was moved aside: the stop's own tgkill
	 * returned in rax (guard_code.S) */
	if (r->guarded && !r->stop_mode)
		return (long)regs.rbx;
	return (long)regs.rax;
}

long remote_syscall(struct remote *r, long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	const long a[6] = {a1, a2, a3, a4, a5, a6};
	long ret;
	if (!r->area) {
		pr_err("task %d: remote call without an area", r->tid);
		return -EINVAL;
	}
	ret = call_at(r, r->area, nr, a);
	pr_debug("  task %d: syscall %ld(%#lx, %#lx, %#lx, ...) = %ld", r->tid, nr, a1, a2, a3,
		 ret);
	return ret;
}

int batch_add(struct remote_batch *b, long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	if (b->n == BATCH_MAX)
		return -1;
	long *e = b->e[b->n];
	e[0] = nr, e[1] = a1, e[2] = a2, e[3] = a3, e[4] = a4, e[5] = a5, e[6] = a6;
	e[7] = -ENOSYS;
	b->result_to[b->n] = NULL;
	return b->n++;
}

int batch_ask(struct remote_batch *b, long *result, long nr, long a1, long a2, long a3, long a4,
	      long a5, long a6)
{
	int i = batch_add(b, nr, a1, a2, a3, a4, a5, a6);
	*result = -ENOSYS;
	if (i < 0)
		b->out_overflow = true;
	else
		b->result_to[i] = result;
	return i;
}

uint64_t batch_out(struct remote_batch *b, const struct remote *r, void *dst, size_t len)
{
	uint64_t at = remote_batch_data(r) + b->out_used;
	size_t room = remote_scratch_size(r) - (remote_batch_data(r) - remote_scratch(r));
	if (b->nr_out == BATCH_MAX || b->out_used + len > room) {
		b->out_overflow = true;
		return remote_batch_data(r);
	}
	b->out_local[b->nr_out] = (struct iovec){dst, len};
	b->out_remote[b->nr_out] = (struct iovec){(void *)at, len};
	b->nr_out++;
	b->out_used = (b->out_used + len + 7) & ~(size_t)7;
	return at;
}

static int batch_copy_out(struct remote *r, struct remote_batch *b)
{
	size_t total = 0;
	for (int i = 0; i < b->n; i++)
		if (b->result_to[i])
			*b->result_to[i] = b->e[i][7];
	if (!b->nr_out)
		return 0;
	for (int i = 0; i < b->nr_out; i++)
		total += b->out_local[i].iov_len;
	ssize_t got =
	    process_vm_readv(r->tid, b->out_local, b->nr_out, b->out_remote, b->nr_out, 0);
	if (got != (ssize_t)total) {
		int err = got < 0 ? errno : EFAULT;
		pr_errno(err, "task %d: cannot read the results of a batch of remote calls",
			 r->tid);
		return -err;
	}
	return 0;
}

int remote_batch_start(struct remote *r, struct remote_batch *b)
{
	uint64_t table = r->area + REMOTE_CODE_SIZE;
	const long end = -1;
	int ret;

	b->running = false;
	if (b->out_overflow) {
		pr_err("task %d: a batch of remote calls does not fit its area", r->tid);
		return -E2BIG;
	}
	if (!b->n)
		return 0;
	if (r->stop_mode) {
		/* no int3 may end the loop: one call at a time, now */
		for (int i = 0; i < b->n; i++)
			b->e[i][7] = remote_syscall(r, b->e[i][0], b->e[i][1], b->e[i][2],
						    b->e[i][3], b->e[i][4], b->e[i][5], b->e[i][6]);
		return r->err;
	}
	if (r->err)
		return r->err;
	ret = remote_write(r->tid, table, b->e, b->n * sizeof(b->e[0]));
	if (!ret)
		ret = remote_write(r->tid, table + b->n * sizeof(b->e[0]), &end, sizeof(end));
	if (ret)
		return ret;
	b->regs = r->regs;
	b->regs.rip = r->area + BATCH_CODE_OFF;
	b->regs.orig_rax = (unsigned long)-1;
	b->regs.rbx = table;
	b->regs.rsp = r->area + r->area_size - 256;
	if (r->guarded) {
		b->regs.rip = guard_entry(r, GUARD_BATCH);
		guard_regs(r, &b->regs);
	}
	if (ptrace(PTRACE_SETREGS, r->tid, 0, &b->regs) < 0 ||
	    ptrace(PTRACE_CONT, r->tid, 0, 0) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot start a batch of remote calls", r->tid);
		r->err = -EIO;
		return r->err;
	}
	b->running = true;
	fault_point("remote: a batch runs", 0);
	return 0;
}

int remote_batch_wait(struct remote *r, struct remote_batch *b)
{
	uint64_t table = r->area + REMOTE_CODE_SIZE;
	int ret;

	if (!b->running)
		return r->err ? r->err : batch_copy_out(r, b);
	b->running = false;
	ret = run_wait(r, &b->regs);
	if (!ret)
		ret = remote_read(r->tid, table, b->e, b->n * sizeof(b->e[0]));
	if (ret) {
		pr_errno(-ret, "task %d: a batch of %d remote calls failed", r->tid, b->n);
		r->err = ret == -ESRCH ? ret : -EIO;
		return r->err;
	}
	pr_debug("  task %d: batch of %d calls", r->tid, b->n);
	return batch_copy_out(r, b);
}

int remote_batch_run(struct remote *r, struct remote_batch *b)
{
	int ret = remote_batch_start(r, b);
	return ret ? ret : remote_batch_wait(r, b);
}

int remote_map_area(struct remote *r, uint64_t exec_addr)
{
	long saved, patched, addr;
	const long args[6] = {0,
			      REMOTE_AREA_SIZE + (long)r->guard_slot * r->guard_slots,
			      PROT_READ | PROT_WRITE | PROT_EXEC,
			      MAP_PRIVATE | MAP_ANONYMOUS,
			      -1,
			      0};
	int ret;

	errno = 0;
	saved = ptrace(PTRACE_PEEKDATA, r->tid, exec_addr, 0);
	if (errno) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot read code at %#lx", r->tid, exec_addr);
		return ret;
	}
	patched = saved;
	memcpy(&patched, syscall_insn, sizeof(syscall_insn));
	if (ptrace(PTRACE_POKEDATA, r->tid, exec_addr, patched) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot place a syscall instruction at %#lx", r->tid,
			 exec_addr);
		return ret;
	}
	addr = call_at(r, exec_addr, __NR_mmap, args);
	if (ptrace(PTRACE_POKEDATA, r->tid, exec_addr, saved) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot restore code at %#lx", r->tid, exec_addr);
		return ret;
	}
	if (addr < 0 && addr > -4096) {
		char why[256];
		remote_area_why(r->tid, (int)-addr, (size_t)args[1], why, sizeof(why));
		pr_errno((int)-addr, "task %d: cannot map the remote-call area%s", r->tid, why);
		return (int)addr;
	}
	r->area = addr;
	r->area_size = REMOTE_AREA_SIZE + r->guard_slot * r->guard_slots;
	r->area_ours = true;
	ret = remote_write(r->tid, r->area, syscall_insn, sizeof(syscall_insn));
	if (!ret)
		ret = remote_write(r->tid, r->area + BATCH_CODE_OFF, cryo_batch_code,
				   cryo_batch_code_end - cryo_batch_code);
	if (!ret)
		ret = remote_write(r->tid, r->area + GUARD_CODE_OFF, cryo_guard_code,
				   cryo_guard_code_end - cryo_guard_code);
	if (ret) {
		pr_errno(-ret, "task %d: cannot write into the remote-call area", r->tid);
		return ret;
	}
	pr_debug("task %d: remote-call area at %#lx", r->tid, r->area);
	return 0;
}

void remote_area_fill(uint8_t *area)
{
	memcpy(area, syscall_insn, sizeof(syscall_insn));
	memcpy(area + BATCH_CODE_OFF, cryo_batch_code, cryo_batch_code_end - cryo_batch_code);
}

void remote_use_area(struct remote *r, uint64_t area, uint64_t size)
{
	r->area = area;
	r->area_size = size;
	r->area_ours = false;
}

int remote_unmap_area(struct remote *r)
{
	long ret = 0;
	if (r->guarded && r->area && r->area_ours && !r->err) {
		ret = remote_guard_unmap_area(r);
		if (ret != -ENOENT && ret != -ENOSPC)
			return (int)ret;
		ret = 0; /* no spot to borrow: from the area itself, unguarded for a moment */
	}
	if (r->area && r->area_ours && !r->err) {
		/* the int3 after the syscall is gone with the area: stop at syscall exit */
		bool mode = r->stop_mode;
		r->stop_mode = true;
		ret = rsys2(r, __NR_munmap, r->area, r->area_size);
		r->stop_mode = mode;
		if (ret < 0)
			pr_errno((int)-ret, "task %d: cannot unmap the remote-call area", r->tid);
	}
	r->area = 0;
	if (!ret)
		ret = remote_park(r);
	if (ptrace(PTRACE_SETREGS, r->tid, 0, &r->regs) < 0 && !ret)
		ret = -errno;
	return (int)ret;
}

int remote_park(struct remote *r)
{
	int sig, event, ret;

	/* After a call in stop mode the task sits at a syscall exit, where the kernel does not
	 * look at restart codes again. Trap it in the signal code instead: leaving that stop is
	 * where the kernel restarts an interrupted call, or fails it with EINTR if a handler
	 * runs, exactly as for any signal. */
	if (!r->at_syscall_exit && !r->at_signal_stop)
		return 0;
	if (ptrace(PTRACE_INTERRUPT, r->tid, 0, 0) < 0 || ptrace(PTRACE_CONT, r->tid, 0, 0) < 0)
		return -errno;
	fault_point("remote: parking", 0);
	for (;;) {
		ret = wait_stopped(r->tid, &sig, &event);
		if (ret)
			return ret;
		if (event == PTRACE_EVENT_STOP)
			break;
		if (!event) {
			/* a signal stop is in the signal code too; the signal (only SIGSTOP can
			 * get through the blocked mask) goes with the detach */
			r->park_sig = sig;
			break;
		}
		if (ptrace(PTRACE_CONT, r->tid, 0, 0) < 0)
			return -errno;
	}
	r->at_syscall_exit = false;
	r->at_signal_stop = false;
	return 0;
}

int remote_guard_block_signals(struct remote *r)
{
	uint64_t others = ~(1ull << (r->stop_sig - 1));
	if (r->mask_own_at_stop) {
		/* Blocked by ptrace, without a call: a thread flooded with signals would take
		 * one after the other on its way to the call and never get there. First the
		 * registers of a thread whose next step is the rt_sigreturn on its frame (written
		 * with this same mask), so that a cryo that dies now leaves it its own mask. */
		struct user_regs_struct regs = r->regs;
		regs.rip = guard_entry(r, GUARD_RECOVER);
		regs.orig_rax = (unsigned long)-1;
		guard_regs(r, &regs);
		if (ptrace(PTRACE_SETREGS, r->tid, 0, &regs) < 0 ||
		    ptrace(PTRACE_SETSIGMASK, r->tid, sizeof(others), &others) < 0)
			return -errno;
		fault_point("remote: signals blocked by ptrace", 0);
		r->blocked_early = true;
		r->mask_known = true;
		return 0;
	}
	bool mode = r->stop_mode;
	long rv;
	int ret = remote_write(r->tid, remote_scratch(r), &others, sizeof(others));
	if (ret)
		return ret;
	/* in stop mode: the stop signal may be blocked by the thread's own mask until now */
	r->stop_mode = true;
	rv = rsys4(r, __NR_rt_sigprocmask, SIG_SETMASK, remote_scratch(r),
		   r->frame + guard_mask_offset(), 8);
	r->stop_mode = mode;
	if (rv < 0)
		return (int)rv;
	ret = remote_read(r->tid, r->frame + guard_mask_offset(), &r->mask, sizeof(r->mask));
	if (ret)
		return ret;
	r->mask_known = true;
	return 0;
}

int remote_release(struct remote *r)
{
	int ret = 0;
	if (!r->tid)
		return 0;
	if (r->guarded && r->nr_stolen && r->area && !r->err) {
		/* the stop signal kept aside: queued while it is blocked, calls in stop mode */
		uint64_t all = ~0ull;
		bool mode = r->stop_mode;
		if (ptrace(PTRACE_SETSIGMASK, r->tid, sizeof(all), &all) == 0) {
			r->stop_mode = true;
			for (int i = 0; i < r->nr_stolen; i++) {
				int sig;
				memcpy(&sig, r->stolen[i].info, sizeof(sig));
				if (remote_write(r->tid, remote_scratch(r), r->stolen[i].info,
						 sizeof(r->stolen[i].info)) == 0)
					rsys4(r, __NR_rt_tgsigqueueinfo, r->tgid, r->tid, sig,
					      remote_scratch(r));
			}
			r->nr_stolen = 0;
			r->stop_mode = mode;
		}
	}
	remote_forget_stolen(r);
	if (!r->err)
		ret = remote_park(r);
	if (r->stop_arrived && !r->park_sig)
		r->park_sig = SIGSTOP;
	/* the mask first: until the registers are the thread's own, leaving the stop goes
	 * through its frame, which sets the mask anyway */
	fault_point("remote: releasing a thread", 0);
	if (r->mask_known && ptrace(PTRACE_SETSIGMASK, r->tid, sizeof(r->mask), &r->mask) < 0 &&
	    !ret)
		ret = -errno;
	fault_point("remote: mask put back", 0);
	if (ptrace(PTRACE_SETREGS, r->tid, 0, &r->regs) < 0 && !ret)
		ret = -errno;
	return ret;
}
