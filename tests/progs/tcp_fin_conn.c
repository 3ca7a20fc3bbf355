/* Half-closed TCP connections with both ends in the tree (one process, over loopback; the
 * network lock holds both directions of each, the restore's own segments must pass it):
 * - A: a1 wrote 30000 bytes and shut down, a2 read nothing: a1 FIN_WAIT2, a2 CLOSE_WAIT;
 * - B: b2 wrote until b1's small window and its own buffer were full, then shut down: b2
 *   FIN_WAIT1 with bytes and its FIN never sent, b1 ESTABLISHED with a full receive queue;
 * - C: c1 shut down first, then c2 wrote until full and shut down: c2 LAST_ACK (FIN never
 *   sent), c1 FIN_WAIT2 with a full receive queue;
 * - D: d1 wrote until full and shut down (FIN never sent), then d2 shut down: d1 CLOSING,
 *   d2 FIN_WAIT2 with a full receive queue.
 * After the restore every state must be the dumped one; then each side that got a FIN reads
 * every byte in order and then 0, each side that sent one fails to write with EPIPE, and the
 * directions still open carry more (answers, then close and the end). */
// zt-run: gen2 tcp-established
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define A_BYTES 30000u
#define ANSWER 1000u

static uint8_t pat(uint64_t i, uint32_t seed)
{
	return (uint8_t)((i * 2654435761u + seed) >> 9);
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

/* n bytes of the pattern, or until the buffer is full when nonblocking; the count, -1 */
static int64_t write_pat(int fd, uint64_t n, uint32_t seed)
{
	static uint8_t buf[16384];
	uint64_t done = 0;
	while (done < n) {
		size_t k = n - done < sizeof(buf) ? (size_t)(n - done) : sizeof(buf);
		for (size_t i = 0; i < k; i++)
			buf[i] = pat(done + i, seed);
		ssize_t w = send(fd, buf, k, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			return -1;
		done += (uint64_t)w;
	}
	return (int64_t)done;
}

static int64_t fill(int fd, uint32_t seed)
{
	fcntl(fd, F_SETFL, O_NONBLOCK);
	int64_t n = write_pat(fd, 1ull << 30, seed);
	fcntl(fd, F_SETFL, 0);
	return n;
}

/* reads to the end: true if exactly `want` bytes of the pattern came, then a clean end */
static bool read_to_end(int fd, uint64_t want, uint32_t seed, const char *who)
{
	static uint8_t buf[65536];
	uint64_t got = 0, bad = UINT64_MAX;
	ssize_t n;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat(got + (uint64_t)i, seed) && bad == UINT64_MAX)
				bad = got + (uint64_t)i;
		got += (uint64_t)n;
	}
	zt_expect(n == 0 && got == want && bad == UINT64_MAX,
		  "%s: %llu bytes of %llu, first wrong %lld, end %s", who, (unsigned long long)got,
		  (unsigned long long)want, (long long)bad, n == 0 ? "clean" : strerror(errno));
	return n == 0 && got == want && bad == UINT64_MAX;
}

static int connect_to(const struct sockaddr_in *a, bool small)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), sz = 4096;
	if (fd >= 0 && small)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (fd < 0 || connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0)
		zt_fail("connect: %m");
	return fd;
}

static int listen_on(struct sockaddr_in *a, bool small)
{
	socklen_t alen = sizeof(*a);
	int l = socket(AF_INET, SOCK_STREAM, 0), sz = 4096;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = 0;
	if (l >= 0 && small)
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (l < 0 || bind(l, (struct sockaddr *)a, sizeof(*a)) < 0 || listen(l, 8) < 0 ||
	    getsockname(l, (struct sockaddr *)a, &alen) < 0)
		zt_fail("listen: %m");
	return l;
}

static int accept_one(int l)
{
	int fd = accept(l, NULL, NULL);
	if (fd < 0)
		zt_fail("accept: %m");
	return fd;
}

