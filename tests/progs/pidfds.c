/* pidfds as a service manager or a process supervisor holds them. The root R forks C1, then
 * C2 (which inherits R's pidfds: one open file description across both processes), and Z,
 * which exits with status 5 and stays a zombie; it has a thread T. R holds:
 *   p1  = pidfd_open(C1, PIDFD_NONBLOCK), and p1d = dup(p1)
 *   p2  = pidfd_open(C2, 0)
 *   pz  = a pidfd of the zombie Z (opened after it exited)
 *   pt  = pidfd_open(T, PIDFD_THREAD)
 * C1 holds a pidfd of its later sibling C2 (created after it), C2 one of its parent R.
 * After the restore, the check:
 *   - fdinfo Pid and flags of each (O_NONBLOCK on p1 only, O_EXCL = PIDFD_THREAD on pt);
 *     p1 and p1d one description, and the same one in C2 (kcmp);
 *   - waitid(P_PIDFD, p1) says EAGAIN (non-blocking, C1 still runs), poll(p2) not ready;
 *   - pidfd_send_signal(p2, SIGUSR1): C2 takes it (sigwaitinfo) from R, checks its own
 *     pidfds, exits 0; R's poll(p2) gets POLLIN, waitid(P_PIDFD, p2) status 0;
 *   - C1 sees C2's exit through its own pidfd (POLLIN), exits 7: R polls p1, waitid gives 7;
 *   - pz is readable at once and waitid(P_PIDFD, pz) reaps Z with status 5;
 *   - pidfd_send_signal(pt, SIGUSR2) reaches thread T (sigwaitinfo in T). */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

enum { S_R, S_C1, S_C2, S_T, NS };
enum { V_C2PID, V_TID, V_T_GOT, V_C1_SAW };

static int pidfd_open(pid_t pid, unsigned flags)
{
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

static int send_sig(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* fdinfo "Pid:" of fd, or -2 */
static long fd_pid(int fd)
{
	char path[64], buf[1024], *p;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (zt_read_file(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "\nPid:")))
		return -2;
	return strtol(p + 5, NULL, 10);
}

static bool is_pidfd(int fd)
{
	char path[64], link[64];
	ssize_t n;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return !strcmp(link, "anon_inode:[pidfd]") || !strncmp(link, "pidfd:", 6);
}

static int poll_in(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n;
	while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return n > 0 ? p.revents : n;
}

static int wait_sig(int sig, siginfo_t *si)
{
	sigset_t set;
	int r;
	sigemptyset(&set);
	sigaddset(&set, sig);
	while ((r = sigwaitinfo(&set, si)) < 0 && errno == EINTR)
		;
	return r;
}

static void *thread_main(void *arg)
{
	siginfo_t si;
	sigset_t term;
	(void)arg;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL); /* the check is for the main thread */
	zt_tree_set(V_TID, (int)syscall(SYS_gettid));
	zt_tree_ready(S_T, "T");
	zt_tree_wait_go();
	int r = wait_sig(SIGUSR2, &si);
	zt_tree_expect(S_T, r == SIGUSR2 && si.si_pid == zt_tree_root() && si.si_code == SI_USER,
		       "T: sigwaitinfo %d, from %d code %d", r, si.si_pid, si.si_code);
	zt_tree_set(V_T_GOT, 1);
	zt_tree_done(S_T);
	return NULL;
}

