/* The target of the inet-skip-in-flight case: a listener on 127.0.0.1 (port chosen at setup,
 * written to `port` in the work directory) to which a client outside the tree connects before
 * the dump, so that one connection waits in its accept queue. Dumped with --skip-in-flight
 * and restored, the listener is there without it: a connection of the test's own is the only
 * one to accept, and it carries data. */
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

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	FILE *f;

	zt_init(argc, argv);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	zt_check_sys(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 &&
			 listen(l, 8) == 0 && getsockname(l, (struct sockaddr *)&a, &len) == 0,
		     "listener");
	f = fopen("port", "w");
	zt_check_sys(f && fprintf(f, "%u\n", ntohs(a.sin_port)) > 0 && fclose(f) == 0, "port");

	zt_ready();
	zt_wait_for_check();

	int c = socket(AF_INET, SOCK_STREAM, 0), s, s2;
	char buf[8] = {0};
	zt_expect(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %m");
	s = accept(l, NULL, NULL);
	zt_expect(s >= 0, "accept: %m");
	zt_expect(s >= 0 && write(c, "mine", 4) == 4 && read(s, buf, sizeof(buf)) == 4 &&
		      !memcmp(buf, "mine", 4),
		  "the accepted connection is not the test's own ('%s')", buf);
	s2 = accept(l, NULL, NULL);
	zt_expect(s2 < 0 && errno == EAGAIN, "a connection left out came back (fd %d)", s2);
	zt_pass();
}
