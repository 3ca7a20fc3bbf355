/* A program flooded with timer signals while it is dumped, as stress-ng's --hrtimers and
 * --timer workers are: four POSIX timers and an interval timer firing every few tens of
 * microseconds, handled in the main thread, and a fifth timer aimed at a worker thread
 * (SIGEV_THREAD_ID). Each thread blocks a signal of its own. A signal arrives faster than
 * cryo can stop a thread and make a remote call, so the freeze and the calls must take the
 * signals out of the way without losing or inventing any, and without looping.
 *
 * A thread flooded while it sits in sigsuspend (or ppoll...) cannot be dumped: its own mask
 * is then out of ptrace's reach, and without a gap in the storm no call learns it; the dump
 * fails after a bounded number of signals (tests/cases/bad_input.sh) and leaves it running.
 *
 * After the restore: every handler still sees its own timer's si_value and si_code (no
 * signal was delivered with other data than its timer's), every timer keeps firing, and
 * both threads have exactly the signal masks they set up. */
// zt-run: gen2
#include "zt.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define NT 5		/* POSIX timers; the last one is the worker's */
#define VALUE 0x5100 /* si_value of timer i: VALUE + i */

static const long interval_us[NT] = {20, 30, 40, 50, 35};
static timer_t ids[NT];
static atomic_long fired[NT], alarms, bad_value, bad_code, bad_thread;
static pid_t worker_tid;
static atomic_int worker_up, worker_stop, worker_mask_ok;
static sigset_t worker_mask_set, main_mask_set;

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int i = sig - SIGRTMIN - 1;
	if (i < 0 || i >= NT || si->si_value.sival_int != VALUE + i) {
		bad_value++;
		return;
	}
	if (si->si_code != SI_TIMER)
		bad_code++;
	if (i == NT - 1 && (pid_t)syscall(SYS_gettid) != worker_tid)
		bad_thread++;
	fired[i]++;
}

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static bool same_mask(const sigset_t *a, const sigset_t *b)
{
	for (int s = 1; s < SIGRTMAX; s++)
		if (sigismember(a, s) != sigismember(b, s))
			return false;
	return true;
}

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = (pid_t)syscall(SYS_gettid);
	/* the worker's own mask: SIGUSR1 blocked, and every timer signal but its own */
	sigemptyset(&worker_mask_set);
	sigaddset(&worker_mask_set, SIGUSR1);
	sigaddset(&worker_mask_set, SIGALRM);
	for (int i = 0; i < NT - 1; i++)
		sigaddset(&worker_mask_set, SIGRTMIN + 1 + i);
	pthread_sigmask(SIG_SETMASK, &worker_mask_set, NULL);
	worker_up = 1;
	while (!worker_stop) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	sigset_t now;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	worker_mask_ok = same_mask(&now, &worker_mask_set);
	return NULL;
}

static void arm(int i)
{
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL};
	ev.sigev_signo = SIGRTMIN + 1 + i;
	ev.sigev_value.sival_int = VALUE + i;
	if (i == NT - 1) {
		ev.sigev_notify = SIGEV_THREAD_ID;
		ev.sigev_notify_thread_id = worker_tid;
	}
	zt_check_sys(timer_create(CLOCK_MONOTONIC, &ev, &ids[i]) == 0, "timer_create");
	struct itimerspec its = {{0, interval_us[i] * 1000}, {0, interval_us[i] * 1000}};
	zt_check_sys(timer_settime(ids[i], 0, &its, NULL) == 0, "timer_settime");
}

/* Sleep ms milliseconds of wall time, however many signals interrupt the sleep. */
static void sleep_ms(long ms)
{
	int64_t end = zt_now_ns(CLOCK_MONOTONIC) + ms * 1000000;
	while (zt_now_ns(CLOCK_MONOTONIC) < end) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_sigaction = on_timer, .sa_flags = SA_SIGINFO | SA_RESTART};
	pthread_t th;

	zt_init(argc, argv);
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < NT; i++)
		zt_check_sys(sigaction(SIGRTMIN + 1 + i, &sa, NULL) == 0, "sigaction");
	struct sigaction al = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
	sigemptyset(&al.sa_mask);
	zt_check_sys(sigaction(SIGALRM, &al, NULL) == 0, "sigaction SIGALRM");

	/* the main thread blocks SIGUSR2 and the worker's timer signal */
	sigemptyset(&main_mask_set);
	sigaddset(&main_mask_set, SIGUSR2);
	sigaddset(&main_mask_set, SIGRTMIN + NT);
	zt_check_sys(pthread_sigmask(SIG_SETMASK, &main_mask_set, NULL) == 0, "sigmask");

	zt_check_sys(pthread_create(&th, NULL, worker, NULL) == 0, "pthread_create");
	while (!worker_up)
		usleep(1000);
	for (int i = 0; i < NT; i++)
		arm(i);
	struct itimerval iv = {{0, 25}, {0, 25}};
	zt_check_sys(setitimer(ITIMER_REAL, &iv, NULL) == 0, "setitimer");

	sleep_ms(20);
	for (int i = 0; i < NT; i++)
		if (!fired[i])
			zt_fail("setup: timer %d never fired", i);
	zt_ready();
	/* waiting as stress-ng's workers do, in plain sleeps: sigsuspend would hold a mask of
	 * its own that ptrace cannot read, and a storm then leaves cryo no gap to learn it
	 * (ZT_STORM_WAIT=sigsuspend: that case, for tests/cases/bad_input.sh) */
	const char *how = getenv("ZT_STORM_WAIT");
	if (how && !strcmp(how, "sigsuspend"))
		zt_wait_for_check();
	while (!zt_check_requested())
		sleep_ms(1);

	long before[NT], alarms_before = alarms;
	for (int i = 0; i < NT; i++)
		before[i] = fired[i];
	sleep_ms(50);
	for (int i = 0; i < NT; i++)
		zt_expect(fired[i] > before[i], "timer %d stopped firing (%ld signals)", i,
			  before[i]);
	zt_expect(alarms > alarms_before, "the interval timer stopped (%ld SIGALRMs)",
		  alarms_before);
	zt_expect(!bad_value, "%ld timer signals with another si_value or signal number",
		  (long)bad_value);
	zt_expect(!bad_code, "%ld timer signals without SI_TIMER", (long)bad_code);
	zt_expect(!bad_thread, "%ld of the worker's timer signals in another thread",
		  (long)bad_thread);

	sigset_t now;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	zt_expect(same_mask(&now, &main_mask_set), "the main thread's signal mask changed");
	worker_stop = 1;
	pthread_join(th, NULL);
	zt_expect(worker_mask_ok, "the worker thread's signal mask changed");
	zt_pass();
}
