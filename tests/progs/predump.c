/* Memory that keeps changing between pre-dumps (incremental dumps, tests/cases/predump.sh).
 *
 * A 16 MiB anonymous area, every page written with a pattern of its index and its version
 * (gen[], kept in the heap). The program keeps running: a loop that writes a counter of
 * its own every 2 ms. Each SIGUSR1 starts the next phase: phase p rewrites the pages i with
 * i % STRIDE[p] == p with their next version, then tells how many it changed in phase.txt
 * ("P N", written whole then renamed), so that the runner can count the pages of the area
 * the next image set stores. A restore from the last image set of a chain must bring back
 * every page as the last phase left it: checked byte for byte, and gen[] against the
 * versions the phases give (so an old version of a page read from a parent is noticed).
 * Phase 1 also forks a child that writes a counter of its own all the time (it inherits the
 * descriptor that tracks its parent: a pre-dump or dump must close that copy too); the parent
 * checks it is still there. Started without phases (the ordinary modes of the suite), it
 * checks the first versions. */
// zt-run: gen2
#include "zt.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define PG 4096UL
#define PAGES 4096UL

static const unsigned STRIDE[] = {0, 7, 11, 13, 17, 19, 23};
#define MAX_PHASE (sizeof(STRIDE) / sizeof(STRIDE[0]) - 1)

static volatile sig_atomic_t advance;
static uint8_t *area;
static uint8_t *gen;
static volatile uint64_t ticks;
static pid_t child;

/* a child at work, gone with its parent */
static void start_child(void)
{
	pid_t parent = getpid();
	child = fork();
	if (child < 0)
		zt_fail("fork: %m");
	if (child)
		return;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	volatile uint64_t *count = malloc(4096);
	for (*count = 0;; (*count)++) {
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
}

static void on_usr1(int sig)
{
	(void)sig;
	advance = 1;
}

static uint8_t byte_of(size_t page, size_t off, unsigned version)
{
	return (uint8_t)(page * 131 + off * 7 + version * 29 + 1);
}

static void fill(size_t page)
{
	uint8_t *p = area + page * PG;
	for (size_t j = 0; j < PG; j++)
		p[j] = byte_of(page, j, gen[page]);
}

static unsigned expected_gen(size_t page, unsigned phase)
{
	unsigned g = 0;
	for (unsigned p = 1; p <= phase; p++)
		g += page % STRIDE[p] == p;
	return g;
}

static void tell(unsigned phase, unsigned changed)
{
	FILE *f = fopen("phase.tmp", "w");
	if (!f)
		zt_fail("cannot write phase.tmp: %m");
	fprintf(f, "%u %u\n", phase, changed);
	fclose(f);
	if (rename("phase.tmp", "phase.txt") < 0)
		zt_fail("cannot rename phase.txt: %m");
}

int main(int argc, char **argv)
{
	unsigned phase = 0;

	zt_init(argc, argv);
	area = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gen = calloc(PAGES, 1);
	if (area == MAP_FAILED || !gen)
		zt_fail("cannot map the area: %m");
	for (size_t i = 0; i < PAGES; i++)
		fill(i);
	FILE *f = fopen("area.txt", "w");
	if (!f)
		zt_fail("cannot write area.txt: %m");
	fprintf(f, "%lu %lu\n", (unsigned long)area, PAGES);
	fclose(f);
	tell(0, PAGES);
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	sigaction(SIGUSR1, &sa, NULL);
	zt_ready();

	/* a program at work: never idle between dumps */
	while (!zt_check_requested()) {
		struct timespec ts = {0, 2000000};
		ticks++;
		if (advance) {
			advance = 0;
			if (phase == MAX_PHASE)
				zt_fail("more phases than %zu", MAX_PHASE);
			phase++;
			unsigned changed = 0;
			for (size_t i = 0; i < PAGES; i++)
				if (i % STRIDE[phase] == phase) {
					gen[i]++;
					fill(i);
					changed++;
				}
			if (phase == 1)
				start_child();
			tell(phase, changed);
		}
		nanosleep(&ts, NULL);
	}

	size_t bad = 0, first = PAGES;
	for (size_t i = 0; i < PAGES; i++) {
		bool ok = gen[i] == expected_gen(i, phase);
		for (size_t j = 0; ok && j < PG; j++)
			ok = area[i * PG + j] == byte_of(i, j, expected_gen(i, phase));
		if (!ok) {
			bad++;
			if (first == PAGES)
				first = i;
		}
	}
	zt_expect(!bad,
		  "%zu of %lu pages differ after phase %u (first: page %zu, gen %u, "
		  "expected %u, byte 0 %#x)",
		  bad, PAGES, phase, first, first < PAGES ? gen[first] : 0,
		  first < PAGES ? expected_gen(first, phase) : 0,
		  first < PAGES ? area[first * PG] : 0);
	zt_expect(ticks > 0, "the loop never ran");
	zt_expect(!phase || (child > 0 && kill(child, 0) == 0), "the child %d is gone", (int)child);
	zt_pass();
}
