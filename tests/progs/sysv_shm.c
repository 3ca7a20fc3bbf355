/* System V shared memory between a parent and its child:
 *
 *   A  IPC_PRIVATE, 5 pages and 100 bytes, attached read-write by both (inherited by the
 *      fork); each writes a stripe of its own after the fork, page 2 is never touched (a
 *      hole); the parent makes its last page read-only (mprotect: two VMAs, one attach)
 *   B  with a key, 2 pages, locked in memory (SHM_LOCK), written by the parent (read-write
 *      attach), attached read-only by the child
 *   C  IPC_PRIVATE, 1 page, attached by both, then removed (IPC_RMID): it lives on only
 *      while attached
 *   D  IPC_PRIVATE, 1 page, written by the parent and detached: no task holds it, cryo
 *      leaves it on the host (and says so), where it still is after the restore
 *
 * Checked after the check, by both: ids, keys, sizes, modes, owners, the number of attaches
 * and the last task to attach (or detach) as they were (IPC_STAT), each attach at its
 * address with its protection (B read-only in the child, and mprotect cannot make it
 * writable), C still marked removed
 * and its key gone, A's hole still a hole, the content of every stripe; then by effect: each
 * writes anew into A and C, and sees the other's writes; the parent writes into B and the
 * child sees it. Finally the segments are detached and removed. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#define PG 4096UL
#define A_SIZE (5 * PG + 100)

enum { S_P, S_C, NS };
enum { V_WROTE_P = 0, V_WROTE_C = 1, V_CHECKED = 2 };

static int ida, idb, idc, idd;
static bool keep_d, partial;
static key_t keyb;
static char *A, *B, *C;
static struct shmid_ds *before; /* shared: taken by the parent once both are set up */

static bool has(const void *p, size_t len, unsigned seed)
{
	return zt_check_pattern(p, len, seed) < 0;
}

static void expect_perms(int s, const char *what, const void *addr, const char *perms)
{
	char line[512];
	if (!zt_tree_expect(s, zt_maps_line(addr, line, sizeof(line)), "%s: not mapped", what))
		return;
	zt_tree_expect(s, !strncmp(strchr(line, ' ') + 1, perms, 4), "%s: '%s', wanted %s", what,
		       line, perms);
}

static void expect_stat(int s, const char *what, int id, const struct shmid_ds *b)
{
	struct shmid_ds ds;
	if (!zt_tree_expect(s, shmctl(id, IPC_STAT, &ds) == 0, "%s: IPC_STAT of %d: %s", what, id,
			    strerror(errno)))
		return;
	zt_tree_expect(s, ds.shm_segsz == b->shm_segsz, "%s: size %zu, was %zu", what, ds.shm_segsz,
		       b->shm_segsz);
	zt_tree_expect(s, ds.shm_perm.__key == b->shm_perm.__key, "%s: key %#x, was %#x", what,
		       ds.shm_perm.__key, b->shm_perm.__key);
	zt_tree_expect(s, ds.shm_perm.mode == b->shm_perm.mode, "%s: mode %o, was %o", what,
		       ds.shm_perm.mode, b->shm_perm.mode);
	zt_tree_expect(s, ds.shm_perm.uid == b->shm_perm.uid && ds.shm_perm.gid == b->shm_perm.gid,
		       "%s: owner %u:%u, was %u:%u", what, ds.shm_perm.uid, ds.shm_perm.gid,
		       b->shm_perm.uid, b->shm_perm.gid);
	zt_tree_expect(s, ds.shm_nattch == b->shm_nattch, "%s: attached %lu times, was %lu", what,
		       (unsigned long)ds.shm_nattch, (unsigned long)b->shm_nattch);
	zt_tree_expect(s, ds.shm_lpid == b->shm_lpid, "%s: last attached by %d, was %d", what,
		       ds.shm_lpid, b->shm_lpid);
}

