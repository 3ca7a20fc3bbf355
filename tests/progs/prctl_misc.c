/* Per-process settings made with prctl() and friends, each set to a non-default value:
 * PR_SET_PDEATHSIG (a signal ignored by default: the parent does exit), PR_SET_DUMPABLE 0,
 * PR_SET_CHILD_SUBREAPER, PR_SET_THP_DISABLE, PR_SET_NO_NEW_PRIVS, PR_SET_NAME, PR_SET_TIMERSLACK,
 * PR_MCE_KILL; the personality (ADDR_NO_RANDOMIZE | UNAME26, the latter also checked by its
 * effect on uname()); the nice value; the scheduling policy (SCHED_BATCH with
 * SCHED_RESET_ON_FORK); the I/O priority; oom_score_adj. After the dump each must read back
 * as set, and the matching /proc/self/status lines must be identical. */
#include "zt.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_BE 2
#define IOPRIO_VALUE(class, data) (((class) << 13) | (data))

#define NAME "zt-prctl-name"
#define SLACK 123456
#define NICE 7
#define OOM_ADJ "123"
#define PERSONA (PER_LINUX | ADDR_NO_RANDOMIZE | UNAME26)

static const char *const status_keys[] = { "Name", "NoNewPrivs", "THP_enabled", "Seccomp" };

static void status_lines(char *out, size_t size)
{
	char buf[8192], v[256];
	size_t len = 0;

	out[0] = '\0';
	if (zt_read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return;
	for (size_t i = 0; i < sizeof(status_keys) / sizeof(status_keys[0]); i++)
		if (zt_status_field(buf, status_keys[i], v, sizeof(v)))
			len += snprintf(out + len, size - len, "%s: %s\n", status_keys[i], v);
}

static int write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(s, f) < 0 ? -1 : 0;
	return fclose(f) ? -1 : ret;
}

int main(int argc, char **argv)
{
	static char before[4096], after[4096];
	struct sched_param sp = { .sched_priority = 0 };
	char name[32] = "", buf[64];
	struct utsname u;
	int sig = 0, reaper = 0, policy, prio;

	zt_init(argc, argv);
	if (prctl(PR_SET_PDEATHSIG, SIGWINCH, 0, 0, 0) || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) || prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_NAME, NAME, 0, 0, 0) ||
	    prctl(PR_SET_TIMERSLACK, SLACK, 0, 0, 0) ||
	    prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0))
		zt_fail("prctl: %m");
	if (personality(PERSONA) < 0)
		zt_fail("personality: %m");
	if (setpriority(PRIO_PROCESS, 0, NICE))
		zt_fail("setpriority: %m");
	if (sched_setscheduler(0, SCHED_BATCH | SCHED_RESET_ON_FORK, &sp))
		zt_fail("sched_setscheduler: %m");
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_VALUE(IOPRIO_CLASS_BE, 6)))
		zt_fail("ioprio_set: %m");
	if (write_file("/proc/self/oom_score_adj", OOM_ADJ "\n"))
		zt_fail("oom_score_adj: %m");
	status_lines(before, sizeof(before));

	zt_ready();
	zt_wait_for_check();

	status_lines(after, sizeof(after));
	zt_expect_same_text("status", before, after);
	zt_expect(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0 && sig == SIGWINCH,
		  "pdeathsig %d", sig);
	zt_expect(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "dumpable %d",
		  prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	zt_expect(prctl(PR_GET_CHILD_SUBREAPER, &reaper, 0, 0, 0) == 0 && reaper == 1,
		  "child subreaper %d", reaper);
	zt_expect(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1, "THP disable %d",
		  prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
	zt_expect(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs lost");
	zt_expect(prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && !strcmp(name, NAME), "name '%s'",
		  name);
	zt_expect(zt_read_file("/proc/self/comm", buf, sizeof(buf)) > 0 &&
			  !strcmp(buf, NAME "\n"),
		  "comm '%s'", buf);
	zt_expect(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == SLACK, "timer slack %d",
		  prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0));
	zt_expect(prctl(PR_MCE_KILL_GET, 0, 0, 0, 0) == PR_MCE_KILL_EARLY, "mce kill %d",
		  prctl(PR_MCE_KILL_GET, 0, 0, 0, 0));
	zt_expect(personality(0xffffffff) == PERSONA, "personality %#x", personality(0xffffffff));
	zt_expect(uname(&u) == 0 && !strncmp(u.release, "2.6.", 4),
		  "UNAME26 not in effect: release '%s'", u.release);
	errno = 0;
	prio = getpriority(PRIO_PROCESS, 0);
	zt_expect(errno == 0 && prio == NICE, "nice %d", prio);
	policy = sched_getscheduler(0);
	zt_expect(policy == (SCHED_BATCH | SCHED_RESET_ON_FORK), "scheduler policy %#x", policy);
	prio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
	zt_expect(prio == IOPRIO_VALUE(IOPRIO_CLASS_BE, 6), "ioprio %#x", prio);
	zt_expect(zt_read_file("/proc/self/oom_score_adj", buf, sizeof(buf)) > 0 &&
			  atoi(buf) == atoi(OOM_ADJ),
		  "oom_score_adj %s", buf);
	zt_pass();
}
