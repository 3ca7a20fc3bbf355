/* --freeze-cgroup: stop a whole cgroup at one instant with its freezer (cgroup v1
 * freezer.state, or v2 cgroup.freeze), so that the dump can seize every thread in it while
 * none runs. */
#include "core/freezer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"

#include "core/log.h"
#include "core/util.h"

static bool is_v1(const char *cg)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/freezer.state", cg);
	return access(path, F_OK) == 0;
}

static int put(const char *cg, const char *file, const char *value)
{
	char path[4200];
	int ret;
	snprintf(path, sizeof(path), "%s/%s", cg, file);
	ret = write_file(path, value);
	if (ret)
		pr_errno(-ret, "cannot write '%s' to %s", value, path);
	return ret;
}

static bool frozen(const char *cg, bool v1)
{
	char path[4200], buf[512];
	snprintf(path, sizeof(path), "%s/%s", cg, v1 ? "freezer.state" : "cgroup.events");
	if (read_file_at(-1, path, buf, sizeof(buf)) < 0)
		return false;
	return v1 ? !strncmp(buf, "FROZEN", 6) : strstr(buf, "frozen 1") != NULL;
}

int cgroup_freeze(const char *cg, bool freeze, uint64_t deadline)
{
	bool v1 = is_v1(cg);
	char path[4200];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", cg, v1 ? "freezer.state" : "cgroup.freeze");
	if (access(path, W_OK) < 0) {
		ret = -errno;
		pr_errno(-ret, "%s is not a cgroup with a freezer (%s)", cg, path);
		return ret;
	}
	ret = put(cg, v1 ? "freezer.state" : "cgroup.freeze",
		  freeze ? (v1 ? "FROZEN" : "1") : (v1 ? "THAWED" : "0"));
	if (ret || !freeze)
		return ret;
	while (!frozen(cg, v1)) {
		if (now_ns() > deadline) {
			pr_err("cgroup %s did not freeze in time (--timeout)", cg);
			put(cg, v1 ? "freezer.state" : "cgroup.freeze", v1 ? "THAWED" : "0");
			return -ETIMEDOUT;
		}
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	pr_info("cgroup %s frozen", cg);
	return 0;
}

int cgroup_threads(const char *cg, pid_t **tids, int *nr)
{
	char path[4200], *buf, *p, *end;
	ssize_t n;
	int cap = 0;

	snprintf(path, sizeof(path), "%s/%s", cg, is_v1(cg) ? "tasks" : "cgroup.threads");
	n = read_file_alloc(path, &buf);
	if (n < 0) {
		pr_errno((int)-n, "cannot read %s", path);
		return (int)n;
	}
	*tids = NULL;
	*nr = 0;
	for (p = buf;; p = end) {
		long tid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (*nr == cap) {
			pid_t *nt = realloc(*tids, (cap = cap ? cap * 2 : 64) * sizeof(pid_t));
			if (!nt) {
				free(buf);
				return -ENOMEM;
			}
			*tids = nt;
		}
		(*tids)[(*nr)++] = tid;
	}
	free(buf);
	return 0;
}

/* A cgroup cryo froze must not stay frozen when cryo dies in that window: a child of cryo
 * waits on a pipe only cryo writes to; if the pipe closes before cryo said "thawed", cryo
 * died, and the child thaws the cgroup. */
int freeze_watchdog_start(const char *cg, struct freeze_watchdog *w)
{
	int p[2];
	char byte;

	w->pid = -1;
	w->fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	w->pid = fork();
	if (w->pid < 0) {
		int err = errno;
		close(p[0]);
		close(p[1]);
		pr_errno(err, "cannot start the watchdog of cgroup %s", cg);
		return -err;
	}
	if (w->pid == 0) {
		/* the pipe's read end only */
		watchdog_child_setup(p[0], "cryo-thaw");
		ssize_t n;
		while ((n = read(3, &byte, 1)) < 0 && errno == EINTR)
			;
		if (n != 1) {
			char path[4200];
			snprintf(path, sizeof(path), "%s/%s", cg,
				 is_v1(cg) ? "freezer.state" : "cgroup.freeze");
			write_file(path, is_v1(cg) ? "THAWED" : "0");
		}
		_exit(0);
	}
	close(p[0]);
	w->fd = p[1];
	return 0;
}

void freeze_watchdog_stop(struct freeze_watchdog *w)
{
	if (w->fd >= 0) {
		if (write(w->fd, "t", 1) != 1)
			pr_warn("cannot tell the cgroup watchdog that the cgroup is thawed");
		close(w->fd);
		w->fd = -1;
	}
	if (w->pid > 0)
		while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
			;
	w->pid = -1;
}
