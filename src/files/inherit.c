/* --inherit-fd fd[N]:KEY: a resource the dump saved as external (a pipe with an end outside
 * the tree, --external) or one the caller wants the tree to use instead of reopening it (a
 * regular file, by its path without the leading '/'), given to cryo as its fd N.
 *
 * Plan (in cryo): each use of a key is checked against the fd given for it (it is open, is
 * what the key says, and allows the access the task had) and is given a service fd. The
 * root, before it closes cryo's descriptors, places a copy of fd N at each such service fd;
 * every task inherits them and takes its descriptions from there (pipe.c, reg.c). Once the
 * root has its copies, cryo closes its own: the tree holds the only ones (a reader waiting
 * for the end of a pipe sees it when the tree closes its end). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"

static const char *acc_name(int acc)
{
	return acc == O_RDONLY ? "read" : acc == O_WRONLY ? "write" : "read-write";
}

static bool acc_allows(int have, int want)
{
	return have == O_RDWR || have == want;
}

/* Is fd what the key says: an anonymous pipe for "pipe:[...]", a FIFO for a FIFO's path, a
 * regular file else? */
static const char *kind_mismatch(int fd, const char *key, const struct stat *st, bool fifo)
{
	char path[64], link[64];
	ssize_t n;

	if (!strncmp(key, "pipe:", 5)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0)
			link[n] = 0;
		if (!S_ISFIFO(st->st_mode) || n <= 0 || strncmp(link, "pipe:[", 6))
			return "not a pipe";
		return NULL;
	}
	if (fifo)
		return S_ISFIFO(st->st_mode) ? NULL : "not a FIFO";
	return S_ISREG(st->st_mode) ? NULL : "not a regular file";
}

int inherit_find(struct restore_ctx *ctx, const char *key, int acc)
{
	for (int i = 0; i < ctx->nr_inherit_uses; i++) {
		const struct inherit_use *u = &ctx->inherit_uses[i];
		if (!strcmp(ctx->opts->inherit[u->opt].key, key) && u->acc == acc)
			return u->at;
	}
	return -1;
}

int inherit_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, const char *key,
		 int acc, int at)
{
	const struct cryo_restore_opts *o = ctx->opts;
	int found = -1, named = -1;
	struct inherit_use *u;

	if (inherit_find(ctx, key, acc) >= 0)
		return 0;
	for (int i = 0; i < o->nr_inherit && found < 0; i++) {
		struct stat st;
		const char *bad;
		int fl;
		if (strcmp(o->inherit[i].key, key))
			continue;
		named = i;
		if (fstat(o->inherit[i].fd, &st) < 0 ||
		    (fl = fcntl(o->inherit[i].fd, F_GETFL)) < 0) {
			pr_errno(errno, "--inherit-fd fd[%d]:%s: cryo has no fd %d",
				 o->inherit[i].fd, key, o->inherit[i].fd);
			return -EBADF;
		}
		if ((bad =
			 kind_mismatch(o->inherit[i].fd, key, &st, e->kind == FD_KIND__FD_FIFO))) {
			pr_err("--inherit-fd fd[%d]:%s: fd %d is %s", o->inherit[i].fd, key,
			       o->inherit[i].fd, bad);
			return -EINVAL;
		}
		if (acc_allows(fl & O_ACCMODE, acc))
			found = i;
	}
	if (found < 0 && named >= 0) {
		pr_err(
		    "task %d: fd %d is the %s end of %s, but fd %d given for it (--inherit-fd) is "
		    "not open for that",
		    t->pid, e->fd, acc_name(acc), key, o->inherit[named].fd);
		return -EINVAL;
	}
	if (found < 0) {
		pr_err("task %d: fd %d is the %s end of the external %s: restore it with "
		       "--inherit-fd fd[N]:%s (N: a descriptor of it that cryo holds)",
		       t->pid, e->fd, acc_name(acc), key, key);
		return -ENOTSUP;
	}
	u = realloc(ctx->inherit_uses, (ctx->nr_inherit_uses + 1) * sizeof(*u));
	if (!u)
		return -ENOMEM;
	ctx->inherit_uses = u;
	u[ctx->nr_inherit_uses++] = (struct inherit_use){.opt = found, .acc = acc, .at = at};
	pr_info("task %d: fd %d: %s (%s end) is cryo's fd %d (--inherit-fd)", t->pid, e->fd, key,
		acc_name(acc), o->inherit[found].fd);
	return 0;
}

int inherit_root_child(struct restore_ctx *ctx, struct restore_task *root)
{
	for (int i = 0; i < ctx->nr_inherit_uses; i++) {
		const struct inherit_use *u = &ctx->inherit_uses[i];
		if (restore_place_fd(root, dup(ctx->opts->inherit[u->opt].fd), u->at,
				     "an inherited descriptor (--inherit-fd)"))
			return -1;
	}
	return 0;
}

/* cryo's own copies, once the root holds its: 0, 1 and 2 become /dev/null rather than free
 * numbers that a later open would take */
void inherit_close(struct restore_ctx *ctx)
{
	const struct cryo_restore_opts *o = ctx->opts;

	for (int i = 0; i < o->nr_inherit; i++) {
		bool used = false;
		for (int k = 0; k < ctx->nr_inherit_uses; k++)
			used |= ctx->inherit_uses[k].opt == i;
		if (!used)
			pr_warn("--inherit-fd fd[%d]:%s: no descriptor of the tree is that",
				o->inherit[i].fd, o->inherit[i].key);
		if (o->inherit[i].fd > 2) {
			close(o->inherit[i].fd);
		} else {
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (null >= 0 && null != o->inherit[i].fd) {
				dup2(null, o->inherit[i].fd);
				close(null);
			}
		}
	}
}

const char *inherit_path_key(struct restore_ctx *ctx, const FdEntry *e)
{
	if (!e->path || e->path[0] != '/')
		return NULL;
	for (int i = 0; i < ctx->opts->nr_inherit; i++)
		if (!strcmp(ctx->opts->inherit[i].key, e->path + 1))
			return ctx->opts->inherit[i].key;
	return NULL;
}
