/* Signal state: dispositions, the blocked mask, pending signals and the alternate stack.
 *
 * Before the dump: handlers with SA_SIGINFO, SA_RESTART, SA_NODEFER, SA_RESETHAND, SA_ONSTACK
 * and sa_mask sets, an ignored signal, SA_NOCLDSTOP on SIGCHLD; several signals blocked, and
 * pending while blocked: SIGUSR1 (raise: thread-directed), SIGHUP (kill: process-wide),
 * SIGRTMIN+2 queued twice with different values, SIGRTMIN+5 thread-directed with a value,
 * SIGRTMAX with a value; an alternate stack with SS_AUTODISARM.
 * After: every disposition (handler, flags, restorer, mask, as the kernel has them) of every
 * signal, the blocked and pending sets, /proc/self/status Sig* lines and the alternate stack
 * are identical. Then the signals are unblocked: each pending one must be delivered exactly
 * once per queued instance, in order for the real-time ones, with its si_code and si_value,
 * SIGHUP on the alternate stack and with the handler's sa_mask in force. Finally SA_NODEFER
 * and SA_RESETHAND still work. */
// zt-run: gen2
#include "zt.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

struct kact {	/* the kernel's struct sigaction on x86-64 */
	uintptr_t handler;
	unsigned long flags;
	uintptr_t restorer;
	uint64_t mask;
};

#define NSIG_K 64
static struct kact act_before[NSIG_K + 1];
static char status_before[4096];

struct delivery {
	int sig, code, value;
	pid_t pid;
	bool on_altstack, sigint_blocked, self_blocked;
};
static struct delivery log_[32];
static volatile int nlog;

static char altstack[64 << 10];
static stack_t ss_before;

static void record(int sig, siginfo_t *si)
{
	struct delivery *d;
	sigset_t cur;
	char here;

	if (nlog >= (int)(sizeof(log_) / sizeof(log_[0])))
		return;
	d = &log_[nlog];
	sigprocmask(SIG_BLOCK, NULL, &cur);
	d->sig = sig;
	d->code = si ? si->si_code : 0;
	d->value = si ? si->si_value.sival_int : 0;
	d->pid = si ? si->si_pid : 0;
	d->on_altstack = &here >= altstack && &here < altstack + sizeof(altstack);
	d->sigint_blocked = sigismember(&cur, SIGINT);
	d->self_blocked = sigismember(&cur, sig);
	nlog = nlog + 1;
}

static void on_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	record(sig, si);
}

static void on_plain(int sig)
{
	record(sig, NULL);
}

static void set(int sig, void *handler, int flags, const int *mask_sigs)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	if (flags & SA_SIGINFO)
		sa.sa_sigaction = handler;
	else
		sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	for (; mask_sigs && *mask_sigs; mask_sigs++)
		sigaddset(&sa.sa_mask, *mask_sigs);
	if (sigaction(sig, &sa, NULL))
		zt_fail("sigaction %d: %m", sig);
}

static void get_all(struct kact *acts)
{
	for (int sig = 1; sig <= NSIG_K; sig++)
		if (syscall(SYS_rt_sigaction, sig, NULL, &acts[sig], 8))
			memset(&acts[sig], 0xff, sizeof(acts[sig]));
}

/* The status lines about signals, less SigQ whose first number counts queued signals
 * of the whole user (other processes' too). */
