/* A tracer of processes outside the tree: the target of ptrace-refused
 * (tests/cases/ptrace_refused.sh). Two outsiders (grandchildren whose parent exited: they
 * belong to the reaper above the test now) are traced with PTRACE_SEIZE, one by the main
 * thread, one by a second thread (the tracee's TracerPid then names that thread, not the
 * process). The test says their pids and the thread's id. At the check (after a refused
 * dump) both are still traced by the same threads: PTRACE_INTERRUPT stops each and the
 * tracer's wait sees the stop; then they are killed. */
// zt-run: no-cryo
#include "zt.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A process outside the tree that waits for its end; its pid */
static pid_t outsider(void)
{
	int c2p[2];
	pid_t mid, pid = -1;
	zt_check_sys(pipe(c2p) == 0, "pipe");
	mid = fork();
	zt_check_sys(mid >= 0, "fork");
	if (mid == 0) {
		if (fork() != 0)
			_exit(0);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != c2p[1])
				close(fd);
		pid_t me = getpid();
		if (write(c2p[1], &me, sizeof(me)) != sizeof(me))
			_exit(1);
		close(c2p[1]);
		for (;;)
			pause();
	}
	close(c2p[1]);
	waitpid(mid, NULL, 0);
	zt_check_sys(read(c2p[0], &pid, sizeof(pid)) == sizeof(pid), "the outsider's pid");
	close(c2p[0]);
	return pid;
}

/* Still traced by this thread: stopped by PTRACE_INTERRUPT, the stop seen, let go on */
static bool still_traced(pid_t pid)
{
	int st = 0;
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0)
		return false;
	if (waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st))
		return false;
	return ptrace(PTRACE_CONT, pid, 0, 0) == 0;
}

static pid_t traced_tid(pid_t pid)
{
	char path[64], buf[4096], v[32];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (zt_read_file(path, buf, sizeof(buf)) <= 0 ||
	    !zt_status_field(buf, "TracerPid", v, sizeof(v)))
		return -1;
	return (pid_t)atoi(v);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int stage; /* 1: the thread traces its outsider; 2: check; 3: checked */
static pid_t thread_tid, thread_outsider;
static bool thread_ok;

static void set_stage(int s)
{
	pthread_mutex_lock(&lock);
	stage = s;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void wait_stage(int s)
{
	pthread_mutex_lock(&lock);
	while (stage < s)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void *tracer_thread(void *arg)
{
	(void)arg;
	thread_tid = (pid_t)syscall(SYS_gettid);
	thread_outsider = outsider();
	zt_check_sys(ptrace(PTRACE_SEIZE, thread_outsider, 0, 0) == 0, "seize from the thread");
	set_stage(1);
	wait_stage(2);
	thread_ok = still_traced(thread_outsider);
	set_stage(3);
	return NULL;
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	pid_t a = outsider();
	zt_check_sys(ptrace(PTRACE_SEIZE, a, 0, 0) == 0, "seize");
	pthread_t th;
	zt_check_sys(pthread_create(&th, NULL, tracer_thread, NULL) == 0, "pthread_create");
	wait_stage(1);
	zt_log("tracees %d %d, thread %d", (int)a, (int)thread_outsider, (int)thread_tid);

	zt_ready();
	zt_wait_for_check();
	zt_expect(traced_tid(a) == getpid(), "outsider %d is traced by %d, not %d", (int)a,
		  (int)traced_tid(a), (int)getpid());
	zt_expect(traced_tid(thread_outsider) == thread_tid, "outsider %d is traced by %d, not %d",
		  (int)thread_outsider, (int)traced_tid(thread_outsider), (int)thread_tid);
	zt_expect(still_traced(a), "the main thread's tracee %d does not stop for it", (int)a);
	set_stage(2);
	wait_stage(3);
	zt_expect(thread_ok, "the thread's tracee %d does not stop for it", (int)thread_outsider);
	kill(a, SIGKILL);
	kill(thread_outsider, SIGKILL);
	zt_pass();
}
