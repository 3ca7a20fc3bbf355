/* libcryotcp on its own, as another program uses it (linked with build/libcryotcp.a, only
 * src/net/tcp_repair.h included): a loopback connection whose client has 1 MiB queued (most
 * of it never sent: the server's receive buffer is small) and 5 bytes to read; its state is
 * read in repair mode, its socket closed (in repair mode: no packet), and a new socket made
 * into the same connection. The server then reads every byte of the 1 MiB in order, the new
 * socket reads the 5 bytes, and both ways carry more. tcp_repair_check refuses a state made
 * wrong, tcp_repair_read refuses a socket that is no connection. Then two half-closed
 * connections whose FIN was sent and never acknowledged (an nftables table of the test's drops
 * what the client sends before the server sees it): LAST_ACK (the server shut down first)
 * and CLOSING (the FINs crossed); each is read, dropped and made again, the table removed: the
 * server must get the bytes and the client's FIN (sent again by the new socket), the new
 * socket reads the server's end. Prints PASS or FAIL: why. */
#include "net/tcp_repair.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fails;
#define EXPECT(c, ...)                                                                             \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fails++;                                                                   \
			printf("FAIL: ");                                                          \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
		}                                                                                  \
	} while (0)

#define BIG (1 << 20)

static int state_of(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ? -1 : ti.tcpi_state;
}

static bool wait_state(int fd, int want)
{
	for (int i = 0; i < 500 && state_of(fd) != want; i++)
		usleep(10000);
	return state_of(fd) == want;
}

/* what the client (port) sends dropped before the server sees it, or the table removed */
static int drop_from(int port)
{
	char cmd[300];
	if (port)
		snprintf(cmd, sizeof(cmd),
			 "nft 'add table inet cryotcp-selftest-%d; add chain inet "
			 "cryotcp-selftest-%d in { type filter hook input priority 0; }; add rule "
			 "inet cryotcp-selftest-%d in tcp sport %d drop'",
			 getpid(), getpid(), getpid(), port);
	else
		snprintf(cmd, sizeof(cmd), "nft delete table inet cryotcp-selftest-%d 2>/dev/null",
			 getpid());
	return system(cmd);
}

