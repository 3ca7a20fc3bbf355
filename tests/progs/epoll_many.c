/* Larger and deeper epolls: one epoll watching 300 eventfds (an fdinfo of many pages), every
 * third one with a count; a chain of epolls nested four deep (the kernel's limit), the
 * outermost made first, so each is watched by one made before it; and a one-shot
 * registration on an epoll that fired (disarmed), the epoll it watches made after it: the
 * restore must fill that one first for the one-shot to fire again. After the restore the
 * registrations are listed as before and exactly the eventfds with a count are reported. */
// zt-run: gen2
#include "zt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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
	char *before[6];
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

	before[0] = regs(big);
	for (int i = 0; i < 4; i++)
		before[1 + i] = regs(chain[i]);
	before[5] = regs(outer);
	zt_check_sys(strstr(before[5], "events: 40000000") != NULL, "outer is disarmed");

	zt_ready();
	zt_wait_for_check();

	zt_expect_same_text("big", before[0], regs(big));
	for (int i = 0; i < 4; i++)
		zt_expect_same_text("chain", before[1 + i], regs(chain[i]));
	zt_expect_same_text("outer", before[5], regs(outer));

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
	zt_pass();
}
