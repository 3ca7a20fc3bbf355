/* A process with four threads besides the main one, each with state of its own, each dumped
 * in a different place:
 *
 *   tb-futex    blocked in FUTEX_WAIT (raw syscall, no timeout)
 *   tb-sleep    in a loop of 300 ms nanosleep()s (raw syscall)
 *   tb-spin     in an asm busy loop holding 10 general purpose and 2 xmm registers
 *   tb-sigsusp  in rt_sigsuspend() waiting for a thread-directed SIGUSR1
 *   tb-main     in zt's sigsuspend() loop
 *
 * The raw system calls are made with 11 general purpose registers loaded with values of the
 * thread's own (rbx, rdx, rsi, rdi, r8-r10, r12-r15), which the kernel preserves across a
 * system call, and checked after every return: a thread restored with another thread's
 * registers, or a restart that clobbers them, is noticed.
 *
 * Checked in every thread after the check, by the thread itself: its TID (gettid), that
 * /proc/self/task holds exactly the five TIDs, its name (PR_GET_NAME and /proc comm), its
 * blocked signal mask (pthread_sigmask and SigBlk in /proc/thread-self/status), its
 * sigaltstack (address, size, flags: plain, SS_AUTODISARM, disabled), its TLS (initialised
 * and assigned __thread variables, a 512 byte pattern, the fs base, pthread_self()), and that
 * its blocked call went on correctly: the futex wait woken only by the wake, each nanosleep
 * returning 0 after at least 300 ms (an EINTR would be a lost restart: no signal is delivered
 * to that thread), the spin loop's registers intact, and the sigsuspend returning EINTR for
 * SIGUSR1 whose handler ran on that thread's alternate stack, with the real mask back after.
 * Pending signals: each thread has a real-time signal queued to it alone (blocked by it,
 * rt_tgsigqueueinfo with a value of its own), and the process one queued to it (blocked by
 * all): each thread's SigPnd shows only its own, ShdPnd the process's, and each thread takes
 * its own with sigtimedwait and gets its value; the main thread takes the process's last.
 * And glibc's registrations of each thread with the kernel: its rseq area (still registered
 * with the same length, and cpu_id still updated by the kernel) and its robust list head;
 * the clear_child_tid address shows in pthread_join() returning at the end.
 * Before the threads are told to check, the main thread also checks each blocked thread is
 * in its system call again (/proc/self/task/TID/syscall).
 * Also run in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <asm/prctl.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* glibc's headers lack it; the kernel's uapi value. */
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

enum { T_MAIN, T_FUTEX, T_SLEEP, T_SPIN, T_SUSPEND, NT };

static const char *const names[NT] = { "tb-main", "tb-futex", "tb-sleep", "tb-spin",
				       "tb-sigsusp" };

/* What each thread set up, recorded by itself before ready. */
struct tstate {
	pid_t tid;
	pthread_t self;
	unsigned long fsbase;
	unsigned long long blocked;	/* bit n-1 = signal n */
	stack_t alt;			/* as sigaltstack() reported it */
	void *rseq;			/* the thread's rseq area, registered by glibc */
	unsigned int rseq_len;		/* the length the kernel has for it */
	void *robust;			/* the thread's robust list head */
	size_t robust_len;
};
static struct tstate st[NT];
static pthread_t threads[NT];

/* Alternate stacks of different sizes, one per thread. */
static char altstacks[NT][96 << 10];
static const size_t alt_size[NT] = { 64 << 10, 68 << 10, 72 << 10, 76 << 10, 80 << 10 };

/* TLS: one variable only ever initialised, the rest assigned per thread. */
static __thread unsigned long tls_untouched = 0x7e1a5eedUL;
static __thread unsigned long tls_word = 0x1234;
static __thread int tls_index = -1;
static __thread unsigned char tls_buf[512];
static __thread volatile sig_atomic_t tls_usr1;
static __thread void *volatile tls_handler_sp;
static __thread volatile int tls_handler_onstack;

static int futex_word;		/* tb-futex waits while 0 */
static volatile uint64_t spin_count;
static volatile int spin_stop;

#define SEED(i) (0x5eed000000000000ULL + 0x1111111111ULL * ((i) + 1))

