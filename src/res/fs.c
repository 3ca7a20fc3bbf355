/* The task's place in the file system: current directory, root directory and umask.
 *
 * A current or root directory that was removed while the task was in it (a shell or a build
 * whose directory was `rm -rf`ed) is a ghost (files/ghost.c): an empty directory, made again
 * by the root of the restore, its name removed; the task enters it through its service fd,
 * so getcwd() fails with ENOENT and creating a file in it fails as before. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"

static int read_link(struct dump_ctx *ctx, struct dump_task *t, const char *what, char **out,
		     protobuf_c_boolean *has_ghost, uint32_t *ghost)
{
	char path[64], buf[4096], orig[4096];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", t->pid, what);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0 || stat(path, &st) < 0) {
		int err = errno;
		pr_errno(err, "task %d: cannot read its %s", t->pid, what);
		return -err;
	}
	buf[n] = 0;
	if (ghost_link_deleted(buf, &st, orig, sizeof(orig))) {
		int ret;
		if (!S_ISDIR(st.st_mode) || st.st_nlink > 1) {
			pr_err("task %d: its %s %s is not a removed directory: not supported",
			       t->pid, what, buf);
			return -ENOTSUP;
		}
		ret = ghost_note(ctx, t, &st, orig, NULL, ghost);
		if (ret) {
			if (ret == -ENOTSUP)
				pr_err("task %d: its %s %s was deleted: not supported", t->pid,
				       what, buf);
			return ret;
		}
		*has_ghost = true;
		pr_info("task %d: its %s %s was removed: ghost %u", t->pid, what, orig, *ghost);
		snprintf(buf, sizeof(buf), "%s", orig);
	}
	*out = arena_strdup(&ctx->arena, buf);
	return *out ? 0 : -ENOMEM;
}

int dump_fs(struct dump_ctx *ctx, struct dump_task *t)
{
	TaskCore *c = t->core;
	int ret = read_link(ctx, t, "cwd", &c->cwd, &c->has_cwd_ghost_id, &c->cwd_ghost_id);
	return ret ? ret
		   : read_link(ctx, t, "root", &c->root, &c->has_root_ghost_id, &c->root_ghost_id);
}

int restore_fs_child(struct restore_ctx *ctx, struct restore_task *t)
{
	TaskCore *core = t->core;
	const char *cwd =
	    core->has_cwd_ghost_id ? ghost_self_path(ctx, core->cwd_ghost_id) : core->cwd;
	const char *root =
	    core->has_root_ghost_id ? ghost_self_path(ctx, core->root_ghost_id) : core->root;
	if (!cwd || !root || !core->cwd || !core->root || core->cwd[0] != '/' ||
	    core->root[0] != '/') {
		child_fail(t, EINVAL, "core-%d.img: invalid cwd or root", t->pid);
		return -1;
	}
	/* both paths are seen from cryo's root: enter the directory before the chroot (a
	 * ghost through the root's service fd of it, which every task inherited) */
	if (chdir(cwd) < 0) {
		child_fail(t, errno, "cannot change directory to %s", core->cwd);
		return -1;
	}
	if ((core->has_root_ghost_id || strcmp(core->root, "/")) && chroot(root) < 0) {
		child_fail(t, errno, "cannot change root to %s", core->root);
		return -1;
	}
	umask(core->umask & 0777);
	return 0;
}
