/* Memory written all the time, as a program computing in place is: the shape a live
 * migration (cryo migrate: pre-dumps while it runs, then the final dump) must bring back
 * exactly, with no page torn or left at an older version.
 *
 * A 32 MiB anonymous area; the main loop rewrites one page after another with a pattern of
 * the page's index and its version, the version counted in a table of its own (gen[], in
 * another mapping), 1 MiB a millisecond or so. On the check each page must hold the pattern
 * of the version gen[] gives it: an old version of a page (taken from a pre-dump while the
 * table is newer, or the other way round) or a page mixing two versions fails, naming the
 * page. The page being written when the tree was frozen is the one the loop goes on with,
 * so the loop finishes it before it checks. */
// zt-run: gen2 lazy predump page-server
#include "zt.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PG 4096UL
#define PAGES 8192UL

static uint64_t *area;
static uint32_t *gen;

static void fill(size_t page)
{
	uint64_t *p = area + page * (PG / 8);
	uint64_t v = ((uint64_t)gen[page] << 32) | page;
	for (size_t j = 0; j < PG / 8; j++)
		p[j] = v ^ (j * 0x9e3779b97f4a7c15ull);
}

static size_t check_page(size_t page)
{
	const uint64_t *p = area + page * (PG / 8);
	uint64_t v = ((uint64_t)gen[page] << 32) | page;
	for (size_t j = 0; j < PG / 8; j++)
		if (p[j] != (v ^ (j * 0x9e3779b97f4a7c15ull)))
			return j;
	return PG;
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	area = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gen = mmap(NULL, PAGES * sizeof(*gen), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	if (area == MAP_FAILED || gen == MAP_FAILED)
		zt_fail("mmap: %m");
	for (size_t i = 0; i < PAGES; i++)
		fill(i);
	zt_ready();
	uint64_t rounds = 0;
	size_t i = 0;
	while (!zt_check_requested()) {
		/* a page at a time, the version first */
		gen[i]++;
		fill(i);
		i = (i + 1) % PAGES;
		if (i % 256 == 0) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
			rounds++;
		}
	}
	for (size_t p = 0; p < PAGES; p++) {
		size_t at = check_page(p);
		if (at != PG)
			zt_fail("page %zu (version %u): word %zu is %#lx, not the pattern", p,
				gen[p], at, (unsigned long)area[p * (PG / 8) + at]);
	}
	zt_log("%lu pages checked after %lu rounds of 256 pages", PAGES, (unsigned long)rounds);
	zt_pass();
}
