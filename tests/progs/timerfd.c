/* Timers of an event loop (libuv, systemd's sd-event): a periodic timerfd read in a loop,
 * blocked in read() when dumped; a one-shot relative timer far in the future; an expired
 * one-shot timer nobody read yet (nonblocking); an absolute periodic timer on
 * CLOCK_MONOTONIC whose expirations pile up unread; an absolute real-time timer with
 * TFD_TIMER_CANCEL_ON_SET, far ahead; a wake-up alarm (CLOCK_BOOTTIME_ALARM, which takes
 * CAP_WAKE_ALARM: the test runs as root). After the restore each gives what it would have. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000ll
#define PERIOD (20 * MS)	 /* the loop's timer */
#define ABS_PERIOD (10 * MS)	 /* the one piling up */
#define FAR (1000ll * 1000 * MS) /* 1000 s */

static int64_t ts_ns(struct timespec ts)
{
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static int64_t left(int fd)
{
	struct itimerspec its;
	if (timerfd_gettime(fd, &its) < 0)
		return -1;
	return ts_ns(its.it_value);
}

/* The loop's timer as timerfd_gettime() gives it once it is not due. A periodic timer whose
 * expiry instant has passed but whose interrupt has not run yet reads 0 ns left (the kernel
 * shows a negative remainder as 0) until the interrupt rearms it: microseconds later here,
 * at random instants about once in a few thousand reads, longer on a loaded VM. A stopped
 * timer reads 0 for good. So a 0 is asked again for up to 50 periods. Returns how many
 * reads more it took, -1 when timerfd_gettime fails (*its is then zero). */
static int loop_state(int fd, struct itimerspec *its)
{
	int64_t end = zt_now_ns(CLOCK_MONOTONIC) + 50 * PERIOD;
	struct timespec pause = {0, 50000};

	for (int again = 0;; again++) {
		if (timerfd_gettime(fd, its) < 0) {
			*its = (struct itimerspec){{0, 0}, {0, 0}};
			return -1;
		}
		if (ts_ns(its->it_value) || ts_ns(its->it_interval) != PERIOD ||
		    zt_now_ns(CLOCK_MONOTONIC) > end)
			return again;
		nanosleep(&pause, NULL);
	}
}

static bool loop_ok(int again, const struct itimerspec *its)
{
	return again >= 0 && ts_ns(its->it_interval) == PERIOD && ts_ns(its->it_value) > 0 &&
	       ts_ns(its->it_value) <= PERIOD;
}

/* "settime flags: 0N" of our own fdinfo */
static int settime_flags(int fd)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (zt_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	char *p = strstr(buf, "settime flags:");
	return p ? (int)strtol(p + 14, NULL, 8) : -1;
}

int main(int argc, char **argv)
{
	struct itimerspec its;
	uint64_t ticks, total = 0;
	int loop, far, fired, absp, cancel, alarm;
	int64_t t0, abs0, real_at;

	zt_init(argc, argv);
	loop = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	far = timerfd_create(CLOCK_BOOTTIME, 0);
	fired = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	absp = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	cancel = timerfd_create(CLOCK_REALTIME, 0);
	alarm = timerfd_create(CLOCK_BOOTTIME_ALARM, TFD_CLOEXEC);
	zt_check_sys(loop >= 0 && far >= 0 && fired >= 0 && absp >= 0 && cancel >= 0 && alarm >= 0,
		     "timerfd_create");

	its = (struct itimerspec){zt_timespec(PERIOD), zt_timespec(PERIOD)};
	zt_check_sys(timerfd_settime(loop, 0, &its, NULL) == 0, "arm the loop's timer");
	t0 = zt_now_ns(CLOCK_MONOTONIC);
	its = (struct itimerspec){{0, 0}, zt_timespec(FAR)};
	zt_check_sys(timerfd_settime(far, 0, &its, NULL) == 0, "arm the far timer");
	its = (struct itimerspec){{0, 0}, zt_timespec(MS)};
	zt_check_sys(timerfd_settime(fired, 0, &its, NULL) == 0, "arm the short timer");
	abs0 = zt_now_ns(CLOCK_MONOTONIC) + ABS_PERIOD;
	its = (struct itimerspec){zt_timespec(ABS_PERIOD), zt_timespec(abs0)};
	zt_check_sys(timerfd_settime(absp, TFD_TIMER_ABSTIME, &its, NULL) == 0,
		     "arm the absolute timer");
	real_at = zt_now_ns(CLOCK_REALTIME) + FAR;
	its = (struct itimerspec){{0, 0}, zt_timespec(real_at)};
	zt_check_sys(
	    timerfd_settime(cancel, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) == 0,
	    "arm the real-time timer");
	its = (struct itimerspec){zt_timespec(FAR), zt_timespec(FAR)};
	zt_check_sys(timerfd_settime(alarm, 0, &its, NULL) == 0, "arm the alarm");
	/* the short one expires and the absolute one piles up a few ticks */
	usleep(50000);

	zt_ready();
	/* The loop: each read returns the expirations since the last one. Blocked here at
	 * dump, restarted after the restore, ended by SIGTERM (EINTR). */
	int reads = 0;
	while (!zt_check_requested()) {
		ssize_t n = read(loop, &ticks, sizeof(ticks));
		if (n < 0 && errno == EINTR)
			continue;
		zt_check_sys(n == sizeof(ticks), "read the loop's timer");
		zt_expect(ticks >= 1, "a read of the loop's timer returned 0 expirations");
		total += ticks;
		reads++;
	}

	/* The loop's timer: at most one expiration per period of time gone by since it was
	 * armed (the time away while dumped does not count, so it may have fewer; never more,
	 * which a restore that counted the dump's time twice or made up ticks would give). */
	int64_t ran = zt_now_ns(CLOCK_MONOTONIC) - t0;
	zt_expect(total <= (uint64_t)(ran / PERIOD) + 1,
		  "the loop's timer gave %llu expirations in %lld ms (period 20 ms)",
		  (unsigned long long)total, (long long)(ran / MS));
	/* (read before the check, not inside it: the message's arguments may be evaluated
	 * before the condition, and would show what the variable held before) */
	int again = loop_state(loop, &its);
	zt_expect(loop_ok(again, &its), "the loop's timer: %lld ns left, period %lld ns%s",
		  (long long)ts_ns(its.it_value), (long long)ts_ns(its.it_interval),
		  again < 0 ? ", timerfd_gettime failed" : "");
	if (again > 0)
		zt_log("the loop's timer was due, its interrupt not run yet: %d more reads", again);
	/* ... and it still runs at its period: 5 more expirations take about 100 ms, never less
	 * than 60 (the first may be pending already and come at once, the next one comes
	 * anywhere within a period from now: 3 whole periods at least); at most 1 s on a loaded
	 * 2-core machine (the period itself was checked exactly above: this only catches a timer
	 * that stopped) */
	int64_t a = zt_now_ns(CLOCK_MONOTONIC);
	uint64_t more = 0;
	while (more < 5) {
		ssize_t n = read(loop, &ticks, sizeof(ticks));
		zt_check_sys(n == sizeof(ticks), "read the loop's timer again");
		more += ticks;
	}
	int64_t took = zt_now_ns(CLOCK_MONOTONIC) - a;
	zt_expect(took >= 3 * PERIOD && took <= 50 * PERIOD,
		  "5 more expirations of the 20 ms timer took %lld ms", (long long)(took / MS));
	zt_expect((fcntl(loop, F_GETFD) & FD_CLOEXEC) != 0, "the loop's timer lost FD_CLOEXEC");
	/* Read at every instant for 5 periods: each read shows the period and at most one
	 * period left, never 0 for good. The expiries fall in there, so the reads between an
	 * expiry instant and its interrupt are met now and then, in every run, not once in
	 * thousands of runs at the one read above. */
	int64_t spin_end = zt_now_ns(CLOCK_MONOTONIC) + 5 * PERIOD;
	int samples = 0, due = 0;
	while (zt_now_ns(CLOCK_MONOTONIC) < spin_end) {
		again = loop_state(loop, &its);
		samples++;
		if (!zt_expect(loop_ok(again, &its),
			       "read %d of the loop's timer: %lld ns left, period %lld ns%s", samples,
			       (long long)ts_ns(its.it_value), (long long)ts_ns(its.it_interval),
			       again < 0 ? ", timerfd_gettime failed" : ""))
			break;
		due += again > 0;
	}

	/* The far one: still pending, with at least what was left minus the time that passed
	 * (more by the time away), at most 1000 s */
	int64_t l = left(far);
	ran = zt_now_ns(CLOCK_MONOTONIC) - t0;
	zt_expect(l >= FAR - ran && l <= FAR,
		  "the far timer has %lld ms left after %lld ms (armed for 1000 s)",
		  (long long)(l / MS), (long long)(ran / MS));

	/* The alarm, relative on its own clock: the same (the time gone by counted after the
	 * read, as for the far one) */
	its = (struct itimerspec){{0, 0}, {0, 0}};
	l = left(alarm);
	int got = timerfd_gettime(alarm, &its);
	ran = zt_now_ns(CLOCK_MONOTONIC) - t0;
	zt_expect(l >= FAR - ran && l <= FAR && got == 0 && ts_ns(its.it_interval) == FAR,
		  "the alarm has %lld ms left after %lld ms, period %lld ms", (long long)(l / MS),
		  (long long)(ran / MS), (long long)(ts_ns(its.it_interval) / MS));

	/* The short one expired once before the dump and nobody read it: exactly 1, then none */
	ticks = 0;
	zt_expect(read(fired, &ticks, sizeof(ticks)) == sizeof(ticks) && ticks == 1,
		  "the expired one-shot timer read %llu (%m), expected 1",
		  (unsigned long long)ticks);
	zt_expect(read(fired, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN,
		  "the one-shot timer fired twice (or lost O_NONBLOCK)");
	zt_expect(left(fired) == 0, "the one-shot timer is armed again");

	/* The absolute periodic one, never read: it expires at abs0 + k * period, so a read
	 * returns exactly how many of those instants have passed (counted before and after
	 * the read: an expiry may fall between) */
	int64_t before = zt_now_ns(CLOCK_MONOTONIC);
	ticks = 0;
	ssize_t n = read(absp, &ticks, sizeof(ticks));
	int64_t after = zt_now_ns(CLOCK_MONOTONIC);
	uint64_t lo = (uint64_t)((before - abs0) / ABS_PERIOD) + 1;
	uint64_t hi = (uint64_t)((after - abs0) / ABS_PERIOD) + 1;
	zt_expect(n == sizeof(ticks) && ticks >= lo && ticks <= hi,
		  "the absolute timer read %llu expirations, expected %llu..%llu",
		  (unsigned long long)ticks, (unsigned long long)lo, (unsigned long long)hi);
	zt_expect(settime_flags(absp) == TFD_TIMER_ABSTIME, "the absolute timer's flags are %#o",
		  settime_flags(absp));
	l = left(absp);
	zt_expect(l > 0 && l <= ABS_PERIOD, "the absolute timer has %lld ns left", (long long)l);

	/* The real-time one: its absolute expiry kept (what is left is counted on the clock:
	 * between the expiry less the clock read after, and less the clock read before) */
	int64_t rb = zt_now_ns(CLOCK_REALTIME);
	l = left(cancel);
	int64_t ra = zt_now_ns(CLOCK_REALTIME);
	zt_expect(l >= real_at - ra - MS && l <= real_at - rb + MS,
		  "the real-time timer has %lld ms left, expected %lld", (long long)(l / MS),
		  (long long)((real_at - rb) / MS));
	zt_expect(settime_flags(cancel) == (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET),
		  "the real-time timer's flags are %#o", settime_flags(cancel));
	zt_log("%d reads of the loop's timer, %llu expirations; %d gettime samples, %d of them due",
	       reads, (unsigned long long)total, samples, due);
	zt_pass();
}
