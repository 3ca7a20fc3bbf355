/* Holds the three kinds of file locks a database or an editor takes: a flock() on one file, a
 * POSIX record lock (fcntl F_SETLK) on a range of another, an OFD lock on a third. cryo does
 * not take locks again at restore yet, so the refusals case (tests/cases/refusals.sh) uses it
 * as the target of a dump that must be refused, naming every lock, and leave the locks held.
 * The check: a child of the test (another lock owner) must find each lock still in force. */
// zt-run: no-cryo
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static int open_file(const char *name)
{
	int fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	zt_check_sys(fd >= 0, "open");
	zt_check_sys(write(fd, "0123456789", 10) == 10, "write");
	return fd;
}

/* In a child: is each lock still held by the test? */
static int probe(void)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 3};
	int bad = 0, fd;
	fd = open("flock.dat", O_RDWR);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		bad |= 1;
	fd = open("posix.dat", O_RDWR);
	if (fd < 0 || fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type != F_WRLCK)
		bad |= 2;
	fl = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	fd = open("ofd.dat", O_RDWR);
	if (fd < 0 || fcntl(fd, F_OFD_GETLK, &fl) < 0 || fl.l_type != F_WRLCK)
		bad |= 4;
	return bad;
}

int main(int argc, char **argv)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 3};
	int f1, f2, f3, st = 0;
	pid_t c;

	zt_init(argc, argv);
	f1 = open_file("flock.dat");
	f2 = open_file("posix.dat");
	f3 = open_file("ofd.dat");
	zt_check_sys(flock(f1, LOCK_EX) == 0, "flock");
	zt_check_sys(fcntl(f2, F_SETLK, &fl) == 0, "F_SETLK");
	fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	zt_check_sys(fcntl(f3, F_OFD_SETLK, &fl) == 0, "F_OFD_SETLK");

	zt_ready();
	zt_wait_for_check();

	c = fork();
	if (c == 0)
		_exit(probe());
	zt_expect(c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st), "probe child: %m");
	zt_expect(!(WEXITSTATUS(st) & 1), "the flock() lock is no longer held");
	zt_expect(!(WEXITSTATUS(st) & 2), "the POSIX lock is no longer held");
	zt_expect(!(WEXITSTATUS(st) & 4), "the OFD lock is no longer held");
	zt_pass();
}
