/* Pipes the way programs use them:
 *
 *   R: the test
 *   +-- A: holds the write end of tp (with R and C)
 *   +-- C: talks with R over two pipes: p2c (R -> C, the default 64 KiB, full) and c2p
 *          (C -> R, resized to 1 MiB by C, full); both synchronised through the pipes
 *          themselves first (R says "hi", C answers "ok")
 *
 * tp: R, A and C hold its write end, R its read end, with 6 bytes queued by R.
 * nb: R's own, made with O_NONBLOCK, 100 bytes queued; a dup of its read end, and a second
 * description of the read end (opened through /proc/self/fd) without O_NONBLOCK.
 *
 * After the check, every byte in flight is read and compared (64 KiB and 1 MiB, the sizes
 * are checked first), the sharing is checked with kcmp, and each pipe is then used: A and C
 * write into tp, R reads both, and once all three closed their write ends R reads end of
 * file; R says "bye" and closes p2c, C reads it and then end of file; C does the same on
 * c2p. End of file proves no stray write end was left open by the restore. nb reads its
 * 100 bytes then EAGAIN; the second description blocks (flag checked, not read).
 * eofp: only its read end is left (3 bytes queued): the bytes, then end of file. deadp: only
 * its write end is left, with 2 bytes no one can read (FIONREAD): a write fails with EPIPE
 * (SIGPIPE ignored). */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { S_R, S_A, S_C, NS };
static const char *const names[NS] = { "R", "A", "C" };
enum { V_STEP = 0, V_ACK = 1 };

#define P2C_BYTES 65536
#define C2P_SIZE (1 << 20)

static pid_t pid[NS];
static int tp[2], nb[2], nb_dup, nb_other, p2c[2], c2p[2], eofp[2], deadp[2];
static char big[C2P_SIZE], got[C2P_SIZE];

static long kcmp(pid_t a, pid_t b, int type, long i1, long i2)
{
	return syscall(SYS_kcmp, a, b, type, i1, i2);
}

/* End of file within 5 s: every write end is closed. */
static bool at_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;
	return poll(&p, 1, 5000) == 1 && read(fd, &c, 1) == 0;
}

static bool wait_step(int step)
{
	return zt_tree_wait_var(V_STEP, step, 15000);
}

static void ack(int s, int step)
{
	zt_tree_set(V_ACK + s, step);
}

static bool wait_ack(int s, int step)
{
	return zt_expect(zt_tree_wait_var(V_ACK + s, step, 15000), "%s did not finish step %d",
			 names[s], step);
}

static int a_main(void)
{
	int s = S_A;

	zt_tree_child();
	close(tp[0]);
	close(nb[0]), close(nb[1]), close(nb_dup), close(nb_other);
	zt_tree_ready(s, names[s]);
	zt_tree_wait_go();
	zt_tree_expect(s, kcmp(getpid(), zt_tree_root(), KCMP_FILE, tp[1], tp[1]) == 0,
		       "tp's write end is not R's description");
	if (wait_step(1))
		zt_tree_expect(s, write(tp[1], "AAAAAAAAAA", 10) == 10, "write tp: %m");
	close(tp[1]);
	ack(s, 1);
	zt_tree_done(s);
	return 0;
}

static int c_main(void)
{
	int s = S_C;
	char buf[8] = { 0 };

	zt_tree_child();
	close(tp[0]);
	close(nb[0]), close(nb[1]), close(nb_dup), close(nb_other);
	close(p2c[1]), close(c2p[0]);
	if (zt_read_full(p2c[0], buf, 2) != 2 || memcmp(buf, "hi", 2) || write(c2p[1], "ok", 2) != 2)
		zt_tree_fail(s, "handshake: %m");
	if (fcntl(c2p[1], F_SETPIPE_SZ, C2P_SIZE) != C2P_SIZE)
		zt_tree_fail(s, "F_SETPIPE_SZ: %m");
	zt_fill_pattern(big, C2P_SIZE, 2);
	if (write(c2p[1], big, C2P_SIZE) != C2P_SIZE)
		zt_tree_fail(s, "fill c2p: %m");
	zt_tree_ready(s, names[s]);
	zt_tree_wait_go();

	zt_tree_expect(s, fcntl(p2c[0], F_GETPIPE_SZ) == 65536, "p2c size %d",
		       fcntl(p2c[0], F_GETPIPE_SZ));
	zt_tree_expect(s, zt_read_full(p2c[0], got, P2C_BYTES) == P2C_BYTES &&
				  zt_check_pattern_as(got, P2C_BYTES, 1, big) < 0,
		       "the 64 KiB in flight in p2c differ");
	if (wait_step(1))
		zt_tree_expect(s, write(tp[1], "CCCCCCCCCC", 10) == 10, "write tp: %m");
	close(tp[1]);
	ack(s, 1);
	if (wait_step(2)) {
		zt_tree_expect(s, zt_read_full(p2c[0], buf, 3) == 3 && !memcmp(buf, "bye", 3),
			       "no bye in p2c");
		zt_tree_expect(s, at_eof(p2c[0]), "p2c: no end of file after R closed it");
		zt_tree_expect(s, write(c2p[1], "end", 3) == 3, "write c2p: %m");
		close(c2p[1]);
	}
	ack(s, 2);
	zt_tree_done(s);
	return 0;
}

