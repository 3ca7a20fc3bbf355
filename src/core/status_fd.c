#include "core/status_fd.h"

#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

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
