#include "core/status_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/safeopen.h"

int status_fd_notify(int fd)
{
	sigset_t pipe_set, old;
	struct timespec zero = {0, 0};
	ssize_t n;
	int err;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	do
		n = write(fd, "", 1);
	while (n < 0 && errno == EINTR);
	err = n == 1 ? 0 : n < 0 ? errno : EIO;
	if (err == EPIPE)
		sigtimedwait(&pipe_set, NULL, &zero);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fd);
	if (err) {
		pr_warn("cannot write to --status-fd %d: %s", fd, strerror(err));
		return -err;
	}
	pr_info("ready: one byte written to --status-fd %d", fd);
	return 0;
}

int server_detach(bool daemon, int dirfd, const char *pidfile, const char *who)
{
	if (!daemon)
		return pidfile ? pidfile_write(dirfd, pidfile, getpid()) : 0;
	/* in the background once it listens: the caller may connect as soon as we return */
	pid_t pid = fork();
	if (pid < 0) {
		int ret = -errno;
		pr_errno(-ret, "%s: cannot go into the background", who);
		return ret;
	}
	if (pid > 0) {
		/* the daemon's pid, before the caller goes on */
		int r = pidfile ? pidfile_write(dirfd, pidfile, pid) : 0;
		_exit(r ? 1 : 0);
	}
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		close(null);
	}
	return 0;
}
