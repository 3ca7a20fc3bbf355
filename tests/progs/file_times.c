/* Nothing cryo does may touch a file's times. Regular files held open for reading, writing,
 * appending, read-write (opened with O_TRUNC once) and O_PATH, a directory held open, and a
 * directory in which a file was deleted while open (the restore recreates the ghost there):
 * each has atime and mtime set to nanosecond values before the dump; after it, the times are
 * the same, and the ctime of the files that were never deleted too. */
// zt-run: gen2
#include "zt.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N 7
static const char *names[N] = {"ro", "wo", "app", "rw", "opath", "dir", "gdir"};
static int fds[N];
static struct stat before[N];

static bool same(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

int main(int argc, char **argv)
{
	static const int flags[N] = {O_RDONLY,
				     O_WRONLY,
				     O_WRONLY | O_APPEND,
				     O_RDWR | O_TRUNC,
				     O_PATH,
				     O_RDONLY | O_DIRECTORY,
				     O_RDONLY | O_DIRECTORY};
	struct timespec ts[2] = {{1000000000, 5}, {1100000000, 999999999}};
	zt_init(argc, argv);

	for (int i = 0; i < N; i++) {
		if (i >= 5) {
			if (mkdir(names[i], 0755) < 0)
				zt_fail("mkdir %s: %m", names[i]);
		} else {
			int w = open(names[i], O_WRONLY | O_CREAT, 0644);
			if (w < 0 || write(w, "0123456789", 10) != 10)
				zt_fail("create %s: %m", names[i]);
			close(w);
		}
		fds[i] = open(names[i], flags[i]);
		if (fds[i] < 0)
			zt_fail("open %s: %m", names[i]);
	}
	/* a ghost in gdir: its restore creates and removes a name there */
	int g = open("gdir/ghost", O_RDWR | O_CREAT, 0600);
	if (g < 0 || write(g, "ghost", 5) != 5 || unlink("gdir/ghost") < 0)
		zt_fail("ghost: %m");
	for (int i = 0; i < N; i++) {
		if (utimensat(AT_FDCWD, names[i], ts, 0) < 0)
			zt_fail("utimensat %s: %m", names[i]);
		stat(names[i], &before[i]);
	}
	zt_ready();
	zt_wait_for_check();

	for (int i = 0; i < N; i++) {
		struct stat st;
		if (stat(names[i], &st) < 0) {
			zt_expect(0, "%s: stat: %m", names[i]);
			continue;
		}
		zt_expect(same(st.st_mtim, before[i].st_mtim), "%s: mtime %ld.%09ld, was %ld.%09ld",
			  names[i], st.st_mtim.tv_sec, st.st_mtim.tv_nsec, before[i].st_mtim.tv_sec,
			  before[i].st_mtim.tv_nsec);
		zt_expect(same(st.st_atim, before[i].st_atim), "%s: atime %ld.%09ld, was %ld.%09ld",
			  names[i], st.st_atim.tv_sec, st.st_atim.tv_nsec, before[i].st_atim.tv_sec,
			  before[i].st_atim.tv_nsec);
		if (i < 6)
			zt_expect(same(st.st_ctim, before[i].st_ctim), "%s: ctime changed",
				  names[i]);
	}
	char buf[8];
	zt_expect(pread(g, buf, 5, 0) == 5 && !memcmp(buf, "ghost", 5), "ghost: content");
	zt_pass();
}
