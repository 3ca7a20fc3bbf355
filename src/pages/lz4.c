/* LZ4 frames of page images: see lz4.h. The writer's thread compresses each batch as it
 * writes it (pages/xfer.c); restore, show, dedup and the chain of parents read the frames
 * here, trusting no header: a frame that does not decode to exactly its length is refused. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "img/image.h"
#include "pages/lz4.h"

size_t pages_lz4_bound(size_t len)
{
	size_t frames = (len + PAGES_LZ4_BLOCK - 1) / PAGES_LZ4_BLOCK;
	return frames * (PAGES_LZ4_HDR + (size_t)LZ4_COMPRESSBOUND(PAGES_LZ4_BLOCK));
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* x86_64 only: little-endian */
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

size_t pages_lz4_compress(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i += PAGES_LZ4_BLOCK) {
		int n = len - i < PAGES_LZ4_BLOCK ? (int)(len - i) : (int)PAGES_LZ4_BLOCK;
		/* stored as it is when LZ4 does not make it smaller (random data) */
		int c = LZ4_compress_default((const char *)in + i, (char *)out + o + PAGES_LZ4_HDR,
					     n, n - 1);
		if (c <= 0) {
			memcpy(out + o + PAGES_LZ4_HDR, in + i, n);
			c = n;
		}
		put32(out + o, n);
		put32(out + o + 4, c);
		o += PAGES_LZ4_HDR + c;
	}
	return o;
}

int pages_lz4_index(int fd, uint64_t data_size, uint64_t raw_size, uint32_t block, const char *name,
		    struct lz4_frame **frames, size_t *nr)
{
	struct lz4_frame *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t off = 0, raw = 0;
	uint8_t hdr[PAGES_LZ4_HDR];

	*frames = NULL;
	*nr = 0;
	if (!block || block % PAGE_SIZE || block > PAGES_LZ4_BLOCK_MAX) {
		pr_err("%s: frames of %u bytes: not a multiple of the page size up to %u", name,
		       block, PAGES_LZ4_BLOCK_MAX);
		return -EINVAL;
	}
	while (off < data_size) {
		if (data_size - off < PAGES_LZ4_HDR ||
		    pread(fd, hdr, sizeof(hdr), IMG_RAW_HDR + off) != (ssize_t)sizeof(hdr)) {
			pr_err("%s: truncated frame header at offset %lu", name, off);
			goto bad;
		}
		uint32_t rl = get32(hdr) & ~PAGES_LZ4_PUNCHED, sl = get32(hdr + 4);
		bool punched = get32(hdr) & PAGES_LZ4_PUNCHED;
		if (!rl || rl % PAGE_SIZE || rl > block || !sl || sl > rl ||
		    sl > data_size - off - PAGES_LZ4_HDR || (raw_size && raw + rl > raw_size)) {
			pr_err("%s: frame %zu at offset %lu has a bad length (%u bytes of pages, "
			       "%u stored, %lu bytes left in the file, %lu of %lu pages bytes "
			       "before it)",
			       name, n, off, rl, sl, data_size - off - PAGES_LZ4_HDR, raw,
			       raw_size);
			goto bad;
		}
		if (n == cap) {
			size_t c = cap ? cap * 2 : 64;
			struct lz4_frame *m = realloc(v, c * sizeof(*m));
			if (!m) {
				free(v);
				return -ENOMEM;
			}
			v = m;
			cap = c;
		}
		v[n++] = (struct lz4_frame){off, raw, rl, sl, punched};
		off += PAGES_LZ4_HDR + sl;
		raw += rl;
	}
	if (raw_size && raw != raw_size) {
		pr_err("%s: its frames hold %lu bytes of pages, its pagemap says %lu", name, raw,
		       raw_size);
		goto bad;
	}
	*frames = v;
	*nr = n;
	return 0;
bad:
	free(v);
	return -EINVAL;
}

int pages_lz4_frame(int fd, const struct lz4_frame *f, uint8_t *stored, uint8_t *out,
		    const char *name)
{
	uint8_t *dst = f->stored_len == f->raw_len ? out : stored;
	ssize_t n = pread(fd, dst, f->stored_len, IMG_RAW_HDR + f->off + PAGES_LZ4_HDR);
	if (n != (ssize_t)f->stored_len) {
		pr_err("%s: frame at offset %lu is truncated", name, f->off);
		return -EINVAL;
	}
	if (dst == out)
		return 0;
	int r = LZ4_decompress_safe((const char *)stored, (char *)out, (int)f->stored_len,
				    (int)f->raw_len);
	if (r != (int)f->raw_len) {
		pr_err("%s: frame at offset %lu is corrupt (LZ4 gives %d bytes, not %u)", name,
		       f->off, r, f->raw_len);
		return -EINVAL;
	}
	return 0;
}

int pages_lz4_unpack(int fd, const struct lz4_frame *frames, size_t nr, int out_fd,
		     const char *name)
{
	uint8_t *stored = malloc(PAGES_LZ4_BLOCK_MAX), *out = malloc(PAGES_LZ4_BLOCK_MAX);
	int ret = stored && out ? 0 : -ENOMEM;

	for (size_t i = 0; i < nr && !ret; i++) {
		/* no task needs it (dedup): its pages stay zero, as in a punched plain image */
		if (frames[i].punched)
			continue;
		ret = pages_lz4_frame(fd, &frames[i], stored, out, name);
		if (!ret && pwrite(out_fd, out, frames[i].raw_len,
				   IMG_RAW_HDR + frames[i].raw_off) != (ssize_t)frames[i].raw_len) {
			ret = -errno ?: -EIO;
			pr_errno(-ret, "%s: cannot keep its pages in memory", name);
		}
	}
	free(stored);
	free(out);
	return ret;
}

int pages_lz4_punch(int fd, const struct lz4_frame *f)
{
	uint8_t hdr[4];
	if (f->punched)
		return 0;
	put32(hdr, f->raw_len | PAGES_LZ4_PUNCHED);
	if (pwrite(fd, hdr, 4, IMG_RAW_HDR + f->off) != 4)
		return errno ? -errno : -EIO;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      IMG_RAW_HDR + f->off + PAGES_LZ4_HDR, f->stored_len) < 0)
		return -errno;
	return 0;
}
