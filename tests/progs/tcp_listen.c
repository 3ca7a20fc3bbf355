/* A TCP server as servers set one up: a listener on 127.0.0.1 on a port the kernel chose at
 * setup, with the options servers set (SO_REUSEADDR, SO_KEEPALIVE and its timers, TCP_NODELAY,
 * TCP_DEFER_ACCEPT, TCP_FASTOPEN, buffers, IP_TOS, IP_FREEBIND, SO_MARK, SO_PRIORITY,
 * SO_LINGER, timeouts, TCP_USER_TIMEOUT, TCP_CONGESTION), backlog 7, shared with a worker
 * child blocked in accept(). Beside it a TCP socket only made (nonblocking) and one bound but
 * not listening. After the restore: the same ports, backlog and every option read back
 * equal; the test connects and the worker answers through the accepted connection (which
 * inherited TCP_NODELAY); the socket only made connects too; the bound one can listen. */
// zt-run: gen2
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct opt {
	int level, name;
	const char *label;
	int ival; /* set to this (0: only read) */
};

static struct opt opts[] = {
    {SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", 1},
    {SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1},
    {SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", 70000},
    {SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", 50000},
    {SOL_SOCKET, SO_MARK, "SO_MARK", 4242},
    {SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY", 5},
    {SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT", 3},
    {IPPROTO_IP, IP_TOS, "IP_TOS", 0x28},
    {IPPROTO_IP, IP_TTL, "IP_TTL", 33},
    {IPPROTO_IP, IP_FREEBIND, "IP_FREEBIND", 1},
    {IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 1},
    {IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", 77},
    {IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", 9},
    {IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", 4},
    {IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", 5},
    {IPPROTO_TCP, TCP_FASTOPEN, "TCP_FASTOPEN", 16},
    {IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", 12345},
    {IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG", 1200},
    {SOL_SOCKET, SO_LINGER, "SO_LINGER", 0},
    {SOL_SOCKET, SO_RCVTIMEO, "SO_RCVTIMEO", 0},
    {SOL_SOCKET, SO_SNDTIMEO, "SO_SNDTIMEO", 0},
    {IPPROTO_TCP, TCP_CONGESTION, "TCP_CONGESTION", 0},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))
static unsigned char before[NOPTS][32];
static socklen_t before_len[NOPTS];

static void read_opts(int sk, int pass)
{
	for (size_t i = 0; i < NOPTS; i++) {
		unsigned char now[32] = {0};
		socklen_t len = sizeof(now);
		zt_check_sys(getsockopt(sk, opts[i].level, opts[i].name, now, &len) == 0,
			     opts[i].label);
		if (!pass) {
			memcpy(before[i], now, sizeof(now));
			before_len[i] = len;
			continue;
		}
		zt_expect(len == before_len[i] && !memcmp(now, before[i], len),
			  "%s differs after the restore (first int %d, was %d)", opts[i].label,
			  *(int *)now, *(int *)before[i]);
	}
}

static unsigned short port_of(int sk)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	if (getsockname(sk, (struct sockaddr *)&a, &len) < 0)
		return 0;
	return ntohs(a.sin_port);
}

static struct sockaddr_in lo(unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* The worker: one connection, "ping N" answered with "pong N nodelay=X" */
static void worker(int l)
{
	char buf[64], out[96];
	int c, nd = -1;
	socklen_t len = sizeof(nd);
	ssize_t n;

	/* the listener's SO_RCVTIMEO bounds each accept() */
	while ((c = accept(l, NULL, NULL)) < 0 && (errno == EAGAIN || errno == EINTR))
		;

	if (c < 0)
		_exit(10);
	getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nd, &len);
	n = read(c, buf, sizeof(buf) - 1);
	if (n <= 0)
		_exit(11);
	buf[n] = 0;
	snprintf(out, sizeof(out), "pong %s nodelay=%d", buf + 5, nd);
	if (write(c, out, strlen(out)) != (ssize_t)strlen(out))
		_exit(12);
	close(c);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct linger lg = {1, 5};
	struct timeval rcv = {3, 250000}, snd = {0, 500000};
	unsigned short port, bport;
	int l, made, bound, st;
	pid_t child;

	zt_init(argc, argv);
	l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	zt_check_sys(l >= 0, "socket");
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].ival)
			zt_check_sys(setsockopt(l, opts[i].level, opts[i].name, &opts[i].ival,
						sizeof(int)) == 0,
				     opts[i].label);
	zt_check_sys(setsockopt(l, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0, "SO_LINGER");
	zt_check_sys(setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv)) == 0, "RCVTIMEO");
	zt_check_sys(setsockopt(l, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd)) == 0, "SNDTIMEO");
	/* reno is built in everywhere; the default here is cubic */
	zt_check_sys(setsockopt(l, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) == 0, "TCP_CONGESTION");
	struct sockaddr_in a = lo(0);
	zt_check_sys(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0, "bind");
	zt_check_sys(listen(l, 7) == 0, "listen");
	port = port_of(l);
	read_opts(l, 0);

	made = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	bound = socket(AF_INET, SOCK_STREAM, 0);
	zt_check_sys(made >= 0 && bound >= 0, "socket");
	a = lo(0);
	zt_check_sys(bind(bound, (struct sockaddr *)&a, sizeof(a)) == 0, "bind");
	bport = port_of(bound);

	child = fork();
	zt_check_sys(child >= 0, "fork");
	if (child == 0)
		worker(l);

	zt_ready();
	zt_wait_for_check();

	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	zt_expect(port_of(l) == port, "listener port %u, was %u", port_of(l), port);
	zt_expect(getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == 10 &&
		      ti.tcpi_sacked == 7,
		  "listener state %u backlog %u", ti.tcpi_state, ti.tcpi_sacked);
	read_opts(l, 1);
	zt_expect(!(fcntl(l, F_GETFL) & O_NONBLOCK), "the listener became nonblocking");
	zt_expect(fcntl(made, F_GETFL) & O_NONBLOCK, "the made socket lost O_NONBLOCK");
	zt_expect(port_of(made) == 0, "the made socket is bound to %u", port_of(made));
	zt_expect(port_of(bound) == bport, "the bound socket is on %u, was %u", port_of(bound),
		  bport);

	/* a client: the worker accepts and answers */
	int c = socket(AF_INET, SOCK_STREAM, 0);
	char buf[96] = {0};
	a = lo(port);
	zt_expect(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0,
		  "connect to the restored listener: %m");
	zt_expect(write(c, "ping 42", 7) == 7, "write: %m");
	ssize_t n = read(c, buf, sizeof(buf) - 1);
	zt_expect(n > 0 && !strcmp(buf, "pong 42 nodelay=1"), "the worker answered '%s' (%zd)", buf,
		  n);
	zt_expect(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the worker ended with %#x", st);
	close(c);

	/* the socket only made still connects (nonblocking: in progress, then done) */
	a = lo(port);
	int r = connect(made, (struct sockaddr *)&a, sizeof(a));
	zt_expect(r == 0 || errno == EINPROGRESS, "connect of the made socket: %m");
	struct pollfd pf = {.fd = made, .events = POLLOUT};
	int err = -1;
	len = sizeof(err);
	zt_expect(poll(&pf, 1, 5000) == 1 &&
		      getsockopt(made, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0,
		  "the made socket did not connect (error %d)", err);
	/* the bound one listens on its port */
	zt_expect(listen(bound, 1) == 0 && port_of(bound) == bport,
		  "listen on the bound socket: %m");
	zt_pass();
}