/* C1: a pidfd of its later sibling C2, readable once C2 exits */
static void c1_main(void)
{
	zt_tree_child();
	if (!zt_tree_wait_var(V_C2PID, 1, 10000))
		zt_tree_fail(S_C1, "C1: no pid of C2");
	pid_t c2 = zt_tree_get(V_C2PID);
	int fd = pidfd_open(c2, 0);
	if (fd < 0)
		zt_tree_fail(S_C1, "C1: pidfd_open(C2): %m");
	zt_tree_ready(S_C1, "C1");
	zt_tree_wait_go();
	zt_tree_expect(S_C1, is_pidfd(fd) && fd_pid(fd) == c2,
		       "C1: its pidfd shows pid %ld, not %d", fd_pid(fd), c2);
	zt_tree_set(V_C1_SAW, 1); /* C2 may exit now: its pid is then -1 here */
	int rev = poll_in(fd, 10000);
	zt_tree_expect(S_C1, rev > 0 && (rev & POLLIN), "C1: C2's exit not seen (poll %d)", rev);
	zt_tree_done(S_C1);
	_exit(7);
}

/* C2: inherited p1 (a pidfd of C1), a pidfd of R; takes R's SIGUSR1 */
static void c2_main(int p1, pid_t c1)
{
	siginfo_t si;
	pid_t r = zt_tree_root();
	zt_tree_child();
	int fd = pidfd_open(r, 0);
	if (fd < 0)
		zt_tree_fail(S_C2, "C2: pidfd_open(R): %m");
	zt_tree_ready(S_C2, "C2");
	zt_tree_wait_go();
	int got = wait_sig(SIGUSR1, &si);
	zt_tree_expect(S_C2, got == SIGUSR1 && si.si_pid == r && si.si_code == SI_USER,
		       "C2: sigwaitinfo %d from %d code %d", got, si.si_pid, si.si_code);
	zt_tree_expect(S_C2, is_pidfd(fd) && fd_pid(fd) == r, "C2: pidfd of R shows %ld",
		       fd_pid(fd));
	zt_tree_expect(S_C2, poll_in(fd, 0) == 0, "C2: R looks exited");
	zt_tree_expect(S_C2, is_pidfd(p1) && fd_pid(p1) == c1, "C2: inherited p1 shows %ld",
		       fd_pid(p1));
	zt_tree_expect(S_C2, zt_tree_wait_var(V_C1_SAW, 1, 10000),
		       "C2: C1 never looked at its pidfd");
	zt_tree_done(S_C2);
	_exit(0);
}

