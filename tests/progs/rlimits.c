/* Resource limits: every one of them lowered to its own soft and hard values (soft below
 * hard, neither the default, as far as the limits we start with allow: raising a hard limit
 * needs CAP_SYS_RESOURCE, which a sandbox may not give even to root). After the dump
 * getrlimit() returns exactly those values and /proc/self/limits is identical. */
#include "zt.h"

#include <sys/resource.h>

#define K 1024ULL
#define M (K * K)
#define G (K * M)

static const struct {
	int res;
	const char *name;
	rlim_t soft, hard;
} limits[] = {
	{ RLIMIT_CPU, "CPU", 3600, 7200 },
	{ RLIMIT_FSIZE, "FSIZE", 1 * G, 2 * G },
	{ RLIMIT_DATA, "DATA", 16 * G, 32 * G },
	{ RLIMIT_STACK, "STACK", 4 * M, 16 * M },
	{ RLIMIT_CORE, "CORE", 0, 1 * M },
	{ RLIMIT_RSS, "RSS", 1 * G, 2 * G },
	{ RLIMIT_NPROC, "NPROC", 500, 1000 },
	{ RLIMIT_NOFILE, "NOFILE", 200, 300 },
	{ RLIMIT_MEMLOCK, "MEMLOCK", 64 * K, 128 * K },
	{ RLIMIT_AS, "AS", 64 * G, 128 * G },
	{ RLIMIT_LOCKS, "LOCKS", 1000, 2000 },
	{ RLIMIT_SIGPENDING, "SIGPENDING", 1000, 2000 },
	{ RLIMIT_MSGQUEUE, "MSGQUEUE", 100000, 200000 },
	{ RLIMIT_NICE, "NICE", 5, 10 },
	{ RLIMIT_RTPRIO, "RTPRIO", 1, 2 },
	{ RLIMIT_RTTIME, "RTTIME", 1000000, 2000000 },
};
#define N (sizeof(limits) / sizeof(limits[0]))

int main(int argc, char **argv)
{
	static char proc_before[8192], proc_after[8192];
	static struct rlimit set[N];
	struct rlimit rl;

	zt_init(argc, argv);
	for (size_t i = 0; i < N; i++) {
		if (getrlimit(limits[i].res, &rl))
			zt_fail("getrlimit %s: %m", limits[i].name);
		set[i].rlim_max = limits[i].hard < rl.rlim_max ? limits[i].hard : rl.rlim_max;
		set[i].rlim_cur = limits[i].soft < set[i].rlim_max ? limits[i].soft : set[i].rlim_max;
		if (setrlimit(limits[i].res, &set[i]))
			zt_fail("setrlimit %s: %m", limits[i].name);
	}
	if (zt_read_file("/proc/self/limits", proc_before, sizeof(proc_before)) < 0)
		zt_fail("cannot read /proc/self/limits");

	zt_ready();
	zt_wait_for_check();

	for (size_t i = 0; i < N; i++) {
		if (!zt_expect(getrlimit(limits[i].res, &rl) == 0, "getrlimit %s: %m",
			       limits[i].name))
			continue;
		zt_expect(rl.rlim_cur == set[i].rlim_cur && rl.rlim_max == set[i].rlim_max,
			  "%s: %llu/%llu, set %llu/%llu", limits[i].name,
			  (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
			  (unsigned long long)set[i].rlim_cur, (unsigned long long)set[i].rlim_max);
	}
	if (zt_read_file("/proc/self/limits", proc_after, sizeof(proc_after)) >= 0)
		zt_expect_same_text("/proc/self/limits", proc_before, proc_after);
	zt_pass();
}
