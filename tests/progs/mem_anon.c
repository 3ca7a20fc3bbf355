/* Private anonymous memory: contents, addresses, protections and flags.
 *
 * The regions are laid out at chosen distances inside one free stretch, so that the layout
 * does not depend on how the kernel would merge neighbours. Checked after the dump:
 *  - the whole mapping layout, as /proc/self/smaps shows it less its counters, is identical;
 *  - every written byte (an address-derived pattern: data moved elsewhere is noticed too);
 *  - pages only read (mapped to the zero page) and pages never touched read as zero, and the
 *    never touched ones are still not present: a restore must not populate them;
 *  - pages dropped with MADV_DONTNEED read as zero, their neighbours keep their data;
 *  - PROT_NONE and read-only data, an mprotect-split region, MAP_NORESERVE, an mremap-moved
 *    region, executable code that still runs, and a MAP_GROWSDOWN region that still grows
 *    down when touched below its start. */
// zt-run: gen2 lazy predump page-server
#include "zt.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096UL
#define MB (1UL << 20)

enum kind {
	FILLED,		/* every page written */
	SPARSE,		/* page i: i%3 == 0 written, 1 read only, 2 never touched */
	EVERY_MB,	/* one page per MiB written, the rest never touched */
	WIPED,		/* written, then pages 4..7 dropped with MADV_DONTNEED */
	POPULATED,	/* MAP_POPULATE, never written */
	CODE,		/* a function, executable */
};

struct region {
	const char *name;
	size_t off;	/* from the base of the area */
	size_t len;
	int prot;	/* final protection */
	int flags;	/* extra mmap flags */
	enum kind kind;
	char *addr;
};

/* Offsets leave at least one unmapped page between regions; the growsdown one has 2 MiB of
 * free space below it (more than the kernel's stack guard gap) so that it can grow. */
static struct region regions[] = {
	{ "one", 0, PG, PROT_READ | PROT_WRITE, 0, FILLED, NULL },
	{ "small", 2 * PG, 16 * PG, PROT_READ | PROT_WRITE, 0, FILLED, NULL },
	{ "sparse", 1 * MB, 512 * PG, PROT_READ | PROT_WRITE, 0, SPARSE, NULL },
	{ "prot_none", 4 * MB, 8 * PG, PROT_NONE, 0, FILLED, NULL },
	{ "read_only", 5 * MB, 8 * PG, PROT_READ, 0, FILLED, NULL },
	{ "split", 6 * MB, 12 * PG, PROT_READ | PROT_WRITE, 0, FILLED, NULL },
	{ "noreserve", 7 * MB, 64 * PG, PROT_READ | PROT_WRITE, MAP_NORESERVE, SPARSE, NULL },
	{ "wiped", 8 * MB, 16 * PG, PROT_READ | PROT_WRITE, 0, WIPED, NULL },
	{ "populated", 9 * MB, 32 * PG, PROT_READ | PROT_WRITE, MAP_POPULATE, POPULATED, NULL },
	{ "code", 10 * MB, PG, PROT_READ | PROT_EXEC, 0, CODE, NULL },
	{ "growsdown", 14 * MB, 4 * PG, PROT_READ | PROT_WRITE, MAP_GROWSDOWN, FILLED, NULL },
	{ "big", 16 * MB, 64 * MB, PROT_READ | PROT_WRITE, 0, EVERY_MB, NULL },
};
#define NR_REGIONS (sizeof(regions) / sizeof(regions[0]))
#define AREA (96 * MB)
#define MOVED_OFF (90 * MB)	/* where the "moved" region ends up */

static char *moved;		/* mremap'ed: data written at moved_from, now at moved */
static char *moved_from;

/* mov $42, %eax; ret */
static const unsigned char code42[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 };

static char layout_before[256 << 10], layout_after[256 << 10];

static unsigned int seed_of(const struct region *r)
{
	return (unsigned int)(r - regions) + 1;
}

static void setup_region(char *base, struct region *r)
{
	int prot = PROT_READ | PROT_WRITE;
	volatile char sink = 0;
	size_t i;

	r->addr = mmap(base + r->off, r->len, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | r->flags, -1, 0);
	if (r->addr == MAP_FAILED)
		zt_fail("mmap %s: %m", r->name);
	if (r->addr != base + r->off)
		zt_fail("mmap %s: got %p, wanted %p", r->name, r->addr, base + r->off);

	switch (r->kind) {
	case FILLED:
	case WIPED:
		zt_fill_pattern(r->addr, r->len, seed_of(r));
		if (r->kind == WIPED && madvise(r->addr + 4 * PG, 4 * PG, MADV_DONTNEED))
			zt_fail("madvise DONTNEED: %m");
		break;
	case SPARSE:
		for (i = 0; i < r->len / PG; i++) {
			char *p = r->addr + i * PG;
			if (i % 3 == 0)
				zt_fill_pattern(p, PG, seed_of(r));
			else if (i % 3 == 1)
				sink += p[100];
		}
		break;
	case EVERY_MB:
		for (i = 0; i < r->len; i += MB)
			zt_fill_pattern(r->addr + i, PG, seed_of(r));
		break;
	case POPULATED:
		break;
	case CODE:
		memcpy(r->addr, code42, sizeof(code42));
		break;
	}
	(void)sink;
	if (r->prot != prot && mprotect(r->addr, r->len, r->prot))
		zt_fail("mprotect %s: %m", r->name);
	/* Split in three: the middle third read-only. */
	if (!strcmp(r->name, "split") && mprotect(r->addr + 4 * PG, 4 * PG, PROT_READ))
		zt_fail("mprotect split: %m");
}

