/* A descriptor on the system console (/dev/console) or a virtual console (/dev/tty1), as a
 * daemon that logs to the console holds one: it needs no --shell-job (it is no job's
 * terminal) and must come back as that same device, not as some pseudo-terminal, at the
 * same access mode. Checked: fd is open on a character device with the same rdev, by the
 * same path, with the same access mode. If neither can be opened here, nothing to check. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zt.h"

int main(int argc, char **argv)
{
	static const char *const paths[] = {"/dev/console", "/dev/tty1"};
	struct stat before[2], now;
	int fds[2] = {-1, -1};
	char link[64], buf[256];

	zt_init(argc, argv);
	for (int i = 0; i < 2; i++) {
		fds[i] = open(paths[i], O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (fds[i] >= 0 && fstat(fds[i], &before[i]) < 0)
			zt_fail("fstat %s", paths[i]);
	}
	zt_ready();
	zt_wait_for_check();
	for (int i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		zt_expect(fstat(fds[i], &now) == 0 && S_ISCHR(now.st_mode) &&
			      now.st_rdev == before[i].st_rdev,
			  "fd %d is not %s any more", fds[i], paths[i]);
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[i]);
		ssize_t n = readlink(link, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		zt_expect(!strcmp(buf, paths[i]), "fd %d is %s, not %s", fds[i], buf, paths[i]);
		zt_expect((fcntl(fds[i], F_GETFL) & O_ACCMODE) == O_WRONLY,
			  "fd %d is not write-only", fds[i]);
	}
	zt_pass();
}
