/* Seals of memfds, in force after the dump the way a program meets them:
 *
 *   W  F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, mapped shared read-only (and
 *      MAP_PRIVATE writable, which a write seal allows)
 *   F  F_SEAL_FUTURE_WRITE added while a writable shared mapping existed: that mapping still
 *      writes, nothing new may; a read-only shared mapping made after the seal cannot be
 *      made writable
 *   X  F_SEAL_EXEC on a memfd made with MFD_EXEC: its mode's x bits are fixed (and, the
 *      kernel adds, it is write-sealed)
 *
 * Checked after the dump: F_GET_SEALS of each; every write that must fail fails with EPERM
 * (write, pwrite, ftruncate up and down, a writable shared mmap, F_ADD_SEALS after
 * F_SEAL_SEAL, chmod of x bits; EACCES for mprotect of the sealed read-only mappings), while what
 * the seals allow still works (reads, the old writable mapping of F, whose stores pread sees, the
 * private mapping of W, F_ADD_SEALS on F, chmod of X's other bits). Also run in the gen2
 * mode. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

#define PG 4096L

static void expect_err(int rv, int err, const char *what)
{
	zt_expect(rv < 0 && errno == err, "%s: %d (%m), not %s", what, rv, strerror(err));
}

static void expect_eperm(int rv, const char *what)
{
	expect_err(rv, EPERM, what);
}

int main(int argc, char **argv)
{
	char buf[16];
	char *w_ro, *w_priv, *f_rw, *f_ro;
	int w, f, x;

	zt_init(argc, argv);
	w = memfd_create("zt-write-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	f = memfd_create("zt-future", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	x = memfd_create("zt-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (w < 0 || f < 0 || x < 0 || ftruncate(w, 2 * PG) || ftruncate(f, 2 * PG) ||
	    pwrite(w, "sealed", 6, 10) != 6 || pwrite(x, "x", 1, 0) != 1)
		zt_fail("memfd_create: %m");
	f_rw = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	if (f_rw == MAP_FAILED)
		zt_fail("mmap: %m");
	memcpy(f_rw, "before", 6);
	if (fcntl(w, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) ||
	    fcntl(f, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) || fcntl(x, F_ADD_SEALS, F_SEAL_EXEC))
		zt_fail("F_ADD_SEALS: %m");
	w_ro = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, w, 0);
	w_priv = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, w, 0);
	f_ro = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, f, 0);
	if (w_ro == MAP_FAILED || w_priv == MAP_FAILED || f_ro == MAP_FAILED)
		zt_fail("mmap after the seals: %m");
	memcpy(w_priv + 10, "mine", 4);

	zt_ready();
	zt_wait_for_check();

	zt_expect(fcntl(w, F_GET_SEALS) ==
		      (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
		  "W: seals %#x", fcntl(w, F_GET_SEALS));
	zt_expect(fcntl(f, F_GET_SEALS) == F_SEAL_FUTURE_WRITE, "F: seals %#x",
		  fcntl(f, F_GET_SEALS));
	/* on an executable memfd, the kernel makes F_SEAL_EXEC imply the write seals */
	zt_expect(fcntl(x, F_GET_SEALS) == (F_SEAL_EXEC | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE |
					    F_SEAL_SHRINK | F_SEAL_GROW),
		  "X: seals %#x", fcntl(x, F_GET_SEALS));

	/* W */
	errno = 0;
	expect_eperm((int)write(w, "no", 2), "W: write");
	errno = 0;
	expect_eperm((int)pwrite(w, "no", 2, 0), "W: pwrite");
	errno = 0;
	expect_eperm(ftruncate(w, PG), "W: shrink");
	errno = 0;
	expect_eperm(ftruncate(w, 4 * PG), "W: grow");
	errno = 0;
	expect_eperm(fcntl(w, F_ADD_SEALS, F_SEAL_EXEC), "W: a seal after F_SEAL_SEAL");
	errno = 0;
	void *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, w, 0);
	expect_eperm(m == MAP_FAILED ? -1 : 0, "W: a writable shared mapping");
	errno = 0;
	expect_err(mprotect(w_ro, 2 * PG, PROT_READ | PROT_WRITE), EACCES,
		   "W: its read-only shared mapping made writable");
	zt_expect(pread(w, buf, 6, 10) == 6 && !memcmp(buf, "sealed", 6), "W: data differs");
	zt_expect(!memcmp(w_ro + 10, "sealed", 6), "W: the shared mapping's data differs");
	zt_expect(!memcmp(w_priv + 10, "mine", 4), "W: the private mapping's page is lost");
	memcpy(w_priv + PG, "ok", 2); /* a write seal allows private copies */

	/* F */
	errno = 0;
	expect_eperm((int)pwrite(f, "no", 2, 0), "F: pwrite");
	errno = 0;
	m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	expect_eperm(m == MAP_FAILED ? -1 : 0, "F: a new writable shared mapping");
	errno = 0;
	expect_err(mprotect(f_ro, 2 * PG, PROT_READ | PROT_WRITE), EACCES,
		   "F: the read-only mapping made after the seal made writable");
	zt_expect(!memcmp(f_rw, "before", 6) && !memcmp(f_ro, "before", 6), "F: data differs");
	memcpy(f_rw + 100, "after", 5); /* the mapping made before the seal still writes */
	zt_expect(pread(f, buf, 5, 100) == 5 && !memcmp(buf, "after", 5),
		  "F: a store through the old writable mapping is not in the memfd");
	zt_expect(!memcmp(f_ro + 100, "after", 5), "F: ... nor in the other mapping");
	zt_expect(ftruncate(f, 3 * PG) == 0, "F: ftruncate, which its seal allows: %m");
	zt_expect(fcntl(f, F_ADD_SEALS, F_SEAL_GROW) == 0, "F: no more seals can be added: %m");

	/* X */
	errno = 0;
	expect_eperm(fchmod(x, 0666), "X: x bits taken away");
	zt_expect(fchmod(x, 0775) == 0, "X: chmod of the other bits: %m");
	zt_pass();
}
