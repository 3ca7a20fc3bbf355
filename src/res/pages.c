/* Memory content, dump side. PAGEMAP_SCAN finds, per VMA, the pages that hold data of their own
 * (present or swapped, not the zero page, and for private file mappings not a clean page of
 * the file); they are read in large batches and written in address order to pages-PID.img,
 * indexed by pagemap-PID.img. Pages are read with process_vm_readv, except in a tree left
 * running (-R), read through /proc/PID/mem (two copies, a little slower): process_vm_readv pins
 * pages, and since Linux 5.19 a read-only pin of an anonymous page shared copy-on-write after
 * fork makes the kernel copy it, which would undo that sharing in the tree. Shared
 * anonymous memory is read through its shmem file (map_files), whose holes are skipped, or
 * where map_files is closed to cryo, the pages mapped.c found in it through /proc/PID/mem.
 * The restore side, which fills the new task's memory from the image, is pages_fill.c.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/util.h"
#include "res/cow.h"
#include "res/mapped.h"
#include "res/mm.h"
#include "pages/xfer.h"
#include "res/page_ring.h"
#include "pages/lazy_remote.h"
#include "res/predump.h"

#define MAX_IOV 1024 /* iovecs of one remote preadv */
#define SCAN_VEC 4096

struct page_writer {
	struct dump_ctx *ctx;
	struct dump_task *t;
	struct write_ring *ring; /* shared by every task of the dump */
	size_t used;
	bool pin_ok;		    /* process_vm_readv may be used */
	struct iovec riov[MAX_IOV]; /* where the process_vm_readv part of the batch comes from */
	int nr_riov;
	size_t riov_start;   /* ... and where in the buffer it starts */
	int mem_fd;	     /* /proc/PID/mem */
	bool mem_fd_planned; /* ... and the plan's to close */
	PageRun *last;
	struct page_plan *plan; /* a pre-dump: the reads are planned, made after the thaw */
	bool hole;     /* dump --lazy-pages: the pages stay in the tree, a hole in the image */
	bool no_guard; /* the kernel's PAGEMAP_SCAN knows no guard pages (before 6.14) */
};

/* Wait for the last images to be written; returns the first write error. */
int pages_dump_finish(struct dump_ctx *ctx)
{
	int ret = 0;
	if (ctx->page_ring) {
		ret = ring_drain(ctx->page_ring, true);
		/* compressed or sent: what the transport took */
		ctx->stats.bytes_written += ctx->xfer ? ctx->xfer->stored : ctx->page_ring->bytes;
		ring_free(ctx->page_ring, true);
		ctx->page_ring = NULL;
	}
	return ret;
}

/* A run of pages stored in the image, or (parent) unchanged since the parent image set */
static int add_run_of(struct page_writer *w, uint64_t addr, uint64_t nr, bool parent)
{
	Pagemap *pm = w->t->pagemap;
	if (w->last && w->last->vaddr + w->last->nr_pages * PAGE_SIZE == addr &&
	    w->last->in_parent == parent) {
		w->last->nr_pages += nr;
	} else {
		PageRun *run = A_NEW(&w->ctx->arena, PageRun, PAGE_RUN);
		if (!run || !DUMP_PUSH(w->ctx, pm->runs, pm->n_runs, run))
			return -ENOMEM;
		run->vaddr = addr;
		run->nr_pages = nr;
		run->has_in_parent = run->in_parent = parent;
		w->last = run;
	}
	if (!parent)
		pm->total_pages += nr;
	return 0;
}

static int add_run(struct page_writer *w, uint64_t addr, uint64_t nr)
{
	return add_run_of(w, addr, nr, false);
}

/* Fetch the process_vm_readv part of the batch. */
static int fetch(struct page_writer *w)
{
	struct iovec liov = {w->ring->buf[w->ring->fill] + w->riov_start, w->used - w->riov_start};
	ssize_t n;

	if (!w->nr_riov)
		return 0;
	n = process_vm_readv(w->t->pid, &liov, 1, w->riov, w->nr_riov, 0);
	if (n != (ssize_t)liov.iov_len) {
		int err = n < 0 ? errno : EFAULT;
		pr_errno(err, "task %d: cannot read %zu bytes of memory at %p", w->t->pid,
			 liov.iov_len, w->riov[0].iov_base);
		return -err;
	}
	w->nr_riov = 0;
	w->riov_start = w->used;
	return 0;
}

static int flush(struct page_writer *w)
{
	int ret = fetch(w);
	if (ret)
		return ret;
	if (w->used) {
		if ((ret = ring_error(w->ring, false, false)))
			return ret;
		w->ring->fill = ring_submit(w->ring, w->ring->fill, w->used, false);
	}
	w->used = 0;
	w->riov_start = 0;
	return 0;
}

