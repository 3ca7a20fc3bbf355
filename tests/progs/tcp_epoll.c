/* An event-loop server as nginx or redis runs one: a nonblocking listener on 127.0.0.1 (port
 * chosen at setup) watched by an epoll (EPOLLIN, its data a cookie), a worker child blocked in
 * epoll_wait() on them. After the restore the test connects: the worker's epoll_wait returns
 * the listener with its cookie, the worker accepts (nonblocking) and answers through the
 * connection what it saw. */
// zt-run: gen2
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define COOKIE 0x5eed1234abcdull

static void worker(int ep, int l)
{
	struct epoll_event ev;
	char out[96];
	int n, c;

	while ((n = epoll_wait(ep, &ev, 1, -1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		_exit(10);
	c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	snprintf(out, sizeof(out), "events %#x cookie %#llx accepted %d", ev.events,
		 (unsigned long long)ev.data.u64, c >= 0);
	if (c < 0 || write(c, out, strlen(out)) != (ssize_t)strlen(out))
		_exit(11);
	close(c);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = COOKIE};
	int l, ep, one = 1, st;
	pid_t child;

	zt_init(argc, argv);
	l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	zt_check_sys(l >= 0 && ep >= 0 &&
			 setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
			 bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 511) == 0 &&
			 getsockname(l, (struct sockaddr *)&a, &len) == 0,
		     "listener");
	zt_check_sys(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) == 0, "epoll_ctl");
	child = fork();
	zt_check_sys(child >= 0, "fork");
	if (child == 0)
		worker(ep, l);

	zt_ready();
	zt_wait_for_check();

	int c = socket(AF_INET, SOCK_STREAM, 0);
	char buf[96] = {0}, want[96];
	zt_expect(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %m");
	struct timeval tv = {5, 0};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = read(c, buf, sizeof(buf) - 1);
	snprintf(want, sizeof(want), "events %#x cookie %#llx accepted 1", EPOLLIN, COOKIE);
	zt_expect(n > 0 && !strcmp(buf, want), "the worker answered '%s', not '%s' (%m)", buf,
		  want);
	zt_expect(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the worker ended with %#x", st);
	zt_expect(fcntl(l, F_GETFL) & O_NONBLOCK, "the listener lost O_NONBLOCK");
	zt_pass();
}
