/* A three-level process tree, some of its processes with threads:
 *
 *   R (+ threads R/t1, R/t2)
 *   +-- C1
 *   |   +-- G11
 *   |   +-- G12 (+ thread G12/t1), in a process group of its own
 *   +-- C2 (+ threads C2/t1, C2/t2)
 *       +-- G21, forked by the thread C2/t1
 *
 * Every task (process or thread) checks itself after the check: its pid and tid as before,
 * getppid() the pid of its real parent, its process group and session, a pattern on its own
 * stack, and its process's memory:
 * - a private mapping the root filled before any fork, in which every process overwrote the
 *   page of its own number right after it was forked: each process must see its own page and
 *   those of its ancestors (inherited before it was forked) written, every other page as the
 *   root first wrote it: copies diverged correctly and no process got another's pages;
 * - a private mapping of its own, mapped and filled after its forks.
 * Each process's main thread also checks that /proc/self/task holds exactly its threads, that
 * the children files of its threads list exactly its children (which thread lists which is
 * left to the test thread_parent), and collects its threads (join) and its children (exit
 * status 0). The root also checks each
 * child's ppid in /proc/PID/stat, then collects every verdict from the shared board.
 * Also run in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL

enum { S_R, S_RT1, S_RT2, S_C1, S_C2, S_C2T1, S_C2T2, S_G11, S_G12, S_G12T1, S_G21, NS };

/* proc: the slot of the process (its main thread) the task belongs to. forker: for a
 * process's main thread, the slot of the thread that forked it. */
static const struct task {
	const char *name;
	int proc;
	int forker;
	bool own_group;
} tasks[NS] = {
	[S_R] = { "R", S_R, -1, false },
	[S_RT1] = { "R/t1", S_R, -1, false },
	[S_RT2] = { "R/t2", S_R, -1, false },
	[S_C1] = { "C1", S_C1, S_R, false },
	[S_C2] = { "C2", S_C2, S_R, false },
	[S_C2T1] = { "C2/t1", S_C2, -1, false },
	[S_C2T2] = { "C2/t2", S_C2, -1, false },
	[S_G11] = { "G11", S_G11, S_C1, false },
	[S_G12] = { "G12", S_G12, S_C1, true },
	[S_G12T1] = { "G12/t1", S_G12, -1, false },
	[S_G21] = { "G21", S_G21, S_C2T1, false },
};

/* Ids as each task recorded them, for the others to compare with. */
struct ids {
	pid_t pid[NS], tid[NS], pgid[NS], sid[NS];
	int counted[NS];	/* a process's main thread has listed its threads */
};
static struct ids *ids;

static char *inherited;		/* 16 pages, private, filled by the root before forking */
static char *own;		/* 4 pages, private, each process's own */
static pthread_t threads[NS];

static bool is_process(int s)
{
	return tasks[s].proc == s;
}

/* The process slot that is the parent of process s. */
static int parent_of(int s)
{
	return tasks[tasks[s].forker].proc;
}

static bool is_ancestor_or_self(int a, int s)
{
	for (; s != S_R; s = parent_of(s))
		if (s == a)
			return true;
	return a == S_R;
}

static void fill_stack_and_wait(int s);

/* The forks of task s (whichever thread it is), each child running its process. */
static void process_start(int s);

static void fork_children(int s)
{
	for (int c = 0; c < NS; c++) {
		pid_t pid;

		if (!is_process(c) || tasks[c].forker != s)
			continue;
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			zt_tree_fail(s, "fork: %m");
		if (pid == 0) {
			process_start(c);
			_exit(0);	/* not reached */
		}
	}
}

static void *thread_start(void *arg)
{
	int s = (int)(long)arg;

	fork_children(s);
	fill_stack_and_wait(s);
	return NULL;
}

