#include "core/arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_chunk *c = a->head;
	size = (size + 15) & ~(size_t)15;
	if (!c || c->used + size > c->size) {
		size_t csize = size > 65536 ? size : 65536;
		c = fault_point("arena: an allocation", ENOMEM) ? NULL : malloc(sizeof(*c) + csize);
		if (!c) {
			a->failed = 1;
			return NULL;
		}
		c->used = 0;
		c->size = csize;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return s ? arena_memdup(a, s, strlen(s) + 1) : NULL;
}

void *arena_memdup(struct arena *a, const void *p, size_t size)
{
	void *d = arena_alloc(a, size ? size : 1);
	if (d && size)
		memcpy(d, p, size);
	return d;
}

void arena_free(struct arena *a)
{
	while (a->head) {
		struct arena_chunk *n = a->head->next;
		free(a->head);
		a->head = n;
	}
}
