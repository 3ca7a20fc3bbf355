/* A session whose leader is gone, as a daemon leaves behind:
 *
 *   R: the test (zt made it leader of session R), a child subreaper
 *   +-- A: setsid() (session A, group A), forks B and C, then exits; R reaps it
 *       +-- B: setpgid(0, 0): group B in session A         -> reparented to R
 *       |   +-- D: stays in group B                         (B's child)
 *       +-- C: stays in group A, whose leader A is gone     -> reparented to R
 *
 * So the dumped tree holds a session A and a group A with no process of that pid, which a
 * restorer can only rebuild through a helper that takes pid A, calls setsid() and goes away.
 *
 * Checked after the check: in each of B, C, D: getsid() is A, getpgid() as before (B, A, B),
 * getppid() (R, R, B); R is still in its own session and group and still a subreaper; from
 * R: /proc/PID/stat of each shows those session and group ids; nothing has pid A (a helper
 * left behind would), and kill(-A, 0) and kill(-B, 0) find the groups. Then by effect: B
 * moves into group A (setpgid succeeds only if a group A exists in B's own session), and
 * after it C moves into group B (which D keeps alive). Finally R reaps B and C and B reaps D,
 * each exit status 0. Also run in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

enum { S_R, S_A, S_B, S_C, S_D, NS };
static const char *const names[NS] = { "R", "A", "B", "C", "D" };

/* Shared variables: one step number per task after the check. */
enum { V_STEP = 0 };	/* V_STEP + slot */

struct ids {
	pid_t pid[NS];
};
static struct ids *ids;

/* Session and process group of pid from /proc/PID/stat (fields 5 and 6). */
static bool stat_sid_pgrp(pid_t pid, pid_t *sid, pid_t *pgrp)
{
	char path[64], buf[1024], *rp;
	int pg, sd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (zt_read_file(path, buf, sizeof(buf)) < 0 || !(rp = strrchr(buf, ')')))
		return false;
	if (sscanf(rp + 2, "%*c %*d %d %d", &pg, &sd) != 2)
		return false;
	*sid = sd;
	*pgrp = pg;
	return true;
}

/* Wait until our parent is want (a reparenting is not instant for the child). */
static bool wait_parent(pid_t want)
{
	for (int i = 0; i < 500; i++) {
		if (getppid() == want)
			return true;
		usleep(10000);
	}
	return false;
}

static void expect_ids(int s, pid_t sid, pid_t pgid, pid_t ppid)
{
	zt_tree_expect(s, getpid() == ids->pid[s], "pid %d, was %d", getpid(), ids->pid[s]);
	zt_tree_expect(s, getsid(0) == sid, "sid %d, expected %d (the dead leader A)", getsid(0),
		       sid);
	zt_tree_expect(s, getpgrp() == pgid, "pgid %d, expected %d", getpgrp(), pgid);
	zt_tree_expect(s, getppid() == ppid, "ppid %d, expected %d", getppid(), ppid);
}

static void run_d(void)
{
	pid_t a = ids->pid[S_A], b = ids->pid[S_B];

	ids->pid[S_D] = getpid();
	if (getsid(0) != a || getpgrp() != b)
		zt_tree_fail(S_D, "sid %d pgid %d, expected %d %d", getsid(0), getpgrp(), a, b);
	zt_tree_ready(S_D, names[S_D]);
	zt_tree_wait_go();
	expect_ids(S_D, a, b, b);
	zt_tree_set(V_STEP + S_D, 1);
	/* Group B must live on (with us) until C has joined it. */
	zt_tree_expect(S_D, zt_tree_wait_var(V_STEP + S_C, 2, 15000), "C never joined group B");
	zt_tree_done(S_D);
	_exit(0);
}

static void run_b(void)
{
	pid_t a = ids->pid[S_A], b, d;
	int status = 0;

	if (setpgid(0, 0))
		zt_tree_fail(S_B, "setpgid: %m");
	b = ids->pid[S_B] = getpid();
	fflush(NULL);
	d = fork();
	if (d < 0)
		zt_tree_fail(S_B, "fork: %m");
	if (d == 0)
		run_d();
	if (!wait_parent(zt_tree_root()))
		zt_tree_fail(S_B, "not reparented to R (ppid %d)", getppid());
	zt_tree_ready(S_B, names[S_B]);
	zt_tree_wait_go();

	expect_ids(S_B, a, b, zt_tree_root());
	/* A group leader may not start a session. */
	zt_tree_expect(S_B, setsid() < 0 && errno == EPERM, "setsid() did not fail with EPERM");
	zt_tree_set(V_STEP + S_B, 1);

	/* Step 2, once R says so: join group A, which must exist in our session. */
	if (zt_tree_wait_var(V_STEP + S_R, 2, 15000)) {
		zt_tree_expect(S_B, setpgid(0, a) == 0,
			       "setpgid(0, A=%d): %m: no group A in session A", a);
		zt_tree_expect(S_B, getpgrp() == a, "pgid %d after joining group A %d", getpgrp(),
			       a);
	} else {
		zt_tree_expect(S_B, false, "R never started step 2");
	}
	zt_tree_set(V_STEP + S_B, 2);
	zt_tree_expect(S_B,
		       zt_waitpid(d, &status, 0) == d && WIFEXITED(status) && !WEXITSTATUS(status),
		       "D: exit status %#x", status);
	zt_tree_done(S_B);
	_exit(0);
}

