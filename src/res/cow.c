/* Private memory shared copy-on-write between a parent and its child (after fork). Dump:
 * where a child's private anonymous VMA has the same range as its parent's and some pages
 * are the same physical page in both (/proc/PID/pagemap shows frames to root), those pages
 * are left out of the child's image and the VMA is marked cow_from_parent. Restore: the
 * parent builds such a VMA (mapping and its own pages) in its child phase, before it
 * creates its children, which inherit it copy-on-write; each then writes only its own
 * pages, and the remote phase keeps these VMAs instead of mapping them again. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/dump.h"
#include "core/log.h"
#include "core/restore.h"
#include "core/util.h"
#include "res/cow.h"
#include "res/mm.h"

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_PFN(e) ((e) & ((1ull << 55) - 1))

static uint64_t *read_pagemap(pid_t pid, uint64_t start, uint64_t npages)
{
	char path[64];
	uint64_t *e = malloc(npages * sizeof(*e));
	int fd;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!e || fd < 0 ||
	    pread(fd, e, npages * sizeof(*e), start / PAGE_SIZE * sizeof(*e)) !=
		    (ssize_t)(npages * sizeof(*e))) {
		free(e);
		e = NULL;
	}
	if (fd >= 0)
		close(fd);
	return e;
}

static const Vma *same_vma(const Mm *mm, const Vma *v)
{
	int i = mm_find_vma(mm, v->start, v->end - v->start);
	const Vma *w = i >= 0 ? mm->vmas[i] : NULL;
	if (!w || w->start != v->start || w->end != v->end || w->kind != v->kind ||
	    w->prot != v->prot || w->flags != v->flags)
		return NULL;
	return w;
}

int cow_detect(struct dump_ctx *ctx, struct dump_task *t)
{
	struct dump_task *p = t->parent >= 0 ? &ctx->tasks[t->parent] : NULL;

	if (!p || p->zombie || !p->mm)
		return 0;
	t->cow_shared = calloc(t->mm->n_vmas ? t->mm->n_vmas : 1, sizeof(*t->cow_shared));
	if (!t->cow_shared)
		return -ENOMEM;
	for (size_t i = 0; i < t->mm->n_vmas; i++) {
		Vma *v = t->mm->vmas[i];
		uint64_t n = (v->end - v->start) / PAGE_SIZE, shared = 0;
		bool ok = true;
		if (v->kind != VMA_KIND__VMA_ANON_PRIVATE || (v->flags & MAP_GROWSDOWN) ||
		    !same_vma(p->mm, v))
			continue;
		uint64_t *mine = read_pagemap(t->pid, v->start, n);
		uint64_t *theirs = read_pagemap(p->pid, v->start, n);
		uint8_t *bits = calloc((n + 7) / 8, 1);
		for (uint64_t k = 0; mine && theirs && bits && ok && k < n; k++) {
			/* the parent's data must all be there in the child, in some form */
			if ((mine[k] | theirs[k]) & PM_SWAPPED)
				ok = false;
			else if ((theirs[k] & PM_PRESENT) && !(mine[k] & PM_PRESENT))
				ok = false;
			else if ((mine[k] & PM_PRESENT) && (theirs[k] & PM_PRESENT) && PM_PFN(mine[k]) &&
				 PM_PFN(mine[k]) == PM_PFN(theirs[k])) {
				bits[k / 8] |= 1 << (k % 8);
				shared++;
			}
		}
		free(mine);
		free(theirs);
		if (!ok || !shared) {
			free(bits);
			continue;
		}
		t->cow_shared[i] = bits;
		v->has_cow_from_parent = v->cow_from_parent = true;
		pr_info("task %d: %lu of %lu pages at %#lx shared copy-on-write with %d", t->pid,
			shared, n, v->start, p->pid);
	}
	return 0;
}

bool cow_page_shared(const struct dump_task *t, size_t vma, uint64_t page)
{
	return t->cow_shared && t->cow_shared[vma] &&
	       (t->cow_shared[vma][page / 8] & (1 << (page % 8)));
}

void cow_free(struct dump_task *t)
{
	for (size_t i = 0; t->cow_shared && t->mm && i < t->mm->n_vmas; i++)
		free(t->cow_shared[i]);
	free(t->cow_shared);
	t->cow_shared = NULL;
}

