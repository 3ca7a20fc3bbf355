/* A descriptor near the top of RLIMIT_NOFILE (hard limit - 3), as programs that park their
 * descriptors high do (stress-ng's mlock stressor, a shell's `exec 19997>file`). The restore
 * must not put its own service descriptors above the tree's highest one (past the limit: the
 * restore failed there, and the process the dump had killed was lost) but at numbers the tree
 * leaves free below it. Checked: the descriptor is there, still the file it was, and
 * writable. */
#include "zt.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct stat a, b;
	int fd, high;

	zt_init(argc, argv);
	if (getrlimit(RLIMIT_NOFILE, &rl))
		zt_fail("getrlimit: %m");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		zt_fail("setrlimit: %m");
	if (rl.rlim_max > 1 << 20)
		zt_fail("RLIMIT_NOFILE's hard limit %lu is too high for this test", rl.rlim_max);
	high = (int)rl.rlim_max - 3;
	fd = open("high.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || dup2(fd, high) != high)
		zt_fail("open/dup2 to %d: %m", high);
	close(fd);
	if (fstat(high, &a))
		zt_fail("fstat: %m");
	zt_ready();
	zt_wait_for_check();

	zt_expect(fstat(high, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
		  "fd %d is not high.txt after the restore", high);
	zt_expect(write(high, "x", 1) == 1, "fd %d is not writable: %m", high);
	zt_pass();
}
