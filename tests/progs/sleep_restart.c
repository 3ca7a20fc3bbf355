/* Blocking, timed system calls interrupted by the dump must carry on as if nothing happened.
 *
 * After zt_ready() the test runs a sequence of sleeps with SIGTERM blocked, so that the
 * check request cannot cut them short: nanosleep, pause (woken by alarm), clock_nanosleep
 * (relative MONOTONIC and BOOTTIME, absolute REALTIME), a futex wait with a timeout, poll
 * and select with timeouts, and sleep(). The dump lands in the first one (gen2: the second
 * dump in a later one). Each must end the way it would have without a dump: a sleep after
 * at least the time asked for (the dump may make it longer, never shorter), the futex with
 * ETIMEDOUT, poll and select with 0, pause with EINTR from SIGALRM. An EINTR with no signal
 * delivered means the restorer lost the restart of the call. Then SIGTERM is unblocked and
 * the pending check request is taken. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

static volatile sig_atomic_t alarm_fired;
static uint32_t futex_word;

static void on_alarm(int sig)
{
	(void)sig;
	alarm_fired = 1;
}

/* The call returned ret (errno in err) after elapsed ns; it should have returned want_ret
 * (want_errno) after at least min_ns. */
static void expect_step(const char *name, long ret, int err, long want_ret, int want_errno,
			int64_t elapsed, int64_t min_ns)
{
	if (ret < 0 && err == EINTR && want_errno != EINTR)
		zt_expect(false, "%s: EINTR with no signal delivered: the restart was lost", name);
	else
		zt_expect(ret == want_ret && (ret >= 0 || err == want_errno),
			  "%s returned %ld (errno %d), expected %ld (errno %d)", name, ret, err,
			  want_ret, want_errno);
	zt_expect(elapsed >= min_ns, "%s: woke after %ld ms, asked for %ld ms", name,
		  (long)(elapsed / MS), (long)(min_ns / MS));
	zt_expect(elapsed < min_ns + 60000 * MS, "%s: took %ld ms", name, (long)(elapsed / MS));
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_alarm};
	sigset_t term, old;
	struct timespec req, rem;
	struct timeval tv;
	int64_t t0, target;
	long ret;

	zt_init(argc, argv);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL))
		zt_fail("sigaction: %m");
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &term, &old))
		zt_fail("sigprocmask: %m");

	zt_ready();

	t0 = zt_now_ns(CLOCK_MONOTONIC);
	req = zt_timespec(1500 * MS);
	ret = nanosleep(&req, &rem);
	expect_step("nanosleep", ret, errno, 0, 0, zt_now_ns(CLOCK_MONOTONIC) - t0, 1500 * MS);
	if (ret < 0 && errno == EINTR)
		zt_expect(rem.tv_sec < 2 && rem.tv_nsec < 1000000000, "nanosleep: bad remainder");

	t0 = zt_now_ns(CLOCK_MONOTONIC);
	alarm(1);
	ret = pause();
	expect_step("pause", ret, errno, -1, EINTR, zt_now_ns(CLOCK_MONOTONIC) - t0, 900 * MS);
	zt_expect(alarm_fired, "pause returned without SIGALRM");

	t0 = zt_now_ns(CLOCK_MONOTONIC);
	req = zt_timespec(700 * MS);
	ret = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
	/* clock_nanosleep returns the error instead of setting errno. */
	expect_step("clock_nanosleep(MONOTONIC)", ret ? -1 : 0, ret, 0, 0,
		    zt_now_ns(CLOCK_MONOTONIC) - t0, 700 * MS);

	t0 = zt_now_ns(CLOCK_BOOTTIME);
	req = zt_timespec(500 * MS);
	ret = clock_nanosleep(CLOCK_BOOTTIME, 0, &req, NULL);
	expect_step("clock_nanosleep(BOOTTIME)", ret ? -1 : 0, ret, 0, 0,
		    zt_now_ns(CLOCK_BOOTTIME) - t0, 500 * MS);

	t0 = zt_now_ns(CLOCK_REALTIME);
	target = t0 + 700 * MS;
	req = zt_timespec(target);
	ret = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &req, NULL);
	expect_step("clock_nanosleep(REALTIME, ABSTIME)", ret ? -1 : 0, ret, 0, 0,
		    zt_now_ns(CLOCK_REALTIME) - t0, target - t0);

	t0 = zt_now_ns(CLOCK_MONOTONIC);
	req = zt_timespec(700 * MS);
	ret = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &req, NULL, 0);
	expect_step("futex wait", ret, errno, -1, ETIMEDOUT, zt_now_ns(CLOCK_MONOTONIC) - t0,
		    700 * MS);

	t0 = zt_now_ns(CLOCK_MONOTONIC);
	ret = poll(NULL, 0, 500);
	expect_step("poll", ret, errno, 0, 0, zt_now_ns(CLOCK_MONOTONIC) - t0, 500 * MS);

	t0 = zt_now_ns(CLOCK_MONOTONIC);
	tv = (struct timeval){.tv_sec = 0, .tv_usec = 500000};
	ret = select(0, NULL, NULL, NULL, &tv);
	expect_step("select", ret, errno, 0, 0, zt_now_ns(CLOCK_MONOTONIC) - t0, 500 * MS);

	t0 = zt_now_ns(CLOCK_MONOTONIC);
	ret = sleep(1);
	expect_step("sleep", ret, errno, 0, 0, zt_now_ns(CLOCK_MONOTONIC) - t0, 1000 * MS);

	/* The check request has been pending (or comes now). */
	sigprocmask(SIG_SETMASK, &old, NULL);
	zt_wait_for_check();
	zt_pass();
}
