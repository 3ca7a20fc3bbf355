/* Epoll registrations cryo cannot rebuild exactly, for the epoll-refused case: one whose fd
 * was closed while its file, a pseudo-terminal master, lives on only in a child (no fd of this
 * task holds it; a terminal cannot be shared with another task's registration yet), and a
 * one-shot one that fired on a signalfd whose signal was read since (disarmed, and nothing
 * can make it fire again at restore: a signalfd is ready by the signals of whoever polls it).
 * And a pidfd of the child, and the child's /proc/CHILD/mountinfo (which can be polled): both
 * are made after the epolls are filled. All keep working:
 * after the refused dump the child's end is still reported under its data, and the one-shot
 * reports again once armed. */
// zt-run: no-cryo
#include "zt.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int p[2], q, ep;
	struct signalfd_siginfo si;
	sigset_t usr1;
	struct epoll_event ev = {.events = EPOLLIN};
	pid_t child;

	zt_init(argc, argv);
	/* p[0] the master, which the child keeps; p[1] the slave, the test's */
	p[0] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	zt_check_sys(p[0] >= 0 && grantpt(p[0]) == 0 && unlockpt(p[0]) == 0, "posix_openpt");
	p[1] = open(ptsname(p[0]), O_RDWR | O_NOCTTY | O_CLOEXEC);
	zt_check_sys(p[1] >= 0, "open the slave");
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	zt_check_sys(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0, "sigprocmask");
	q = signalfd(-1, &usr1, SFD_NONBLOCK);
	zt_check_sys(q >= 0, "signalfd");
	child = fork();
	zt_check_sys(child >= 0, "fork");
	if (child == 0) {
		close(p[1]);
		pause();
		_exit(0);
	}
	ep = epoll_create1(0);
	zt_check_sys(ep >= 0, "epoll_create1");
	ev.data.u64 = 0x5150;
	zt_check_sys(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "add p");
	zt_check_sys(close(p[0]) == 0, "close p");
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.u64 = 0x0e;
	zt_check_sys(epoll_ctl(ep, EPOLL_CTL_ADD, q, &ev) == 0, "add q");
	zt_check_sys(kill(getpid(), SIGUSR1) == 0, "kill");
	zt_check_sys(epoll_wait(ep, &ev, 1, 0) == 1 && ev.data.u64 == 0x0e, "fire q");
	zt_check_sys(read(q, &si, sizeof(si)) == sizeof(si), "read q");
	int pfd = (int)syscall(SYS_pidfd_open, child, 0);
	zt_check_sys(pfd >= 0, "pidfd_open");
	ev.events = EPOLLIN;
	ev.data.u64 = 0x9d;
	zt_check_sys(epoll_ctl(ep, EPOLL_CTL_ADD, pfd, &ev) == 0, "add pidfd");
	char mi[64];
	snprintf(mi, sizeof(mi), "/proc/%d/mountinfo", child);
	int mfd = open(mi, O_RDONLY | O_CLOEXEC);
	zt_check_sys(mfd >= 0, "open /proc/CHILD/mountinfo");
	ev.events = EPOLLPRI;
	ev.data.u64 = 0x3f;
	zt_check_sys(epoll_ctl(ep, EPOLL_CTL_ADD, mfd, &ev) == 0, "add mountinfo");
	/* a one-shot that fired on a timer that expired (its expiration unread) */
	int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec soon = {.it_value = {0, 1000000}};
	zt_check_sys(tf >= 0 && timerfd_settime(tf, 0, &soon, NULL) == 0, "timerfd");
	usleep(20000);
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.u64 = 0x7f;
	zt_check_sys(epoll_ctl(ep, EPOLL_CTL_ADD, tf, &ev) == 0, "add tf");
	zt_check_sys(epoll_wait(ep, &ev, 1, 0) == 1 && ev.data.u64 == 0x7f, "fire tf");
	zt_log("epoll fd %d, closed target fd %d, fired one-shot fd %d, pidfd %d, timerfd %d, "
	       "proc file %d",
	       ep, p[0], q, pfd, tf, mfd);

	zt_ready();
	zt_wait_for_check();
	zt_expect(write(p[1], "b", 1) == 1, "write p");
	/* (a terminal hands the byte on a moment later: wait for it) */
	zt_expect(epoll_wait(ep, &ev, 1, 2000) == 1 && ev.data.u64 == 0x5150,
		  "the closed target is not reported");
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.u64 = 0x0f;
	zt_expect(epoll_ctl(ep, EPOLL_CTL_MOD, q, &ev) == 0 && kill(getpid(), SIGUSR1) == 0,
		  "re-arm q");
	struct epoll_event got[3];
	int n = epoll_wait(ep, got, 3, 0);
	zt_expect(n == 2 && (got[0].data.u64 == 0x0f || got[1].data.u64 == 0x0f),
		  "the re-armed one-shot: %d events", n);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	n = epoll_wait(ep, got, 3, 0);
	int exited = 0;
	for (int i = 0; i < n; i++)
		exited += got[i].data.u64 == 0x9d;
	zt_expect(exited == 1, "the pidfd does not report the child's exit");
	uint64_t ticks = 0;
	zt_expect(read(tf, &ticks, 8) == 8 && ticks == 1, "timerfd ticks %llu",
		  (unsigned long long)ticks);
	zt_pass();
}
