/* Memory content, restore side: the runs of pagemap-PID.img checked against the layout, then
 * the task reads its own pages straight from the image with remote preadv (one copy, in the
 * kernel); read-only and lazily restored memory goes through the task's userfaultfd instead.
 * The dump side, which writes the image, is pages.c.
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
#include "core/log.h"
#include "core/restore_ctx.h"
#include "res/mm.h"
#include "res/page_ring.h"
#include "res/parent.h"
#include "res/lazy.h"

#define MAX_IOV 1024		 /* iovecs of one remote preadv */
#define POPULATE_MIN (64u << 10) /* a private anonymous range this long is populated first */

/* Every run must lie inside one VMA that has content, in address order, and the runs must
 * account for exactly the bytes of the page image. */
int pages_validate(struct restore_task *t)
{
	Pagemap *pm = t->pagemap;
	uint64_t prev_end = 0, total = 0;

	for (size_t i = 0; i < pm->n_runs; i++) {
		PageRun *run = pm->runs[i];
		uint64_t len = run->nr_pages * PAGE_SIZE;
		int vi;
		/* pages in a parent were resolved into the image first (res/parent.c) */
		if (run->in_parent || !run->nr_pages || run->nr_pages > TASK_SIZE_MAX / PAGE_SIZE ||
		    run->vaddr % PAGE_SIZE || run->vaddr < prev_end ||
		    (vi = mm_find_vma(t->mm, run->vaddr, len)) < 0 ||
		    !vma_has_content(t->mm->vmas[vi])) {
			pr_err("pagemap-%d.img: run %zu (%#lx, %lu pages) does not fit the memory "
			       "layout",
			       t->pid, i, run->vaddr, run->nr_pages);
			return -EINVAL;
		}
		prev_end = run->vaddr + len;
		total += run->nr_pages;
	}
	if (total != pm->total_pages || total * PAGE_SIZE != t->pages_size) {
		pr_err("pages-%d.img holds %lu bytes, its pagemap describes %lu pages", t->pid,
		       t->pages_size, total);
		return -EINVAL;
	}
	return 0;
}

struct page_filler {
	struct restore_task *t;
	struct iovec iov[MAX_IOV];
	int nr;
	uint64_t file_off; /* where iov[0] starts in the page image */
	uint64_t bytes;
};

static int fill_flush(struct page_filler *f)
{
	struct remote *r = &f->t->rem;
	uint64_t scratch = remote_scratch(r);
	int ret;

	while (f->nr) {
		ret = remote_write(f->t->pid, scratch, f->iov, f->nr * sizeof(struct iovec));
		if (ret)
			return ret;
		long rv = rsys5(r, __NR_preadv, f->t->svc[0].fd, scratch, f->nr,
				IMG_RAW_HDR + f->file_off, 0);
		if (rv <= 0) {
			pr_errno(rv < 0 ? (int)-rv : EIO,
				 "task %d: cannot read its pages at %p from the image", f->t->pid,
				 f->iov[0].iov_base);
			return rv < 0 ? (int)rv : -EIO;
		}
		/* a short read: drop what was done and go on */
		f->file_off += rv;
		f->bytes -= rv;
		int k = 0;
		while (k < f->nr && (uint64_t)rv >= f->iov[k].iov_len)
			rv -= f->iov[k++].iov_len;
		if (k < f->nr) {
			f->iov[k].iov_base = (char *)f->iov[k].iov_base + rv;
			f->iov[k].iov_len -= rv;
		}
		memmove(f->iov, f->iov + k, (f->nr - k) * sizeof(struct iovec));
		f->nr -= k;
	}
	return 0;
}

