/* A child's parent is the thread that forked it, not only its process:
 *
 *   R: main thread, threads T1 and T2
 *   K1: forked by T1, PR_SET_PDEATHSIG(SIGUSR1)
 *   K2: forked by R's main thread, PR_SET_PDEATHSIG(SIGUSR2)
 *   K3: forked by T2, no parent death signal
 *
 * getppid() is R's pid for all three, but the kernel keeps the forking thread as the parent:
 * /proc/R/task/TID/children lists each child under the thread that forked it, and the parent
 * death signal is sent when that thread exits, even though the process lives on.
 *
 * Checked after the check: each thread's children file (main: K2, T1: K1, T2: K3); in the
 * children, getppid() and PR_GET_PDEATHSIG, no signal yet. Then by effect: T1 exits (R goes
 * on), K1 gets SIGUSR1 exactly once and keeps R as its parent, K2 and K3 get nothing; K1 now
 * shows under the main thread (the first live thread takes over a dead thread's children).
 * Finally R reaps the three (exit 0). */
#include "zt_tree.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { S_R, S_T1, S_T2, S_K1, S_K2, S_K3, NS };
static const char *const names[NS] = { "R", "T1", "T2", "K1", "K2", "K3" };
static const int forker[NS] = { -1, -1, -1, S_T1, S_R, S_T2 };
static const int pdeathsig[NS] = { 0, 0, 0, SIGUSR1, SIGUSR2, 0 };

enum { V_T1_EXIT = 0, V_STEP = 1, V_ACK = 2 };	/* V_ACK + slot */

struct ids {
	pid_t pid[NS];		/* tids for the threads */
};
static struct ids *ids;
static pthread_t threads[NS];
static volatile sig_atomic_t got_usr1, got_usr2;

static void on_sig(int sig)
{
	if (sig == SIGUSR1)
		got_usr1++;
	else
		got_usr2++;
}

static void child(int s)
{
	struct sigaction sa = { .sa_handler = on_sig };
	struct timespec ms200 = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
	int sig = -1;

	zt_tree_child();
	ids->pid[s] = getpid();
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	if (pdeathsig[s] && prctl(PR_SET_PDEATHSIG, pdeathsig[s]))
		zt_tree_fail(s, "PR_SET_PDEATHSIG: %m");
	zt_tree_ready(s, names[s]);
	zt_tree_wait_go();

	zt_tree_expect(s, getpid() == ids->pid[s], "pid %d, was %d", getpid(), ids->pid[s]);
	zt_tree_expect(s, getppid() == ids->pid[S_R], "ppid %d, expected %d", getppid(),
		       ids->pid[S_R]);
	prctl(PR_GET_PDEATHSIG, &sig);
	zt_tree_expect(s, sig == pdeathsig[s], "PR_GET_PDEATHSIG %d, expected %d", sig,
		       pdeathsig[s]);
	zt_tree_expect(s, !got_usr1 && !got_usr2, "signals before T1 exited: %d %d",
		       (int)got_usr1, (int)got_usr2);
	zt_tree_set(V_ACK + s, 1);

	/* Step 2: T1 has exited. */
	if (zt_tree_wait_var(V_STEP, 2, 15000)) {
		if (s == S_K1) {
			for (int i = 0; i < 500 && !got_usr1; i++)
				usleep(10000);
			zt_tree_expect(s, got_usr1 == 1, "SIGUSR1 (pdeathsig) %d times after the "
				       "thread that forked us exited", (int)got_usr1);
		} else {
			nanosleep(&ms200, NULL);
			zt_tree_expect(s, got_usr1 == 0, "SIGUSR1 %d times", (int)got_usr1);
		}
		zt_tree_expect(s, got_usr2 == 0, "SIGUSR2 %d times: R's main thread is alive",
			       (int)got_usr2);
		zt_tree_expect(s, getppid() == ids->pid[S_R], "ppid %d after T1 exited", getppid());
	} else {
		zt_tree_expect(s, false, "no step 2");
	}
	zt_tree_done(s);
	_exit(0);
}

static void fork_children(int s)
{
	for (int c = 0; c < NS; c++) {
		pid_t pid;

		if (forker[c] != s)
			continue;
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			zt_tree_fail(s, "fork: %m");
		if (pid == 0)
			child(c);
	}
}