/* LAST_ACK (closing: CLOSING) with our FIN sent and never acknowledged */
static void half_closed(const struct sockaddr_in *a, int l, bool closing)
{
	const char *name = closing ? "CLOSING" : "LAST_ACK";
	struct sockaddr_in me;
	socklen_t ml = sizeof(me);
	struct tcp_repair_state st, bad;
	char err[200], buf[8] = {0};
	int c = socket(AF_INET, SOCK_STREAM, 0), s, n;

	if (c < 0 || connect(c, (const struct sockaddr *)a, sizeof(*a)) ||
	    (s = accept(l, NULL, NULL)) < 0 || getsockname(c, (struct sockaddr *)&me, &ml)) {
		EXPECT(0, "%s: connect: %s", name, strerror(errno));
		return;
	}
	if (!closing) {
		EXPECT(shutdown(s, SHUT_WR) == 0 && wait_state(c, 8), "%s: no CLOSE_WAIT", name);
		EXPECT(drop_from(ntohs(me.sin_port)) == 0, "%s: nft", name);
		EXPECT(write(c, "last", 4) == 4 && shutdown(c, SHUT_WR) == 0, "%s: write", name);
	} else {
		EXPECT(drop_from(ntohs(me.sin_port)) == 0, "%s: nft", name);
		EXPECT(write(c, "last", 4) == 4 && shutdown(c, SHUT_WR) == 0, "%s: write", name);
		usleep(50000);
		EXPECT(shutdown(s, SHUT_WR) == 0, "%s: the server's shutdown", name);
	}
	EXPECT(wait_state(c, closing ? 11 : 9), "%s: the client is in state %s", name,
	       tcp_state_name(state_of(c)));
	EXPECT(tcp_repair_on(c) == 0 && tcp_repair_read(c, &st, err, sizeof(err)) == 0,
	       "%s: read: %s", name, err);
	EXPECT(!strcmp(tcp_state_name(st.state), name) && st.sendq_len == 4 && !st.unsent &&
		   !st.fin_unsent && !memcmp(st.sendq, "last", 4) && !st.recvq_len,
	       "%s: read as %s, %u bytes to send (%u never sent, FIN %s), %u to read", name,
	       tcp_state_name(st.state), st.sendq_len, st.unsent,
	       st.fin_unsent ? "never sent" : "sent", st.recvq_len);
	bad = st;
	bad.fin_unsent = true;
	bad.unsent = 1;
	EXPECT(tcp_repair_check(&bad, err, sizeof(err)) == 0, "%s: a FIN never sent refused: %s",
	       name, err);
	bad.state = 1;
	EXPECT(tcp_repair_check(&bad, err, sizeof(err)) == -EINVAL,
	       "%s: a FIN never sent taken in ESTABLISHED", name);
	bad = st;
	bad.state = 5; /* FIN_WAIT2 with bytes not acknowledged */
	EXPECT(tcp_repair_check(&bad, err, sizeof(err)) == -EINVAL,
	       "%s: FIN_WAIT2 with bytes not acknowledged taken", name);
	close(c);
	n = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT(tcp_repair_restore(n, &st, false, err, sizeof(err)) == 0, "%s: restore: %s", name,
	       err);
	EXPECT(state_of(n) == (closing ? 11 : 9), "%s: restored in state %s", name,
	       tcp_state_name(state_of(n)));
	tcp_repair_state_free(&st);
	drop_from(0);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(n, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	EXPECT(read(n, buf, 1) == 0, "%s: the new socket does not read the server's end", name);
	EXPECT(send(n, "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE, "%s: a write does not fail",
	       name);
	EXPECT(read(s, buf, 4) == 4 && !memcmp(buf, "last", 4), "%s: the server read '%s'", name,
	       buf);
	EXPECT(read(s, buf, 1) == 0, "%s: the server did not get the FIN: %s", name,
	       strerror(errno));
	/* every FIN acknowledged: the new socket's connection is over */
	EXPECT(wait_state(n, 7), "%s: the new socket is in state %s, not CLOSE", name,
	       tcp_state_name(state_of(n)));
	close(n);
	close(s);
}

int main(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	static unsigned char out[BIG], in[BIG];
	struct tcp_repair_state st, bad;
	char err[200], buf[8] = {0};
	int small = 4096, r;
	ssize_t k, sent = 0, got = 0;

	int l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &al)) {
		printf("FAIL: listen: %s\n", strerror(errno));
		return 1;
	}
	/* the kernel takes no listener into repair mode; read refuses it by its state */
	EXPECT(tcp_repair_on(l) == -EPERM, "repair mode on a listener");
	EXPECT(tcp_repair_read(l, &st, err, sizeof(err)) == -ENOTSUP && strstr(err, "LISTEN"),
	       "a listener read as a connection (%s)", err);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&a, sizeof(a))) {
		printf("FAIL: connect: %s\n", strerror(errno));
		return 1;
	}
	int s = accept(l, NULL, NULL);
	for (int i = 0; i < BIG; i++)
		out[i] = (unsigned char)(i * 7 + i / 251);
	fcntl(c, F_SETFL, O_NONBLOCK);
	while (sent < BIG && (k = send(c, out + sent, BIG - sent, 0)) > 0)
		sent += k;
	EXPECT(write(s, "hello", 5) == 5, "write");
	usleep(100000);

	EXPECT(tcp_repair_on(c) == 0, "repair mode on: %s", strerror(errno));
	r = tcp_repair_read(c, &st, err, sizeof(err));
	EXPECT(r == 0, "read: %s", err);
	if (r)
		return 1;
	EXPECT(st.recvq_len == 5 && !memcmp(st.recvq, "hello", 5), "receive queue of %u bytes",
	       st.recvq_len);
	EXPECT(st.sendq_len > 0 && st.sendq_len <= sent && st.unsent <= st.sendq_len,
	       "send queue %u bytes, %u never sent, of %zd written", st.sendq_len, st.unsent, sent);
	EXPECT(!memcmp(st.sendq, out + (sent - st.sendq_len), st.sendq_len),
	       "the send queue is not the last bytes written");
	EXPECT(tcp_repair_check(&st, err, sizeof(err)) == 0, "check: %s", err);
	bad = st;
	bad.unsent = bad.sendq_len + 1;
	EXPECT(tcp_repair_check(&bad, err, sizeof(err)) == -EINVAL,
	       "more unsent than queued taken");
	bad = st;
	bad.wscale = true;
	bad.snd_wscale = 15;
	EXPECT(tcp_repair_check(&bad, err, sizeof(err)) == -EINVAL, "window scale 15 taken");
	EXPECT(!strcmp(tcp_state_name(st.state), "ESTABLISHED"), "state %s",
	       tcp_state_name(st.state));
	close(c); /* in repair mode: gone without a packet */

	int n = socket(AF_INET, SOCK_STREAM, 0);
	r = tcp_repair_restore(n, &st, false, err, sizeof(err));
	EXPECT(r == 0, "restore: %s", err);
	if (r)
		return 1;
	memset(in, 0, sizeof(in));
	while (got < sent) {
		struct pollfd p = {s, POLLIN, 0};
		if (poll(&p, 1, 5000) <= 0)
			break;
		if ((k = read(s, in + got, BIG - got)) <= 0)
			break;
		got += k;
	}
	EXPECT(got == sent && !memcmp(in, out, sent), "the server read %zd of %zd bytes%s", got,
	       sent, got == sent ? ", different" : "");
	EXPECT(read(n, buf, 5) == 5 && !memcmp(buf, "hello", 5), "the 5 queued bytes: '%s'", buf);
	EXPECT(write(s, "again", 5) == 5 && read(n, buf, 5) == 5 && !memcmp(buf, "again", 5),
	       "server to client after: '%s'", buf);
	EXPECT(write(n, "back", 4) == 4 && read(s, buf, 4) == 4 && !memcmp(buf, "back", 4),
	       "client to server after");
	tcp_repair_state_free(&st);

	half_closed(&a, l, false);
	half_closed(&a, l, true);
	drop_from(0);
	if (!fails)
		printf("PASS\n");
	return fails != 0;
}