static void no_write(int fd, const char *who)
{
	char b = 'x';
	zt_expect(send(fd, &b, 1, MSG_NOSIGNAL) < 0 && errno == EPIPE,
		  "%s: a write after shutdown(SHUT_WR) does not fail with EPIPE: %m", who);
}

int main(int argc, char **argv)
{
	struct sockaddr_in la, lsa;
	int64_t nb, nc, nd;

	zt_init(argc, argv);
	int l = listen_on(&la, false), ls = listen_on(&lsa, true);
	int a1 = connect_to(&la, false), a2 = accept_one(l);
	int b1 = connect_to(&la, true), b2 = accept_one(l);
	int c1 = connect_to(&la, true), c2 = accept_one(l);
	int d1 = connect_to(&lsa, false), d2 = accept_one(ls);

	zt_check_sys(write_pat(a1, A_BYTES, 1) == A_BYTES && shutdown(a1, SHUT_WR) == 0, "A");
	nb = fill(b2, 2);
	zt_check_sys(nb > 0 && shutdown(b2, SHUT_WR) == 0, "B");
	zt_check_sys(shutdown(c1, SHUT_WR) == 0 && wait_state(c2, 8), "C: the first FIN");
	nc = fill(c2, 3);
	zt_check_sys(nc > 0 && shutdown(c2, SHUT_WR) == 0, "C");
	nd = fill(d1, 4);
	zt_check_sys(nd > 0 && shutdown(d1, SHUT_WR) == 0 && wait_state(d1, 4), "D: our FIN");
	zt_check_sys(shutdown(d2, SHUT_WR) == 0, "D: the crossing FIN");

	const int fds[] = {a1, a2, b1, b2, c1, c2, d1, d2};
	const int want[] = {5, 8, 1, 4, 5, 9, 11, 5};
	const char *names[] = {"a1", "a2", "b1", "b2", "c1", "c2", "d1", "d2"};
	for (int i = 0; i < 8; i++) {
		zt_check_sys(wait_state(fds[i], want[i]), names[i]);
		int nsd = 0;
		ioctl(fds[i], SIOCOUTQNSD, &nsd);
		zt_log("%s: state %d, %d bytes not sent", names[i], tcp_state(fds[i]), nsd);
	}
	zt_ready();
	zt_wait_for_check();

	for (int i = 0; i < 8; i++) {
		int s = tcp_state(fds[i]);
		zt_expect(s == want[i], "%s: state %d after the restore, not %d", names[i], s,
			  want[i]);
	}
	struct timeval tv = {.tv_sec = 10};
	for (int i = 0; i < 8; i++)
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* A: a2 reads all, then 0, answers and closes; a1 reads the answer and the end */
	no_write(a1, "a1");
	read_to_end(a2, A_BYTES, 1, "a2");
	zt_expect(write_pat(a2, ANSWER, 5) == ANSWER && close(a2) == 0, "a2: answer: %m");
	read_to_end(a1, ANSWER, 5, "a1");
	/* B: b1 reads every byte b2 had queued, then b2's end; b1 answers and closes */
	no_write(b2, "b2");
	read_to_end(b1, (uint64_t)nb, 2, "b1");
	zt_expect(write_pat(b1, ANSWER, 6) == ANSWER && close(b1) == 0, "b1: answer: %m");
	read_to_end(b2, ANSWER, 6, "b2");
	/* C: c2 has c1's end; c1 reads everything c2 queued, then its end */
	no_write(c1, "c1");
	no_write(c2, "c2");
	read_to_end(c2, 0, 0, "c2");
	read_to_end(c1, (uint64_t)nc, 3, "c1");
	/* D: d1 has d2's end; d2 reads everything d1 queued, then its end */
	no_write(d1, "d1");
	no_write(d2, "d2");
	read_to_end(d1, 0, 0, "d1");
	read_to_end(d2, (uint64_t)nd, 4, "d2");
	zt_pass();
}
