/* Memory written all the time, also while a pre-dump reads it after the thaw.
 *
 * A pre-dump reads the pages while the task runs (res/predump.c): a page written after the
 * thaw may be saved torn or stale there, and the final dump must save it again. The program
 * never stops working until the check request:
 *  - "trickle", 64 MiB: page after page, round after round, each page rewritten whole with a
 *    pattern of (page, round). Between two steps, pages [0, pos) hold round `pass` and
 *    [pos, N) round `pass - 1`: a page saved stale (an older round) or torn (two rounds, or
 *    a round but another page's pattern) breaks that, and the check looks at every page;
 *  - "flip" regions, filled once and never written again, made PROT_NONE and readable in
 *    turn: read after the thaw, one of them may have become unreadable since the freeze
 *    (its pages are then in no image: the next dump must read them again, though the
 *    tracking says they were not written);
 *  - "churn" regions, unmapped, mapped again at the same place and filled with a pattern of
 *    a new generation: read after the thaw, they may be gone or new since the freeze.
 * Checked after the dump (and the restore through the chain): every page of every region. */
// zt-run: predump
#include "zt.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define PG 4096UL
#define MB (1UL << 20)
#define TRICKLE_PAGES (64 * MB / PG)
#define NR_FLIP 16
#define FLIP_PAGES 64
#define NR_CHURN 4
#define CHURN_PAGES 64
#define STEP_PAGES 128 /* trickle pages written between two changes of the other regions */

static uint64_t *trickle;
static volatile uint64_t pos, pass; /* the next page to write, its round */
static char *flip[NR_FLIP];
static volatile int flip_none[NR_FLIP];
static char *churn[NR_CHURN];
static volatile uint64_t churn_gen[NR_CHURN];
static uint64_t steps;

static uint64_t word(uint64_t kind, uint64_t page, uint64_t round, uint64_t j)
{
	uint64_t x = (kind << 56) ^ (page * 0x9E3779B97F4A7C15ull) ^
		     (round * 0xC2B2AE3D27D4EB4Full) ^ (j * 0x165667B19E3779F9ull);
	return x ^ (x >> 29);
}

static void fill(uint64_t *p, uint64_t kind, uint64_t page, uint64_t round)
{
	p[0] = round;
	for (uint64_t j = 1; j < PG / 8; j++)
		p[j] = word(kind, page, round, j);
}

/* the round the page holds, or -1 if it is not one whole pattern of this page */
static int64_t round_of(const uint64_t *p, uint64_t kind, uint64_t page)
{
	for (uint64_t j = 1; j < PG / 8; j++)
		if (p[j] != word(kind, page, p[0], j))
			return -1;
	return (int64_t)p[0];
}

static void *map_at(void *at, size_t len)
{
	void *p = mmap(at, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED_NOREPLACE : 0), -1, 0);
	if (p == MAP_FAILED || (at && p != at))
		zt_fail("mmap %p: %m", at);
	return p;
}

static void step(void)
{
	fill(trickle + pos * (PG / 8), 1, pos, pass);
	if (++pos == TRICKLE_PAGES) {
		pos = 0;
		pass++;
	}
	if (pos % STEP_PAGES)
		return;
	steps++;
	int f = (int)(steps % NR_FLIP);
	if (mprotect(flip[f], FLIP_PAGES * PG, flip_none[f] ? PROT_READ | PROT_WRITE : PROT_NONE))
		zt_fail("mprotect flip %d: %m", f);
	flip_none[f] = !flip_none[f];
	if (steps % 3 == 0) {
		int c = (int)(steps / 3 % NR_CHURN);
		if (munmap(churn[c], CHURN_PAGES * PG))
			zt_fail("munmap churn %d: %m", c);
		map_at(churn[c], CHURN_PAGES * PG);
		for (uint64_t i = 0; i < CHURN_PAGES; i++)
			fill((uint64_t *)(churn[c] + i * PG), 3 + c, i, churn_gen[c] + 1);
		churn_gen[c]++;
	}
}

static void check(void)
{
	uint64_t bad = 0;
	for (uint64_t i = 0; i < TRICKLE_PAGES; i++) {
		int64_t r = round_of(trickle + i * (PG / 8), 1, i);
		int64_t want = (int64_t)(i < pos ? pass : pass - 1);
		if (r != want && bad++ < 5)
			zt_expect(false, "trickle page %lu: round %ld (or torn: -1), expected %ld "
					 "(pos %lu, pass %lu)",
				  i, r, want, pos, pass);
	}
	zt_expect(bad == 0, "%lu trickle pages differ", bad);
	for (int f = 0; f < NR_FLIP; f++) {
		if (flip_none[f] && mprotect(flip[f], FLIP_PAGES * PG, PROT_READ)) {
			zt_expect(false, "mprotect flip %d readable: %m", f);
			continue;
		}
		for (uint64_t i = 0; i < FLIP_PAGES; i++) {
			int64_t r = round_of((uint64_t *)(flip[f] + i * PG), 2 + f, i);
			if (!zt_expect(r == 7, "flip %d page %lu: round %ld, expected 7 (PROT_NONE %d)",
				       f, i, r, flip_none[f]))
				break;
		}
	}
	for (int c = 0; c < NR_CHURN; c++)
		for (uint64_t i = 0; i < CHURN_PAGES; i++) {
			int64_t r = round_of((uint64_t *)(churn[c] + i * PG), 3 + c, i);
			if (!zt_expect(r == (int64_t)churn_gen[c],
				       "churn %d page %lu: generation %ld, expected %lu", c, i, r,
				       churn_gen[c]))
				break;
		}
}

int main(int argc, char **argv)
{
	char *base;

	zt_init(argc, argv);
	/* apart from each other, so that no two regions merge */
	base = zt_free_area(80 * MB);
	trickle = map_at(base, TRICKLE_PAGES * PG);
	for (uint64_t i = 0; i < TRICKLE_PAGES; i++)
		fill(trickle + i * (PG / 8), 1, i, 0);
	pass = 1;
	for (int f = 0; f < NR_FLIP; f++) {
		flip[f] = map_at(base + 65 * MB + (uint64_t)f * (FLIP_PAGES + 1) * 2 * PG,
				 FLIP_PAGES * PG);
		for (uint64_t i = 0; i < FLIP_PAGES; i++)
			fill((uint64_t *)(flip[f] + i * PG), 2 + f, i, 7);
	}
	for (int c = 0; c < NR_CHURN; c++) {
		churn[c] = map_at(base + 74 * MB + (uint64_t)c * (CHURN_PAGES + 1) * 2 * PG,
				  CHURN_PAGES * PG);
		for (uint64_t i = 0; i < CHURN_PAGES; i++)
			fill((uint64_t *)(churn[c] + i * PG), 3 + c, i, 0);
	}
	zt_ready();
	while (!zt_check_requested())
		step();
	check();
	zt_pass();
}