/* ---- restore ---- */

static bool overlaps(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 < e2 && s2 < e1;
}

/* Which VMAs each task keeps from its child phase: its inherited ones, and those it builds for
 * its children. They are mapped while the task is still a copy of cryo: none may overlap
 * cryo's own mappings. */
int cow_plan(struct restore_ctx *ctx)
{
	char *maps, *line, *save;
	ssize_t n;
	int ret = 0;

	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		if (t->zombie)
			continue;
		t->vma_kept = calloc(t->mm->n_vmas ? t->mm->n_vmas : 1, sizeof(bool));
		if (!t->vma_kept)
			return -ENOMEM;
	}
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i], *p;
		if (t->zombie)
			continue;
		for (size_t k = 0; k < t->mm->n_vmas; k++) {
			Vma *v = t->mm->vmas[k];
			if (!v->cow_from_parent)
				continue;
			p = t->parent >= 0 ? &ctx->tasks[t->parent] : NULL;
			int pk = p && !p->zombie ? mm_find_vma(p->mm, v->start, v->end - v->start) : -1;
			if (pk < 0 || v->kind != VMA_KIND__VMA_ANON_PRIVATE ||
			    p->mm->vmas[pk]->start != v->start || p->mm->vmas[pk]->end != v->end) {
				pr_err("mm-%d.img: copy-on-write mapping %#lx-%#lx has no match in its "
				       "parent",
				       t->pid, v->start, v->end);
				return -EINVAL;
			}
			t->vma_kept[k] = true;
			p->vma_kept[pk] = true;
		}
	}
	n = read_file_alloc("/proc/self/maps", &maps);
	if (n < 0)
		return (int)n;
	for (line = strtok_r(maps, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		for (int i = 0; i < ctx->nr_tasks && !ret; i++) {
			struct restore_task *t = &ctx->tasks[i];
			for (size_t k = 0; !t->zombie && k < t->mm->n_vmas && !ret; k++)
				if (t->vma_kept[k] && overlaps(s, e, t->mm->vmas[k]->start,
							       t->mm->vmas[k]->end)) {
					pr_err("task %d: its copy-on-write memory at %#lx overlaps cryo's "
					       "own mapping %#lx-%#lx; run the restore again (cryo's "
					       "layout changes every run)",
					       t->pid, t->mm->vmas[k]->start, s, e);
					ret = -EADDRINUSE;
				}
		}
	}
	free(maps);
	return ret;
}

/* Child phase, before the task creates children: build (or keep) the kept VMAs and write
 * this task's own pages into them. */
int cow_build_child(struct restore_ctx *ctx, struct restore_task *t)
{
	Pagemap *pm = t->pagemap;
	uint64_t off = 0;
	size_t r = 0;

	if (!t->vma_kept)
		return 0;
	for (size_t k = 0; k < t->mm->n_vmas; k++) {
		Vma *v = t->mm->vmas[k];
		if (!t->vma_kept[k])
			continue;
		if (!v->cow_from_parent) {
			void *m = mmap((void *)v->start, v->end - v->start, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE |
					       (v->flags & MAP_NORESERVE),
				       -1, 0);
			if (m != (void *)v->start) {
				child_fail(t, errno, "cannot map copy-on-write memory at %#lx",
					   v->start);
				return -1;
			}
		} else if (mprotect((void *)v->start, v->end - v->start, PROT_READ | PROT_WRITE)) {
			/* inherited from the parent, which built it */
			child_fail(t, errno, "copy-on-write memory at %#lx is not there", v->start);
			return -1;
		}
		/* this task's own pages in it, from its image */
		for (; r < pm->n_runs && pm->runs[r]->vaddr < v->end; r++) {
			uint64_t len = pm->runs[r]->nr_pages * PAGE_SIZE;
			if (pm->runs[r]->vaddr >= v->start &&
			    pread(t->svc[0].fd, (void *)pm->runs[r]->vaddr, len,
				  IMG_RAW_HDR + off) != (ssize_t)len) {
				child_fail(t, errno, "cannot read pages of %#lx from the image",
					   pm->runs[r]->vaddr);
				return -1;
			}
			off += len;
		}
	}
	return 0;
}
