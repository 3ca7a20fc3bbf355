/* Sleeps the kernel continues as restart_syscall, dumped there.
 *
 * Five threads each sleep 3 s in one of the calls the kernel continues with a record of its
 * own after a stop that runs no handler: glibc's nanosleep (clock_nanosleep REALTIME),
 * the raw nanosleep system call, clock_nanosleep MONOTONIC with an absolute time, a futex
 * wait with a timeout, poll with a timeout. The case that drives it (tests/cases/restart.sh)
 * stops and continues the test first (SIGSTOP, SIGCONT: each sleep becomes restart_syscall),
 * or dumps it with -R first, then dumps and restores it. Each call must end as if nothing had
 * happened: no EINTR (no signal was delivered), 0 or ETIMEDOUT, not before the time asked.
 * In the runner's own modes (no stop first) the same holds. */
#include "zt.h"

#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL
#define SLEEP_MS 3000

enum kind { K_NANOSLEEP, K_RAW_NANOSLEEP, K_ABS_MONOTONIC, K_FUTEX, K_POLL, NR_KINDS };

static const char *const names[NR_KINDS] = {"nanosleep", "nanosleep (raw syscall)",
					    "clock_nanosleep(MONOTONIC, ABSTIME)", "futex wait",
					    "poll"};

struct result {
	long ret;
	int err;
	int64_t elapsed;
};

static struct result results[NR_KINDS];
static uint32_t futex_word;
static volatile int started;

static void *sleeper(void *arg)
{
	enum kind k = (enum kind)(intptr_t)arg;
	struct timespec req = zt_timespec(SLEEP_MS * MS);
	int64_t t0 = zt_now_ns(CLOCK_MONOTONIC);
	long ret = 0;

	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	errno = 0;
	switch (k) {
	case K_NANOSLEEP:
		ret = nanosleep(&req, NULL);
		break;
	case K_RAW_NANOSLEEP:
		ret = syscall(SYS_nanosleep, &req, NULL);
		break;
	case K_ABS_MONOTONIC:
		req = zt_timespec(t0 + SLEEP_MS * MS);
		ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &req, NULL);
		if (ret) /* it returns the error */
			errno = (int)ret, ret = -1;
		break;
	case K_FUTEX:
		ret = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &req, NULL, 0);
		break;
	case K_POLL:
		ret = poll(NULL, 0, SLEEP_MS);
		break;
	default:
		break;
	}
	results[k] = (struct result){ret, errno, zt_now_ns(CLOCK_MONOTONIC) - t0};
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NR_KINDS];

	zt_init(argc, argv);
	for (int k = 0; k < NR_KINDS; k++)
		if (pthread_create(&th[k], NULL, sleeper, (void *)(intptr_t)k))
			zt_fail("pthread_create");
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < NR_KINDS)
		usleep(1000);
	usleep(50000); /* each in its call */
	zt_ready();
	zt_wait_for_check();
	for (int k = 0; k < NR_KINDS; k++)
		pthread_join(th[k], NULL);
	for (int k = 0; k < NR_KINDS; k++) {
		const struct result *r = &results[k];
		long want = k == K_FUTEX ? -1 : 0;
		if (r->ret < 0 && r->err == EINTR)
			zt_expect(false, "%s: EINTR with no signal delivered: its restart was lost",
				  names[k]);
		else
			zt_expect(r->ret == want && (want == 0 || r->err == ETIMEDOUT),
				  "%s returned %ld (errno %d)", names[k], r->ret, r->err);
		zt_expect(r->elapsed >= SLEEP_MS * MS - 5 * MS, "%s: woke after %ld ms, asked %d",
			  names[k], (long)(r->elapsed / MS), SLEEP_MS);
	}
	zt_pass();
}
