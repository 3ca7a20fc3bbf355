/* What processes share about files:
 *
 *   R: the test
 *   +-- P1: fork(): shares R's open file description of shared.dat (opened before the fork,
 *   |       offset 100), but has its own descriptor table, its own separately opened
 *   |       description of the same file (offset 50), and its own cwd and umask
 *   +-- P2: clone(CLONE_FILES): shares R's whole descriptor table
 *   +-- P3: clone(CLONE_FS): shares R's cwd, root and umask; R moved to dir_a after the clone
 *
 * Checked after the check, first what is: the offsets (100 in R and P1, 50 for P1's own),
 * the data, kcmp(KCMP_FILE) the same description in R and P1 and a different one for the
 * files opened separately, kcmp(KCMP_FILES) one table for R and P2 but not P1, an fd P2
 * opened before the dump open in R, kcmp(KCMP_FS) one fs for R and P3 but not P1, P3's cwd
 * dir_a and umask 027, P1's cwd and umask its own. Then by effect, step by step:
 *   R reads 10 bytes -> P1 sees offset 110; P1 seeks to 500 and sets O_NONBLOCK -> R sees
 *   both (P1's own description still at 50); P2 opens a file -> that fd is open in R with
 *   that name; R closes an fd -> closed in P2; P3 chdir()s to dir_b -> R's cwd is dir_b;
 *   R sets umask 077 -> P3's umask is 077 (/proc status) and P1's is not.
 * Finally R reaps the three, each exiting 0.
 * Also run in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { S_R, S_P1, S_P2, S_P3, NS };
static const char *const names[NS] = { "R", "P1", "P2", "P3" };

/* Shared variables: the step R is at, and each task's answer. */
enum { V_STEP = 0, V_ACK = 1, V_FD = 1 + NS };

static pid_t pid[NS];
static int fd_shared;		/* one description, R and P1 */
static int fd_own;		/* opened separately by R, and by P1 after the fork */
static int fd_table;		/* in R's table, closed by R at step 4 */
static int fd_p2_before;	/* opened by P2 in the shared table before ready */
static char workdir[4096];
static char stacks[2][256 << 10];
static char data[4096], readback[4096];

static long kcmp(pid_t a, pid_t b, int type, long i1, long i2)
{
	return syscall(SYS_kcmp, a, b, type, i1, i2);
}

static bool wait_step(int step)
{
	return zt_tree_wait_var(V_STEP, step, 15000);
}

static void ack(int s, int step)
{
	zt_tree_set(V_ACK + s, step);
}

static bool cwd_is(const char *dir)
{
	char cwd[4096], want[4200];

	snprintf(want, sizeof(want), "%s%s%s", workdir, *dir ? "/" : "", dir);
	return getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, want);
}

/* Umask from /proc/self/status: reading it with umask() would change it for a moment. */
static int umask_now(void)
{
	char buf[4096], val[32];

	if (zt_read_file("/proc/self/status", buf, sizeof(buf)) < 0 ||
	    !zt_status_field(buf, "Umask", val, sizeof(val)))
		return -1;
	return (int)strtol(val, NULL, 8);
}

