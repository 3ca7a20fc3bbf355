/* Where a dump's pages go: a transport behind one small interface (architecture: "pages
 * behind one interface"). The memory code (res/pages.c) reads batches of pages; the writer's
 * thread (res/page_ring.c) hands each batch to xfer_write, which compresses it with
 * --compress (pages/lz4.c) and passes it to the transport: the local image file (local.c)
 * or the page server (remote.c). The read side at restore is pages/read.h. */
#ifndef CRYO_PAGES_XFER_H
#define CRYO_PAGES_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "img/image.h"

struct dump_ctx;
struct page_xfer;

struct page_xfer_ops {
	/* the dumping thread: the page image of task pid begins; a handle for the calls below
	 * (>= 0) or -errno, logged */
	int (*open)(struct page_xfer *x, pid_t pid);
	/* the writer's thread, in order: the next len bytes of the image's data */
	int (*write)(struct page_xfer *x, int h, pid_t pid, const void *buf, size_t len);
	/* the writer's thread, in order: len bytes of the image's data left out (a hole: pages
	 * a dump --lazy-pages leaves in the tree); NULL: the transport cannot */
	int (*skip)(struct page_xfer *x, int h, pid_t pid, uint64_t len);
	/* the writer's thread, after the last write: complete (on disk, or received), or, when
	 * !ok, abandoned (the dump fails) */
	int (*close)(struct page_xfer *x, int h, pid_t pid, bool ok);
	/* a metadata image that goes with the pages (pagemap, inventory); NULL: written
	 * locally only */
	int (*image)(struct page_xfer *x, enum img_type type, int id, const ProtobufCMessage *m);
	/* the dump's images are complete: the transport confirms it has everything */
	int (*finish)(struct page_xfer *x);
	void (*destroy)(struct page_xfer *x);
};

struct page_xfer {
	const struct page_xfer_ops *ops;
	bool lz4;      /* --compress */
	uint8_t *zbuf; /* the writer's thread's frames of one batch */
	size_t zbuf_len;
	uint64_t stored; /* bytes handed to the transport, in all */
	void *priv;
};

/* The dump's transport, as its options say (ctx->xfer). 0 or -errno, logged: a page server
 * that cannot be reached fails the dump before the tree is touched. */
int xfer_open(struct dump_ctx *ctx);
/* One batch (len bytes of pages) of image h: compressed if asked, then to the transport. */
int xfer_write(struct page_xfer *x, int h, pid_t pid, const void *buf, size_t len);
/* A hole of len bytes in image h (plain pages only) */
int xfer_skip(struct page_xfer *x, int h, pid_t pid, uint64_t len);
/* The codec and frame size a task's pagemap must name. */
void xfer_describe(const struct page_xfer *x, Pagemap *pm);
/* A metadata image also for the transport (pagemaps, the inventory); 0 when it takes none. */
int xfer_image(struct page_xfer *x, enum img_type type, int id, const ProtobufCMessage *m);
int xfer_finish(struct page_xfer *x);
void xfer_free(struct dump_ctx *ctx);

/* the transports */
struct page_xfer *xfer_local_new(int dirfd);
struct page_xfer *xfer_remote_new(struct dump_ctx *ctx);

#endif
