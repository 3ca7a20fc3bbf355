/* A TCP connect in progress (SYN_SENT) at the dump, saved and restored with
 * --tcp-established. The peer, a process outside the tree (forked before zt_init), listens
 * on loopback with a backlog of 0 and an accept queue its own client fills, so the kernel
 * drops the test's SYN: the test's nonblocking connect() stays in progress. Its socket has
 * SO_REUSEADDR, SO_KEEPALIVE and TCP_MAXSEG 1000 set before the connect. A child of the test
 * is blocked in a blocking connect() to a second such listener of the peer's.
 * After the dump: still in progress (TCP_INFO SYN_SENT, not writable, SO_ERROR 0, a second
 * connect() EALREADY, getpeername ENOTCONN), the same address, options, O_NONBLOCK and MSS
 * (TCP_MAXSEG, clamped by the one asked for); then the peer is told to accept (SIGUSR1): the
 * connect completes (writable, SO_ERROR 0, the listener's address), the peer's "hello" comes
 * in, the test's "bye" reaches the peer, which answers "ok"; the child's connect returns 0
 * and it talks the same way (its exit status). Without --tcp-established the dump must refuse it
 * (tests/cases/tcp_syn_sent_refused.sh). */
// zt-run: gen2 tcp-established
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
#include <sys/wait.h>
#include <unistd.h>

static int get(int fd, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);
	return getsockopt(fd, level, name, &v, &len) < 0 ? -errno : v;
}

/* lines of /proc/net/tcp in state st (two hex digits), waited for until there are want */
static int count_state(const char *st, int want)
{
	char pat[8], line[256];
	int n = 0;
	snprintf(pat, sizeof(pat), " %s ", st);
	for (int i = 0; i < 300; i++) {
		FILE *f = fopen("/proc/net/tcp", "re");
		n = 0;
		while (f && fgets(line, sizeof(line), f))
			n += strstr(line, pat) != NULL;
		if (f)
			fclose(f);
		if (n >= want)
			break;
		usleep(10000);
	}
	return n;
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

/* one connection of the peer's: hello, bye, ok */
static void serve(int l)
{
	char b[4];
	int y = accept(l, NULL, NULL);
	if (y < 0 || write(y, "hello", 5) != 5 || !read_n(y, b, 3, 15000) || memcmp(b, "bye", 3) ||
	    write(y, "ok", 2) != 2)
		_exit(4);
	close(y);
}

/* the client's side of it */
static bool talk(int c)
{
	char b[8];
	return read_n(c, b, 5, 15000) && !memcmp(b, "hello", 5) && write(c, "bye", 3) == 3 &&
	       read_n(c, b, 2, 15000) && !memcmp(b, "ok", 2);
}

/* the peer: its own clients fill the accept queue of each listener; on SIGUSR1 it accepts
 * them, then the test's connection on l[0] and its child's on l[1] */
static void __attribute__((noreturn)) peer(const int *l, const struct sockaddr_in *a)
{
	sigset_t set;
	int sig, c[2];

	alarm(120);
	for (int i = 0; i < 2; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (c[i] < 0 || connect(c[i], (const struct sockaddr *)&a[i], sizeof(a[i])) < 0)
			_exit(1);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigwait(&set, &sig))
		_exit(2);
	if (accept(l[0], NULL, NULL) < 0 || accept(l[1], NULL, NULL) < 0)
		_exit(3);
	serve(l[0]);
	serve(l[1]);
	_exit(0);
}

/* the test's child: a blocking connect, in progress at the dump */
static void __attribute__((noreturn)) blocked(const struct sockaddr_in *a)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	alarm(120);
	if (c < 0)
		_exit(10);
	int r = connect(c, (const struct sockaddr *)a, sizeof(*a));
	if (r < 0)
		_exit(11);
	_exit(talk(c) ? 0 : 12);
}

int main(int argc, char **argv)
{
	struct sockaddr_in la[2], me, me2, p;
	socklen_t ml = sizeof(me);
	int l[2], c, one = 1, mss = 1000;
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 2; i++) {
		socklen_t alen = sizeof(la[i]);
		memset(&la[i], 0, sizeof(la[i]));
		la[i].sin_family = AF_INET;
		la[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (l[i] < 0 || bind(l[i], (struct sockaddr *)&la[i], sizeof(la[i])) < 0 ||
		    listen(l[i], 0) < 0 ||
		    getsockname(l[i], (struct sockaddr *)&la[i], &alen) < 0) {
			perror("listener");
			return 1;
		}
	}
	struct sockaddr_in a = la[0];
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid_t out = fork();
	if (out < 0)
		return 1;
	if (out == 0)
		peer(l, la);
	close(l[0]), close(l[1]);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	zt_init(argc, argv);

	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	zt_check_sys(c >= 0 && setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
			 setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == 0 &&
			 setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)) == 0,
		     "socket");
	/* the peer's client first, so that the queue is full when the SYN comes */
	if (count_state("01", 4) < 4) /* ESTABLISHED: both ends of each */
		zt_fail("the peer's clients are not connected");
	fflush(NULL);
	pid_t child = fork();
	if (child == 0)
		blocked(&la[1]);
	zt_check_sys(child > 0, "fork");
	errno = 0;
	zt_check_sys(connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 && errno == EINPROGRESS,
		     "nonblocking connect");
	if (count_state("02", 2) < 2) /* SYN_SENT: the child's and this one */
		zt_fail("the connects are not both in progress");
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
	zt_expect(talk(c), "no hello, or no ok, from the peer");
	/* the child's blocking connect completed too, and it talked */
	int st = -1;
	for (int i = 0; i < 200 && waitpid(child, &st, WNOHANG) == 0; i++)
		usleep(100000);
	zt_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the child's blocking connect: status %#x (11: connect failed, 12: no talk)", st);
	zt_pass();
}
