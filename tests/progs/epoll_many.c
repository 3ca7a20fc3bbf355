/* Larger and deeper epolls: one epoll watching 300 eventfds (an fdinfo of many pages), every
 * third one with a count; a chain of epolls nested four deep (the kernel's limit), the
 * outermost made first, so each is watched by one made before it; and a one-shot
 * registration on an epoll that fired (disarmed), the epoll it watches made after it: the
 * restore must fill that one first for the one-shot to fire again; the timers and watches
 * of a loop: a timerfd that expired (unread), one that expires in an hour, an inotify watching
 * the work directory. After the restore the
 * registrations are listed as before, exactly the eventfds with a count are reported, the
 * expired timer is, the hour one is not, and a file made in the directory is. */
// zt-run: gen2
#include "zt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define N 300

static void add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	zt_check_sys(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl add");
}

/* "tfd events data" triples of an epoll, sorted */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *regs(int ep)
{
	static char text[65536];
	char path[64], *lines[N + 8], *out;
	int n = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	zt_check_sys(zt_read_file(path, text, sizeof(text)) > 0, "read fdinfo");
	for (char *p = strtok(text, "\n"); p && n < N + 8; p = strtok(NULL, "\n")) {
		if (strncmp(p, "tfd:", 4))
			continue;
		char *pos = strstr(p, " pos:");
		if (pos)
			*pos = 0;
		lines[n++] = p;
	}
	qsort(lines, n, sizeof(lines[0]), cmp_str);
	out = calloc(n + 1, 80);
	zt_check_sys(out != NULL, "calloc");
	for (int i = 0; i < n; i++)
		strcat(strcat(out, lines[i]), "\n");
	return out;
}

int main(int argc, char **argv)
{
	int big, chain[4], outer, inner, ev[N], ready;
	struct epoll_event got[N + 1];
	char *before[7];
	int loop, tf_done, tf_hour, ino;
	uint64_t one = 1;

	zt_init(argc, argv);
	big = epoll_create1(0);
	zt_check_sys(big >= 0, "epoll_create1");
	for (int i = 0; i < N; i++) {
		ev[i] = eventfd(i % 3 == 0 ? (unsigned)i + 1 : 0, EFD_NONBLOCK);
		zt_check_sys(ev[i] >= 0, "eventfd");
		add(big, ev[i], EPOLLIN | (i % 2 ? EPOLLET : 0), 0x1000000000ull + i);
	}
	/* chain[0] watches chain[1] ... chain[3] watches ev[0] (ready) */
	for (int i = 0; i < 4; i++)
		zt_check_sys((chain[i] = epoll_create1(0)) >= 0, "epoll_create1");
	for (int i = 0; i < 3; i++)
		add(chain[i], chain[i + 1], EPOLLIN, 10 + i);
	add(chain[3], ev[0], EPOLLIN, 13);
	/* outer (made first) has a fired one-shot on inner */
	outer = epoll_create1(0);
	inner = epoll_create1(0);
	zt_check_sys(outer >= 0 && inner >= 0, "epoll_create1");
	add(inner, ev[3], EPOLLIN, 21);
	add(outer, inner, EPOLLIN | EPOLLONESHOT, 20);
	zt_check_sys(epoll_wait(outer, got, 1, 0) == 1 && got[0].data.u64 == 20, "fire outer");

	/* a loop's timers and watches */
	loop = epoll_create1(EPOLL_CLOEXEC);
	tf_done = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	tf_hour = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ino = inotify_init1(IN_NONBLOCK);
	zt_check_sys(loop >= 0 && tf_done >= 0 && tf_hour >= 0 && ino >= 0, "loop fds");
	struct itimerspec soon = {.it_value = {0, 1000000}}, hour = {.it_value = {3600, 0}};
	zt_check_sys(timerfd_settime(tf_done, 0, &soon, NULL) == 0 &&
			 timerfd_settime(tf_hour, 0, &hour, NULL) == 0,
		     "timerfd_settime");
	zt_check_sys(inotify_add_watch(ino, ".", IN_CREATE) > 0, "inotify_add_watch");
	usleep(20000);
	add(loop, tf_done, EPOLLIN, 30);
	add(loop, tf_hour, EPOLLIN, 31);
	add(loop, ino, EPOLLIN, 40);
	zt_check_sys(epoll_wait(loop, got, 4, 0) == 1 && got[0].data.u64 == 30, "the timer");

	before[0] = regs(big);
	for (int i = 0; i < 4; i++)
		before[1 + i] = regs(chain[i]);
	before[5] = regs(outer);
	before[6] = regs(loop);
	zt_check_sys(strstr(before[5], "events: 40000000") != NULL, "outer is disarmed");

	zt_ready();
	zt_wait_for_check();

	zt_expect_same_text("big", before[0], regs(big));
	for (int i = 0; i < 4; i++)
		zt_expect_same_text("chain", before[1 + i], regs(chain[i]));
	zt_expect_same_text("outer", before[5], regs(outer));
	zt_expect_same_text("loop", before[6], regs(loop));

	int n = epoll_wait(big, got, N + 1, 0);
	ready = 0;
	for (int i = 0; i < n; i++) {
		uint64_t k = got[i].data.u64 - 0x1000000000ull;
		zt_expect(k < N && k % 3 == 0 && got[i].events == EPOLLIN, "reported: data %#llx",
			  (unsigned long long)got[i].data.u64);
		ready++;
	}
	zt_expect(ready == N / 3, "%d of %d eventfds with a count reported", ready, N / 3);
	zt_expect(write(ev[1], &one, 8) == 8, "write");
	n = epoll_wait(big, got, N + 1, 0);
	int seen1 = 0;
	for (int i = 0; i < n; i++)
		seen1 += got[i].data.u64 == 0x1000000001ull;
	zt_expect(seen1 == 1, "a new count on ev[1] reported %d times", seen1);

	zt_expect(epoll_wait(chain[0], got, 2, 0) == 1 && got[0].data.u64 == 10,
		  "the chain does not report its ready end");
	zt_expect(epoll_wait(outer, got, 2, 0) == 0, "the disarmed one-shot on inner fires");
	zt_expect(epoll_wait(inner, got, 2, 0) == 1 && got[0].data.u64 == 21, "inner: not ready");
	n = epoll_wait(loop, got, 4, 0);
	zt_expect(n == 1 && got[0].data.u64 == 30, "loop: %d events (%llu), not the expired timer",
		  n, n > 0 ? (unsigned long long)got[0].data.u64 : 0ull);
	uint64_t ticks = 0;
	zt_expect(read(tf_done, &ticks, 8) == 8 && ticks == 1, "timer ticks %llu",
		  (unsigned long long)ticks);
	int nf = open("made-after", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	zt_expect(nf >= 0, "create: %m");
	n = epoll_wait(loop, got, 4, 0);
	zt_expect(n == 1 && got[0].data.u64 == 40, "loop after a file was made: %d events", n);
	zt_pass();
}
