/* inotify: every watch, from fdinfo ("inotify wd:.. ino:.. sdev:.. mask:.. ignored_mask:..
 * fhandle-bytes:.. fhandle-type:.. f_handle:.."), rebuilt on the same inode with the same
 * mask and the same watch descriptor.
 *
 * Dump: events queued and not read yet are refused (FIONREAD on a copy of the descriptor,
 * which reads nothing): cryo cannot put them back. Each watched inode must be reachable
 * again by its file handle: it is opened by it at dump already (open_by_handle_at on a
 * mount of its file system) and checked to be the same device and inode; a file system
 * where handles do not work is refused, naming the watch.
 *
 * Restore (child phase): each watch on the inode opened by its handle, through
 * /proc/self/fd/N of that descriptor (never by a path, which might lead to another file by
 * now). The kernel hands out watch descriptors cyclically, each one after the last given:
 * watches are added in the order of their numbers, and before each one a placeholder watch
 * (on a memfd of cryo's, which no image can name) is added and removed until the next
 * number is the one wanted. Removing a watch queues an IN_IGNORED event; the queue is
 * emptied once every watch is there. A change to a watched file while the restore builds
 * the watches is dropped with them: it happened while the task was away. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/util.h"
#include "files/kind.h"

/* the highest watch descriptor cryo rebuilds: reaching it costs that many placeholder
 * watches (two system calls each) */
#define INOTIFY_WD_MAX (1 << 18)
#define INOTIFY_MASK_KNOWN (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK)
#define INOTIFY_WATCHES_MAX (1 << 20) /* bounds the image's list */

/* One "inotify wd:..." line into w; -1 if it is not one cryo can read. */
static int parse_watch(struct dump_ctx *ctx, const char *line, InotifyWatch *w)
{
	unsigned wd, mask, ignored, hbytes, htype;
	int off = 0;
	unsigned long ino, sdev;

	if (sscanf(line,
		   "inotify wd:%x ino:%lx sdev:%lx mask:%x ignored_mask:%x fhandle-bytes:%x "
		   "fhandle-type:%x f_handle:%n",
		   &wd, &ino, &sdev, &mask, &ignored, &hbytes, &htype, &off) != 7 ||
	    !off || hbytes == 0 || hbytes > FSNOTIFY_HANDLE_MAX)
		return -1;
	w->wd = (int32_t)wd;
	w->ino = ino;
	w->dev = fsnotify_dev(sdev);
	w->mask = mask;
	w->handle_type = (int32_t)htype;
	w->handle.len = hbytes;
	w->handle.data = arena_alloc(&ctx->arena, hbytes);
	if (!w->handle.data || fsnotify_hex(line + off, w->handle.data, hbytes))
		return -1;
	return 0;
}

static int by_wd(const void *a, const void *b)
{
	const InotifyWatch *x = *(InotifyWatch *const *)a, *y = *(InotifyWatch *const *)b;
	return (x->wd > y->wd) - (x->wd < y->wd);
}

static int inotify_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			FdEntry *e)
{
	char *info, *line;
	int queued, ret = 0;
	size_t n = 0;

	queued = fsnotify_queued(t, fi->fd, "inotify");
	if (queued < 0)
		return queued;
	if (queued > 0) {
		pr_err(
		    "task %d: fd %d: an inotify with %d bytes of events not read yet: cryo cannot "
		    "put them back",
		    t->pid, fi->fd, queued);
		return -ENOTSUP;
	}
	/* the dispatcher read the whole fdinfo; the parse below writes into its own copy */
	info = strdup(fi->fdinfo);
	if (!info)
		return -ENOMEM;
	for (line = strstr(info, "inotify wd:"); line; line = strstr(line + 1, "\ninotify wd:"))
		n++;
	if (n > INOTIFY_WATCHES_MAX) {
		pr_err("task %d: fd %d: an inotify with %zu watches, more than cryo takes", t->pid,
		       fi->fd, n);
		free(info);
		return -ENOTSUP;
	}
	e->n_inotify_watches = 0;
	e->inotify_watches = n ? arena_alloc(&ctx->arena, n * sizeof(*e->inotify_watches)) : NULL;
	if (n && !e->inotify_watches) {
		free(info);
		return -ENOMEM;
	}
	for (line = strstr(info, "inotify wd:"); line && !ret;
	     line = strstr(line + 1, "\ninotify wd:")) {
		InotifyWatch *w = A_NEW(&ctx->arena, InotifyWatch, INOTIFY_WATCH);
		if (*line == '\n')
			line++;
		if (!w) {
			ret = -ENOMEM;
			break;
		}
		if (parse_watch(ctx, line, w)) {
			int len = (int)strcspn(line, "\n");
			pr_err(
			    "task %d: fd %d: an inotify watch cryo cannot read (no file handle of "
			    "its inode?): %.*s",
			    t->pid, fi->fd, len > 200 ? 200 : len, line);
			ret = -ENOTSUP;
			break;
		}
		if (w->wd <= 0 || w->wd > INOTIFY_WD_MAX) {
			pr_err("task %d: fd %d: inotify watch descriptor %d: cryo rebuilds them up "
			       "to %d",
			       t->pid, fi->fd, w->wd, INOTIFY_WD_MAX);
			ret = -ENOTSUP;
			break;
		}
		if (w->mask & ~(uint32_t)INOTIFY_MASK_KNOWN) {
			pr_err("task %d: fd %d: inotify watch %d has mask %#x, which cryo does not "
			       "know",
			       t->pid, fi->fd, w->wd, w->mask);
			ret = -ENOTSUP;
			break;
		}
		int fd = fsnotify_open_inode(w->dev, w->ino, &w->handle, w->handle_type);
		if (fd < 0) {
			int err = errno;
			char where[1200];
			fsnotify_describe_dev(w->dev, where, sizeof(where));
			pr_errno(err,
				 "task %d: fd %d: inotify watch %d is on inode %" PRIu64
				 " of %s, which cannot be reopened by its file handle (a file "
				 "system without working file handles, or no mount of it here)",
				 t->pid, fi->fd, w->wd, w->ino, where);
			ret = -ENOTSUP;
			break;
		}
		close(fd);
		e->inotify_watches[e->n_inotify_watches++] = w;
	}
	free(info);
	if (ret)
		return ret;
	sort_n(e->inotify_watches, e->n_inotify_watches, sizeof(*e->inotify_watches), by_wd);
	pr_info("task %d: fd %d is an inotify with %zu watch(es)", t->pid, fi->fd,
		e->n_inotify_watches);
	return 0;
}

