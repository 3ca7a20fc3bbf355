#include "core/fault.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

enum { FAULT_OFF, FAULT_COUNT, FAULT_KILL, FAULT_FAIL };

int fault_mode;
static long fault_target, fault_passed, fault_failable;
static const char *fault_match; /* kill:@TEXT: only the points whose name holds TEXT count */

static void fault_report(void)
{
	fprintf(stderr, "cryo: fault points passed: %ld (%ld of them can fail)\n", fault_passed,
		fault_failable);
}

void fault_init(void)
{
	const char *spec = getenv("CRYO_FAULT");
	if (!spec || !*spec)
		return;
	if (!strcmp(spec, "count")) {
		fault_mode = FAULT_COUNT;
	} else if (!strncmp(spec, "kill:@", 6) && spec[6]) {
		fault_mode = FAULT_KILL;
		fault_match = spec + 6;
		fault_target = 1;
	} else if (!strncmp(spec, "kill:", 5)) {
		fault_mode = FAULT_KILL;
		fault_target = strtol(spec + 5, NULL, 10);
	} else if (!strncmp(spec, "fail:", 5)) {
		fault_mode = FAULT_FAIL;
		fault_target = strtol(spec + 5, NULL, 10);
	} else {
		fprintf(stderr,
			"cryo: CRYO_FAULT=%s: expected count, kill:N, kill:@TEXT or fail:N\n",
			spec);
		exit(1);
	}
	atexit(fault_report);
}

int fault_hit(const char *where, int err)
{
	/* a restore's child phase runs in copies of cryo: only cryo itself counts */
	static pid_t self;
	if (!self)
		self = getpid();
	if (getpid() != self)
		return 0;
	if (err)
		__atomic_add_fetch(&fault_failable, 1, __ATOMIC_RELAXED);
	/* a point where nothing can fail (err 0) is only a place to die */
	if (fault_mode == FAULT_FAIL && !err)
		return 0;
	if (fault_match && !strstr(where, fault_match))
		return 0;
	if (__atomic_add_fetch(&fault_passed, 1, __ATOMIC_RELAXED) != fault_target)
		return 0;
	if (fault_mode == FAULT_KILL) {
		pr_info("fault point %ld (%s): cryo kills itself", fault_passed, where);
		kill(getpid(), SIGKILL);
		pause();
	}
	pr_info("fault point %ld (%s): failing with %s", fault_passed, where, strerror(err));
	return -err;
}
