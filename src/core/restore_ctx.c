/* Helpers the resource files (src/res/, src/files/) need from a restore's context: service
 * fds and global objects, finding a task, reporting a child-phase failure. They live here,
 * below the drivers (restore.c, restore_child.c), so that resource code never calls up into
 * them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/restore_ctx.h"

int restore_alloc_fd(struct restore_ctx *ctx)
{
	return ctx->next_fd++;
}

struct svc_file *restore_add_global(struct restore_ctx *ctx, struct svc_file f)
{
	for (int i = 0; i < ctx->nr_globals; i++) {
		struct svc_file *g = &ctx->globals[i];
		if (f.kind == SVC_SHMEM && g->kind == SVC_SHMEM && g->shmem_id == f.shmem_id) {
			if (f.shmem_size > g->shmem_size)
				g->shmem_size = f.shmem_size;
			return g;
		}
		if (f.kind == SVC_DESC && g->kind == SVC_DESC && g->desc_pid == f.desc_pid &&
		    g->desc->fd == f.desc->fd)
			return g;
	}
	struct svc_file *n = realloc(ctx->globals, (ctx->nr_globals + 1) * sizeof(*n));
	if (!n)
		return NULL;
	ctx->globals = n;
	f.fd = restore_alloc_fd(ctx);
	n[ctx->nr_globals] = f;
	return &n[ctx->nr_globals++];
}

struct svc_file *restore_find_desc(struct restore_ctx *ctx, pid_t pid, int fd)
{
	for (int i = 0; i < ctx->nr_globals; i++)
		if (ctx->globals[i].kind == SVC_DESC && ctx->globals[i].desc_pid == pid &&
		    ctx->globals[i].desc->fd == fd)
			return &ctx->globals[i];
	return NULL;
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
