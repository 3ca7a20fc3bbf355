/* A timerfd and an inotify shared by a parent and the worker it forked (one open file
 * description each, as fork leaves them): the worker consumes, the parent sees it. The
 * timer is absolute and periodic, never read before the check, so its expirations pile up;
 * restored once for both processes, the worker's read returns exactly the expirations of
 * the grid so far and the parent's read right after finds none left (a timer rebuilt twice,
 * or armed twice, would give the parent its own count). A write to the watched file gives
 * one event, which the worker reads with the same watch descriptor; the parent then finds
 * the queue empty. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PERIOD 10000000ll /* 10 ms */

static int64_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

struct report {
	uint64_t ticks, lo, hi;
	int64_t at; /* when the worker's read ended */
	int wd;
	uint32_t mask;
};

int main(int argc, char **argv)
{
	int tfd, in, wd, fd, go[2], back[2];
	int64_t abs0;
	pid_t child;

	zt_init(argc, argv);
	fd = open("watched", O_WRONLY | O_CREAT, 0644);
	zt_check_sys(fd >= 0, "create the file");
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	in = inotify_init1(IN_NONBLOCK);
	zt_check_sys(tfd >= 0 && in >= 0, "timerfd and inotify");
	abs0 = now() + PERIOD;
	struct itimerspec its = {{0, PERIOD}, {abs0 / 1000000000ll, abs0 % 1000000000ll}};
	zt_check_sys(timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0, "arm");
	wd = inotify_add_watch(in, "watched", IN_MODIFY);
	zt_check_sys(wd > 0, "inotify_add_watch");
	zt_check_sys(pipe(go) == 0 && pipe(back) == 0, "pipes");
	/* 20 expirations at least before anyone reads */
	usleep(200000);

	child = fork();
	zt_check_sys(child >= 0, "fork");
	if (child == 0) {
		struct report r = {0};
		char c;
		for (int i = 3; i < 1024; i++)
			if (zt_own_fd(i))
				close(i);
		/* the worker waits for work */
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		int64_t before = now();
		if (read(tfd, &r.ticks, sizeof(r.ticks)) != sizeof(r.ticks))
			r.ticks = 0;
		int64_t after = now();
		r.lo = (uint64_t)((before - abs0) / PERIOD) + 1;
		r.hi = (uint64_t)((after - abs0) / PERIOD) + 1;
		r.at = after;
		/* then the file is written (by the parent) */
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		char buf[256] __attribute__((aligned(8)));
		struct inotify_event *ev = (void *)buf;
		if (read(in, buf, sizeof(buf)) >= (ssize_t)sizeof(*ev))
			r.wd = ev->wd, r.mask = ev->mask;
		if (write(back[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}

	zt_ready();
	zt_wait_for_check();

	struct report r;
	uint64_t ticks = 0;
	char buf[256] __attribute__((aligned(8)));
	zt_check_sys(write(go[1], "t", 1) == 1, "wake the worker");
	/* the worker's read of the timer, then ours: only what expired in between */
	usleep(2000);
	zt_check_sys(write(fd, "x", 1) == 1, "write the watched file");
	usleep(20000);
	zt_check_sys(write(go[1], "i", 1) == 1, "wake the worker again");
	zt_check_sys(read(back[0], &r, sizeof(r)) == sizeof(r), "the worker's report");
	zt_expect(r.ticks >= r.lo && r.ticks <= r.hi,
		  "the worker read %llu expirations of the shared timer, expected %llu..%llu",
		  (unsigned long long)r.ticks, (unsigned long long)r.lo, (unsigned long long)r.hi);
	ssize_t n = read(tfd, &ticks, sizeof(ticks));
	int64_t since = now() - r.at;
	/* only the expirations since the worker's read are left: a timer of our own would
	 * have all of them (20 at least: 200 ms before ready) */
	zt_expect(n < 0 || (ticks <= (uint64_t)(since / PERIOD) + 1 && ticks < r.ticks),
		  "after the worker's read, %llu expirations were left for the parent (%lld ms "
		  "later; the worker read %llu)",
		  (unsigned long long)ticks, (long long)(since / 1000000),
		  (unsigned long long)r.ticks);
	zt_expect(r.wd == wd && r.mask == IN_MODIFY,
		  "the worker read event wd %d mask %#x, expected wd %d IN_MODIFY", r.wd, r.mask,
		  wd);
	zt_expect(read(in, buf, sizeof(buf)) < 0 && errno == EAGAIN,
		  "the event was there for the parent too (two inotifys, not one)");
	int st = 0;
	zt_expect(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the worker ended with %#x", st);
	zt_pass();
}
