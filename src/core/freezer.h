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
#endif
