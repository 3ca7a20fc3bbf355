/* A half-closed TCP connection to a peer outside the tree (forked before zt_init, as in
 * tcp_peer.c), saved and restored with --tcp-established. FIN_MODE picks the state it is in
 * at the dump (CLOSE_WAIT here; tcp_finwait1.c, tcp_finwait2.c, tcp_finwait1_full.c,
 * tcp_lastack.c, tcp_closing.c define it and include this file):
 * - CLOSE_WAIT: the peer wrote PEER_BYTES and shut its side down; the test read nothing.
 *   After the restore it reads every byte, then the end (read returns 0), then writes a reply
 *   and closes: the peer checks the reply and the end;
 * - FIN_WAIT2: the test wrote TASK_BYTES and shut its side down, the peer's kernel took all
 *   (acknowledged), the peer program reads nothing yet;
 * - FIN_WAIT1: the same, but an nftables table of the test's own drops what the test sends
 *   before the peer sees it: the bytes and the FIN are sent and never acknowledged, the
 *   restored socket must send them again once the tables are gone;
 * - FIN_WAIT1_FULL: the peer's receive buffer is small and it does not read: most bytes and
 *   the FIN are never sent (the window is full);
 * - LAST_ACK: the peer shut its side down first, then the test wrote until its buffer was
 *   full and shut down too (its FIN never sent);
 * - CLOSING: the test wrote until full and shut down, then the peer shut its side down: both
 *   FINs crossed, ours never sent.
 * After the restore the state must be the dumped one (TCP_INFO); in the states where the test
 * sent its FIN, writing fails with EPIPE; the peer, told to read (SIGUSR1), must get every byte
 * in order, then the end, with no reset, and answers (FIN_WAIT*) with REPLY_BYTES that the
 * test reads before the peer's end. The peer's verdict comes back in the file peer.txt (its
 * side of the connection is shut down); a byte lost, doubled or reordered, a reset, a FIN
 * lost, fail the test. */
// zt-run: gen2 tcp-established
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum { CLOSE_WAIT, FIN_WAIT2, FIN_WAIT1, FIN_WAIT1_FULL, LAST_ACK, CLOSING };
#ifndef FIN_MODE
#define FIN_MODE CLOSE_WAIT
#endif
/* the kernel's numbers of the states */
static const int kstate[] = {[CLOSE_WAIT] = 8,	   [FIN_WAIT2] = 5, [FIN_WAIT1] = 4,
			     [FIN_WAIT1_FULL] = 4, [LAST_ACK] = 9,  [CLOSING] = 11};

#define PEER_BYTES 60000u
#define TASK_BYTES 40000u
#define REPLY_BYTES 7000u
/* the peer's receive buffer where the test fills the window */
#define SMALL_RCVBUF 4096

/* the family: IPv4 (127.0.0.1), IPv6 (::1: ZT_TCP6) or IPv4 through IPv6 sockets
 * (::ffff:127.0.0.1: ZT_TCP_MAPPED) */
#if defined(ZT_TCP6) || defined(ZT_TCP_MAPPED)
#define FAMILY AF_INET6
typedef struct sockaddr_in6 addr_t;
#define PORT(x) ((x).sin6_port)
#else
#define FAMILY AF_INET
typedef struct sockaddr_in addr_t;
#define PORT(x) ((x).sin_port)
#endif

static void loopback(addr_t *a)
{
	memset(a, 0, sizeof(*a));
#if defined(ZT_TCP6)
	a->sin6_family = AF_INET6;
	a->sin6_addr = in6addr_loopback;
#elif defined(ZT_TCP_MAPPED)
	a->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &a->sin6_addr);
#else
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
#endif
}

static const bool fills = FIN_MODE == FIN_WAIT1_FULL || FIN_MODE == LAST_ACK || FIN_MODE == CLOSING;

static uint8_t pat(uint32_t i, uint32_t seed)
{
	return (uint8_t)((i * 2654435761u + seed) >> 11);
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ? -1 : ti.tcpi_state;
}

static bool wait_state(int fd, int want)
{
	for (int i = 0; i < 300; i++) {
		if (tcp_state(fd) == want)
			return true;
		usleep(10000);
	}
	return false;
}

/* writes n bytes of the pattern from off (all of them, or until the buffer is full when
 * nonblocking); the count written, -1 on an error */
