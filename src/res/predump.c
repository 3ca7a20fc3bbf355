/* Pre-dump: the pages are read after the thaw.
 *
 * While the tree is frozen, a pre-dump reads the layout, finds the pages to save (dump_pages
 * plans its reads here instead of making them), closes the old tracking and arms the new one
 * (res/track.c). Then the tree runs again, and the pages are read from the running task.
 *
 * Why this is exact: the new tracking is armed before the thaw, and a write to a protected
 * page first takes its protection off (in the kernel, before the written data lands), so a
 * page whose content at the read differs from its content at the freeze is a page written
 * since the arm: PAGEMAP_SCAN shows it PAGE_IS_WRITTEN to the next dump of the chain, which
 * reads it again (a final dump reads it frozen). What the pre-dump stored of it, torn or
 * stale, is never used. A page not written since the arm reads as it was at the freeze.
 *
 * What the task may do meanwhile besides writing: unmap a range, or make it unreadable
 * (mprotect PROT_NONE). Reading it then fails (EFAULT, or EIO through /proc/PID/mem). Such
 * pages are dropped from the image (the pagemap no longer names them) and listed in the
 * pagemap's predump_lost runs: the next dump takes them out of its clean spans, whatever the
 * tracking says, so it never points into this image for them. (A range mapped again since is
 * not registered with the tracking, which makes it saved whole anyway; one made readable
 * again still has its protection and would look clean, which is what predump_lost is for.)
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/util.h"
#include "pages/xfer.h"
#include "res/mm.h"
#include "res/page_ring.h"
#include "res/predump.h"
#include "res/track.h"

#define LOST_MAX (1u << 20) /* predump_lost runs one pagemap may hold */

struct plan_item {
	uint64_t addr, len, off;
	int fd;	      /* -1: process_vm_readv */
	bool tracked; /* in a VMA the tracking registers (protected before it is read) */
};

struct page_plan {
	struct plan_item *items;
	size_t n, cap;
	int *fds; /* owned: /proc/PID/mem, shmem files */
	size_t nr_fds;
	struct track_range *lost; /* in address order */
	size_t nr_lost, cap_lost;
	bool vma_start, vma_tracked; /* plan_vma() */
};

void plan_vma(struct page_plan *p, bool tracked)
{
	p->vma_start = true;
	p->vma_tracked = tracked;
}

struct page_plan *plan_new(void)
{
	return calloc(1, sizeof(struct page_plan));
}

int plan_add(struct page_plan *p, uint64_t addr, uint64_t len, int src_fd, uint64_t src_off)
{
	struct plan_item *last = p->n ? &p->items[p->n - 1] : NULL;
	if (last && !p->vma_start && last->fd == src_fd && last->addr + last->len == addr &&
	    (src_fd < 0 || last->off + last->len == src_off)) {
		last->len += len;
		return 0;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct plan_item *n = realloc(p->items, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->items = n;
		p->cap = cap;
	}
	p->items[p->n++] = (struct plan_item){addr, len, src_off, src_fd, p->vma_tracked};
	p->vma_start = false;
	return 0;
}

int plan_own_fd(struct page_plan *p, int fd)
{
	int *n = realloc(p->fds, (p->nr_fds + 1) * sizeof(*n));
	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	p->fds = n;
	p->fds[p->nr_fds++] = fd;
	return 0;
}

void plan_free(struct page_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nr_fds; i++)
		close(p->fds[i]);
	free(p->fds);
	free(p->items);
	free(p->lost);
	free(p);
}

