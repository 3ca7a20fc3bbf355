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
#include <sys/syscall.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/safeopen.h"
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

static bool has_prefork(const Mm *mm, uint64_t addr)
{
	for (size_t i = 0; i < mm->n_prefork; i++)
		if (mm->prefork[i]->vaddr == addr)
			return true;
	return false;
}

static int add_prefork(struct dump_ctx *ctx, Mm *mm, uint64_t addr, pid_t provider)
{
	PreforkPage *pp = A_NEW(&ctx->arena, PreforkPage, PREFORK_PAGE);
	if (!pp || !DUMP_PUSH(ctx, mm->prefork, mm->n_prefork, pp))
		return -ENOMEM;
	pp->vaddr = addr;
	pp->provider = provider;
	return 0;
}

/* The frame of the shared zero page, which a page only read shows and no image holds. */
static uint64_t zero_page_pfn(void)
{
	uint64_t e = 0, pfn = ~0ull;
	volatile char *p = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (p != MAP_FAILED && fd >= 0) {
		(void)p[0];
		if (pread(fd, &e, sizeof(e), (uint64_t)p / PAGE_SIZE * sizeof(e)) == sizeof(e) &&
		    (e & PM_PRESENT))
			pfn = PM_PFN(e);
	}
	if (fd >= 0)
		close(fd);
	if (p != MAP_FAILED)
		munmap((void *)p, PAGE_SIZE);
	return pfn;
}

int cow_detect(struct dump_ctx *ctx, struct dump_task *t)
{
	uint64_t zpfn;
	struct dump_task *p = t->parent >= 0 ? &ctx->tasks[t->parent] : NULL;

	if (!p || p->zombie || !p->mm)
		return 0;
	zpfn = zero_page_pfn();
	t->cow_shared = calloc(t->mm->n_vmas ? t->mm->n_vmas : 1, sizeof(*t->cow_shared));
	t->cow_frames = calloc(t->mm->n_vmas ? t->mm->n_vmas : 1, sizeof(*t->cow_frames));
	if (!t->cow_shared || !t->cow_frames)
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
		uint64_t *sib = NULL;
		for (uint64_t k = 0; mine && theirs && bits && ok && k < n; k++) {
			/* the parent's data must all be there in the child, in some form */
			if ((mine[k] | theirs[k]) & PM_SWAPPED)
				ok = false;
			else if ((theirs[k] & PM_PRESENT) && !(mine[k] & PM_PRESENT))
				ok = false;
			else if ((mine[k] & PM_PRESENT) && (theirs[k] & PM_PRESENT) &&
				 PM_PFN(mine[k]) && PM_PFN(mine[k]) == PM_PFN(theirs[k])) {
				bits[k / 8] |= 1 << (k % 8);
				shared++;
			}
		}
		/* pages an earlier sibling has on the same frame, the parent on another: the
		 * parent writes that version before it creates them (prefork) */
		int pvi = mm_find_vma(p->mm, v->start, v->end - v->start);
		for (int s = t->parent + 1; ok && shared && s < (int)(t - ctx->tasks); s++) {
			struct dump_task *o = &ctx->tasks[s];
			int oi;
			if (o->parent != t->parent || o->zombie || !o->mm ||
			    (oi = mm_find_vma(o->mm, v->start, v->end - v->start)) < 0 ||
			    !o->mm->vmas[oi]->cow_from_parent ||
			    o->mm->vmas[oi]->start != v->start || o->mm->vmas[oi]->end != v->end)
				continue;
			sib = o->cow_frames ? o->cow_frames[oi] : NULL;
			for (uint64_t k = 0; sib && k < n; k++) {
				uint64_t a = v->start + k * PAGE_SIZE;
				/* the sibling's and the parent's versions must both be in their own
				 * images: present, not the zero page, not inherited themselves */
				if ((bits[k / 8] & (1 << (k % 8))) || !(mine[k] & PM_PRESENT) ||
				    !(sib[k] & PM_PRESENT) || PM_PFN(mine[k]) != PM_PFN(sib[k]) ||
				    PM_PFN(sib[k]) == zpfn || cow_page_shared(o, oi, k) ||
				    !(theirs[k] & PM_PRESENT) || PM_PFN(theirs[k]) == zpfn ||
				    (pvi >= 0 && cow_page_shared(p, pvi, k)))
					continue;
				if (!has_prefork(p->mm, a) && add_prefork(ctx, p->mm, a, o->pid))
					ok = false;
				bits[k / 8] |= 1 << (k % 8);
				shared++;
			}
			sib = NULL;
		}
		free(theirs);
		if (!ok || !shared) {
			free(mine);
			free(bits);
			continue;
		}
		t->cow_shared[i] = bits;
		t->cow_frames[i] = mine; /* kept: a later sibling compares with it */
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
	for (size_t i = 0; t->mm && i < t->mm->n_vmas; i++) {
		if (t->cow_shared)
			free(t->cow_shared[i]);
		if (t->cow_frames)
			free(t->cow_frames[i]);
	}
	free(t->cow_shared);
	free(t->cow_frames);
	t->cow_shared = NULL;
	t->cow_frames = NULL;
}