static int64_t write_pat(int fd, uint32_t n, uint32_t seed, uint32_t off)
{
	static uint8_t buf[16384];
	uint32_t done = 0;
	while (done < n) {
		uint32_t k = n - done < sizeof(buf) ? n - done : sizeof(buf);
		for (uint32_t i = 0; i < k; i++)
			buf[i] = pat(off + done + i, seed);
		ssize_t w = send(fd, buf, k, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			return -1;
		done += (uint32_t)w;
	}
	return done;
}

/* reads up to the end; the count read, *bad the first wrong byte (UINT64_MAX: none), *end
 * 0 for a clean end, else the errno */
static uint64_t read_pat(int fd, uint32_t seed, uint64_t *bad, int *end)
{
	static uint8_t buf[65536];
	uint64_t got = 0;
	*bad = UINT64_MAX;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*end = n == 0 ? 0 : errno;
			return got;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat((uint32_t)(got + (uint64_t)i), seed) &&
			    *bad == UINT64_MAX)
				*bad = got + (uint64_t)i;
		got += (uint64_t)n;
	}
}

static void verdict(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void verdict(const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	FILE *f = fopen("peer.tmp", "w");
	if (f) {
		fputs(text, f);
		fclose(f);
		rename("peer.tmp", "peer.txt");
	}
}

static void wait_signal(int sig)
{
	sigset_t set;
	int got;
	sigemptyset(&set);
	sigaddset(&set, sig);
	while (sigwait(&set, &got) != 0 || got != sig)
		;
}

static void __attribute__((noreturn)) peer(int l)
{
	struct timeval tv = {.tv_sec = 60};
	uint64_t bad;
	int c, end;

	alarm(120); /* never outlives a run that forgot it */
	c = accept(l, NULL, NULL);
	if (c < 0)
		_exit(1);
	close(l);
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (FIN_MODE == CLOSE_WAIT) {
		if (write_pat(c, PEER_BYTES, 3, 0) != PEER_BYTES || shutdown(c, SHUT_WR) < 0) {
			verdict("FAIL: cannot write and shut down: %s\n", strerror(errno));
			_exit(1);
		}
		uint64_t got = read_pat(c, 5, &bad, &end);
		if (got != REPLY_BYTES || bad != UINT64_MAX || end)
			verdict("FAIL: the reply: %llu bytes (want %u), first wrong %lld, end %s\n",
				(unsigned long long)got, REPLY_BYTES, (long long)bad,
				end ? strerror(end) : "clean");
		else
			verdict("OK %llu\n", (unsigned long long)got);
		_exit(0);
	}
	if (FIN_MODE == LAST_ACK)
		shutdown(c, SHUT_WR);
	if (FIN_MODE == CLOSING) {
		wait_signal(SIGUSR2); /* the test shut its side down */
		shutdown(c, SHUT_WR);
	}
	wait_signal(SIGUSR1); /* the test was restored: read now */
	uint64_t got = read_pat(c, 1, &bad, &end);
	if (bad != UINT64_MAX || end) {
		verdict("FAIL: %llu bytes, first wrong %lld, end %s\n", (unsigned long long)got,
			(long long)bad, end ? strerror(end) : "clean");
		_exit(1);
	}
	if ((FIN_MODE == FIN_WAIT2 || FIN_MODE == FIN_WAIT1 || FIN_MODE == FIN_WAIT1_FULL) &&
	    write_pat(c, REPLY_BYTES, 5, 0) != REPLY_BYTES) {
		verdict("FAIL: cannot answer after the end: %s\n", strerror(errno));
		_exit(1);
	}
	verdict("OK %llu\n", (unsigned long long)got);
	close(c);
	_exit(0);
}

int main(int argc, char **argv)
{
	addr_t a;
	socklen_t alen = sizeof(a);
	int l, c, small = SMALL_RCVBUF, want = kstate[FIN_MODE];
	uint64_t bad;
	int64_t sent = 0;
	int end;
	char nft[400] = "";
	sigset_t set;
	pid_t server;

	unlink("peer.txt");
	loopback(&a);
	l = socket(FAMILY, SOCK_STREAM, 0);
	if (fills)
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
		perror("listen");
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	server = fork();
	if (server < 0)
		return 1;
	if (server == 0)
		peer(l);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	close(l);
	zt_init(argc, argv);
	c = socket(FAMILY, SOCK_STREAM, 0);
	zt_check_sys(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0, "connect");
	if (FIN_MODE == FIN_WAIT1) {
		/* what the test sends reaches the loopback and no further: sent, never
		 * acknowledged */
		addr_t me;
		socklen_t ml = sizeof(me);
		zt_check_sys(getsockname(c, (struct sockaddr *)&me, &ml) == 0, "getsockname");
		snprintf(nft, sizeof(nft),
			 "nft 'add table inet zt-finwait-%d; add chain inet zt-finwait-%d in { "
			 "type filter hook input priority 0; }; add rule inet zt-finwait-%d in "
			 "tcp sport %u tcp dport %u drop'",
			 getpid(), getpid(), getpid(), ntohs(PORT(me)), ntohs(PORT(a)));
		zt_check_sys(system(nft) == 0, "nft add (no acknowledgement for the test)");
	}
	switch (FIN_MODE) {
	case CLOSE_WAIT: {
		int inq = 0;
		for (int i = 0; i < 300 && (tcp_state(c) != want || inq != (int)PEER_BYTES); i++) {
			usleep(10000);
			ioctl(c, SIOCINQ, &inq);
		}
		zt_check_sys(inq == (int)PEER_BYTES, "the peer's bytes did not all come");
		break;
	}
	case FIN_WAIT2:
	case FIN_WAIT1:
		sent = write_pat(c, TASK_BYTES, 1, 0);
		zt_check_sys(sent == TASK_BYTES && shutdown(c, SHUT_WR) == 0, "write, shutdown");
		break;
	case LAST_ACK:
		zt_check_sys(wait_state(c, 8), "the peer's FIN did not come");
		/* fall through */
	case FIN_WAIT1_FULL:
	case CLOSING:
		zt_check_sys(fcntl(c, F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
		sent = write_pat(c, 1u << 30, 1, 0);
		zt_check_sys(sent > 0 && shutdown(c, SHUT_WR) == 0, "write until full, shutdown");
		fcntl(c, F_SETFL, 0);
		if (FIN_MODE == CLOSING) {
			zt_check_sys(wait_state(c, 4), "not FIN_WAIT1 after the shutdown");
			zt_check_sys(kill(server, SIGUSR2) == 0, "kill the peer");
		}
		break;
	}
	zt_check_sys(wait_state(c, want), "the connection did not come to its state");
	int outq = 0, nsd = 0;
	ioctl(c, SIOCOUTQ, &outq);
	ioctl(c, SIOCOUTQNSD, &nsd);
	zt_log("state %d, %lld bytes written, %d not acknowledged, %d not sent", tcp_state(c),
	       (long long)sent, outq, nsd);
	if (fills)
		zt_check_sys(nsd > 0, "nothing waits to be sent: the window is not full");
	zt_ready();
	zt_wait_for_check();

	int now = tcp_state(c);
	zt_expect(now == want, "state %d after the restore, not %d", now, want);
	if (nft[0]) {
		snprintf(nft, sizeof(nft), "nft delete table inet zt-finwait-%d", getpid());
		zt_expect(system(nft) == 0, "cannot remove the test's own table");
	}
	struct timeval tv = {.tv_sec = 8};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (FIN_MODE == CLOSE_WAIT) {
		uint64_t got = read_pat(c, 3, &bad, &end);
		zt_expect(got == PEER_BYTES && bad == UINT64_MAX && !end,
			  "read %llu bytes of %u, first wrong %lld, end: %s",
			  (unsigned long long)got, PEER_BYTES, (long long)bad,
			  end ? strerror(end) : "clean");
		char b;
		zt_expect(read(c, &b, 1) == 0, "a second read after the end is not 0: %m");
		zt_expect(write_pat(c, REPLY_BYTES, 5, 0) == REPLY_BYTES,
			  "write after the peer's end: %m");
		zt_expect(close(c) == 0, "close: %m");
	} else {
		char b = 'x';
		zt_expect(send(c, &b, 1, MSG_NOSIGNAL) < 0 && errno == EPIPE,
			  "a write after shutdown(SHUT_WR) does not fail with EPIPE: %m");
		if (FIN_MODE == LAST_ACK || FIN_MODE == CLOSING)
			zt_expect(read(c, &b, 1) == 0, "no end of the peer's side: %m");
		zt_expect(kill(server, SIGUSR1) == 0, "cannot tell the peer to read: %m");
		if (FIN_MODE == FIN_WAIT2 || FIN_MODE == FIN_WAIT1 || FIN_MODE == FIN_WAIT1_FULL) {
			uint64_t got = read_pat(c, 5, &bad, &end);
			zt_expect(got == REPLY_BYTES && bad == UINT64_MAX && !end,
				  "the peer's answer: %llu bytes of %u, first wrong %lld, end: %s",
				  (unsigned long long)got, REPLY_BYTES, (long long)bad,
				  end ? strerror(end) : "clean");
		}
	}
	/* the peer's verdict */
	char text[256] = "";
	for (int i = 0; i < 800; i++) {
		FILE *f = fopen("peer.txt", "r");
		if (f) {
			if (!fgets(text, sizeof(text), f))
				text[0] = 0;
			fclose(f);
			break;
		}
		usleep(10000);
	}
	zt_log("peer: %s", text);
	unsigned long long n = 0;
	zt_expect(sscanf(text, "OK %llu", &n) == 1, "the peer says: %s",
		  text[0] ? text : "nothing (no verdict in 8 s)");
	if (FIN_MODE != CLOSE_WAIT)
		zt_expect(n == (unsigned long long)sent, "the peer got %llu bytes of %lld", n,
			  (long long)sent);
	zt_pass();
}
