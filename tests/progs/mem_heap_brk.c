/* The brk heap: the program break (sbrk(0), also when not page aligned), start_brk in
 * /proc/self/stat, the [heap] mapping and its data; malloc'ed blocks (small ones from the
 * heap, a large one mmap'ed) with data; and afterwards that brk can still grow and shrink and
 * malloc/free still work. */
// zt-run: lazy predump page-server
#include "zt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GROW ((1 << 20) + 123)	/* unaligned on purpose */
#define NBLOCKS 64

static char *blocks[NBLOCKS];
static size_t block_len[NBLOCKS];
static char *big;
#define BIG_LEN (4 << 20)

/* /proc/self/stat field 47 (start_brk); 0 on error. */
static unsigned long start_brk(void)
{
	char buf[2048], *p;
	unsigned long v = 0;
	int field = 3;

	if (zt_read_file("/proc/self/stat", buf, sizeof(buf)) < 0)
		return 0;
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p += 2;
	while (field < 47 && (p = strchr(p, ' ')))
		p++, field++;
	if (p)
		v = strtoul(p, NULL, 10);
	return v;
}

static bool heap_range(unsigned long *start, unsigned long *end)
{
	static char maps[256 << 10];
	char *p;

	if (zt_read_file("/proc/self/maps", maps, sizeof(maps)) < 0)
		return false;
	p = strstr(maps, " [heap]\n");
	if (!p)
		return false;
	while (p > maps && p[-1] != '\n')
		p--;
	return sscanf(p, "%lx-%lx", start, end) == 2;
}

int main(int argc, char **argv)
{
	unsigned long sbrk_start, hs, he, hs2, he2;
	char *region, *brk_before, *cur;

	zt_init(argc, argv);
	/* malloc first, while the heap is only glibc's. */
	for (int i = 0; i < NBLOCKS; i++) {
		block_len[i] = 16 + i * 97;
		blocks[i] = malloc(block_len[i]);
		if (!blocks[i])
			zt_fail("malloc: %m");
		zt_fill_pattern(blocks[i], block_len[i], 1);
	}
	/* Every other one freed: the free lists are part of the heap state too. */
	for (int i = 1; i < NBLOCKS; i += 2) {
		free(blocks[i]);
		blocks[i] = NULL;
	}
	big = malloc(BIG_LEN);
	if (!big)
		zt_fail("malloc big: %m");
	zt_fill_pattern(big, BIG_LEN, 2);

	region = sbrk(GROW);
	if (region == (void *)-1)
		zt_fail("sbrk: %m");
	zt_fill_pattern(region, GROW, 3);
	brk_before = sbrk(0);
	sbrk_start = start_brk();
	if (!heap_range(&hs, &he))
		zt_fail("no [heap] in maps");
	if (he != (((uintptr_t)brk_before + 4095) & ~4095UL))
		zt_fail("setup: heap ends at %#lx, brk is %p", he, brk_before);

	zt_ready();
	zt_wait_for_check();

	zt_expect(sbrk(0) == brk_before, "brk %p, was %p", sbrk(0), brk_before);
	zt_expect(start_brk() == sbrk_start, "start_brk %#lx, was %#lx", start_brk(), sbrk_start);
	zt_expect(heap_range(&hs2, &he2) && hs2 == hs && he2 == he,
		  "[heap] %#lx-%#lx, was %#lx-%#lx", hs2, he2, hs, he);
	zt_expect(zt_check_pattern(region, GROW, 3) < 0, "sbrk'ed data differs");
	for (int i = 0; i < NBLOCKS; i += 2)
		zt_expect(zt_check_pattern(blocks[i], block_len[i], 1) < 0,
			  "malloc block %d differs", i);
	zt_expect(zt_check_pattern(big, BIG_LEN, 2) < 0, "large malloc block differs");

	/* brk still moves both ways. */
	cur = sbrk(64 << 10);
	if (zt_expect(cur == brk_before, "sbrk(+64k) returned %p, expected %p", cur,
		      brk_before)) {
		memset(cur, 0x5a, 64 << 10);
		zt_expect(sbrk(0) == brk_before + (64 << 10), "brk did not grow");
		zt_expect(sbrk(-(32 << 10)) != (void *)-1, "sbrk(-32k): %m");
		zt_expect(sbrk(0) == brk_before + (32 << 10), "brk did not shrink");
		zt_expect(heap_range(&hs2, &he2) &&
				  he2 == (((uintptr_t)brk_before + (32 << 10) + 4095) & ~4095UL),
			  "[heap] ends at %#lx after grow and shrink", he2);
	}
	/* malloc and free keep working on the restored heap. */
	for (int i = 0; i < NBLOCKS; i++) {
		free(blocks[i]);
		blocks[i] = malloc(200 + i);
		zt_expect(blocks[i] != NULL, "malloc after restore failed");
		if (blocks[i])
			memset(blocks[i], i, 200 + i);
	}
	free(big);
	zt_pass();
}