/* Queue [addr, addr+len) of the task: with process_vm_readv (src_fd < 0), or read through
 * src_fd at src_off (/proc/PID/mem, or the shmem file of shared anonymous memory). */
static int queue(struct page_writer *w, uint64_t addr, uint64_t len, int src_fd, uint64_t src_off)
{
	int ret = add_run(w, addr, len / PAGE_SIZE);
	if (ret)
		return ret;
	if (w->hole) {
		/* what is read already goes first: the hole is in address order too */
		if ((ret = flush(w)))
			return ret;
		w->ring->hole += len;
		w->ctx->lazy_pages += len / PAGE_SIZE;
		return 0;
	}
	w->ctx->stats.pages_written += len / PAGE_SIZE;
	if (w->plan)
		return plan_add(w->plan, addr, len, src_fd, src_off);
	while (len) {
		uint64_t chunk = len < COPY_BUF - w->used ? len : COPY_BUF - w->used;
		if (src_fd >= 0) {
			/* the pinned part before it first, to keep the batch in address order */
			if ((ret = fetch(w)))
				return ret;
			ssize_t n =
			    pread(src_fd, w->ring->buf[w->ring->fill] + w->used, chunk, src_off);
			if (n != (ssize_t)chunk) {
				int err = n < 0 ? errno : EIO;
				pr_errno(err, "task %d: cannot read memory at %#lx", w->t->pid,
					 addr);
				return -err;
			}
			w->riov_start = w->used + chunk;
		} else {
			if (w->nr_riov == MAX_IOV && (ret = fetch(w)))
				return ret;
			w->riov[w->nr_riov++] = (struct iovec){(void *)addr, chunk};
		}
		w->used += chunk;
		addr += chunk, src_off += chunk, len -= chunk;
		if (w->used == COPY_BUF && (ret = flush(w)))
			return ret;
	}
	return 0;
}

/* A run of guard pages: no data, a marker the restore installs again */
static int add_guard(struct page_writer *w, uint64_t start, uint64_t end)
{
	Mm *mm = w->t->mm;
	PageRun *last = mm->n_guards ? mm->guards[mm->n_guards - 1] : NULL;
	if (last && last->vaddr + last->nr_pages * PAGE_SIZE == start) {
		last->nr_pages += (end - start) / PAGE_SIZE;
		return 0;
	}
	PageRun *run = A_NEW(&w->ctx->arena, PageRun, PAGE_RUN);
	if (!run || !DUMP_PUSH(w->ctx, mm->guards, mm->n_guards, run))
		return -ENOMEM;
	run->vaddr = start;
	run->nr_pages = (end - start) / PAGE_SIZE;
	return 0;
}

/* Queue the pages of [start, end) but those shared copy-on-write with the parent, which
 * come from the parent. */
static int queue_own(struct page_writer *w, size_t vi, uint64_t start, uint64_t end, int src)
{
	Vma *v = w->t->mm->vmas[vi];
	for (uint64_t a = start; a < end;) {
		uint64_t b = a;
		while (b < end && !cow_page_shared(w->t, vi, (b - v->start) / PAGE_SIZE))
			b += PAGE_SIZE;
		if (b > a) {
			int ret = queue(w, a, b - a, src, a);
			if (ret)
				return ret;
		}
		a = b;
		while (a < end && cow_page_shared(w->t, vi, (a - v->start) / PAGE_SIZE))
			a += PAGE_SIZE;
	}
	return 0;
}

/* Pages not written since the parent image set (res/track.c) are the parent's: only a
 * reference to them, the others are read. */
static int queue_tracked(struct page_writer *w, size_t vi, uint64_t start, uint64_t end, int src)
{
	if (!w->t->tracked)
		return queue_own(w, vi, start, end, src);
	for (uint64_t a = start; a < end;) {
		bool clean;
		uint64_t b = track_span(w->t, a, end, &clean);
		int ret = clean ? add_run_of(w, a, (b - a) / PAGE_SIZE, true)
				: queue_own(w, vi, a, b, src);
		if (ret)
			return ret;
		a = b;
	}
	return 0;
}

/* A final dump that finds the clean pages in its own scan (track_task: clean_inline): a
 * region the scan shows protected and not written, in a VMA of the tracking, is the parent's,
 * but for what the parent pre-dump could not read (its predump_lost runs). */
