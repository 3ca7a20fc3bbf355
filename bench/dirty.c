/* A process of MB MiB of anonymous memory, every page written, that rewrites a share of its
 * pages on request: the benchmark of chained pre-dumps (bench/predump.sh).
 *
 *   dirty READY RESULT MB PERMILLE
 *   dirty READY RESULT MB seq:RATE
 *
 * Writes its pid to READY once every page is written. On SIGUSR2 it rewrites PERMILLE pages
 * in a thousand (round r: every page p with p % 1000 < PERMILLE, shifted by r), then writes
 * the number of rounds done to READY.rounds. On SIGUSR1 it reads the number of rounds it
 * should have done from RESULT.rounds (written by the benchmark: not from its own memory,
 * which came back through the chain) and checks every page against it; the verdict goes to
 * RESULT ("OK ..." or "BAD ...").
 *
 * seq:RATE: the process writes all the time instead, RATE MiB/s (a batch every 10 ms), page
 * after page in order, each at the version of its pass over the memory: with `pos` the page
 * written next and `cycle` the passes done, page p holds version cycle + 1 if p < pos, else
 * cycle (checked on SIGUSR1, every page). The benchmark of `cryo migrate` (bench/migrate.sh). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PG 4096UL
#define WORDS (PG / 8)

static volatile sig_atomic_t want_check, want_dirty;
static uint64_t *area, pages, permille;

static void on_usr1(int s)
{
	(void)s;
	want_check = 1;
}
static void on_usr2(int s)
{
	(void)s;
	want_dirty = 1;
}

/* the version of page p after `rounds` rounds */
static uint64_t version(uint64_t p, uint64_t rounds)
{
	uint64_t v = 0;
	for (uint64_t r = 0; r < rounds; r++)
		if ((p + r * 7) % 1000 < permille)
			v++;
	return v;
}

static uint64_t word(uint64_t p, uint64_t v, uint64_t j)
{
	uint64_t x = (p * 0x9E3779B97F4A7C15ull) ^ (v * 0xC2B2AE3D27D4EB4Full) ^ (j + 1);
	return x ^ (x >> 31);
}

static void fill(uint64_t p, uint64_t v)
{
	for (uint64_t j = 0; j < WORDS; j++)
		area[p * WORDS + j] = word(p, v, j);
}

static void put(const char *path, const char *fmt, unsigned long a, unsigned long b)
{
	char tmp[4096], buf[256];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		exit(1);
	snprintf(buf, sizeof(buf), fmt, a, b);
	fputs(buf, f);
	fclose(f);
	rename(tmp, path);
}

int main(int argc, char **argv)
{
	char path[4096];
	uint64_t rounds = 0;

	if (argc != 5)
		return 2;
	pages = strtoull(argv[3], NULL, 10) * (1 << 20) / PG;
	permille = strtoull(argv[4], NULL, 10);
	area = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return 1;
	for (uint64_t p = 0; p < pages; p++)
		fill(p, 0);
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	put(argv[1], "%lu\n", (unsigned long)getpid(), 0);
	if (!strncmp(argv[4], "seq:", 4)) {
		uint64_t batch = strtoull(argv[4] + 4, NULL, 10) * (1 << 20) / PG / 100, cycle = 0,
			 pos = 0;
		struct timespec ts = {0, 10000000};
		while (!want_check) {
			for (uint64_t k = 0; k < batch; k++) {
				fill(pos, cycle + 1);
				if (++pos == pages)
					pos = 0, cycle++;
			}
			nanosleep(&ts, NULL);
		}
		uint64_t bad = 0;
		for (uint64_t p = 0; p < pages; p++) {
			uint64_t v = cycle + (p < pos);
			for (uint64_t j = 0; j < WORDS; j++)
				if (area[p * WORDS + j] != word(p, v, j)) {
					bad++;
					break;
				}
		}
		if (bad)
			put(argv[2], "BAD %lu pages, next written %lu\n", (unsigned long)bad,
			    (unsigned long)pos);
		else
			put(argv[2], "OK %lu pages checked, %lu written since the start\n",
			    (unsigned long)pages, (unsigned long)(cycle * pages + pos));
		return 0;
	}
	for (;;) {
		pause();
		if (want_dirty) {
			want_dirty = 0;
			for (uint64_t p = 0; p < pages; p++)
				if ((p + rounds * 7) % 1000 < permille)
					fill(p, version(p, rounds) + 1);
			rounds++;
			snprintf(path, sizeof(path), "%s.rounds", argv[1]);
			put(path, "%lu\n", (unsigned long)rounds, 0);
		}
		if (want_check) {
			want_check = 0;
			unsigned long expect = 0;
			snprintf(path, sizeof(path), "%s.rounds", argv[2]);
			FILE *f = fopen(path, "r");
			if (!f || fscanf(f, "%lu", &expect) != 1)
				expect = 0;
			if (f)
				fclose(f);
			uint64_t bad = 0, first = 0;
			for (uint64_t p = 0; p < pages; p++) {
				uint64_t v = version(p, expect);
				for (uint64_t j = 0; j < WORDS; j++)
					if (area[p * WORDS + j] != word(p, v, j)) {
						if (!bad++)
							first = p;
						break;
					}
			}
			if (bad)
				put(argv[2], "BAD %lu pages, the first %lu\n", (unsigned long)bad,
				    (unsigned long)first);
			else
				put(argv[2], "OK %lu pages checked, %lu rounds\n",
				    (unsigned long)pages, (unsigned long)expect);
		}
	}
}
