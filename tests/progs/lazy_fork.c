/* A process that forks as soon as it runs again: after a lazy restore its memory is still
 * coming in (the daemon pushes 256 MiB in the background), so the child is made while pages
 * are missing and gets its own userfaultfd from the fork; the daemon must serve it the same
 * content. The child checks every page (the pattern, and never written pages as zero) and
 * writes its own data; the parent writes some pages after the fork and checks every page
 * too: neither sees the other's writes, both see the dumped memory everywhere else. Two more
 * children leave while their memory is still missing, one by exit, one by exec: the daemon
 * must notice they are gone (and end once the others are complete). */
// zt-run: gen2 lazy
#include "zt.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL
#define SIZE (256UL << 20)
#define NPAGES (SIZE / PG)
#define HOLE(i) ((i) % 61 == 7) /* pages never written: zero after any restore */

static unsigned char *area;

/* page i holds the pattern of seed 1, or zeros for a hole; pages [from, to) seed s instead */
static long check_all(size_t from, size_t to, unsigned int s)
{
	static const unsigned char zero[PG];
	for (size_t i = 0; i < NPAGES; i++) {
		unsigned char *p = area + i * PG;
		bool bad;
		if (i >= from && i < to)
			bad = zt_check_pattern(p, PG, s) >= 0;
		else if (HOLE(i))
			bad = memcmp(p, zero, PG) != 0;
		else
			bad = zt_check_pattern(p, PG, 1) >= 0;
		if (bad)
			return (long)i;
	}
	return -1;
}

int main(int argc, char **argv)
{
	char flags[256];

	zt_init(argc, argv);
	area = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zt_check_sys(area != MAP_FAILED, "mmap");
	for (size_t i = 0; i < NPAGES; i++)
		if (!HOLE(i))
			zt_fill_pattern(area + i * PG, PG, 1);
	zt_ready();
	zt_wait_for_check();

	/* at once: the fork comes before the memory is in */
	pid_t child = fork();
	zt_check_sys(child >= 0, "fork");
	if (child == 0) {
		long bad = check_all(0, 0, 0);
		if (bad >= 0)
			_exit(10);
		/* the child's own writes, which the parent must not see */
		for (size_t i = 0; i < 64; i++)
			zt_fill_pattern(area + i * PG, PG, 2);
		bad = check_all(0, 64, 2);
		_exit(bad >= 0 ? 11 : 0);
	}
	/* one that exits at once, one that execs: their memory is never completed */
	pid_t quitter = fork();
	zt_check_sys(quitter >= 0, "fork");
	if (quitter == 0)
		/* one page touched: the pattern's byte may be 0 anywhere, so the page is checked */
		_exit(zt_check_pattern(area + PG * 5, PG, 1) >= 0 ? 1 : 0);
	pid_t execer = fork();
	zt_check_sys(execer >= 0, "fork");
	if (execer == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	zt_vmflags(area, flags, sizeof(flags));
	zt_log("area flags right after the fork: %s", flags);
	for (size_t i = NPAGES - 64; i < NPAGES; i++)
		zt_fill_pattern(area + i * PG, PG, 3);
	long bad = check_all(NPAGES - 64, NPAGES, 3);
	zt_expect(bad < 0, "parent: page %ld of the area is not what was written", bad);
	int st;
	zt_check_sys(waitpid(quitter, &st, 0) == quitter, "waitpid");
	zt_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child that exits: status %#x", st);
	zt_check_sys(waitpid(execer, &st, 0) == execer, "waitpid");
	zt_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child that execs: status %#x", st);
	zt_check_sys(waitpid(child, &st, 0) == child, "waitpid");
	zt_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "child: status %#x (10: a page differs from the dump, 11: from its own writes)",
		  st);
	/* the child's writes stayed the child's */
	bad = check_all(NPAGES - 64, NPAGES, 3);
	zt_expect(bad < 0, "parent after the child: page %ld differs", bad);
	zt_pass();
}