static void *thread_main(void *arg)
{
	int s = (int)(long)arg;

	ids->pid[s] = gettid();
	fork_children(s);
	zt_tree_ready(s, names[s]);
	if (s == S_T1) {
		/* Until R says so: our exit is the test. */
		zt_tree_wait_var(V_T1_EXIT, 1, -1);
		zt_tree_done(s);
		return NULL;
	}
	zt_tree_wait_go();
	zt_tree_wait_var(V_STEP, 3, 20000);	/* our children file is checked until then */
	zt_tree_done(s);
	return NULL;
}

/* /proc/self/task/TID/children of thread t lists exactly the children in want (-1 ended). */
static void expect_children(const char *when, int t, const int *want)
{
	char path[64], buf[512];
	int n = 0, nwant = 0;
	char *q, *end;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", ids->pid[t]);
	if (!zt_expect(zt_read_file(path, buf, sizeof(buf)) >= 0, "%s: cannot read %s", when, path))
		return;
	for (; want[nwant] >= 0; nwant++)
		;
	for (q = buf;; q = end) {
		long pid = strtol(q, &end, 10);
		bool known = false;
		if (end == q)
			break;
		n++;
		for (int i = 0; i < nwant; i++)
			known |= ids->pid[want[i]] == pid;
		zt_expect(known, "%s: %s lists %ld, which thread %s did not fork", when, path, pid,
			  names[t]);
	}
	zt_expect(n == nwant, "%s: %s lists %d children ('%s'), expected %d", when, path, n, buf,
		  nwant);
}

int main(int argc, char **argv)
{
	sigset_t term;
	int status;

	zt_init(argc, argv);
	zt_tree_init(NS);
	ids = mmap(NULL, sizeof(*ids), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ids == MAP_FAILED)
		zt_fail("mmap: %m");
	ids->pid[S_R] = getpid();
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	for (int t = S_T1; t <= S_T2; t++)
		if (pthread_create(&threads[t], NULL, thread_main, (void *)(long)t))
			zt_fail("pthread_create failed");
	pthread_sigmask(SIG_UNBLOCK, &term, NULL);
	fork_children(S_R);
	zt_tree_ready(S_R, names[S_R]);
	zt_tree_wait_ready();
	expect_children("setup", S_R, (const int[]){ S_K2, -1 });
	expect_children("setup", S_T1, (const int[]){ S_K1, -1 });
	expect_children("setup", S_T2, (const int[]){ S_K3, -1 });
	if (zt_failures())
		zt_fail("setup: children not listed under the threads that forked them");

	zt_ready();
	zt_wait_for_check();

	expect_children("after the check", S_R, (const int[]){ S_K2, -1 });
	expect_children("after the check", S_T1, (const int[]){ S_K1, -1 });
	expect_children("after the check", S_T2, (const int[]){ S_K3, -1 });
	zt_tree_go();
	for (int s = S_K1; s < NS; s++)
		zt_expect(zt_tree_wait_var(V_ACK + s, 1, 15000), "%s: no step 1", names[s]);

	/* Step 2: T1 exits; its child moves to the main thread and gets its pdeathsig. */
	zt_tree_set(V_T1_EXIT, 1);
	zt_expect(pthread_join(threads[S_T1], NULL) == 0, "join T1 failed");
	zt_tree_set(V_STEP, 2);
	for (int s = S_K1; s < NS; s++)
		zt_tree_wait_done(s, 15000);
	expect_children("after T1 exited", S_R, (const int[]){ S_K1, S_K2, -1 });
	expect_children("after T1 exited", S_T2, (const int[]){ S_K3, -1 });
	zt_tree_set(V_STEP, 3);

	zt_tree_collect();
	if (zt_tree_wait_done(S_T2, 0))
		zt_expect(pthread_join(threads[S_T2], NULL) == 0, "join T2 failed");
	for (int s = S_K1; s < NS; s++) {
		if (!zt_tree_wait_done(s, 0))
			continue;
		status = 0;
		zt_expect(zt_waitpid(ids->pid[s], &status, 0) == ids->pid[s] && WIFEXITED(status) &&
				  !WEXITSTATUS(status),
			  "%s: exit status %#x", names[s], status);
	}
	zt_pass();
}
