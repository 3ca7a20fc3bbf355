/* A daemon that gave up root, as nginx's workers, postgres or ngircd do: set up as root, then
 * it takes uid and gid 65534 (nobody) for good, and may no longer trace cryo. Its 1,024-page
 * area is filled with a pattern at setup (its address and size in area.txt, for the case);
 * each SIGUSR1 fills half of it again with the next generation's. The case pre-dumps it
 * (the tracking must be installed though it cannot take cryo's descriptors itself), asks for
 * one rewrite, makes the final dump of what changed and restores: every page must hold the
 * generation it last had, and the process must still be nobody's. With PREDUMP_ROOT_NO_PTRACE
 * in its environment it stays root but gives up CAP_SYS_PTRACE instead (a container's default
 * set), which forbids it to trace cryo too; with PREDUMP_ROOT_NO_CAPS every capability (as
 * knotd does: its lender must then have none either, and be dumpable). */
// zt-run: no-cryo
// (the target of the predump-nobody sub-case of tests/cases/predump.sh)
#include "zt.h"

#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGES 1024ul
#define PAGE 4096ul

static volatile sig_atomic_t asked;
static unsigned char *area;
static unsigned gen[PAGES];
static unsigned want_uid = 65534;

static void on_usr1(int sig)
{
	(void)sig;
	asked++;
}

static void fill(size_t page, unsigned g)
{
	gen[page] = g;
	zt_fill_pattern(area + page * PAGE, PAGE, (unsigned)(page * 7919 + g));
}

int main(int argc, char **argv)
{
	unsigned next = 1;
	sig_atomic_t done = 0;

	zt_init(argc, argv);
	area = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zt_check_sys(area != MAP_FAILED, "mmap");
	for (size_t p = 0; p < PAGES; p++)
		fill(p, 0);
	FILE *f = fopen("area.txt", "w");
	if (!f)
		zt_fail("cannot write area.txt: %m");
	fprintf(f, "%lu %lu\n", (unsigned long)area, PAGES);
	fclose(f);
	signal(SIGUSR1, on_usr1);
	zt_ready();
	if (getenv("PREDUMP_ROOT_NO_CAPS")) {
		/* root still, without any capability (as knotd runs) */
		struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
		struct __user_cap_data_struct none[2];
		memset(none, 0, sizeof(none));
		zt_check_sys(syscall(SYS_capset, &h, none) == 0, "dropping the capabilities");
		want_uid = 0;
	} else if (getenv("PREDUMP_ROOT_NO_PTRACE")) {
		/* a root daemon without CAP_SYS_PTRACE (a container's default set): it may not
		 * trace cryo either, which has it */
		struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
		struct __user_cap_data_struct d[2];
		zt_check_sys(prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0) == 0 &&
				 syscall(SYS_capget, &h, d) == 0,
			     "capget");
		d[0].permitted &= ~(1u << CAP_SYS_PTRACE);
		d[0].effective &= ~(1u << CAP_SYS_PTRACE);
		d[0].inheritable &= ~(1u << CAP_SYS_PTRACE);
		zt_check_sys(syscall(SYS_capset, &h, d) == 0, "capset");
		want_uid = 0;
	} else {
		zt_check_sys(setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
				 setresuid(65534, 65534, 65534) == 0,
			     "dropping root");
	}

	while (!zt_check_requested()) {
		if (done != asked) {
			done = asked;
			/* every other page, the next generation */
			for (size_t p = next % 2; p < PAGES; p += 2)
				fill(p, next);
			next++;
		}
		usleep(2000);
	}
	zt_expect(getuid() == want_uid && geteuid() == want_uid && getgid() == want_uid,
		  "the process is uid %d/%d gid %d after the restore, not %u's", (int)getuid(),
		  (int)geteuid(), (int)getgid(), want_uid);
	for (size_t p = 0; p < PAGES; p++) {
		ssize_t bad = zt_check_pattern(area + p * PAGE, PAGE, (unsigned)(p * 7919 + gen[p]));
		if (!zt_expect(bad < 0, "page %zu differs at byte %zd from generation %u", p, bad,
			       gen[p]))
			break;
	}
	zt_pass();
}
