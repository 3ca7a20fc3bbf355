/* 256 MiB of private anonymous memory with an address-derived pattern (and pages never
 * written among it, which must read as zero and were never in the images), read by four
 * threads at once as soon as the process runs again: after a lazy restore every thread
 * faults on pages the daemon has not pushed yet, in different places. Every page is
 * checked, the threads' results too. */
// zt-run: gen2 lazy
#include "zt.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define PG 4096UL
#define SIZE (256UL << 20)
#define NPAGES (SIZE / PG)
#define NTHREADS 4
#define HOLE(i) ((i) % 97 == 3)

static unsigned char *area;
static long bad_page[NTHREADS];

/* thread k reads its quarter from the end down, so that faults land far from the daemon's
 * background push (which goes up from the start) */
static void *reader(void *arg)
{
	static const unsigned char zero[PG];
	long k = (long)arg;
	size_t first = k * (NPAGES / NTHREADS), last = first + NPAGES / NTHREADS;
	bad_page[k] = -1;
	for (size_t i = last; i-- > first;) {
		unsigned char *p = area + i * PG;
		bool bad = HOLE(i) ? memcmp(p, zero, PG) != 0 : zt_check_pattern(p, PG, 5) >= 0;
		if (bad) {
			bad_page[k] = (long)i;
			break;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NTHREADS];

	zt_init(argc, argv);
	area = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zt_check_sys(area != MAP_FAILED, "mmap");
	for (size_t i = 0; i < NPAGES; i++)
		if (!HOLE(i))
			zt_fill_pattern(area + i * PG, PG, 5);
	zt_ready();
	zt_wait_for_check();

	for (long k = 0; k < NTHREADS; k++)
		zt_check_sys(pthread_create(&th[k], NULL, reader, (void *)k) == 0, "pthread_create");
	for (long k = 0; k < NTHREADS; k++)
		pthread_join(th[k], NULL);
	for (long k = 0; k < NTHREADS; k++)
		zt_expect(bad_page[k] < 0, "thread %ld: page %ld is not what was written", k,
			  bad_page[k]);
	/* and the never written pages were not made present by the restore */
	size_t present_holes = 0;
	for (size_t i = 0; i < NPAGES; i++)
		if (HOLE(i) && zt_page_present(area + i * PG) == 1)
			present_holes++;
	zt_log("%zu never written pages present after reading them", present_holes);
	zt_pass();
}
