/* The dumped process itself is a member of a session whose leader has exited (a daemon that
 * forked once after setsid() and let its first process go):
 *
 *   L: the test proper (zt made it leader of session L and group L), forks R, exits
 *   +-- R: stays in session L and group L -> reparented to the runner's reaper; dumped
 *
 * The restore can only rebuild session L through a session helper with pid L that creates R
 * itself (the root of the tree) and goes away.
 *
 * Checked after the check, in R: its pid; getsid() and getpgrp() are still L; nothing has pid
 * L (a helper left behind would); kill(-L, 0) finds group L. By effect: a child of R forked
 * after the check is in session L, starts a group of its own and moves back into group L
 * (setpgid into a group succeeds only inside the same session). Also run in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t l, r, c;
	int status = 0;

	zt_init(argc, argv);
	l = getpid();
	fflush(NULL);
	r = fork();
	if (r < 0)
		zt_fail("fork: %m");
	if (r > 0)
		_exit(0); /* L goes; R carries on as the test */
	r = getpid();
	/* L must have exited; its zombie stays until the starting process exits (at
	 * zt_ready), when the runner's reaper inherits and reaps it */
	for (int i = 0; i < 500 && getppid() == l; i++)
		usleep(10000);
	if (getppid() == l)
		zt_fail("the session leader %d did not go away", l);
	if (getsid(0) != l || getpgrp() != l)
		zt_fail("setup: sid %d pgid %d, expected %d", getsid(0), getpgrp(), l);

	zt_ready();
	zt_wait_for_check();

	zt_expect(getpid() == r, "pid %d, was %d", getpid(), r);
	zt_expect(getsid(0) == l, "sid %d, expected the dead leader %d", getsid(0), l);
	zt_expect(getpgrp() == l, "pgid %d, expected %d", getpgrp(), l);
	zt_expect(kill(l, 0) < 0 && errno == ESRCH, "a process with the leader's pid %d exists",
		  l);
	zt_expect(kill(-l, 0) == 0, "kill(-%d, 0): %m: group %d is gone", l, l);
	fflush(NULL);
	c = fork();
	if (c == 0) {
		/* a new group in session L, then back into group L: both need session L */
		if (getsid(0) != l || setpgid(0, 0) < 0 || getpgrp() != getpid() ||
		    setpgid(0, l) < 0 || getpgrp() != l)
			_exit(1);
		_exit(0);
	}
	zt_expect(c > 0 && zt_waitpid(c, &status, 0) == c && WIFEXITED(status) &&
			  WEXITSTATUS(status) == 0,
		  "a child could not move between groups of session %d (status %#x)", l, status);
	zt_pass();
}
