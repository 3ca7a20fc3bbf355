/* An epoll whose registered files only another process holds: the child makes an epoll,
 * registers an eventfd, the read end of a pipe (edge-triggered), a UDP socket and one end of
 * a unix socket pair it inherited, then closes all four; the parent keeps them. The registrations must still be the parent's
 * very files after a restore: what the parent does to them (an eventfd count written, then
 * read away; a byte into the pipe; a datagram to the socket; bytes into the pair's other end) shows in the child's epoll, each
 * under its own data, and nothing else does. */
// zt-run: gen2
#include "zt.h"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define D_EVENT 0x1111
#define D_PIPE 0x2222
#define D_UDP 0x3333
#define D_UNIX 0x4444

/* The child: its epoll, then answers each command byte with the data it reports now */
static void child_loop(int ep, int cmd, int ans)
{
	char c;
	while (read(cmd, &c, 1) == 1 && c == 'q') {
		struct epoll_event got[8];
		uint64_t mask = 0;
		int n = epoll_wait(ep, got, 8, 0);
		for (int i = 0; i < n; i++)
			mask |= got[i].data.u64 == D_EVENT  ? 1
				: got[i].data.u64 == D_PIPE ? 2
				: got[i].data.u64 == D_UDP  ? 4
				: got[i].data.u64 == D_UNIX ? 8
							    : 16;
		if (write(ans, &mask, sizeof(mask)) != sizeof(mask))
			_exit(1);
	}
	_exit(0);
}

static uint64_t ask(int cmd, int ans)
{
	uint64_t mask = 0xdead;
	if (write(cmd, "q", 1) != 1 || zt_read_full(ans, &mask, sizeof(mask)) != sizeof(mask))
		return 0xdead;
	return mask;
}

int main(int argc, char **argv)
{
	int efd, p[2], udp, cmd[2], ans[2], us[2];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);

	zt_init(argc, argv);
	efd = eventfd(0, EFD_NONBLOCK);
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	zt_check_sys(efd >= 0 && udp >= 0 && pipe(p) == 0 && pipe(cmd) == 0 && pipe(ans) == 0 &&
			 socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, us) == 0,
		     "eventfd, sockets, pipes");
	zt_check_sys(bind(udp, (struct sockaddr *)&a, sizeof(a)) == 0 &&
			 getsockname(udp, (struct sockaddr *)&a, &alen) == 0,
		     "bind");
	pid_t child = fork();
	zt_check_sys(child >= 0, "fork");
	if (child == 0) {
		for (int fd = 3; fd < 64; fd++)
			if (zt_own_fd(fd)) /* the runner's: its end is seen when the test's closes */
				close(fd);
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = D_EVENT};
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0)
			_exit(1);
		ev = (struct epoll_event){.events = EPOLLIN | EPOLLET, .data.u64 = D_PIPE};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) < 0)
			_exit(1);
		ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = D_UDP};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, udp, &ev) < 0)
			_exit(1);
		ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = D_UNIX};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, us[0], &ev) < 0)
			_exit(1);
		close(efd), close(p[0]), close(p[1]), close(udp), close(us[0]), close(us[1]);
		close(cmd[1]), close(ans[0]);
		child_loop(ep, cmd[0], ans[1]);
	}
	close(cmd[0]), close(ans[1]);
	zt_check_sys(ask(cmd[1], ans[0]) == 0, "the child's epoll reports something at first");
	zt_ready();
	zt_wait_for_check();

	uint64_t m = ask(cmd[1], ans[0]);
	zt_expect(m == 0, "after the restore the child's epoll reports %#llx, not nothing",
		  (unsigned long long)m);
	uint64_t three = 3, got = 0;
	zt_expect(write(efd, &three, 8) == 8, "write the eventfd");
	m = ask(cmd[1], ans[0]);
	zt_expect(m == 1, "the eventfd's count shows as %#llx, not the eventfd alone",
		  (unsigned long long)m);
	zt_expect(read(efd, &got, 8) == 8 && got == 3, "the eventfd read %llu",
		  (unsigned long long)got);
	m = ask(cmd[1], ans[0]);
	zt_expect(m == 0, "the eventfd read away still shows: %#llx", (unsigned long long)m);
	zt_expect(write(p[1], "x", 1) == 1, "write the pipe");
	m = ask(cmd[1], ans[0]);
	zt_expect(m == 2, "the pipe's byte shows as %#llx, not the pipe alone",
		  (unsigned long long)m);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	zt_expect(s >= 0 && sendto(s, "d", 1, 0, (struct sockaddr *)&a, sizeof(a)) == 1,
		  "send a datagram");
	m = ask(cmd[1], ans[0]);
	/* the pipe was reported once (edge-triggered): only the socket now */
	zt_expect(m == 4, "the datagram shows as %#llx, not the socket alone",
		  (unsigned long long)m);
	char b[4];
	zt_expect(recvfrom(udp, b, sizeof(b), 0, NULL, NULL) == 1, "read the datagram");
	zt_expect(send(us[1], "unix", 4, 0) == 4, "send on the unix pair");
	m = ask(cmd[1], ans[0]);
	zt_expect(m == 8, "the unix pair's bytes show as %#llx, not the pair's end alone",
		  (unsigned long long)m);
	zt_expect(recv(us[0], b, sizeof(b), 0) == 4 && !memcmp(b, "unix", 4),
		  "the pair's bytes are not on the parent's end");
	m = ask(cmd[1], ans[0]);
	zt_expect(m == 0, "the unix bytes read away still show: %#llx", (unsigned long long)m);
	close(cmd[1]);
	zt_expect(waitpid(child, NULL, 0) == child, "the child did not exit");
	zt_pass();
}
