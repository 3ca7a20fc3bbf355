/* One deleted file opened separately by two processes (two open file descriptions of one
 * inode, not inherited), as a log file a daemon and its worker each opened before a rotation
 * removed it: the test (R) opens "data" read-write at offset 3; its child A inherits that
 * description and opens the file again, read-only, at offset 7;
 * then R removes the name.
 *
 * After the dump: both fds are the same inode (one ghost), with no link, its content; each
 * description has its own position and flags (R's 3 and O_RDWR, shared with A's inherited
 * copy; A's own 7 and O_RDONLY); a write through R's is read through A's. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONTENT "0123456789abcdef"

struct report {
	char problem[200];
	volatile int opened, done;
	volatile ino_t r_ino;
	volatile dev_t r_dev;
};
static struct report *rep;
static volatile sig_atomic_t woken;

static void on_usr1(int sig)
{
	(void)sig;
	woken = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	sigset_t usr1, none;
	int fd, status;
	pid_t a;

	zt_init(argc, argv);
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED)
		zt_fail("mmap: %m");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	fd = open("data", O_RDWR | O_CREAT | O_EXCL, 0640);
	if (fd < 0 || write(fd, CONTENT, 16) != 16 || lseek(fd, 3, SEEK_SET) != 3)
		zt_fail("data: %m");

	if ((a = fork()) == 0) {
		char *p = rep->problem, buf[32];
		struct stat st;
		int own = open("data", O_RDONLY);
		if (own < 0 || lseek(own, 7, SEEK_SET) != 7)
			_exit(2);
		rep->opened = 1;
		sigemptyset(&none);
		while (!woken)
			sigsuspend(&none);
		ssize_t n = pread(own, buf, 16, 0);
		if (fstat(own, &st) < 0 || st.st_ino != rep->r_ino || st.st_dev != rep->r_dev)
			snprintf(p, 200, "its own open is not R's file (inode %lu, R's %lu)",
				 (unsigned long)st.st_ino, (unsigned long)rep->r_ino);
		else if (st.st_nlink != 0 || st.st_size != 16 || (st.st_mode & 07777) != 0640)
			snprintf(p, 200, "links %lu size %ld mode %o", (unsigned long)st.st_nlink,
				 (long)st.st_size, st.st_mode & 07777);
		else if (lseek(own, 0, SEEK_CUR) != 7)
			snprintf(p, 200, "own position %ld, was 7", (long)lseek(own, 0, SEEK_CUR));
		else if ((fcntl(own, F_GETFL) & O_ACCMODE) != O_RDONLY)
			snprintf(p, 200, "own flags %#o, was read-only", fcntl(own, F_GETFL));
		else if (lseek(fd, 0, SEEK_CUR) != 3)
			snprintf(p, 200, "inherited position %ld, was 3",
				 (long)lseek(fd, 0, SEEK_CUR));
		else if (n != 16 || memcmp(buf, "XYZ3456789abcdef", 16))
			snprintf(p, 200, "reads '%.*s', R wrote XYZ over " CONTENT,
				 (int)(n > 0 ? n : 0), buf);
		rep->done = 1;
		_exit(p[0] ? 1 : 0);
	}
	if (a < 0)
		zt_fail("fork: %m");
	while (!rep->opened)
		usleep(1000);
	if (unlink("data") < 0)
		zt_fail("unlink: %m");

	zt_ready();
	zt_wait_for_check();

	struct stat st;
	char buf[32];
	zt_expect(fstat(fd, &st) == 0 && st.st_nlink == 0 && st.st_size == 16,
		  "R: links %lu size %ld", (unsigned long)st.st_nlink, (long)st.st_size);
	zt_expect(lseek(fd, 0, SEEK_CUR) == 3, "R: position %ld, was 3",
		  (long)lseek(fd, 0, SEEK_CUR));
	zt_expect((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR, "R: flags %#o", fcntl(fd, F_GETFL));
	zt_expect(pread(fd, buf, 16, 0) == 16 && !memcmp(buf, CONTENT, 16), "R: content '%.16s'",
		  buf);
	zt_expect(pwrite(fd, "XYZ", 3, 0) == 3, "R: write: %m");
	rep->r_ino = st.st_ino;
	rep->r_dev = st.st_dev;
	kill(a, SIGUSR1);
	zt_expect(waitpid(a, &status, 0) == a && WIFEXITED(status), "child A: lost");
	zt_expect(rep->done, "child A never checked in");
	zt_expect(!rep->problem[0], "child A: %s", rep->problem);
	zt_pass();
}
