/* signalfd: the set of signals it reads, from fdinfo ("sigmask: hex"); rebuilt with
 * signalfd4(). The signals themselves are the task's pending signals, restored with the rest
 * of its signal state. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"

static int signalfd_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			 FdEntry *e)
{
	const char *m = strstr(fi->fdinfo, "sigmask:");
	(void)ctx;
	if (!m) {
		pr_err("task %d: fd %d: a signalfd without its mask in fdinfo", t->pid, fi->fd);
		return -ENOTSUP;
	}
	e->has_signalfd_mask = true;
	e->signalfd_mask = strtoull(m + 8, NULL, 16);
	pr_info("task %d: fd %d is a signalfd for %#" PRIx64, t->pid, fi->fd, e->signalfd_mask);
	return 0;
}

static int signalfd_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
			    int flags)
{
	uint64_t mask = e->signalfd_mask;
	/* the kernel's sigset (8 bytes), not glibc's */
	int fd = (int)syscall(SYS_signalfd4, -1, &mask, sizeof(mask),
			      SFD_CLOEXEC | (flags & O_NONBLOCK ? SFD_NONBLOCK : 0));
	(void)ctx;
	if (fd < 0) {
		child_fail(t, errno, "cannot make the signalfd of fd %d", e->fd);
		return -1;
	}
	return fd;
}

static int signalfd_validate(const char *img, const Files *f, const FdEntry *e)
{
	(void)f;
	if (!e->has_signalfd_mask)
		return files_refuse(img, "fd %d: a signalfd without its mask", e->fd);
	return 0;
}

const struct fd_ops fd_signalfd_ops = {
    .name = "a signalfd",
    .names = "signalfds",
    .kind = FD_KIND__FD_SIGNALFD,
    .link_prefix = "anon_inode:[signalfd]",
    .dump = signalfd_dump,
    .restore = signalfd_restore,
    .validate = signalfd_validate,
};
