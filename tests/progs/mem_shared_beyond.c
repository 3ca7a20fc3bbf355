/* Shared anonymous memory larger than what is mapped of it.
 *
 * An object of 8 pages (MAP_SHARED | MAP_ANONYMOUS), pages 0-3 written, pages 4-7 never
 * written, then unmapped: the object keeps its size, and mremap() growing the mapping again
 * shows pages 4-7 (zeros), as would any later mapping of it; a restore that made an object of
 * the 4 mapped pages only would give SIGBUS there. Checked: pages 0-3 hold their data, the
 * object is still shared with a new child, and grown back to 8 pages, pages 4-7 read as
 * zeros.
 *
 * MEM_KIND "hidden" (mem_shared_unmapped_tail.c): pages 4-7 are written before they are unmapped,
 * so the object holds data no mapping shows, and grown back they must show it; "remap"
 * (mem_shared_remapped.c): every page of the mapping is mapped to the object's page 0
 * (remap_file_pages), so pages 1-7 hold data no mapping shows, and mapped back in order they
 * must show it. */
// zt-run: gen2 lazy predump page-server
#include "zt.h"

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL
#define NPAGES 8
#define MAPPED 4

static char *shm;
static sigjmp_buf jump;

static void on_bus(int sig)
{
	(void)sig;
	siglongjmp(jump, 1);
}

/* page i of the mapping, read: -1 when it is as written (seed), else the bad byte; -2 on
 * SIGBUS */
static long bad(const char *p, unsigned seed)
{
	volatile long first = -1;
	if (sigsetjmp(jump, 1))
		return -2;
	for (size_t j = 0; j < PG && first < 0; j++) {
		char want = seed ? (char)(seed * 41 + j * 7 + j / 253) : 0;
		if (p[j] != want)
			first = (long)j;
	}
	return first;
}

static void fill(char *p, unsigned seed)
{
	for (size_t j = 0; j < PG; j++)
		p[j] = (char)(seed * 41 + j * 7 + j / 253);
}

int main(int argc, char **argv)
{
#ifdef MEM_KIND
	const char *kind = MEM_KIND;
#else
	const char *kind = "";
#endif
	bool hidden = kind && !strcmp(kind, "hidden"), remap = kind && !strcmp(kind, "remap");

	zt_init(argc, argv);
	struct sigaction sa = {.sa_handler = on_bus};
	if (sigaction(SIGBUS, &sa, NULL))
		zt_fail("sigaction: %m");
	shm = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		zt_fail("mmap: %m");
	for (unsigned i = 0; i < (hidden || remap ? NPAGES : MAPPED); i++)
		fill(shm + i * PG, i + 1);
	if (remap) {
		for (size_t i = 0; i < NPAGES; i++)
			if (remap_file_pages(shm + i * PG, PG, 0, 0, 0))
				zt_fail("remap_file_pages: %m");
	} else if (munmap(shm + MAPPED * PG, (NPAGES - MAPPED) * PG)) {
		zt_fail("munmap: %m");
	}
	zt_ready();
	zt_wait_for_check();

	size_t shown = remap ? NPAGES : MAPPED;
	for (size_t i = 0; i < shown; i++) {
		long b = bad(shm + i * PG, remap ? 1 : (unsigned)i + 1);
		zt_expect(b == -1, "page %zu does not hold its data (byte %ld)", i, b);
	}
	pid_t c = fork();
	int status;
	if (c < 0)
		zt_fail("fork: %m");
	if (c == 0) {
		fill(shm, 99);
		_exit(0);
	}
	if (waitpid(c, &status, 0) != c || status)
		zt_fail("the child failed (%#x)", status);
	zt_expect(bad(shm, 99) == -1, "the child's write is not seen: the memory is not shared");
	if (remap) {
		fill(shm, 1); /* the object's page 0 as it was */
		for (size_t i = 0; i < NPAGES; i++)
			if (remap_file_pages(shm + i * PG, PG, 0, i, 0))
				zt_fail("remap_file_pages back: %m");
		for (size_t i = 1; i < NPAGES; i++) {
			long b = bad(shm + i * PG, (unsigned)i + 1);
			zt_expect(b == -1,
				  "mapped back, page %zu does not hold its data (byte %ld)", i, b);
		}
	} else {
		char *g = mremap(shm, MAPPED * PG, NPAGES * PG, MREMAP_MAYMOVE);
		if (g == MAP_FAILED)
			zt_fail("mremap: %m");
		for (size_t i = MAPPED; i < NPAGES; i++) {
			long b = bad(g + i * PG, hidden ? (unsigned)i + 1 : 0);
			zt_expect(b == -1, "grown back, page %zu %s (byte %ld)", i,
				  b == -2 ? "is beyond the object (SIGBUS)" : "is not as it was",
				  b);
		}
	}
	zt_pass();
}
