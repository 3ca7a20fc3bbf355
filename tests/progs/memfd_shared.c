/* One memfd shared by two processes, through descriptors and mappings:
 *
 *   R: the test, holds the memfd at fd M (read-write, its own position) and maps it
 *      MAP_SHARED (pages 0-3) and MAP_PRIVATE (pages 0-3, page 1 rewritten: its own copy)
 *   C: forked by R: inherits M (the same open file description), keeps it at fd 8 only,
 *      maps pages 2-5 MAP_SHARED (so at another offset); it also opens a read-only description of
 *      its own through /proc/self/fd before closing, kept at fd 7.
 *
 * Checked after the dump, in both: the data of every mapping; C's fd 7 is the memfd its
 * mapping maps; C's shared mapping and R's are one object: C writes into
 * page 2, R sees it through its mapping, its fd (pread) and not in its private copy of
 * page 1; R writes into page 3 and C sees it, also through fd 7; each description keeps its
 * own position, and R's M and C's fd 8 are still one: C moves it, R sees it moved. Also run
 * in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG 4096L
#define NPAGES 6

enum { S_R, S_C, NS };
enum { V_STEP = 0, V_ACK = 1 };

static int m_fd;
static char *r_shared, *r_priv, *c_shared;

static void child(void)
{
	char path[64], buf[16];
	struct stat st, mst;
	int ro;

	zt_tree_child();
	c_shared = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, m_fd, 2 * PG);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m_fd);
	ro = open(path, O_RDONLY);
	if (c_shared == MAP_FAILED || ro < 0 || dup2(ro, 7) != 7 || lseek(7, 333, SEEK_SET) != 333)
		zt_tree_fail(S_C, "setup: %m");
	close(ro);
	/* its inherited description stays, at fd 8 only */
	if (dup2(m_fd, 8) != 8)
		zt_tree_fail(S_C, "dup2: %m");
	close(m_fd);
	zt_tree_ready(S_C, "C");
	zt_tree_wait_go();

	zt_tree_expect(S_C, zt_check_pattern_as(c_shared, 2 * PG, 1, r_shared + 2 * PG) < 0,
		       "C: its mapping's data differs");
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)c_shared,
		 (unsigned long)c_shared + 4 * PG);
	zt_tree_expect(S_C,
		       fstat(7, &st) == 0 && stat(path, &mst) == 0 && st.st_dev == mst.st_dev &&
			   st.st_ino == mst.st_ino && st.st_nlink == 0,
		       "C: fd 7 is not the memfd it maps");
	zt_tree_expect(S_C, lseek(7, 0, SEEK_CUR) == 333, "C: fd 7 at %ld",
		       (long)lseek(7, 0, SEEK_CUR));
	memcpy(c_shared + 10, "from C", 6); /* page 2 of the memfd */
	zt_tree_set(V_ACK + S_C, 1);
	if (zt_tree_wait_var(V_STEP, 2, 15000)) {
		zt_tree_expect(S_C, !memcmp(c_shared + PG + 20, "from R", 6),
			       "C: R's store into page 3 is not seen");
		zt_tree_expect(S_C, pread(7, buf, 6, 3 * PG + 20) == 6 && !memcmp(buf, "from R", 6),
			       "C: R's store is not seen through fd 7");
	} else {
		zt_tree_expect(S_C, false, "R never started step 2");
	}
	/* one description with R's fd: R sees it move */
	lseek(8, 999, SEEK_SET);
	zt_tree_set(V_ACK + S_C, 2);
	zt_tree_done(S_C);
	_exit(0);
}

int main(int argc, char **argv)
{
	char buf[16];
	pid_t c;
	int status = 0;

	zt_init(argc, argv);
	zt_tree_init(NS);
	m_fd = memfd_create("zt-shared", MFD_CLOEXEC);
	if (m_fd < 0 || ftruncate(m_fd, NPAGES * PG))
		zt_fail("memfd_create: %m");
	r_shared = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, m_fd, 0);
	r_priv = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, m_fd, 0);
	if (r_shared == MAP_FAILED || r_priv == MAP_FAILED)
		zt_fail("mmap: %m");
	zt_fill_pattern(r_shared, 4 * PG, 1);
	zt_fill_pattern(r_priv + PG, PG, 2); /* its own copy of page 1 */
	if (pwrite(m_fd, "tail", 4, 5 * PG) != 4 || lseek(m_fd, 4321, SEEK_SET) != 4321)
		zt_fail("setup: %m");
	fflush(NULL);
	c = fork();
	if (c < 0)
		zt_fail("fork: %m");
	if (c == 0)
		child();
	zt_tree_ready(S_R, "R");
	zt_tree_wait_ready();

	zt_ready();
	zt_wait_for_check();

	/* before C is told to go and writes */
	zt_expect(zt_check_pattern(r_shared, 4 * PG, 1) < 0, "R: shared data differs");
	zt_expect(zt_check_pattern(r_priv + PG, PG, 2) < 0, "R: its private page differs");
	zt_expect(zt_check_pattern_as(r_priv, PG, 1, r_shared) < 0,
		  "R: the private mapping's untouched page differs");
	zt_expect(lseek(m_fd, 0, SEEK_CUR) == 4321, "R: fd at %ld", (long)lseek(m_fd, 0, SEEK_CUR));
	zt_expect(pread(m_fd, buf, 4, 5 * PG) == 4 && !memcmp(buf, "tail", 4),
		  "R: the page nobody maps differs");
	zt_tree_go();
	if (zt_tree_wait_var(V_ACK + S_C, 1, 15000)) {
		zt_expect(!memcmp(r_shared + 2 * PG + 10, "from C", 6),
			  "R: C's store into page 2 is not seen");
		zt_expect(pread(m_fd, buf, 6, 2 * PG + 10) == 6 && !memcmp(buf, "from C", 6),
			  "R: C's store is not seen through the fd");
	} else {
		zt_expect(false, "C gave no step 1");
	}
	memcpy(r_shared + 3 * PG + 20, "from R", 6);
	zt_expect(zt_check_pattern(r_priv + PG, PG, 2) < 0, "R: its private page changed");
	zt_tree_set(V_STEP, 2);
	zt_expect(zt_tree_wait_var(V_ACK + S_C, 2, 15000) && lseek(m_fd, 0, SEEK_CUR) == 999,
		  "R: its fd is no longer the description C holds at fd 8 (at %ld)",
		  (long)lseek(m_fd, 0, SEEK_CUR));
	zt_tree_collect();
	if (zt_tree_wait_done(S_C, 0))
		zt_expect(zt_waitpid(c, &status, 0) == c && WIFEXITED(status) &&
			      !WEXITSTATUS(status),
			  "C: exit status %#x", status);
	zt_pass();
}
