/* Open files: regular files in several modes and positions, O_APPEND, O_CLOEXEC, O_NONBLOCK,
 * O_NOATIME, O_DSYNC, a directory, an O_PATH descriptor, /dev/null, /dev/zero, /dev/urandom,
 * descriptors at high numbers (100, 1000), a file with tabs and spaces in its name, a file
 * deleted while open, and one deleted and replaced by another file of the same name.
 *
 * After the dump the set of descriptor numbers is the same, and for each: the status flags
 * (F_GETFL), the close-on-exec flag (F_GETFD), the position, /proc/self/fdinfo's pos, flags
 * and ino lines, the /proc/self/fd link, and fstat() (device, inode, mode, size, links; for
 * deleted files all but device and inode, which a restorer may have to change). Then each is
 * used: data read at its position, writes land where they must (O_APPEND at the end), the
 * directory still resolves names, the devices behave, and a deleted file still holds its
 * own data, not that of the file that took its name. */
// zt-run: gen2
#include "zt.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIZE 10000
#define GONE_SIZE 5000

struct f {
	const char *name;
	int fd;
	bool deleted;
	/* recorded before the dump */
	int fl, fd_flags;
	off_t pos;
	struct stat st;
	char link[512];
	char info[512];
};

enum {
	RW, RO, APPEND, CLOEXEC, NONBLOCK, DIR_, PATH, DEVNULL, DEVZERO, URANDOM, HUNDRED,
	THOUSAND, ODD, GONE, REPLACED, NR
};
static struct f files[NR];
static char fd_list_before[4096];
static char data[SIZE];

static void fill(char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i * 7 + seed + (i >> 8) * 13);
}

static int must(int fd, const char *what)
{
	if (fd < 0)
		zt_fail("%s: %m", what);
	return fd;
}

static void put(int idx, const char *name, int fd)
{
	files[idx].name = name;
	files[idx].fd = must(fd, name);
}

static int moved_to(int fd, int where)
{
	if (dup2(fd, where) != where)
		zt_fail("dup2 %d: %m", where);
	close(fd);
	return where;
}

static int created(const char *path, int flags, const void *buf, size_t len, off_t pos)
{
	int fd = must(open(path, flags | O_CREAT, 0640), path);

	if (len && write(fd, buf, len) != (ssize_t)len)
		zt_fail("write %s: %m", path);
	if (lseek(fd, pos, SEEK_SET) != pos)
		zt_fail("lseek %s: %m", path);
	return fd;
}

/* The pos, flags, mnt_id and ino lines of /proc/self/fdinfo/N. */
static void fdinfo(int fd, char *out, size_t size)
{
	static const char *const keys[] = { "pos", "flags", "mnt_id", "ino" };
	char path[64], buf[4096], v[128];
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	out[0] = '\0';
	if (zt_read_file(path, buf, sizeof(buf)) < 0)
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (zt_status_field(buf, keys[i], v, sizeof(v)))
			len += snprintf(out + len, size - len, "%s: %s\n", keys[i], v);
}

static void record(struct f *f)
{
	char path[64];
	ssize_t n;

	f->fl = fcntl(f->fd, F_GETFL);
	f->fd_flags = fcntl(f->fd, F_GETFD);
	f->pos = lseek(f->fd, 0, SEEK_CUR);
	fstat(f->fd, &f->st);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
	n = readlink(path, f->link, sizeof(f->link) - 1);
	f->link[n > 0 ? n : 0] = '\0';
	fdinfo(f->fd, f->info, sizeof(f->info));
}

static void list_fds(char *out, size_t size)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	bool seen[4096] = { false };
	size_t len = 0;
	int self;

	out[0] = '\0';
	if (!d)
		return;
	self = dirfd(d);
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd != self && fd < 4096 && !zt_own_fd(fd))
			seen[fd] = true;
	}
	closedir(d);
	for (int fd = 0; fd < 4096; fd++)
		if (seen[fd])
			len += snprintf(out + len, size - len, "%d ", fd);
}

