/* A POSIX timer that overran: its signal was blocked while it fired 200 times, then taken, so
 * timer_getoverrun() says how many expirations that one signal stood for. The target of the
 * remote-result case, which checks that the dump saved that count: it is asked of the task
 * by a single remote call, whose result must be the call's own (not 0). */
// zt-run: no-cryo
#include "zt.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	sigset_t rt;
	siginfo_t si;
	timer_t t;
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL};
	struct itimerspec every_ms = {{0, 1000000}, {0, 1000000}};

	zt_init(argc, argv);
	ev.sigev_signo = SIGRTMIN;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN);
	zt_check_sys(sigprocmask(SIG_BLOCK, &rt, NULL) == 0, "sigprocmask");
	zt_check_sys(timer_create(CLOCK_MONOTONIC, &ev, &t) == 0, "timer_create");
	zt_check_sys(timer_settime(t, 0, &every_ms, NULL) == 0, "timer_settime");
	usleep(200000);
	zt_check_sys(sigwaitinfo(&rt, &si) == SIGRTMIN, "sigwaitinfo");
	/* (disarming it would clear the count: it runs on, its next signal stays pending) */
	int overrun = timer_getoverrun(t);
	if (overrun < 10)
		zt_fail("setup: only %d overruns", overrun);
	zt_log("overrun %d", overrun);
	zt_ready();
	zt_wait_for_check();
	zt_pass();
}
