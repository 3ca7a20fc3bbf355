/* The lazy-pages daemon's bookkeeping of one address space: see lazy_space.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/util.h"
#include "pages/lazy_space.h"

const char *space_who(const struct space *s, char *b, size_t n)
{
	if (s->pid)
		snprintf(b, n, "task %d", s->pid);
	else
		snprintf(b, n, "a child forked by %d", s->parent);
	return b;
}

struct area *space_find_area(struct space *s, uint64_t addr, uint64_t *page)
{
	for (size_t i = 0; i < s->nr_areas; i++)
		if (addr >= s->areas[i].start && addr < s->areas[i].end) {
			*page = (addr - s->areas[i].start) / PAGE_SIZE;
			return &s->areas[i];
		}
	return NULL;
}

int space_add_area(struct space *s, uint64_t start, uint64_t end, uint64_t *slot)
{
	struct area *n = realloc(s->areas, (s->nr_areas + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->areas = n;
	n[s->nr_areas++] = (struct area){start, end, slot};
	for (uint64_t i = 0; i < (end - start) / PAGE_SIZE; i++)
		s->pending += slot[i] != SLOT_NONE;
	return 0;
}

/* Take [start, end) out of every area (splitting them); the slots taken go to out (page i of
 * the span at out[i], SLOT_NONE where no area was) when out is not NULL. */
int space_cut(struct space *s, uint64_t start, uint64_t end, uint64_t *out)
{
	for (size_t i = 0; i < s->nr_areas; i++) {
		struct area a = s->areas[i];
		uint64_t lo = a.start > start ? a.start : start, hi = a.end < end ? a.end : end;
		if (lo >= hi)
			continue;
		uint64_t first = (lo - a.start) / PAGE_SIZE, n = (hi - lo) / PAGE_SIZE;
		for (uint64_t k = 0; k < n; k++) {
			if (out)
				out[(lo - start) / PAGE_SIZE + k] = a.slot[first + k];
			s->pending -= a.slot[first + k] != SLOT_NONE;
			a.slot[first + k] = SLOT_NONE;
		}
		/* what is left on either side stays; the middle goes */
		uint64_t *right = NULL;
		uint64_t rn = (a.end - hi) / PAGE_SIZE;
		if (rn) {
			right = malloc(rn * sizeof(*right));
			if (!right)
				return -ENOMEM;
			memcpy(right, a.slot + (hi - a.start) / PAGE_SIZE, rn * sizeof(*right));
		}
		if (lo > a.start) {
			s->areas[i].end = lo;
		} else {
			free(a.slot);
			s->areas[i] = s->areas[--s->nr_areas];
			i--;
		}
		if (right) {
			/* its pending pages were counted already: add without counting again */
			uint64_t before = s->pending;
			int ret = space_add_area(s, hi, a.end, right);
			s->pending = before;
			if (ret) {
				free(right);
				return ret;
			}
		}
	}
	s->cur_area = 0;
	s->cur_page = 0;
	return 0;
}

/* MADV_DONTNEED, MADV_REMOVE: the pages of [start, end) are the task's zeros now */
void space_forget(struct space *s, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < s->nr_areas; i++) {
		struct area *a = &s->areas[i];
		uint64_t lo = a->start > start ? a->start : start, hi = a->end < end ? a->end : end;
		for (uint64_t p = lo; p < hi; p += PAGE_SIZE) {
			uint64_t *sl = &a->slot[(p - a->start) / PAGE_SIZE];
			s->pending -= *sl != SLOT_NONE;
			*sl = SLOT_NONE;
		}
	}
}

void image_put(struct image *img)
{
	if (img && !--img->refs) {
		for (int k = 0; k < img->nr; k++)
			if (img->map[k])
				munmap((void *)img->map[k], img->len[k]);
		free(img);
	}
}

void space_free(struct space *s)
{
	image_put(s->img);
	for (size_t i = 0; i < s->nr_areas; i++)
		free(s->areas[i].slot);
	free(s->areas);
	free(s->retry);
	free(s);
}

int space_remap(struct space *s, uint64_t from, uint64_t to, uint64_t len)
{
	uint64_t n = len / PAGE_SIZE, *slot;
	int ret;

	if (len % PAGE_SIZE || from % PAGE_SIZE || to % PAGE_SIZE || !n ||
	    from + len > TASK_SPACE_END || to + len > TASK_SPACE_END)
		return -EINVAL;
	slot = malloc(n * sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		slot[i] = SLOT_NONE;
	/* whatever was at the destination went; the source's pages go there */
	if ((ret = space_cut(s, from, from + len, slot)) ||
	    (ret = space_cut(s, to, to + len, NULL)) ||
	    (ret = space_add_area(s, to, to + len, slot))) {
		free(slot);
		return ret;
	}
	return 0;
}
