/* The checks of files-PID.img, before any task exists: what holds for every descriptor
 * (number, flags, the references of shared descriptions), then each kind's own checks (its
 * validate op), then the ghost files (ghost.c). Called by img/validate.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "core/log.h"
#include "files/kind.h"

/* open flags fdinfo can show */
#define O_KNOWN                                                                                    \
	(O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC |     \
	 O_ASYNC | O_DIRECT | 0100000 /* O_LARGEFILE as the kernel shows it */ | O_DIRECTORY |     \
	 O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH | O_TMPFILE)

int files_refuse(const char *img, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_err("%s: %s", img, msg);
	return -EINVAL;
}

int files_sock_state(const char *img, const FdEntry *e, const void *state, const char *what)
{
	if (e->has_dup_of)
		return state ? files_refuse(img, "fd %d: a dup of %s with a socket of its own",
					    e->fd, what)
			     : 1;
	if (!state)
		return files_refuse(img, "fd %d: %s without its state", e->fd, what);
	return 0;
}

/* The checks of one entry that do not need the others. */
static int entry_validate(struct restore_ctx *ctx, struct restore_task *t, const char *img,
			  const Files *f, const FdEntry *e, uint64_t max_fd)
{
	const struct fd_ops *k = fd_ops_of(e->kind);
	int ret;
	if (e->fd < 0 || (uint64_t)e->fd >= max_fd)
		return files_refuse(img, "fd %d: out of range (this cryo can open fds below %lu)",
				    e->fd, max_fd);
	if (!k)
		return files_refuse(img, "fd %d: kind %d is unknown", e->fd, e->kind);
	if (e->flags & ~(uint32_t)O_KNOWN ||
	    (e->kind != FD_KIND__FD_PATH && (e->flags & O_ACCMODE) == O_ACCMODE))
		return files_refuse(img, "fd %d: open flags %#o are invalid", e->fd, e->flags);
	if (e->pos > INT64_MAX)
		return files_refuse(img, "fd %d: position %lu out of range", e->fd, e->pos);
	if (e->has_mode && e->mode & ~(uint32_t)(S_IFMT | 07777))
		return files_refuse(img, "fd %d: mode %#o is invalid", e->fd, e->mode);
	if (e->has_ghost && e->ghost < -1)
		return files_refuse(img, "fd %d: ghost %d is invalid", e->fd, e->ghost);
	if (e->has_dup_of_pid) {
		struct restore_task *o = restore_find_task(ctx, e->dup_of_pid);
		if (!o || o->idx > t->idx || o->zombie || !e->has_dup_of)
			return files_refuse(img,
					    "fd %d: dup_of_pid %u is not a task before this one",
					    e->fd, e->dup_of_pid);
	}
	if (e->kind != FD_KIND__FD_MEMFD && (e->has_memfd_id || e->memfd))
		return files_refuse(img, "fd %d: memfd fields on another kind", e->fd);
	if ((e->kind != FD_KIND__FD_INET_SK && e->inet) ||
	    (e->kind != FD_KIND__FD_NETLINK_SK && e->netlink_sk) ||
	    (e->kind != FD_KIND__FD_PACKET_SK && e->packet_sk))
		return files_refuse(img, "fd %d: socket fields on another kind", e->fd);
	if (e->kind == FD_KIND__FD_TTY && !ctx->opts->shell_job) {
		pr_err("task %d: fd %d is a terminal: restore it with --shell-job", t->pid, e->fd);
		return -EINVAL;
	}
	if ((ret = k->validate(img, f, e)) || (ret = pidfd_validate_tree(ctx, t, img, e)) ||
	    (ret = owner_validate(ctx, t, img, e)) || (ret = lease_validate(ctx, img, e)) ||
	    (ret = procfile_validate(ctx, t, img, e)))
		return ret;
	return 0;
}

int files_validate(struct restore_ctx *ctx, struct restore_task *t)
{
	Files *f = t->files;
	struct rlimit nofile;
	uint64_t max_fd = FILES_MAX_FD;
	char img[64];
	int ret = 0;

	img_name(IMG_FILES, t->pid, img, sizeof(img));
	if (!f->has_owner_pid || f->owner_pid != (uint32_t)t->pid)
		return files_refuse(img, "owner_pid %u: the image is not task %d's", f->owner_pid,
				    t->pid);
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max < max_fd)
		max_fd = nofile.rlim_max;
	for (size_t i = 0; i < f->n_fds; i++)
		if ((ret = entry_validate(ctx, t, img, f, f->fds[i], max_fd)))
			return ret;
	/* every number once; a dup names an fd before it that is no dup itself: one pass with
	 * the entry of each fd number seen so far (all below max_fd, checked above) */
	int max = files_max_fd(f);
	uint32_t *seen = calloc((size_t)max + 1, sizeof(*seen)); /* entry index + 1 */
	if (!seen)
		return -ENOMEM;
	for (size_t i = 0; i < f->n_fds && !ret; i++) {
		const FdEntry *e = f->fds[i];
		if (seen[e->fd]) {
			ret = files_refuse(img, "descriptor %d appears twice", e->fd);
			break;
		}
		if (e->has_dup_of && !e->has_dup_of_pid &&
		    (e->dup_of < 0 || e->dup_of > max || !seen[e->dup_of] ||
		     f->fds[seen[e->dup_of] - 1]->has_dup_of))
			ret = files_refuse(img, "fd %d duplicates fd %d, which comes not before it",
					   e->fd, e->dup_of);
		seen[e->fd] = (uint32_t)i + 1;
	}
	free(seen);
	if (ret || (ret = inflight_validate(ctx, t, img)))
		return ret;
	return ghosts_validate(ctx, t, img);
}