/* Pending signals: one queued to each thread (SIGRTMIN + 1 + i, value 100 + i, blocked by
 * that thread only) and one to the process (blocked by all). */
#define SIG_SHARED (SIGRTMIN + 10)
#define SIG_THREAD(i) (SIGRTMIN + 1 + (i))
#define BIT(sig) (1ULL << ((sig) - 1))

/* --- raw system calls with registers of our own ----------------------------------------- */

/* Makes the system call with rbx, r8, r9, r12-r15 set from seed and rdi, rsi, rdx, r10 the
 * arguments, and returns a bitmask of the registers that were not preserved in *bad. */
static long syscall_keep(long nr, long a1, long a2, long a3, long a4, uint64_t seed, int *bad)
{
	register long rax __asm__("rax") = nr;
	register long rdi __asm__("rdi") = a1;
	register long rsi __asm__("rsi") = a2;
	register long rdx __asm__("rdx") = a3;
	register long r10 __asm__("r10") = a4;
	register uint64_t r8 __asm__("r8") = seed ^ 0x08;
	register uint64_t r9 __asm__("r9") = seed ^ 0x09;
	register uint64_t rbx __asm__("rbx") = seed ^ 0x0b;
	register uint64_t r12 __asm__("r12") = seed ^ 0x12;
	register uint64_t r13 __asm__("r13") = seed ^ 0x13;
	register uint64_t r14 __asm__("r14") = seed ^ 0x14;
	register uint64_t r15 __asm__("r15") = seed ^ 0x15;

	__asm__ volatile("syscall"
			 : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx), "+r"(r10), "+r"(r8),
			   "+r"(r9), "+r"(rbx), "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15)
			 :
			 : "rcx", "r11", "memory");
	*bad = (rdi != a1) << 0 | (rsi != a2) << 1 | (rdx != a3) << 2 | (r10 != a4) << 3 |
	       (r8 != (seed ^ 0x08)) << 4 | (r9 != (seed ^ 0x09)) << 5 |
	       (rbx != (seed ^ 0x0b)) << 6 | (r12 != (seed ^ 0x12)) << 7 |
	       (r13 != (seed ^ 0x13)) << 8 | (r14 != (seed ^ 0x14)) << 9 |
	       (r15 != (seed ^ 0x15)) << 10;
	return rax;
}

/* rdi = stop (int *), rsi = counter (uint64_t *), rdx = seed. Holds rbx, rbp, r8-r15 at
 * seed ^ K and xmm0 = seed, xmm1 = ~seed, checks them every round, counts rounds; returns 0
 * when stopped, or the number of the register found wrong. */
uint64_t spin_hold(volatile int *stop, volatile uint64_t *count, uint64_t seed);
#define SPIN_CHECK(reg, k, code)                                                                   \
	"	mov %rdx, %rax\n"                                                                    \
	"	xor $" #k ", %rax\n"                                                                 \
	"	cmp %rax, " reg "\n"                                                                 \
	"	mov $" #code ", %eax\n"                                                              \
	"	jne 8f\n"
#define SPIN_SET(reg, k)                                                                           \
	"	mov %rdx, " reg "\n"                                                                 \
	"	xor $" #k ", " reg "\n"
