/* Memory shared, and memory still copy-on-write, between the processes of a tree:
 *
 *   R: the test
 *   +-- C1
 *   |   +-- G1
 *   +-- C2
 *
 *   S   MAP_SHARED anonymous, made by R before the forks: a 2-page stripe per task, each
 *       filled by its owner after the fork
 *   S2  MAP_SHARED anonymous, made by R before the forks and unmapped by R after them: an
 *       object that lives only in C1 and C2 (and G1)
 *   S3  MAP_SHARED anonymous, made by C1 after its fork from R: C1 and G1 only
 *   P   MAP_PRIVATE anonymous, written by R before the forks and never again: one set of
 *       copy-on-write pages for all four
 *   Q   MAP_PRIVATE anonymous, made before the forks, rewritten by each task after: diverged
 *
 * Checked after the check, by every task: all stripes of S (written by the others before the
 * dump), S2 and S3 where mapped, P and its own Q, and 's'/'p' in the maps perms. R also
 * checks that S2 is not mapped in R. (Whether P is still one set of physical pages is
 * cow_tree's business.)
 * Then by effect: each task writes a new pattern into its stripe of S (C1 into S2, G1 into
 * S3, C2 over a page of P, breaking its copy-on-write), and once all have written, each
 * checks that it sees every other's writes, and that C2's write to P reached nobody else.
 * Finally each process reaps its children (exit 0).
 * Also run in the gen2 mode. */
// zt-run: gen2 lazy predump page-server
#include "zt_tree.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL
#define P_PAGES 16
#define COW_PAGE 3	/* the page of P C2 writes at step 2 */

enum { S_R, S_C1, S_C2, S_G1, NS };
static const char *const names[NS] = { "R", "C1", "C2", "G1" };

enum { V_STEP = 0, V_ACK = 1 };	/* V_ACK + slot */

static char *S, *S2, *S3, *P, *Q;

static char *stripe(int i, int page)
{
	return S + (2 * i + page) * PG;
}

static char *map(int flags, size_t pages)
{
	char *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static bool has(const char *mem, unsigned int seed)
{
	return zt_check_pattern(mem, PG, seed) < 0;
}

static void expect_perms(int s, const char *what, const void *addr, const char *perms)
{
	char line[512];

	if (!zt_tree_expect(s, zt_maps_line(addr, line, sizeof(line)), "%s: not mapped", what))
		return;
	zt_tree_expect(s, !strncmp(strchr(line, ' ') + 1, perms, 4), "%s: '%s', wanted %s", what,
		       line, perms);
}

/* What every task sees before anyone writes again. */
static void check_state(int s)
{
	for (int j = 0; j < NS; j++) {
		zt_tree_expect(s, has(stripe(j, 0), 10 + j) && has(stripe(j, 1), 110 + j),
			       "S: stripe of %s differs", names[j]);
	}
	if (s != S_R) {
		expect_perms(s, "S2", S2, "rw-s");
		zt_tree_expect(s, has(S2, 30), "S2 page 0 (written by C1) differs");
	}
	if (s == S_C1 || s == S_G1) {
		expect_perms(s, "S3", S3, "rw-s");
		zt_tree_expect(s, has(S3, 40), "S3 page 0 (written by G1) differs");
	}
	for (int k = 0; k < P_PAGES; k++)
		zt_tree_expect(s, has(P + k * PG, 50), "P page %d differs", k);
	zt_tree_expect(s, zt_check_pattern(Q, 4 * PG, 20 + s) < 0, "Q: not our own data");
	expect_perms(s, "S", S, "rw-s");
	expect_perms(s, "P", P, "rw-p");
	expect_perms(s, "Q", Q, "rw-p");
}

/* Step 2: each writes; step 3: each sees the others' writes. */
static void write_step(int s)
{
	zt_fill_pattern(stripe(s, 0), PG, 60 + s);
	if (s == S_C1)
		zt_fill_pattern(S2 + PG, PG, 70);
	if (s == S_G1)
		zt_fill_pattern(S3 + PG, PG, 80);
	if (s == S_C2)
		zt_fill_pattern(P + COW_PAGE * PG, PG, 90);
}

static void check_writes(int s)
{
	for (int j = 0; j < NS; j++)
		zt_tree_expect(s, has(stripe(j, 0), 60 + j), "S: %s's write not seen", names[j]);
	if (s != S_R)
		zt_tree_expect(s, has(S2 + PG, 70), "S2: C1's write not seen");
	if (s == S_C1 || s == S_G1)
		zt_tree_expect(s, has(S3 + PG, 80), "S3: G1's write not seen");
	if (s == S_C2)
		zt_tree_expect(s, has(P + COW_PAGE * PG, 90), "P: our own write lost");
	else
		zt_tree_expect(s, has(P + COW_PAGE * PG, 50), "P: C2's private write is seen");
}

/* The common part of each task after the check. */
static void run_check(int s)
{
	check_state(s);
	zt_tree_set(V_ACK + s, 1);
	if (!zt_tree_wait_var(V_STEP, 2, 15000)) {
		zt_tree_expect(s, false, "R never started step 2");
		return;
	}
	write_step(s);
	zt_tree_set(V_ACK + s, 2);
	if (!zt_tree_wait_var(V_STEP, 3, 15000)) {
		zt_tree_expect(s, false, "R never started step 3");
		return;
	}
	check_writes(s);
}

static void reap(int s, pid_t pid, int child)
{
	int status = 0;

	if (!zt_tree_wait_done(child, 15000))
		return;
	zt_tree_expect(
	    s, zt_waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status),
	    "%s: exit status %#x", names[child], status);
}

