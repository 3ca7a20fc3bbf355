/* Memory written all the time, also while a pre-dump reads it after the thaw.
 *
 * A pre-dump reads the pages while the task runs (res/predump.c): a page written after the
 * thaw may be saved torn or stale there, and the final dump must save it again. The program
 * never stops working until the check request:
 *  - "trickle", 64 MiB: pages picked at random, each rewritten whole with a pattern of
 *    (page, round), the round a counter of every write; last[] has the round of each page's
 *    last write. Once the pre-dump has ended (its tracking descriptor appears in the
 *    process), only the lower half is written any more: the upper half keeps what it got
 *    during the pre-dump, and the final dump takes it from the pre-dump's image wherever the
 *    tracking says it was not written since. A page saved stale or torn there and not caught
 *    comes back with a round other than last[]'s, and the check looks at every page;
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
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define PG 4096UL
#define MB (1UL << 20)
#define TRICKLE_PAGES (64 * MB / PG)
#define NR_FLIP 16
#define FLIP_PAGES 64
#define NR_CHURN 4
#define CHURN_PAGES 64
#define STEP_PAGES 128 /* trickle pages written between two changes of the other regions */

static uint64_t *trickle;
static uint64_t last[TRICKLE_PAGES]; /* the round of each page's last write */
static volatile uint64_t rounds;
static volatile uint64_t limit = TRICKLE_PAGES; /* pages written: all, then the lower half */
static uint64_t rng = 88172645463325252ull;
static char *flip[NR_FLIP];
static volatile int flip_none[NR_FLIP];
static char *churn[NR_CHURN];
static volatile uint64_t churn_gen[NR_CHURN];
static uint64_t steps;
static char track_link[64];

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

/* The tracking descriptor a pre-dump leaves at its very end (res/track.c: the highest free
 * number below min(RLIMIT_NOFILE, 1024)) */
static bool predump_ended(void)
{
	char link[64];
	ssize_t n = readlink(track_link, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = 0;
	return !strcmp(link, "anon_inode:[userfaultfd]");
}

static void step(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	uint64_t i = rng % limit;
	/* a freeze between the two leaves them apart, until the step ends */
	fill(trickle + i * (PG / 8), 1, i, ++rounds);
	last[i] = rounds;
	if (++steps % STEP_PAGES)
		return;
	if (limit == TRICKLE_PAGES && predump_ended())
		limit = TRICKLE_PAGES / 2;
	uint64_t k = steps / STEP_PAGES;
	int f = (int)(k % NR_FLIP);
	if (mprotect(flip[f], FLIP_PAGES * PG, flip_none[f] ? PROT_READ | PROT_WRITE : PROT_NONE))
		zt_fail("mprotect flip %d: %m", f);
	flip_none[f] = !flip_none[f];
	if (k % 3 == 0) {
		int c = (int)(k / 3 % NR_CHURN);
		if (munmap(churn[c], CHURN_PAGES * PG))
			zt_fail("munmap churn %d: %m", c);
		map_at(churn[c], CHURN_PAGES * PG);
		for (uint64_t j = 0; j < CHURN_PAGES; j++)
			fill((uint64_t *)(churn[c] + j * PG), 3 + c, j, churn_gen[c] + 1);
		churn_gen[c]++;
	}
}

static void check(void)
{
	uint64_t bad = 0;
	for (uint64_t i = 0; i < TRICKLE_PAGES; i++) {
		int64_t r = round_of(trickle + i * (PG / 8), 1, i);
		if (r != (int64_t)last[i] && bad++ < 5)
			zt_expect(false, "trickle page %lu: round %ld (-1: torn), its last write was "
					 "round %lu (%s half, %lu writes)",
				  i, r, last[i], i < TRICKLE_PAGES / 2 ? "lower" : "upper", rounds);
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
	struct rlimit rl;
	uint64_t top = 1024;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < top)
		top = rl.rlim_cur;
	snprintf(track_link, sizeof(track_link), "/proc/self/fd/%lu", top - 1);
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
	/* between two steps: the page a freeze may have caught half written is whole again */
	check();
	zt_pass();
}