__asm__(".text\n"
	".globl spin_hold\n"
	".type spin_hold, @function\n"
	"spin_hold:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	SPIN_SET("%rbx", 0x31)
	SPIN_SET("%rbp", 0x32)
	SPIN_SET("%r8", 0x33)
	SPIN_SET("%r9", 0x34)
	SPIN_SET("%r10", 0x35)
	SPIN_SET("%r11", 0x36)
	SPIN_SET("%r12", 0x37)
	SPIN_SET("%r13", 0x38)
	SPIN_SET("%r14", 0x39)
	SPIN_SET("%r15", 0x3a)
	"	movq %rdx, %xmm0\n"
	"	mov %rdx, %rax\n"
	"	not %rax\n"
	"	movq %rax, %xmm1\n"
	"1:\n"
	SPIN_CHECK("%rbx", 0x31, 1)
	SPIN_CHECK("%rbp", 0x32, 2)
	SPIN_CHECK("%r8", 0x33, 3)
	SPIN_CHECK("%r9", 0x34, 4)
	SPIN_CHECK("%r10", 0x35, 5)
	SPIN_CHECK("%r11", 0x36, 6)
	SPIN_CHECK("%r12", 0x37, 7)
	SPIN_CHECK("%r13", 0x38, 8)
	SPIN_CHECK("%r14", 0x39, 9)
	SPIN_CHECK("%r15", 0x3a, 10)
	"	movq %xmm0, %rax\n"
	"	cmp %rdx, %rax\n"
	"	mov $11, %eax\n"
	"	jne 8f\n"
	"	movq %xmm1, %rax\n"
	"	not %rax\n"
	"	cmp %rdx, %rax\n"
	"	mov $12, %eax\n"
	"	jne 8f\n"
	"	addq $1, (%rsi)\n"
	"	mov (%rdi), %eax\n"
	"	test %eax, %eax\n"
	"	jz 1b\n"
	"	xor %eax, %eax\n"
	"8:\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".size spin_hold, .-spin_hold\n");

/* --- per-thread state -------------------------------------------------------------------- */

static void *rseq_area(void)
{
	return (char *)__builtin_thread_pointer() + __rseq_offset;
}

/* The length of the thread's rseq registration: registering the same area again with the
 * same length and signature fails with EBUSY (another length gives EINVAL). 0: none. */
static unsigned int rseq_registered_len(void)
{
	const unsigned int lens[] = { __rseq_size, 32, 20 };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		if (lens[i] && syscall(SYS_rseq, rseq_area(), lens[i], 0, RSEQ_SIG) < 0 &&
		    errno == EBUSY)
			return lens[i];
	return 0;
}

/* The kernel still updates the thread's rseq area: poison cpu_id, get scheduled out and
 * back, see it fixed. */
static bool rseq_updated(void)
{
	volatile struct rseq *rs = rseq_area();
	struct timespec ms1 = { .tv_sec = 0, .tv_nsec = 1000 * 1000 };

	for (int tries = 0; tries < 20; tries++) {
		rs->cpu_id = 0xfffffff0U;
		nanosleep(&ms1, NULL);
		if (rs->cpu_id != 0xfffffff0U && (int)rs->cpu_id == sched_getcpu())
			return true;
	}
	return false;
}

static unsigned long get_fsbase(void)
{
	unsigned long base = 0;

	syscall(SYS_arch_prctl, ARCH_GET_FS, &base);
	return base;
}

/* The signals each thread blocks. Workers also block SIGTERM: the check request is meant
 * for the main thread, and a process-directed signal goes to any thread not blocking it. */
static void thread_mask(int i, sigset_t *set)
{
	sigemptyset(set);
	switch (i) {
	case T_MAIN:
		sigaddset(set, SIGHUP);
		sigaddset(set, SIGRTMIN + 1);
		break;
	case T_FUTEX:
		sigaddset(set, SIGUSR2);
		sigaddset(set, SIGRTMIN + 2);
		break;
	case T_SLEEP:
		sigaddset(set, SIGQUIT);
		sigaddset(set, SIGRTMIN + 3);
		sigaddset(set, SIGRTMAX);
		break;
	case T_SPIN:
		sigaddset(set, SIGPIPE);
		sigaddset(set, SIGRTMIN + 4);
		break;
	case T_SUSPEND:
		sigaddset(set, SIGUSR1);	/* only let through by sigsuspend */
		sigaddset(set, SIGWINCH);
		sigaddset(set, SIGRTMIN + 5);
		break;
	}
	if (i != T_MAIN)
		sigaddset(set, SIGTERM);
	/* Blocked everywhere: a signal queued to the process stays pending for it. */
	sigaddset(set, SIG_SHARED);
}

static void fill_tls(int i)
{
	tls_index = i;
	tls_word = SEED(i) ^ 0xabcdef;
	for (size_t b = 0; b < sizeof(tls_buf); b++)
		tls_buf[b] = (unsigned char)(b * 7 + i * 31 + 1);
}

/* Name, mask, altstack and TLS of thread i; recorded in st[i]. Failures go to slot i. */
static void setup_thread(int i)
{
	sigset_t set;
	stack_t ss = { .ss_sp = altstacks[i], .ss_size = alt_size[i] };

	if (prctl(PR_SET_NAME, names[i]))
		zt_tree_expect(i, false, "setup: PR_SET_NAME: %m");
	thread_mask(i, &set);
	if (pthread_sigmask(SIG_SETMASK, &set, NULL))
		zt_tree_expect(i, false, "setup: pthread_sigmask failed");
	if (i == T_SLEEP)
		ss.ss_flags = SS_AUTODISARM;
	if (i == T_SPIN)
		ss.ss_flags = SS_DISABLE;
	if (sigaltstack(&ss, NULL))
		zt_tree_expect(i, false, "setup: sigaltstack: %m");
	fill_tls(i);

	st[i].tid = gettid();
	st[i].self = pthread_self();
	st[i].fsbase = get_fsbase();
	pthread_sigmask(SIG_BLOCK, NULL, &set);
	st[i].blocked = zt_sigset_bits(&set);
	sigaltstack(NULL, &st[i].alt);
	st[i].rseq = rseq_area();
	st[i].rseq_len = rseq_registered_len();
	if (!st[i].rseq_len)
		zt_tree_expect(i, false, "setup: no rseq registration found");
	if (syscall(SYS_get_robust_list, 0, &st[i].robust, &st[i].robust_len))
		zt_tree_expect(i, false, "setup: get_robust_list: %m");
}

/* The thread's own pending signal is still its own (SigPnd), the process's is still the
 * process's (ShdPnd); taking ours gives the value it was queued with. */
static void check_pending(int i)
{
	struct timespec zero = { 0, 0 };
	long long pnd, shd;
	siginfo_t si;
	sigset_t set;
	int sig;

	pnd = zt_status_sigmask("/proc/thread-self/status", "SigPnd");
	shd = zt_status_sigmask("/proc/thread-self/status", "ShdPnd");
	zt_tree_expect(i, pnd == (long long)BIT(SIG_THREAD(i)),
		       "SigPnd %#llx, expected only its own signal %d (%#llx)", pnd, SIG_THREAD(i),
		       BIT(SIG_THREAD(i)));
	zt_tree_expect(i, shd == (long long)BIT(SIG_SHARED), "ShdPnd %#llx, expected %#llx", shd,
		       BIT(SIG_SHARED));
	sigemptyset(&set);
	sigaddset(&set, SIG_THREAD(i));
	memset(&si, 0, sizeof(si));
	sig = sigtimedwait(&set, &si, &zero);
	zt_tree_expect(i, sig == SIG_THREAD(i) && si.si_code == SI_QUEUE &&
				  si.si_value.sival_int == 100 + i && si.si_pid == getpid(),
		       "took signal %d code %d value %d pid %d, expected %d SI_QUEUE %d %d", sig,
		       si.si_code, si.si_value.sival_int, si.si_pid, SIG_THREAD(i), 100 + i,
		       getpid());
	pnd = zt_status_sigmask("/proc/thread-self/status", "SigPnd");
	zt_tree_expect(i, pnd == 0, "SigPnd %#llx after taking the signal", pnd);
}

/* Last, by the main thread once all have looked: the process's pending signal. */
static void take_shared_pending(void)
{
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIG_SHARED);
	memset(&si, 0, sizeof(si));
	sig = sigtimedwait(&set, &si, &zero);
	zt_expect(sig == SIG_SHARED && si.si_code == SI_QUEUE && si.si_value.sival_int == 77,
		  "process signal: took %d code %d value %d, expected %d SI_QUEUE 77", sig,
		  si.si_code, si.si_value.sival_int, SIG_SHARED);
}