static int queue_clean(struct page_writer *w, size_t vi, uint64_t s, uint64_t e, int src)
{
	const struct dump_task *t = w->t;
	size_t li = 0, hi = t->nr_lost;

	while (li < hi) { /* the first lost range that ends above s */
		size_t mid = (li + hi) / 2;
		if (t->lost[mid].end <= s)
			li = mid + 1;
		else
			hi = mid;
	}
	while (s < e) {
		int ret;
		uint64_t to;
		if (li < t->nr_lost && t->lost[li].start <= s) {
			to = t->lost[li].end < e ? t->lost[li].end : e;
			ret = queue_own(w, vi, s, to, src);
			li++;
		} else {
			to = li < t->nr_lost && t->lost[li].start < e ? t->lost[li].start : e;
			ret = add_run_of(w, s, (to - s) / PAGE_SIZE, true);
		}
		if (ret)
			return ret;
		s = to;
	}
	return 0;
}

static int scan_vma(struct page_writer *w, int pagemap_fd, size_t vi)
{
	static struct page_region vec[SCAN_VEC];
	Vma *v = w->t->mm->vmas[vi];
	bool private_file = vma_private_file(v);
	uint64_t exclude = PAGE_IS_PFNZERO | (private_file ? PAGE_IS_FILE : 0);
	uint64_t guard = w->no_guard ? 0 : PAGE_IS_GUARD;
	/* clean: the same rule as the pre-dump's scan of them (res/track.c: scan_clean) */
	uint64_t clean_cats = w->t->clean_inline ? PAGE_IS_WRITTEN | PAGE_IS_WPALLOWED : 0;
	/* a guard page is a marker in the page table, which the scan shows as "swapped" too:
	 * it has no data, and reading it would fail (EFAULT) */
	struct pm_scan_arg arg = {
	    .size = sizeof(arg),
	    .start = v->start,
	    .end = v->end,
	    .vec = (uint64_t)vec,
	    .vec_len = SCAN_VEC,
	    .category_inverted = exclude,
	    .category_mask = exclude,
	    .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | guard,
	    .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | guard | clean_cats,
	};
	/* process_vm_readv needs a readable mapping, and must not touch shared pages; reads
	 * through /proc/PID/mem are forced (FOLL_FORCE): PROT_NONE and write-only pages too */
	int src = w->pin_ok && (v->prot & PROT_READ) ? -1 : w->mem_fd;

	uint64_t done = v->start; /* everything below is queued */

	w->ctx->stats.pages_scanned += (v->end - v->start) / PAGE_SIZE;
	while (done < v->end) {
		arg.start = done;
		long n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
		if (n < 0 && errno == EINVAL && guard) {
			/* a kernel without guard pages has none to find */
			w->no_guard = true;
			guard = 0;
			arg.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
			arg.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | clean_cats;
			n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
		}
		if (n < 0) {
			int err = errno;
			pr_errno(err, "task %d: PAGEMAP_SCAN of %#lx-%#lx failed", w->t->pid,
				 arg.start, arg.end);
			return -err;
		}
		/* when the vector fills, the walk may stop inside a region it already returned:
		 * the next walk starts after what is queued, never before */
		for (long i = 0; i < n; i++) {
			uint64_t start = vec[i].start > done ? vec[i].start : done;
			int ret;
			if (vec[i].end <= start)
				continue;
			if (vec[i].categories & guard)
				ret = add_guard(w, start, vec[i].end);
			else if (clean_cats &&
				 (vec[i].categories & clean_cats) == PAGE_IS_WPALLOWED)
				ret = queue_clean(w, vi, start, vec[i].end, src);
			else
				ret = queue_tracked(w, vi, start, vec[i].end, src);
			if (ret)
				return ret;
			done = vec[i].end;
		}
		if (n < SCAN_VEC) {
			if (arg.walk_end >= v->end || arg.walk_end <= done)
				break;
		}
		if (arg.walk_end > done)
			done = arg.walk_end;
	}
	return 0;
}

/* dump --lazy-pages: may the pages of VMA vi stay in the tree, for the lazy-pages daemon to
 * fetch? Only memory every lazy restore leaves to the daemon (lazy_vma, below): private
 * anonymous, writable (and readable: the source reads it with process_vm_readv), not locked, no
 * advice a fork or KSM acts on, not sealed, and not shared copy-on-write with a child or the parent
 * (the restore builds that itself, cow.c). Guard pages are seen by the scan: a VMA that has some is
 * refused then. */
