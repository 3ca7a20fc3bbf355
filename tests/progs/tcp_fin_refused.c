/* The target of the tcp-fin-refused case: three connections on 127.0.0.1 to one listener,
 * ports written to `ports` in the work directory ("LISTEN X1 M1 H1"):
 * - x1 was shut down for reading by the program (shutdown(SHUT_RD)): no FIN received, the
 *   dump cannot tell a restore to do it again, refused even with --tcp-established;
 * - m1 carries the network lock's own mark (SO_MARK 0x6372796f): the lock would let its
 *   packets through, refused;
 * - h1 shut down for writing (FIN_WAIT2, h2 CLOSE_WAIT): refused without --tcp-established
 *   naming the state and the option, saved with it.
 * After the refused dumps every connection still works: x1 writes to x2, m1 and m2 talk, h2
 * reads h1's end and writes to h1. */
// zt-run: no-cryo
// (the target of tests/cases/tcp_fin_refused.sh)
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

static int connect_to(const struct sockaddr_in *a, unsigned mark)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		zt_fail("SO_MARK: %m");
	if (fd < 0 || connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0)
		zt_fail("connect: %m");
	return fd;
}

static bool talk(int from, int to)
{
	char b[4] = {0};
	return write(from, "ping", 4) == 4 && read(to, b, 4) == 4 && !memcmp(b, "ping", 4);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);

	zt_init(argc, argv);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	zt_check_sys(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 &&
			 listen(l, 4) == 0 && getsockname(l, (struct sockaddr *)&a, &alen) == 0,
		     "listen");
	int x1 = connect_to(&a, 0), x2 = accept(l, NULL, NULL);
	int m1 = connect_to(&a, 0x6372796f), m2 = accept(l, NULL, NULL);
	int h1 = connect_to(&a, 0), h2 = accept(l, NULL, NULL);
	zt_check_sys(x2 >= 0 && m2 >= 0 && h2 >= 0, "accept");
	zt_check_sys(shutdown(x1, SHUT_RD) == 0 && shutdown(h1, SHUT_WR) == 0, "shutdown");
	usleep(50000);
	FILE *f = fopen("ports", "w");
	zt_check_sys(f != NULL, "ports");
	fprintf(f, "%u %u %u %u\n", port_of(l), port_of(x1), port_of(m1), port_of(h1));
	fclose(f);
	zt_ready();
	zt_wait_for_check();

	zt_expect(talk(x1, x2), "x1 -> x2: %m");
	zt_expect(talk(m1, m2) && talk(m2, m1), "m1 <-> m2: %m");
	char b;
	zt_expect(read(h2, &b, 1) == 0, "h2 does not read h1's end: %m");
	zt_expect(talk(h2, h1), "h2 -> h1: %m");
	zt_pass();
}
