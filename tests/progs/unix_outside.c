/* Unix sockets cryo must refuse: the target of the refuse-unix case (no-cryo).
 *
 *   out: a stream pair whose other end a process outside the tree holds (a grandchild left
 *        to the reaper: an echo helper), with 6 bytes from it queued
 *   scm: a datagram pair with a descriptor (a pipe's write end, saved: the read end is the
 *        tree's) in flight (SCM_RIGHTS), then a timerfd in flight that no task holds
 *   sf: a stream pair with "ab", then "fd" carrying the same pipe end (saved, not refused:
 *       the dump reads it from the kernel's buffers and must leave it queued)
 *   pl: a listening socket (abstract name) with a connection from pc not accepted yet, on
 *       which pc sent bytes
 *   ob: a stream pair with "ab", an out-of-band "X" and "cd" queued (saved, not refused:
 *       they must still be there, the mark in its place)
 *   cr: a stream pair whose receiving end has SO_PASSCRED, with "cred" queued (saved, not
 *       refused: it must still be there after the refused dumps)
 *   rm: a datagram socket bound to a path whose socket file was then removed
 *   own: one end of a stream pair a child of the test made, sent to the test (SCM_RIGHTS)
 *        before the child exited: its peer credentials name a process that is not in the
 *        tree any more, which no restore can make it as
 *
 * After the check (the dumps were refused): the 6 bytes are still there, the helper still
 * echoes, the descriptor in flight arrives and is that pipe. */
// zt-run: no-cryo
#include "zt.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void helper(int fd)
{
	char c;
	char hello[32];
	int n = snprintf(hello, sizeof(hello), "%d", getpid());
	if (send(fd, hello, (size_t)n + 1, 0) < 0 || send(fd, "queued", 6, 0) != 6)
		_exit(1);
	while (recv(fd, &c, 1, 0) == 1)
		if (send(fd, &c, 1, 0) != 1)
			break;
	_exit(0);
}

static bool wait_in(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 5000) == 1;
}