static void sig_status(char *out, size_t size)
{
	static const char *const keys[] = { "ShdPnd", "SigPnd", "SigBlk", "SigIgn", "SigCgt" };
	char buf[8192], v[128];
	size_t len = 0;

	out[0] = '\0';
	if (zt_read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (zt_status_field(buf, keys[i], v, sizeof(v)))
			len += snprintf(out + len, size - len, "%s: %s\n", keys[i], v);
}

static int count(int sig)
{
	int n = 0;
	for (int i = 0; i < nlog; i++)
		n += log_[i].sig == sig;
	return n;
}

static const struct delivery *find(int sig, int nth)
{
	for (int i = 0; i < nlog; i++)
		if (log_[i].sig == sig && nth-- == 0)
			return &log_[i];
	return NULL;
}

static void expect_delivery(int sig, int nth, int code, int value)
{
	const struct delivery *d = find(sig, nth);

	if (!zt_expect(d != NULL, "signal %d (#%d) not delivered", sig, nth + 1))
		return;
	zt_expect(d->code == code, "signal %d: si_code %d, expected %d", sig, d->code, code);
	if (value >= 0)
		zt_expect(d->value == value, "signal %d #%d: si_value %d, expected %d", sig,
			  nth + 1, d->value, value);
	zt_expect(d->pid == getpid(), "signal %d: si_pid %d", sig, d->pid);
}

/* sigset_t has room for 1024 signals, the kernel fills 64: compare those. */
static void expect_same_set(const char *what, const sigset_t *a, const sigset_t *b)
{
	for (int sig = 1; sig <= NSIG_K; sig++)
		zt_expect(sigismember(a, sig) == sigismember(b, sig), "%s set: signal %d %s", what,
			  sig, sigismember(b, sig) ? "added" : "missing");
}

int main(int argc, char **argv)
{
	const int mask_int[] = { SIGINT, 0 }, mask_rt[] = { SIGUSR2, SIGRTMIN + 3, 0 };
	int rt2 = SIGRTMIN + 2, rt5 = SIGRTMIN + 5, rtmax = SIGRTMAX;
	static struct kact act_after[NSIG_K + 1];
	static char status_after[4096];
	sigset_t block, blocked_before, pend_before, cur;
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = SS_AUTODISARM };
	siginfo_t si;
	union sigval v;

	zt_init(argc, argv);
	set(SIGUSR1, on_info, SA_SIGINFO | SA_RESTART, mask_int);
	set(SIGUSR2, on_plain, SA_NODEFER | SA_RESETHAND, NULL);
	set(SIGHUP, on_info, SA_SIGINFO | SA_ONSTACK, mask_int);
	set(SIGWINCH, on_plain, SA_RESTART, mask_rt);
	set(rt2, on_info, SA_SIGINFO, mask_rt);
	set(rt5, on_info, SA_SIGINFO | SA_RESTART, NULL);
	set(rtmax, on_info, SA_SIGINFO | SA_NODEFER, mask_int);
	set(SIGPIPE, SIG_IGN, 0, NULL);
	set(SIGCHLD, SIG_DFL, SA_NOCLDSTOP, NULL);
	if (sigaltstack(&ss, NULL))
		zt_fail("sigaltstack: %m");

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGINT);
	sigaddset(&block, rt2);
	sigaddset(&block, rt5);
	sigaddset(&block, rtmax);
	if (sigprocmask(SIG_BLOCK, &block, NULL))
		zt_fail("sigprocmask: %m");

	raise(SIGUSR1);
	kill(getpid(), SIGHUP);
	v.sival_int = 111;
	sigqueue(getpid(), rt2, v);
	v.sival_int = 222;
	sigqueue(getpid(), rt2, v);
	memset(&si, 0, sizeof(si));
	si.si_signo = rt5;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = 333;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), rt5, &si))
		zt_fail("rt_tgsigqueueinfo: %m");
	v.sival_int = 444;
	sigqueue(getpid(), rtmax, v);

	get_all(act_before);
	sigprocmask(SIG_BLOCK, NULL, &blocked_before);
	sigpending(&pend_before);
	sig_status(status_before, sizeof(status_before));
	sigaltstack(NULL, &ss_before);
	if (nlog)
		zt_fail("setup: a blocked signal was delivered");

	zt_ready();
	zt_wait_for_check();

	get_all(act_after);
	for (int sig = 1; sig <= NSIG_K; sig++) {
		const struct kact *a = &act_before[sig], *b = &act_after[sig];
		zt_expect(!memcmp(a, b, sizeof(*a)),
			  "signal %d: handler %#lx flags %#lx restorer %#lx mask %#lx, was "
			  "%#lx %#lx %#lx %#lx",
			  sig, b->handler, b->flags, b->restorer, b->mask, a->handler, a->flags,
			  a->restorer, a->mask);
	}
	sigprocmask(SIG_BLOCK, NULL, &cur);
	expect_same_set("blocked", &blocked_before, &cur);
	sigpending(&cur);
	expect_same_set("pending", &pend_before, &cur);
	sig_status(status_after, sizeof(status_after));
	zt_expect_same_text("status", status_before, status_after);
	sigaltstack(NULL, &ss);
	zt_expect(ss.ss_sp == ss_before.ss_sp && ss.ss_size == ss_before.ss_size &&
			  ss.ss_flags == ss_before.ss_flags,
		  "sigaltstack %p/%zu/%#x, was %p/%zu/%#x", ss.ss_sp, ss.ss_size, ss.ss_flags,
		  ss_before.ss_sp, ss_before.ss_size, ss_before.ss_flags);

	/* Deliver what is pending, one signal at a time: unblocked together, their frames
	 * would nest, and with SS_AUTODISARM the first frame disarms the altstack for the
	 * others, which is the kernel's business, not the restorer's. */
	for (int sig = 1; sig <= NSIG_K; sig++) {
		sigset_t one;
		if (sig == SIGKILL || sig == SIGSTOP || !sigismember(&pend_before, sig))
			continue;
		sigemptyset(&one);
		sigaddset(&one, sig);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
	}
	sigemptyset(&cur);
	sigprocmask(SIG_SETMASK, &cur, NULL);
	for (int i = 0; i < nlog; i++)
		zt_log("delivered %d, si_code %d, si_value %d%s", log_[i].sig, log_[i].code,
		       log_[i].value, log_[i].on_altstack ? ", on the altstack" : "");
	zt_expect(nlog == 6, "%d signals delivered, expected 6", nlog);
	zt_expect(count(SIGUSR1) == 1, "SIGUSR1 delivered %d times", count(SIGUSR1));
	zt_expect(count(SIGHUP) == 1, "SIGHUP delivered %d times", count(SIGHUP));
	zt_expect(count(rt2) == 2, "SIGRTMIN+2 delivered %d times", count(rt2));
	zt_expect(count(rt5) == 1, "SIGRTMIN+5 delivered %d times", count(rt5));
	zt_expect(count(rtmax) == 1, "SIGRTMAX delivered %d times", count(rtmax));
	expect_delivery(SIGUSR1, 0, SI_TKILL, -1);
	expect_delivery(SIGHUP, 0, SI_USER, -1);
	expect_delivery(rt2, 0, SI_QUEUE, 111);
	expect_delivery(rt2, 1, SI_QUEUE, 222);
	expect_delivery(rt5, 0, SI_QUEUE, 333);
	expect_delivery(rtmax, 0, SI_QUEUE, 444);
	if (find(SIGUSR1, 0))
		zt_expect(find(SIGUSR1, 0)->sigint_blocked && find(SIGUSR1, 0)->self_blocked,
			  "SIGUSR1 handler ran without its sa_mask or without itself blocked");
	if (find(SIGHUP, 0))
		zt_expect(find(SIGHUP, 0)->on_altstack, "SIGHUP handler not on the altstack");
	if (find(rtmax, 0))
		zt_expect(!find(rtmax, 0)->self_blocked, "SA_NODEFER lost on SIGRTMAX");
	if (find(rt2, 0))
		zt_expect(!find(rt2, 0)->on_altstack, "SIGRTMIN+2 ran on the altstack");

	/* SA_NODEFER | SA_RESETHAND on SIGUSR2: runs unblocked, then the default is back. */
	nlog = 0;
	raise(SIGUSR2);
	zt_expect(nlog == 1 && log_[0].sig == SIGUSR2 && !log_[0].self_blocked,
		  "SIGUSR2 (SA_NODEFER) not delivered as it should");
	get_all(act_after);
	zt_expect(act_after[SIGUSR2].handler == (uintptr_t)SIG_DFL,
		  "SA_RESETHAND did not reset SIGUSR2");
	/* The altstack is still armed after its first use. */
	nlog = 0;
	raise(SIGHUP);
	zt_expect(nlog == 1 && log_[0].on_altstack, "second SIGHUP not on the altstack");
	zt_pass();
}