static void expect_zero(const struct region *r, size_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (r->addr[off + i]) {
			zt_expect(false, "%s+%#zx: %#x where zero was expected", r->name, off + i,
				  (unsigned char)r->addr[off + i]);
			return;
		}
}

static void expect_pattern(const struct region *r, size_t off, size_t len)
{
	ssize_t bad = zt_check_pattern(r->addr + off, len, seed_of(r));
	zt_expect(bad < 0, "%s+%#zx: data differs", r->name, off + (size_t)bad);
}

/* A never touched page must not be present. */
static void expect_absent(const struct region *r, size_t off, const char *when)
{
	int present = zt_page_present(r->addr + off);
	zt_expect(present == 0, "%s+%#zx: never touched page is present %s (%d)", r->name, off,
		  when, present);
}

static void check_absent(const char *when)
{
	for (size_t n = 0; n < NR_REGIONS; n++) {
		const struct region *r = &regions[n];
		if (r->kind == SPARSE)
			for (size_t i = 2; i < r->len / PG; i += 3 * 7)
				expect_absent(r, i * PG, when);
		if (r->kind == EVERY_MB)
			for (size_t i = MB / 2; i < r->len; i += 8 * MB)
				expect_absent(r, i, when);
	}
}

static void check_contents(void)
{
	for (size_t n = 0; n < NR_REGIONS; n++) {
		struct region *r = &regions[n];
		size_t i;

		if (r->prot == PROT_NONE && mprotect(r->addr, r->len, PROT_READ)) {
			zt_expect(false, "mprotect %s readable: %m", r->name);
			continue;
		}
		switch (r->kind) {
		case FILLED:
			expect_pattern(r, 0, r->len);
			break;
		case WIPED:
			expect_pattern(r, 0, 4 * PG);
			expect_zero(r, 4 * PG, 4 * PG);
			expect_pattern(r, 8 * PG, r->len - 8 * PG);
			break;
		case SPARSE:
			for (i = 0; i < r->len / PG; i++) {
				if (i % 3 == 0)
					expect_pattern(r, i * PG, PG);
				else
					expect_zero(r, i * PG, PG);
			}
			break;
		case EVERY_MB:
			for (i = 0; i < r->len; i += MB) {
				expect_pattern(r, i, PG);
				expect_zero(r, i + PG, 16);
				expect_zero(r, i + MB / 2, PG);
			}
			break;
		case POPULATED:
			expect_zero(r, 0, r->len);
			break;
		case CODE: {
			int (*fn)(void) = (int (*)(void))r->addr;
			zt_expect(!memcmp(r->addr, code42, sizeof(code42)), "code bytes differ");
			zt_expect(fn() == 42, "code returned something else");
			break;
		}
		}
	}
	zt_expect(zt_check_pattern_as(moved, 8 * PG, 99, moved_from) < 0,
		  "moved region: data differs");
}

/* Touching the page below a MAP_GROWSDOWN region grows it by that page. */
static void check_growsdown(void)
{
	struct region *r = NULL;
	char flags[256];
	void *start;

	for (size_t n = 0; n < NR_REGIONS; n++)
		if (!strcmp(regions[n].name, "growsdown"))
			r = &regions[n];
	start = zt_vmflags(r->addr, flags, sizeof(flags));
	if (!zt_expect(start == r->addr && zt_has_vmflag(flags, "gd"),
		       "growsdown region at %p (wanted %p), flags '%s'", start, r->addr, flags))
		return;	/* touching below would just crash */
	r->addr[-1] = 1;
	start = zt_vmflags(r->addr - 1, flags, sizeof(flags));
	zt_expect(start == r->addr - PG, "growsdown region did not grow: starts at %p, not %p",
		  start, r->addr - PG);
	zt_expect(r->addr[-2] == 0 && r->addr[-PG] == 0, "grown page not zero");
}

int main(int argc, char **argv)
{
	char *base;

	zt_init(argc, argv);
	base = zt_free_area(AREA);
	for (size_t n = 0; n < NR_REGIONS; n++)
		setup_region(base, &regions[n]);

	/* Written at one place, moved to another: the pattern follows the old addresses. */
	moved_from = mmap(base + 12 * MB, 8 * PG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (moved_from == MAP_FAILED)
		zt_fail("mmap moved: %m");
	zt_fill_pattern(moved_from, 8 * PG, 99);
	moved = mremap(moved_from, 8 * PG, 8 * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
		       base + MOVED_OFF);
	if (moved == MAP_FAILED)
		zt_fail("mremap: %m");

	check_absent("before the dump");
	if (zt_failures())
		zt_fail("setup: the kernel populated untouched pages already");
	if (zt_smaps_layout(layout_before, sizeof(layout_before)) < 0)
		zt_fail("cannot read smaps");

	zt_ready();
	zt_wait_for_check();

	if (zt_smaps_layout(layout_after, sizeof(layout_after)) < 0)
		zt_fail("cannot read smaps after");
	zt_expect_same_text("smaps", layout_before, layout_after);
	check_absent("after the check request");
	check_contents();
	check_growsdown();
	zt_pass();
}
