/* A bump allocator for the protobuf messages a dump builds: everything is freed at once when
 * the dump ends, so building a message never needs its own cleanup path. */
#ifndef CRYO_ARENA_H
#define CRYO_ARENA_H

#include <stddef.h>

struct arena_chunk;
struct arena {
	struct arena_chunk *head;
	int failed; /* an allocation failed: the caller's work is void */
};

void *arena_alloc(struct arena *a, size_t size); /* zeroed */
char *arena_strdup(struct arena *a, const char *s);
void *arena_memdup(struct arena *a, const void *p, size_t size);
void arena_free(struct arena *a);

/* Allocate and run protobuf's __init on a message: A_NEW(arena, thread_core, THREAD_CORE) */
#define A_NEW(ar, type, INIT)                                                                      \
	({                                                                                         \
		type *_m = arena_alloc(ar, sizeof(type));                                          \
		if (_m) {                                                                          \
			type _i = INIT##__INIT;                                                    \
			*_m = _i;                                                                  \
		}                                                                                  \
		_m;                                                                                \
	})

#endif