static void compare(struct f *f)
{
	struct f now = *f;

	record(&now);
	zt_expect(now.fl == f->fl, "%s: F_GETFL %#o, was %#o", f->name, now.fl, f->fl);
	zt_expect(now.fd_flags == f->fd_flags, "%s: F_GETFD %d, was %d", f->name, now.fd_flags,
		  f->fd_flags);
	zt_expect(now.pos == f->pos, "%s: position %ld, was %ld", f->name, (long)now.pos,
		  (long)f->pos);
	zt_expect(!strcmp(now.link, f->link), "%s: fd link '%s', was '%s'", f->name, now.link,
		  f->link);
	zt_expect(now.st.st_mode == f->st.st_mode && now.st.st_size == f->st.st_size &&
			  now.st.st_nlink == f->st.st_nlink && now.st.st_rdev == f->st.st_rdev,
		  "%s: fstat mode %o size %ld nlink %lu, was %o %ld %lu", f->name, now.st.st_mode,
		  (long)now.st.st_size, now.st.st_nlink, f->st.st_mode, (long)f->st.st_size,
		  f->st.st_nlink);
	if (f->deleted)
		return;
	zt_expect(now.st.st_dev == f->st.st_dev && now.st.st_ino == f->st.st_ino,
		  "%s: another file (ino %lu, was %lu)", f->name, now.st.st_ino, f->st.st_ino);
	zt_expect_same_text(f->name, f->info, now.info);
}

static void check_use(void)
{
	char buf[SIZE], want[SIZE];
	ssize_t n;
	int fd;

	/* RW: all data there; a write goes to the position. */
	n = pread(files[RW].fd, buf, SIZE, 0);
	zt_expect(n == SIZE && !memcmp(buf, data, SIZE), "data.bin content differs");
	zt_expect(write(files[RW].fd, "XYZ", 3) == 3, "write data.bin: %m");
	zt_expect(pread(files[RW].fd, buf, 3, 1234) == 3 && !memcmp(buf, "XYZ", 3),
		  "write to data.bin did not land at 1234");
	/* RO: reads continue at 5678. */
	n = read(files[RO].fd, buf, 100);
	zt_expect(n == 100 && !memcmp(buf, data + 5678, 100), "read at 5678 differs");
	/* APPEND: at the end whatever the position. */
	zt_expect(write(files[APPEND].fd, "line2\n", 6) == 6, "write append.log: %m");
	n = zt_read_file("append.log", buf, sizeof(buf));
	zt_expect(n == 12 && !memcmp(buf, "line1\nline2\n", 12), "append.log holds '%.*s'",
		  (int)(n > 0 ? n : 0), buf);
	n = read(files[NONBLOCK].fd, buf, 10);
	zt_expect(n == 10 && !memcmp(buf, data + 42, 10), "read at 42 differs");
	/* The directory resolves names relative to itself. */
	fd = openat(files[DIR_].fd, "data.bin", O_RDONLY);
	zt_expect(fd >= 0, "openat(dirfd, data.bin): %m");
	if (fd >= 0)
		close(fd);
	/* O_PATH: still names data.bin. */
	struct stat st;
	zt_expect(fstatat(files[PATH].fd, "", &st, AT_EMPTY_PATH) == 0 &&
			  st.st_ino == files[RW].st.st_ino,
		  "O_PATH fd does not name data.bin");
	zt_expect(write(files[DEVNULL].fd, "x", 1) == 1, "write /dev/null: %m");
	memset(buf, 1, 64);
	memset(want, 0, 64);
	zt_expect(read(files[DEVZERO].fd, buf, 64) == 64 && !memcmp(buf, want, 64),
		  "/dev/zero does not read zeros");
	memset(buf, 0, 64);
	n = read(files[URANDOM].fd, buf, 64);
	zt_expect(n == 64 && memcmp(buf, want, 64), "/dev/urandom reads %zd zero bytes", n);
	n = read(files[HUNDRED].fd, buf, 5);
	zt_expect(n == 5 && !memcmp(buf, "ndred", 5), "fd 100 read '%.*s' at 6",
		  (int)(n > 0 ? n : 0), buf);
	n = read(files[THOUSAND].fd, buf, 4);
	zt_expect(n == 4 && !memcmp(buf, "sand", 4), "fd 1000 read '%.*s'", (int)(n > 0 ? n : 0),
		  buf);
	n = pread(files[ODD].fd, buf, 8, 0);
	zt_expect(n == 8 && !memcmp(buf, "odd name", 8), "odd-name file read '%.*s'",
		  (int)(n > 0 ? n : 0), buf);
	/* Deleted files: their own data, position and no links. */
	fill(want, GONE_SIZE, 5);
	n = pread(files[GONE].fd, buf, GONE_SIZE, 0);
	zt_expect(n == GONE_SIZE && !memcmp(buf, want, GONE_SIZE), "deleted file data differs");
	zt_expect(write(files[GONE].fd, "W", 1) == 1 && pread(files[GONE].fd, buf, 1, 777) == 1 &&
			  buf[0] == 'W',
		  "write to the deleted file did not land at 777");
	n = pread(files[REPLACED].fd, buf, 16, 0);
	zt_expect(n == 16 && !memcmp(buf, "the old content\n", 16),
		  "replaced file reads '%.*s', not its own old data", (int)(n > 0 ? n : 0), buf);
}