/* Empty the queue of ifd (non-blocking); the number of events dropped that are not the
 * IN_IGNORED of a placeholder. */
static int drain(int ifd)
{
	char buf[16384] __attribute__((aligned(8)));
	ssize_t n;
	int other = 0;

	while ((n = read(ifd, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *ev = (const void *)(buf + off);
			if (!(ev->mask & IN_IGNORED))
				other++;
			off += (ssize_t)sizeof(*ev) + ev->len;
		}
	return other;
}

static int inotify_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
			   int flags)
{
	char dpath[64], wpath[64];
	int ifd, dummy, next = 1;
	(void)ctx;

	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0) {
		child_fail(t, errno, "cannot make the inotify of fd %d", e->fd);
		return -1;
	}
	dummy = memfd_create("cryo-inotify-placeholder", MFD_CLOEXEC);
	if (dummy < 0) {
		child_fail(t, errno, "fd %d: cannot make a placeholder for inotify watches", e->fd);
		close(ifd);
		return -1;
	}
	snprintf(dpath, sizeof(dpath), "/proc/self/fd/%d", dummy);
	for (size_t i = 0; i < e->n_inotify_watches; i++) {
		const InotifyWatch *w = e->inotify_watches[i];
		int wfd, wd;

		/* placeholders until the kernel's next number is w->wd (validated: ascending) */
		for (int step = 0; next < w->wd; step++) {
			int d = inotify_add_watch(ifd, dpath, IN_ATTRIB);
			if (d < 0 || d >= w->wd || inotify_rm_watch(ifd, d) < 0) {
				child_fail(t, d < 0 ? errno : ERANGE,
					   "fd %d: cannot bring the inotify to watch descriptor %d "
					   "(placeholder got %d)",
					   e->fd, w->wd, d);
				goto fail;
			}
			next = d + 1;
			/* the IN_IGNORED events must not fill the queue to its limit */
			if (step % 4096 == 4095)
				drain(ifd);
		}
		wfd = fsnotify_open_inode(w->dev, w->ino, &w->handle, w->handle_type);
		if (wfd < 0) {
			child_fail(t, errno,
				   "fd %d: cannot reopen the inode %" PRIu64
				   " of device %u:%u of inotify watch %d by its handle",
				   e->fd, w->ino, major((dev_t)w->dev), minor((dev_t)w->dev),
				   w->wd);
			goto fail;
		}
		snprintf(wpath, sizeof(wpath), "/proc/self/fd/%d", wfd);
		wd = inotify_add_watch(ifd, wpath, w->mask | IN_MASK_CREATE);
		int err = errno;
		close(wfd);
		if (wd != w->wd) {
			child_fail(t, wd < 0 ? err : ERANGE,
				   "fd %d: inotify watch %d on inode %" PRIu64 " came back as %d",
				   e->fd, w->wd, w->ino, wd);
			goto fail;
		}
		next = wd + 1;
	}
	close(dummy);
	drain(ifd);
	if (!(flags & O_NONBLOCK) && fcntl(ifd, F_SETFL, 0) < 0) {
		child_fail(t, errno, "cannot make the inotify of fd %d blocking", e->fd);
		close(ifd);
		return -1;
	}
	return ifd;
fail:
	close(dummy);
	close(ifd);
	return -1;
}

static int inotify_validate(const char *img, const Files *f, const FdEntry *e)
{
	(void)f;
	if (e->n_inotify_watches > INOTIFY_WATCHES_MAX)
		return files_refuse(img, "fd %d: %zu inotify watches, too many", e->fd,
				    e->n_inotify_watches);
	for (size_t i = 0; i < e->n_inotify_watches; i++) {
		const InotifyWatch *w = e->inotify_watches[i];
		if (w->wd <= 0 || w->wd > INOTIFY_WD_MAX ||
		    (i && w->wd <= e->inotify_watches[i - 1]->wd))
			return files_refuse(img,
					    "fd %d: inotify watch descriptor %d out of range or "
					    "order",
					    e->fd, w->wd);
		if (!(w->mask & IN_ALL_EVENTS) || (w->mask & ~(uint32_t)INOTIFY_MASK_KNOWN))
			return files_refuse(img, "fd %d: inotify watch %d: mask %#x is invalid",
					    e->fd, w->wd, w->mask);
		if (!w->handle.len || w->handle.len > FSNOTIFY_HANDLE_MAX || !w->handle.data)
			return files_refuse(img, "fd %d: inotify watch %d: handle of %zu bytes",
					    e->fd, w->wd, w->handle.len);
		/* the same inode twice: the restore's IN_MASK_CREATE fails (EEXIST) */
	}
	return 0;
}

const struct fd_ops fd_inotify_ops = {
    .name = "an inotify",
    .names = "inotifys",
    .kind = FD_KIND__FD_INOTIFY,
    .link_prefix = "anon_inode:inotify",
    .dump = inotify_dump,
    .restore = inotify_restore,
    .validate = inotify_validate,
};
