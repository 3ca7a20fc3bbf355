/* Mapping flags and access that a restore must give back, and pages a dump cannot read with
 * process_vm_readv.
 *
 * - shared.dat opened O_RDWR, mapped MAP_SHARED read-only ("r--s", VmFlags sh mw): after
 *   the dump mprotect(PROT_WRITE) must still work and a store reach the file; ro.dat opened
 *   O_RDONLY and mapped MAP_SHARED (no sh, no mw): mprotect(PROT_WRITE) must still fail;
 * - VmFlags sl (mseal: munmap and mprotect refused with EPERM), mg (MADV_MERGEABLE), lo+lf
 *   (mlock2 MLOCK_ONFAULT) on a shared mapping, dc on a file mapping;
 * - anonymous memory written then made PROT_NONE, write-only and exec-only: its data is
 *   there once readable again;
 * - guard pages (MADV_GUARD_INSTALL) inside written anonymous and private file mappings:
 *   still guards (a read of them fails with EFAULT), their neighbours' data intact;
 * - a private file mapping reaching beyond the end of its file (the pages past it would
 *   raise SIGBUS), with copy-on-write pages inside the file;
 * - a read-only private anonymous mapping that was once writable (ac), never touched.
 * Each mapping keeps its VmFlags exactly, and the whole layout is identical. */
// zt-run: gen2 lazy predump page-server
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define PG 4096UL
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef __NR_mseal
#define __NR_mseal 462
#endif

static char layout_before[256 << 10], layout_after[256 << 10];

struct region {
	const char *name;
	char *addr;
	char flags[256];
};
static struct region regions[32];
static int nr;

static void keep(const char *name, char *addr)
{
	regions[nr].name = name;
	regions[nr].addr = addr;
	zt_vmflags(addr, regions[nr].flags, sizeof(regions[nr].flags));
	nr++;
}

static int make_file(const char *name, size_t pages, unsigned seed)
{
	static char buf[64 * PG];
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		zt_fail("create %s: %m", name);
	for (size_t i = 0; i < pages * PG; i++)
		buf[i] = (char)(i * 7 + seed + (i >> 12));
	if (write(fd, buf, pages * PG) != (ssize_t)(pages * PG))
		zt_fail("write %s: %m", name);
	return fd;
}

static bool file_byte_ok(const char *p, size_t off, size_t len, unsigned seed)
{
	for (size_t i = off; i < off + len; i++)
		if (p[i - off] != (char)(i * 7 + seed + (i >> 12)))
			return false;
	return true;
}

/* Can this process read the page at p? (a guard page, PROT_NONE: no) */
static bool readable(const void *p)
{
	char c;
	struct iovec l = {&c, 1}, r = {(void *)p, 1};
	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == 1;
}

