/* Parent death signals and child subreapers:
 *
 *   R: the test, PR_SET_CHILD_SUBREAPER
 *   +-- P: PR_SET_PDEATHSIG(SIGUSR1)
 *   |   +-- G: PR_SET_PDEATHSIG(SIGUSR2), with a handler
 *   +-- M: PR_SET_CHILD_SUBREAPER
 *       +-- N: PR_SET_PDEATHSIG(SIGHUP)
 *           +-- O: no parent death signal, counts every signal it gets
 *
 * Checked after the check, first the values: getppid() of every task, PR_GET_PDEATHSIG
 * (SIGUSR1, SIGUSR2, 0, 0, SIGHUP, 0) and PR_GET_CHILD_SUBREAPER (1 in R and M, 0 elsewhere)
 * in each. Then by effect: P and N exit. G gets SIGUSR2 exactly once and is reparented to R,
 * the subreaper above it; O is reparented to M, the nearest subreaper (not R), and gets no
 * signal. R reaps P and then G (now its child), M reaps N and then O (now its child), each
 * with exit status 0: the reparenting shows in who can wait for whom.
 * Also run in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { S_R, S_P, S_G, S_M, S_N, S_O, NS };
static const char *const names[NS] = { "R", "P", "G", "M", "N", "O" };
static const int parent[NS] = { -1, S_R, S_P, S_R, S_M, S_N };
static const int pdeathsig[NS] = { 0, SIGUSR1, SIGUSR2, 0, SIGHUP, 0 };
static const int subreaper[NS] = { 1, 0, 0, 1, 0, 0 };

enum { V_STEP = 0, V_ACK = 1 };	/* V_ACK + slot */

struct ids {
	pid_t pid[NS];
};
static struct ids *ids;
static volatile sig_atomic_t got_usr2, got_any;

static void on_usr2(int sig)
{
	(void)sig;
	got_usr2++;
}

static void on_any(int sig)
{
	(void)sig;
	got_any++;
}

static void run(int s);

static pid_t spawn(int s)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		run(s);
		_exit(0);
	}
	return pid;
}

/* The values every task checks about itself. */
static void check_values(int s)
{
	int sig = -1, sub = -1;

	zt_tree_expect(s, getpid() == ids->pid[s], "pid %d, was %d", getpid(), ids->pid[s]);
	if (parent[s] >= 0)
		zt_tree_expect(s, getppid() == ids->pid[parent[s]], "ppid %d, expected %s's %d",
			       getppid(), names[parent[s]], ids->pid[parent[s]]);
	prctl(PR_GET_PDEATHSIG, &sig);
	zt_tree_expect(s, sig == pdeathsig[s], "PR_GET_PDEATHSIG %d, expected %d", sig,
		       pdeathsig[s]);
	prctl(PR_GET_CHILD_SUBREAPER, &sub);
	zt_tree_expect(s, sub == subreaper[s], "PR_GET_CHILD_SUBREAPER %d, expected %d", sub,
		       subreaper[s]);
}

/* Reap child c of s once it is done; exit status 0. */
static void reap(int s, int c)
{
	int status = 0;

	if (!zt_tree_wait_done(c, 15000))
		return;
	zt_tree_expect(s, zt_waitpid(ids->pid[c], &status, 0) == ids->pid[c] && WIFEXITED(status) &&
				  !WEXITSTATUS(status),
		       "cannot reap %s (%d): status %#x, %m", names[c], ids->pid[c], status);
}

static bool wait_ppid(pid_t want)
{
	for (int i = 0; i < 500; i++) {
		if (getppid() == want)
			return true;
		usleep(10000);
	}
	return false;
}