int main(int argc, char **argv)
{
	sigset_t all;
	siginfo_t si;
	pthread_t th;

	zt_init(argc, argv);
	zt_tree_init(NS);
	sigemptyset(&all);
	sigaddset(&all, SIGUSR1);
	sigaddset(&all, SIGUSR2);
	zt_check_sys(sigprocmask(SIG_BLOCK, &all, NULL) == 0, "sigprocmask");

	pid_t c1 = fork();
	zt_check_sys(c1 >= 0, "fork C1");
	if (c1 == 0)
		c1_main();
	int p1 = pidfd_open(c1, PIDFD_NONBLOCK);
	zt_check_sys(p1 >= 0, "pidfd_open C1");
	int p1d = dup(p1);
	pid_t c2 = fork();
	zt_check_sys(c2 >= 0, "fork C2");
	if (c2 == 0)
		c2_main(p1, c1);
	zt_tree_set(V_C2PID, c2);
	int p2 = pidfd_open(c2, 0);
	pid_t z = fork();
	zt_check_sys(z >= 0, "fork Z");
	if (z == 0)
		_exit(5);
	zt_check_sys(zt_waitid(P_PID, z, &si, WEXITED | WNOWAIT) == 0, "waitid Z");
	int pz = pidfd_open(z, 0);
	zt_check_sys(p2 >= 0 && pz >= 0 && p1d >= 0, "pidfd_open");
	zt_check_sys(pthread_create(&th, NULL, thread_main, NULL) == 0, "pthread_create");
	zt_check_sys(zt_tree_wait_var(V_TID, 1, 10000), "thread id");
	pid_t tid = zt_tree_get(V_TID);
	int pt = pidfd_open(tid, PIDFD_THREAD);
	zt_check_sys(pt >= 0, "pidfd_open(thread)");
	zt_tree_wait_ready();
	zt_ready();
	zt_wait_for_check();
	zt_tree_go();

	pid_t me = getpid();
	zt_expect(is_pidfd(p1) && fd_pid(p1) == c1, "p1 shows pid %ld, not %d", fd_pid(p1), c1);
	zt_expect(is_pidfd(p1d) && fd_pid(p1d) == c1, "p1d shows pid %ld", fd_pid(p1d));
	zt_expect(is_pidfd(p2) && fd_pid(p2) == c2, "p2 shows pid %ld, not %d", fd_pid(p2), c2);
	zt_expect(is_pidfd(pz) && fd_pid(pz) == z, "pz shows pid %ld, not %d", fd_pid(pz), z);
	zt_expect(is_pidfd(pt) && fd_pid(pt) == tid, "pt shows %ld, not %d", fd_pid(pt), tid);
	zt_expect((fcntl(p1, F_GETFL) & (O_NONBLOCK | O_EXCL)) == O_NONBLOCK, "p1 flags %#x",
		  fcntl(p1, F_GETFL));
	zt_expect((fcntl(p2, F_GETFL) & (O_NONBLOCK | O_EXCL)) == 0, "p2 flags %#x",
		  fcntl(p2, F_GETFL));
	zt_expect((fcntl(pt, F_GETFL) & (O_NONBLOCK | O_EXCL)) == O_EXCL, "pt flags %#x",
		  fcntl(pt, F_GETFL));
	zt_expect(syscall(SYS_kcmp, me, me, KCMP_FILE, p1, p1d) == 0, "p1 and p1d differ");
	zt_expect(syscall(SYS_kcmp, me, c2, KCMP_FILE, p1, p1) == 0,
		  "p1 is not one description with C2's");
	zt_expect(syscall(SYS_kcmp, me, me, KCMP_FILE, p1, p2) != 0, "p1 and p2 are one");

	/* non-blocking: C1 runs, so no status yet */
	errno = 0;
	zt_expect(waitid(P_PIDFD, p1, &si, WEXITED) < 0 && errno == EAGAIN,
		  "waitid on non-blocking p1: %m (expected EAGAIN)");
	zt_expect(poll_in(p2, 0) == 0, "p2 ready before C2 exits");

	zt_expect(send_sig(p2, SIGUSR1) == 0, "pidfd_send_signal(p2): %m");
	int rev = poll_in(p2, 10000);
	zt_expect(rev > 0 && (rev & POLLIN), "poll(p2): %d", rev);
	zt_expect(zt_waitid(P_PIDFD, p2, &si, WEXITED) == 0 && si.si_pid == c2 &&
		      si.si_code == CLD_EXITED && si.si_status == 0,
		  "waitid(p2): pid %d code %d status %d", si.si_pid, si.si_code, si.si_status);

	rev = poll_in(p1, 10000);
	zt_expect(rev > 0 && (rev & POLLIN), "poll(p1): %d", rev);
	zt_expect(zt_waitid(P_PIDFD, p1, &si, WEXITED) == 0 && si.si_pid == c1 &&
		      si.si_code == CLD_EXITED && si.si_status == 7,
		  "waitid(p1): pid %d code %d status %d", si.si_pid, si.si_code, si.si_status);

	rev = poll_in(pz, 0);
	zt_expect(rev > 0 && (rev & POLLIN), "pz not ready: %d", rev);
	zt_expect(zt_waitid(P_PIDFD, pz, &si, WEXITED) == 0 && si.si_pid == z &&
		      si.si_code == CLD_EXITED && si.si_status == 5,
		  "waitid(pz): pid %d code %d status %d", si.si_pid, si.si_code, si.si_status);

	zt_expect(send_sig(pt, SIGUSR2) == 0, "pidfd_send_signal(pt): %m");
	zt_expect(zt_tree_wait_var(V_T_GOT, 1, 10000), "T never got SIGUSR2");
	pthread_join(th, NULL);
	zt_tree_collect();
	zt_pass();
}
