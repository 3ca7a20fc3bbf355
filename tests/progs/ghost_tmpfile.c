/* Files made by open(O_TMPFILE), as a database makes its scratch files: the kernel keeps the
 * flag in the description (fdinfo shows it, with O_DIRECTORY's bit that is part of it). One
 * is never named (a deleted file for cryo), the other is given a name by linkat after it was
 * written. Each holds its content at its position.
 *
 * After the dump: both are regular files again (not new files in a directory), with their
 * content, position and access mode; the unnamed one has no link, the named one is the file
 * at its name; each can still be written and read back. */
// zt-run: gen2
#include "zt.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void check(int fd, const char *what, const char *content, off_t pos, nlink_t links)
{
	struct stat st;
	char buf[64] = {0};
	size_t len = strlen(content);

	zt_expect(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "%s: not a regular file", what);
	zt_expect(st.st_nlink == links, "%s: %lu links, not %lu", what, (unsigned long)st.st_nlink,
		  (unsigned long)links);
	zt_expect((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR, "%s: flags %#o", what,
		  fcntl(fd, F_GETFL));
	zt_expect(lseek(fd, 0, SEEK_CUR) == pos, "%s: position %ld, was %ld", what,
		  (long)lseek(fd, 0, SEEK_CUR), (long)pos);
	zt_expect(pread(fd, buf, sizeof(buf) - 1, 0) == (ssize_t)len && !strcmp(buf, content),
		  "%s: content '%s'", what, buf);
	zt_expect(write(fd, "+more", 5) == 5, "%s: write: %m", what);
	zt_expect(pread(fd, buf, 5, pos) == 5 && !memcmp(buf, "+more", 5),
		  "%s: what was written is not read back", what);
}

int main(int argc, char **argv)
{
	char self[64];
	struct stat st, at;
	int un, named;

	zt_init(argc, argv);
	un = open(".", O_TMPFILE | O_RDWR, 0600);
	named = open(".", O_TMPFILE | O_RDWR, 0640);
	if (un < 0 || named < 0)
		zt_fail("open O_TMPFILE: %m");
	if (write(un, "never named", 11) != 11 || lseek(un, 6, SEEK_SET) != 6 ||
	    write(named, "named later", 11) != 11 || lseek(named, 4, SEEK_SET) != 4)
		zt_fail("write: %m");
	snprintf(self, sizeof(self), "/proc/self/fd/%d", named);
	if (linkat(AT_FDCWD, self, AT_FDCWD, "named", AT_SYMLINK_FOLLOW) < 0)
		zt_fail("linkat: %m");

	zt_ready();
	zt_wait_for_check();

	check(un, "the unnamed file", "never named", 6, 0);
	check(named, "the named file", "named later", 4, 1);
	zt_expect(fstat(named, &st) == 0 && stat("named", &at) == 0 && st.st_ino == at.st_ino &&
		      st.st_dev == at.st_dev,
		  "the named file is not the file at its name");
	zt_pass();
}
