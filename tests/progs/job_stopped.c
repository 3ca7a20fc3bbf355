/* Children stopped by job control must stay stopped:
 *
 *   R: the test
 *   +-- S1: stopped itself with SIGSTOP; R has taken the stop report (waitpid WUNTRACED)
 *   +-- S2: in a process group of its own (so SIGTSTP is not discarded as it is for an
 *   |       orphaned group), stopped itself with SIGTSTP; the report not taken yet
 *   +-- S3: two threads, both stopped by the SIGSTOP to the process; report taken
 *
 * Checked after the check, by R: every task is in state T (/proc/PID/task/TID/stat for each
 * thread), and still is 300 ms later; none of them ran (S3's second thread would advance a
 * counter; each would mark itself resumed); the reports: S2's stop by SIGTSTP still to be
 * taken (waitid WNOWAIT), S1's and S3's already taken as before the dump. Then R sends each
 * SIGCONT and waitid reports CLD_CONTINUED; S3's counter moves again. Each child checks,
 * after it continued: its pid, ppid, process group, that its SIGCONT handler ran exactly
 * once (a restorer stopping and continuing it on its own would show), and its memory; S3's
 * thread its tid. Finally R reaps them (exit 0).
 * Also run in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { S_R, S_S1, S_S2, S_S3, S_S3T, NS };
static const char *const names[NS] = { "R", "S1", "S2", "S3", "S3/t" };

enum { V_COUNT = 0, V_REPORTS = 1, V_RESUMED = 2 };	/* V_RESUMED + slot */

static pid_t pid[NS], tid_s3t;
static volatile sig_atomic_t conts;
static char data[8192];

static void on_cont(int sig)
{
	(void)sig;
	conts++;
}

static void *s3_thread(void *arg)
{
	struct timespec ms10 = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
	int n = 0;

	(void)arg;
	tid_s3t = gettid();
	zt_tree_ready(S_S3T, names[S_S3T]);
	/* Counts while running: it must stand still while the process is stopped, and go on
	 * for a while after the SIGCONT (the check was forwarded before it). */
	while (!zt_tree_go_requested()) {
		zt_tree_set(V_COUNT, ++n);
		nanosleep(&ms10, NULL);
	}
	for (int i = 0; i < 20; i++) {
		zt_tree_set(V_COUNT, ++n);
		nanosleep(&ms10, NULL);
	}
	zt_tree_expect(S_S3T, gettid() == tid_s3t, "tid %d, was %d", gettid(), tid_s3t);
	zt_tree_done(S_S3T);
	return NULL;
}

static void child(int s)
{
	struct sigaction sa = { .sa_handler = on_cont, .sa_flags = SA_RESTART };
	pthread_t t;
	pid_t pg;

	zt_tree_child();
	pid[s] = getpid();
	pg = getpgrp();
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCONT, &sa, NULL);
	signal(SIGTSTP, SIG_DFL);
	zt_fill_pattern(data, sizeof(data), 10 + s);
	if (s == S_S2) {
		/* R puts us in our own group as well; wait for it to be true. */
		for (int i = 0; i < 500 && getpgrp() != getpid(); i++)
			usleep(10000);
		pg = getpgrp();
		if (pg != getpid())
			zt_tree_fail(s, "not in a group of its own");
	}
	if (s == S_S3 && pthread_create(&t, NULL, s3_thread, NULL))
		zt_tree_fail(s, "pthread_create failed");
	zt_tree_ready(s, names[s]);
	if (s == S_S3)
		zt_tree_wait_var(V_COUNT, 1, 10000);

	kill(getpid(), s == S_S2 ? SIGTSTP : SIGSTOP);

	/* Here only after R's SIGCONT. */
	zt_tree_set(V_RESUMED + s, 1);
	zt_tree_wait_go();
	zt_tree_expect(s, getpid() == pid[s], "pid %d, was %d", getpid(), pid[s]);
	zt_tree_expect(s, getppid() == zt_tree_root(), "ppid %d", getppid());
	zt_tree_expect(s, getpgrp() == pg, "pgid %d, was %d", getpgrp(), pg);
	zt_tree_expect(s, conts == 1, "SIGCONT handler ran %d times, expected once", conts);
	zt_tree_expect(s, zt_check_pattern(data, sizeof(data), 10 + s) < 0, "memory differs");
	if (s == S_S3 && zt_tree_wait_done(S_S3T, 15000))
		zt_tree_expect(s, pthread_join(t, NULL) == 0, "join failed");
	/* A zombie has no continue report to give: stay until R has taken ours. */
	zt_tree_expect(s, zt_tree_wait_var(V_REPORTS, 1, 15000), "R never took the reports");
	zt_tree_done(s);
	_exit(0);
}

