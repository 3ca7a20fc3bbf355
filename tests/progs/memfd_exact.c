/* memfds as they were, in every detail a program can see:
 *
 *   A  "zt sparse (deleted)" (a name that ends like the kernel's own suffix), MFD_CLOEXEC, 1 GiB
 *      large with four data pages in it (the first, one at 512 MiB, one at 700 MiB holding only
 *      100 bytes, the last), chmod 0640, chown 1234:5678. Held as fd A1 (the memfd_create
 *      description, F_SETFL O_APPEND|O_NONBLOCK, at 12345), A2 (opened again read-only
 *      through /proc/self/fd, at 12295) and A3 (a dup of A1).
 *   B  made without MFD_ALLOW_SEALING: F_SEAL_SEAL, no seal can be added.
 *   C  MFD_NOEXEC_SEAL: F_SEAL_EXEC, mode 0666, no x bit can be set.
 *   D  "zt-orphan", 2 pages, mapped MAP_SHARED and MAP_PRIVATE and its fd closed: the mappings
 *      (and /proc/self/map_files) are its only handles.
 *
 * Checked after the dump: the /proc/self/fd links, size, the data ranges (SEEK_DATA/SEEK_HOLE:
 * holes are still holes), allocated blocks, content, mode, owner, atime, mtime, F_GET_SEALS,
 * fstatfs f_type (TMPFS_MAGIC) and the device (that of a fresh memfd: a real memfd, not a file
 * elsewhere), each fd's status flags, close-on-exec and position, A1 and A3 still one description,
 * A2 another; B and C refuse what their flags forbid (EPERM), A still takes a seal; D's mappings
 * show "/memfd:zt-orphan (deleted)", hold their data, and are one object: a store through
 * the shared mapping shows in the private one's untouched page.
 * The image stays small: the memfd-image case checks that memfd-*.img hold the data pages
 * only, not the gigabyte. Also run in the gen2 mode. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

#define PG 4096L
#define GIB (1L << 30)
#define MAX_RANGES 16

struct snap {
	char link[256];
	int flags, fdflags;
	off_t pos;
};

struct obj {
	struct stat st;
	int seals;
	off_t ranges[2 * MAX_RANGES];
	int nr;
};

static int a1, a2, a3, b, c;
static char *d_shared, *d_priv;
static struct snap snaps[5];
static struct obj objs[3];
static int *fds[5] = {&a1, &a2, &a3, &b, &c};
static const off_t data_at[] = {0, 512L << 20, 700L << 20, GIB - PG};

static void take_snap(struct snap *s, int fd)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, s->link, sizeof(s->link) - 1);
	s->link[n > 0 ? n : 0] = 0;
	s->flags = fcntl(fd, F_GETFL);
	s->fdflags = fcntl(fd, F_GETFD);
	s->pos = lseek(fd, 0, SEEK_CUR);
}

/* through a description of its own: SEEK_DATA moves the position */
static void take_obj(struct obj *o, int of)
{
	off_t off = 0, data, hole;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", of);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	fstat(fd, &o->st);
	o->seals = fcntl(fd, F_GET_SEALS);
	o->nr = 0;
	while (o->nr < MAX_RANGES && (data = lseek(fd, off, SEEK_DATA)) >= 0) {
		hole = lseek(fd, data, SEEK_HOLE);
		o->ranges[2 * o->nr] = data;
		o->ranges[2 * o->nr + 1] = hole;
		o->nr++;
		off = hole;
	}
	close(fd);
}

