/* Holds a connected pair of unix sockets with data queued in both directions, and a vsock
 * socket. cryo cannot dump vsock sockets yet, so run.sh uses this as the target of a dump
 * that must fail and leave the process intact (bad-input/failed-dump-leaves-running): the
 * dump reads the pair's queues before it refuses, and they must still hold every byte; in
 * nodump mode it checks itself. */
// zt-run: no-cryo
#include "zt.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char msg_a[] = "from a to b";
static const char msg_b[] = "from b to a";

int main(int argc, char **argv)
{
	char buf[64];
	int sk[2], nl;
	ssize_t n;

	zt_init(argc, argv);
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, sk) == 0, "socketpair");
	zt_check_sys(write(sk[0], msg_a, sizeof(msg_a)) == sizeof(msg_a), "write a");
	zt_check_sys(write(sk[1], msg_b, sizeof(msg_b)) == sizeof(msg_b), "write b");
	nl = socket(AF_VSOCK, SOCK_STREAM, 0);
	zt_check_sys(nl >= 0, "vsock socket");

	zt_ready();
	zt_wait_for_check();

	n = recv(sk[1], buf, sizeof(buf), MSG_DONTWAIT);
	zt_expect(n == sizeof(msg_a) && !memcmp(buf, msg_a, n), "b received %zd bytes (errno %d)",
		  n, n < 0 ? errno : 0);
	n = recv(sk[0], buf, sizeof(buf), MSG_DONTWAIT);
	zt_expect(n == sizeof(msg_b) && !memcmp(buf, msg_b, n), "a received %zd bytes (errno %d)",
		  n, n < 0 ? errno : 0);
	/* Still connected: a new message goes through. */
	zt_expect(send(sk[0], "x", 1, 0) == 1, "send after check: %m");
	zt_expect(recv(sk[1], buf, 1, MSG_DONTWAIT) == 1 && buf[0] == 'x', "recv after check");
	zt_pass();
}
