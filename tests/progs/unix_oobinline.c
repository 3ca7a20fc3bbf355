/* SO_OOBINLINE of unix sockets: a stream pair whose end A has it (with "queued" waiting in
 * A's queue, no urgent data), a datagram socket with it, and a stream end B without it.
 * After the check: the flags are as set, A reads its bytes, and urgent data sent now arrives
 * as each end's flag says: in line on A (recv(MSG_OOB) fails EINVAL, the byte is read with
 * the others after a stop), apart on B (recv(MSG_OOB) returns it). A restore that dropped
 * the flag would give A the byte apart. */
#include "zt.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int get_flag(int fd)
{
	int v = -1;
	socklen_t len = sizeof(v);
	getsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &v, &len);
	return v;
}

static ssize_t rd(int fd, char *b, size_t n, int flags)
{
	memset(b, 0, n);
	return recv(fd, b, n, flags | MSG_DONTWAIT);
}

int main(int argc, char **argv)
{
	int st[2], dg, one = 1, m = -1;
	char b[32];

	zt_init(argc, argv);
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, st) == 0, "socketpair");
	zt_check_sys((dg = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0, "socket");
	zt_check_sys(setsockopt(st[0], SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) == 0 &&
			 setsockopt(dg, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) == 0,
		     "SO_OOBINLINE");
	zt_check_sys(send(st[1], "queued", 6, 0) == 6, "send");
	zt_ready();
	zt_wait_for_check();

	zt_expect(get_flag(st[0]) == 1, "A: SO_OOBINLINE is %d", get_flag(st[0]));
	zt_expect(get_flag(dg) == 1, "datagram socket: SO_OOBINLINE is %d", get_flag(dg));
	zt_expect(get_flag(st[1]) == 0, "B: SO_OOBINLINE is %d", get_flag(st[1]));
	zt_expect(rd(st[0], b, sizeof(b), 0) == 6 && !memcmp(b, "queued", 6), "A read '%s'", b);

	/* urgent data now: in line on A */
	zt_expect(send(st[1], "xy", 2, MSG_OOB) == 2 && send(st[1], "z", 1, 0) == 1, "send B: %m");
	zt_expect(rd(st[0], b, sizeof(b), 0) == 1 && b[0] == 'x', "A: first read '%s', not x", b);
	zt_expect(ioctl(st[0], SIOCATMARK, &m) == 0 && m == 1, "A: not at the mark");
	errno = 0;
	zt_expect(rd(st[0], b, 1, MSG_OOB) < 0 && errno == EINVAL,
		  "A: recv(MSG_OOB) does not fail EINVAL (%m): the byte came apart");
	zt_expect(rd(st[0], b, sizeof(b), 0) == 2 && !memcmp(b, "yz", 2), "A: then '%s'", b);
	/* and apart on B */
	zt_expect(send(st[0], "pq", 2, MSG_OOB) == 2, "send A: %m");
	zt_expect(rd(st[1], b, 1, MSG_OOB) == 1 && b[0] == 'q', "B: urgent byte '%s'", b);
	zt_expect(rd(st[1], b, sizeof(b), 0) == 1 && b[0] == 'p', "B: then '%s'", b);
	zt_pass();
}
