/* Threads with seccomp filter chains of their own (filters are per thread in the kernel):
 *
 *   main  P                 P: sysinfo fails with ENODATA (installed before the threads)
 *   sc-b  P FB              FB: getppid fails with EACCES, installed by sc-b with
 *                               SECCOMP_FILTER_FLAG_TSYNC: every thread has it, one filter
 *   sc-a  P FB FA           FA: uname fails with ENOTTY (with SECCOMP_FILTER_FLAG_LOG)
 *   sc-c  P FB FC FC2       FC: getsid fails with ENOKEY, FC2: getpgid fails with ECHRNG
 *
 * After the check each thread makes every one of those calls: a call its own chain filters
 * fails with that filter's errno, the others work. Each thread's Seccomp and Seccomp_filters
 * lines of /proc/thread-self/status are as before. The sharing too: a TSYNC install from
 * sc-b fails naming sc-a (the first thread whose chain is not a part of sc-b's; had the
 * restore made sc-b a copy of the main thread's filters, the main thread would be named),
 * before and after the dump alike. Also run in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LOAD_ARCH BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch))
/* a filter that makes one call fail with err */
#define FILTER(name, sysno, err)                                                               \
	static struct sock_filter name[] = {                                                   \
		LOAD_ARCH,                                                                     \
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),                  \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),                                  \
		LOAD_NR,                                                                       \
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sysno), 0, 1),                            \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err)),                          \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),                                  \
	}
FILTER(f_p, SYS_sysinfo, ENODATA);
FILTER(f_b, SYS_getppid, EACCES);
FILTER(f_a, SYS_uname, ENOTTY);
FILTER(f_c, SYS_getsid, ENOKEY);
FILTER(f_c2, SYS_getpgid, ECHRNG);
/* never installed: the TSYNC probe */
FILTER(f_probe, SYS_getpriority, EDOM);
#define LEN(f) ((unsigned short)(sizeof(f) / sizeof(f[0])))

enum { T_MAIN, T_A, T_B, T_C, NT };
static const char *const names[NT] = { "main", "sc-a", "sc-b", "sc-c" };
static const struct {
	long nr;
	int err[NT]; /* errno expected in each thread, 0: works */
} calls[] = {
	{ SYS_sysinfo, { ENODATA, ENODATA, ENODATA, ENODATA } },
	{ SYS_getppid, { EACCES, EACCES, EACCES, EACCES } },
	{ SYS_uname, { 0, ENOTTY, 0, 0 } },
	{ SYS_getsid, { 0, 0, 0, ENOKEY } },
	{ SYS_getpgid, { 0, 0, 0, ECHRNG } },
};
static const char *const filters_count[NT] = { "2", "3", "2", "4" };

static pid_t tids[NT];
static long probe_before;
static char status_before[NT][2][32];

enum { V_B_DONE = 0, V_A_DONE = 1, V_C_DONE = 2, V_PROBED = 3 };

static long install(struct sock_filter *f, unsigned short len, unsigned flags)
{
	struct sock_fprog prog = { .len = len, .filter = f };
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static int err_of(long nr)
{
	char buf[512];
	long arg = nr == SYS_getsid || nr == SYS_getpgid ? 0 : (long)buf;
	errno = 0;
	return syscall(nr, arg, 0, 0) < 0 ? errno : 0;
}

static void read_status(int k, char out[2][32])
{
	char buf[4096];
	out[0][0] = out[1][0] = '\0';
	if (zt_read_file("/proc/thread-self/status", buf, sizeof(buf)) > 0) {
		zt_status_field(buf, "Seccomp", out[0], 32);
		zt_status_field(buf, "Seccomp_filters", out[1], 32);
	}
	(void)k;
}

/* Every call, with the errno this thread's chain gives it. */
static void check_calls(int k, const char *when)
{
	for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int e = err_of(calls[i].nr);
		zt_tree_expect(k, e == calls[i].err[k], "%s: %s: syscall %ld errno %d, expected %d",
			       names[k], when, calls[i].nr, e, calls[i].err[k]);
	}
}

