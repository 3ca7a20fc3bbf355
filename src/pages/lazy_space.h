/* Inside the lazy-pages daemon (lazy_server.c): what it knows of one address space it serves,
 * one userfaultfd: the areas still to copy in, one slot per page saying where its content is
 * in the page image (or SLOT_NONE), and how they follow the task's mremap, munmap and
 * MADV_DONTNEED. Bookkeeping only: no system call but on the image's mapping. */
#ifndef CRYO_PAGES_LAZY_SPACE_H
#define CRYO_PAGES_LAZY_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pages/lazy_proto.h"

#define SLOT_NONE UINT64_MAX /* a slot with nothing to copy in */
#define TASK_SPACE_END 0x800000000000ull

/* A range of an address space, one slot per page: where its content is in the image, or
 * SLOT_NONE (no data, already in, or dropped by the task). */
struct area {
	uint64_t start, end;
	uint64_t *slot;
};

/* A task's page image, mapped read-only: UFFDIO_COPY takes its pages straight from the page
 * cache (one copy). Shared by the spaces forked from the task. A page that cannot be read
 * (the file shrunk under us) makes the copy fail with EFAULT, never a SIGBUS here. */
struct image {
	unsigned refs;
	pid_t pid; /* the task it was dumped from: its name at a remote source */
	int nr;	   /* one page image, or one per level of a chain of parents */
	const uint8_t *map[LAZY_IMAGES_MAX];
	uint64_t len[LAZY_IMAGES_MAX];
};

#define OFF_MASK ((1ull << LAZY_LEVEL_SHIFT) - 1)

/* One userfaultfd: one address space. */
struct space {
	uint32_t id;
	int uffd, pidfd;
	struct image *img;
	pid_t pid;    /* the restored task; 0: made by a fork after the restore */
	pid_t parent; /* ... then the task it was forked from (or its own origin) */
	struct area *areas;
	size_t nr_areas;
	uint64_t pending; /* slots not SLOT_NONE */
	size_t cur_area;  /* the background's cursor */
	uint64_t cur_page;
	uint64_t *retry; /* faults to answer again once the events are read (EAGAIN) */
	size_t nr_retry, cap_retry;
	uint64_t copied, zeroed, faults;
	bool dead;
};

/* "task P" or "a child forked by P", in b[n], for messages */
const char *space_who(const struct space *s, char *b, size_t n);
/* The area that holds addr (and its page index in *page), or NULL */
struct area *space_find_area(struct space *s, uint64_t addr, uint64_t *page);
/* A new area [start, end) whose slots (one per page, taken over) are slot. 0 or -ENOMEM. */
int space_add_area(struct space *s, uint64_t start, uint64_t end, uint64_t *slot);
/* Take [start, end) out of every area (splitting them); the slots taken go to out (page i of
 * the span at out[i], SLOT_NONE where no area was) when out is not NULL. 0 or -ENOMEM. */
int space_cut(struct space *s, uint64_t start, uint64_t end, uint64_t *out);
/* MADV_DONTNEED, MADV_REMOVE: the pages of [start, end) are the task's zeros now */
void space_forget(struct space *s, uint64_t start, uint64_t end);
/* The pages of [from, from + len) moved to to (UFFD_EVENT_REMAP). 0, -EINVAL (not page
 * aligned or outside a task's space: the event is not the kernel's), -ENOMEM. */
int space_remap(struct space *s, uint64_t from, uint64_t to, uint64_t len);
/* One reference to img let go (unmapped with the last) */
void image_put(struct image *img);
/* s and all it holds (its image's reference too) */
void space_free(struct space *s);

#endif
