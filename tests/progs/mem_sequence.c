/* Memory written all the time in a known order: every page's version follows from two
 * numbers, so a page that comes back at an older version is caught whatever else came back
 * with it.
 *
 * A 32 MiB anonymous area, rewritten page after page for ever (32 pages, then a 1 ms
 * sleep: about 100 MiB/s, a pass every quarter of a second or so), each page whole with a pattern
 * of its index and version. With `pos` the page written next and `cycle` the passes over the whole
 * area done, page p holds version cycle + 1 if p < pos, else cycle, at the top of the loop. A chain
 * of pre-dumps reads the area while it changes under it (res/predump.c), and the final
 * dump takes every page the tracking says was not written since from the chain: one taken
 * from the wrong level (a write the tracking lost) holds a version one or more below the
 * rule's, and a torn one mixes two. The check looks at every word of every page. */
// zt-run: predump
#include "zt.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PG 4096UL
#define PAGES 8192UL

static uint64_t *area;
static volatile uint64_t cycle, pos;

static uint64_t word(uint64_t page, uint64_t ver, uint64_t j)
{
	uint64_t x = (page * 0x9E3779B97F4A7C15ull) ^ (ver * 0xC2B2AE3D27D4EB4Full) ^
		     (j * 0x165667B19E3779F9ull);
	return x ^ (x >> 29);
}

static void fill(uint64_t page, uint64_t ver)
{
	uint64_t *p = area + page * (PG / 8);
	for (uint64_t j = 0; j < PG / 8; j++)
		p[j] = word(page, ver, j);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	area = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		zt_fail("mmap: %m");
	for (uint64_t i = 0; i < PAGES; i++)
		fill(i, 0);
	zt_ready();
	while (!zt_check_requested()) {
		fill(pos, cycle + 1);
		if (++pos == PAGES) {
			pos = 0;
			cycle++;
		}
		if (pos % 32 == 0) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	uint64_t bad = 0;
	for (uint64_t p = 0; p < PAGES; p++) {
		uint64_t ver = cycle + (p < pos), *pg = area + p * (PG / 8);
		for (uint64_t j = 0; j < PG / 8; j++)
			if (pg[j] != word(p, ver, j)) {
				/* which version is it? */
				uint64_t got = UINT64_MAX;
				for (uint64_t v = ver > 64 ? ver - 64 : 0; v <= ver + 1; v++)
					if (pg[j] == word(p, v, j))
						got = v;
				if (bad++ < 5)
					zt_log(
					    "page %lu (of %lu, next written %lu, cycle %lu): word "
					    "%lu is of version %ld, expected %lu",
					    (unsigned long)p, PAGES, (unsigned long)pos,
					    (unsigned long)cycle, (unsigned long)j,
					    got == UINT64_MAX ? -1L : (long)got,
					    (unsigned long)ver);
				break;
			}
	}
	if (bad)
		zt_fail("%lu pages of %lu are not at the version the order of the writes gives",
			(unsigned long)bad, PAGES);
	zt_log("%lu pages checked, %lu passes over the area done", PAGES, (unsigned long)cycle);
	zt_pass();
}
