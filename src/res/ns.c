/* Namespaces. cryo does not save or rebuild namespaces yet: a task in a namespace of its own
 * (one that differs from cryo's) would come back in cryo's, which is a silent loss (another
 * network, other mounts, other pids). Until containers are supported such a dump is refused,
 * naming the task and every namespace that differs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "res/ns.h"

static const char *const ns_names[] = {"mnt", "net", "pid", "uts", "ipc", "user", "cgroup", "time"};

int dump_check_namespaces(struct dump_ctx *ctx, struct dump_task *t)
{
	char path[64], differ[256] = "";
	struct stat mine, theirs;
	size_t used = 0;
	(void)ctx;

	for (size_t i = 0; i < sizeof(ns_names) / sizeof(ns_names[0]); i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns_names[i]);
		if (stat(path, &mine) < 0)
			continue; /* a kind this kernel does not have */
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", t->pid, ns_names[i]);
		if (stat(path, &theirs) < 0) {
			int err = errno;
			if (err == ESRCH || err == ENOENT)
				return -ESRCH;
			pr_errno(err, "task %d: cannot look at its %s namespace", t->pid,
				 ns_names[i]);
			return -err;
		}
		if (mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev)
			used += (size_t)snprintf(differ + used, sizeof(differ) - used, "%s%s",
						 used ? ", " : "", ns_names[i]);
	}
	if (!used)
		return 0;
	pr_err("task %d is in namespaces of its own (%s): namespaces are not supported yet, it "
	       "would come back in cryo's",
	       t->pid, differ);
	return -ENOTSUP;
}
