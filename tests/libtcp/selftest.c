/* libcryotcp on its own, as another program uses it (linked with build/libcryotcp.a, only
 * src/net/tcp_repair.h included): a loopback connection whose client has 1 MiB queued (most
 * of it never sent: the server's receive buffer is small) and 5 bytes to read; its state is
 * read in repair mode, its socket closed (in repair mode: no packet), and a new socket made
 * into the same connection. The server then reads every byte of the 1 MiB in order, the new
 * socket reads the 5 bytes, and both ways carry more. tcp_repair_check refuses a state made
 * wrong, tcp_repair_read refuses a socket that is no connection. Prints PASS or FAIL: why. */
#include "net/tcp_repair.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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
	if (!fails)
		printf("PASS\n");
	return fails != 0;
}