static void child_start(int s)
{
	pid_t g = 0;

again:	/* G1 starts here too, as a child of C1 */
	zt_tree_child();
	zt_fill_pattern(stripe(s, 0), PG, 10 + s);
	zt_fill_pattern(stripe(s, 1), PG, 110 + s);
	zt_fill_pattern(Q, 4 * PG, 20 + s);
	if (s == S_C1) {
		zt_fill_pattern(S2, PG, 30);
		S3 = map(MAP_SHARED, 2);
		if (!S3)
			zt_tree_fail(s, "mmap: %m");
		fflush(NULL);
		g = fork();
		if (g < 0)
			zt_tree_fail(s, "fork: %m");
		if (g == 0) {
			s = S_G1;
			goto again;
		}
	}
	if (s == S_G1)
		zt_fill_pattern(S3, PG, 40);
	zt_tree_ready(s, names[s]);
	zt_tree_wait_go();
	run_check(s);
	if (g > 0)
		reap(s, g, S_G1);
	zt_tree_done(s);
	_exit(0);
}

int main(int argc, char **argv)
{
	pid_t c[NS];
	char line[512];

	zt_init(argc, argv);
	zt_tree_init(NS);
	S = map(MAP_SHARED, 2 * NS);
	S2 = map(MAP_SHARED, 2);
	P = map(MAP_PRIVATE, P_PAGES);
	Q = map(MAP_PRIVATE, 4);
	if (!S || !S2 || !P || !Q)
		zt_fail("mmap: %m");
	for (int k = 0; k < P_PAGES; k++)
		zt_fill_pattern(P + k * PG, PG, 50);

	for (int s = S_C1; s <= S_C2; s++) {
		fflush(NULL);
		c[s] = fork();
		if (c[s] < 0)
			zt_fail("fork: %m");
		if (c[s] == 0)
			child_start(s);
	}
	/* S2 lives on in the children only. */
	if (munmap(S2, 2 * PG))
		zt_fail("munmap: %m");
	zt_fill_pattern(stripe(S_R, 0), PG, 10);
	zt_fill_pattern(stripe(S_R, 1), PG, 110);
	zt_fill_pattern(Q, 4 * PG, 20);
	zt_tree_ready(S_R, names[S_R]);
	zt_tree_wait_ready();

	zt_ready();
	zt_wait_for_check();

	zt_expect(!zt_maps_line(S2, line, sizeof(line)), "S2 is mapped in R again: %s", line);
	zt_tree_go();
	check_state(S_R);
	for (int s = S_C1; s < NS; s++)
		zt_expect(zt_tree_wait_var(V_ACK + s, 1, 15000), "%s: no step 1", names[s]);
	zt_tree_set(V_STEP, 2);
	write_step(S_R);
	for (int s = S_C1; s < NS; s++)
		zt_expect(zt_tree_wait_var(V_ACK + s, 2, 15000), "%s: no step 2", names[s]);
	zt_tree_set(V_STEP, 3);
	check_writes(S_R);

	zt_tree_collect();
	for (int s = S_C1; s <= S_C2; s++) {
		int status = 0;
		if (!zt_tree_wait_done(s, 0))
			continue;
		zt_expect(zt_waitpid(c[s], &status, 0) == c[s] && WIFEXITED(status) &&
				  !WEXITSTATUS(status),
			  "%s: exit status %#x", names[s], status);
	}
	zt_pass();
}