static void run(int s)
{
	struct sigaction sa = { .sa_handler = on_usr2 };
	struct timespec ms200 = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };

	zt_tree_child();
	ids->pid[s] = getpid();
	sigemptyset(&sa.sa_mask);
	if (s == S_G)
		sigaction(SIGUSR2, &sa, NULL);
	if (s == S_O) {
		sa.sa_handler = on_any;
		for (int sig = 1; sig < 32; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				sigaction(sig, &sa, NULL);
	}
	if (pdeathsig[s] && prctl(PR_SET_PDEATHSIG, pdeathsig[s]))
		zt_tree_fail(s, "PR_SET_PDEATHSIG: %m");
	if (subreaper[s] && prctl(PR_SET_CHILD_SUBREAPER, 1))
		zt_tree_fail(s, "PR_SET_CHILD_SUBREAPER: %m");
	/* Children, after our own settings (a child inherits neither). */
	for (int c = 0; c < NS; c++)
		if (parent[c] == s && spawn(c) < 0)
			zt_tree_fail(s, "fork: %m");
	zt_tree_ready(s, names[s]);
	zt_tree_wait_go();

	check_values(s);
	zt_tree_expect(s, got_usr2 == 0 && got_any == 0, "signals before step 2: usr2 %d, any %d",
		       (int)got_usr2, (int)got_any);
	zt_tree_set(V_ACK + s, 1);
	if (!zt_tree_wait_var(V_STEP, 2, 15000)) {
		zt_tree_expect(s, false, "no step 2");
		zt_tree_done(s);
		_exit(0);
	}
	switch (s) {
	case S_P:
	case S_N:
		/* Our death is the test: go. */
		zt_tree_done(s);
		_exit(0);
	case S_G:
		for (int i = 0; i < 500 && !got_usr2; i++)
			usleep(10000);
		zt_tree_expect(s, got_usr2 == 1,
			       "SIGUSR2 (pdeathsig) received %d times after P died", (int)got_usr2);
		zt_tree_expect(s, wait_ppid(ids->pid[S_R]), "ppid %d after P died, expected R %d",
			       getppid(), ids->pid[S_R]);
		break;
	case S_O:
		zt_tree_expect(s, wait_ppid(ids->pid[S_M]),
			       "ppid %d after N died, expected the subreaper M %d", getppid(),
			       ids->pid[S_M]);
		nanosleep(&ms200, NULL);
		zt_tree_expect(s, got_any == 0, "%d signals though no pdeathsig was set",
			       (int)got_any);
		break;
	case S_M:
		reap(s, S_N);
		reap(s, S_O);
		break;
	}
	zt_tree_done(s);
	_exit(0);
}

int main(int argc, char **argv)
{
	int status;

	zt_init(argc, argv);
	zt_tree_init(NS);
	ids = mmap(NULL, sizeof(*ids), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ids == MAP_FAILED)
		zt_fail("mmap: %m");
	ids->pid[S_R] = getpid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		zt_fail("PR_SET_CHILD_SUBREAPER: %m");
	for (int c = 0; c < NS; c++)
		if (parent[c] == S_R && spawn(c) < 0)
			zt_fail("fork: %m");
	zt_tree_ready(S_R, names[S_R]);
	zt_tree_wait_ready();

	zt_ready();
	zt_wait_for_check();

	check_values(S_R);
	for (int s = 1; s < NS; s++)
		zt_expect(zt_proc_ppid(ids->pid[s]) == ids->pid[parent[s]],
			  "%s: ppid %d in /proc/%d/stat, expected %d", names[s],
			  zt_proc_ppid(ids->pid[s]), ids->pid[s], ids->pid[parent[s]]);
	zt_tree_go();
	for (int s = 1; s < NS; s++)
		zt_expect(zt_tree_wait_var(V_ACK + s, 1, 15000), "%s: no step 1", names[s]);
	zt_tree_set(V_STEP, 2);
	if (zt_tree_wait_done(S_P, 15000)) {
		status = 0;
		zt_expect(zt_waitpid(ids->pid[S_P], &status, 0) == ids->pid[S_P] &&
				  WIFEXITED(status) && !WEXITSTATUS(status),
			  "P: exit status %#x", status);
	}
	zt_tree_collect();
	/* G is ours now; M was all along. */
	for (int s = S_G; s <= S_M; s++) {
		if (!zt_tree_wait_done(s, 0))
			continue;
		status = 0;
		zt_expect(zt_waitpid(ids->pid[s], &status, 0) == ids->pid[s] && WIFEXITED(status) &&
				  !WEXITSTATUS(status),
			  "cannot reap %s: status %#x, %m", names[s], status);
	}
	zt_pass();
}
