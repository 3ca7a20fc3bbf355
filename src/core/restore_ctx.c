/* Helpers the resource files (src/res/, src/files/) need from a restore's context: service
 * fds and global objects, finding a task, reporting a child-phase failure. They live here,
 * below the drivers (restore.c, restore_child.c), so that resource code never calls up into
 * them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/restore_ctx.h"

int restore_alloc_fd(struct restore_ctx *ctx)
{
	return fd_room_take(&ctx->room);
}

/* The gaps between the service fds (taken in increasing order), and all above them. */
int restore_close_but_svc(struct restore_ctx *ctx)
{
	const struct fd_room *r = &ctx->room;
	unsigned int lo = 0;

	for (int i = 0; i <= r->n_taken; i++) {
		unsigned int hi = i < r->n_taken ? (unsigned int)r->taken[i] : ~0u;
		if (hi > lo && syscall(SYS_close_range, lo, i < r->n_taken ? hi - 1 : hi, 0) < 0)
			return -1;
		lo = hi + 1;
	}
	return 0;
}

/* SVC_DESC globals by (task, fd): open addressing over indexes + 1; a tree may share
 * thousands of descriptions, and every fd of every task asks (shared_source). */
static uint32_t desc_hash(pid_t pid, int fd, uint32_t mask)
{
	uint64_t h = ((uint64_t)(uint32_t)pid << 32 | (uint32_t)fd) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & mask;
}

static void desc_place(struct restore_ctx *ctx, int i)
{
	struct svc_file *g = &ctx->globals[i];
	uint32_t h = desc_hash(g->desc_pid, g->desc->fd, ctx->desc_hcap - 1);
	while (ctx->desc_index[h])
		h = (h + 1) & (ctx->desc_hcap - 1);
	ctx->desc_index[h] = (uint32_t)i + 1;
}

struct svc_file *restore_find_desc(struct restore_ctx *ctx, pid_t pid, int fd)
{
	if (!ctx->desc_hcap)
		return NULL;
	for (uint32_t h = desc_hash(pid, fd, ctx->desc_hcap - 1);;
	     h = (h + 1) & (ctx->desc_hcap - 1)) {
		uint32_t i = ctx->desc_index[h];
		if (!i)
			return NULL;
		struct svc_file *g = &ctx->globals[i - 1];
		if (g->desc_pid == pid && g->desc->fd == fd)
			return g;
	}
}

struct svc_file *restore_add_global(struct restore_ctx *ctx, struct svc_file f)
{
	struct svc_file *g;
	if (f.kind == SVC_DESC && (g = restore_find_desc(ctx, f.desc_pid, f.desc->fd)))
		return g;
	for (int i = 0; f.kind == SVC_SHMEM && i < ctx->nr_globals; i++) {
		g = &ctx->globals[i];
		if (g->kind == SVC_SHMEM && g->shmem_id == f.shmem_id) {
			if (f.shmem_size > g->shmem_size)
				g->shmem_size = f.shmem_size;
			return g;
		}
	}
	if (ctx->nr_globals == ctx->cap_globals) {
		int cap = ctx->cap_globals ? ctx->cap_globals * 2 : 16;
		struct svc_file *n = realloc(ctx->globals, cap * sizeof(*n));
		uint32_t *index = calloc((size_t)cap * 2, sizeof(*index));
		if (!n || !index) {
			if (n)
				ctx->globals = n;
			free(index);
			return NULL;
		}
		ctx->globals = n, ctx->cap_globals = cap;
		free(ctx->desc_index);
		ctx->desc_index = index, ctx->desc_hcap = (uint32_t)cap * 2;
		for (int i = 0; i < ctx->nr_globals; i++)
			if (ctx->globals[i].kind == SVC_DESC)
				desc_place(ctx, i);
	}
	f.fd = restore_alloc_fd(ctx);
	ctx->globals[ctx->nr_globals] = f;
	if (f.kind == SVC_DESC)
		desc_place(ctx, ctx->nr_globals);
	return &ctx->globals[ctx->nr_globals++];
}

struct restore_task *restore_find_task(struct restore_ctx *ctx, pid_t pid)
{
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].pid == pid)
			return &ctx->tasks[i];
	return NULL;
}

void child_fail(struct restore_task *t, int err, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(t->state->msg, sizeof(t->state->msg), fmt, ap);
	va_end(ap);
	if (err && n >= 0 && (size_t)n < sizeof(t->state->msg))
		snprintf(t->state->msg + n, sizeof(t->state->msg) - n, ": %s", strerror(err));
	t->state->err = err ? err : EINVAL;
	__atomic_store_n(&t->state->state, TS_FAILED, __ATOMIC_RELEASE);
}

int restore_place_fd(struct restore_task *t, int fd, int at, const char *what)
{
	if (fd < 0) {
		child_fail(t, errno, "cannot open %s", what);
		return -1;
	}
	if (fd != at) {
		if (dup2(fd, at) < 0) {
			child_fail(t, errno, "cannot move %s to fd %d", what, at);
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}