static void check_state(int s)
{
	expect_stat(s, "A", ida, &before[0]);
	expect_stat(s, "B", idb, &before[1]);
	expect_stat(s, "C", idc, &before[2]);
	zt_tree_expect(s, shmget(keyb, 0, 0) == idb, "B: its key %#x does not lead to %d", keyb,
		       idb);
	expect_perms(s, "A", A, "rw-s");
	if (!(partial && s == S_C))
		expect_perms(s, "A's last page", A + 5 * PG, s == S_P ? "r--s" : "rw-s");
	expect_perms(s, "B", B, s == S_P ? "rw-s" : "r--s");
	expect_perms(s, "C", C, "rw-s");
	if (s == S_C)
		zt_tree_expect(s, mprotect(B, PG, PROT_READ | PROT_WRITE) < 0 && errno == EACCES,
			       "B: a read-only attach could be made writable");
	zt_tree_expect(s, has(A, PG, 10) && has(A + PG, PG, 11), "A: the parent's stripe differs");
	zt_tree_expect(s, has(A + 3 * PG, PG, 20) && has(A + 4 * PG, PG, 21),
		       "A: the child's stripe differs");
	zt_tree_expect(s, (partial && s == S_C) || has(A + 5 * PG, 100, 30),
		       "A: its last bytes differ");
	for (size_t k = 0; k < PG; k++)
		if (A[2 * PG + k]) {
			zt_tree_expect(s, false, "A: page 2, never written, is not zero");
			break;
		}
	zt_tree_expect(s, has(B, 2 * PG, 40), "B differs");
	if (s == S_P) {
		char *d = shmat(idd, NULL, SHM_RDONLY);
		if (zt_expect(d != (void *)-1, "D: shmat: %s", strerror(errno))) {
			size_t k = 0;
			while (k < PG && d[k] == (char)(k * 13 + 5))
				k++;
			zt_expect(k == PG, "D differs at byte %zu", k);
			shmdt(d);
		}
	}
	zt_tree_expect(s, has(C, PG, 50), "C differs");
}

