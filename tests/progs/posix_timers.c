/* POSIX timers (timer_create): several clocks, notification kinds and values, armed
 * (relative, absolute, periodic) and disarmed.
 *
 * After the dump: /proc/self/timers (each timer's id, signal, value, notification, clock) is
 * identical, which also means every timer_t the program holds still names the same timer;
 * every timer_gettime() interval is unchanged and each remaining time sane (disarmed ones
 * still 0, armed ones not more than before); and a short periodic timer keeps firing after
 * the restore, with its si_value, si_code SI_TIMER and timer id. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define SEC 1000000000LL

struct t {
	const char *name;
	clockid_t clock;
	int notify;	/* SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID */
	int sig;	/* offset from SIGRTMIN, or a plain signal if < 0 (negated) */
	int value;
	long long first_ns, interval_ns;	/* first_ns 0: never armed */
	bool absolute;
};

static struct t timers[] = {
	{ "mono", CLOCK_MONOTONIC, SIGEV_SIGNAL, 1, 0x1111, 100 * SEC, 200 * SEC, false },
	{ "real_disarmed", CLOCK_REALTIME, SIGEV_SIGNAL, -SIGUSR1, 0x2222, 0, 0, false },
	{ "boot_none", CLOCK_BOOTTIME, SIGEV_NONE, 0, 0x3333, 50 * SEC, 0, false },
	{ "cputime", CLOCK_PROCESS_CPUTIME_ID, SIGEV_SIGNAL, 3, 0x4444, 1000 * SEC, 0, false },
	{ "thread_id", CLOCK_MONOTONIC, SIGEV_THREAD_ID, 4, 0x5555, 300 * SEC, 300 * SEC, false },
	{ "real_abs", CLOCK_REALTIME, SIGEV_SIGNAL, 5, 0x6666, 1000 * SEC, 0, true },
	{ "short", CLOCK_MONOTONIC, SIGEV_SIGNAL, 6, 0x7777, SEC / 5, SEC / 5, false },
};
#define N (sizeof(timers) / sizeof(timers[0]))
#define SHORT (N - 1)
static timer_t ids[N];
static struct itimerspec before[N];

static volatile int fired, bad_value, bad_code, bad_id;

static void on_short(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	fired = fired + 1;
	if (si->si_value.sival_int != timers[SHORT].value)
		bad_value = si->si_value.sival_int;
	if (si->si_code != SI_TIMER)
		bad_code = si->si_code;
	if (si->si_timerid != (int)(intptr_t)ids[SHORT])
		bad_id = si->si_timerid;
}

static long long ns(const struct timespec *t)
{
	return (long long)t->tv_sec * SEC + t->tv_nsec;
}

static struct timespec ts(long long v)
{
	return (struct timespec){ .tv_sec = v / SEC, .tv_nsec = v % SEC };
}

static int signo(const struct t *t)
{
	return t->sig < 0 ? -t->sig : SIGRTMIN + t->sig;
}

static void create(struct t *t, timer_t *id)
{
	struct sigevent ev;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = t->notify;
	ev.sigev_signo = signo(t);
	ev.sigev_value.sival_int = t->value;
	if (t->notify == SIGEV_THREAD_ID)
		ev.sigev_notify_thread_id = gettid();
	if (timer_create(t->clock, &ev, id))
		zt_fail("timer_create %s: %m", t->name);
	if (!t->first_ns)
		return;
	its.it_interval = ts(t->interval_ns);
	its.it_value = ts(t->first_ns);
	if (t->absolute) {
		struct timespec now;
		clock_gettime(t->clock, &now);
		its.it_value = ts(ns(&now) + t->first_ns);
	}
	if (timer_settime(*id, t->absolute ? TIMER_ABSTIME : 0, &its, NULL))
		zt_fail("timer_settime %s: %m", t->name);
}