/* ---- restore ---- */

static bool overlaps(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 < e2 && s2 < e1;
}

static int cmp_prefork(const void *a, const void *b)
{
	const PreforkPage *x = *(PreforkPage *const *)a, *y = *(PreforkPage *const *)b;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
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
		/* looked up page by page later: sorted once */
		sort_n(t->mm->prefork, t->mm->n_prefork, sizeof(*t->mm->prefork), cmp_prefork);
		for (size_t k = 1; k < t->mm->n_prefork; k++)
			if (t->mm->prefork[k]->vaddr == t->mm->prefork[k - 1]->vaddr) {
				pr_err("mm-%d.img: prefork page %#lx appears twice", t->pid,
				       t->mm->prefork[k]->vaddr);
				return -EINVAL;
			}
		for (size_t k = 0; k < t->mm->n_vmas; k++) {
			Vma *v = t->mm->vmas[k];
			if (!v->cow_from_parent)
				continue;
			p = t->parent >= 0 ? &ctx->tasks[t->parent] : NULL;
			int pk =
			    p && !p->zombie ? mm_find_vma(p->mm, v->start, v->end - v->start) : -1;
			if (pk < 0 || v->kind != VMA_KIND__VMA_ANON_PRIVATE ||
			    p->mm->vmas[pk]->start != v->start || p->mm->vmas[pk]->end != v->end) {
				pr_err("mm-%d.img: copy-on-write mapping %#lx-%#lx has no match in "
				       "its "
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
				if (t->vma_kept[k] &&
				    overlaps(s, e, t->mm->vmas[k]->start, t->mm->vmas[k]->end)) {
					pr_err(
					    "task %d: its copy-on-write memory at %#lx overlaps "
					    "cryo's "
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

/* Offset in a task's page image of the page at addr, or -1. */
static int64_t image_offset(const Pagemap *pm, uint64_t addr)
{
	uint64_t off = 0;
	for (size_t i = 0; i < pm->n_runs; i++) {
		const PageRun *r = pm->runs[i];
		if (addr >= r->vaddr && addr < r->vaddr + r->nr_pages * PAGE_SIZE)
			return off + (addr - r->vaddr);
		off += r->nr_pages * PAGE_SIZE;
	}
	return -1;
}

/* Is addr a prefork page of mm (from that provider, if given)? mm->prefork is sorted. */
static bool is_prefork(const Mm *mm, uint64_t addr, pid_t provider)
{
	size_t lo = 0, hi = mm ? mm->n_prefork : 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const PreforkPage *pp = mm->prefork[mid];
		if (pp->vaddr == addr)
			return !provider || (pid_t)pp->provider == provider;
		if (pp->vaddr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Write this task's own pages of its kept VMAs: before (after == false) or after (true) it
 * creates its children; the prefork pages are the ones written after. */
static int write_own(struct restore_task *t, struct restore_task *parent, bool after)
{
	Pagemap *pm = t->pagemap;
	uint64_t off = 0;

	for (size_t r = 0; r < pm->n_runs; r++) {
		PageRun *run = pm->runs[r];
		uint64_t len = run->nr_pages * PAGE_SIZE;
		int vi = mm_find_vma(t->mm, run->vaddr, len);
		/* in spans of pages to write: one read each */
		for (uint64_t a = run->vaddr; vi >= 0 && t->vma_kept[vi] && a < run->vaddr + len;) {
			uint64_t b = a;
			/* skipped: a page this task provided its parent (it inherited it already),
			 * and before/after its children, the pages of the other moment */
			while (b < run->vaddr + len &&
			       !(parent && is_prefork(parent->mm, b, t->pid)) &&
			       is_prefork(t->mm, b, 0) == after)
				b += PAGE_SIZE;
			if (b > a &&
			    pread(t->svc[0].fd, (void *)a, b - a,
				  IMG_RAW_HDR + off + (a - run->vaddr)) != (ssize_t)(b - a)) {
				child_fail(t, errno, "cannot read the pages of %#lx from the image",
					   a);
				return -1;
			}
			a = b == a ? a + PAGE_SIZE : b;
		}
		off += len;
	}
	return 0;
}

/* A VMA that must not merge with its neighbour below (mm_vma_needs_apart): made elsewhere,
 * given a page (an anon_vma, so that the move keeps its page offset), moved over the place
 * reserved for it, the page dropped. */
static int build_apart(struct restore_task *t, const Vma *v)
{
	size_t len = v->end - v->start;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (v->flags & MAP_NORESERVE), -1, 0);
	if (m == MAP_FAILED) {
		child_fail(t, errno, "cannot map copy-on-write memory for %#lx", v->start);
		return -1;
	}
	m[0] = 0;
	if (mremap(m, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)v->start) !=
		(void *)v->start ||
	    madvise((void *)v->start, PAGE_SIZE, MADV_DONTNEED)) {
		child_fail(t, errno, "cannot move copy-on-write memory to %#lx", v->start);
		munmap(m, len);
		return -1;
	}
	return 0;
}

/* Child phase, before the task creates children: build (or keep) the kept VMAs, write this
 * task's own pages into them, and the versions its children share of the others. */
int cow_build_child(struct restore_ctx *ctx, struct restore_task *t)
{
	struct restore_task *parent = t->parent >= 0 ? &ctx->tasks[t->parent] : NULL;
	Mm *mm = t->mm;

	if (!t->vma_kept)
		return 0;
	/* what the parent built for other children came along with the fork: drop it, unless
	 * this task inherits it */
	for (size_t k = 0; parent && parent->vma_kept && k < parent->mm->n_vmas; k++) {
		Vma *pv = parent->mm->vmas[k];
		int mine = mm_find_vma(mm, pv->start, pv->end - pv->start);
		if (!parent->vma_kept[k] ||
		    (mine >= 0 && mm->vmas[mine]->cow_from_parent &&
		     mm->vmas[mine]->start == pv->start && mm->vmas[mine]->end == pv->end))
			continue;
		munmap((void *)pv->start, pv->end - pv->start);
	}
	for (size_t k = 0; k < mm->n_vmas; k++) {
		Vma *v = mm->vmas[k];
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
			if (mm_vma_needs_apart(mm, k) && build_apart(t, v))
				return -1;
		} else if (mprotect((void *)v->start, v->end - v->start, PROT_READ | PROT_WRITE)) {
			/* inherited from the parent, which built it */
			child_fail(t, errno, "copy-on-write memory at %#lx is not there", v->start);
			return -1;
		}
	}
	if (write_own(t, parent, false))
		return -1;
	for (size_t i = 0; i < mm->n_prefork; i++) {
		PreforkPage *pp = mm->prefork[i];
		struct restore_task *prov = restore_find_task(ctx, pp->provider);
		char name[64];
		int64_t off = prov && !prov->zombie ? image_offset(prov->pagemap, pp->vaddr) : -1;
		int vi = mm_find_vma(mm, pp->vaddr, PAGE_SIZE);
		int fd;
		if (off < 0 || vi < 0 || !t->vma_kept[vi] || pp->vaddr % PAGE_SIZE) {
			child_fail(t, EINVAL, "mm-%d.img: prefork page %#lx is invalid", t->pid,
				   pp->vaddr);
			return -1;
		}
		img_name(IMG_PAGES, pp->provider, name, sizeof(name));
		/* a compressed image: cryo's memfd of its pages (pages/read.c) */
		fd = prov->pages_merged
			 ? (int)syscall(SYS_pidfd_getfd, ctx->svc_cryo, prov->pages_fd_local, 0)
			 : dir_open(ctx->svc_dirfd, name, O_RDONLY);
		if (fd < 0)
			errno = fd == -1 ? errno : -fd;
		if (fd < 0 || pread(fd, (void *)pp->vaddr, PAGE_SIZE, IMG_RAW_HDR + off) !=
				  (ssize_t)PAGE_SIZE) {
			child_fail(t, errno, "cannot read the page of %#lx from %s", pp->vaddr,
				   name);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Child phase, once the children exist: this task's own versions of the prefork pages. */
int cow_finish_child(struct restore_ctx *ctx, struct restore_task *t)
{
	if (!t->vma_kept || !t->mm->n_prefork)
		return 0;
	return write_own(t, t->parent >= 0 ? &ctx->tasks[t->parent] : NULL, true);
}