static void child(void)
{
	zt_tree_child();
	/* the inherited attach makes way for a read-only one at the same place */
	if (shmdt(B) < 0)
		zt_tree_fail(S_C, "shmdt B: %s", strerror(errno));
	B = shmat(idb, B, SHM_RDONLY);
	if (B == (void *)-1)
		zt_tree_fail(S_C, "shmat B read-only: %s", strerror(errno));
	zt_fill_pattern(A + 3 * PG, PG, 20);
	zt_fill_pattern(A + 4 * PG, PG, 21);
	/* ZT_SYSV_PARTIAL=1 (the sysv-refused case): the child's attach of A loses its last
	 * page (munmap), a partial attach */
	partial = getenv("ZT_SYSV_PARTIAL") != NULL;
	if (partial && munmap(A + 5 * PG, PG) < 0)
		zt_tree_fail(S_C, "munmap: %s", strerror(errno));
	zt_tree_ready(S_C, "child");
	zt_tree_wait_go();
	check_state(S_C);
	/* the parent checks the same state: nobody writes before both have */
	zt_tree_expect(S_C, zt_tree_wait_var(V_CHECKED, 1, 5000), "the parent did not check");
	zt_fill_pattern(A + 4 * PG, PG, 61);
	zt_fill_pattern(C, 64, 62);
	zt_tree_set(V_WROTE_C, 1);
	zt_tree_expect(S_C, zt_tree_wait_var(V_WROTE_P, 1, 5000), "the parent did not write");
	zt_tree_expect(S_C, has(A, PG, 71), "A: the parent's new write is not seen");
	zt_tree_expect(S_C, has(C + 64, 64, 72), "C: the parent's new write is not seen");
	zt_tree_expect(S_C, has(B + PG, PG, 73), "B: the parent's new write is not seen");
	zt_tree_done(S_C);
	_exit(0);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	zt_tree_init(NS);
	before = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (before == MAP_FAILED)
		zt_fail("mmap: %s", strerror(errno));
	keyb = (key_t)(0x5a000000 | (getpid() & 0xffffff));
	ida = shmget(IPC_PRIVATE, A_SIZE, IPC_CREAT | 0640);
	idb = shmget(keyb, 2 * PG, IPC_CREAT | IPC_EXCL | 0604);
	idc = shmget(IPC_PRIVATE, PG, IPC_CREAT | 0600);
	idd = shmget(IPC_PRIVATE, PG, IPC_CREAT | 0600);
	if (ida < 0 || idb < 0 || idc < 0 || idd < 0)
		zt_fail("shmget: %s", strerror(errno));
	keep_d = getenv("ZT_SYSV_KEEP_D") != NULL;
	if (keep_d) {
		FILE *f = fopen("d_id", "w");
		if (!f || fprintf(f, "%d\n", idd) < 0 || fclose(f))
			zt_fail("d_id: %s", strerror(errno));
	}
	A = shmat(ida, NULL, 0);
	B = shmat(idb, NULL, 0);
	C = shmat(idc, NULL, 0);
	if (A == (void *)-1 || B == (void *)-1 || C == (void *)-1)
		zt_fail("shmat: %s", strerror(errno));
	zt_fill_pattern(A, PG, 10);
	zt_fill_pattern(A + PG, PG, 11);
	zt_fill_pattern(B, 2 * PG, 40);
	zt_fill_pattern(C, PG, 50);
	zt_fill_pattern(A + 5 * PG, 100, 30);
	char *d = shmat(idd, NULL, 0);
	if (d == (void *)-1)
		zt_fail("shmat D: %s", strerror(errno));
	for (size_t k = 0; k < PG; k++) /* D is attached elsewhere later: no address pattern */
		d[k] = (char)(k * 13 + 5);
	shmdt(d);
	pid_t pid = fork();
	if (pid < 0)
		zt_fail("fork: %s", strerror(errno));
	if (pid == 0)
		child();
	if (shmctl(idc, IPC_RMID, NULL) < 0 || mprotect(A + 5 * PG, PG, PROT_READ) < 0 ||
	    shmctl(idb, SHM_LOCK, NULL) < 0)
		zt_fail("IPC_RMID/mprotect/SHM_LOCK: %s", strerror(errno));
	/* ZT_SYSV_OUTSIDE=1 (the sysv-refused case): A is attached by a process outside the
	 * tree too (an orphan, reparented to the reaper) */
	if (getenv("ZT_SYSV_OUTSIDE")) {
		int pfd[2];
		char c;
		if (pipe(pfd) < 0)
			zt_fail("pipe: %s", strerror(errno));
		pid_t o = fork();
		if (o == 0) {
			if (fork() == 0) {
				zt_tree_child();
				setsid();
				close(pfd[0]);
				shmat(ida, NULL, 0);
				close(pfd[1]);
				for (;;)
					pause();
			}
			_exit(0);
		}
		close(pfd[1]);
		zt_waitpid(o, NULL, 0);
		if (read(pfd[0], &c, 1) != 0)
			zt_fail("the outside process did not start");
		close(pfd[0]);
	}
	zt_tree_wait_ready();
	if (shmctl(ida, IPC_STAT, &before[0]) || shmctl(idb, IPC_STAT, &before[1]) ||
	    shmctl(idc, IPC_STAT, &before[2]))
		zt_fail("IPC_STAT: %s", strerror(errno));
	if (!(before[2].shm_perm.mode & SHM_DEST) || before[2].shm_perm.__key != IPC_PRIVATE ||
	    !(before[1].shm_perm.mode & SHM_LOCKED))
		zt_fail("C is not marked removed, or B not locked");
	zt_ready();
	zt_wait_for_check();
	zt_tree_go();
	check_state(S_P);
	zt_tree_set(V_CHECKED, 1);
	zt_expect(zt_tree_wait_var(V_WROTE_C, 1, 5000), "the child did not write");
	zt_expect(has(A + 4 * PG, PG, 61), "A: the child's new write is not seen");
	zt_expect(has(C, 64, 62), "C: the child's new write is not seen");
	zt_fill_pattern(A, PG, 71);
	zt_fill_pattern(C + 64, 64, 72);
	zt_fill_pattern(B + PG, PG, 73);
	zt_tree_set(V_WROTE_P, 1);
	zt_tree_collect();
	zt_waitpid(pid, NULL, 0);
	shmdt(A), shmdt(B), shmdt(C);
	shmctl(ida, IPC_RMID, NULL);
	shmctl(idb, IPC_RMID, NULL);
	/* ZT_SYSV_KEEP_D=1 (sysv-fail-restore, which restores the same images again and
	 * again): D stays for the next restore, its id in the file d_id, removed by the case */
	if (!keep_d)
		shmctl(idd, IPC_RMID, NULL);
	zt_pass();
}
