/* eventfd: its counter and semaphore mode, from fdinfo ("eventfd-count: hex",
 * "eventfd-semaphore: 0|1"); rebuilt with eventfd() and one write of the counter (eventfd()
 * takes only 32 bits of it). One shared by several fds or tasks is one description, shared
 * again by the dispatcher. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"

static int eventfd_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			FdEntry *e)
{
	const char *c = strstr(fi->fdinfo, "eventfd-count:");
	const char *sem = strstr(fi->fdinfo, "eventfd-semaphore:");
	(void)ctx;
	if (!c) {
		pr_err("task %d: fd %d: an eventfd without its count in fdinfo", t->pid, fi->fd);
		return -ENOTSUP;
	}
	e->has_eventfd_count = e->has_eventfd_semaphore = true;
	e->eventfd_count = strtoull(c + 14, NULL, 16);
	e->eventfd_semaphore = sem && atoi(sem + 18) != 0;
	pr_info("task %d: fd %d is an eventfd, count %" PRIu64 "%s", t->pid, fi->fd,
		e->eventfd_count, e->eventfd_semaphore ? ", semaphore" : "");
	return 0;
}

static int eventfd_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
			   int flags)
{
	int fd = eventfd(0, EFD_CLOEXEC | (e->eventfd_semaphore ? EFD_SEMAPHORE : 0) |
				(flags & O_NONBLOCK ? EFD_NONBLOCK : 0));
	(void)ctx;
	if (fd < 0) {
		child_fail(t, errno, "cannot make the eventfd of fd %d", e->fd);
		return -1;
	}
	if (e->eventfd_count &&
	    write(fd, &e->eventfd_count, sizeof(e->eventfd_count)) != sizeof(e->eventfd_count)) {
		child_fail(t, errno, "cannot set the count of the eventfd of fd %d", e->fd);
		close(fd);
		return -1;
	}
	return fd;
}

static int eventfd_validate(const char *img, const Files *f, const FdEntry *e)
{
	(void)f;
	/* the kernel's counter never reaches 2^64 - 1 */
	if (!e->has_eventfd_count || e->eventfd_count == UINT64_MAX)
		return files_refuse(img, "fd %d: an eventfd without a valid count", e->fd);
	return 0;
}

const struct fd_ops fd_eventfd_ops = {
    .name = "an eventfd",
    .names = "eventfds",
    .kind = FD_KIND__FD_EVENTFD,
    .link_prefix = "anon_inode:[eventfd]",
    .dump = eventfd_dump,
    .restore = eventfd_restore,
    .validate = eventfd_validate,
};
