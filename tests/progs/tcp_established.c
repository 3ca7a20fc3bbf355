/* The target of the inet-refused case: an established TCP connection on 127.0.0.1 (both of
 * its ends, the accepted one and the client), and a second listener with one connection
 * queued that nobody accepted yet, ports chosen at setup and written to `ports` in the work
 * directory ("LISTEN_PORT CLIENT_PORT QUEUED_LISTEN_PORT UDP_PORT ENDED_PORT"); a UDP socket with a
 * datagram queued and SO_TIMESTAMP set, one shut down for reading, and a client whose
 * connection the server reset (CLOSE, ECONNRESET pending). The dump must refuse each by
 * name; afterwards the connection still carries data both ways, the queued one is accepted and
 * carries data too, and the datagram is there to be read. */
// zt-run: no-cryo
// (the target of tests/cases/inet_refused.sh)
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned short port_of(int sk)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	if (getsockname(sk, (struct sockaddr *)&a, &len) < 0)
		return 0;
	return ntohs(a.sin_port);
}

static int listener(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int l = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	zt_check_sys(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 4) == 0,
		     "listener");
	return l;
}

static int client(int l)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port_of(l))};
	int c = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	zt_check_sys(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0, "connect");
	return c;
}

static bool carries(int from, int to, const char *msg)
{
	char buf[32] = {0};
	size_t n = strlen(msg);
	return write(from, msg, n) == (ssize_t)n && read(to, buf, sizeof(buf)) == (ssize_t)n &&
	       !memcmp(buf, msg, n);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	int l = listener(), c = client(l), a = accept(l, NULL, NULL);
	int l2 = listener(), q = client(l2);
	/* a connection the server reset: its client is in CLOSE, with ECONNRESET to report */
	int ended = client(l), r = accept(l, NULL, NULL);
	struct linger rst = {1, 0};
	zt_check_sys(r >= 0 && setsockopt(r, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst)) == 0 &&
			 close(r) == 0,
		     "reset");
	int u = socket(AF_INET, SOCK_DGRAM, 0), shut = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = {.sin_family = AF_INET};
	socklen_t len = sizeof(ua);
	FILE *f = fopen("ports", "w");

	zt_check_sys(a >= 0, "accept");
	ua.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	/* each datagram would come with the time it arrived: not sent again as it was */
	zt_check_sys(u >= 0 && setsockopt(u, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one)) == 0 &&
			 bind(u, (struct sockaddr *)&ua, sizeof(ua)) == 0 &&
			 getsockname(u, (struct sockaddr *)&ua, &len) == 0 &&
			 sendto(u, "dgram", 5, 0, (struct sockaddr *)&ua, sizeof(ua)) == 5,
		     "udp");
	/* ENOTCONN, but the kernel keeps the shutdown */
	zt_check_sys(shut >= 0 && (shutdown(shut, SHUT_RD) == 0 || errno == ENOTCONN), "shutdown");
	zt_check_sys(f &&
			 fprintf(f, "%u %u %u %u %u\n", port_of(l), port_of(c), port_of(l2),
				 port_of(u), port_of(ended)) > 0 &&
			 fclose(f) == 0,
		     "ports");
	zt_check_sys(carries(c, a, "before"), "exchange");

	zt_ready();
	zt_wait_for_check();

	zt_expect(carries(c, a, "client to server"), "the connection lost client to server");
	zt_expect(carries(a, c, "server to client"), "the connection lost server to client");
	int b = accept(l2, NULL, NULL);
	zt_expect(b >= 0, "the queued connection is gone: %m");
	zt_expect(b >= 0 && carries(q, b, "queued"), "the queued connection carries nothing");
	char buf[8] = {0};
	zt_expect(read(ended, buf, 1) < 0 && errno == ECONNRESET,
		  "the reset connection does not report ECONNRESET: %m");
	zt_expect(recv(u, buf, sizeof(buf), MSG_DONTWAIT) == 5 && !memcmp(buf, "dgram", 5),
		  "the queued datagram is gone: %m");
	zt_pass();
}
