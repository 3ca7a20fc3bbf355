/* A process whose descriptor table is full: RLIMIT_NOFILE's soft limit raised to the hard one,
 * and every number below it open (the test's own, then one file at all the others). A restore
 * needs a few numbers no descriptor of the tree has for its own descriptors while it rebuilds
 * the task, and there is none below the limit: the fd-table-full case dumps it, the dump must
 * be refused naming the task, the highest fd and the limit, and the process runs on: every
 * number still open, the file still the same one, still writable. With FD_FULL_LIMIT=N the
 * process first lowers both its limits to N and fills those N numbers: then a cryo with the
 * higher hard limit has room above them (the task's limits come back after the restore's own
 * descriptors are closed) and restores it, limits and all; one whose hard limit is N has
 * none and must fail before it creates anything (fd-room-restore). */
// zt-run: no-cryo
#include "zt.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct stat a, b;
	int fd, top, open_now = 0;

	zt_init(argc, argv);
	if (getrlimit(RLIMIT_NOFILE, &rl))
		zt_fail("getrlimit: %m");
	if (getenv("FD_FULL_LIMIT"))
		rl.rlim_max = strtoul(getenv("FD_FULL_LIMIT"), NULL, 10);
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		zt_fail("setrlimit: %m");
	if (rl.rlim_max > 1 << 16)
		zt_fail("RLIMIT_NOFILE's hard limit %lu is too high for this test", rl.rlim_max);
	top = (int)rl.rlim_max - 1;
	fd = open("full.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || fstat(fd, &a))
		zt_fail("open full.txt: %m");
	/* all but the one zt_ready needs for the pid file, which is taken right after */
	for (int n = 0; n < top; n++)
		if (fcntl(n, F_GETFD) < 0 && dup2(fd, n) != n)
			zt_fail("dup2 to %d: %m", n);
	zt_ready();
	for (int n = 0; n <= top; n++)
		if (fcntl(n, F_GETFD) < 0 && dup2(fd, n) != n)
			zt_fail("dup2 to %d: %m", n);
	zt_wait_for_check();

	for (int n = 0; n <= top; n++)
		open_now += fcntl(n, F_GETFD) >= 0;
	struct rlimit now;
	zt_expect(getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_cur == rl.rlim_cur &&
		      now.rlim_max == rl.rlim_max,
		  "RLIMIT_NOFILE is %lu/%lu, not %lu/%lu", now.rlim_cur, now.rlim_max, rl.rlim_cur,
		  rl.rlim_max);
	zt_expect(open_now == top + 1, "%d of the %d descriptors are open", open_now, top + 1);
	zt_expect(fstat(top, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
		  "fd %d is not full.txt", top);
	zt_expect(write(top, "x", 1) == 1, "fd %d is not writable: %m", top);
	zt_pass();
}
