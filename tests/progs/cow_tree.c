/* Copy-on-write sharing of private memory across a process tree must survive a restore: a
 * tree restored with a private copy of every inherited page in every process has the right
 * data but takes several times the memory, and a fork server's children would no longer
 * share anything with it.
 *
 *   R: the test, 64 pages of private anonymous memory P, all written before any fork
 *   +-- C1: rewrites pages 32-47, then forks G1
 *   |   +-- G1
 *   +-- C2
 *   R rewrites pages 48-63 after the forks.
 *
 * So the kernel holds three groups of page frames: pages 0-31 one frame each for all four;
 * pages 32-47 one frame for C1 and G1 and another for R and C2; pages 48-63 R's own and one
 * frame for C1, C2 and G1. An untouched region Z (16 pages) has no frames at all.
 *
 * Checked after the check: each process's data in P (its own view: 50 / 60 / 70 patterns by
 * page), then, by R, the page frame numbers of every page of P in the four processes
 * (/proc/PID/pagemap, which shows them to root) against the groups above, and that no page
 * of Z is present anywhere. Finally R reaps its children (exit 0). */
// zt-run: lazy page-server
#include "zt_tree.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL
#define NP 64
#define NZ 16

enum { S_R, S_C1, S_C2, S_G1, NS };
static const char *const names[NS] = { "R", "C1", "C2", "G1" };

enum { V_STEP = 0, V_ACK = 1 };	/* V_ACK + slot */

struct ids {
	pid_t pid[NS];
};
static struct ids *ids;
static char *P, *Z;

/* The pattern seed of page k of P as process s sees it. */
static unsigned int seed_of(int s, int k)
{
	if (k >= 32 && k < 48 && (s == S_C1 || s == S_G1))
		return 60;
	if (k >= 48 && s == S_R)
		return 70;
	return 50;
}

/* Which processes share page k's frame: a group number per process. */
static int group_of(int s, int k)
{
	if (k < 32)
		return 0;
	if (k < 48)
		return s == S_C1 || s == S_G1;
	return s == S_R;
}

static void check_data(int s)
{
	int bad = 0, first = -1;

	for (int k = 0; k < NP; k++)
		if (zt_check_pattern(P + k * PG, PG, seed_of(s, k)) >= 0) {
			bad++;
			if (first < 0)
				first = k;
		}
	zt_tree_expect(s, bad == 0, "P: %d pages differ (first: page %d)", bad, first);
}

/* The pagemap entry of the page at addr in pid: bit 63 present, bits 0-54 the frame. */
static uint64_t pagemap(pid_t pid, const void *addr)
{
	char path[64];
	uint64_t e = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (uintptr_t)addr / PG * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	return e;
}

