/* Shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS).
 *
 * Checked: data (pages never touched read zero), the mapping type ('s' in the maps perms) and
 * the whole layout; that the memory is really shared after the restore and not a private copy
 * (a forked child writes, the parent sees it; a private region is the control); and that two
 * mappings of the same shared memory (made with mremap(old_size = 0)) are still one object:
 * a write through either is seen through the other. */
// zt-run: lazy predump page-server
#include "zt.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL
#define MB (1UL << 20)

static char layout_before[256 << 10], layout_after[256 << 10];

static char *shared;	/* 64 pages: even pages written, odd ones never touched */
static char *shared_ro;	/* 8 pages, written then made read-only */
static char *alias;	/* a second mapping of the first 16 pages of shared */
static char *private;	/* the control: a private region */

static char *map_at(char *addr, size_t len, int flags)
{
	char *p = mmap(addr, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS |
		       MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		zt_fail("mmap: %m");
	return p;
}

static void expect_perms(const char *name, const void *addr, const char *perms)
{
	char line[512];

	if (!zt_expect(zt_maps_line(addr, line, sizeof(line)), "%s: no mapping at %p", name,
		       addr))
		return;
	zt_expect(!strncmp(strchr(line, ' ') + 1, perms, 4), "%s: '%s', wanted perms %s", name,
		  line, perms);
}

/* The child writes to both regions; only the shared write may be seen by us. */
static void check_sharing(void)
{
	pid_t child = fork();
	int status;

	if (child < 0) {
		zt_expect(false, "fork: %m");
		return;
	}
	if (child == 0) {
		/* The child sees the parent's data too, or the copy went wrong. */
		bool ok = zt_check_pattern(shared, PG, 1) < 0;
		strcpy(shared + 10 * PG + 5, "from the child");
		strcpy(private + 5, "from the child");
		_exit(ok ? 0 : 1);
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		zt_expect(false, "the child failed (status %#x)", status);
	zt_expect(!strcmp(shared + 10 * PG + 5, "from the child"),
		  "a child's write to shared memory is not seen: it is not shared any more");
	zt_expect(private[5] == 0, "a child's write to private memory is seen");
}

int main(int argc, char **argv)
{
	char *base;

	zt_init(argc, argv);
	base = zt_free_area(32 * MB);
	shared = map_at(base, 64 * PG, MAP_SHARED);
	shared_ro = map_at(base + 4 * MB, 8 * PG, MAP_SHARED);
	private = map_at(base + 8 * MB, 4 * PG, MAP_PRIVATE);
	for (size_t i = 0; i < 64; i += 2)
		zt_fill_pattern(shared + i * PG, PG, 1);
	zt_fill_pattern(shared_ro, 8 * PG, 2);
	if (mprotect(shared_ro, 8 * PG, PROT_READ))
		zt_fail("mprotect: %m");
	alias = mremap(shared, 0, 16 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, base + 12 * MB);
	if (alias == MAP_FAILED)
		zt_fail("mremap alias: %m");
	if (memcmp(alias, shared, 16 * PG))
		zt_fail("setup: the alias does not show the shared data");
	if (zt_smaps_layout(layout_before, sizeof(layout_before)) < 0)
		zt_fail("cannot read smaps");

	zt_ready();
	zt_wait_for_check();

	if (zt_smaps_layout(layout_after, sizeof(layout_after)) < 0)
		zt_fail("cannot read smaps after");
	zt_expect_same_text("smaps", layout_before, layout_after);
	expect_perms("shared", shared, "rw-s");
	expect_perms("shared_ro", shared_ro, "r--s");
	expect_perms("alias", alias, "rw-s");
	expect_perms("private", private, "rw-p");

	for (size_t i = 0; i < 64; i++) {
		if (i % 2 == 0) {
			zt_expect(zt_check_pattern(shared + i * PG, PG, 1) < 0,
				  "shared page %zu: data differs", i);
			continue;
		}
		for (size_t b = 0; b < PG; b++)
			if (shared[i * PG + b]) {
				zt_expect(false, "shared page %zu: not zero", i);
				break;
			}
	}
	zt_expect(zt_check_pattern(shared_ro, 8 * PG, 2) < 0, "shared_ro: data differs");
	zt_expect(!memcmp(alias, shared, 16 * PG), "the alias does not show the shared data");

	/* One object: writes go both ways. */
	strcpy(shared + 3 * PG + 7, "via shared");
	strcpy(alias + 5 * PG + 9, "via alias");
	zt_expect(!strcmp(alias + 3 * PG + 7, "via shared"),
		  "a write through the mapping is not seen through its alias");
	zt_expect(!strcmp(shared + 5 * PG + 9, "via alias"),
		  "a write through the alias is not seen through the mapping");
	check_sharing();
	zt_pass();
}
