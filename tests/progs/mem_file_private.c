/* File mappings, of files the test makes in its work dir.
 *
 * private.dat (16 pages, pattern) mapped MAP_PRIVATE read-write: pages 1, 3 and 5 are written
 * (copy on write), the others only read. After the dump the written pages hold what was
 * written, the others still what the file holds, and the file itself was never changed.
 * Also a read-only private mapping at an offset, and shared.dat mapped MAP_SHARED: its data
 * written before the dump is in the file, and a write after the restore still reaches the
 * file (msync, then pread). The whole layout (file, offset, device, inode) is identical. */
// zt-run: lazy predump page-server
#include "zt.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG 4096UL
#define MB (1UL << 20)
#define NPAGES 16

static char layout_before[256 << 10], layout_after[256 << 10];
static char filebuf[NPAGES * PG];
static char *priv, *priv_ro, *shared;
static int cow_page[] = { 1, 3, 5 };

static bool is_cow(size_t page)
{
	for (size_t i = 0; i < sizeof(cow_page) / sizeof(cow_page[0]); i++)
		if ((size_t)cow_page[i] == page)
			return true;
	return false;
}

/* The file's content, page i: a function of the page number and offset only, so that it
 * does not depend on where the file is mapped. */
static void file_page(size_t i, char *buf)
{
	for (size_t b = 0; b < PG; b++)
		buf[b] = (char)(i * 131 + b * 7 + (b >> 8));
}

static void make_file(const char *name)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		zt_fail("create %s: %m", name);
	for (size_t i = 0; i < NPAGES; i++)
		file_page(i, filebuf + i * PG);
	if (write(fd, filebuf, sizeof(filebuf)) != (ssize_t)sizeof(filebuf))
		zt_fail("write %s: %m", name);
	close(fd);
}

static char *map_file(const char *name, char *addr, size_t len, int prot, int flags, off_t off)
{
	int fd = open(name, prot & PROT_WRITE && flags & MAP_SHARED ? O_RDWR : O_RDONLY);
	char *p;

	if (fd < 0)
		zt_fail("open %s: %m", name);
	p = mmap(addr, len, prot, flags | MAP_FIXED_NOREPLACE, fd, off);
	if (p == MAP_FAILED)
		zt_fail("mmap %s: %m", name);
	/* The mapping holds the file; the descriptor is not needed (and not part of the test). */
	close(fd);
	return p;
}

int main(int argc, char **argv)
{
	char page[PG], *base;
	volatile char sink = 0;
	int fd;

	zt_init(argc, argv);
	make_file("private.dat");
	make_file("shared.dat");
	base = zt_free_area(32 * MB);
	priv = map_file("private.dat", base, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	priv_ro = map_file("private.dat", base + 4 * MB, 4 * PG, PROT_READ, MAP_PRIVATE, 8 * PG);
	shared = map_file("shared.dat", base + 8 * MB, NPAGES * PG, PROT_READ | PROT_WRITE,
			  MAP_SHARED, 0);

	for (size_t i = 0; i < NPAGES; i++) {
		if (is_cow(i))
			zt_fill_pattern(priv + i * PG, PG, 1);
		else
			sink += priv[i * PG + 17];	/* mapped from the page cache */
	}
	sink += priv_ro[PG];
	(void)sink;
	/* Shared: page 2 rewritten, reaching the file. */
	zt_fill_pattern(shared + 2 * PG, PG, 2);
	if (msync(shared, NPAGES * PG, MS_SYNC))
		zt_fail("msync: %m");
	if (zt_smaps_layout(layout_before, sizeof(layout_before)) < 0)
		zt_fail("cannot read smaps");

	zt_ready();
	zt_wait_for_check();

	if (zt_smaps_layout(layout_after, sizeof(layout_after)) < 0)
		zt_fail("cannot read smaps after");
	zt_expect_same_text("smaps", layout_before, layout_after);

	for (size_t i = 0; i < NPAGES; i++) {
		if (is_cow(i)) {
			zt_expect(zt_check_pattern(priv + i * PG, PG, 1) < 0,
				  "private page %zu: written data lost", i);
			continue;
		}
		file_page(i, page);
		zt_expect(!memcmp(priv + i * PG, page, PG),
			  "private page %zu: differs from the file", i);
	}
	for (size_t i = 0; i < 4; i++) {
		file_page(8 + i, page);
		zt_expect(!memcmp(priv_ro + i * PG, page, PG),
			  "read-only private page %zu: differs from file page %zu", i, 8 + i);
	}

	/* The private file never saw the copy-on-write pages. */
	fd = open("private.dat", O_RDONLY);
	if (zt_expect(fd >= 0, "open private.dat: %m")) {
		for (size_t i = 0; i < NPAGES; i++) {
			char want[PG];
			file_page(i, want);
			zt_expect(pread(fd, page, PG, i * PG) == PG && !memcmp(page, want, PG),
				  "private.dat page %zu changed on disk", i);
		}
		close(fd);
	}

	/* Shared: the mapping shows the file, and writes still go to it. */
	for (size_t i = 0; i < NPAGES; i++) {
		if (i == 2) {
			zt_expect(zt_check_pattern(shared + i * PG, PG, 2) < 0,
				  "shared page 2: written data lost");
			continue;
		}
		file_page(i, page);
		zt_expect(!memcmp(shared + i * PG, page, PG), "shared page %zu differs", i);
	}
	zt_fill_pattern(shared + 7 * PG, PG, 7);
	zt_expect(msync(shared, NPAGES * PG, MS_SYNC) == 0, "msync after: %m");
	fd = open("shared.dat", O_RDONLY);
	if (zt_expect(fd >= 0, "open shared.dat: %m")) {
		zt_expect(pread(fd, page, PG, 2 * PG) == PG && !memcmp(page, shared + 2 * PG, PG),
			  "shared.dat page 2 does not hold the data written before the dump");
		zt_expect(pread(fd, page, PG, 7 * PG) == PG && !memcmp(page, shared + 7 * PG, PG),
			  "shared.dat page 7: a write after the restore did not reach the file");
		close(fd);
	}
	zt_pass();
}