static void start_threads(int p)
{
	sigset_t term, old;

	/* Only the root's main thread takes SIGTERM. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, &old);
	for (int t = 0; t < NS; t++) {
		if (tasks[t].proc != p || t == p)
			continue;
		if (pthread_create(&threads[t], NULL, thread_start, (void *)(long)t))
			zt_tree_fail(p, "pthread_create failed");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void map_own(int p)
{
	own = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (own == MAP_FAILED)
		zt_tree_fail(p, "mmap: %m");
	zt_fill_pattern(own, 4 * PG, 1000 + p);
}

/* The processes' checks of their memory. */
static void check_memory(int p)
{
	for (int k = 0; k < NS; k++) {
		unsigned int seed = is_process(k) && is_ancestor_or_self(k, p) ? k + 1 : 100;
		zt_tree_expect(p, zt_check_pattern(inherited + k * PG, PG, seed) < 0,
			       "inherited page %d: not the data of %s", k,
			       seed == 100 ? "the root's first fill" : tasks[k].name);
	}
	zt_tree_expect(p, zt_check_pattern(own, 4 * PG, 1000 + p) < 0, "own mapping differs");
}

/* The children listed in /proc/self/task/TID/children of all our threads, are exactly the
 * processes we forked. (Which thread lists a child is thread_parent's business.) */
static void check_children(int p, const pid_t *tids, int ntids)
{
	char path[64], buf[1024];
	int n = 0, want = 0;
	char *q, *end;

	for (int i = 0; i < ntids; i++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/children", tids[i]);
		if (!zt_tree_expect(p, zt_read_file(path, buf, sizeof(buf)) >= 0, "cannot read %s",
				    path))
			continue;
		for (q = buf;; q = end) {
			long pid = strtol(q, &end, 10);
			bool known = false;
			if (end == q)
				break;
			n++;
			for (int c = 0; c < NS; c++)
				known |= is_process(c) && c != S_R && parent_of(c) == p &&
					 ids->pid[c] == pid;
			zt_tree_expect(p, known, "%s lists %ld, not a child of ours", path, pid);
		}
	}
	for (int c = 0; c < NS; c++)
		want += is_process(c) && c != S_R && parent_of(c) == p;
	zt_tree_expect(p, n == want, "%d children in /proc/self/task/TID/children, expected %d", n,
		       want);
}

/* What every task checks about itself. */
static void check_task(int s)
{
	int p = tasks[s].proc;

	zt_tree_expect(s, getpid() == ids->pid[p], "pid %d, was %d", getpid(), ids->pid[p]);
	zt_tree_expect(s, gettid() == ids->tid[s], "tid %d, was %d", gettid(), ids->tid[s]);
	if (p != S_R)
		zt_tree_expect(s, getppid() == ids->pid[parent_of(p)], "ppid %d, expected %d (%s)",
			       getppid(), ids->pid[parent_of(p)], tasks[parent_of(p)].name);
	zt_tree_expect(s, getpgrp() == ids->pgid[p], "pgid %d, was %d", getpgrp(), ids->pgid[p]);
	zt_tree_expect(s, getsid(0) == ids->sid[p], "sid %d, was %d", getsid(0), ids->sid[p]);
}

/* The end of every task: record the tid, a pattern on the stack, ready, wait, check. */
static void fill_stack_and_wait(int s)
{
	char stack_data[2048];

	ids->tid[s] = gettid();
	zt_fill_pattern(stack_data, sizeof(stack_data), 2000 + s);
	zt_tree_ready(s, tasks[s].name);
	zt_tree_wait_go();
	zt_tree_expect(s, zt_check_pattern(stack_data, sizeof(stack_data), 2000 + s) < 0,
		       "data on the thread's stack differs");
	check_task(s);
	if (is_process(s))
		return;
	zt_tree_done(s);
	/* Stay until the main thread has seen every thread in /proc/self/task. */
	for (int i = 0;
	     i < 1500 && !__atomic_load_n(&ids->counted[tasks[s].proc], __ATOMIC_ACQUIRE); i++)
		usleep(10000);
}

/* A process's own checks, in its main thread: its threads (then joined), its memory. */
static void check_process(int p)
{
	pid_t tids[16];
	int n = zt_thread_ids(tids, 16), want = 0;

	for (int t = 0; t < NS; t++) {
		bool found = false;
		if (tasks[t].proc != p)
			continue;
		want++;
		for (int j = 0; j < n; j++)
			found |= tids[j] == ids->tid[t];
		zt_tree_expect(p, found, "thread %s (tid %d) not in /proc/self/task", tasks[t].name,
			       ids->tid[t]);
	}
	zt_tree_expect(p, n == want, "%d threads, expected %d", n, want);
	check_children(p, tids, n);
	__atomic_store_n(&ids->counted[p], 1, __ATOMIC_RELEASE);
	check_memory(p);
}

static void join_threads(int p)
{
	for (int t = 0; t < NS; t++) {
		if (tasks[t].proc != p || t == p || !zt_tree_wait_done(t, 15000))
			continue;
		zt_tree_expect(p, pthread_join(threads[t], NULL) == 0, "join %s failed",
			       tasks[t].name);
	}
}

/* Wait for the children this process forked; each must exit 0. */
static void reap_children(int p, int slot)
{
	for (int c = 0; c < NS; c++) {
		int status = 0;
		pid_t r;

		if (!is_process(c) || c == S_R || parent_of(c) != p)
			continue;
		if (!zt_tree_wait_done(c, 15000))
			continue;	/* the root reports the missing verdict */
		r = zt_waitpid(ids->pid[c], &status, 0);
		zt_tree_expect(slot, r == ids->pid[c] && WIFEXITED(status) && !WEXITSTATUS(status),
			       "child %s: waitpid %d, status %#x", tasks[c].name, r, status);
	}
}

static void process_start(int p)
{
	zt_tree_child();
	if (tasks[p].own_group && setpgid(0, 0))
		zt_tree_fail(p, "setpgid: %m");
	ids->pid[p] = getpid();
	ids->pgid[p] = getpgrp();
	ids->sid[p] = getsid(0);
	zt_fill_pattern(inherited + p * PG, PG, p + 1);
	start_threads(p);
	fork_children(p);
	map_own(p);
	fill_stack_and_wait(p);
	check_process(p);
	join_threads(p);
	reap_children(p, p);
	zt_tree_done(p);
	_exit(0);
}

int main(int argc, char **argv)
{
	char stack_data[2048];

	zt_init(argc, argv);
	zt_tree_init(NS);
	ids = mmap(NULL, sizeof(*ids), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	inherited = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
	if (ids == MAP_FAILED || inherited == MAP_FAILED)
		zt_fail("mmap: %m");
	for (int k = 0; k < 16; k++)
		zt_fill_pattern(inherited + k * PG, PG, 100);

	/* The root's part of process_start(), without exiting at the end. */
	ids->pid[S_R] = getpid();
	ids->pgid[S_R] = getpgrp();
	ids->sid[S_R] = getsid(0);
	zt_fill_pattern(inherited + S_R * PG, PG, S_R + 1);
	start_threads(S_R);
	fork_children(S_R);
	map_own(S_R);
	ids->tid[S_R] = gettid();
	zt_fill_pattern(stack_data, sizeof(stack_data), 2000 + S_R);
	zt_tree_ready(S_R, tasks[S_R].name);
	zt_tree_wait_ready();

	zt_ready();
	zt_wait_for_check();

	for (int c = 0; c < NS; c++)
		if (is_process(c) && c != S_R && parent_of(c) == S_R)
			zt_expect(zt_proc_ppid(ids->pid[c]) == getpid(),
				  "/proc/%d/stat of %s: ppid %d, expected %d", ids->pid[c],
				  tasks[c].name, zt_proc_ppid(ids->pid[c]), getpid());
	zt_tree_go();
	zt_expect(zt_check_pattern(stack_data, sizeof(stack_data), 2000 + S_R) < 0,
		  "data on the main thread's stack differs");
	check_task(S_R);
	check_process(S_R);
	zt_tree_collect();
	join_threads(S_R);
	/* The root's own children: verdicts are in, so a hanging child does not hang us. */
	for (int c = 0; c < NS; c++) {
		int status = 0;
		pid_t r;

		if (!is_process(c) || c == S_R || parent_of(c) != S_R || !zt_tree_wait_done(c, 0))
			continue;
		r = zt_waitpid(ids->pid[c], &status, 0);
		zt_expect(r == ids->pid[c] && WIFEXITED(status) && !WEXITSTATUS(status),
			  "child %s: waitpid %d, status %#x", tasks[c].name, r, status);
	}
	zt_pass();
}
