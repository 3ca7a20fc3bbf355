/* The umask and the current directory: umask 027 and a cwd two levels down in the work dir.
 * After the dump getcwd() and the umask (read back, in /proc/self/status, and by its effect
 * on a new file's mode) are what they were, and the cwd is the same directory (device and
 * inode), not just one with the same name. */
#include "zt.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char cwd_before[PATH_MAX], cwd[PATH_MAX], status[8192], v[32];
	struct stat st_before, st;
	mode_t old;
	int fd;

	zt_init(argc, argv);
	if (mkdir("sub", 0755) || mkdir("sub/dir", 0755) || chdir("sub/dir"))
		zt_fail("mkdir/chdir: %m");
	umask(027);
	if (!getcwd(cwd_before, sizeof(cwd_before)) || stat(".", &st_before))
		zt_fail("getcwd: %m");

	zt_ready();
	zt_wait_for_check();

	zt_expect(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, cwd_before), "cwd '%s', was '%s'",
		  cwd, cwd_before);
	zt_expect(stat(".", &st) == 0 && st.st_dev == st_before.st_dev &&
			  st.st_ino == st_before.st_ino,
		  "cwd is another directory");
	zt_expect(zt_read_file("/proc/self/status", status, sizeof(status)) > 0 &&
			  zt_status_field(status, "Umask", v, sizeof(v)) && !strcmp(v, "0027"),
		  "status Umask '%s'", v);
	fd = open("new-file", O_CREAT | O_WRONLY | O_EXCL, 0666);
	zt_expect(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0640,
		  "a new file got mode %o, not 640", st.st_mode & 0777);
	if (fd >= 0)
		close(fd);
	old = umask(0);
	zt_expect(old == 027, "umask %03o", old);
	zt_pass();
}
