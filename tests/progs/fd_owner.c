/* Signal-driven I/O, as an old-style server or a terminal program does it: the read ends of
 * pipes with O_ASYNC and an owner that gets the F_SETSIG signal when data arrives.
 *   pipe A: owner the child C (F_SETOWN_EX F_OWNER_PID), signal SIGRTMIN+1, O_ASYNC
 *   pipe B: owner the root's thread T (F_OWNER_TID), signal SIGUSR1, O_ASYNC
 *   pipe G: owner the root's process group (F_SETOWN -pgrp), no O_ASYNC, no signal set
 * After the restore: owners, signals and O_ASYNC read back as set; a write into pipe A
 * brings C SIGRTMIN+1 with si_fd = A's read end and POLL_IN; a write into pipe B brings T
 * SIGUSR1 with si_fd = B's read end. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { S_R, S_C, S_T, NS };
enum { V_TID, V_T_GOT };

static int ra, rb;

/* the signal sig with its siginfo, up to 10 s */
static int wait_sig(int sig, siginfo_t *si)
{
	struct timespec ten = {10, 0};
	sigset_t set;
	int r;
	sigemptyset(&set);
	sigaddset(&set, sig);
	while ((r = sigtimedwait(&set, si, &ten)) < 0 && errno == EINTR)
		;
	return r;
}

static void *thread_main(void *arg)
{
	siginfo_t si = {0};
	(void)arg;
	zt_tree_set(V_TID, (int)syscall(SYS_gettid));
	zt_tree_ready(S_T, "T");
	zt_tree_wait_go();
	int r = wait_sig(SIGUSR1, &si);
	zt_tree_expect(S_T, r == SIGUSR1 && si.si_fd == rb && si.si_code == POLL_IN,
		       "T: signal %d, si_fd %d (expected %d), code %d", r, si.si_fd, rb,
		       si.si_code);
	zt_tree_set(V_T_GOT, 1);
	zt_tree_done(S_T);
	return NULL;
}

static void child_main(void)
{
	siginfo_t si = {0};
	zt_tree_child();
	zt_tree_ready(S_C, "C");
	zt_tree_wait_go();
	int r = wait_sig(SIGRTMIN + 1, &si);
	zt_tree_expect(S_C,
		       r == SIGRTMIN + 1 && si.si_fd == ra && si.si_code == POLL_IN &&
			   (si.si_band & POLLIN),
		       "C: signal %d (expected %d), si_fd %d (expected %d), code %d, band %#lx", r,
		       SIGRTMIN + 1, si.si_fd, ra, si.si_code, (long)si.si_band);
	zt_tree_done(S_C);
	_exit(0);
}

static void set_owner(int fd, int type, pid_t pid, int sig, bool async)
{
	struct f_owner_ex own = {.type = (enum __pid_type)type, .pid = pid};
	zt_check_sys(fcntl(fd, F_SETOWN_EX, &own) == 0, "F_SETOWN_EX");
	zt_check_sys(!sig || fcntl(fd, F_SETSIG, sig) == 0, "F_SETSIG");
	zt_check_sys(!async || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC) == 0, "O_ASYNC");
}

static void expect_owner(const char *what, int fd, int type, pid_t pid, int sig, bool async)
{
	struct f_owner_ex own = {-1, -1};
	zt_expect(fcntl(fd, F_GETOWN_EX, &own) == 0 && (int)own.type == type && own.pid == pid,
		  "%s: owner type %d pid %d, expected %d %d", what, own.type, own.pid, type, pid);
	zt_expect(fcntl(fd, F_GETSIG) == sig, "%s: signal %d, expected %d", what,
		  fcntl(fd, F_GETSIG), sig);
	zt_expect(!!(fcntl(fd, F_GETFL) & O_ASYNC) == async, "%s: O_ASYNC is %s", what,
		  async ? "gone" : "set");
}

int main(int argc, char **argv)
{
	int a[2], b[2], g[2];
	sigset_t set;
	pthread_t th;

	zt_init(argc, argv);
	zt_tree_init(NS);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGIO);
	zt_check_sys(sigprocmask(SIG_BLOCK, &set, NULL) == 0, "sigprocmask");
	zt_check_sys(pipe(a) == 0 && pipe(b) == 0 && pipe(g) == 0, "pipe");
	ra = a[0], rb = b[0];
	pid_t c = fork();
	zt_check_sys(c >= 0, "fork");
	if (c == 0)
		child_main();
	zt_check_sys(pthread_create(&th, NULL, thread_main, NULL) == 0, "pthread_create");
	zt_check_sys(zt_tree_wait_var(V_TID, 1, 10000), "thread id");
	pid_t tid = zt_tree_get(V_TID);
	set_owner(a[0], F_OWNER_PID, c, SIGRTMIN + 1, true);
	set_owner(b[0], F_OWNER_TID, tid, SIGUSR1, true);
	zt_check_sys(fcntl(g[0], F_SETOWN, -getpgrp()) == 0, "F_SETOWN");
	zt_tree_wait_ready();
	zt_ready();
	zt_wait_for_check();

	expect_owner("pipe A", a[0], F_OWNER_PID, c, SIGRTMIN + 1, true);
	expect_owner("pipe B", b[0], F_OWNER_TID, tid, SIGUSR1, true);
	expect_owner("pipe G", g[0], F_OWNER_PGRP, getpgrp(), 0, false);
	zt_expect(fcntl(g[0], F_GETOWN) == -getpgrp(), "pipe G: F_GETOWN %d",
		  fcntl(g[0], F_GETOWN));
	zt_expect(fcntl(a[1], F_GETOWN) == 0 && !(fcntl(a[1], F_GETFL) & O_ASYNC),
		  "pipe A's write end got an owner");
	zt_tree_go();
	zt_expect(write(a[1], "x", 1) == 1 && write(b[1], "y", 1) == 1, "write: %m");
	zt_expect(zt_tree_wait_var(V_T_GOT, 1, 15000), "T never got its signal");
	pthread_join(th, NULL);
	zt_tree_collect();
	siginfo_t si;
	zt_waitid(P_PID, c, &si, WEXITED);
	zt_pass();
}
