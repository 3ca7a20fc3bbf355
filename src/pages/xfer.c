/* The dump's page transport: see xfer.h. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "pages/lz4.h"
#include "pages/xfer.h"
#include "res/page_ring.h"

int xfer_open(struct dump_ctx *ctx)
{
	const struct cryo_dump_opts *o = ctx->opts;
	struct page_xfer *x = o->page_server ? xfer_remote_new(ctx) : xfer_local_new(ctx->dirfd);

	if (!x)
		return o->page_server ? -ECONNREFUSED : -ENOMEM;
	ctx->xfer = x;
	if (o->compress) {
		x->lz4 = true;
		x->zbuf_len = pages_lz4_bound(COPY_BUF);
		x->zbuf = mmap(NULL, x->zbuf_len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (x->zbuf == MAP_FAILED) {
			x->zbuf = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

int xfer_write(struct page_xfer *x, int h, pid_t pid, const void *buf, size_t len)
{
	if (x->lz4) {
		len = pages_lz4_compress(buf, len, x->zbuf);
		buf = x->zbuf;
	}
	x->stored += len;
	return x->ops->write(x, h, pid, buf, len);
}

int xfer_skip(struct page_xfer *x, int h, pid_t pid, uint64_t len)
{
	if (x->lz4 || !x->ops->skip)
		return -ENOTSUP;
	return x->ops->skip(x, h, pid, len);
}

void xfer_describe(const struct page_xfer *x, Pagemap *pm)
{
	if (!x->lz4)
		return;
	pm->has_pages_codec = pm->has_pages_block = true;
	pm->pages_codec = PAGES_CODEC__PAGES_LZ4;
	pm->pages_block = PAGES_LZ4_BLOCK;
}

int xfer_image(struct page_xfer *x, enum img_type type, int id, const ProtobufCMessage *m)
{
	return x && x->ops->image ? x->ops->image(x, type, id, m) : 0;
}

int xfer_finish(struct page_xfer *x)
{
	return x && x->ops->finish ? x->ops->finish(x) : 0;
}

void xfer_free(struct dump_ctx *ctx)
{
	struct page_xfer *x = ctx->xfer;
	if (!x)
		return;
	if (x->zbuf)
		munmap(x->zbuf, x->zbuf_len);
	x->ops->destroy(x);
	ctx->xfer = NULL;
}
