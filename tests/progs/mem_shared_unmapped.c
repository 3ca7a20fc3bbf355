/* Shared anonymous memory whose data is not in the task's page tables.
 *
 * 32 pages of MAP_SHARED | MAP_ANONYMOUS: pages 0-15 written by the test, then 0-7 given
 * MADV_DONTNEED (for shared memory that only drops the task's page table entries: the data
 * stays in the object); pages 20-23 written by a forked child that has exited, so the test
 * never mapped them; the other pages never touched by anyone. A dump that finds pages through
 * the task's page tables loses 0-7 and 20-23; one that reads every page creates the holes.
 * Checked: the holes are still holes (mincore, before anything reads them), then every page's
 * data, and that the memory is still shared with a new child. */
// zt-run: lazy predump page-server
#include "zt.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL
#define MB (1UL << 20)
#define NPAGES 32

static char *shm;

static bool written(size_t i)
{
	return i < 16 || (i >= 20 && i < 24);
}

static unsigned seed_of(size_t i)
{
	return i < 16 ? 1 : 2;
}

static void child_writes(void)
{
	pid_t c = fork();
	int status;

	if (c < 0)
		zt_fail("fork: %m");
	if (c == 0) {
		zt_fill_pattern(shm + 20 * PG, 4 * PG, 2);
		_exit(0);
	}
	if (waitpid(c, &status, 0) != c || status)
		zt_fail("the writing child failed (%#x)", status);
}

/* What exists in the object, page by page ("1" where a page is there) */
static void resident(char *out)
{
	unsigned char vec[NPAGES];

	if (mincore(shm, NPAGES * PG, vec))
		zt_fail("mincore: %m");
	for (size_t i = 0; i < NPAGES; i++)
		out[i] = vec[i] & 1 ? '1' : '0';
	out[NPAGES] = 0;
}

int main(int argc, char **argv)
{
	char before[NPAGES + 1], after[NPAGES + 1];

	zt_init(argc, argv);
	shm = mmap(zt_free_area(8 * MB), NPAGES * PG, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (shm == MAP_FAILED)
		zt_fail("mmap: %m");
	zt_fill_pattern(shm, 16 * PG, 1);
	if (madvise(shm, 8 * PG, MADV_DONTNEED))
		zt_fail("madvise: %m");
	child_writes();
	resident(before);
	for (size_t i = 0; i < NPAGES; i++)
		if ((before[i] == '1') != written(i))
			zt_fail("setup: pages in the object are %s", before);
	for (size_t i = 0; i < 8; i++)
		if (zt_page_present(shm + i * PG) || zt_page_present(shm + (20 + i % 4) * PG))
			zt_fail("setup: page %zu is still in the page tables", i);

	zt_ready();
	zt_wait_for_check();

	resident(after);
	zt_expect(!strcmp(before, after), "pages in the object: %s before, %s after", before,
		  after);
	for (size_t i = 0; i < NPAGES; i++) {
		char *p = shm + i * PG;
		if (written(i)) {
			zt_expect(zt_check_pattern(p, PG, seed_of(i)) < 0, "page %zu: data differs",
				  i);
			continue;
		}
		for (size_t b = 0; b < PG; b++)
			if (p[b]) {
				zt_expect(false, "page %zu: not zero", i);
				break;
			}
	}
	/* still one object with a child's view */
	pid_t c = fork();
	int status;
	if (c == 0) {
		strcpy(shm + 30 * PG, "from a new child");
		_exit(0);
	}
	zt_expect(c > 0 && waitpid(c, &status, 0) == c && !status, "the new child failed");
	zt_expect(!strcmp(shm + 30 * PG, "from a new child"),
		  "a child's write is not seen: the memory is not shared any more");
	zt_pass();
}
