/* The writer of page images: batches of pages read from a task by the dumping thread are
 * written to their image by a second thread, in order, so that reading memory and writing the
 * file overlap (pages.c fills the buffers). One ring serves the whole dump. */
#ifndef CRYO_RES_PAGE_RING_H
#define CRYO_RES_PAGE_RING_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dump_ctx;
struct page_xfer;

#define COPY_BUF (2u << 20) /* one batch; a few of them stay in the CPU caches */
#define NR_BUFS 4

struct write_ring {
	uint8_t *buf[NR_BUFS];
	size_t len[NR_BUFS];
	int buf_fd[NR_BUFS];	       /* the image each batch goes to (a handle of xfer) */
	pid_t buf_pid[NR_BUFS];	       /* ... the task whose image it is */
	bool close_after[NR_BUFS];     /* the last batch of that image: the writer closes it */
	uint64_t hole_before[NR_BUFS]; /* bytes of that image skipped before the batch (a
					* hole: pages left in the tree, dump --lazy-pages) */
	uint64_t hole;		       /* ... for the next batch submitted */
	int head, count;	       /* next to write, batches queued */
	int fill;		       /* buffer being filled by the dumping thread */
	int fd;
	pid_t pid;     /* the task of fd */
	int err;       /* first write error (-errno), sticky */
	pid_t err_pid; /* ... in the image of this task */
	bool done;
	uint64_t bytes;
	struct page_xfer *xfer; /* the transport (pages/xfer.h) */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/* The dump's ring (ctx->page_ring), made at its first use: buffers stay warm from one task to
 * the next. NULL when it cannot be made. */
struct write_ring *ring_get(struct dump_ctx *ctx);
/* The ring made now and its buffers' pages with it: a final dump of a chain, before the
 * freeze (their first touch would be some 2000 page faults of cryo's in it). */
void ring_prefault(struct dump_ctx *ctx);
/* Hand the filled buffer i (len bytes of r->fd's image; last: the image ends with it) to the
 * writer; returns the index of a free one to fill next. */
int ring_submit(struct write_ring *r, int i, size_t len, bool last);
/* The first write error so far (wait: after everything queued), logged with the image it
 * hit; clear: forget it. 0 if none. */
int ring_error(struct write_ring *r, bool wait, bool clear);
/* Wait until everything queued is written; the first write error, cleared (report: logged). */
int ring_drain(struct write_ring *r, bool report);
/* Stop the writer (started: its thread runs) and free the ring. */
void ring_free(struct write_ring *r, bool started);
#endif