/* Sleep for ns of wall time, whatever signals arrive meanwhile. */
static void sleep_ns(long long v)
{
	struct timespec req = ts(v), rem;
	while (nanosleep(&req, &rem) && errno == EINTR)
		req = rem;
}

int main(int argc, char **argv)
{
	static char proc_before[16384], proc_after[16384];
	struct sigaction sa = { .sa_sigaction = on_short, .sa_flags = SA_SIGINFO | SA_RESTART };
	sigset_t block;
	char idstr[32];
	int base;

	zt_init(argc, argv);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN + timers[SHORT].sig, &sa, NULL))
		zt_fail("sigaction: %m");
	/* The long timers must never fire; if they did, their default action would kill us:
	 * block their signals so a firing shows up as a pending signal instead. */
	sigemptyset(&block);
	for (size_t i = 0; i < SHORT; i++)
		sigaddset(&block, signo(&timers[i]));
	sigprocmask(SIG_BLOCK, &block, NULL);

	for (size_t i = 0; i < N; i++)
		create(&timers[i], &ids[i]);
	for (size_t i = 0; i < N; i++)
		timer_gettime(ids[i], &before[i]);
	if (zt_read_file("/proc/self/timers", proc_before, sizeof(proc_before)) < 0)
		zt_fail("cannot read /proc/self/timers");
	/* Every timer_t we hold is a kernel timer id (glibc maps them one to one). */
	for (size_t i = 0; i < N; i++) {
		snprintf(idstr, sizeof(idstr), "ID: %d\n", (int)(intptr_t)ids[i]);
		if (!strstr(proc_before, idstr))
			zt_fail("setup: timer %s (%s) not in /proc/self/timers", timers[i].name,
				idstr);
	}

	zt_ready();
	zt_wait_for_check();

	if (zt_read_file("/proc/self/timers", proc_after, sizeof(proc_after)) >= 0)
		zt_expect_same_text("/proc/self/timers", proc_before, proc_after);
	for (size_t i = 0; i < N; i++) {
		struct t *t = &timers[i];
		struct itimerspec now;

		if (!zt_expect(timer_gettime(ids[i], &now) == 0, "timer_gettime %s: %m", t->name))
			continue;
		zt_expect(ns(&now.it_interval) == ns(&before[i].it_interval),
			  "%s: interval %lld ns, was %lld ns", t->name, ns(&now.it_interval),
			  ns(&before[i].it_interval));
		if (!t->first_ns) {
			zt_expect(ns(&now.it_value) == 0, "%s: armed, was disarmed", t->name);
			continue;
		}
		zt_expect(ns(&now.it_value) > 0, "%s: disarmed, was armed", t->name);
		if (i != SHORT)
			zt_expect(ns(&now.it_value) <= ns(&before[i].it_value),
				  "%s: %lld ns left, more than %lld before", t->name,
				  ns(&now.it_value), ns(&before[i].it_value));
		else
			zt_expect(ns(&now.it_value) <= t->interval_ns,
				  "short: %lld ns left, more than its interval", ns(&now.it_value));
	}
	sigpending(&block);
	for (size_t i = 0; i < SHORT; i++)
		zt_expect(!sigismember(&block, signo(&timers[i])), "timer %s fired",
			  timers[i].name);

	/* The short timer still runs: several more shots within a second. */
	base = fired;
	sleep_ns(SEC);
	zt_expect(fired - base >= 3, "short timer fired %d times in 1 s after restore",
		  fired - base);
	zt_expect(!bad_value, "short timer si_value %#x", bad_value);
	zt_expect(!bad_code, "short timer si_code %d", bad_code);
	zt_expect(!bad_id, "short timer si_timerid %d, not its id", bad_id);
	zt_expect(timer_getoverrun(ids[SHORT]) >= 0, "timer_getoverrun: %m");
	for (size_t i = 0; i < N; i++)
		zt_expect(timer_delete(ids[i]) == 0, "timer_delete %s: %m", timers[i].name);
	zt_pass();
}
