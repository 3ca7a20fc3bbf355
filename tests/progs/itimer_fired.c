/* A real interval timer that has fired while its SIGALRM is blocked, as in a program that
 * blocks the signal around a critical section: the kernel sends the SIGALRM and rearms the
 * timer only when that signal is taken, so getitimer() reads no time left and the interval.
 * After the restore: the SIGALRM is still pending, and once it is unblocked the timer goes
 * on firing at its interval (it must not have been dropped for having no time left). */
// zt-run: gen2
#include "zt.h"

#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
	sigset_t alrm, pending;
	struct itimerval iv = {{0, 20000}, {0, 10000}}, now;

	zt_init(argc, argv);
	sigemptyset(&sa.sa_mask);
	zt_check_sys(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	zt_check_sys(sigprocmask(SIG_BLOCK, &alrm, NULL) == 0, "sigprocmask");
	zt_check_sys(setitimer(ITIMER_REAL, &iv, NULL) == 0, "setitimer");
	usleep(50000);
	zt_check_sys(getitimer(ITIMER_REAL, &now) == 0, "getitimer");
	if (now.it_value.tv_sec || now.it_value.tv_usec || now.it_interval.tv_usec != 20000)
		zt_fail("setup: the fired timer reads %ld.%06ld left, interval %ld us",
			(long)now.it_value.tv_sec, (long)now.it_value.tv_usec,
			(long)now.it_interval.tv_usec);
	zt_ready();
	zt_wait_for_check();

	sigpending(&pending);
	zt_expect(sigismember(&pending, SIGALRM), "the SIGALRM is no longer pending");
	zt_check_sys(getitimer(ITIMER_REAL, &now) == 0, "getitimer");
	zt_expect(now.it_interval.tv_sec == 0 && now.it_interval.tv_usec == 20000,
		  "the interval is %ld.%06ld s, not 0.020000", (long)now.it_interval.tv_sec,
		  (long)now.it_interval.tv_usec);
	/* the pending one, then the timer's own, every 20 ms: five in 200 ms at the least */
	zt_check_sys(sigprocmask(SIG_UNBLOCK, &alrm, NULL) == 0, "sigprocmask");
	for (int i = 0; i < 40 && alarms < 5; i++)
		usleep(10000);
	zt_expect(alarms >= 5, "%d SIGALRMs in 400 ms after the unblock: the timer stopped",
		  (int)alarms);
	zt_pass();
}