static void expect_same_obj(const char *what, const struct obj *was, int fd)
{
	struct obj now;

	take_obj(&now, fd);
	zt_expect(now.st.st_size == was->st.st_size, "%s: size %ld, was %ld", what,
		  (long)now.st.st_size, (long)was->st.st_size);
	zt_expect(now.st.st_mode == was->st.st_mode, "%s: mode %o, was %o", what, now.st.st_mode,
		  was->st.st_mode);
	zt_expect(now.st.st_uid == was->st.st_uid && now.st.st_gid == was->st.st_gid,
		  "%s: owner %u:%u, was %u:%u", what, now.st.st_uid, now.st.st_gid, was->st.st_uid,
		  was->st.st_gid);
	zt_expect(now.st.st_blocks == was->st.st_blocks, "%s: %ld blocks, were %ld", what,
		  (long)now.st.st_blocks, (long)was->st.st_blocks);
	zt_expect(now.st.st_mtim.tv_sec == was->st.st_mtim.tv_sec &&
		      now.st.st_mtim.tv_nsec == was->st.st_mtim.tv_nsec,
		  "%s: mtime %ld.%09ld, was %ld.%09ld", what, (long)now.st.st_mtim.tv_sec,
		  now.st.st_mtim.tv_nsec, (long)was->st.st_mtim.tv_sec, was->st.st_mtim.tv_nsec);
	zt_expect(now.st.st_atim.tv_sec == was->st.st_atim.tv_sec &&
		      now.st.st_atim.tv_nsec == was->st.st_atim.tv_nsec,
		  "%s: atime %ld.%09ld, was %ld.%09ld", what, (long)now.st.st_atim.tv_sec,
		  now.st.st_atim.tv_nsec, (long)was->st.st_atim.tv_sec, was->st.st_atim.tv_nsec);
	zt_expect(now.seals == was->seals, "%s: seals %#x, were %#x", what, now.seals, was->seals);
	zt_expect(now.nr == was->nr, "%s: %d data ranges, were %d", what, now.nr, was->nr);
	for (int i = 0; i < now.nr && i < was->nr; i++)
		zt_expect(now.ranges[2 * i] == was->ranges[2 * i] &&
			      now.ranges[2 * i + 1] == was->ranges[2 * i + 1],
			  "%s: data range %d is %ld-%ld, was %ld-%ld", what, i,
			  (long)now.ranges[2 * i], (long)now.ranges[2 * i + 1],
			  (long)was->ranges[2 * i], (long)was->ranges[2 * i + 1]);
}

static void expect_real_memfd(const char *what, int fd)
{
	struct statfs sfs;
	struct stat st, fresh;
	int f = memfd_create("zt-fresh", MFD_CLOEXEC);

	zt_expect(fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC, "%s: f_type %#lx", what,
		  (long)sfs.f_type);
	zt_expect(f >= 0 && fstat(f, &fresh) == 0 && fstat(fd, &st) == 0 &&
		      st.st_dev == fresh.st_dev && st.st_nlink == 0,
		  "%s: device %#lx (nlink %lu), a memfd's is %#lx", what, (long)st.st_dev,
		  (long)st.st_nlink, (long)fresh.st_dev);
	if (f >= 0)
		close(f);
}

