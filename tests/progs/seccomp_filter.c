/* Seccomp filters: two BPF filters stacked. The first makes getppid fail with EPERM and
 * sysinfo with ENODATA, the second makes getppid fail with EACCES and uname with ENOTTY.
 * When two filters return the same action the most recently installed one decides, so
 * getppid fails with EACCES only while both are there in the right order. After the dump
 * each filtered call fails as it did, other calls work, and /proc/self/status shows
 * Seccomp 2 (filter mode) with 2 filters. */
#include "zt.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
/* if nr == sysno return ERRNO(err), else go on */
#define DENY(sysno, err)                                                                           \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sysno), 0, 1),                                        \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err))

static struct sock_filter first[] = {
	LOAD(arch),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	LOAD(nr),
	DENY(SYS_getppid, EPERM),
	DENY(SYS_sysinfo, ENODATA),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static struct sock_filter second[] = {
	LOAD(arch),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	LOAD(nr),
	DENY(SYS_getppid, EACCES),
	DENY(SYS_uname, ENOTTY),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static void install(struct sock_filter *f, unsigned short len)
{
	struct sock_fprog prog = { .len = len, .filter = f };

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		zt_fail("seccomp: %m");
}

/* The errno of a system call with no arguments that matter; 0 if it succeeded. */
static int err_of(long nr)
{
	char buf[512];

	errno = 0;
	return syscall(nr, buf) < 0 ? errno : 0;
}

static void check(const char *when)
{
	int e;

	e = err_of(SYS_getppid);
	zt_expect(e == EACCES, "%s: getppid errno %d, expected EACCES (%d)", when, e, EACCES);
	e = err_of(SYS_sysinfo);
	zt_expect(e == ENODATA, "%s: sysinfo errno %d, expected ENODATA (%d)", when, e, ENODATA);
	e = err_of(SYS_uname);
	zt_expect(e == ENOTTY, "%s: uname errno %d, expected ENOTTY (%d)", when, e, ENOTTY);
	e = err_of(SYS_getpid);
	zt_expect(e == 0, "%s: getpid failed with %d", when, e);
}

int main(int argc, char **argv)
{
	char status[8192], mode[32] = "", count[32] = "";

	zt_init(argc, argv);
	/* Root may install filters without no_new_privs; leaving it unset keeps this test
	 * about seccomp alone (prctl_misc covers no_new_privs). */
	install(first, sizeof(first) / sizeof(first[0]));
	install(second, sizeof(second) / sizeof(second[0]));
	check("before");
	if (zt_failures())
		zt_fail("setup: the filters do not work as designed");

	zt_ready();
	zt_wait_for_check();

	check("after");
	if (zt_expect(zt_read_file("/proc/self/status", status, sizeof(status)) > 0,
		      "read status")) {
		zt_status_field(status, "Seccomp", mode, sizeof(mode));
		zt_status_field(status, "Seccomp_filters", count, sizeof(count));
		zt_expect(!strcmp(mode, "2"), "Seccomp: %s", mode);
		zt_expect(!strcmp(count, "2"), "Seccomp_filters: %s", count);
	}
	zt_expect(prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2, "PR_GET_SECCOMP %d",
		  prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	zt_expect(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0, "no_new_privs got set");
	zt_pass();
}
