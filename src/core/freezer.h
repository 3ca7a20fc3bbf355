#ifndef CRYO_FREEZER_H
#define CRYO_FREEZER_H
#include <stdbool.h>
#include <sys/types.h>
#include <stdint.h>
/* Freeze (and wait until frozen, at most until deadline, a now_ns() time) or thaw the cgroup
 * at path; v1 freezer or v2. */
int cgroup_freeze(const char *cg, bool freeze, uint64_t deadline);
/* Every thread in the cgroup (malloc()ed array). */
int cgroup_threads(const char *cg, pid_t **tids, int *nr);
/* A child of cryo that thaws cgroup cg if cryo dies before freeze_watchdog_stop(). */
struct freeze_watchdog {
	pid_t pid;
	int fd;
};
int freeze_watchdog_start(const char *cg, struct freeze_watchdog *w);
void freeze_watchdog_stop(struct freeze_watchdog *w);

#endif
