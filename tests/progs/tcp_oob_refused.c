/* The target of the tcp-oob-refused case: a connection on 127.0.0.1 whose reading end holds
 * an urgent mark announced by its peer whose byte has not come yet (the writer wrote 20000
 * bytes then 'U' with MSG_OOB to a reader with a small window; the reader read a little, so
 * the writer's next segments carried the urgent pointer ahead of the data). The kernel keeps
 * the mark's sequence where nothing shows it: the dump must refuse naming the task, the fd
 * and "urgent data (MSG_OOB)". Afterwards the target reads on: exactly the 20000 bytes up to
 * the mark, then 'U' with MSG_OOB. The reader's port is written to `ports`. */
// zt-run: no-cryo
// (the target of tests/cases/tcp_oob_refused.sh)
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define BEFORE 20000u

static int atmark(int fd)
{
	int v = -1;
	return ioctl(fd, SIOCATMARK, &v) < 0 ? -1 : v;
}

/* what can be read now, without waiting; -1 on a failure */
static int drain(int r, uint32_t max)
{
	char buf[1024];
	uint32_t got = 0;
	while (got < max && atmark(r) != 1) {
		ssize_t k =
		    recv(r, buf, max - got < sizeof(buf) ? max - got : sizeof(buf), MSG_DONTWAIT);
		if (k < 0 && errno == EAGAIN)
			break;
		if (k <= 0)
			return -1;
		got += (uint32_t)k;
	}
	return (int)got;
}

int main(int argc, char **argv)
{
	static char out[BEFORE];
	int n;
	uint32_t got = 0;
	char b;

	zt_init(argc, argv);
	int l, w, r;
	/* the accepted socket inherits a small receive buffer: the writer's window closes */
	zt_tcp_pair_small(&l, &w, &r);
	memset(out, 'n', sizeof(out));
	zt_check_sys(send(w, out, sizeof(out), MSG_DONTWAIT) == (ssize_t)sizeof(out) &&
			 send(w, "U", 1, MSG_OOB) == 1,
		     "write");
	/* a little read at a time until a segment brought the urgent pointer ahead */
	for (int i = 0; i < 100; i++) {
		usleep(20000);
		if (recv(r, &b, 1, MSG_OOB | MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN)
			break;
		zt_check_sys((n = drain(r, 1500)) >= 0, "read");
		got += (uint32_t)n;
		zt_check_sys(got < BEFORE / 2, "the urgent pointer never came ahead of its byte");
	}
	zt_check_sys(recv(r, &b, 1, MSG_OOB | MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN,
		     "no urgent mark ahead of its byte");
	struct sockaddr_in ra;
	socklen_t rl = sizeof(ra);
	FILE *f = fopen("ports", "w");
	zt_check_sys(getsockname(r, (struct sockaddr *)&ra, &rl) == 0 && f &&
			 fprintf(f, "%u %u\n", ntohs(ra.sin_port), got) > 0 && fclose(f) == 0,
		     "ports");
	zt_ready();
	zt_wait_for_check();

	for (int i = 0; i < 500 && got < BEFORE && atmark(r) != 1; i++) {
		struct pollfd pf = {.fd = r, .events = POLLIN};
		poll(&pf, 1, 100);
		if ((n = drain(r, BEFORE + 1 - got)) < 0)
			break;
		got += (uint32_t)n;
	}
	zt_expect(got == BEFORE && atmark(r) == 1, "read %u bytes to the mark, not %u", got,
		  BEFORE);
	n = -1;
	for (int i = 0; i < 500 && n < 0; i++)
		if ((n = (int)recv(r, &b, 1, MSG_OOB | MSG_DONTWAIT)) < 0)
			usleep(10000);
	zt_expect(n == 1 && b == 'U', "recv(MSG_OOB) gave %d '%c', not 'U': %m", n, b);
	zt_pass();
}
