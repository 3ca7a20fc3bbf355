/* Helpers the resource files (src/res/, src/files/) need from a dump's context. They live
 * here, below the driver (dump.c), so that resource code never calls up into it. */
#include <string.h>

#include "core/dump_ctx.h"

void *dump_push(struct dump_ctx *ctx, void ***arr, size_t *n, void *item)
{
	/* grow by doubling inside the arena; the old array is simply left there */
	size_t cap = 4;
	while (cap < *n + 1)
		cap *= 2;
	if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
		void **na = arena_alloc(&ctx->arena, cap * sizeof(void *));
		if (!na)
			return NULL;
		if (*n)
			memcpy(na, *arr, *n * sizeof(void *));
		*arr = na;
	}
	(*arr)[(*n)++] = item;
	return item;
}

struct dump_task *dump_find_task(const struct dump_ctx *ctx, pid_t pid)
{
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].pid == pid)
			return &ctx->tasks[i];
	return NULL;
}
