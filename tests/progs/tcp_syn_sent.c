/* A TCP connect in progress (SYN_SENT) at the dump, saved and restored with
 * --tcp-established. The peer, a process outside the tree (forked before zt_init), listens
 * on loopback with a backlog of 0 and an accept queue its own client fills, so the kernel
 * drops the test's SYN: the test's nonblocking connect() stays in progress. Its socket has
 * SO_REUSEADDR, SO_KEEPALIVE and TCP_MAXSEG 1000 set before the connect.
 * After the dump: still in progress (TCP_INFO SYN_SENT, not writable, SO_ERROR 0, a second
 * connect() EALREADY, getpeername ENOTCONN), the same address, options, O_NONBLOCK and MSS
 * (TCP_MAXSEG, clamped by the one asked for); then the peer is told to accept (SIGUSR1): the
 * connect completes (writable, SO_ERROR 0, the listener's address), the peer's "hello" comes
 * in and the test's "bye" reaches the peer, whose verdict is its exit status... read here as
 * the end of file after its answer "ok". Without --tcp-established the dump must refuse it
 * (tests/cases/tcp_syn_sent_refused.sh). */
// zt-run: tcp-established
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int get(int fd, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);
	return getsockopt(fd, level, name, &v, &len) < 0 ? -errno : v;
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ? -1 : ti.tcpi_state;
}

static bool read_n(int fd, char *b, size_t n, int ms)
{
	size_t done = 0;
	while (done < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, ms) <= 0)
			return false;
		ssize_t r = read(fd, b + done, n - done);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

/* the peer: its own client fills the accept queue; on SIGUSR1 it accepts that one, then
 * the test's connection, says hello, wants bye, answers ok */
static void __attribute__((noreturn)) peer(int l, const struct sockaddr_in *a)
{
	sigset_t set;
	int sig, c1 = socket(AF_INET, SOCK_STREAM, 0), x, y;
	char b[4];

	alarm(120);
	if (c1 < 0 || connect(c1, (const struct sockaddr *)a, sizeof(*a)) < 0)
		_exit(1);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigwait(&set, &sig))
		_exit(2);
	if ((x = accept(l, NULL, NULL)) < 0 || (y = accept(l, NULL, NULL)) < 0)
		_exit(3);
	if (write(y, "hello", 5) != 5 || !read_n(y, b, 3, 10000) || memcmp(b, "bye", 3))
		_exit(4);
	if (write(y, "ok", 2) != 2)
		_exit(5);
	close(y), close(x), close(c1);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET}, me, me2, p;
	socklen_t alen = sizeof(a), ml = sizeof(me);
	int l, c, one = 1, mss = 1000;
	sigset_t set;
	char b[8];

	signal(SIGPIPE, SIG_IGN);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 0) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
		perror("listener");
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid_t out = fork();
	if (out < 0)
		return 1;
	if (out == 0)
		peer(l, &a);
	close(l);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	zt_init(argc, argv);

	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	zt_check_sys(c >= 0 && setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
			 setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == 0 &&
			 setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)) == 0,
		     "socket");
	/* the peer's client first, so that the queue is full when the SYN comes */
	for (int i = 0; i < 200; i++) {
		char line[256];
		FILE *f = fopen("/proc/net/tcp", "re");
		int full = 0;
		while (f && fgets(line, sizeof(line), f))
			full += strstr(line, " 01 ") != NULL; /* ESTABLISHED: both ends */
		if (f)
			fclose(f);
		if (full >= 2)
			break;
		usleep(10000);
	}
	errno = 0;
	zt_check_sys(connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 && errno == EINPROGRESS,
		     "nonblocking connect");
	usleep(200000);
	if (tcp_state(c) != 2)
		zt_fail("the connect is not in progress: TCP state %d", tcp_state(c));
	zt_check_sys(getsockname(c, (struct sockaddr *)&me, &ml) == 0, "getsockname");
	int mss_before = get(c, IPPROTO_TCP, TCP_MAXSEG);
	zt_ready();
	zt_wait_for_check();

	/* still in progress, as the program left it */
	struct pollfd pf = {.fd = c, .events = POLLOUT};
	zt_expect(tcp_state(c) == 2, "TCP state %d, not SYN_SENT", tcp_state(c));
	zt_expect(poll(&pf, 1, 0) == 0, "writable already (revents %#x)", pf.revents);
	zt_expect(get(c, SOL_SOCKET, SO_ERROR) == 0, "SO_ERROR %d", get(c, SOL_SOCKET, SO_ERROR));
	errno = 0;
	zt_expect(connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 && errno == EALREADY,
		  "a second connect: %m, not EALREADY");
	socklen_t pl = sizeof(p);
	errno = 0;
	zt_expect(getpeername(c, (struct sockaddr *)&p, &pl) < 0 && errno == ENOTCONN,
		  "getpeername: %m, not ENOTCONN");
	ml = sizeof(me2);
	zt_expect(getsockname(c, (struct sockaddr *)&me2, &ml) == 0 &&
		      me2.sin_port == me.sin_port && me2.sin_addr.s_addr == me.sin_addr.s_addr,
		  "the address changed (port %u, was %u)", ntohs(me2.sin_port), ntohs(me.sin_port));
	zt_expect(get(c, SOL_SOCKET, SO_REUSEADDR) == 1, "SO_REUSEADDR %d",
		  get(c, SOL_SOCKET, SO_REUSEADDR));
	zt_expect(get(c, SOL_SOCKET, SO_KEEPALIVE) == 1, "SO_KEEPALIVE lost");
	zt_expect(fcntl(c, F_GETFL) & O_NONBLOCK, "O_NONBLOCK lost");
	zt_expect(get(c, IPPROTO_TCP, TCP_MAXSEG) == mss_before, "TCP_MAXSEG %d, was %d",
		  get(c, IPPROTO_TCP, TCP_MAXSEG), mss_before);

	/* the peer accepts: the connect completes */
	zt_expect(kill(out, SIGUSR1) == 0, "the peer %d: %m", (int)out);
	pf.revents = 0;
	zt_expect(poll(&pf, 1, 20000) == 1 && (pf.revents & POLLOUT), "not connected (%#x)",
		  pf.revents);
	zt_expect(get(c, SOL_SOCKET, SO_ERROR) == 0, "connect failed: SO_ERROR %d",
		  get(c, SOL_SOCKET, SO_ERROR));
	zt_expect(tcp_state(c) == 1, "TCP state %d, not ESTABLISHED", tcp_state(c));
	pl = sizeof(p);
	zt_expect(getpeername(c, (struct sockaddr *)&p, &pl) == 0 && p.sin_port == a.sin_port,
		  "the peer is not the listener");
	zt_expect(get(c, IPPROTO_TCP, TCP_MAXSEG) <= 1000, "MSS %d above the one asked for",
		  get(c, IPPROTO_TCP, TCP_MAXSEG));
	zt_expect(read_n(c, b, 5, 10000) && !memcmp(b, "hello", 5), "no hello from the peer");
	zt_expect(write(c, "bye", 3) == 3, "write: %m");
	zt_expect(read_n(c, b, 2, 10000) && !memcmp(b, "ok", 2), "the peer did not answer ok");
	zt_pass();
}
