/* An established TCP connection to a peer outside the tree: an echo server the test starts
 * before the tree (forked before zt_init, so that it is the starting process's child, not
 * the tree's), on 127.0.0.1. The test streams a numbered pattern to it and reads the echo
 * back the whole time, through the dump (and restore): every echoed byte is checked against
 * what was sent, in order, so a byte lost, doubled or reordered in either direction fails,
 * as does a reset; the connection's SO_REUSEADDR must read as set. At the check the test stops
 * sending, reads the rest of the echo, shuts its side down and sees the server's end. */
// zt-run: gen2 tcp-established
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint8_t pat(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 11);
}

static void __attribute__((noreturn)) serve(int l)
{
	static char buf[65536];
	int c;

	alarm(120); /* never outlives a run that forgot it */
	c = accept(l, NULL, NULL);
	if (c < 0)
		_exit(1);
	close(l);
	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf)), done = 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		while (done < n) {
			ssize_t w = write(c, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				_exit(2);
			done += w;
		}
	}
	close(c);
	_exit(0);
}

#ifdef ZT_TCP6
#define FAMILY AF_INET6
typedef struct sockaddr_in6 addr_t;
static addr_t lo = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
#else
#define FAMILY AF_INET
typedef struct sockaddr_in addr_t;
static addr_t lo = {.sin_family = AF_INET}; /* 127.0.0.1 set in main */
#endif

int main(int argc, char **argv)
{
	addr_t a = lo;
	socklen_t alen = sizeof(a);
#ifndef ZT_TCP6
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
#endif
	static uint8_t out[4096], in[65536];
	uint64_t sent = 0, echoed = 0, bad = UINT64_MAX;
	int l, c, fails = 0;
	pid_t server;

	l = socket(FAMILY, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
		perror("listen");
		return 1;
	}
	server = fork();
	if (server < 0)
		return 1;
	if (server == 0)
		serve(l);
	close(l);
	zt_init(argc, argv);
	/* SO_REUSEADDR, which each repair off clears: a dump that failed or was killed (its
	 * watchdog) sets it back, and so does the restore */
	int one = 1, reuse = 0;
	socklen_t rl = sizeof(reuse);
	c = socket(FAMILY, SOCK_STREAM, 0);
	zt_check_sys(c >= 0 && setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
			 connect(c, (struct sockaddr *)&a, sizeof(a)) == 0,
		     "connect");
	zt_check_sys(fcntl(c, F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
	zt_ready();

	while (!zt_check_requested()) {
		struct pollfd pf = {.fd = c, .events = POLLIN | POLLOUT};
		int r = poll(&pf, 1, 100);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (pf.revents & (POLLERR | POLLHUP))) {
			fails++;
			break;
		}
		/* a bounded amount in flight: the echo keeps up */
		if ((pf.revents & POLLOUT) && sent - echoed < (1u << 20)) {
			for (size_t i = 0; i < sizeof(out); i++)
				out[i] = pat(sent + i);
			ssize_t w = send(c, out, sizeof(out), MSG_NOSIGNAL);
			if (w > 0)
				sent += (uint64_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				fails++;
				break;
			}
		}
		if (pf.revents & POLLIN) {
			ssize_t n = recv(c, in, sizeof(in), 0);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				fails++;
				break;
			}
			for (ssize_t i = 0; i < n; i++)
				if (in[i] != pat(echoed + (uint64_t)i) && bad == UINT64_MAX)
					bad = echoed + (uint64_t)i;
			if (n > 0)
				echoed += (uint64_t)n;
		}
		usleep(1000);
	}
	zt_expect(!fails, "the connection failed while streaming: %m (sent %llu, echoed %llu)",
		  (unsigned long long)sent, (unsigned long long)echoed);
	zt_expect(getsockopt(c, SOL_SOCKET, SO_REUSEADDR, &reuse, &rl) == 0 && reuse == 1,
		  "SO_REUSEADDR reads %d, not 1 as set", reuse);
	/* the rest of the echo, then the end */
	fcntl(c, F_SETFL, 0);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!fails && echoed < sent) {
		ssize_t n = recv(c, in, sizeof(in), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (in[i] != pat(echoed + (uint64_t)i) && bad == UINT64_MAX)
				bad = echoed + (uint64_t)i;
		echoed += (uint64_t)n;
	}
	zt_log("sent %llu bytes, %llu echoed", (unsigned long long)sent,
	       (unsigned long long)echoed);
	zt_expect(sent > 0 && echoed == sent, "sent %llu bytes, %llu came back: %m",
		  (unsigned long long)sent, (unsigned long long)echoed);
	zt_expect(bad == UINT64_MAX, "the echo differs from what was sent at byte %llu",
		  (unsigned long long)bad);
	zt_expect(shutdown(c, SHUT_WR) == 0, "shutdown: %m");
	char b;
	zt_expect(recv(c, &b, 1, 0) == 0, "the server did not end the connection: %m");
	zt_pass();
}
