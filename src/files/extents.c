/* The content of a file saved as its data ranges, for the kinds that save a file's bytes
 * (ghost.c: files deleted while open; memfd.c: memfds): the dump finds each range with
 * SEEK_DATA/SEEK_HOLE and copies it into a raw image, one GhostExtent each, so holes stay
 * holes and cost nothing; the restore writes each range back at its offset and gives the
 * file its size (holes at the end included). Both halves here, once, for both kinds. */
#include <errno.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"

int extents_dump(struct dump_ctx *ctx, int src, off_t size, enum img_type type, int id,
		 GhostExtent ***ext, size_t *n, const char *who, const char *what)
{
	char img[64];
	int out, ret = 0;

	img_name(type, id, img, sizeof(img));
	out = img_raw_create(ctx->dirfd, type, id);
	if (out < 0)
		return out;
	for (off_t off = 0; off < size && !ret;) {
		off_t data = lseek(src, off, SEEK_DATA), hole;
		if (data < 0 && errno == ENXIO)
			break;
		hole = data < 0 ? -1 : lseek(src, data, SEEK_HOLE);
		if (data < 0 || hole < 0) {
			ret = -errno;
			pr_errno(-ret, "%s: cannot find the data of %s", who, what);
			break;
		}
		if (data >= size)
			break;
		if (hole > size)
			hole = size;
		GhostExtent *x = A_NEW(&ctx->arena, GhostExtent, GHOST_EXTENT);
		if (!x || !DUMP_PUSH(ctx, *ext, *n, x)) {
			ret = -ENOMEM;
			break;
		}
		x->off = (uint64_t)data;
		x->len = (uint64_t)(hole - data);
		for (off_t p = data; p < hole;) {
			ssize_t got = sendfile(out, src, &p, (size_t)(hole - p));
			if (got <= 0) {
				ret = got < 0 ? -errno : -EIO;
				pr_errno(-ret, "%s: cannot copy %s into %s", who, what, img);
				break;
			}
		}
		off = hole;
	}
	if (ret)
		close(out);
	else
		ret = img_close_synced(out, img);
	return ret;
}

int extents_restore(struct restore_ctx *ctx, struct restore_task *t, enum img_type type, int id,
		    int dst, GhostExtent *const *ext, size_t n, uint64_t size, const char *what)
{
	char img[64];
	uint64_t img_size;
	off_t soff = IMG_RAW_HDR;
	int src, err = 0;

	img_name(type, id, img, sizeof(img));
	src = img_raw_open(ctx->svc_dirfd, type, id, &img_size);
	if (src < 0) {
		child_fail(t, -src, "cannot open %s", img);
		return -1;
	}
	for (size_t i = 0; i < n && !err; i++) {
		const GhostExtent *x = ext[i];
		if (lseek(dst, (off_t)x->off, SEEK_SET) < 0) {
			err = errno;
			break;
		}
		for (off_t end = soff + (off_t)x->len; soff < end;) {
			ssize_t got = sendfile(dst, src, &soff, (size_t)(end - soff));
			if (got <= 0) {
				err = got < 0 ? errno : EIO;
				break;
			}
		}
	}
	close(src);
	/* the size as it was: holes at the end included */
	if (!err && ftruncate(dst, (off_t)size) < 0)
		err = errno;
	if (err) {
		child_fail(t, err, "cannot write the content of %s", what);
		return -1;
	}
	return 0;
}
