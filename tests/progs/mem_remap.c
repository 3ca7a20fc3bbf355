/* Mappings reshaped the way real programs reshape them, then every byte checked.
 *
 * - a growable buffer realloc'd with mremap(MREMAP_MAYMOVE), doubled ten times from 4 pages
 *   to 16 MiB, moved by a blocker mapping right after it at most steps (once in place), each
 *   new half written; then shrunk by a quarter;
 * - a hole punched with munmap in the middle of written anonymous memory;
 * - MAP_FIXED overlays: a private file mapping (copy-on-write pages written) and a shared file
 *   mapping over parts of an anonymous region, an anonymous mapping over part of a private
 *   file mapping;
 * - a private file mapping grown and moved by mremap (its new pages read from the file), and
 *   a piece of another moved out of its middle with MREMAP_FIXED (offset 4 pages elsewhere);
 * - shared anonymous memory shrunk, grown back (moving), then a hole punched in it (two mappings of one
 *   object at different offsets), still shared with a forked child;
 * - MREMAP_DONTUNMAP: the pages move, the old range stays mapped and empty.
 * After the dump every byte of every piece is what the program wrote, what the file holds, or
 * zero where nothing was written; the holes are still holes; the layout is identical. */
// zt-run: gen2 lazy predump page-server
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define PG 4096UL
#define MB (1UL << 20)
#define FILE_PAGES 64
#ifndef GROW_STEPS
#define GROW_STEPS 10
#endif

enum { ZERO, DATA, FILEDATA };

/* What a piece of memory must hold: byte i is val(id, off + i) (or zero) */
struct piece {
	const char *what;
	char *addr;
	size_t len;
	int kind;
	unsigned id;
	size_t off;
};

static struct piece pieces[16384];
static int nr_pieces;
static struct {
	char *addr;
	size_t len;
} holes[16];
static int nr_holes;
static char layout_before[256 << 10], layout_after[256 << 10];

static uint8_t val(unsigned id, size_t off)
{
	return (uint8_t)((off >> 12) * 131 + off * 7 + (off >> 8) + id * 29 + 1);
}

static void fill(char *p, size_t len, unsigned id, size_t off)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)val(id, off + i);
}

static void expect_piece(const char *what, char *addr, size_t len, int kind, unsigned id,
			 size_t off)
{
	if (nr_pieces == (int)(sizeof(pieces) / sizeof(pieces[0])))
		zt_fail("too many pieces");
	pieces[nr_pieces++] = (struct piece){what, addr, len, kind, id, off};
}

static void expect_hole(char *addr, size_t len)
{
	holes[nr_holes].addr = addr;
	holes[nr_holes++].len = len;
}

/* Every byte of every piece; a mismatch is reported per piece with its bad pages. */
static void check_pieces(const char *who)
{
	for (int k = 0; k < nr_pieces; k++) {
		struct piece *p = &pieces[k];
		size_t bad_pages = 0, first_bad = (size_t)-1;
		char list[256] = "";
		size_t ll = 0;

		for (size_t pg = 0; pg < p->len / PG; pg++) {
			bool bad = false;
			for (size_t i = pg * PG; i < (pg + 1) * PG && !bad; i++) {
				uint8_t want = p->kind == ZERO ? 0 : val(p->id, p->off + i);
				bad = (uint8_t)p->addr[i] != want;
			}
			if (!bad)
				continue;
			if (!bad_pages++)
				first_bad = pg;
			if (ll < sizeof(list) - 16)
				ll += snprintf(list + ll, sizeof(list) - ll, " %zu", pg);
		}
		zt_expect(!bad_pages,
			  "%s: %s at %p (+%zu pages): data mismatch in %zu of %zu pages, first %zu "
			  "(pages%s)",
			  who, p->what, (void *)p->addr, p->len / PG, bad_pages, p->len / PG,
			  first_bad, list);
	}
	for (int k = 0; k < nr_holes; k++) {
		unsigned char v;
		for (size_t i = 0; i < holes[k].len; i += PG)
			zt_expect(mincore(holes[k].addr + i, PG, &v) < 0 && errno == ENOMEM,
				  "%s: hole page %p is mapped", who, (void *)(holes[k].addr + i));
	}
}

static int make_file(const char *name, unsigned id)
{
	static char buf[FILE_PAGES * PG];
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		zt_fail("create %s: %m", name);
	fill(buf, sizeof(buf), id, 0);
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		zt_fail("write %s: %m", name);
	return fd;
}

