/* A process tree: the test forks child A (which forks grandchild G) and child B (which makes
 * its own process group). Each holds a value of its own in private memory, and all share a
 * MAP_SHARED page in which they report. Children wait in sigsuspend for SIGUSR1.
 *
 * After the dump the root checks its children: still its children (ppid), same pids, same
 * groups and session (B its own group, A and G the root's); then it signals them. Each
 * checks its own pid, parent, group and private value, reports in the shared page and exits
 * with 0; A waits for G first. The root collects their exit statuses and reports. */
#include "zt.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct report {
	char problem[3][128];	/* A, B, G: empty when all is well */
	volatile int done[3];
};
static struct report *rep;
static unsigned long private_value;
static volatile sig_atomic_t woken;

static void on_usr1(int sig)
{
	(void)sig;
	woken = 1;
}

static void wait_usr1(void)
{
	sigset_t none;
	sigemptyset(&none);
	while (!woken)
		sigsuspend(&none);
}

/* Runs in a child: check and report as member idx, then exit. */
static void __attribute__((noreturn)) child_check(int idx, pid_t pid, pid_t ppid, pid_t pgid,
						  unsigned long value)
{
	char *p = rep->problem[idx];

	if (getpid() != pid)
		snprintf(p, 128, "pid %d, was %d", getpid(), pid);
	else if (getppid() != ppid)
		snprintf(p, 128, "ppid %d, was %d", getppid(), ppid);
	else if (getpgrp() != pgid)
		snprintf(p, 128, "pgid %d, was %d", getpgrp(), pgid);
	else if (private_value != value)
		snprintf(p, 128, "private value %#lx, was %#lx", private_value, value);
	rep->done[idx] = 1;
	_exit(p[0] ? 1 : 0);
}

static pid_t spawn_b(pid_t root)
{
	pid_t b = fork();
	if (b == 0) {
		pid_t me = getpid();
		setpgid(0, 0);
		private_value = 0xb0b0;
		wait_usr1();
		child_check(1, me, root, me, 0xb0b0);
	}
	return b;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	pid_t root, a, b, g_seen = 0;
	sigset_t usr1;
	int status;

	zt_init(argc, argv);
	root = getpid();
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED)
		zt_fail("mmap: %m");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	/* Blocked until each waits for it, so none is lost before the wait. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);

	a = fork();
	if (a == 0) {
		pid_t me = getpid(), g = fork();
		if (g == 0) {
			pid_t gme = getpid();
			private_value = 0x6666;
			wait_usr1();
			child_check(2, gme, me, root, 0x6666);
		}
		private_value = 0xa0a0;
		wait_usr1();
		kill(g, SIGUSR1);
		if (waitpid(g, &status, 0) != g || !WIFEXITED(status))
			snprintf(rep->problem[0], 128, "grandchild lost");
		child_check(0, me, root, root, 0xa0a0);
	}
	b = spawn_b(root);
	if (a < 0 || b < 0)
		zt_fail("fork: %m");
	setpgid(b, b);	/* also from here: no race with the child's own call */

	zt_ready();
	zt_wait_for_check();

	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", a, a);
	if (zt_read_file(path, buf, sizeof(buf)) > 0)
		sscanf(buf, "%d", &g_seen);
	zt_expect(g_seen > 0, "child A has no child any more");
	zt_expect(getpgid(a) == root && getpgid(b) == b, "groups: A %d (want %d), B %d (want %d)",
		  getpgid(a), root, getpgid(b), b);
	zt_expect(getsid(a) == root && getsid(b) == root, "sessions: A %d, B %d, want %d",
		  getsid(a), getsid(b), root);
	kill(a, SIGUSR1);
	kill(b, SIGUSR1);
	for (int i = 0; i < 2; i++) {
		pid_t who = i ? b : a;
		zt_expect(waitpid(who, &status, 0) == who && WIFEXITED(status), "child %c: lost",
			  i ? 'B' : 'A');
	}
	for (int i = 0; i < 3; i++) {
		zt_expect(rep->done[i], "member %c never checked in", "ABG"[i]);
		zt_expect(!rep->problem[i][0], "member %c: %s", "ABG"[i], rep->problem[i]);
	}
	zt_pass();
}