/* Pages of a VMA the task cannot write: written through /proc/PID/mem, which may. */
static int fill_readonly(struct restore_task *t, int mem_fd, uint64_t addr, uint64_t len,
			 uint64_t file_off, uint8_t *buf)
{
	while (len) {
		uint64_t chunk = len < COPY_BUF ? len : COPY_BUF;
		ssize_t n = pread(t->pages_fd_local, buf, chunk, IMG_RAW_HDR + file_off);
		if (n != (ssize_t)chunk) {
			pr_err("pages-%d.img: short read at offset %lu", t->pid, file_off);
			return -EIO;
		}
		n = pwrite(mem_fd, buf, chunk, addr);
		if (n != (ssize_t)chunk) {
			int err = n < 0 ? errno : EIO;
			pr_errno(err, "task %d: cannot write its memory at %#lx", t->pid, addr);
			return -err;
		}
		addr += chunk, file_off += chunk, len -= chunk;
	}
	return 0;
}

/* Private anonymous memory is filled by cryo with UFFDIO_COPY. The other writable runs are
 * read by the task itself with preadv calls, as one batch that runs while cryo works:
 * restore_pages_start() prepares and starts it and does cryo's part, restore_pages_finish()
 * waits for the batch. */
struct page_fill {
	struct remote_batch batch;
	uint32_t *cryo_runs; /* runs cryo writes itself (private anonymous memory) */
	uint64_t *cryo_offs; /* ... and where each is in the image */
	uint32_t cryo_count;
	uint64_t want[BATCH_MAX];  /* bytes each preadv must read */
	uint64_t off[BATCH_MAX];   /* where in the page image */
	uint32_t first[BATCH_MAX]; /* its first run */
	uint32_t count[BATCH_MAX]; /* and how many */
	bool populate[BATCH_MAX];  /* a MADV_POPULATE_WRITE ahead of a read, see below */
};

/* Queue the preadv of runs [first, first+count) whose iovecs are at iov_at in the task. */
static int queue_preadv(struct restore_task *t, struct page_fill *pf, struct page_filler *f,
			uint64_t *iov_at, uint32_t first)
{
	struct remote *r = &t->rem;
	int ret, i;

	if (!f->nr)
		return 0;
	if (pf->batch.n == BATCH_MAX ||
	    *iov_at + f->nr * sizeof(struct iovec) > r->area + r->area_size - 4096) {
		/* no room left in the area: these go now */
		return fill_flush(f);
	}
	ret = remote_write(t->pid, *iov_at, f->iov, f->nr * sizeof(struct iovec));
	if (ret)
		return ret;
	i = batch_add(&pf->batch, __NR_preadv, t->svc[0].fd, *iov_at, f->nr,
		      IMG_RAW_HDR + f->file_off, 0, 0);
	pf->want[i] = f->bytes;
	pf->off[i] = f->file_off;
	pf->first[i] = first;
	pf->count[i] = f->nr;
	*iov_at += f->nr * sizeof(struct iovec);
	f->nr = 0;
	f->bytes = 0;
	return 0;
}

/* A userfaultfd of the task's memory, held by cryo: UFFDIO_COPY fills a missing page in one
 * step (no zeroed page first, no fault), half again as fast as a read into fresh memory. It is
 * made by the task (it belongs to the mm of its maker) and taken over with pidfd_getfd. */
