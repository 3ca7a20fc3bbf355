/* hold_pid PID SECONDS: make a process whose pid is PID (clone3 with set_tid, as root) that
 * sleeps SECONDS and exits; exits 0 once it runs, 1 if the pid could not be had. Used by the
 * tests to take a pid that a restore needs, at any stage of the tree. */
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: hold_pid PID SECONDS\n");
		return 2;
	}
	pid_t want = (pid_t)atoi(argv[1]);
	unsigned secs = (unsigned)atoi(argv[2]);
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uint64_t)(uintptr_t)&want;
	ca.set_tid_size = 1;
	long pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0) {
		fprintf(stderr, "hold_pid: cannot take pid %d: %s\n", want, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		prctl(PR_SET_NAME, "pid-holder");
		for (int fd = 0; fd < 1024; fd++)
			close(fd);
		sleep(secs);
		_exit(0);
	}
	return 0;
}
