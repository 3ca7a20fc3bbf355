/* Descriptors of files whose name is gone, of every kind cryo can rebuild exactly: a deleted
 * directory (empty, mode 0715, nanosecond times), a deleted character device node (1:3, as
 * /dev/null, owned 4321:8765), a deleted symbolic link held with O_PATH|O_NOFOLLOW, an O_PATH
 * descriptor of a deleted regular file, and a file whose opened name was removed while a hard
 * link remains. After the dump: the directory is a directory with no links, its mode and
 * times, nothing can be created in it; the device is that device and behaves as /dev/null;
 * the link reads its target; the O_PATH file has its size; the hard-linked file is the very
 * inode the remaining name leads to, and a write through the fd is seen through that name. */
// zt-run: gen2
#include "zt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int dfd, cfd, lfd, pfd, hfd;
static struct stat dst, cst, pst;

static int must(int fd, const char *what)
{
	if (fd < 0)
		zt_fail("%s: %m", what);
	return fd;
}

int main(int argc, char **argv)
{
	struct timespec ts[2] = {{1100000000, 111111111}, {1300000000, 222222222}};
	zt_init(argc, argv);
	umask(022);

	if (mkdir("gone_dir", 0700) < 0)
		zt_fail("mkdir: %m");
	dfd = must(open("gone_dir", O_RDONLY | O_DIRECTORY), "open gone_dir");
	if (fchmod(dfd, 0715) < 0 || futimens(dfd, ts) < 0 || rmdir("gone_dir") < 0)
		zt_fail("gone_dir: %m");
	fstat(dfd, &dst);

	if (mknod("nulldev", S_IFCHR | 0666, makedev(1, 3)) < 0)
		zt_fail("mknod: %m");
	cfd = must(open("nulldev", O_RDWR), "open nulldev");
	if (fchown(cfd, 4321, 8765) < 0 || unlink("nulldev") < 0)
		zt_fail("nulldev: %m");
	fstat(cfd, &cst);

	if (symlink("some/target text", "lnk") < 0)
		zt_fail("symlink: %m");
	lfd = must(open("lnk", O_PATH | O_NOFOLLOW), "open lnk");
	if (unlink("lnk") < 0)
		zt_fail("unlink lnk: %m");

	int w = must(open("pathfile", O_WRONLY | O_CREAT, 0644), "create pathfile");
	if (write(w, "12345", 5) != 5)
		zt_fail("write: %m");
	close(w);
	pfd = must(open("pathfile", O_PATH), "open pathfile");
	if (unlink("pathfile") < 0)
		zt_fail("unlink pathfile: %m");
	fstat(pfd, &pst);

	w = must(open("orig", O_WRONLY | O_CREAT, 0644), "create orig");
	if (write(w, "hello", 5) != 5)
		zt_fail("write: %m");
	close(w);
	if (link("orig", "other") < 0)
		zt_fail("link: %m");
	hfd = must(open("orig", O_RDWR), "open orig");
	if (unlink("orig") < 0)
		zt_fail("unlink orig: %m");
	lseek(hfd, 5, SEEK_SET);

	zt_ready();
	zt_wait_for_check();

	struct stat st;
	char buf[256];
	ssize_t n;

	zt_expect(fstat(dfd, &st) == 0 && S_ISDIR(st.st_mode), "deleted dir: not a directory");
	zt_expect((st.st_mode & 07777) == 0715, "deleted dir: mode %o", st.st_mode & 07777);
	zt_expect(st.st_nlink == 0, "deleted dir: %lu links", (unsigned long)st.st_nlink);
	zt_expect(st.st_mtim.tv_sec == dst.st_mtim.tv_sec &&
		      st.st_mtim.tv_nsec == dst.st_mtim.tv_nsec,
		  "deleted dir: mtime %ld.%09ld, was %ld.%09ld", st.st_mtim.tv_sec,
		  st.st_mtim.tv_nsec, dst.st_mtim.tv_sec, dst.st_mtim.tv_nsec);
	errno = 0;
	zt_expect(openat(dfd, "x", O_CREAT | O_WRONLY, 0600) < 0 && errno == ENOENT,
		  "deleted dir: a file could be created in it (%m)");

	zt_expect(fstat(cfd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3),
		  "deleted device: mode %o rdev %u:%u", st.st_mode, major(st.st_rdev),
		  minor(st.st_rdev));
	zt_expect(st.st_uid == 4321 && st.st_gid == 8765 && (st.st_mode & 07777) == 0644,
		  "deleted device: owner %u:%u mode %o, was 4321:8765 644", st.st_uid, st.st_gid,
		  st.st_mode & 07777);
	zt_expect(st.st_nlink == 0, "deleted device: %lu links", (unsigned long)st.st_nlink);
	zt_expect(write(cfd, "x", 1) == 1 && read(cfd, buf, 1) == 0,
		  "deleted device: does not behave as /dev/null");

	zt_expect(fstat(lfd, &st) == 0 && S_ISLNK(st.st_mode), "deleted symlink: mode %o",
		  st.st_mode);
	n = readlinkat(lfd, "", buf, sizeof(buf) - 1);
	zt_expect(n == 16 && !memcmp(buf, "some/target text", 16), "deleted symlink: target '%.*s'",
		  (int)(n > 0 ? n : 0), buf);
	zt_expect((fcntl(lfd, F_GETFL) & O_PATH) != 0, "deleted symlink: not O_PATH");

	zt_expect(fstat(pfd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 5 &&
		      st.st_nlink == 0,
		  "O_PATH deleted file: mode %o size %ld links %lu", st.st_mode, (long)st.st_size,
		  (unsigned long)st.st_nlink);
	zt_expect((fcntl(pfd, F_GETFL) & O_PATH) != 0, "O_PATH deleted file: not O_PATH");

	struct stat other;
	zt_expect(fstat(hfd, &st) == 0 && stat("other", &other) == 0 && st.st_ino == other.st_ino &&
		      st.st_dev == other.st_dev,
		  "hard-linked file: fd is inode %lu, the remaining name %lu",
		  (unsigned long)st.st_ino, (unsigned long)other.st_ino);
	zt_expect(lseek(hfd, 0, SEEK_CUR) == 5, "hard-linked file: position %ld",
		  (long)lseek(hfd, 0, SEEK_CUR));
	zt_expect(write(hfd, " world", 6) == 6, "hard-linked file: write: %m");
	int o = open("other", O_RDONLY);
	n = o >= 0 ? read(o, buf, sizeof(buf)) : -1;
	zt_expect(n == 11 && !memcmp(buf, "hello world", 11),
		  "hard-linked file: the remaining name reads '%.*s'", (int)(n > 0 ? n : 0), buf);
	zt_pass();
}
