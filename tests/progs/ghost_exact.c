/* Files deleted while open ("ghosts") must come back exactly. A 1 GiB sparse file with three
 * 4 KiB data blocks (one written after the unlink), owned by 1234:5678, mode 04751 (setuid,
 * which a chown clears, and bits a umask would take away), with atime and mtime set to
 * nanosecond values after the last write; and a small ghost whose last bytes are a hole
 * (size not a multiple of the data). After the dump each must have the same size, the same
 * data ranges (SEEK_DATA/SEEK_HOLE) and not more allocated blocks than before, the same
 * owner, mode, atime and mtime, and the same content (checked last: reading changes atime). */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GIB (1ull << 30)
#define BLK 4096

static const off_t offs[] = {0, 512ull << 20, GIB - BLK};

struct ghost {
	int fd;
	struct stat st;
	off_t ranges[32];
	int nr;
};
static struct ghost big, small;

static void layout(int fd, off_t size, off_t *r, int *nr)
{
	*nr = 0;
	for (off_t off = 0; off < size && *nr < 30;) {
		off_t d = lseek(fd, off, SEEK_DATA);
		if (d < 0)
			break;
		off_t h = lseek(fd, d, SEEK_HOLE);
		r[(*nr)++] = d;
		r[(*nr)++] = h;
		off = h;
	}
}

static void fill(char *b, size_t n, int seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (char)(i * 31 + seed * 7 + 1);
}

static void setup(struct ghost *g, const char *name, off_t size, const off_t *at, int n_at,
		  int late)
{
	char buf[BLK];
	struct timespec ts[2] = {{1000000000, 123456789}, {1200000000, 987654321}};

	g->fd = open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (g->fd < 0 || ftruncate(g->fd, size) < 0)
		zt_fail("create %s: %m", name);
	for (int i = 0; i < n_at; i++) {
		if (i == late && unlink(name) < 0)
			zt_fail("unlink %s: %m", name);
		fill(buf, sizeof(buf), i);
		if (pwrite(g->fd, buf, sizeof(buf), at[i]) != sizeof(buf))
			zt_fail("write %s: %m", name);
	}
	if (late >= n_at && unlink(name) < 0)
		zt_fail("unlink %s: %m", name);
	if (fchown(g->fd, 1234, 5678) < 0 || fchmod(g->fd, 04751) < 0 || futimens(g->fd, ts) < 0)
		zt_fail("attributes of %s: %m", name);
	if (fstat(g->fd, &g->st) < 0)
		zt_fail("fstat: %m");
	layout(g->fd, size, g->ranges, &g->nr);
	lseek(g->fd, 77, SEEK_SET);
}

static void check(struct ghost *g, const char *what, const off_t *at, int n_at)
{
	struct stat st;
	off_t r[32];
	int nr;
	char buf[BLK], want[BLK];

	if (fstat(g->fd, &st) < 0) {
		zt_expect(0, "%s: fstat: %m", what);
		return;
	}
	zt_expect(st.st_size == g->st.st_size, "%s: size %ld, was %ld", what, (long)st.st_size,
		  (long)g->st.st_size);
	zt_expect(st.st_mode == g->st.st_mode, "%s: mode %o, was %o", what, st.st_mode,
		  g->st.st_mode);
	zt_expect(st.st_uid == 1234 && st.st_gid == 5678, "%s: owner %u:%u, was 1234:5678", what,
		  st.st_uid, st.st_gid);
	zt_expect(st.st_nlink == 0, "%s: %lu links", what, (unsigned long)st.st_nlink);
	zt_expect(st.st_mtim.tv_sec == g->st.st_mtim.tv_sec &&
		      st.st_mtim.tv_nsec == g->st.st_mtim.tv_nsec,
		  "%s: mtime %ld.%09ld, was %ld.%09ld", what, st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		  g->st.st_mtim.tv_sec, g->st.st_mtim.tv_nsec);
	zt_expect(st.st_atim.tv_sec == g->st.st_atim.tv_sec &&
		      st.st_atim.tv_nsec == g->st.st_atim.tv_nsec,
		  "%s: atime %ld.%09ld, was %ld.%09ld", what, st.st_atim.tv_sec, st.st_atim.tv_nsec,
		  g->st.st_atim.tv_sec, g->st.st_atim.tv_nsec);
	zt_expect(st.st_blocks <= g->st.st_blocks + 16, "%s: %ld blocks allocated, was %ld", what,
		  (long)st.st_blocks, (long)g->st.st_blocks);
	zt_expect(lseek(g->fd, 0, SEEK_CUR) == 77, "%s: position %ld", what,
		  (long)lseek(g->fd, 0, SEEK_CUR));
	layout(g->fd, st.st_size, r, &nr);
	zt_expect(nr == g->nr && !memcmp(r, g->ranges, nr * sizeof(off_t)),
		  "%s: %d data range bounds, were %d (first %ld-%ld)", what, nr, g->nr,
		  nr ? (long)r[0] : -1L, nr ? (long)r[1] : -1L);
	for (int i = 0; i < n_at; i++) {
		fill(want, sizeof(want), i);
		zt_expect(pread(g->fd, buf, sizeof(buf), at[i]) == sizeof(buf) &&
			      !memcmp(buf, want, sizeof(buf)),
			  "%s: data at %ld differs", what, (long)at[i]);
	}
	zt_expect(pread(g->fd, buf, 16, 8192) == 16 && !memcmp(buf, (char[16]){0}, 16),
		  "%s: a hole reads non-zero", what);
}

int main(int argc, char **argv)
{
	static const off_t small_at[] = {0};
	zt_init(argc, argv);
	/* the third block of the big one is written after the unlink */
	setup(&big, "big", GIB, offs, 3, 2);
	setup(&small, "small", 3 * BLK + 100, small_at, 1, 1);
	zt_ready();
	zt_wait_for_check();
	check(&big, "1 GiB sparse ghost", offs, 3);
	check(&small, "small ghost", small_at, 1);
	zt_pass();
}