static int add_lost(struct page_plan *p, uint64_t addr)
{
	if (p->nr_lost && p->lost[p->nr_lost - 1].end == addr) {
		p->lost[p->nr_lost - 1].end += PAGE_SIZE;
		return 0;
	}
	if (p->nr_lost == LOST_MAX)
		return -E2BIG;
	if (p->nr_lost == p->cap_lost) {
		size_t cap = p->cap_lost ? p->cap_lost * 2 : 16;
		struct track_range *n = realloc(p->lost, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->lost = n;
		p->cap_lost = cap;
	}
	p->lost[p->nr_lost++] = (struct track_range){addr, addr + PAGE_SIZE};
	return 0;
}

struct reader {
	struct dump_task *t;
	struct write_ring *ring;
	size_t used;
};

static int submit(struct reader *r)
{
	int ret;
	if (!r->used)
		return 0;
	if ((ret = ring_error(r->ring, false, false)))
		return ret;
	r->ring->fill = ring_submit(r->ring, r->ring->fill, r->used, false);
	r->used = 0;
	return 0;
}

/* One planned range, read from the running task. A page that cannot be read (gone or made
 * unreadable since the freeze) is skipped and noted; the task itself gone fails the dump. */
static int read_item(struct reader *r, struct page_plan *p, const struct plan_item *it)
{
	uint64_t addr = it->addr, off = it->off, end = it->addr + it->len;
	pid_t pid = r->t->pid;
	int ret;

	while (addr < end) {
		uint64_t chunk = end - addr < COPY_BUF - r->used ? end - addr : COPY_BUF - r->used;
		uint8_t *dst = r->ring->buf[r->ring->fill] + r->used;
		ssize_t n;
		/* protected first: what the read finds was there when the protection was put on,
		 * or a write came after it, which the next dump sees */
		if (it->tracked)
			track_protect(r->t, addr, chunk);
		if (it->fd < 0) {
			struct iovec l = {dst, chunk}, rv = {(void *)addr, chunk};
			n = process_vm_readv(pid, &l, 1, &rv, 1, 0);
		} else {
			n = pread(it->fd, dst, chunk, off);
		}
		int err = n < 0 ? errno : 0;
		if (n < 0 && err != EFAULT && err != EIO && err != ENOMEM) {
			pr_errno(err, "task %d: cannot read its memory at %#lx", pid, addr);
			return -err;
		}
		uint64_t good = n > 0 ? (uint64_t)n & ~(uint64_t)(PAGE_SIZE - 1) : 0;
		r->used += good, addr += good, off += good;
		if (good < chunk) {
			/* a read of a task that has exited returns nothing too */
			if (kill(pid, 0) < 0 && errno == ESRCH) {
				pr_err("task %d exited during its pre-dump", pid);
				return -ESRCH;
			}
			pr_debug("task %d: page %#lx gone or unreadable since the freeze", pid,
				 addr);
			if ((ret = add_lost(p, addr)))
				return ret;
			addr += PAGE_SIZE, off += PAGE_SIZE;
		}
		if (r->used == COPY_BUF && (ret = submit(r)))
			return ret;
	}
	return 0;
}

/* The pagemap without the lost pages (never written to the image, so the offsets of the
 * others stay right), and those named in predump_lost. */
static int drop_lost(struct dump_ctx *ctx, struct dump_task *t, struct page_plan *p)
{
	Pagemap *pm = t->pagemap;
	size_t cap = pm->n_runs + p->nr_lost, n = 0, li = 0;
	uint64_t total = 0, dropped = 0;
	PageRun **runs = arena_alloc(&ctx->arena, (cap ? cap : 1) * sizeof(*runs));
	PageRun **lost = arena_alloc(&ctx->arena, p->nr_lost * sizeof(*lost));

	if (!runs || !lost)
		return -ENOMEM;
	for (size_t i = 0; i < pm->n_runs; i++) {
		PageRun *run = pm->runs[i];
		uint64_t s = run->vaddr, e = run->vaddr + run->nr_pages * PAGE_SIZE;
		if (run->in_parent) {
			runs[n++] = run;
			continue;
		}
		while (s < e) {
			while (li < p->nr_lost && p->lost[li].end <= s)
				li++;
			if (li < p->nr_lost && p->lost[li].start <= s) {
				uint64_t to = p->lost[li].end < e ? p->lost[li].end : e;
				dropped += (to - s) / PAGE_SIZE;
				s = to;
				continue;
			}
			uint64_t to =
			    li < p->nr_lost && p->lost[li].start < e ? p->lost[li].start : e;
			PageRun *nr = A_NEW(&ctx->arena, PageRun, PAGE_RUN);
			if (!nr || n == cap)
				return -ENOMEM;
			nr->vaddr = s;
			nr->nr_pages = (to - s) / PAGE_SIZE;
			runs[n++] = nr;
			total += nr->nr_pages;
			s = to;
		}
	}
	for (size_t i = 0; i < p->nr_lost; i++) {
		if (!(lost[i] = A_NEW(&ctx->arena, PageRun, PAGE_RUN)))
			return -ENOMEM;
		lost[i]->vaddr = p->lost[i].start;
		lost[i]->nr_pages = (p->lost[i].end - p->lost[i].start) / PAGE_SIZE;
	}
	pm->runs = runs;
	pm->n_runs = n;
	pm->total_pages = total;
	pm->predump_lost = lost;
	pm->n_predump_lost = p->nr_lost;
	ctx->stats.pages_written -= dropped;
	pr_info("task %d: %lu pages unmapped or made unreadable while it ran: not saved, the "
		"next dump reads them",
		t->pid, dropped);
	return 0;
}

int predump_read_pages(struct dump_ctx *ctx, struct dump_task *t)
{
	struct page_plan *p = t->plan;
	struct reader r = {.t = t, .ring = ring_get(ctx)};
	uint64_t t0 = now_ns();
	int out_fd, ret = 0;

	if (!p || !r.ring)
		return -ENOMEM;
	xfer_describe(ctx->xfer, t->pagemap);
	out_fd = ctx->xfer->ops->open(ctx->xfer, t->pid);
	if (out_fd < 0)
		return out_fd;
	r.ring->fd = out_fd;
	r.ring->pid = t->pid;
	r.ring->hole = 0;
	for (size_t i = 0; i < p->n && !ret; i++)
		ret = read_item(&r, p, &p->items[i]);
	if (!ret)
		ret = submit(&r);
	if (!ret && p->nr_lost)
		ret = drop_lost(ctx, t, p);
	if (!ret) {
		/* the writer closes the image after its last batch */
		r.ring->fill = ring_submit(r.ring, r.ring->fill, 0, true);
	} else {
		int wret = ring_drain(r.ring, false);
		(void)wret;
		ctx->xfer->ops->close(ctx->xfer, out_fd, t->pid, false);
	}
	ctx->stats.memory_ns += now_ns() - t0;
	if (!ret)
		pr_info("task %d: %lu pages read after the thaw", t->pid, t->pagemap->total_pages);
	return ret;
}

int predump_lost_load(struct dump_task *t, const Pagemap *pm, const char *dir)
{
	uint64_t prev_end = 0;

	if (pm->n_predump_lost > LOST_MAX) {
		pr_err("%s/pagemap-%d.img: %zu predump_lost runs (at most %u)", dir, t->pid,
		       pm->n_predump_lost, LOST_MAX);
		return -EINVAL;
	}
	free(t->lost);
	t->lost = NULL;
	t->nr_lost = 0;
	if (!pm->n_predump_lost)
		return 0;
	t->lost = calloc(pm->n_predump_lost, sizeof(*t->lost));
	if (!t->lost)
		return -ENOMEM;
	for (size_t i = 0; i < pm->n_predump_lost; i++) {
		const PageRun *run = pm->predump_lost[i];
		uint64_t s = run->vaddr, n = run->nr_pages;
		/* sorted, apart, page aligned, inside the address space */
		if ((s & (PAGE_SIZE - 1)) || !n || s < prev_end || s >= TASK_SIZE_MAX ||
		    n > (TASK_SIZE_MAX - s) / PAGE_SIZE) {
			pr_err("%s/pagemap-%d.img: predump_lost run %zu (%#lx, %lu pages) is "
			       "not a valid range",
			       dir, t->pid, i, s, n);
			free(t->lost);
			t->lost = NULL;
			return -EINVAL;
		}
		prev_end = s + n * PAGE_SIZE;
		t->lost[t->nr_lost++] = (struct track_range){s, prev_end};
	}
	return 0;
}

int predump_lost_apply(struct dump_task *t)
{
	struct track_range *out;
	size_t n = 0, li = 0;

	if (!t->nr_lost || !t->nr_clean)
		return 0;
	/* each lost range splits at most one clean span in two */
	out = malloc((t->nr_clean + t->nr_lost) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < t->nr_clean; i++) {
		uint64_t s = t->clean[i].start, e = t->clean[i].end;
		while (s < e) {
			while (li < t->nr_lost && t->lost[li].end <= s)
				li++;
			if (li < t->nr_lost && t->lost[li].start <= s) {
				s = t->lost[li].end < e ? t->lost[li].end : e;
				continue;
			}
			uint64_t to =
			    li < t->nr_lost && t->lost[li].start < e ? t->lost[li].start : e;
			out[n++] = (struct track_range){s, to};
			s = to;
		}
	}
	pr_info("task %d: %zu ranges its pre-dump could not read are read again", t->pid,
		t->nr_lost);
	free(t->clean);
	t->clean = out;
	t->nr_clean = n;
	return 0;
}