static uint64_t pfn(pid_t pid, const void *addr)
{
	uint64_t e = pagemap(pid, addr);

	return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

/* Frames against the groups; one line per kind of mistake, with the first page. */
static void check_frames(const char *when)
{
	int apart = 0, merged = 0, absent = 0, first_apart = -1, first_merged = -1;
	int zpresent = 0;

	for (int k = 0; k < NP; k++) {
		uint64_t f[NS];
		for (int s = 0; s < NS; s++) {
			f[s] = pfn(ids->pid[s], P + k * PG);
			absent += !f[s];
		}
		for (int a = 0; a < NS; a++)
			for (int b = a + 1; b < NS; b++) {
				bool same = group_of(a, k) == group_of(b, k);
				if (same && f[a] != f[b]) {
					apart++;
					if (first_apart < 0)
						first_apart = k;
				}
				if (!same && f[a] == f[b] && f[a]) {
					merged++;
					if (first_merged < 0)
						first_merged = k;
				}
			}
	}
	for (int k = 0; k < NZ; k++)
		for (int s = 0; s < NS; s++)
			zpresent += (pagemap(ids->pid[s], Z + k * PG) >> 63) != 0;
	zt_expect(absent == 0, "%s: %d pages of P not present", when, absent);
	zt_expect(apart == 0, "%s: %d pairs of processes with separate frames for a page they "
		  "shared copy-on-write (first: page %d)", when, apart, first_apart);
	zt_expect(merged == 0, "%s: %d pairs of processes sharing a frame for a page they had "
		  "apart (first: page %d)", when, merged, first_merged);
	zt_expect(zpresent == 0, "%s: %d pages of the untouched region present", when, zpresent);
}

static void child(int s)
{
	pid_t g = 0;
	int status = 0;

again:	/* G1 starts here too, as C1's child */
	zt_tree_child();
	ids->pid[s] = getpid();
	if (s == S_C1) {
		for (int k = 32; k < 48; k++)
			zt_fill_pattern(P + k * PG, PG, 60);
		fflush(NULL);
		g = fork();
		if (g < 0)
			zt_tree_fail(s, "fork: %m");
		if (g == 0) {
			s = S_G1;
			g = 0;
			goto again;
		}
	}
	zt_tree_ready(s, names[s]);
	zt_tree_wait_go();
	zt_tree_expect(s, getpid() == ids->pid[s], "pid %d, was %d", getpid(), ids->pid[s]);
	check_data(s);
	zt_tree_set(V_ACK + s, 1);
	/* Stay (and touch nothing) until R has looked at our frames. */
	zt_tree_expect(s, zt_tree_wait_var(V_STEP, 2, 15000), "R never finished");
	if (g > 0 && zt_tree_wait_done(S_G1, 15000))
		zt_tree_expect(s, zt_waitpid(g, &status, 0) == g && WIFEXITED(status) &&
					  !WEXITSTATUS(status),
			       "G1: exit status %#x", status);
	zt_tree_done(s);
	_exit(0);
}

int main(int argc, char **argv)
{
	pid_t c[NS];
	int status, nfail;

	zt_init(argc, argv);
	zt_tree_init(NS);
	ids = mmap(NULL, sizeof(*ids), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	P = mmap(NULL, NP * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	Z = mmap(NULL, NZ * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ids == MAP_FAILED || P == MAP_FAILED || Z == MAP_FAILED)
		zt_fail("mmap: %m");
	/* No huge pages: the frames are compared page by page. */
	madvise(P, NP * PG, MADV_NOHUGEPAGE);
	for (int k = 0; k < NP; k++)
		zt_fill_pattern(P + k * PG, PG, 50);
	ids->pid[S_R] = getpid();
	for (int s = S_C1; s <= S_C2; s++) {
		fflush(NULL);
		c[s] = fork();
		if (c[s] < 0)
			zt_fail("fork: %m");
		if (c[s] == 0)
			child(s);
	}
	for (int k = 48; k < NP; k++)
		zt_fill_pattern(P + k * PG, PG, 70);
	zt_tree_ready(S_R, names[S_R]);
	zt_tree_wait_ready();
	check_frames("setup");
	if (zt_failures())
		zt_fail("setup: the frames are not as the forks made them");

	zt_ready();
	zt_wait_for_check();

	check_data(S_R);
	nfail = zt_failures();
	check_frames("after the check");
	zt_tree_go();
	for (int s = S_C1; s < NS; s++)
		zt_expect(zt_tree_wait_var(V_ACK + s, 1, 15000), "%s: no verdict on its data",
			  names[s]);
	/* Reading the data changed no frame (said once: a lost sharing stays lost). */
	if (zt_failures() == nfail)
		check_frames("after reading");
	zt_tree_set(V_STEP, 2);
	zt_tree_collect();
	for (int s = S_C1; s <= S_C2; s++) {
		if (!zt_tree_wait_done(s, 0))
			continue;
		status = 0;
		zt_expect(zt_waitpid(c[s], &status, 0) == c[s] && WIFEXITED(status) &&
				  !WEXITSTATUS(status),
			  "%s: exit status %#x", names[s], status);
	}
	zt_pass();
}
