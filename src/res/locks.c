/* File locks (flock, POSIX record locks, OFD locks) and leases. cryo does not take them again
 * at restore yet: a task that holds one would come back without it, and another process could
 * then write what the lock kept out (a database loses a committed row). Such a dump is refused,
 * naming every lock; the kernel shows the locks of each open file in its fdinfo ("lock:"
 * lines: locks on that file description, and the task's POSIX locks on that file). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dump.h"
#include "core/log.h"
#include "core/util.h"
#include "res/locks.h"

int dump_check_locks(struct dump_ctx *ctx, struct dump_task *t)
{
	char path[320], buf[8192];
	struct dirent *de;
	DIR *d;
	int found = 0;
	(void)ctx;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", t->pid);
	d = opendir(path);
	if (!d) {
		int err = errno;
		pr_errno(err, "task %d: cannot list %s", t->pid, path);
		return -err;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", t->pid, de->d_name);
		if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
			continue; /* closed meanwhile: the tree is frozen, so not by the task */
		for (char *l = strstr(buf, "lock:"); l; l = strstr(l + 1, "\nlock:")) {
			if (*l == '\n')
				l++;
			char *end = strchr(l, '\n');
			/* "lock:\t1: FLOCK  ADVISORY  WRITE pid dev:ino start end": from the type */
			const char *what = strchr(l + 5, ':');
			what = what && (!end || what < end) ? what + 1 : l + 5;
			while (*what == ' ' || *what == '\t')
				what++;
			l = (char *)what;
			int len = end ? (int)(end - l) : (int)strlen(l);
			pr_err("task %d: fd %s holds a file lock (%.*s): file locks are not "
			       "supported yet (--file-locks)",
			       t->pid, de->d_name, len, l);
			found++;
		}
	}
	closedir(d);
	return found ? -ENOTSUP : 0;
}