/* Every thread of pid is in state T. */
static void expect_stopped(pid_t p, const char *name)
{
	pid_t tids[8];
	int n = zt_task_ids(p, tids, 8);

	zt_expect(n > 0, "%s (%d): no threads", name, p);
	for (int i = 0; i < n; i++) {
		char st = 0, path[96], buf[512], *rp;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", p, tids[i]);
		if (zt_read_file(path, buf, sizeof(buf)) >= 0 && (rp = strrchr(buf, ')')))
			st = rp[2];
		zt_expect(st == 'T', "%s: thread %d in state %c, not stopped", name, tids[i], st);
	}
}

int main(int argc, char **argv)
{
	siginfo_t si;
	int status, c0;

	zt_init(argc, argv);
	zt_tree_init(NS);
	for (int s = S_S1; s <= S_S3; s++) {
		fflush(NULL);
		pid[s] = fork();
		if (pid[s] < 0)
			zt_fail("fork: %m");
		if (pid[s] == 0)
			child(s);
	}
	if (setpgid(pid[S_S2], pid[S_S2]))
		zt_fail("setpgid: %m");
	/* The stops: S1's and S3's reports taken, S2's left. */
	for (int s = S_S1; s <= S_S3; s++) {
		memset(&si, 0, sizeof(si));
		if (zt_waitid(P_PID, pid[s], &si, WSTOPPED | (s == S_S2 ? WNOWAIT : 0)) ||
		    si.si_code != CLD_STOPPED)
			zt_fail("%s did not stop: %m (code %d)", names[s], si.si_code);
	}
	zt_tree_ready(S_R, names[S_R]);
	zt_tree_wait_ready();
	expect_stopped(pid[S_S3], names[S_S3]);
	if (zt_failures())
		zt_fail("setup: S3 not stopped in every thread");

	zt_ready();
	zt_wait_for_check();

	for (int s = S_S1; s <= S_S3; s++)
		expect_stopped(pid[s], names[s]);
	c0 = zt_tree_get(V_COUNT);
	usleep(300000);
	zt_expect(zt_tree_get(V_COUNT) == c0, "S3's thread ran while stopped (%d -> %d)", c0,
		  zt_tree_get(V_COUNT));
	for (int s = S_S1; s <= S_S3; s++) {
		expect_stopped(pid[s], names[s]);
		zt_expect(zt_tree_get(V_RESUMED + s) == 0, "%s ran on while it should be stopped",
			  names[s]);
	}

	/* The reports: S2's stop still to be taken, with its signal; the others taken. */
	memset(&si, 0, sizeof(si));
	zt_expect(zt_waitid(P_PID, pid[S_S2], &si, WSTOPPED | WNOHANG | WNOWAIT) == 0 &&
			  si.si_pid == pid[S_S2] && si.si_code == CLD_STOPPED &&
			  si.si_status == SIGTSTP,
		  "S2: stop report pid %d code %d status %d, expected a stop by SIGTSTP (%d)",
		  si.si_pid, si.si_code, si.si_status, SIGTSTP);
	for (int s = S_S1; s <= S_S3; s += 2) {
		memset(&si, 0, sizeof(si));
		zt_expect(zt_waitid(P_PID, pid[s], &si, WSTOPPED | WNOHANG | WNOWAIT) == 0 &&
				  si.si_pid == 0,
			  "%s: a stop report (signal %d) though it was taken before the dump",
			  names[s], si.si_status);
	}

	zt_tree_go();
	for (int s = S_S1; s <= S_S3; s++) {
		char st = zt_proc_state(pid[s]);
		int r;

		kill(pid[s], SIGCONT);
		r = zt_waitid(P_PID, pid[s], &si, WCONTINUED);
		zt_expect(r == 0 && si.si_pid == pid[s] && si.si_code == CLD_CONTINUED,
			  "%s: continue report: waitid %d (%m), pid %d code %d; state was %c", names[s],
			  r, si.si_pid, si.si_code, st);
	}
	zt_tree_set(V_REPORTS, 1);
	zt_expect(zt_tree_wait_var(V_COUNT, c0 + 5, 5000),
		  "S3's thread does not run after SIGCONT");

	zt_tree_collect();
	for (int s = S_S1; s <= S_S3; s++) {
		if (!zt_tree_wait_done(s, 0))
			continue;
		status = 0;
		zt_expect(zt_waitpid(pid[s], &status, 0) == pid[s] && WIFEXITED(status) &&
				  !WEXITSTATUS(status),
			  "%s: exit status %#x", names[s], status);
	}
	zt_pass();
}
