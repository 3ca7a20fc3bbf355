/* Interval timers: ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF armed with long values and
 * intervals (they must not fire during the test). After the dump each interval is exactly
 * what it was, and each remaining value is still armed, no larger than before and, for the
 * wall-clock timer, smaller by no more than the time that passed (plus a little). */
#include "zt.h"

#include <sys/time.h>
#include <time.h>

static const struct {
	int which;
	const char *name;
	struct itimerval set;
} timers[] = {
	{ ITIMER_REAL, "REAL", { { 2000, 250000 }, { 1000, 500000 } } },
	{ ITIMER_VIRTUAL, "VIRTUAL", { { 700, 125000 }, { 500, 0 } } },
	{ ITIMER_PROF, "PROF", { { 800, 0 }, { 600, 750000 } } },
};
#define N (sizeof(timers) / sizeof(timers[0]))

static long long us(const struct timeval *t)
{
	return (long long)t->tv_sec * 1000000 + t->tv_usec;
}

static long long mono_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	struct itimerval before[N], after;
	long long t0, elapsed;

	zt_init(argc, argv);
	for (size_t i = 0; i < N; i++)
		if (setitimer(timers[i].which, &timers[i].set, NULL))
			zt_fail("setitimer %s: %m", timers[i].name);
	for (size_t i = 0; i < N; i++)
		if (getitimer(timers[i].which, &before[i]))
			zt_fail("getitimer %s: %m", timers[i].name);
	t0 = mono_us();

	zt_ready();
	zt_wait_for_check();

	elapsed = mono_us() - t0;
	for (size_t i = 0; i < N; i++) {
		const char *name = timers[i].name;
		if (!zt_expect(getitimer(timers[i].which, &after) == 0, "getitimer %s: %m", name))
			continue;
		zt_expect(us(&after.it_interval) == us(&before[i].it_interval),
			  "%s interval %lld us, was %lld us", name, us(&after.it_interval),
			  us(&before[i].it_interval));
		zt_expect(us(&after.it_value) > 0, "%s is disarmed", name);
		zt_expect(us(&after.it_value) <= us(&before[i].it_value),
			  "%s has %lld us left, more than the %lld us before", name,
			  us(&after.it_value), us(&before[i].it_value));
		/* CPU time timers run down only while we run: they may not lose more than
		 * the wall time either. */
		zt_expect(us(&before[i].it_value) - us(&after.it_value) <= elapsed + 1000000,
			  "%s lost %lld us in %lld us", name,
			  us(&before[i].it_value) - us(&after.it_value), elapsed);
	}
	zt_pass();
}