static bool stays_in_tree(const struct dump_ctx *ctx, const struct dump_task *t, size_t vi)
{
	const Vma *v = t->mm->vmas[vi];
	const uint32_t apart =
	    CRYO_MADV_DONTFORK | CRYO_MADV_WIPEONFORK | CRYO_MADV_MERGEABLE | CRYO_VMA_SEALED;

	if (!ctx->opts->lazy_remote || v->kind != VMA_KIND__VMA_ANON_PRIVATE ||
	    (v->prot & (PROT_READ | PROT_WRITE)) != (PROT_READ | PROT_WRITE) ||
	    (v->madvise & apart) || v->locked || v->cow_from_parent)
		return false;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		const struct dump_task *c = &ctx->tasks[i];
		if (c == t || c->zombie || !c->mm || c->parent < 0 || &ctx->tasks[c->parent] != t)
			continue;
		for (size_t k = 0; k < c->mm->n_vmas; k++)
			if (c->mm->vmas[k]->cow_from_parent && c->mm->vmas[k]->start < v->end &&
			    c->mm->vmas[k]->end > v->start)
				return false;
	}
	return true;
}

/* Only the guard pages of a mapping whose content is read elsewhere (or not at all) */
static int scan_guards(struct page_writer *w, int pagemap_fd, Vma *v)
{
	static struct page_region vec[SCAN_VEC];
	struct pm_scan_arg arg = {
	    .size = sizeof(arg),
	    .end = v->end,
	    .vec = (uint64_t)vec,
	    .vec_len = SCAN_VEC,
	    .category_anyof_mask = PAGE_IS_GUARD,
	    .return_mask = PAGE_IS_GUARD,
	};
	uint64_t done = v->start;

	while (!w->no_guard && done < v->end) {
		arg.start = done;
		long n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
		if (n < 0 && errno == EINVAL) {
			w->no_guard = true;
			break;
		}
		if (n < 0) {
			int err = errno;
			pr_errno(err, "task %d: PAGEMAP_SCAN of %#lx-%#lx failed", w->t->pid,
				 arg.start, arg.end);
			return -err;
		}
		for (long i = 0; i < n; i++) {
			uint64_t start = vec[i].start > done ? vec[i].start : done;
			if (vec[i].end <= start)
				continue;
			int ret = add_guard(w, start, vec[i].end);
			if (ret)
				return ret;
			done = vec[i].end;
		}
		if (n < SCAN_VEC && (arg.walk_end >= v->end || arg.walk_end <= done))
			break;
		if (arg.walk_end > done)
			done = arg.walk_end;
	}
	return 0;
}

/* The pages found in the object by mincore() (mapped.c): only those, since reading a page
 * that does not exist would make it, in the tree. */
static int read_shmem_found(struct page_writer *w, Vma *v, const uint8_t *vec)
{
	uint64_t pages = (v->end - v->start) / PAGE_SIZE;
	int ret = 0;

	w->ctx->stats.pages_scanned += pages;
	for (uint64_t i = 0; i < pages && !ret;) {
		uint64_t j = i;
		while (j < pages && (vec[j] & 1))
			j++;
		if (j > i)
			ret = queue(w, v->start + i * PAGE_SIZE, (j - i) * PAGE_SIZE, w->mem_fd,
				    v->start + i * PAGE_SIZE);
		for (i = j; i < pages && !(vec[i] & 1); i++)
			;
	}
	return ret;
}

/* Shared anonymous memory lives in a shmem file; pages this task never touched are in it too. */
static int read_shmem_vma(struct page_writer *w, Vma *v)
{
	char path[96];
	uint64_t len = v->end - v->start, off = 0;
	const uint8_t *found;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", w->t->pid, v->start, v->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && (errno == EPERM || errno == EACCES) &&
	    (found = shmem_resident(w->t, v->start, v->end)))
		return read_shmem_found(w, v, found);
	if (fd < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot open its shared memory at %#lx", w->t->pid,
			 v->start);
		return ret;
	}
	w->ctx->stats.pages_scanned += len / PAGE_SIZE;
	while (off < len && !ret) {
		off_t data = lseek(fd, v->pgoff + off, SEEK_DATA);
		if (data < 0 || (uint64_t)data >= v->pgoff + len)
			break;
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > v->pgoff + len)
			hole = v->pgoff + len;
		data &= ~(PAGE_SIZE - 1);
		hole = PAGE_ALIGN((uint64_t)hole);
		ret = queue(w, v->start + data - v->pgoff, hole - data, fd, data);
		off = hole - v->pgoff;
	}
	/* planned reads of it come after the thaw: the plan keeps it open until then */
	if (w->plan && !ret)
		return plan_own_fd(w->plan, fd);
	close(fd);
	return ret;
}

