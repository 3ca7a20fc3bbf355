/* Socket options that a dump turns over for a moment to read a socket's queue, each set here
 * to what the dump does not set back by accident: a unix stream pair with data queued both
 * ways (one end SO_PEEK_OFF 3 and SO_PASSCRED off, the other SO_OOBINLINE on and
 * SO_PASSCRED on), a unix datagram pair with two messages queued (SO_PEEK_OFF 0), and a UDP
 * socket on 127.0.0.1 with a datagram queued (SO_PEEK_OFF 2). The crash case kills cryo while
 * those options are changed (tests/cases/sk_guard.sh): the program must find each as it set
 * it. After the check, every option reads as set, and every byte and message is read back in
 * its order (the peek offsets advanced as reads move them). */
// zt-run: gen2
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int opt(int sk, int name)
{
	int v = -7;
	socklen_t len = sizeof(v);
	if (getsockopt(sk, SOL_SOCKET, name, &v, &len) < 0)
		return -100;
	return v;
}

static void set(int sk, int name, int v)
{
	zt_check_sys(setsockopt(sk, SOL_SOCKET, name, &v, sizeof(v)) == 0, "setsockopt");
}

static void expect_opt(int sk, int name, const char *label, const char *what, int want)
{
	int v = opt(sk, name);
	zt_expect(v == want, "%s: %s reads %d, not %d", what, label, v, want);
}

static void expect_read(int sk, const char *want, const char *what)
{
	char buf[64] = {0};
	size_t len = strlen(want);
	ssize_t n = recv(sk, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	zt_expect(n == (ssize_t)len && !memcmp(buf, want, len), "%s: read %zd bytes '%s', not '%s'",
		  what, n, n > 0 ? buf : "", want);
}

int main(int argc, char **argv)
{
	int st[2], dg[2], udp, cl;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	zt_init(argc, argv);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, st) == 0, "socketpair");
	zt_check_sys(socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) == 0, "socketpair");
	zt_check_sys((udp = socket(AF_INET, SOCK_DGRAM, 0)) >= 0, "socket");
	zt_check_sys((cl = socket(AF_INET, SOCK_DGRAM, 0)) >= 0, "socket");
	zt_check_sys(bind(udp, (struct sockaddr *)&a, sizeof(a)) == 0, "bind");
	zt_check_sys(getsockname(udp, (struct sockaddr *)&a, &alen) == 0, "getsockname");

	zt_check_sys(send(st[1], "0123456789", 10, 0) == 10, "send");
	zt_check_sys(send(st[0], "abcdef", 6, 0) == 6, "send");
	set(st[0], SO_PEEK_OFF, 3);
	set(st[1], SO_OOBINLINE, 1);
	set(st[1], SO_PASSCRED, 1);
	zt_check_sys(send(dg[1], "first", 5, 0) == 5, "send");
	zt_check_sys(send(dg[1], "second", 6, 0) == 6, "send");
	set(dg[0], SO_PEEK_OFF, 0);
	zt_check_sys(sendto(cl, "datagram", 8, 0, (struct sockaddr *)&a, sizeof(a)) == 8, "sendto");
	set(udp, SO_PEEK_OFF, 2);
	usleep(10000); /* the datagram reaches udp's queue */

	zt_ready();
	zt_wait_for_check();

	expect_opt(st[0], SO_PEEK_OFF, "SO_PEEK_OFF", "stream end 0", 3);
	expect_opt(st[0], SO_PASSCRED, "SO_PASSCRED", "stream end 0", 0);
	expect_opt(st[0], SO_OOBINLINE, "SO_OOBINLINE", "stream end 0", 0);
	expect_opt(st[1], SO_PEEK_OFF, "SO_PEEK_OFF", "stream end 1", -1);
	expect_opt(st[1], SO_PASSCRED, "SO_PASSCRED", "stream end 1", 1);
	expect_opt(st[1], SO_OOBINLINE, "SO_OOBINLINE", "stream end 1", 1);
	expect_opt(dg[0], SO_PEEK_OFF, "SO_PEEK_OFF", "datagram end 0", 0);
	expect_opt(dg[0], SO_PASSCRED, "SO_PASSCRED", "datagram end 0", 0);
	expect_opt(udp, SO_PEEK_OFF, "SO_PEEK_OFF", "UDP socket", 2);

	/* a peek from offset 3 of the stream, which moves it on; then the reads */
	char p[8] = {0};
	zt_expect(recv(st[0], p, 3, MSG_PEEK | MSG_DONTWAIT) == 3 && !memcmp(p, "345", 3),
		  "stream end 0: the peek at offset 3 read '%s', not '345'", p);
	expect_read(st[0], "0123456789", "stream end 0");
	expect_read(st[1], "abcdef", "stream end 1");
	expect_read(dg[0], "first", "datagram end 0");
	expect_read(dg[0], "second", "datagram end 0");
	expect_read(udp, "datagram", "UDP socket");
	zt_pass();
}