/* glibc's per-thread registrations with the kernel: rseq and the robust list. */
static void check_registrations(int i)
{
	void *head = NULL;
	size_t len = 0;

	zt_tree_expect(i, rseq_area() == st[i].rseq, "rseq area %p, was %p", rseq_area(),
		       st[i].rseq);
	zt_tree_expect(i, rseq_registered_len() == st[i].rseq_len,
		       "rseq registration (length %u) lost: found %u", st[i].rseq_len,
		       rseq_registered_len());
	zt_tree_expect(i, rseq_updated(), "the kernel no longer updates the thread's rseq cpu_id");
	syscall(SYS_get_robust_list, 0, &head, &len);
	zt_tree_expect(i, head == st[i].robust && len == st[i].robust_len,
		       "robust list %p/%zu, was %p/%zu", head, len, st[i].robust, st[i].robust_len);
}

/* Everything a thread checks about itself after the check, whatever it was doing. */
static void check_thread(int i)
{
	char name[32] = "", comm[64], path[64];
	sigset_t set;
	stack_t ss;
	long long blk;
	size_t b;

	zt_tree_expect(i, gettid() == st[i].tid, "gettid %d, was %d", gettid(), st[i].tid);
	zt_tree_expect(i, pthread_equal(pthread_self(), st[i].self), "pthread_self changed");
	zt_tree_expect(i, get_fsbase() == st[i].fsbase, "fs base %#lx, was %#lx", get_fsbase(),
		       st[i].fsbase);

	prctl(PR_GET_NAME, name);
	zt_tree_expect(i, !strcmp(name, names[i]), "PR_GET_NAME '%s'", name);
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", gettid());
	if (zt_read_file(path, comm, sizeof(comm)) < 0)
		comm[0] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	zt_tree_expect(i, !strcmp(comm, names[i]), "%s is '%s'", path, comm);

	pthread_sigmask(SIG_BLOCK, NULL, &set);
	zt_tree_expect(i, zt_sigset_bits(&set) == st[i].blocked, "blocked mask %#llx, was %#llx",
		       zt_sigset_bits(&set), st[i].blocked);
	blk = zt_status_sigmask("/proc/thread-self/status", "SigBlk");
	zt_tree_expect(i, blk == (long long)st[i].blocked, "SigBlk %#llx, was %#llx", blk,
		       st[i].blocked);

	sigaltstack(NULL, &ss);
	if (st[i].alt.ss_flags & SS_DISABLE)
		zt_tree_expect(i, ss.ss_flags == SS_DISABLE, "altstack flags %#x, was disabled",
			       ss.ss_flags);
	else
		zt_tree_expect(i, ss.ss_sp == st[i].alt.ss_sp && ss.ss_size == st[i].alt.ss_size &&
				       ss.ss_flags == st[i].alt.ss_flags,
			       "altstack %p/%zu/%#x, was %p/%zu/%#x", ss.ss_sp, ss.ss_size,
			       ss.ss_flags, st[i].alt.ss_sp, st[i].alt.ss_size, st[i].alt.ss_flags);

	zt_tree_expect(i, tls_index == i, "TLS index %d", tls_index);
	zt_tree_expect(i, tls_untouched == 0x7e1a5eedUL, "untouched TLS %#lx", tls_untouched);
	zt_tree_expect(i, tls_word == (SEED(i) ^ 0xabcdef), "TLS word %#lx", tls_word);
	for (b = 0; b < sizeof(tls_buf); b++)
		if (tls_buf[b] != (unsigned char)(b * 7 + i * 31 + 1))
			break;
	zt_tree_expect(i, b == sizeof(tls_buf), "TLS buffer differs at byte %zu", b);
	check_pending(i);
	check_registrations(i);
}

