/* Shared anonymous memory whose pages are mapped out of order (remap_file_pages, as
 * stress-ng's remap stressor does it: the kernel makes one mapping per page, each with its
 * own offset into the same object).
 *
 * 8 pages of MAP_SHARED | MAP_ANONYMOUS, page i of the object filled with i's pattern, then
 * mapped backwards: the mapping's page i shows the object's page 7 - i. Checked: every page
 * shows what it showed before; a forked child writes through the mapping's page 0 and the
 * test sees it (still one object, shared); the pages mapped back in order
 * (remap_file_pages again, which works only within one object) show the object's pages in
 * order. */
// zt-run: gen2 lazy predump page-server
#include "zt.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL
#define NPAGES 8

static char *shm;

static void fill(char *p, unsigned obj_page)
{
	for (size_t j = 0; j < PG; j++)
		p[j] = (char)(obj_page * 37 + j * 13 + j / 251);
}

/* the first byte of the mapping's page i that is not object page obj's, or -1 */
static long bad(size_t i, unsigned obj)
{
	const char *p = shm + i * PG;
	for (size_t j = 0; j < PG; j++)
		if (p[j] != (char)(obj * 37 + j * 13 + j / 251))
			return (long)j;
	return -1;
}

static void remap_all(int backwards)
{
	for (size_t i = 0; i < NPAGES; i++)
		if (remap_file_pages(shm + i * PG, PG, 0, backwards ? NPAGES - 1 - i : i, 0))
			zt_fail("remap_file_pages of page %zu: %m", i);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	shm = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		zt_fail("mmap: %m");
	for (unsigned i = 0; i < NPAGES; i++)
		fill(shm + i * PG, i);
	remap_all(1);
	for (size_t i = 0; i < NPAGES; i++)
		if (bad(i, NPAGES - 1 - i) >= 0)
			zt_fail("page %zu is not the object's page %zu after the remap", i,
				NPAGES - 1 - i);
	zt_ready();
	zt_wait_for_check();

	for (size_t i = 0; i < NPAGES; i++) {
		long b = bad(i, NPAGES - 1 - i);
		zt_expect(b < 0, "the mapping's page %zu is not the object's page %zu (byte %ld)",
			  i, NPAGES - 1 - i, b);
	}
	pid_t c = fork();
	int status;
	if (c < 0)
		zt_fail("fork: %m");
	if (c == 0) {
		fill(shm, 100);
		_exit(0);
	}
	if (waitpid(c, &status, 0) != c || status)
		zt_fail("the child failed (%#x)", status);
	zt_expect(bad(0, 100) < 0, "the child's write through page 0 is not seen: not shared");
	fill(shm, NPAGES - 1); /* the object's page 7 as it was */
	remap_all(0);
	for (size_t i = 0; i < NPAGES; i++) {
		long b = bad(i, i);
		zt_expect(b < 0,
			  "mapped back in order, page %zu is not the object's page %zu (byte %ld)",
			  i, i, b);
	}
	zt_pass();
}