int main(int argc, char **argv)
{
	static char buf[PG], page[PG];
	char link[256], path[64];
	int d;

	zt_init(argc, argv);
	a1 = memfd_create("zt sparse (deleted)", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	b = memfd_create("zt-noseal", 0);
	c = memfd_create("zt-noexec", MFD_NOEXEC_SEAL);
	d = memfd_create("zt-orphan", MFD_CLOEXEC);
	if (a1 < 0 || b < 0 || c < 0 || d < 0 || ftruncate(a1, GIB) || ftruncate(d, 2 * PG))
		zt_fail("memfd_create: %m");
	for (int i = 0; i < 4; i++) {
		zt_fill_pattern(page, PG, 10 + i);
		if (pwrite(a1, page, i == 2 ? 100 : PG, data_at[i]) != (i == 2 ? 100 : PG))
			zt_fail("pwrite: %m");
	}
	if (fchmod(a1, 0640) || fchown(a1, 1234, 5678) || pwrite(b, "bee", 3, 0) != 3 ||
	    pwrite(c, "sea", 3, 5000) != 3)
		zt_fail("setup of A, B, C: %m");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", a1);
	a2 = open(path, O_RDONLY);
	a3 = dup(a1);
	if (a2 < 0 || a3 < 0 || fcntl(a1, F_SETFL, O_APPEND | O_NONBLOCK) ||
	    lseek(a1, 12345, SEEK_SET) != 12345 || lseek(a2, 3 * PG + 7, SEEK_SET) != 3 * PG + 7)
		zt_fail("fds of A: %m");
	d_shared = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, d, 0);
	d_priv = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, d, 0);
	if (d_shared == MAP_FAILED || d_priv == MAP_FAILED)
		zt_fail("mmap: %m");
	zt_fill_pattern(d_shared, 2 * PG, 30);
	memcpy(d_priv, "own copy", 8); /* page 0 of the private mapping is its own now */
	close(d);

	for (int i = 0; i < 5; i++)
		take_snap(&snaps[i], *fds[i]);
	take_obj(&objs[0], a1);
	take_obj(&objs[1], b);
	take_obj(&objs[2], c);
	if (objs[0].nr != 4 || objs[1].seals != F_SEAL_SEAL || objs[2].seals != F_SEAL_EXEC ||
	    (objs[2].st.st_mode & 0777) != 0666 ||
	    strcmp(snaps[0].link, "/memfd:zt sparse (deleted) (deleted)"))
		zt_fail("setup: %d ranges, seals %#x %#x, mode %o, link '%s'", objs[0].nr,
			objs[1].seals, objs[2].seals, objs[2].st.st_mode, snaps[0].link);

	zt_ready();
	zt_wait_for_check();

	for (int i = 0; i < 5; i++) {
		struct snap now;
		take_snap(&now, *fds[i]);
		zt_expect(!strcmp(now.link, snaps[i].link), "fd %d: link '%s', was '%s'", *fds[i],
			  now.link, snaps[i].link);
		zt_expect(now.flags == snaps[i].flags, "fd %d: flags %#o, were %#o", *fds[i],
			  now.flags, snaps[i].flags);
		zt_expect(now.fdflags == snaps[i].fdflags, "fd %d: fd flags %#x, were %#x", *fds[i],
			  now.fdflags, snaps[i].fdflags);
		zt_expect(now.pos == snaps[i].pos, "fd %d: position %ld, was %ld", *fds[i],
			  (long)now.pos, (long)snaps[i].pos);
	}
	expect_same_obj("A", &objs[0], a1);
	expect_same_obj("B", &objs[1], b);
	expect_same_obj("C", &objs[2], c);
	expect_real_memfd("A", a1);
	expect_real_memfd("A2", a2);
	expect_real_memfd("B", b);
	expect_real_memfd("C", c);
	for (int i = 0; i < 4; i++) {
		ssize_t len = i == 2 ? 100 : PG;
		zt_fill_pattern(page, PG, 10 + i);
		zt_expect(pread(a2, buf, PG, data_at[i]) == PG && !memcmp(buf, page, len),
			  "A: the data at %ld differs", (long)data_at[i]);
	}
	zt_expect(pread(b, buf, 3, 0) == 3 && !memcmp(buf, "bee", 3), "B: data differs");
	zt_expect(pread(c, buf, 3, 5000) == 3 && !memcmp(buf, "sea", 3), "C: data differs");

	/* one description, and another */
	zt_expect(lseek(a1, 777, SEEK_SET) == 777 && lseek(a3, 0, SEEK_CUR) == 777,
		  "A1 and A3 are no longer one description");
	zt_expect(lseek(a2, 0, SEEK_CUR) == 3 * PG + 7, "A2 moved with A1");
	zt_expect(write(a2, "x", 1) < 0 && errno == EBADF, "A2 is writable");
	/* what the flags of B and C forbid, and A allows */
	errno = 0;
	zt_expect(fcntl(b, F_ADD_SEALS, F_SEAL_GROW) < 0 && errno == EPERM,
		  "B takes a seal (%m): F_SEAL_SEAL lost");
	errno = 0;
	zt_expect(fchmod(c, 0755) < 0 && errno == EPERM, "C's x bits can be set (%m)");
	zt_expect(fcntl(a1, F_ADD_SEALS, F_SEAL_GROW) == 0, "A takes no seal: %m");
	errno = 0;
	zt_expect(ftruncate(a1, 2 * GIB) < 0 && errno == EPERM, "F_SEAL_GROW on A: no effect");

	/* D: its mappings only */
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)d_shared,
		 (unsigned long)d_shared + 2 * PG);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	zt_expect(!strcmp(link, "/memfd:zt-orphan (deleted)"), "D: mapping shows '%s'", link);
	zt_expect(zt_check_pattern(d_shared, 2 * PG, 30) < 0, "D: shared data differs");
	zt_expect(!memcmp(d_priv, "own copy", 8), "D: the private copy-on-write page is lost");
	zt_expect(zt_check_pattern_as(d_priv + PG, PG, 30, d_shared + PG) < 0,
		  "D: the private mapping's untouched page differs");
	memcpy(d_shared + PG, "one object", 10);
	zt_expect(!memcmp(d_priv + PG, "one object", 10),
		  "D: the private mapping no longer maps the shared one's memfd");
	zt_pass();
}
