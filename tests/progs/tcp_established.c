/* The target of the inet-refused case: an established TCP connection on 127.0.0.1 (both of
 * its ends, the accepted one and the client), and a second listener with one connection
 * queued that nobody accepted yet, ports chosen at setup and written to `ports` in the work
 * directory ("LISTEN_PORT CLIENT_PORT QUEUED_LISTEN_PORT"). The dump must refuse both by name;
 * afterwards the connection still carries data both ways and the queued one is accepted and
 * carries data too. */
// zt-run: no-cryo
// (the target of tests/cases/inet_refused.sh)
#include "zt.h"

#include <arpa/inet.h>
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
	FILE *f = fopen("ports", "w");

	zt_check_sys(a >= 0, "accept");
	zt_check_sys(f && fprintf(f, "%u %u %u\n", port_of(l), port_of(c), port_of(l2)) > 0 &&
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
	zt_pass();
}
