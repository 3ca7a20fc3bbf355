/* Mapping flags set by madvise() and mlock(), as /proc/self/smaps VmFlags shows them:
 * dc (MADV_DONTFORK), dd (MADV_DONTDUMP), hg (MADV_HUGEPAGE), nh (MADV_NOHUGEPAGE),
 * wf (MADV_WIPEONFORK), sr (MADV_SEQUENTIAL), rr (MADV_RANDOM), lo (mlock), lf with lo
 * (mlock2 MLOCK_ONFAULT). Each region keeps its flag and its data, locked memory is still
 * resident (that is what mlock promises), and the whole layout is identical. */
// zt-run: lazy predump page-server
#include "zt.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

#define PG 4096UL
#define MB (1UL << 20)

struct region {
	const char *name;
	int advice;		/* -1: none */
	const char *flag;	/* the VmFlags it must show */
	size_t len;
	char *addr;
};

enum { LOCK = -2, LOCK_ONFAULT = -3 };

static struct region regions[] = {
	{ "dontfork", MADV_DONTFORK, "dc", 8 * PG, NULL },
	{ "dontdump", MADV_DONTDUMP, "dd", 8 * PG, NULL },
	/* 4 MiB: room for an aligned huge page, so hg is not just a flag on a tiny vma. */
	{ "hugepage", MADV_HUGEPAGE, "hg", 4 * MB, NULL },
	{ "nohugepage", MADV_NOHUGEPAGE, "nh", 4 * MB, NULL },
	{ "wipeonfork", MADV_WIPEONFORK, "wf", 8 * PG, NULL },
	{ "sequential", MADV_SEQUENTIAL, "sr", 8 * PG, NULL },
	{ "random", MADV_RANDOM, "rr", 8 * PG, NULL },
	{ "locked", LOCK, "lo", 16 * PG, NULL },
	{ "lock_onfault", LOCK_ONFAULT, "lf", 16 * PG, NULL },
};
#define NR (sizeof(regions) / sizeof(regions[0]))

static char layout_before[256 << 10], layout_after[256 << 10];
static char flags_before[NR][256];

static unsigned int seed(const struct region *r)
{
	return 100 + (unsigned int)(r - regions);
}

/* The part of a region that is written: all of it, but only half of the on-fault one, whose
 * other half must stay unpopulated. */
static size_t written(const struct region *r)
{
	return r->advice == LOCK_ONFAULT ? r->len / 2 : r->len;
}

static void setup(char *base, size_t off, struct region *r)
{
	r->addr = mmap(base + off, r->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (r->addr == MAP_FAILED)
		zt_fail("mmap %s: %m", r->name);
	if (r->advice >= 0 && madvise(r->addr, r->len, r->advice))
		zt_fail("madvise %s: %m", r->name);
	if (r->advice == LOCK && mlock(r->addr, r->len))
		zt_fail("mlock: %m");
	if (r->advice == LOCK_ONFAULT && syscall(SYS_mlock2, r->addr, r->len, MLOCK_ONFAULT))
		zt_fail("mlock2 ONFAULT: %m");
	zt_fill_pattern(r->addr, written(r), seed(r));
}

int main(int argc, char **argv)
{
	unsigned char vec[16];
	char *base;
	size_t off = 0;

	zt_init(argc, argv);
	base = zt_free_area(64 * MB);
	for (size_t i = 0; i < NR; i++) {
		/* Aligned to 2 MiB and 2 MiB apart: no merging, huge pages possible. */
		setup(base + 2 * MB - ((unsigned long)base & (2 * MB - 1)), off, &regions[i]);
		off += (regions[i].len + 4 * MB - 1) & ~(2 * MB - 1);
	}
	for (size_t i = 0; i < NR; i++) {
		zt_vmflags(regions[i].addr, flags_before[i], sizeof(flags_before[i]));
		if (!zt_has_vmflag(flags_before[i], regions[i].flag))
			zt_fail("setup: %s has no '%s' in '%s'", regions[i].name, regions[i].flag,
				flags_before[i]);
	}
	if (zt_smaps_layout(layout_before, sizeof(layout_before)) < 0)
		zt_fail("cannot read smaps");

	zt_ready();
	zt_wait_for_check();

	if (zt_smaps_layout(layout_after, sizeof(layout_after)) < 0)
		zt_fail("cannot read smaps after");
	zt_expect_same_text("smaps", layout_before, layout_after);
	for (size_t i = 0; i < NR; i++) {
		struct region *r = &regions[i];
		char flags[256];
		void *start = zt_vmflags(r->addr, flags, sizeof(flags));

		zt_expect(start == r->addr, "%s: mapping starts at %p, not %p", r->name, start,
			  r->addr);
		zt_expect(zt_has_vmflag(flags, r->flag), "%s: no '%s' in VmFlags '%s'", r->name,
			  r->flag, flags);
		zt_expect(!strcmp(flags, flags_before[i]), "%s: VmFlags '%s', were '%s'", r->name,
			  flags, flags_before[i]);
		zt_expect(zt_check_pattern(r->addr, written(r), seed(r)) < 0, "%s: data differs",
			  r->name);
	}
	/* mlock: every page resident. On fault: the written half resident, the rest not. */
	for (size_t i = 0; i < NR; i++) {
		struct region *r = &regions[i];
		size_t pages = r->len / PG;

		if (r->advice != LOCK && r->advice != LOCK_ONFAULT)
			continue;
		if (!zt_expect(mincore(r->addr, r->len, vec) == 0, "mincore %s: %m", r->name))
			continue;
		for (size_t p = 0; p < pages; p++) {
			bool want = p < written(r) / PG;
			if (!zt_expect((vec[p] & 1) == want, "%s: page %zu %s resident", r->name, p,
				       want ? "not" : "unexpectedly"))
				break;
		}
	}
	zt_pass();
}
