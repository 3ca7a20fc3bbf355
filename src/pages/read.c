/* Page images at restore: see read.h. A compressed image is decompressed once into a memfd
 * (one copy of the task's memory in RAM during the restore), so that the rest of the restore
 * reads plain pages with preadv straight into the task, as from an uncompressed image. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "pages/lz4.h"
#include "pages/read.h"

int pages_check_codec(pid_t pid, const Pagemap *pm)
{
	if (!pm->has_pages_codec || pm->pages_codec == PAGES_CODEC__PAGES_RAW)
		return 0;
	if (pm->pages_codec != PAGES_CODEC__PAGES_LZ4) {
		pr_err("pagemap-%d.img: unknown page codec %d", pid, pm->pages_codec);
		return -EINVAL;
	}
	if (!pm->has_pages_block || !pm->pages_block || pm->pages_block % PAGE_SIZE ||
	    pm->pages_block > PAGES_LZ4_BLOCK_MAX) {
		pr_err("pagemap-%d.img: LZ4 frames of %u bytes (a multiple of the page size up "
		       "to %u)",
		       pid, pm->pages_block, PAGES_LZ4_BLOCK_MAX);
		return -EINVAL;
	}
	return 0;
}

int pages_open(int dirfd, pid_t pid, const Pagemap *pm, uint64_t *size, bool *unpacked)
{
	bool lz4 = pm->has_pages_codec && pm->pages_codec == PAGES_CODEC__PAGES_LZ4;
	struct lz4_frame *frames = NULL;
	uint64_t data_size, raw;
	size_t nr = 0;
	char name[64];
	int fd, out = -1, ret;

	*unpacked = false;
	if ((ret = pages_check_codec(pid, pm)))
		return ret;
	fd = img_raw_open(dirfd, lz4 ? IMG_PAGES_LZ4 : IMG_PAGES, pid, &data_size);
	if (fd < 0 || !lz4) {
		*size = data_size;
		return fd;
	}
	img_name(IMG_PAGES, pid, name, sizeof(name));
	if (pm->total_pages > (UINT64_MAX - IMG_RAW_HDR) / PAGE_SIZE) {
		pr_err("pagemap-%d.img: %lu pages", pid, pm->total_pages);
		ret = -EINVAL;
		goto out;
	}
	raw = pm->total_pages * PAGE_SIZE;
	if ((ret = pages_lz4_index(fd, data_size, raw, pm->pages_block, name, &frames, &nr)))
		goto out;
	out = memfd_create("cryo-pages", MFD_CLOEXEC);
	if (out < 0 || ftruncate(out, IMG_RAW_HDR + raw) < 0) {
		ret = -errno;
		pr_errno(-ret, "%s: no memory for its %lu bytes of pages", name, raw);
		goto out;
	}
	if ((ret = pages_lz4_unpack(fd, frames, nr, out, name)))
		goto out;
	*size = raw;
	*unpacked = true;
	close(fd);
	free(frames);
	return out;
out:
	free(frames);
	close(fd);
	if (out >= 0)
		close(out);
	return ret;
}
