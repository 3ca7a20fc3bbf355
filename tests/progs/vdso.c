/* The vDSO and its data pages after restore.
 *
 * glibc found the vDSO at start-up and calls into it at that address for clock_gettime(),
 * gettimeofday() and time(); so the [vdso] and [vvar...] mappings must be back where they
 * were (maps lines identical, AT_SYSINFO_EHDR pointing at [vdso]), the code there must be
 * this kernel's vDSO (same bytes as before), and its data pages must be the live ones: times
 * read through the vDSO must agree with the same clocks read by real system calls, and must
 * move on. Monotonic clocks must not have gone back across the dump. */
#include "zt.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char special_before[4096], special_after[4096];
static uint64_t vdso_sum;
static unsigned long vdso_start, vdso_end;

static const struct {
	clockid_t id;
	const char *name;
	bool monotonic;	/* never goes back, also across a dump */
} clocks[] = {
	{ CLOCK_REALTIME, "REALTIME", false },
	{ CLOCK_REALTIME_COARSE, "REALTIME_COARSE", false },
	{ CLOCK_TAI, "TAI", false },
	{ CLOCK_MONOTONIC, "MONOTONIC", true },
	{ CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE", true },
	{ CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW", true },
	{ CLOCK_BOOTTIME, "BOOTTIME", true },
};
#define NCLOCKS (sizeof(clocks) / sizeof(clocks[0]))
static struct timespec last[NCLOCKS];

/* The maps lines of the kernel's special mappings: [vdso], [vvar], [vvar_vclock], ... */
static void special_maps(char *out, size_t size)
{
	static char maps[256 << 10];
	char *p = maps, *nl;
	size_t len = 0;

	out[0] = '\0';
	if (zt_read_file("/proc/self/maps", maps, sizeof(maps)) < 0)
		return;
	for (; *p; p = nl + 1) {
		nl = strchrnul(p, '\n');
		if (memmem(p, nl - p, " [v", 3) && !memmem(p, nl - p, "[vsyscall]", 10)) {
			len += snprintf(out + len, size - len, "%.*s\n", (int)(nl - p), p);
			if (memmem(p, nl - p, "[vdso]", 6))
				sscanf(p, "%lx-%lx", &vdso_start, &vdso_end);
		}
		if (!*nl)
			break;
	}
}

static uint64_t checksum(const unsigned char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Each clock via the vDSO (glibc) against the system call, and against the last reading. */
static void check_clocks(const char *when, bool first)
{
	for (size_t i = 0; i < NCLOCKS; i++) {
		struct timespec v1, sys, v2;
		int64_t slack = 50 * 1000000;	/* coarse clocks lag by a tick or so */

		clock_gettime(clocks[i].id, &v1);
		syscall(SYS_clock_gettime, clocks[i].id, &sys);
		clock_gettime(clocks[i].id, &v2);
		zt_expect(ns(&v1) - slack <= ns(&sys) && ns(&sys) <= ns(&v2) + slack,
			  "%s %s: vdso %ld.%09ld / %ld.%09ld, syscall %ld.%09ld: vvar data stale?",
			  when, clocks[i].name, v1.tv_sec, v1.tv_nsec, v2.tv_sec, v2.tv_nsec,
			  sys.tv_sec, sys.tv_nsec);
		if (!first && clocks[i].monotonic)
			zt_expect(ns(&v1) >= ns(&last[i]), "%s %s went back: %ld.%09ld < %ld.%09ld",
				  when, clocks[i].name, v1.tv_sec, v1.tv_nsec, last[i].tv_sec,
				  last[i].tv_nsec);
		last[i] = v2;
	}
}

int main(int argc, char **argv)
{
	struct timeval tv, tv_sys;
	struct timespec a, b;
	time_t t;

	zt_init(argc, argv);
	special_maps(special_before, sizeof(special_before));
	if (!vdso_start)
		zt_fail("no [vdso] in maps");
	if (getauxval(AT_SYSINFO_EHDR) != vdso_start)
		zt_fail("AT_SYSINFO_EHDR %#lx is not [vdso] %#lx", getauxval(AT_SYSINFO_EHDR),
			vdso_start);
	vdso_sum = checksum((const void *)vdso_start, vdso_end - vdso_start);
	check_clocks("before", true);
	if (zt_failures())
		zt_fail("setup: the clocks disagree already");

	zt_ready();
	zt_wait_for_check();

	special_maps(special_after, sizeof(special_after));
	zt_expect_same_text("vdso/vvar maps", special_before, special_after);
	zt_expect(getauxval(AT_SYSINFO_EHDR) == vdso_start, "AT_SYSINFO_EHDR moved");
	zt_expect(checksum((const void *)vdso_start, vdso_end - vdso_start) == vdso_sum,
		  "the code at [vdso] is not the vDSO it was");
	check_clocks("after", false);

	gettimeofday(&tv, NULL);
	syscall(SYS_gettimeofday, &tv_sys, NULL);
	zt_expect(tv_sys.tv_sec - tv.tv_sec <= 1 && tv_sys.tv_sec >= tv.tv_sec,
		  "gettimeofday %ld, syscall %ld", tv.tv_sec, tv_sys.tv_sec);
	t = time(NULL);
	/* time() reads the coarse clock, which lags up to a tick behind: across a second's
	 * boundary it may still say the second before gettimeofday's */
	zt_expect(t - tv.tv_sec <= 1 && t >= tv.tv_sec - 1, "time() %ld, gettimeofday %ld", t,
		  tv.tv_sec);

	/* Time moves on, as seen through the vDSO. */
	clock_gettime(CLOCK_MONOTONIC, &a);
	usleep(20000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	zt_expect(ns(&b) - ns(&a) >= 20000000 && ns(&b) - ns(&a) < 5000000000LL,
		  "20 ms of sleep measured as %ld ns", ns(&b) - ns(&a));
	check_clocks("after sleeping", false);
	zt_pass();
}