static int task_uffd(struct restore_task *t, uint64_t features)
{
	struct uffdio_api api = {.api = UFFD_API, .features = features};
	long fd = rsys1(&t->rem, __NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int pidfd, uffd = -1;

	if (fd < 0)
		return -1;
	pidfd = sys_pidfd_open(t->pid);
	if (pidfd >= 0)
		uffd = sys_pidfd_getfd(pidfd, (int)fd);
	rsys1(&t->rem, __NR_close, fd);
	if (pidfd >= 0)
		close(pidfd);
	if (uffd >= 0 && ioctl(uffd, UFFDIO_API, &api) < 0) {
		close(uffd);
		uffd = -1;
	}
	return uffd;
}

static int uffd_fill(int uffd, uint64_t dst, const uint8_t *src, uint64_t len)
{
	while (len) {
		struct uffdio_copy c = {.dst = dst, .src = (uint64_t)src, .len = len};
		if (ioctl(uffd, UFFDIO_COPY, &c) < 0 && errno != EAGAIN)
			return -errno;
		if (c.copy <= 0)
			return c.copy < 0 ? (int)c.copy : -EIO;
		dst += c.copy, src += c.copy, len -= c.copy;
	}
	return 0;
}

/* cryo's part: read from the image, put into the task by UFFDIO_COPY (or, if the task could
 * not make a userfaultfd, written with process_vm_writev). */
static int fill_from_cryo(struct restore_task *t, struct page_fill *pf, int uffd)
{
	uint8_t *buf =
	    mmap(NULL, COPY_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret = 0;
	bool *registered = calloc(t->mm->n_vmas ? t->mm->n_vmas : 1, sizeof(bool));

	if (buf == MAP_FAILED || !registered) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t k = 0; k < pf->cryo_count && !ret; k++) {
		PageRun *run = t->pagemap->runs[pf->cryo_runs[k]];
		uint64_t addr = run->vaddr, len = run->nr_pages * PAGE_SIZE, off = pf->cryo_offs[k];
		int vi = mm_find_vma(t->mm, addr, len);
		Vma *v = t->mm->vmas[vi];
		bool use_uffd = false;

		if (uffd >= 0 && v->kind == VMA_KIND__VMA_ANON_PRIVATE) {
			struct uffdio_register reg = {
			    .range = {v->start, v->end - v->start},
			    .mode = UFFDIO_REGISTER_MODE_MISSING,
			};
			if (!registered[vi] && ioctl(uffd, UFFDIO_REGISTER, &reg) == 0)
				registered[vi] = true;
			use_uffd = registered[vi];
		}
		while (len && !ret) {
			uint64_t chunk = len < COPY_BUF ? len : COPY_BUF;
			ssize_t n = pread(t->pages_fd_local, buf, chunk, IMG_RAW_HDR + off);
			if (n != (ssize_t)chunk) {
				pr_err("pages-%d.img: short read at offset %lu", t->pid, off);
				ret = -EIO;
				break;
			}
			ret = use_uffd ? uffd_fill(uffd, addr, buf, chunk)
				       : remote_write(t->pid, addr, buf, chunk);
			if (ret)
				pr_errno(-ret, "task %d: cannot write its memory at %#lx", t->pid,
					 addr);
			addr += chunk, off += chunk, len -= chunk;
		}
	}
out:
	/* unregistered, the VMAs have their own flags again */
	for (size_t i = 0; registered && i < t->mm->n_vmas; i++) {
		struct uffdio_range r = {t->mm->vmas[i]->start,
					 t->mm->vmas[i]->end - t->mm->vmas[i]->start};
		if (registered[i] && ioctl(uffd, UFFDIO_UNREGISTER, &r) < 0 && !ret) {
			ret = -errno;
			pr_errno(-ret, "task %d: cannot release its memory at %#llx", t->pid,
				 r.start);
		}
	}
	free(registered);
	if (uffd >= 0)
		close(uffd);
	if (buf != MAP_FAILED)
		munmap(buf, COPY_BUF);
	return ret;
}

/* --lazy-pages: may VMA vi come in as the task runs? Private anonymous memory the task can
 * write, that nothing of the restore or of a fork treats apart: writable in the end too
 * (a mapping made read-only keeps its accounting only if it has had a page by then: the
 * kernel drops VM_ACCOUNT from one without an anon_vma), not kept from the child phase, not
 * locked (mlock would wait on the daemon), no guard pages, no advice that a fork or KSM
 * would act on, not sealed. The others are filled now, as without the option. */
static bool lazy_vma(const struct restore_task *t, size_t vi)
{
	const Vma *v = t->mm->vmas[vi];
	const uint32_t apart =
	    CRYO_MADV_DONTFORK | CRYO_MADV_WIPEONFORK | CRYO_MADV_MERGEABLE | CRYO_VMA_SEALED;

	if (v->kind != VMA_KIND__VMA_ANON_PRIVATE || !(v->prot & PROT_WRITE) ||
	    (v->madvise & apart) || v->locked || (t->vma_kept && t->vma_kept[vi]))
		return false;
	for (size_t g = 0; g < t->mm->n_guards; g++)
		if (t->mm->guards[g]->vaddr < v->end &&
		    t->mm->guards[g]->vaddr + t->mm->guards[g]->nr_pages * PAGE_SIZE > v->start)
			return false;
	return true;
}

/* The lazy VMAs of the task registered (MISSING) on a userfaultfd the task makes, handed to
 * the daemon with the runs, cryo's copy closed: the task holds none, the daemon serves it. */
static int lazy_hand_over(struct restore_ctx *ctx, struct restore_task *t, const bool *lazy,
			  const struct lazy_run *runs, uint32_t nr_runs)
{
	struct lazy_range *ranges = calloc(t->mm->n_vmas, sizeof(*ranges));
	uint32_t nr = 0;
	int uffd, ret = 0;

	if (!ranges)
		return -ENOMEM;
	uffd = task_uffd(t, LAZY_UFFD_FEATURES);
	if (uffd < 0) {
		pr_err("task %d: cannot make a userfaultfd for its lazy memory", t->pid);
		free(ranges);
		return -EIO;
	}
	for (size_t i = 0; i < t->mm->n_vmas && !ret; i++) {
		Vma *v = t->mm->vmas[i];
		if (!lazy[i])
			continue;
		struct uffdio_register reg = {
		    .range = {v->start, v->end - v->start},
		    .mode = UFFDIO_REGISTER_MODE_MISSING,
		};
		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
			ret = -errno;
			pr_errno(-ret, "task %d: cannot register its memory at %#lx-%#lx", t->pid,
				 v->start, v->end);
			break;
		}
		ranges[nr++] = (struct lazy_range){v->start, v->end};
	}
	if (!ret)
		ret = lazy_send_task(ctx, t, uffd, ranges, nr, runs, nr_runs);
	if (!ret)
		pr_info("task %d: %u runs in %u ranges left to the lazy-pages daemon", t->pid,
			nr_runs, nr);
	close(uffd);
	free(ranges);
	return ret;
}

