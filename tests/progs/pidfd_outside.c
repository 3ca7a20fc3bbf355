/* What cryo cannot make again, as a supervisor may hold it: a pidfd of init (a process outside
 * the dumped tree), a pidfd of a child it has reaped already (fdinfo Pid: -1), a pipe whose
 * owner (F_SETOWN) is init, and a read lease being broken (an open for writing came: fdinfo
 * shows "LEASE BREAKING" until the holder gives it up). The target of the refuse-pidfd case
 * (tests/cases/refusals.sh): the dump must be refused naming each; the check after it: the
 * pidfds still name what they named, and the owner is still init. */
// zt-run: no-cryo
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long fd_pid(int fd)
{
	char path[64], buf[1024], *p;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (zt_read_file(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "\nPid:")))
		return -2;
	return strtol(p + 5, NULL, 10);
}

int main(int argc, char **argv)
{
	int p[2];

	zt_init(argc, argv);
	pid_t parent = 1; /* the starting process exits: init stays */
	int outside = (int)syscall(SYS_pidfd_open, parent, 0);
	zt_check_sys(outside >= 0, "pidfd_open(1)");
	pid_t c = fork();
	zt_check_sys(c >= 0, "fork");
	if (c == 0)
		_exit(0);
	int reaped = (int)syscall(SYS_pidfd_open, c, 0);
	zt_check_sys(reaped >= 0 && waitpid(c, NULL, 0) == c, "pidfd of the child");
	zt_check_sys(pipe(p) == 0 && fcntl(p[0], F_SETOWN, parent) == 0, "F_SETOWN");
	int lf = open("broken_lease.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	zt_check_sys(lf >= 0, "open");
	close(lf);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	zt_check_sys(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0, "sigprocmask");
	lf = open("broken_lease.dat", O_RDONLY);
	zt_check_sys(lf >= 0 && fcntl(lf, F_SETSIG, SIGUSR1) == 0 &&
			 fcntl(lf, F_SETLEASE, F_RDLCK) == 0,
		     "lease");
	zt_check_sys(open("broken_lease.dat", O_WRONLY | O_NONBLOCK) < 0 && errno == EWOULDBLOCK,
		     "breaking the lease");
	zt_ready();
	zt_wait_for_check();
	zt_expect(fd_pid(outside) == parent, "init's pidfd shows %ld", fd_pid(outside));
	zt_expect(fd_pid(reaped) == -1, "the reaped child's pidfd shows %ld", fd_pid(reaped));
	zt_expect(fcntl(p[0], F_GETOWN) == parent, "owner %d", fcntl(p[0], F_GETOWN));
	zt_pass();
}