/* --- the threads ------------------------------------------------------------------------- */

static void on_usr1(int sig)
{
	stack_t ss;
	char here;

	(void)sig;
	tls_handler_sp = &here;
	sigaltstack(NULL, &ss);
	tls_handler_onstack = !!(ss.ss_flags & SS_ONSTACK);
	tls_usr1 = 1;
}

/* EINTR where no handler ran on the thread: the restart of the call was lost. */
static const char *eintr_note(long ret)
{
	return ret == -EINTR ? " (EINTR: no signal was delivered, lost restart)" : "";
}

static void *futex_thread(void *arg)
{
	int i = T_FUTEX, bad, rounds = 0;
	long ret;

	(void)arg;
	setup_thread(i);
	zt_tree_ready(i, names[i]);
	while (!__atomic_load_n(&futex_word, __ATOMIC_ACQUIRE)) {
		ret = syscall_keep(SYS_futex, (long)&futex_word, FUTEX_WAIT_PRIVATE, 0, 0, SEED(i),
				   &bad);
		rounds++;
		zt_tree_expect(i, bad == 0, "registers %#x changed across futex wait", bad);
		zt_tree_expect(i, ret == 0 || ret == -EAGAIN, "futex wait returned %ld%s", ret,
			       eintr_note(ret));
		if (bad || (ret != 0 && ret != -EAGAIN))
			break;
	}
	zt_tree_expect(i, zt_tree_go_requested(), "woken before the check (%d rounds)", rounds);
	check_thread(i);
	zt_tree_done(i);
	return NULL;
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void *sleep_thread(void *arg)
{
	int i = T_SLEEP, bad, rounds = 0;
	struct timespec req = { .tv_sec = 0, .tv_nsec = 300 * 1000 * 1000 }, rem;
	long long t0, dt;
	long ret;

	(void)arg;
	setup_thread(i);
	zt_tree_ready(i, names[i]);
	while (!zt_tree_go_requested()) {
		t0 = now_ns();
		ret = syscall_keep(SYS_nanosleep, (long)&req, (long)&rem, 0, 0, SEED(i), &bad);
		dt = now_ns() - t0;
		rounds++;
		zt_tree_expect(i, bad == 0, "registers %#x changed across nanosleep", bad);
		zt_tree_expect(i, ret == 0, "nanosleep returned %ld%s", ret, eintr_note(ret));
		zt_tree_expect(i, dt >= 300 * 1000 * 1000LL, "nanosleep woke after %lld ms",
			       dt / 1000000);
		if (bad || ret)
			break;
	}
	zt_tree_expect(i, rounds > 0, "never slept");
	check_thread(i);
	zt_tree_done(i);
	return NULL;
}

static void *spin_thread(void *arg)
{
	int i = T_SPIN;
	uint64_t bad, before;

	(void)arg;
	setup_thread(i);
	/* A first short run: the loop must work before it means anything. */
	spin_stop = 1;
	bad = spin_hold(&spin_stop, &spin_count, SEED(i));
	spin_stop = 0;
	if (bad || spin_count != 1)
		zt_tree_expect(i, false, "setup: spin loop self-test: bad %lu, count %lu", bad,
			       spin_count);
	zt_tree_ready(i, names[i]);
	before = spin_count;
	bad = spin_hold(&spin_stop, &spin_count, SEED(i));
	zt_tree_expect(i, bad == 0, "spin loop: register check %lu failed", bad);
	zt_tree_expect(i, spin_count > before + 1000, "spin loop made %lu rounds",
		       spin_count - before);
	check_thread(i);
	zt_tree_done(i);
	return NULL;
}

static void *suspend_thread(void *arg)
{
	int i = T_SUSPEND, bad, rounds = 0;
	uint64_t waitmask;
	sigset_t set;
	long ret;

	(void)arg;
	setup_thread(i);
	/* The kernel's sigset: the thread's real mask without SIGUSR1. */
	waitmask = st[i].blocked & ~(1ULL << (SIGUSR1 - 1));
	zt_tree_ready(i, names[i]);
	while (!tls_usr1) {
		ret = syscall_keep(SYS_rt_sigsuspend, (long)&waitmask, 8, 0, 0, SEED(i), &bad);
		rounds++;
		zt_tree_expect(i, bad == 0, "registers %#x changed across rt_sigsuspend", bad);
		zt_tree_expect(i, ret == -EINTR, "rt_sigsuspend returned %ld", ret);
		if (bad || ret != -EINTR)
			break;
	}
	zt_tree_expect(i, rounds == 1, "rt_sigsuspend returned %d times for one SIGUSR1", rounds);
	zt_tree_expect(i, zt_tree_go_requested(), "SIGUSR1 before the check");
	zt_tree_expect(i, tls_handler_sp >= (void *)altstacks[i] &&
				  tls_handler_sp < (void *)(altstacks[i] + alt_size[i]),
		       "SIGUSR1 handler ran at %p, not on the thread's altstack %p", tls_handler_sp,
		       (void *)altstacks[i]);
	zt_tree_expect(i, tls_handler_onstack, "SS_ONSTACK not set in the handler");
	/* The mask sigsuspend replaced is back (check_thread compares it too). */
	pthread_sigmask(SIG_BLOCK, NULL, &set);
	zt_tree_expect(i, sigismember(&set, SIGUSR1) == 1, "SIGUSR1 unblocked after sigsuspend");
	check_thread(i);
	zt_tree_done(i);
	return NULL;
}

/* --- main -------------------------------------------------------------------------------- */

/* The thread is back in the system call it was dumped in: the first field of
 * /proc/self/task/TID/syscall is its number. Waits up to 2 s, the thread may be between two
 * calls. */
static void expect_in_syscall(int i, long nr1, long nr2)
{
	char path[64], buf[256];
	long nr = -2;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", st[i].tid);
	for (int tries = 0; tries < 200; tries++) {
		if (zt_read_file(path, buf, sizeof(buf)) >= 0 && sscanf(buf, "%ld", &nr) == 1 &&
		    (nr == nr1 || nr == nr2))
			return;
		usleep(10000);
	}
	zt_expect(false, "%s is not in its system call %ld: %s says '%.40s'", names[i], nr1, path,
		  buf);
}

int main(int argc, char **argv)
{
	void *(*fn[NT])(void *) = { NULL, futex_thread, sleep_thread, spin_thread,
				    suspend_thread };
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };
	sigset_t all;
	pid_t tids[16], want[NT];
	int n, err;

	zt_init(argc, argv);
	zt_tree_init(NT);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL))
		zt_fail("sigaction: %m");

	/* Threads start with everything blocked and set their own masks. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	for (int i = 1; i < NT; i++) {
		err = pthread_create(&threads[i], NULL, fn[i], NULL);
		if (err)
			zt_fail("pthread_create: %s", strerror(err));
	}
	setup_thread(T_MAIN);
	zt_tree_ready(T_MAIN, names[T_MAIN]);
	zt_tree_wait_ready();
	for (int i = 0; i < NT; i++) {
		siginfo_t si = { .si_signo = SIG_THREAD(i), .si_code = SI_QUEUE };

		want[i] = st[i].tid;
		si.si_pid = getpid();
		si.si_uid = getuid();
		si.si_value.sival_int = 100 + i;
		if (syscall(SYS_rt_tgsigqueueinfo, getpid(), st[i].tid, SIG_THREAD(i), &si))
			zt_fail("rt_tgsigqueueinfo: %m");
	}
	if (sigqueue(getpid(), SIG_SHARED, (union sigval){ .sival_int = 77 }))
		zt_fail("sigqueue: %m");

	zt_ready();
	zt_wait_for_check();

	/* Before the threads move: the set of threads, and where each one is. */
	n = zt_thread_ids(tids, 16);
	zt_expect(n == NT, "%d threads in /proc/self/task, expected %d", n, NT);
	for (int i = 0; i < NT; i++) {
		bool found = false;
		for (int j = 0; j < n; j++)
			found |= tids[j] == want[i];
		zt_expect(found, "thread %s (tid %d) missing from /proc/self/task", names[i],
			  want[i]);
	}
	expect_in_syscall(T_FUTEX, SYS_futex, SYS_futex);
	expect_in_syscall(T_SLEEP, SYS_nanosleep, SYS_restart_syscall);
	expect_in_syscall(T_SUSPEND, SYS_rt_sigsuspend, SYS_rt_sigsuspend);

	check_thread(T_MAIN);

	/* Wake each blocked thread its own way. */
	zt_tree_go();
	__atomic_store_n(&futex_word, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	spin_stop = 1;
	if (syscall(SYS_tgkill, getpid(), st[T_SUSPEND].tid, SIGUSR1))
		zt_expect(false, "tgkill: %m");

	zt_tree_collect();
	take_shared_pending();
	for (int i = 1; i < NT; i++) {
		if (!zt_tree_wait_done(i, 0))
			continue;	/* a thread that hangs cannot be joined */
		err = pthread_join(threads[i], NULL);
		zt_expect(!err, "pthread_join %s: %s", names[i], strerror(err));
	}
	zt_pass();
}
