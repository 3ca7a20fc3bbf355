/* Holds one descriptor of each kind cryo cannot save yet: two vsock sockets, a userfaultfd,
 * an io_uring, a POSIX message queue with a message queued; and a child whose /proc/PID/status the parent holds open. Among them pipes
 * (both ends, and the child's own), a FIFO, a unix socket pair with bytes queued, an eventfd,
 * an epoll and a signalfd, which cryo saves: they must not be named (and the pair's bytes are
 * still there after the failed dump). The case files-refused (tests/cases/files_refused.sh)
 * dumps it: the dump must fail naming every one of the others, per task and kind, and leave
 * both running; in nodump mode it checks itself. */
// zt-run: no-cryo
#include "zt.h"

#include <fcntl.h>
#include <linux/io_uring.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int p[2], c2p[2], sk[2];
	sigset_t set;
	pid_t child;
	char path[64];

	zt_init(argc, argv);
	zt_check_sys(pipe(c2p) == 0, "pipe");
	child = fork();
	zt_check_sys(child >= 0, "fork");
	if (child == 0) {
		int q[2];
		close(c2p[0]);
		/* the starting process waits until every holder of zt's ready pipe closed it */
		for (int fd = 3; fd < 1024; fd++)
			if (zt_own_fd(fd))
				close(fd);
		if (pipe(q) < 0)
			_exit(1);
		/* tell the parent it holds its pipe, then wait for the end */
		if (write(c2p[1], "r", 1) != 1)
			_exit(1);
		close(c2p[1]);
		pause();
		_exit(0);
	}
	close(c2p[1]);
	char r;
	zt_check_sys(read(c2p[0], &r, 1) == 1, "child ready");
	close(c2p[0]);
	zt_check_sys(pipe(p) == 0, "pipe");
	zt_check_sys(mkfifo("fifo", 0600) == 0, "mkfifo");
	zt_check_sys(open("fifo", O_RDWR) >= 0, "open fifo");
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, sk) == 0 && write(sk[0], "zoo", 3) == 3,
		     "socketpair");
	zt_check_sys(socket(AF_VSOCK, SOCK_STREAM, 0) >= 0 && socket(AF_VSOCK, SOCK_STREAM, 0) >= 0,
		     "vsock");
	zt_check_sys(eventfd(7, 0) >= 0, "eventfd");
	zt_check_sys(epoll_create1(0) >= 0, "epoll");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	zt_check_sys(signalfd(-1, &set, 0) >= 0, "signalfd");
	zt_check_sys(syscall(SYS_userfaultfd, O_CLOEXEC) >= 0, "userfaultfd");
	struct io_uring_params iop;
	memset(&iop, 0, sizeof(iop));
	zt_check_sys(syscall(SYS_io_uring_setup, 4, &iop) >= 0, "io_uring_setup");
	char mqname[64];
	snprintf(mqname, sizeof(mqname), "/zt-fd-zoo-%d", (int)getpid());
	struct mq_attr ma = {.mq_maxmsg = 4, .mq_msgsize = 16};
	mqd_t mq = mq_open(mqname, O_RDWR | O_CREAT | O_EXCL, 0600, &ma);
	zt_check_sys(mq != (mqd_t)-1, "mq_open");
	mq_unlink(mqname);
	zt_check_sys(mq_send(mq, "queued", 6, 3) == 0, "mq_send");
	snprintf(path, sizeof(path), "/proc/%d/status", child);
	zt_check_sys(open(path, O_RDONLY) >= 0, "open the child's status");

	zt_ready();
	zt_wait_for_check();
	zt_expect(write(p[1], "x", 1) == 1 && read(p[0], &r, 1) == 1 && r == 'x',
		  "the pipe does not work");
	char b[4];
	zt_expect(recv(sk[1], b, 4, MSG_DONTWAIT) == 3 && !memcmp(b, "zoo", 3),
		  "the unix socket pair lost its bytes");
	unsigned prio = 0;
	char m[16];
	zt_expect(mq_receive(mq, m, sizeof(m), &prio) == 6 && !memcmp(m, "queued", 6) && prio == 3,
		  "the message queue lost its message");
	zt_expect(kill(child, 0) == 0, "the child is gone");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	zt_pass();
}
