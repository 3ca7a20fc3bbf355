/* Private anonymous memory in several mappings that touch: 48 MiB written with a pattern,
 * then mprotect()ed in stripes (read-write, then with execute too, in turn), which splits it
 * into writable mappings side by side that the kernel cannot merge. A lazy restore fetches
 * their pages in ranges, each mapping's own, which end where the next begins: each page
 * must come back where it was, with its mapping's protection. The test also writes into
 * each stripe once it runs again, before its pages have all come in: those writes must
 * stay, never overwritten by the dumped data arriving later. */
// zt-run: gen2 lazy
#include "zt.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define MB (1UL << 20)
#define LEN (48 * MB)
#define STRIPE (3 * MB)
#define NSTRIPES (LEN / STRIPE)

static int stripe_prot(size_t i)
{
	/* writable all (what a lazy restore leaves to its daemon), but never mergeable */
	return i % 2 ? PROT_READ | PROT_WRITE | PROT_EXEC : PROT_READ | PROT_WRITE;
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	char *a = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zt_check_sys(a != MAP_FAILED, "mmap");
	zt_fill_pattern(a, LEN, 11);
	for (size_t i = 0; i < NSTRIPES; i++)
		zt_check_sys(mprotect(a + i * STRIPE, STRIPE, stripe_prot(i)) == 0, "mprotect");
	zt_ready();
	zt_wait_for_check();

	/* at once: one byte in the last page of each stripe, beside the next one's first */
	for (size_t i = 0; i < NSTRIPES; i++)
		a[(i + 1) * STRIPE - 1] ^= 0x5a;
	for (size_t i = 0; i < NSTRIPES; i++) {
		char *s = a + i * STRIPE, line[256], want[5];
		int prot = stripe_prot(i);
		s[STRIPE - 1] ^= 0x5a; /* back to the pattern for the check */
		zt_expect(zt_check_pattern(s, STRIPE, 11) < 0, "stripe %zu differs", i);
		snprintf(want, sizeof(want), "rw%cp", prot & PROT_EXEC ? 'x' : '-');
		zt_expect(zt_maps_line(s, line, sizeof(line)) && strstr(line, want),
			  "stripe %zu is not mapped %s: %s", i, want, line);
	}
	zt_pass();
}
