/* A datagram socket connected to a named socket outside the tree, the way a program talks to
 * a system service (a logger): the target of the unix-ext case (no-cryo), dumped with
 * --ext-unix-sk. The service is a helper left to the reaper, bound to an abstract name; the
 * test's socket is bound to a name of its own (for the answers) and connected to the
 * service's. After the check: still connected to the service's name (getpeername), still
 * named, and a request sent on it is answered by the service. */
// zt-run: no-cryo
#include "zt.h"

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static socklen_t abs_addr(struct sockaddr_un *a, const char *what, pid_t pid)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "zt-unix-ext-%s-%d", what, pid);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

/* The service: answers every datagram with "pong:" and the datagram, to its sender. */
static void service(int fd)
{
	char b[256], r[300];
	for (;;) {
		struct sockaddr_un from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &flen);
		if (n < 0)
			_exit(1);
		int m = snprintf(r, sizeof(r), "pong:%.*s", (int)n, b);
		sendto(fd, r, (size_t)m, 0, (struct sockaddr *)&from, flen);
	}
}

static ssize_t ask(int fd, const char *q, char *b, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (send(fd, q, strlen(q), 0) != (ssize_t)strlen(q) || poll(&p, 1, 5000) != 1)
		return -1;
	ssize_t n = recv(fd, b, len - 1, MSG_DONTWAIT);
	if (n >= 0)
		b[n] = 0;
	return n;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa, ca, got;
	socklen_t slen, clen, glen;
	char b[300];
	int srv, cl, sync[2];
	pid_t kid, me = getpid();

	zt_init(argc, argv);
	slen = abs_addr(&sa, "srv", me);
	clen = abs_addr(&ca, "cl", me);
	zt_check_sys(pipe(sync) == 0, "pipe");
	fflush(NULL);
	kid = fork();
	zt_check_sys(kid >= 0, "fork");
	if (kid == 0) {
		for (int fd = 3; fd < 1024; fd++)
			if (fd != sync[1])
				close(fd);
		if (fork() == 0) {
			/* out of the test's session: its pid must be free once it is killed */
			setsid();
			srv = socket(AF_UNIX, SOCK_DGRAM, 0);
			if (srv < 0 || bind(srv, (struct sockaddr *)&sa, slen) < 0)
				_exit(1);
			char c = 'r';
			if (write(sync[1], &c, 1) != 1)
				_exit(1);
			close(sync[1]);
			service(srv);
		}
		_exit(0);
	}
	close(sync[1]);
	zt_check_sys(waitpid(kid, NULL, 0) == kid, "waitpid");
	char c;
	zt_check_sys(read(sync[0], &c, 1) == 1, "the service did not start");
	close(sync[0]);
	cl = socket(AF_UNIX, SOCK_DGRAM, 0);
	zt_check_sys(cl >= 0 && bind(cl, (struct sockaddr *)&ca, clen) == 0 &&
			 connect(cl, (struct sockaddr *)&sa, slen) == 0,
		     "connect to the service");
	zt_check_sys(ask(cl, "pid", b, sizeof(b)) > 0, "the service does not answer");
	zt_check_sys(ask(cl, "hello", b, sizeof(b)) == 10 && !strcmp(b, "pong:hello"), "hello");

	zt_ready();
	zt_wait_for_check();

	glen = sizeof(got);
	zt_expect(getpeername(cl, (struct sockaddr *)&got, &glen) == 0 && glen == slen &&
			  !memcmp(&got, &sa, slen),
		  "not connected to the service's name");
	glen = sizeof(got);
	zt_expect(getsockname(cl, (struct sockaddr *)&got, &glen) == 0 && glen == clen &&
			  !memcmp(&got, &ca, clen),
		  "its own name is gone");
	zt_expect(ask(cl, "again", b, sizeof(b)) == 10 && !strcmp(b, "pong:again"),
		  "the service does not answer after the restore ('%s')", b);
	zt_pass();
}