static void check_after(int k)
{
	char st[2][32];

	check_calls(k, "after");
	read_status(k, st);
	zt_tree_expect(k, !strcmp(st[0], "2"), "%s: Seccomp %s", names[k], st[0]);
	zt_tree_expect(k, !strcmp(st[1], filters_count[k]), "%s: Seccomp_filters %s, expected %s",
		       names[k], st[1], filters_count[k]);
	zt_tree_expect(k, !strcmp(st[1], status_before[k][1]),
		       "%s: Seccomp_filters %s, %s before", names[k], st[1], status_before[k][1]);
	if (k == T_B) {
		long rv = install(f_probe, LEN(f_probe), SECCOMP_FILTER_FLAG_TSYNC);
		zt_tree_expect(k, rv == probe_before,
			       "sc-b: TSYNC probe returned %ld, %ld before (sc-a is %d, main %d)",
			       rv, probe_before, tids[T_A], tids[T_MAIN]);
		zt_tree_set(V_PROBED, 1);
	} else if (k != T_MAIN) {
		/* alive until sc-b's probe is done: it looks at every thread */
		zt_tree_expect(k, zt_tree_wait_var(V_PROBED, 1, 10000), "%s: no probe", names[k]);
	}
}

static void *thread_main(void *arg)
{
	int k = (int)(long)arg;

	tids[k] = (pid_t)syscall(SYS_gettid);
	if (k == T_B) {
		if (install(f_b, LEN(f_b), SECCOMP_FILTER_FLAG_TSYNC))
			zt_tree_fail(k, "TSYNC install: %m");
		zt_tree_set(V_B_DONE, 1);
		/* the probe needs every thread's chain in place */
		if (!zt_tree_wait_var(V_A_DONE, 1, 10000) || !zt_tree_wait_var(V_C_DONE, 1, 10000))
			zt_tree_fail(k, "the others did not install theirs");
		probe_before = install(f_probe, LEN(f_probe), SECCOMP_FILTER_FLAG_TSYNC);
		if (probe_before != tids[T_A])
			zt_tree_fail(k, "TSYNC probe returned %ld, expected sc-a %d", probe_before,
				     tids[T_A]);
	} else {
		if (!zt_tree_wait_var(V_B_DONE, 1, 10000))
			zt_tree_fail(k, "sc-b did not install");
		if (k == T_A && install(f_a, LEN(f_a), SECCOMP_FILTER_FLAG_LOG))
			zt_tree_fail(k, "install: %m");
		if (k == T_C && (install(f_c, LEN(f_c), 0) || install(f_c2, LEN(f_c2), 0)))
			zt_tree_fail(k, "install: %m");
		zt_tree_set(k == T_A ? V_A_DONE : V_C_DONE, 1);
	}
	check_calls(k, "before");
	read_status(k, status_before[k]);
	zt_tree_ready(k, names[k]);
	zt_tree_wait_go();
	check_after(k);
	zt_tree_done(k);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NT];

	zt_init(argc, argv);
	zt_tree_init(NT);
	tids[T_MAIN] = getpid();
	if (install(f_p, LEN(f_p), 0))
		zt_fail("setup: install: %m");
	for (int k = 1; k < NT; k++)
		if (pthread_create(&th[k], NULL, thread_main, (void *)(long)k))
			zt_fail("setup: pthread_create");
	if (!zt_tree_wait_var(V_B_DONE, 1, 10000))
		zt_fail("setup: sc-b did not install");
	check_calls(T_MAIN, "before");
	read_status(T_MAIN, status_before[T_MAIN]);
	zt_tree_ready(T_MAIN, names[T_MAIN]);
	zt_tree_wait_ready();

	zt_ready();
	zt_wait_for_check();

	check_after(T_MAIN);
	zt_tree_go();
	zt_tree_collect();
	for (int k = 1; k < NT; k++)
		pthread_join(th[k], NULL);
	zt_pass();
}