static void run_c(void)
{
	pid_t a = ids->pid[S_A];

	ids->pid[S_C] = getpid();
	if (!wait_parent(zt_tree_root()))
		zt_tree_fail(S_C, "not reparented to R (ppid %d)", getppid());
	zt_tree_ready(S_C, names[S_C]);
	zt_tree_wait_go();

	expect_ids(S_C, a, a, zt_tree_root());
	zt_tree_set(V_STEP + S_C, 1);
	/* Step 3, after B moved: join group B, which D keeps in our session. */
	if (zt_tree_wait_var(V_STEP + S_B, 2, 15000)) {
		zt_tree_expect(S_C, setpgid(0, ids->pid[S_B]) == 0,
			       "setpgid(0, B=%d): %m: no group B in session A", ids->pid[S_B]);
		zt_tree_expect(S_C, getpgrp() == ids->pid[S_B], "pgid %d after joining group B",
			       getpgrp());
	} else {
		zt_tree_expect(S_C, false, "B never finished step 2");
	}
	zt_tree_set(V_STEP + S_C, 2);
	zt_tree_done(S_C);
	_exit(0);
}

static void run_a(void)
{
	pid_t b, c;

	zt_tree_child();
	if (setsid() < 0)
		zt_tree_fail(S_A, "setsid: %m");
	ids->pid[S_A] = getpid();
	fflush(NULL);
	b = fork();
	if (b == 0)
		run_b();
	c = fork();
	if (c == 0)
		run_c();
	if (b < 0 || c < 0)
		zt_tree_fail(S_A, "fork: %m");
	/* B's group must exist before we go: it is part of the state. */
	for (int i = 0; i < 500 && getpgid(b) != b; i++)
		usleep(10000);
	zt_tree_ready(S_A, names[S_A]);
	zt_tree_done(S_A);
	_exit(0);
}

int main(int argc, char **argv)
{
	pid_t r, a, sid, pgrp;
	int status = 0, sub = -1;

	zt_init(argc, argv);
	zt_tree_init(NS);
	ids = mmap(NULL, sizeof(*ids), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ids == MAP_FAILED)
		zt_fail("mmap: %m");
	r = ids->pid[S_R] = getpid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		zt_fail("PR_SET_CHILD_SUBREAPER: %m");
	a = fork();
	if (a < 0)
		zt_fail("fork: %m");
	if (a == 0)
		run_a();
	if (zt_waitpid(a, &status, 0) != a || !WIFEXITED(status) || WEXITSTATUS(status))
		zt_fail("A: exit status %#x", status);
	zt_tree_ready(S_R, names[S_R]);
	zt_tree_wait_ready();
	if (getpgid(ids->pid[S_C]) != a || getsid(ids->pid[S_C]) != a)
		zt_fail("setup: C is not in group and session A");

	zt_ready();
	zt_wait_for_check();

	zt_expect(getpid() == r, "pid %d, was %d", getpid(), r);
	zt_expect(getsid(0) == r && getpgrp() == r, "R: sid %d pgid %d, expected %d", getsid(0),
		  getpgrp(), r);
	prctl(PR_GET_CHILD_SUBREAPER, &sub);
	zt_expect(sub == 1, "PR_GET_CHILD_SUBREAPER %d", sub);
	/* Nothing has A's pid: the session and group live on without their leader. */
	zt_expect(kill(a, 0) < 0 && errno == ESRCH, "a process with A's pid %d exists", a);
	zt_expect(kill(-a, 0) == 0, "kill(-%d, 0): %m: group A is gone", a);
	zt_expect(kill(-ids->pid[S_B], 0) == 0, "kill(-%d, 0): %m: group B is gone",
		  ids->pid[S_B]);
	for (int s = S_B; s < NS; s++) {
		pid_t want_pg = s == S_C ? a : ids->pid[S_B];
		if (!zt_expect(stat_sid_pgrp(ids->pid[s], &sid, &pgrp), "no /proc/%d/stat (%s)",
			       ids->pid[s], names[s]))
			continue;
		zt_expect(sid == a && pgrp == want_pg, "/proc/%d/stat of %s: session %d pgrp %d, "
			  "expected %d %d", ids->pid[s], names[s], sid, pgrp, a, want_pg);
		zt_expect(zt_proc_ppid(ids->pid[s]) == (s == S_D ? ids->pid[S_B] : r),
			  "%s: ppid %d in /proc", names[s], zt_proc_ppid(ids->pid[s]));
	}

	zt_tree_go();
	/* Step 2 (group moves) only once every task has checked its ids. */
	for (int s = S_B; s < NS; s++)
		zt_expect(zt_tree_wait_var(V_STEP + s, 1, 15000), "%s never checked its ids",
			  names[s]);
	zt_tree_set(V_STEP + S_R, 2);
	zt_tree_collect();
	for (int s = S_B; s <= S_C; s++) {
		if (!zt_tree_wait_done(s, 0))
			continue;
		status = 0;
		zt_expect(zt_waitpid(ids->pid[s], &status, 0) == ids->pid[s] && WIFEXITED(status) &&
				  !WEXITSTATUS(status),
			  "%s: exit status %#x", names[s], status);
	}
	zt_pass();
}
