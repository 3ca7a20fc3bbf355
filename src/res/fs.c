/* The task's place in the file system: current directory, root directory and umask. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"

static int read_link(pid_t pid, const char *what, struct dump_ctx *ctx, char **out)
{
	char path[64], buf[4096];
	ssize_t n;
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0) {
		int err = errno;
		pr_errno(err, "task %d: cannot read its %s", pid, what);
		return -err;
	}
	buf[n] = 0;
	if (strstr(buf, " (deleted)")) {
		pr_err("task %d: its %s %s was deleted: not supported", pid, what, buf);
		return -ENOTSUP;
	}
	*out = arena_strdup(&ctx->arena, buf);
	return *out ? 0 : -ENOMEM;
}

int dump_fs(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret = read_link(t->pid, "cwd", ctx, &t->core->cwd);
	return ret ? ret : read_link(t->pid, "root", ctx, &t->core->root);
}

int restore_fs_child(struct restore_ctx *ctx, struct restore_task *t)
{
	TaskCore *core = t->core;
	if (!core->cwd || !core->root || core->cwd[0] != '/' || core->root[0] != '/') {
		child_fail(t, EINVAL, "core-%d.img: invalid cwd or root", t->pid);
		return -1;
	}
	/* both paths are seen from cryo's root: enter the directory before the chroot */
	if (chdir(core->cwd) < 0) {
		child_fail(t, errno, "cannot change directory to %s", core->cwd);
		return -1;
	}
	if (strcmp(core->root, "/") && chroot(core->root) < 0) {
		child_fail(t, errno, "cannot change root to %s", core->root);
		return -1;
	}
	umask(core->umask & 0777);
	return 0;
}
