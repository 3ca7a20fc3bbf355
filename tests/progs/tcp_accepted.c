/* Accepted TCP connections and their options, saved and restored with --tcp-established:
 * a listener on loopback with SO_REUSEADDR, SO_KEEPALIVE, TCP_NODELAY, TCP_KEEPIDLE and
 * buffer sizes set (an accepted socket inherits them), and
 *   a1: accepted from the test's own client c (both ends in the tree), c with SO_REUSEADDR
 *       and SO_KEEPALIVE of its own;
 *   a2: accepted from a client outside the tree (forked before zt_init, an echo).
 * Every option of the table below is read on each socket before the dump and must read the
 * same after it (TCP_REPAIR off clears SO_REUSEADDR; an accepted IPv6 socket holds multicast
 * values of its SYN that no setsockopt takes on a TCP socket); then bytes go both ways on
 * a1/c and through the echo on a2, the listener accepts a new client, and a new socket can
 * bind the listener's port while the connections live (SO_REUSEADDR on all of them). */
// zt-run: gen2 tcp-established
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef ZT_TCP6
#define FAMILY AF_INET6
typedef struct sockaddr_in6 addr_t;
#else
#define FAMILY AF_INET
typedef struct sockaddr_in addr_t;
#endif

static void loopback(addr_t *a)
{
	memset(a, 0, sizeof(*a));
#ifdef ZT_TCP6
	a->sin6_family = AF_INET6;
	a->sin6_addr = in6addr_loopback;
#else
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
#endif
}

static const struct {
	int level, name;
	const char *label;
} opts[] = {
    {SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"},
    {SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"},
    {SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"},
    {SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF"},
    {IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY"},
    {IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"},
    {IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"},
#ifdef ZT_TCP6
    {IPPROTO_IPV6, IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS"},
    {IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS"},
    {IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY"},
#else
    {IPPROTO_IP, IP_TOS, "IP_TOS"},
    {IPPROTO_IP, IP_TTL, "IP_TTL"},
#endif
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static int get(int fd, int i)
{
	int v = -12345;
	socklen_t len = sizeof(v);
	if (getsockopt(fd, opts[i].level, opts[i].name, &v, &len) < 0)
		return -12346;
	return v;
}

static int set(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v));
}

/* the outside client: connects, then echoes until the end */
static void __attribute__((noreturn)) client(const addr_t *a)
{
	char buf[4096];
	int c = socket(FAMILY, SOCK_STREAM, 0);

	alarm(120);
	if (c < 0 || connect(c, (const struct sockaddr *)a, sizeof(*a)) < 0)
		_exit(1);
	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write(c, buf, (size_t)n) != n)
			break;
	}
	_exit(0);
}

static bool read_n(int fd, char *b, size_t n)
{
	size_t done = 0;
	while (done < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			return false;
		ssize_t r = read(fd, b + done, n - done);
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

int main(int argc, char **argv)
{
	addr_t a;
	socklen_t alen = sizeof(a);
	int l, c, a1, a2, before[3][NOPTS];
	char b[16];

	signal(SIGPIPE, SIG_IGN);
	loopback(&a);
	l = socket(FAMILY, SOCK_STREAM, 0);
	if (l < 0 || set(l, SOL_SOCKET, SO_REUSEADDR, 1) || set(l, SOL_SOCKET, SO_KEEPALIVE, 1) ||
	    set(l, IPPROTO_TCP, TCP_NODELAY, 1) || set(l, IPPROTO_TCP, TCP_KEEPIDLE, 77) ||
	    set(l, SOL_SOCKET, SO_SNDBUF, 99999) || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 8) < 0 || getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
		perror("listener");
		return 1;
	}
	pid_t out = fork();
	if (out < 0)
		return 1;
	if (out == 0) {
		close(l);
		client(&a);
	}
	zt_init(argc, argv);
	zt_check_sys((a2 = accept(l, NULL, NULL)) >= 0, "accept the outside client");
	c = socket(FAMILY, SOCK_STREAM, 0);
	zt_check_sys(c >= 0 && set(c, SOL_SOCKET, SO_REUSEADDR, 1) == 0 &&
			 set(c, SOL_SOCKET, SO_KEEPALIVE, 1) == 0 &&
			 connect(c, (struct sockaddr *)&a, sizeof(a)) == 0,
		     "connect");
	zt_check_sys((a1 = accept(l, NULL, NULL)) >= 0, "accept");
	zt_check_sys(write(a2, "ping", 4) == 4 && read_n(a2, b, 4) && !memcmp(b, "ping", 4),
		     "the echo");
	int fds[3] = {a1, a2, c};
	const char *names[3] = {"a1", "a2", "c"};
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < NOPTS; i++)
			before[k][i] = get(fds[k], (int)i);
	if (before[0][0] != 1 || before[1][0] != 1 || before[2][0] != 1)
		zt_fail("SO_REUSEADDR not inherited (%d %d %d)", before[0][0], before[1][0],
			before[2][0]);
	zt_ready();
	zt_wait_for_check();

	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < NOPTS; i++) {
			int now = get(fds[k], (int)i);
			zt_expect(now == before[k][i], "%s: %s is %d, was %d", names[k],
				  opts[i].label, now, before[k][i]);
		}
	zt_expect(get(l, 0) == 1, "listener: SO_REUSEADDR lost");
	zt_expect(write(c, "abc", 3) == 3 && read_n(a1, b, 3) && !memcmp(b, "abc", 3), "c -> a1");
	zt_expect(write(a1, "xyz", 3) == 3 && read_n(c, b, 3) && !memcmp(b, "xyz", 3), "a1 -> c");
	zt_expect(write(a2, "pong", 4) == 4 && read_n(a2, b, 4) && !memcmp(b, "pong", 4),
		  "a2: no echo");
	/* the listener still takes clients */
	int c2 = socket(FAMILY, SOCK_STREAM, 0), a3 = -1;
	zt_expect(c2 >= 0 && connect(c2, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		      (a3 = accept(l, NULL, NULL)) >= 0,
		  "a new client: %m");
	close(c2), close(a3);
	zt_pass();
}
