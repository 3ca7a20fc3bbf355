/* The local transport: pages-PID.img in the images directory, written by the writer's
 * thread, synced before it is closed. The handle is the file's descriptor. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/safeopen.h"
#include "core/util.h"
#include "pages/xfer.h"

static int local_open(struct page_xfer *x, pid_t pid)
{
	int dirfd = (int)(intptr_t)x->priv;
	return img_raw_create(dirfd, x->lz4 ? IMG_PAGES_LZ4 : IMG_PAGES, pid);
}

static int local_write(struct page_xfer *x, int fd, pid_t pid, const void *buf, size_t len)
{
	return write_all(fd, buf, len);
}

static int local_skip(struct page_xfer *x, int fd, pid_t pid, uint64_t len)
{
	return lseek(fd, (off_t)len, SEEK_CUR) < 0 ? -errno : 0;
}

static int local_close(struct page_xfer *x, int fd, pid_t pid, bool ok)
{
	int ret = 0;
	/* a hole at its end is made by the size */
	off_t end = ok ? lseek(fd, 0, SEEK_CUR) : 0;
	if (ok && (end < 0 || ftruncate(fd, end) < 0))
		ret = -errno;
	/* the image is complete once it is on disk */
	if (!ret && ok)
		ret = sync_fd(fd);
	if (close(fd) < 0 && !ret && errno != EINTR)
		ret = -errno;
	return ret;
}

static void local_destroy(struct page_xfer *x)
{
	free(x);
}

static const struct page_xfer_ops local_ops = {
    .open = local_open,
    .write = local_write,
    .skip = local_skip,
    .close = local_close,
    .destroy = local_destroy,
};

struct page_xfer *xfer_local_new(int dirfd)
{
	struct page_xfer *x = calloc(1, sizeof(*x));
	if (x) {
		x->ops = &local_ops;
		x->priv = (void *)(intptr_t)dirfd;
	}
	return x;
}