int main(int argc, char **argv)
{
	static char fd_list_after[4096];

	zt_init(argc, argv);
	fill(data, SIZE, 1);
	put(RW, "data.bin rw", created("data.bin", O_RDWR | O_TRUNC, data, SIZE, 1234));
	put(RO, "data.bin ro", open("data.bin", O_RDONLY | O_NOATIME));
	lseek(files[RO].fd, 5678, SEEK_SET);
	put(APPEND, "append.log",
	    created("append.log", O_WRONLY | O_APPEND | O_DSYNC | O_TRUNC, "line1\n", 6, 0));
	put(CLOEXEC, "data.bin cloexec", open("data.bin", O_RDONLY | O_CLOEXEC));
	put(NONBLOCK, "data.bin nonblock", open("data.bin", O_RDONLY | O_NONBLOCK));
	lseek(files[NONBLOCK].fd, 42, SEEK_SET);
	put(DIR_, "work dir", open(".", O_RDONLY | O_DIRECTORY));
	put(PATH, "data.bin O_PATH", open("data.bin", O_PATH));
	put(DEVNULL, "/dev/null", open("/dev/null", O_WRONLY));
	put(DEVZERO, "/dev/zero", open("/dev/zero", O_RDONLY));
	put(URANDOM, "/dev/urandom", open("/dev/urandom", O_RDONLY));
	put(HUNDRED, "fd 100", moved_to(created("hundred.txt", O_RDWR, "one hundred", 11, 6), 100));
	close(created("thousand.txt", O_RDWR, "one thousand", 12, 0));
	put(THOUSAND, "fd 1000", moved_to(open("thousand.txt", O_RDONLY), 1000));
	lseek(1000, 8, SEEK_SET);
	put(ODD, "odd name", created("odd name\twith tab.txt", O_RDWR, "odd name", 8, 3));

	char gone[GONE_SIZE];
	fill(gone, GONE_SIZE, 5);
	put(GONE, "deleted", created("gone.bin", O_RDWR, gone, GONE_SIZE, 777));
	files[GONE].deleted = true;
	if (unlink("gone.bin"))
		zt_fail("unlink: %m");
	put(REPLACED, "replaced", created("replaced.txt", O_RDWR, "the old content\n", 16, 4));
	files[REPLACED].deleted = true;
	if (unlink("replaced.txt"))
		zt_fail("unlink: %m");
	close(created("replaced.txt", O_RDWR, "NEW CONTENT!!!!\n", 16, 0));

	for (int i = 0; i < NR; i++)
		record(&files[i]);
	list_fds(fd_list_before, sizeof(fd_list_before));

	zt_ready();
	zt_wait_for_check();

	list_fds(fd_list_after, sizeof(fd_list_after));
	zt_expect(!strcmp(fd_list_before, fd_list_after), "descriptors '%s', were '%s'",
		  fd_list_after, fd_list_before);
	for (int i = 0; i < NR; i++)
		compare(&files[i]);
	check_use();
	zt_pass();
}