int main(int argc, char **argv)
{
	int out[2], scm[2], pp[2], sf[2];
	char buf[64];
	pid_t kid, hpid = 0;

	zt_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, out) == 0 &&
			 socketpair(AF_UNIX, SOCK_DGRAM, 0, scm) == 0 && pipe(pp) == 0,
		     "socketpair");
	fflush(NULL);
	kid = fork();
	zt_check_sys(kid >= 0, "fork");
	if (kid == 0) {
		for (int fd = 3; fd < 1024; fd++)
			if (fd != out[1])
				close(fd);
		if (fork() == 0) {
			setsid(); /* out of the test's session */
			helper(out[1]);
		}
		_exit(0);
	}
	zt_check_sys(waitpid(kid, NULL, 0) == kid, "waitpid");
	close(out[1]);
	/* the helper's pid, then 6 bytes left queued */
	ssize_t n = 0;
	for (size_t got = 0; got == 0 || buf[got - 1]; got += (size_t)n)
		zt_check_sys(wait_in(out[0]) && (n = recv(out[0], buf + got, 1, 0)) == 1, "hello");
	hpid = atoi(buf);
	for (int i = 0, q = 0; i < 500 && (ioctl(out[0], FIONREAD, &q) < 0 || q < 6); i++)
		usleep(10000);

	char cb[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = "fd", .iov_len = 2};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof(cb)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pp[1], sizeof(int));
	zt_check_sys(sendmsg(scm[0], &mh, 0) == 2, "sendmsg SCM_RIGHTS");
	/* ... then a timerfd that only the message holds (a kind not saved in flight) */
	int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	zt_check_sys(tfd >= 0, "timerfd");
	memcpy(CMSG_DATA(c), &tfd, sizeof(int));
	zt_check_sys(sendmsg(scm[0], &mh, 0) == 2, "sendmsg timerfd");
	close(tfd);
	memcpy(CMSG_DATA(c), &pp[1], sizeof(int));
	/* sf: the same pipe end in flight on a stream, after plain bytes */
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, sf) == 0 && send(sf[0], "ab", 2, 0) == 2 &&
			 sendmsg(sf[0], &mh, 0) == 2,
		     "SCM_RIGHTS on a stream");
	close(pp[1]);
	struct sockaddr_un la = {.sun_family = AF_UNIX};
	int ln = snprintf(la.sun_path + 1, sizeof(la.sun_path) - 1, "zt-unix-outside-%d", getpid());
	socklen_t llen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + ln);
	int pl = socket(AF_UNIX, SOCK_STREAM, 0), pc = socket(AF_UNIX, SOCK_STREAM, 0);
	zt_check_sys(pl >= 0 && pc >= 0 && bind(pl, (struct sockaddr *)&la, llen) == 0 &&
			 listen(pl, 2) == 0 && connect(pc, (struct sockaddr *)&la, llen) == 0 &&
			 send(pc, "pending", 7, 0) == 7,
		     "pending connection");
	int ob[2], cr[2], one = 1;
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, ob) == 0 && send(ob[0], "ab", 2, 0) == 2 &&
			 send(ob[0], "X", 1, MSG_OOB) == 1 && send(ob[0], "cd", 2, 0) == 2,
		     "out-of-band data");
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, cr) == 0 &&
			 setsockopt(cr[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == 0 &&
			 send(cr[0], "cred", 4, 0) == 4,
		     "SO_PASSCRED");
	int gv[2], own = -1;
	zt_check_sys(socketpair(AF_UNIX, SOCK_DGRAM, 0, gv) == 0, "socketpair");
	fflush(NULL);
	pid_t wk = fork();
	zt_check_sys(wk >= 0, "fork");
	if (wk == 0) {
		int pair[2];
		char wb[CMSG_SPACE(sizeof(int))] = {0};
		struct iovec wi = {.iov_base = "w", .iov_len = 1};
		struct msghdr wm = {
		    .msg_iov = &wi, .msg_iovlen = 1, .msg_control = wb, .msg_controllen = sizeof(wb)};
		struct cmsghdr *wc = CMSG_FIRSTHDR(&wm);
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0)
			_exit(1);
		wc->cmsg_level = SOL_SOCKET, wc->cmsg_type = SCM_RIGHTS;
		wc->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(wc), &pair[0], sizeof(int));
		_exit(sendmsg(gv[1], &wm, 0) == 1 ? 0 : 1);
	}
	zt_check_sys(waitpid(wk, NULL, 0) == wk, "waitpid");
	{
		char ob_[CMSG_SPACE(sizeof(int))] = {0};
		struct iovec oi = {.iov_base = buf, .iov_len = 1};
		struct msghdr om = {
		    .msg_iov = &oi, .msg_iovlen = 1, .msg_control = ob_, .msg_controllen = sizeof(ob_)};
		zt_check_sys(recvmsg(gv[0], &om, 0) == 1 && CMSG_FIRSTHDR(&om), "the child's pair");
		memcpy(&own, CMSG_DATA(CMSG_FIRSTHDR(&om)), sizeof(int));
	}
	close(gv[0]), close(gv[1]);
	struct sockaddr_un ra = {.sun_family = AF_UNIX};
	snprintf(ra.sun_path, sizeof(ra.sun_path), "/tmp/zt-unix-outside-%d.sock", getpid());
	int rm = socket(AF_UNIX, SOCK_DGRAM, 0);
	zt_check_sys(rm >= 0 && bind(rm, (struct sockaddr *)&ra, sizeof(ra)) == 0 &&
			 unlink(ra.sun_path) == 0,
		     "removed socket file");

	zt_ready();
	zt_wait_for_check();

	zt_expect(recv(out[0], buf, sizeof(buf), MSG_DONTWAIT) == 6 && !memcmp(buf, "queued", 6),
		  "out: the 6 queued bytes are gone");
	zt_expect(send(out[0], "e", 1, 0) == 1 && wait_in(out[0]) && recv(out[0], buf, 1, 0) == 1 &&
		      buf[0] == 'e',
		  "out: the helper does not echo");
	memset(cb, 0, sizeof(cb));
	iov = (struct iovec){.iov_base = buf, .iov_len = sizeof(buf)};
	mh = (struct msghdr){
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof(cb)};
	int got_fd = -1;
	if (zt_expect(recvmsg(scm[1], &mh, MSG_DONTWAIT) == 2, "scm: the message is gone: %m")) {
		c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_type == SCM_RIGHTS)
			memcpy(&got_fd, CMSG_DATA(c), sizeof(int));
	}
	zt_expect(got_fd >= 0 && write(got_fd, "p", 1) == 1 && read(pp[0], buf, 1) == 1 &&
		      buf[0] == 'p',
		  "scm: the descriptor in flight is not the pipe");
	memset(cb, 0, sizeof(cb));
	iov = (struct iovec){.iov_base = buf, .iov_len = sizeof(buf)};
	mh = (struct msghdr){
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof(cb)};
	got_fd = -1;
	if (zt_expect(recvmsg(scm[1], &mh, MSG_DONTWAIT) == 2, "scm: the timerfd is gone: %m")) {
		c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_type == SCM_RIGHTS)
			memcpy(&got_fd, CMSG_DATA(c), sizeof(int));
	}
	char tl[64], tp[64];
	snprintf(tp, sizeof(tp), "/proc/self/fd/%d", got_fd);
	ssize_t tn = readlink(tp, tl, sizeof(tl) - 1);
	zt_expect(tn > 0 && !strncmp(tl, "anon_inode:[timerfd]", 20),
		  "scm: the second descriptor in flight is not the timerfd");
	zt_expect(recv(sf[1], buf, 2, MSG_DONTWAIT) == 2 && !memcmp(buf, "ab", 2),
		  "sf: the bytes before the descriptor are gone");
	memset(cb, 0, sizeof(cb));
	mh = (struct msghdr){
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof(cb)};
	got_fd = -1;
	if (zt_expect(recvmsg(sf[1], &mh, MSG_DONTWAIT) == 2, "sf: the message is gone: %m")) {
		c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_type == SCM_RIGHTS)
			memcpy(&got_fd, CMSG_DATA(c), sizeof(int));
	}
	zt_expect(got_fd >= 0 && write(got_fd, "q", 1) == 1 && read(pp[0], buf, 1) == 1 &&
		      buf[0] == 'q',
		  "sf: the descriptor in flight is not the pipe");
	int ac = accept4(pl, NULL, NULL, SOCK_NONBLOCK);
	zt_expect(ac >= 0 && recv(ac, buf, sizeof(buf), 0) == 7 && !memcmp(buf, "pending", 7),
		  "pl: the pending connection or its bytes are gone: %m");
	zt_expect(recv(ob[1], buf, 1, MSG_OOB | MSG_DONTWAIT) == 1 && buf[0] == 'X',
		  "ob: the out-of-band byte is gone");
	zt_expect(recv(ob[1], buf, sizeof(buf), MSG_DONTWAIT) == 2 && !memcmp(buf, "ab", 2) &&
		      recv(ob[1], buf, sizeof(buf), MSG_DONTWAIT) == 2 && !memcmp(buf, "cd", 2),
		  "ob: the bytes around the out-of-band one differ");
	zt_expect(recv(cr[1], buf, sizeof(buf), MSG_DONTWAIT) == 4 && !memcmp(buf, "cred", 4),
		  "cr: the bytes are gone");
	struct sockaddr_un got;
	socklen_t glen = sizeof(got);
	zt_expect(getsockname(rm, (struct sockaddr *)&got, &glen) == 0 &&
		      !strcmp(got.sun_path, ra.sun_path),
		  "rm: its name is gone");
	struct ucred uc = {0};
	socklen_t ul = sizeof(uc);
	zt_expect(getsockopt(own, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0 && uc.pid == wk,
		  "own: its peer credentials name pid %d, not the child's %d", uc.pid, wk);
	if (hpid > 0)
		kill(hpid, SIGKILL);
	zt_pass();
}
