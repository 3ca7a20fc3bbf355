/* A process in a chroot (a directory of its work dir) with its cwd inside it. After the dump
 * the root is the same directory (its device and inode, and a marker file found at /), the
 * cwd is the same, and the way out of the old root is still closed ("/.." is "/"). zt writes
 * the pidfile through a directory descriptor it opened before the chroot. */
#include "zt.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char cwd[PATH_MAX], buf[64];
	struct stat root_before, sub_before, st;

	zt_init(argc, argv);
	if (mkdir("root", 0755) || mkdir("root/sub", 0755))
		zt_fail("mkdir: %m");
	int fd = open("root/marker", O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "marker\n", 7) != 7)
		zt_fail("marker: %m");
	close(fd);
	if (stat("root", &root_before) || stat("root/sub", &sub_before))
		zt_fail("stat: %m");
	if (chroot("root") || chdir("/sub"))
		zt_fail("chroot: %m");

	zt_ready();
	zt_wait_for_check();

	zt_expect(stat("/", &st) == 0 && st.st_dev == root_before.st_dev &&
			  st.st_ino == root_before.st_ino,
		  "/ is another directory");
	zt_expect(stat("/..", &st) == 0 && st.st_ino == root_before.st_ino,
		  "/.. leads out of the root");
	zt_expect(stat(".", &st) == 0 && st.st_ino == sub_before.st_ino, "cwd is another dir");
	zt_expect(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, "/sub"), "cwd '%s'", cwd);
	zt_expect(zt_read_file("/marker", buf, sizeof(buf)) == 7 && !strcmp(buf, "marker\n"),
		  "/marker not found in the root");
	zt_pass();
}