int main(int argc, char **argv)
{
	char buf[4096];
	int status;

	zt_init(argc, argv);
	zt_tree_init(NS);
	pid[S_R] = getpid();
	zt_check_sys(pipe(tp) == 0 && pipe2(nb, O_NONBLOCK) == 0, "pipe");
	zt_check_sys(write(tp[1], "R01234", 6) == 6, "write tp");
	zt_check_sys(pipe(eofp) == 0 && write(eofp[1], "eof", 3) == 3 && pipe(deadp) == 0, "pipe");
	zt_check_sys(write(deadp[1], "zz", 2) == 2, "write deadp");
	close(eofp[1]);
	close(deadp[0]);
	signal(SIGPIPE, SIG_IGN);
	zt_fill_pattern(buf, 100, 3);
	zt_check_sys(write(nb[1], buf, 100) == 100, "write nb");
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", nb[0]);
	nb_dup = dup(nb[0]);
	nb_other = open(buf, O_RDONLY);
	zt_check_sys(nb_dup >= 0 && nb_other >= 0, "nb descriptions");

	fflush(NULL);
	pid[S_A] = fork();
	if (pid[S_A] == 0)
		_exit(a_main());
	zt_check_sys(pipe(p2c) == 0 && pipe(c2p) == 0, "pipe");
	pid[S_C] = fork();
	if (pid[S_C] == 0)
		_exit(c_main());
	zt_check_sys(pid[S_A] > 0 && pid[S_C] > 0, "fork");
	close(p2c[0]), close(c2p[1]);
	zt_check_sys(write(p2c[1], "hi", 2) == 2, "write hi");
	if (zt_read_full(c2p[0], buf, 2) != 2 || memcmp(buf, "ok", 2))
		zt_fail("handshake: no ok from C");
	zt_fill_pattern(big, P2C_BYTES, 1);
	zt_check_sys(write(p2c[1], big, P2C_BYTES) == P2C_BYTES, "fill p2c");
	zt_tree_ready(S_R, names[S_R]);
	zt_tree_wait_ready();
	zt_ready();
	zt_wait_for_check();

	/* what is: sizes, bytes in flight, flags, descriptions */
	zt_expect(fcntl(c2p[0], F_GETPIPE_SZ) == C2P_SIZE, "c2p size %d, expected %d",
		  fcntl(c2p[0], F_GETPIPE_SZ), C2P_SIZE);
	ssize_t n = zt_read_full(c2p[0], got, C2P_SIZE);
	zt_fill_pattern(big, C2P_SIZE, 2);
	zt_expect(n == C2P_SIZE && !memcmp(got, big, C2P_SIZE),
		  "the 1 MiB in flight in c2p differ (%zd bytes)", n);
	zt_expect(zt_read_full(tp[0], buf, 6) == 6 && !memcmp(buf, "R01234", 6),
		  "the 6 bytes in tp differ");
	zt_expect((fcntl(nb[0], F_GETFL) & O_NONBLOCK) && (fcntl(nb[1], F_GETFL) & O_NONBLOCK),
		  "nb lost O_NONBLOCK");
	zt_expect(!(fcntl(nb_other, F_GETFL) & O_NONBLOCK), "nb's other description nonblocking");
	zt_expect(kcmp(pid[S_R], pid[S_R], KCMP_FILE, nb[0], nb_dup) == 0,
		  "nb's dup is another description");
	zt_expect(kcmp(pid[S_R], pid[S_R], KCMP_FILE, nb[0], nb_other) != 0,
		  "nb's two descriptions are one");
	zt_expect(kcmp(pid[S_R], pid[S_C], KCMP_FILE, tp[1], tp[1]) == 0,
		  "tp's write end in R and C: not one description");
	n = read(nb[0], buf, sizeof(buf));
	zt_expect(n == 100 && zt_check_pattern(buf, 100, 3) < 0, "nb held %zd bytes", n);
	errno = 0;
	zt_expect(read(nb_dup, buf, sizeof(buf)) < 0 && errno == EAGAIN,
		  "nb empty: not EAGAIN (%m)");

	zt_expect(zt_read_full(eofp[0], buf, 3) == 3 && !memcmp(buf, "eof", 3), "eofp's 3 bytes");
	zt_expect(at_eof(eofp[0]), "eofp: no end of file (a write end came back)");
	int queued = -1;
	zt_expect(ioctl(deadp[1], FIONREAD, &queued) == 0 && queued == 2,
		  "deadp holds %d bytes, not its 2", queued);
	errno = 0;
	zt_expect(write(deadp[1], "x", 1) < 0 && errno == EPIPE,
		  "deadp: a write did not fail with EPIPE (a read end came back): %m");

	/* then use them */
	zt_tree_go();
	zt_tree_set(V_STEP, 1);
	wait_ack(S_A, 1);
	wait_ack(S_C, 1);
	close(tp[1]);
	memset(buf, 0, 21);
	zt_expect(zt_read_full(tp[0], buf, 20) == 20, "tp: 20 bytes of A and C");
	int as = 0, cs = 0;
	for (int i = 0; i < 20; i++)
		as += buf[i] == 'A', cs += buf[i] == 'C';
	zt_expect(as == 10 && cs == 10, "tp held '%.20s'", buf);
	zt_expect(at_eof(tp[0]), "tp: no end of file once R, A and C closed it");
	zt_expect(write(p2c[1], "bye", 3) == 3, "write bye: %m");
	close(p2c[1]);
	zt_tree_set(V_STEP, 2);
	wait_ack(S_C, 2);
	zt_expect(zt_read_full(c2p[0], buf, 3) == 3 && !memcmp(buf, "end", 3), "no end from C");
	zt_expect(at_eof(c2p[0]), "c2p: no end of file after C closed it");

	zt_tree_collect();
	for (int s = S_A; s < NS; s++) {
		if (!zt_tree_wait_done(s, 0))
			continue;
		status = 0;
		zt_expect(zt_waitpid(pid[s], &status, 0) == pid[s] && WIFEXITED(status) &&
				  !WEXITSTATUS(status),
			  "%s: exit status %#x", names[s], status);
	}
	zt_pass();
}