static off_t offset(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

static int p1_main(void)
{
	int s = S_P1;

	zt_tree_child();
	pid[s] = getpid();
	fd_own = open("shared.dat", O_RDONLY);
	if (fd_own < 0 || lseek(fd_own, 50, SEEK_SET) != 50)
		zt_tree_fail(s, "open shared.dat: %m");
	zt_tree_set(V_FD + s, fd_own);
	zt_tree_ready(s, names[s]);
	zt_tree_wait_go();

	zt_tree_expect(s, getpid() == pid[s], "pid %d, was %d", getpid(), pid[s]);
	zt_tree_expect(s, offset(fd_shared) == 100, "shared offset %ld, expected 100",
		       (long)offset(fd_shared));
	zt_tree_expect(s, offset(fd_own) == 50, "own offset %ld, expected 50",
		       (long)offset(fd_own));
	zt_tree_expect(s, cwd_is(""), "cwd moved with R's (not shared)");
	zt_tree_expect(s, umask_now() == 022, "umask %o, expected 022", umask_now());
	ack(s, 1);

	if (wait_step(2)) {
		zt_tree_expect(s, offset(fd_shared) == 110,
			       "after R's read the offset is %ld, not 110",
			       (long)offset(fd_shared));
		lseek(fd_shared, 500, SEEK_SET);
		fcntl(fd_shared, F_SETFL, fcntl(fd_shared, F_GETFL) | O_NONBLOCK);
	}
	ack(s, 2);
	/* R's umask change (step 5) must not reach us. */
	if (wait_step(5))
		zt_tree_expect(s, umask_now() == 022, "umask %o after R's umask(077)", umask_now());
	zt_tree_expect(s, offset(fd_own) == 50, "own offset %ld at the end", (long)offset(fd_own));
	zt_tree_done(s);
	return 0;
}

static int p2_main(void *arg)
{
	int s = S_P2, fd;
	char path[64], link[4200], want[4200];
	ssize_t n;

	(void)arg;
	/* No zt_tree_child(): the table is R's; R closes zt's descriptors at ready. */
	pid[s] = getpid();
	fd_p2_before = open("p2_before", O_RDWR | O_CREAT, 0644);
	if (fd_p2_before < 0)
		zt_tree_fail(s, "open: %m");
	zt_tree_set(V_FD + s, fd_p2_before);
	zt_tree_ready(s, names[s]);
	zt_tree_wait_go();

	zt_tree_expect(s, getpid() == pid[s], "pid %d, was %d", getpid(), pid[s]);
	zt_tree_expect(s, fcntl(fd_table, F_GETFD) >= 0, "R's fd %d is not open here", fd_table);
	zt_tree_expect(s, offset(fd_shared) == 100, "shared offset %ld", (long)offset(fd_shared));
	ack(s, 1);

	if (wait_step(3)) {
		fd = open("p2_after", O_RDWR | O_CREAT, 0644);
		zt_tree_expect(s, fd >= 0, "open p2_after: %m");
		zt_tree_set(V_FD + s, fd);
	}
	ack(s, 3);
	if (wait_step(4)) {
		errno = 0;
		zt_tree_expect(s, fcntl(fd_table, F_GETFD) < 0 && errno == EBADF,
			       "fd %d closed by R is still open here", fd_table);
	}
	/* Our view of the fd we opened at step 3, by name. */
	fd = zt_tree_get(V_FD + s);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	snprintf(want, sizeof(want), "%s/p2_after", workdir);
	zt_tree_expect(s, !strcmp(link, want), "fd %d is '%s'", fd, link);
	ack(s, 4);
	zt_tree_done(s);
	return 0;
}

static int p3_main(void *arg)
{
	int s = S_P3;

	(void)arg;
	zt_tree_child();
	pid[s] = getpid();
	/* R moves to dir_a and sets umask 027 after the clone: shared, so we see it. */
	if (!zt_tree_wait_var(V_ACK + S_R, 1, 10000))
		zt_tree_fail(s, "R never set up the fs");
	if (!cwd_is("dir_a") || umask_now() != 027)
		zt_tree_fail(s, "setup: cwd or umask not shared");
	zt_tree_ready(s, names[s]);
	zt_tree_wait_go();

	zt_tree_expect(s, getpid() == pid[s], "pid %d, was %d", getpid(), pid[s]);
	zt_tree_expect(s, cwd_is("dir_a"), "cwd is not dir_a");
	zt_tree_expect(s, umask_now() == 027, "umask %o, expected 027", umask_now());
	ack(s, 1);
	if (wait_step(4)) {
		zt_tree_expect(s, chdir("../dir_b") == 0, "chdir ../dir_b: %m");
		zt_tree_expect(s, cwd_is("dir_b"), "cwd is not dir_b after chdir");
	}
	ack(s, 4);
	if (wait_step(5))
		zt_tree_expect(s, umask_now() == 077,
			       "umask %o after R's umask(077): fs not shared", umask_now());
	zt_tree_done(s);
	return 0;
}

static bool wait_ack(int s, int step)
{
	return zt_expect(zt_tree_wait_var(V_ACK + s, step, 15000), "%s did not finish step %d",
			 names[s], step);
}

int main(int argc, char **argv)
{
	char buf[16];
	int status;

	zt_init(argc, argv);
	zt_tree_init(NS);
	umask(022);
	if (!getcwd(workdir, sizeof(workdir)))
		zt_fail("getcwd: %m");
	if (mkdir("dir_a", 0755) || mkdir("dir_b", 0755))
		zt_fail("mkdir: %m");
	zt_fill_pattern(data, sizeof(data), 7);
	fd_shared = open("shared.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd_shared < 0 || write(fd_shared, data, sizeof(data)) != sizeof(data) ||
	    lseek(fd_shared, 100, SEEK_SET) != 100)
		zt_fail("shared.dat: %m");
	fd_own = open("shared.dat", O_RDONLY);
	fd_table = open("table_mark", O_RDWR | O_CREAT, 0644);
	if (fd_own < 0 || fd_table < 0)
		zt_fail("open: %m");
	pid[S_R] = getpid();

	fflush(NULL);
	pid[S_P1] = fork();
	if (pid[S_P1] == 0)
		_exit(p1_main());
	pid[S_P2] = clone(p2_main, stacks[0] + sizeof(stacks[0]), CLONE_FILES | SIGCHLD, NULL);
	pid[S_P3] = clone(p3_main, stacks[1] + sizeof(stacks[1]), CLONE_FS | SIGCHLD, NULL);
	if (pid[S_P1] < 0 || pid[S_P2] < 0 || pid[S_P3] < 0)
		zt_fail("fork/clone: %m");
	if (chdir("dir_a"))
		zt_fail("chdir: %m");
	umask(027);
	ack(S_R, 1);
	zt_tree_ready(S_R, names[S_R]);
	zt_tree_wait_ready();
	fd_p2_before = zt_tree_get(V_FD + S_P2);
	if (fcntl(fd_p2_before, F_GETFD) < 0)
		zt_fail("setup: P2's fd %d not open in R", fd_p2_before);

	zt_ready();
	zt_wait_for_check();

	zt_expect(offset(fd_shared) == 100, "shared offset %ld, expected 100",
		  (long)offset(fd_shared));
	zt_expect(offset(fd_own) == 0, "own offset %ld, expected 0", (long)offset(fd_own));
	zt_expect(pread(fd_shared, readback, sizeof(readback), 0) == sizeof(readback) &&
			  !memcmp(readback, data, sizeof(data)),
		  "shared.dat content differs");
	zt_expect(kcmp(pid[S_R], pid[S_P1], KCMP_FILE, fd_shared, fd_shared) == 0,
		  "fd %d of R and P1: not one open file description any more", fd_shared);
	zt_expect(kcmp(pid[S_R], pid[S_P1], KCMP_FILE, fd_own, zt_tree_get(V_FD + S_P1)) != 0,
		  "separately opened files of R and P1 are one description");
	zt_expect(kcmp(pid[S_R], pid[S_P2], KCMP_FILES, 0, 0) == 0,
		  "R and P2 do not share a descriptor table");
	zt_expect(kcmp(pid[S_R], pid[S_P1], KCMP_FILES, 0, 0) != 0,
		  "R and P1 share a descriptor table");
	zt_expect(kcmp(pid[S_R], pid[S_P3], KCMP_FS, 0, 0) == 0, "R and P3 do not share fs");
	zt_expect(kcmp(pid[S_R], pid[S_P1], KCMP_FS, 0, 0) != 0, "R and P1 share fs");
	zt_expect(kcmp(pid[S_R], pid[S_P3], KCMP_FILES, 0, 0) != 0,
		  "R and P3 share a descriptor table");
	zt_expect(fcntl(fd_p2_before, F_GETFD) >= 0, "P2's fd %d is not open in R",
		  fd_p2_before);
	zt_expect(cwd_is("dir_a"), "R's cwd is not dir_a");
	zt_expect(umask_now() == 027, "umask %o, expected 027", umask_now());

	zt_tree_go();
	for (int s = S_P1; s < NS; s++)
		wait_ack(s, 1);
	/* Step 2: our read moves P1's offset; P1 seeks and sets a flag. */
	zt_expect(read(fd_shared, buf, 10) == 10 && !memcmp(buf, data + 100, 10),
		  "read at 100: %m or wrong data");
	zt_tree_set(V_STEP, 2);
	if (wait_ack(S_P1, 2)) {
		zt_expect(offset(fd_shared) == 500, "after P1's seek the offset is %ld, not 500",
			  (long)offset(fd_shared));
		zt_expect(fcntl(fd_shared, F_GETFL) & O_NONBLOCK, "P1's O_NONBLOCK not seen");
		zt_expect(offset(fd_own) == 0, "own offset moved to %ld", (long)offset(fd_own));
	}
	/* Step 3: P2 opens a file, in our table too. */
	zt_tree_set(V_STEP, 3);
	if (wait_ack(S_P2, 3)) {
		char path[64], link[4200], want[4200];
		int fd = zt_tree_get(V_FD + S_P2);
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		snprintf(want, sizeof(want), "%s/p2_after", workdir);
		zt_expect(!strcmp(link, want), "P2's new fd %d is '%s' here, expected %s", fd, link,
			  want);
	}
	/* Step 4: we close an fd, gone in P2 too; P3 changes the cwd of both of us. */
	close(fd_table);
	zt_tree_set(V_STEP, 4);
	if (wait_ack(S_P3, 4))
		zt_expect(cwd_is("dir_b"), "P3's chdir to dir_b not seen");
	/* Step 5: our umask reaches P3, not P1. */
	umask(077);
	zt_tree_set(V_STEP, 5);

	zt_tree_collect();
	for (int s = S_P1; s < NS; s++) {
		if (!zt_tree_wait_done(s, 0))
			continue;
		status = 0;
		zt_expect(zt_waitpid(pid[s], &status, 0) == pid[s] && WIFEXITED(status) &&
				  !WEXITSTATUS(status),
			  "%s: exit status %#x", names[s], status);
	}
	zt_pass();
}