int restore_pages_start(struct restore_ctx *ctx, struct restore_task *t)
{
	struct page_filler f = {.t = t};
	struct page_fill *pf = calloc(1, sizeof(*pf));
	Pagemap *pm = t->pagemap;
	uint64_t off = 0, iov_at = remote_batch_data(&t->rem);
	uint32_t group_first = 0;
	uint8_t *buf = NULL;
	int mem_fd = -1, ret = 0;

	if (!pf)
		return -ENOMEM;
	t->pages_pending = pf;
	/* worth its setup (a userfaultfd made by the task) from a few MiB on; smaller tasks read
	 * their own pages, two at a time while cryo sets up the next */
	bool lazy = ctx->lazy_fd >= 0;
	bool by_cryo = !lazy && t->pages_size >= (8u << 20);
	struct lazy_run *lazy_runs = NULL;
	bool *lazy_vmas = NULL;
	uint32_t nr_lazy = 0;
	pf->cryo_runs = calloc(pm->n_runs ? pm->n_runs : 1, sizeof(*pf->cryo_runs));
	pf->cryo_offs = calloc(pm->n_runs ? pm->n_runs : 1, sizeof(*pf->cryo_offs));
	if (!pf->cryo_runs || !pf->cryo_offs)
		return -ENOMEM;
	if (lazy) {
		lazy_runs = calloc(pm->n_runs ? pm->n_runs : 1, sizeof(*lazy_runs));
		lazy_vmas = calloc(t->mm->n_vmas ? t->mm->n_vmas : 1, sizeof(*lazy_vmas));
		if (!lazy_runs || !lazy_vmas) {
			free(lazy_runs);
			free(lazy_vmas);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < pm->n_runs && !ret; i++) {
		PageRun *run = pm->runs[i];
		uint64_t len = run->nr_pages * PAGE_SIZE;
		int vi = mm_find_vma(t->mm, run->vaddr, len);
		Vma *v = t->mm->vmas[vi];
		uint32_t prot = vma_map_prot(v);

		/* dump --lazy-pages: only the daemon can have these (the image has holes) */
		bool remote = lazy && lazy_remote_at(ctx, t, run->vaddr, len);
		if (remote && ((t->vma_kept && t->vma_kept[vi]) || !lazy_vma(t, vi))) {
			pr_err(
			    "task %d: its memory at %#lx (%lu pages) is at the dump's source, but "
			    "this restore must fill it itself (shared copy-on-write, locked, "
			    "guarded...): not supported yet",
			    t->pid, run->vaddr, run->nr_pages);
			ret = -ENOTSUP;
			break;
		}
		if (t->vma_kept && t->vma_kept[vi]) {
			/* written in the child phase already (cow.c) */
			off += len;
			continue;
		}
		/* --lazy-pages: the daemon copies these in as the task runs */
		if (lazy && (lazy_vmas[vi] || lazy_vma(t, vi))) {
			lazy_vmas[vi] = true;
			lazy_runs[nr_lazy++] = (struct lazy_run){
			    run->vaddr, run->nr_pages, remote ? LAZY_REMOTE_OFF(run->vaddr) : off};
			off += len;
			continue;
		}
		/* a chain of parents not merged (--lazy-pages): what is read here, copied in */
		if (t->chain && (ret = parent_fill(t, run->vaddr, len)))
			break;

		if (!(prot & PROT_WRITE) || v->kind == VMA_KIND__VMA_ANON_SHARED) {
			bool shared = v->kind == VMA_KIND__VMA_ANON_SHARED;
			struct page_filler one = {.t = t};
			if (shared && !(prot & PROT_WRITE)) {
				/* a forced write cannot reach a shared page: open it up briefly */
				long rv = rsys3(&t->rem, __NR_mprotect, v->start, v->end - v->start,
						v->prot | PROT_WRITE);
				if (rv < 0) {
					ret = (int)rv;
					break;
				}
			}
			if (shared) {
				one.iov[0] = (struct iovec){(void *)run->vaddr, len};
				one.nr = 1;
				one.file_off = off;
				ret = fill_flush(&one);
			} else {
				char path[64];
				if (mem_fd < 0) {
					snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
					mem_fd = open(path, O_RDWR | O_CLOEXEC);
					buf = malloc(COPY_BUF);
					if (mem_fd < 0 || !buf) {
						ret = mem_fd < 0 ? -errno : -ENOMEM;
						break;
					}
				}
				ret = fill_readonly(t, mem_fd, run->vaddr, len, off, buf);
			}
			if (!ret && shared && !(prot & PROT_WRITE)) {
				long rv = rsys3(&t->rem, __NR_mprotect, v->start, v->end - v->start,
						v->prot);
				ret = rv < 0 ? (int)rv : 0;
			}
			off += len;
			continue;
		}
		/* private anonymous memory: cryo fills it with UFFDIO_COPY, while the task reads
		 * the rest itself */
		if (by_cryo && v->kind == VMA_KIND__VMA_ANON_PRIVATE) {
			pf->cryo_runs[pf->cryo_count] = i;
			pf->cryo_offs[pf->cryo_count++] = off;
			off += len;
			continue;
		}
		/* Pages made in one go before the read, not one fault at a time inside it: a
		 * fifth less time for large runs. Only a hint: its result does not matter. */
		if (len >= POPULATE_MIN && v->kind == VMA_KIND__VMA_ANON_PRIVATE &&
		    pf->batch.n < BATCH_MAX / 2) {
			int k = batch_add(&pf->batch, __NR_madvise, run->vaddr, len,
					  MADV_POPULATE_WRITE, 0, 0, 0);
			pf->populate[k] = true;
		}
		/* contiguous in the image since the last queued group? else a new group */
		if (f.nr && (f.nr == MAX_IOV || f.file_off + f.bytes != off)) {
			if ((ret = queue_preadv(t, pf, &f, &iov_at, group_first)))
				break;
		}
		if (!f.nr) {
			f.file_off = off;
			group_first = i;
		}
		f.iov[f.nr++] = (struct iovec){(void *)run->vaddr, len};
		f.bytes += len;
		off += len;
	}
	if (!ret)
		ret = queue_preadv(t, pf, &f, &iov_at, group_first);
	if (mem_fd >= 0)
		close(mem_fd);
	free(buf);
	/* the daemon has the lazy memory before the task reads the rest or runs */
	if (!ret && nr_lazy)
		ret = lazy_hand_over(ctx, t, lazy_vmas, lazy_runs, nr_lazy);
	free(lazy_runs);
	free(lazy_vmas);
	/* the task makes the userfaultfd before it goes off reading its half */
	int uffd = !ret && pf->cryo_count ? task_uffd(t, 0) : -1;
	pr_debug("task %d: %u runs by cryo (uffd %d), %d preadv calls by the task", t->pid,
		 pf->cryo_count, uffd, pf->batch.n);
	if (!ret)
		ret = remote_batch_start(&t->rem, &pf->batch);
	if (!ret && pf->cryo_count) {
		ret = fill_from_cryo(t, pf, uffd);
	} else if (uffd >= 0)
		close(uffd);
	return ret;
}

void restore_pages_free(struct restore_task *t)
{
	struct page_fill *pf = t->pages_pending;
	if (pf) {
		free(pf->cryo_runs);
		free(pf->cryo_offs);
		free(pf);
		t->pages_pending = NULL;
	}
}

int restore_pages_finish(struct restore_ctx *ctx, struct restore_task *t)
{
	struct page_fill *pf = t->pages_pending;
	int ret = 0;

	if (!pf)
		return 0;
	ret = remote_batch_wait(&t->rem, &pf->batch);
	for (int i = 0; !ret && i < pf->batch.n; i++) {
		long rv = batch_result(&pf->batch, i);
		if (pf->populate[i])
			continue;
		if (rv < 0 || (uint64_t)rv > pf->want[i]) {
			pr_errno(rv < 0 ? (int)-rv : EIO,
				 "task %d: cannot read its pages from the image", t->pid);
			ret = rv < 0 ? (int)rv : -EIO;
		} else if ((uint64_t)rv < pf->want[i]) {
			/* short: the rest, call by call */
			struct page_filler f = {.t = t, .file_off = pf->off[i]};
			for (uint32_t k = 0; k < pf->count[i]; k++) {
				PageRun *run = t->pagemap->runs[pf->first[i] + k];
				f.iov[f.nr++] =
				    (struct iovec){(void *)run->vaddr, run->nr_pages * PAGE_SIZE};
			}
			f.bytes = pf->want[i];
			/* drop what the first read did */
			uint64_t done = rv;
			f.file_off += done;
			f.bytes -= done;
			int k = 0;
			while (k < f.nr && done >= f.iov[k].iov_len)
				done -= f.iov[k++].iov_len;
			if (k < f.nr) {
				f.iov[k].iov_base = (char *)f.iov[k].iov_base + done;
				f.iov[k].iov_len -= done;
			}
			memmove(f.iov, f.iov + k, (f.nr - k) * sizeof(struct iovec));
			f.nr -= k;
			ret = fill_flush(&f);
		}
	}
	restore_pages_free(t);
	if (!ret)
		pr_info("task %d: %lu pages restored", t->pid, t->pagemap->total_pages);
	return ret;
}