int dump_pages(struct dump_ctx *ctx, struct dump_task *t)
{
	/* pinning may unshare copy-on-write pages: only a tree that goes on must be spared it */
	struct page_writer w = {.ctx = ctx,
				.t = t,
				.mem_fd = -1,
				.pin_ok = ctx->nr_tasks == 1 || !ctx->opts->leave_running};
	char path[64];
	int pagemap_fd, out_fd = -1, ret = 0, wret;
	uint64_t t0 = now_ns();

	t->pagemap = A_NEW(&ctx->arena, Pagemap, PAGEMAP);
	w.ring = ring_get(ctx);
	if (!t->pagemap || !w.ring)
		return -ENOMEM;
	/* a pre-dump reads the pages once the tree runs again (res/predump.c) */
	if (ctx->opts->pre_dump && !(w.plan = t->plan = plan_new()))
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", t->pid);
	pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
	w.mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pagemap_fd < 0 || w.mem_fd < 0) {
		ret = -errno;
		if (ret == -ESRCH || ret == -ENOENT)
			pr_err("task %d died during the dump (killed by someone else?)", t->pid);
		else
			pr_errno(-ret, "task %d: cannot open its pagemap/mem", t->pid);
		goto out;
	}
	if (w.plan) {
		/* the plan keeps /proc/PID/mem open for the reads after the thaw */
		ret = plan_own_fd(w.plan, w.mem_fd);
		w.mem_fd_planned = true;
		if (ret)
			goto out;
	} else {
		xfer_describe(ctx->xfer, t->pagemap);
		out_fd = ctx->xfer->ops->open(ctx->xfer, t->pid);
		if (out_fd < 0) {
			ret = out_fd;
			goto out;
		}
		w.ring->fd = out_fd;
		w.ring->pid = t->pid;
		w.ring->hole = 0;
	}
	for (size_t i = 0; i < t->mm->n_vmas && !ret; i++) {
		Vma *v = t->mm->vmas[i];
		w.last = NULL; /* a run never spans two VMAs */
		size_t guards = t->mm->n_guards;
		w.hole = !w.plan && stays_in_tree(ctx, t, i); /* (a pre-dump reads them all) */
		if (w.plan) /* (the tracking's rule, res/track.c: arm) */
			plan_vma(w.plan,
				 v->kind == VMA_KIND__VMA_ANON_PRIVATE && (v->prot & PROT_WRITE));
		if (v->kind == VMA_KIND__VMA_ANON_SHARED)
			ret = read_shmem_vma(&w, v);
		else if (vma_has_content(v))
			ret = scan_vma(&w, pagemap_fd, i);
		if (!ret && w.hole && t->mm->n_guards != guards) {
			pr_err(
			    "task %d: its memory at %#lx-%#lx has guard pages: dump --lazy-pages "
			    "of it is not supported yet",
			    t->pid, v->start, v->end);
			ret = -ENOTSUP;
		}
		if (!ret && w.hole)
			ret = lazyremote_add(ctx, t->pid, v->start, v->end);
		w.hole = false;
		/* shared mappings: their data is in their objects, guards in their page tables */
		if (!ret && (v->flags & MAP_SHARED))
			ret = scan_guards(&w, pagemap_fd, v);
	}
	if (!ret && !w.plan)
		ret = flush(&w);
out:
	/* the writer closes the image after its last batch: the next task starts at once */
	if (w.plan) {
		if (w.mem_fd_planned)
			w.mem_fd = -1; /* the plan's */
	} else if (!ret && out_fd >= 0) {
		w.ring->fill = ring_submit(w.ring, w.ring->fill, 0, true);
		out_fd = -1;
	} else {
		/* an error of the writer is reported only if nothing else was */
		wret = ring_drain(w.ring, !ret);
		if (!ret)
			ret = wret;
	}
	if (out_fd >= 0)
		ctx->xfer->ops->close(ctx->xfer, out_fd, t->pid, false);
	if (pagemap_fd >= 0)
		close(pagemap_fd);
	if (w.mem_fd >= 0)
		close(w.mem_fd);
	ctx->stats.pages_skipped_zero = ctx->stats.pages_scanned - ctx->stats.pages_written;
	if (!ret) {
		uint64_t parent = 0;
		for (size_t i = 0; i < t->pagemap->n_runs; i++)
			if (t->pagemap->runs[i]->in_parent)
				parent += t->pagemap->runs[i]->nr_pages;
		pr_info("task %d: %lu pages written in %zu runs, %lu pages in the parent", t->pid,
			t->pagemap->total_pages, t->pagemap->n_runs, parent);
	}
	ctx->stats.memory_ns += now_ns() - t0;
	return ret;
}