static char *map(char *at, size_t len, int prot, int flags, int fd, off_t off)
{
	char *p = mmap(at, len, prot, flags | (at ? MAP_FIXED : 0), fd, off);
	if (p == MAP_FAILED)
		zt_fail("mmap %p+%zu: %m", (void *)at, len);
	return p;
}

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* A buffer that grows by doubling, as realloc() of a large block does it */
static void growable(char *area)
{
	size_t len = 4 * PG;
	char *buf = map(area, len, RW, ANON, -1, 0);
	char *blockers[16];
	int nb = 0;

	fill(buf, len, 1, 0);
	for (int step = 0; step < GROW_STEPS; step++) {
		char *nbuf;
		/* something right after it, so that it must move (not at step 3) */
		if (step != 3) {
			char *b = mmap(buf + len, PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
			if (b != MAP_FAILED) {
				fill(b, PG, 50 + nb, 0);
				blockers[nb++] = b;
			}
		}
		nbuf = mremap(buf, len, 2 * len, MREMAP_MAYMOVE);
		if (nbuf == MAP_FAILED)
			zt_fail("mremap grow step %d: %m", step);
		buf = nbuf;
		/* write the new half, but leave its last page untouched */
		fill(buf + len, len - PG, 1, len);
		len *= 2;
	}
	/* shrink by a quarter */
	if (mremap(buf, len, len / 4 * 3, 0) != buf)
		zt_fail("mremap shrink: %m");
	len = len / 4 * 3;
	expect_piece("growable buffer", buf, 4 * PG, DATA, 1, 0);
	for (size_t l = 4 * PG; l < len; l *= 2) {
		/* each new half: written but for its last page */
		size_t part = l - PG < len - l ? l - PG : len - l;
		expect_piece("growable buffer", buf + l, part, DATA, 1, l);
		if (l + part < len)
			expect_piece("growable buffer's untouched page", buf + l + part, PG, ZERO,
				     0, 0);
	}
	for (int i = 0; i < nb; i++)
		expect_piece("blocker", blockers[i], PG, DATA, 50 + i, 0);
}

static void punched(char *area)
{
	char *p = map(area, 64 * PG, RW, ANON, -1, 0);
	fill(p, 64 * PG, 2, 0);
	if (munmap(p + 20 * PG, 8 * PG))
		zt_fail("munmap: %m");
	expect_piece("punched (before the hole)", p, 20 * PG, DATA, 2, 0);
	expect_piece("punched (after the hole)", p + 28 * PG, 36 * PG, DATA, 2, 28 * PG);
	expect_hole(p + 20 * PG, 8 * PG);
}

static void overlays(char *area, int fa, int fb)
{
	/* anonymous, a private and a shared file mapping over parts of it */
	char *p = map(area, 32 * PG, RW, ANON, -1, 0);
	fill(p, 32 * PG, 3, 0);
	map(p + 8 * PG, 8 * PG, RW, MAP_PRIVATE, fa, 4 * PG);
	fill(p + 9 * PG, PG, 4, 0);
	fill(p + 11 * PG, 2 * PG, 4, 2 * PG);
	map(p + 20 * PG, 4 * PG, RW, MAP_SHARED, fb, 8 * PG);
	fill(p + 21 * PG, PG, 5, 0);
	expect_piece("overlaid anon head", p, 8 * PG, DATA, 3, 0);
	expect_piece("private file over anon", p + 8 * PG, PG, FILEDATA, 10, 4 * PG);
	expect_piece("private file over anon, written", p + 9 * PG, PG, DATA, 4, 0);
	expect_piece("private file over anon", p + 10 * PG, PG, FILEDATA, 10, 6 * PG);
	expect_piece("private file over anon, written", p + 11 * PG, 2 * PG, DATA, 4, 2 * PG);
	expect_piece("private file over anon", p + 13 * PG, 3 * PG, FILEDATA, 10, 9 * PG);
	expect_piece("overlaid anon middle", p + 16 * PG, 4 * PG, DATA, 3, 16 * PG);
	expect_piece("shared file over anon", p + 20 * PG, PG, FILEDATA, 11, 8 * PG);
	expect_piece("shared file over anon, written", p + 21 * PG, PG, DATA, 5, 0);
	expect_piece("shared file over anon", p + 22 * PG, 2 * PG, FILEDATA, 11, 10 * PG);
	expect_piece("overlaid anon tail", p + 24 * PG, 8 * PG, DATA, 3, 24 * PG);

	/* a private file mapping with anonymous memory over its middle */
	char *q = map(area + 40 * PG, 32 * PG, RW, MAP_PRIVATE, fa, 16 * PG);
	fill(q + 2 * PG, PG, 6, 0);
	map(q + 10 * PG, 4 * PG, RW, ANON, -1, 0);
	fill(q + 11 * PG, 2 * PG, 7, 0);
	fill(q + 20 * PG, PG, 6, PG);
	expect_piece("private file", q, 2 * PG, FILEDATA, 10, 16 * PG);
	expect_piece("private file, written", q + 2 * PG, PG, DATA, 6, 0);
	expect_piece("private file", q + 3 * PG, 7 * PG, FILEDATA, 10, 19 * PG);
	expect_piece("anon over private file", q + 10 * PG, PG, ZERO, 0, 0);
	expect_piece("anon over private file, written", q + 11 * PG, 2 * PG, DATA, 7, 0);
	expect_piece("anon over private file", q + 13 * PG, PG, ZERO, 0, 0);
	expect_piece("private file after anon", q + 14 * PG, 6 * PG, FILEDATA, 10, 30 * PG);
	expect_piece("private file after anon, written", q + 20 * PG, PG, DATA, 6, PG);
	expect_piece("private file after anon", q + 21 * PG, 11 * PG, FILEDATA, 10, 37 * PG);
}

static void file_moves(char *area, int fa)
{
	/* grown and moved: pgoff stays, the new pages come from the file */
	char *p = map(area, 16 * PG, RW, MAP_PRIVATE, fa, 8 * PG);
	map(area + 16 * PG, PG, RW, ANON, -1, 0); /* in the way */
	fill(area + 16 * PG, PG, 8, 0);
	expect_piece("blocker after private file", area + 16 * PG, PG, DATA, 8, 0);
	fill(p + 3 * PG, PG, 9, 0);
	char *np = mremap(p, 16 * PG, 24 * PG, MREMAP_MAYMOVE);
	if (np == MAP_FAILED || np == p)
		zt_fail("mremap private file: %m (%p)", (void *)np);
	fill(np + 20 * PG, PG, 9, PG);
	expect_piece("moved private file", np, 3 * PG, FILEDATA, 10, 8 * PG);
	expect_piece("moved private file, written", np + 3 * PG, PG, DATA, 9, 0);
	expect_piece("moved private file", np + 4 * PG, 16 * PG, FILEDATA, 10, 12 * PG);
	expect_piece("moved private file, written", np + 20 * PG, PG, DATA, 9, PG);
	expect_piece("moved private file", np + 21 * PG, 3 * PG, FILEDATA, 10, 29 * PG);

	/* a piece out of the middle, to a fixed place */
	char *q = map(area + 32 * PG, 16 * PG, RW, MAP_PRIVATE, fa, 0);
	fill(q + 5 * PG, PG, 12, 0);
	fill(q + 12 * PG, PG, 12, PG);
	char *dst = area + 64 * PG;
	if (mremap(q + 4 * PG, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != dst)
		zt_fail("mremap fixed: %m");
	expect_piece("private file head", q, 4 * PG, FILEDATA, 10, 0);
	expect_hole(q + 4 * PG, 4 * PG);
	expect_piece("private file tail", q + 8 * PG, 4 * PG, FILEDATA, 10, 8 * PG);
	expect_piece("private file tail, written", q + 12 * PG, PG, DATA, 12, PG);
	expect_piece("private file tail", q + 13 * PG, 3 * PG, FILEDATA, 10, 13 * PG);
	expect_piece("moved-out piece", dst, PG, FILEDATA, 10, 4 * PG);
	expect_piece("moved-out piece, written", dst + PG, PG, DATA, 12, 0);
	expect_piece("moved-out piece", dst + 2 * PG, 2 * PG, FILEDATA, 10, 6 * PG);
}

static char *shm_a, *shm_b;

static void shared_moves(char *area)
{
	/* (an object of shared anonymous memory has the size it was made with: grown
	 * beyond it, the mapping would only raise SIGBUS) */
	char *p = map(area, 48 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fill(p, 46 * PG, 14, 0);
	if (mremap(p, 48 * PG, 16 * PG, 0) != p)
		zt_fail("mremap shrink shared: %m");
	map(area + 16 * PG, PG, RW, ANON, -1, 0);
	fill(area + 16 * PG, PG, 13, 0);
	expect_piece("blocker after shared", area + 16 * PG, PG, DATA, 13, 0);
	/* grown back within the object: it moves, the pages beyond come back from it */
	char *np = mremap(p, 16 * PG, 48 * PG, MREMAP_MAYMOVE);
	if (np == MAP_FAILED || np == p)
		zt_fail("mremap shared: %m");
	if (munmap(np + 20 * PG, 4 * PG))
		zt_fail("munmap shared: %m");
	expect_piece("moved shared (head)", np, 20 * PG, DATA, 14, 0);
	expect_hole(np + 20 * PG, 4 * PG);
	expect_piece("moved shared (tail)", np + 24 * PG, 22 * PG, DATA, 14, 24 * PG);
	expect_piece("moved shared (untouched)", np + 46 * PG, 2 * PG, ZERO, 0, 0);
	shm_a = np;
	shm_b = np + 24 * PG;
}

static void dontunmap(char *area)
{
	char *p = map(area, 8 * PG, RW, ANON, -1, 0);
	char *dst = area + 16 * PG;
	fill(p, 8 * PG, 15, 0);
	if (mremap(p, 8 * PG, 8 * PG, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, dst) !=
	    dst) {
		zt_log("MREMAP_DONTUNMAP: %m (not tested)");
		expect_piece("not moved", p, 8 * PG, DATA, 15, 0);
		return;
	}
	fill(p + 2 * PG, PG, 16, 0);
	expect_piece("left behind by DONTUNMAP", p, 2 * PG, ZERO, 0, 0);
	expect_piece("left behind by DONTUNMAP, rewritten", p + 2 * PG, PG, DATA, 16, 0);
	expect_piece("left behind by DONTUNMAP", p + 3 * PG, 5 * PG, ZERO, 0, 0);
	expect_piece("moved by DONTUNMAP", dst, 8 * PG, DATA, 15, 0);
}

/* more runs of pages in one mapping than one PAGEMAP_SCAN returns */
static void sparse(char *area)
{
	size_t n = 3 * 5000;
	char *p = map(area, n * PG, RW, ANON, -1, 0);
	for (size_t i = 0; i < n; i += 3)
		fill(p + i * PG, PG, 17, i * PG);
	for (size_t i = 0; i < n; i += 3) {
		expect_piece("sparse, written", p + i * PG, PG, DATA, 17, i * PG);
		expect_piece("sparse, untouched", p + (i + 1) * PG, 2 * PG, ZERO, 0, 0);
	}
}

int main(int argc, char **argv)
{
	char *area;
	int fa, fb;
	pid_t child;

	zt_init(argc, argv);
	fa = make_file("private.dat", 10);
	fb = make_file("shared.dat", 11);
	/* reserved, as programs reserve address space: what moves goes elsewhere */
	area = mmap(zt_free_area(192 * MB), 192 * MB, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (area == MAP_FAILED)
		zt_fail("reserve: %m");
	/* 16 MiB apart: each part has room of its own */
	growable(area);
	punched(area + 64 * MB);
	overlays(area + 80 * MB, fa, fb);
	file_moves(area + 96 * MB, fa);
	shared_moves(area + 112 * MB);
	dontunmap(area + 120 * MB);
	sparse(area + 128 * MB);
	close(fa);
	close(fb);

	/* a child that writes to the shared memory through its inherited mappings */
	child = fork();
	if (child < 0)
		zt_fail("fork: %m");
	if (!child) {
		/* writes a mark in each mapping on SIGUSR1, then waits to be killed */
		sigset_t set;
		int sig;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		for (int fd = 3; fd < 64; fd++)
			if (zt_own_fd(fd))
				close(fd);
		sigwait(&set, &sig);
		memcpy(shm_a + 5, "child-a", 7);
		memcpy(shm_b + 5, "child-b", 7);
		for (;;)
			pause();
	}
	if (zt_smaps_layout(layout_before, sizeof(layout_before)) < 0)
		zt_fail("cannot read smaps");

	zt_ready();
	zt_wait_for_check();

	if (zt_smaps_layout(layout_after, sizeof(layout_after)) < 0)
		zt_fail("cannot read smaps after");
	zt_expect_same_text("smaps", layout_before, layout_after);
	check_pieces("after");

	/* still one object with the child */
	kill(child, SIGUSR1);
	for (int i = 0; i < 200 && memcmp(shm_b + 5, "child-b", 7); i++)
		usleep(10000);
	zt_expect(!memcmp(shm_a + 5, "child-a", 7) && !memcmp(shm_b + 5, "child-b", 7),
		  "the child's writes to the shared memory are not seen");
	memcpy(shm_a + 5, (char[7]){0}, 7);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	zt_pass();
}
