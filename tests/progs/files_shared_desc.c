/* Descriptors sharing one open file description (dup, dup2, F_DUPFD_CLOEXEC) next to a
 * separate description of the same file; and zt's stdout and stderr, which are dups too.
 *
 * After the dump kcmp(KCMP_FILE) must find the dups still one description and the separate
 * one apart, and so must behaviour: a seek or an F_SETFL through one dup shows through the
 * others and not through the separate description, while the per-descriptor close-on-exec
 * flags stay as they were on each. */
#include "zt.h"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

static int same(int fd1, int fd2)
{
	pid_t p = getpid();
	return syscall(SYS_kcmp, p, p, KCMP_FILE, fd1, fd2);
}

static off_t pos(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

int main(int argc, char **argv)
{
	char buf[1000] = { 0 };
	int a, b, c, d, e;

	zt_init(argc, argv);
	a = open("shared.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (a < 0 || write(a, buf, sizeof(buf)) != sizeof(buf))
		zt_fail("create shared.bin: %m");
	b = dup(a);
	c = dup2(a, 50);
	d = fcntl(a, F_DUPFD_CLOEXEC, 60);
	e = open("shared.bin", O_RDWR);
	if (b < 0 || c != 50 || d < 60 || e < 0 || fcntl(c, F_SETFD, FD_CLOEXEC))
		zt_fail("dup: %m");
	lseek(a, 100, SEEK_SET);
	lseek(e, 500, SEEK_SET);
	if (same(a, b) != 0 || same(a, e) == 0 || same(1, 2) != 0)
		zt_fail("setup: kcmp does not see what was set up (%m)");

	zt_ready();
	zt_wait_for_check();

	zt_expect(same(a, b) == 0, "fds %d and %d (dup) are no longer one description", a, b);
	zt_expect(same(a, c) == 0, "fds %d and %d (dup2) are no longer one description", a, c);
	zt_expect(same(a, d) == 0, "fds %d and %d (F_DUPFD_CLOEXEC) are no longer one", a, d);
	zt_expect(same(a, e) != 0, "fds %d and %d (two opens) became one description", a, e);
	zt_expect(same(1, 2) == 0, "stdout and stderr are no longer one description");

	zt_expect(pos(a) == 100 && pos(b) == 100 && pos(c) == 100 && pos(d) == 100,
		  "positions %ld %ld %ld %ld, all were 100", (long)pos(a), (long)pos(b),
		  (long)pos(c), (long)pos(d));
	zt_expect(pos(e) == 500, "position of the separate description %ld, was 500",
		  (long)pos(e));
	lseek(b, 321, SEEK_SET);
	zt_expect(pos(a) == 321 && pos(c) == 321 && pos(d) == 321,
		  "a seek through one dup is not seen through the others");
	zt_expect(pos(e) == 500, "a seek through a dup moved the separate description");
	fcntl(c, F_SETFL, O_NONBLOCK);
	zt_expect(fcntl(a, F_GETFL) & O_NONBLOCK, "F_SETFL through a dup is not shared");
	zt_expect(!(fcntl(e, F_GETFL) & O_NONBLOCK), "F_SETFL reached the separate description");

	zt_expect(fcntl(a, F_GETFD) == 0 && fcntl(b, F_GETFD) == 0, "close-on-exec set on a or b");
	zt_expect(fcntl(c, F_GETFD) == FD_CLOEXEC, "close-on-exec lost on fd %d", c);
	zt_expect(fcntl(d, F_GETFD) == FD_CLOEXEC, "close-on-exec lost on fd %d", d);
	zt_pass();
}
