/* Memory changed by the process itself as soon as it runs again: after a lazy restore, while
 * its pages are still coming in. At once, before reading anything:
 *  - MADV_DONTNEED on 1 MiB: those pages read as zero, now and after every page is in (the
 *    daemon must never copy the dumped data in there later);
 *  - mremap of 16 MiB to another place: the data is there, the old place is gone;
 *  - munmap of 8 MiB and a new anonymous mapping in its place: zeros, never the old data;
 *  - mremap growing a 4 MiB region to 8 MiB: its data, then zeros.
 * Everything is checked at once, then again once the memory is complete (the userfaultfd's
 * "um" flag gone from the mappings, at once without a lazy restore). */
// zt-run: gen2 lazy
#include "zt.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MB (1UL << 20)
#define A_LEN (96 * MB)
#define D_OFF (200 * MB)
#define D_LEN (4 * MB)
#define MOVED_OFF (160 * MB)

static char *base;

static bool is_zero(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void check_everything(const char *when, char *d)
{
	char line[512];
	char *a = base;
	zt_expect(zt_check_pattern(a, 10 * MB, 7) < 0, "%s: A[0,10M) differs", when);
	zt_expect(is_zero(a + 10 * MB, MB), "%s: A[10M,11M) (MADV_DONTNEED) is not zero", when);
	zt_expect(zt_check_pattern(a + 11 * MB, 21 * MB, 7) < 0, "%s: A[11M,32M) differs", when);
	zt_expect(!zt_maps_line(a + 32 * MB, line, sizeof(line)) &&
		      !zt_maps_line(a + 47 * MB, line, sizeof(line)),
		  "%s: A[32M,48M) is still mapped after its mremap", when);
	zt_expect(zt_check_pattern_as(base + MOVED_OFF, 16 * MB, 7, a + 32 * MB) < 0,
		  "%s: the data moved by mremap differs", when);
	zt_expect(zt_check_pattern(a + 48 * MB, 16 * MB, 7) < 0, "%s: A[48M,64M) differs", when);
	zt_expect(is_zero(a + 64 * MB, 8 * MB), "%s: the new mapping at A[64M,72M) is not zero",
		  when);
	zt_expect(zt_check_pattern(a + 72 * MB, 24 * MB, 7) < 0, "%s: A[72M,96M) differs", when);
	zt_expect(zt_check_pattern_as(d, D_LEN, 8, base + D_OFF) < 0,
		  "%s: the grown region's data differs", when);
	zt_expect(is_zero(d + D_LEN, D_LEN), "%s: the grown region's new part is not zero", when);
}

static bool registered(const void *p)
{
	char flags[256];
	zt_vmflags(p, flags, sizeof(flags));
	return zt_has_vmflag(flags, "um");
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	base = zt_free_area(256 * MB);
	zt_check_sys(base != NULL, "free area");
	char *a = mmap(base, A_LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	char *d = mmap(base + D_OFF, D_LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	zt_check_sys(a == base && d == base + D_OFF, "mmap");
	zt_fill_pattern(a, A_LEN, 7);
	zt_fill_pattern(d, D_LEN, 8);
	zt_ready();
	zt_wait_for_check();

	bool lazy = registered(a);
	zt_check_sys(madvise(a + 10 * MB, MB, MADV_DONTNEED) == 0, "madvise");
	char *m = mremap(a + 32 * MB, 16 * MB, 16 * MB, MREMAP_MAYMOVE | MREMAP_FIXED,
			 base + MOVED_OFF);
	zt_check_sys(m == base + MOVED_OFF, "mremap");
	zt_check_sys(munmap(a + 64 * MB, 8 * MB) == 0, "munmap");
	char *n = mmap(a + 64 * MB, 8 * MB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	zt_check_sys(n == a + 64 * MB, "mmap in the hole");
	char *g = mremap(d, D_LEN, 2 * D_LEN, MREMAP_MAYMOVE);
	zt_check_sys(g != MAP_FAILED, "mremap grow");
	check_everything("at once", g);

	/* until every page is in (the daemon unregisters nothing itself: its userfaultfd goes) */
	struct timespec t = {0, 20 * 1000 * 1000};
	int waited = 0;
	while ((registered(a) || registered(base + MOVED_OFF) || registered(g)) && waited < 1000) {
		nanosleep(&t, NULL);
		waited++;
	}
	zt_log("restored lazily: %s; waited %d ms for the rest of the memory", lazy ? "yes" : "no",
	       waited * 20);
	zt_expect(waited < 1000, "the memory was still registered after 20 s");
	check_everything("once complete", g);
	zt_pass();
}
