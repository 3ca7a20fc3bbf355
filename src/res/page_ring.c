/* The page images' writer thread: see page_ring.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/fault.h"
#include "core/log.h"
#include "core/safeopen.h"
#include "core/util.h"
#include "pages/xfer.h"
#include "res/page_ring.h"

static void *ring_writer(void *arg)
{
	struct write_ring *r = arg;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->count && !r->done)
			pthread_cond_wait(&r->cond, &r->lock);
		if (!r->count)
			break;
		int i = r->head;
		pthread_mutex_unlock(&r->lock);
		int ret = r->err || !r->hole_before[i]
			      ? 0
			      : xfer_skip(r->xfer, r->buf_fd[i], r->buf_pid[i], r->hole_before[i]);
		if (!ret && !r->err && r->len[i])
			ret =
			    xfer_write(r->xfer, r->buf_fd[i], r->buf_pid[i], r->buf[i], r->len[i]);
		if (r->close_after[i]) {
			/* complete once on disk (or on the page server) */
			int cret = r->xfer->ops->close(r->xfer, r->buf_fd[i], r->buf_pid[i],
						       !ret && !r->err);
			if (!ret)
				ret = cret;
		}
		pthread_mutex_lock(&r->lock);
		if (ret && !r->err) {
			r->err = ret;
			r->err_pid = r->buf_pid[i];
		}
		r->bytes += r->len[i];
		r->head = (r->head + 1) % NR_BUFS;
		r->count--;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Hand a filled buffer to the writer; returns the index of a free one to fill next. */
int ring_submit(struct write_ring *r, int i, size_t len, bool last)
{
	fault_point("pages: a buffer to write", 0);
	pthread_mutex_lock(&r->lock);
	r->len[i] = len;
	r->buf_fd[i] = r->fd;
	r->buf_pid[i] = r->pid;
	r->close_after[i] = last;
	r->hole_before[i] = r->hole;
	r->hole = 0;
	r->count++;
	pthread_cond_broadcast(&r->cond);
	while (r->count == NR_BUFS)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	return (i + 1) % NR_BUFS;
}

void ring_free(struct write_ring *r, bool started)
{
	if (started) {
		pthread_mutex_lock(&r->lock);
		r->done = true;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	for (int i = 0; i < NR_BUFS; i++)
		if (r->buf[i])
			munmap(r->buf[i], COPY_BUF);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}

/* The dump's ring, made at its first use: buffers stay warm from one task to the next. */
struct write_ring *ring_get(struct dump_ctx *ctx)
{
	struct write_ring *r = ctx->page_ring;
	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	for (int i = 0; i < NR_BUFS; i++) {
		r->buf[i] = mmap(NULL, COPY_BUF, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r->buf[i] == MAP_FAILED) {
			r->buf[i] = NULL;
			ring_free(r, false);
			return NULL;
		}
	}
	if (pthread_create(&r->thread, NULL, ring_writer, r)) {
		ring_free(r, false);
		return NULL;
	}
	r->xfer = ctx->xfer;
	ctx->page_ring = r;
	return r;
}

void ring_prefault(struct dump_ctx *ctx)
{
	struct write_ring *r = ring_get(ctx);
	/* (a failure only leaves the faults to the first batches) */
	for (int i = 0; r && i < NR_BUFS; i++)
		madvise(r->buf[i], COPY_BUF, MADV_POPULATE_WRITE);
}

/* The first write error so far, logged with the image it hit; 0 if none. */
int ring_error(struct write_ring *r, bool wait, bool clear)
{
	int err;
	pid_t pid;
	pthread_mutex_lock(&r->lock);
	while (wait && r->count)
		pthread_cond_wait(&r->cond, &r->lock);
	err = r->err, pid = r->err_pid;
	if (clear)
		r->err = 0;
	pthread_mutex_unlock(&r->lock);
	if (err)
		pr_errno(-err, "cannot %s pages-%d.img", r->xfer->ops->image ? "send" : "write",
			 pid);
	return err;
}

/* Wait until everything queued is written; returns the first write error, and clears it. */
int ring_drain(struct write_ring *r, bool report)
{
	int err;
	if (report)
		return ring_error(r, true, true);
	pthread_mutex_lock(&r->lock);
	while (r->count)
		pthread_cond_wait(&r->cond, &r->lock);
	err = r->err;
	r->err = 0;
	pthread_mutex_unlock(&r->lock);
	return err;
}