static char *map(size_t len, int prot, int flags, int fd, off_t off)
{
	char *p = mmap(NULL, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		zt_fail("mmap: %m");
	return p;
}

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

int main(int argc, char **argv)
{
	char *sh_rw, *sh_ro, *sealed, *merge, *lockshared, *dcfile, *pnone, *wonly, *xonly;
	char *guarded, *guardfile, *beyond, *acro;
	int frw, fro, fbeyond;
	bool have_seal = true, have_guard = true;

	zt_init(argc, argv);
	frw = make_file("shared.dat", 4, 1);
	close(make_file("ro.dat", 4, 2));
	fro = open("ro.dat", O_RDONLY);
	if (fro < 0)
		zt_fail("open ro.dat: %m");

	sh_rw = map(4 * PG, PROT_READ, MAP_SHARED, frw, 0);
	sh_ro = map(4 * PG, PROT_READ, MAP_SHARED, fro, 0);
	keep("shared read-only of a read-write file", sh_rw);
	keep("shared of a read-only file", sh_ro);

	sealed = map(4 * PG, RW, ANON, -1, 0);
	zt_fill_pattern(sealed, 4 * PG, 3);
	if (syscall(__NR_mseal, sealed, 4 * PG, 0)) {
		zt_log("mseal: %m (not tested)");
		have_seal = false;
	}
	keep("sealed", sealed);

	merge = map(4 * PG, RW, ANON, -1, 0);
	if (madvise(merge, 4 * PG, MADV_MERGEABLE))
		zt_log("MADV_MERGEABLE: %m");
	zt_fill_pattern(merge, 4 * PG, 4);
	keep("mergeable", merge);

	lockshared = map(8 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (syscall(SYS_mlock2, lockshared, 8 * PG, MLOCK_ONFAULT))
		zt_fail("mlock2: %m");
	zt_fill_pattern(lockshared, 2 * PG, 5);
	keep("locked on fault, shared", lockshared);

	dcfile = map(4 * PG, RW, MAP_PRIVATE, frw, 0);
	if (madvise(dcfile, 4 * PG, MADV_DONTFORK))
		zt_fail("MADV_DONTFORK: %m");
	dcfile[PG] = 'x';
	keep("dontfork file", dcfile);

	pnone = map(4 * PG, RW, ANON, -1, 0);
	wonly = map(4 * PG, RW, ANON, -1, 0);
	xonly = map(4 * PG, RW, ANON, -1, 0);
	zt_fill_pattern(pnone, 4 * PG, 6);
	zt_fill_pattern(wonly, 4 * PG, 7);
	zt_fill_pattern(xonly, 4 * PG, 8);
	if (mprotect(pnone, 4 * PG, PROT_NONE) || mprotect(wonly, 4 * PG, PROT_WRITE) ||
	    mprotect(xonly, 4 * PG, PROT_EXEC))
		zt_fail("mprotect: %m");
	keep("PROT_NONE with data", pnone);
	keep("write-only with data", wonly);
	keep("exec-only with data", xonly);

	guarded = map(8 * PG, RW, ANON, -1, 0);
	zt_fill_pattern(guarded, 8 * PG, 9);
	guardfile = map(8 * PG, RW, MAP_PRIVATE, make_file("guard.dat", 8, 10), 0);
	memcpy(guardfile + 5 * PG, "cow", 3);
	if (madvise(guarded + 2 * PG, 2 * PG, MADV_GUARD_INSTALL) ||
	    madvise(guardfile + 3 * PG, PG, MADV_GUARD_INSTALL)) {
		zt_log("MADV_GUARD_INSTALL: %m (not tested)");
		have_guard = false;
	}
	keep("guard pages in anonymous memory", guarded);
	keep("guard pages in a private file mapping", guardfile);

	fbeyond = make_file("short.dat", 2, 11);
	beyond = map(6 * PG, RW, MAP_PRIVATE, fbeyond, 0);
	memcpy(beyond + PG, "cow", 3);
	keep("private mapping beyond the end of its file", beyond);

	acro = map(4 * PG, RW, ANON, -1, 0);
	if (mprotect(acro, 4 * PG, PROT_READ))
		zt_fail("mprotect: %m");
	keep("read-only, once writable, never touched", acro);

	if (zt_smaps_layout(layout_before, sizeof(layout_before)) < 0)
		zt_fail("cannot read smaps");

	zt_ready();
	zt_wait_for_check();

	if (zt_smaps_layout(layout_after, sizeof(layout_after)) < 0)
		zt_fail("cannot read smaps after");
	zt_expect_same_text("smaps", layout_before, layout_after);
	for (int i = 0; i < nr; i++) {
		char flags[256];
		zt_vmflags(regions[i].addr, flags, sizeof(flags));
		zt_expect(!strcmp(flags, regions[i].flags), "%s: VmFlags '%s', were '%s'",
			  regions[i].name, flags, regions[i].flags);
	}

	zt_expect(dcfile[PG] == 'x' && file_byte_ok(dcfile, 0, PG, 1),
		  "dontfork file mapping data differs");

	/* the access of the file behind each shared mapping */
	zt_expect(mprotect(sh_rw, 4 * PG, RW) == 0,
		  "shared mapping of a read-write file cannot be made writable: %m");
	if (mprotect(sh_rw, 4 * PG, RW) == 0) {
		char c = 0;
		memcpy(sh_rw + 10, "new", 3);
		msync(sh_rw, PG, MS_SYNC);
		zt_expect(pread(frw, &c, 1, 11) == 1 && c == 'e',
			  "a store to the shared mapping does not reach the file");
	}
	errno = 0;
	zt_expect(mprotect(sh_ro, 4 * PG, RW) < 0 && errno == EACCES,
		  "shared mapping of a read-only file can be made writable (errno %d)", errno);
	zt_expect(file_byte_ok(sh_ro, 0, 4 * PG, 2), "read-only shared file data differs");

	if (have_seal) {
		errno = 0;
		zt_expect(munmap(sealed, PG) < 0 && errno == EPERM,
			  "sealed mapping can be unmapped (errno %d)", errno);
		zt_expect(mprotect(sealed, PG, PROT_READ) < 0 && errno == EPERM,
			  "sealed mapping's protection can change");
	}
	zt_expect(zt_check_pattern(sealed, 4 * PG, 3) < 0, "sealed data differs");
	zt_expect(zt_check_pattern(merge, 4 * PG, 4) < 0, "mergeable data differs");
	zt_expect(zt_check_pattern(lockshared, 2 * PG, 5) < 0, "locked shared data differs");

	zt_expect(!readable(pnone), "PROT_NONE memory became readable");
	zt_expect(mprotect(pnone, 4 * PG, PROT_READ) == 0 && mprotect(wonly, 4 * PG, PROT_READ) == 0 &&
		      mprotect(xonly, 4 * PG, PROT_READ) == 0,
		  "mprotect back: %m");
	zt_expect(zt_check_pattern(pnone, 4 * PG, 6) < 0, "PROT_NONE data differs");
	zt_expect(zt_check_pattern(wonly, 4 * PG, 7) < 0, "write-only data differs");
	zt_expect(zt_check_pattern(xonly, 4 * PG, 8) < 0, "exec-only data differs");

	if (have_guard) {
		for (int i = 0; i < 8; i++)
			zt_expect(readable(guarded + i * PG) == (i < 2 || i >= 4),
				  "anonymous page %d: %s", i,
				  i < 2 || i >= 4 ? "unreadable" : "no longer a guard page");
		for (int i = 0; i < 8; i++)
			zt_expect(readable(guardfile + i * PG) == (i != 3), "file page %d: %s", i,
				  i != 3 ? "unreadable" : "no longer a guard page");
	}
	zt_expect(zt_check_pattern(guarded, 2 * PG, 9) < 0 &&
		      zt_check_pattern(guarded + 4 * PG, 4 * PG, 9) < 0,
		  "data around anonymous guard pages differs");
	zt_expect(file_byte_ok(guardfile, 0, 3 * PG, 10) && !memcmp(guardfile + 5 * PG, "cow", 3) &&
		      file_byte_ok(guardfile + 6 * PG, 6 * PG, 2 * PG, 10),
		  "data around file guard pages differs");

	zt_expect(file_byte_ok(beyond, 0, PG, 11) && !memcmp(beyond + PG, "cow", 3) &&
		      file_byte_ok(beyond + PG + 3, PG + 3, PG - 3, 11),
		  "data of the mapping reaching beyond its file differs");
	zt_pass();
}
