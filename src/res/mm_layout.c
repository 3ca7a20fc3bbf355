/* The restored task's address space rebuilt from outside, in its remote phase: everything
 * but the remote-call area (and memory built copy-on-write in the child phase) is unmapped,
 * the vDSO is moved to its dumped address, and each VMA of the image is mapped again with
 * MAP_FIXED, in a few batches of remote calls. The layout is read and planned in mm.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "res/aio.h"
#include "res/mm.h"

struct vdso_set {
	uint64_t start[3], end[3]; /* vvar, vvar_vclock, vdso; 0 when absent */
};

static int kind_slot(VmaKind k)
{
	return k == VMA_KIND__VMA_VVAR		? 0
	       : k == VMA_KIND__VMA_VVAR_VCLOCK ? 1
	       : k == VMA_KIND__VMA_VDSO	? 2
						: -1;
}

static int read_own_vdso(pid_t pid, struct vdso_set *cur)
{
	char path[64], *buf, *line, *save;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	n = read_file_alloc(path, &buf);
	if (n < 0)
		return (int)n;
	memset(cur, 0, sizeof(*cur));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;
		int slot = -1;
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		if (strstr(line, "[vvar]"))
			slot = 0;
		else if (strstr(line, "[vvar_vclock]"))
			slot = 1;
		else if (strstr(line, "[vdso]"))
			slot = 2;
		if (slot >= 0)
			cur->start[slot] = s, cur->end[slot] = e;
	}
	free(buf);
	return 0;
}

/* Calls of the layout batch, with the result each must give. */
struct layout_batch {
	struct remote_batch b;
	long expect[BATCH_MAX];
	const char *what[BATCH_MAX];
	uint64_t addr[BATCH_MAX];
};

static void layout_add(struct layout_batch *lb, const char *what, long expect, long nr, long a1,
		       long a2, long a3, long a4, long a5, long a6)
{
	int i = batch_add(&lb->b, nr, a1, a2, a3, a4, a5, a6);
	if (i < 0)
		return; /* never: the callers leave room */
	lb->expect[i] = expect;
	lb->what[i] = what;
	lb->addr[i] = a1;
}

static int layout_run(struct restore_task *t, struct layout_batch *lb)
{
	int ret = remote_batch_run(&t->rem, &lb->b);
	if (ret)
		return ret;
	for (int i = 0; i < lb->b.n; i++) {
		long rv = batch_result(&lb->b, i);
		if (rv != lb->expect[i]) {
			pr_errno(rv < 0 ? (int)-rv : EFAULT, "task %d: cannot %s at %#lx", t->pid,
				 lb->what[i], lb->addr[i]);
			return rv < 0 ? (int)rv : -EFAULT;
		}
	}
	lb->b.n = 0;
	return 0;
}

static int unmap_all_but(struct restore_task *t, const struct vdso_set *cur,
			 struct layout_batch *lb)
{
	struct mm_range *keep = malloc((t->mm->n_vmas + 4) * sizeof(*keep));
	int n = 0;
	uint64_t from = 0;

	if (!keep)
		return -ENOMEM;
	keep[n++] = (struct mm_range){t->area, t->area + REMOTE_AREA_SIZE};
	for (int i = 0; i < 3; i++)
		if (cur->start[i])
			keep[n++] = (struct mm_range){cur->start[i], cur->end[i]};
	/* and the copy-on-write memory built in the child phase */
	for (size_t i = 0; t->vma_kept && i < t->mm->n_vmas; i++)
		if (t->vma_kept[i])
			keep[n++] = (struct mm_range){t->mm->vmas[i]->start, t->mm->vmas[i]->end};
	sort_n(keep, n, sizeof(keep[0]), mm_range_cmp);
	for (int i = 0; i <= n; i++) {
		uint64_t to = i < n ? keep[i].start : TASK_SIZE_MAX;
		if (to > from)
			layout_add(lb, "unmap cryo's memory", 0, __NR_munmap, from, to - from, 0, 0,
				   0, 0);
		if (i < n && keep[i].end > from)
			from = keep[i].end;
	}
	free(keep);
	return 0;
}

static int move_vdso(struct restore_task *t, const struct vdso_set *cur, struct layout_batch *lb)
{
	struct vdso_set want = {0};
	int64_t delta = 0;
	bool have_delta = false;

	for (size_t i = 0; i < t->mm->n_vmas; i++) {
		int slot = kind_slot(t->mm->vmas[i]->kind);
		if (slot >= 0)
			want.start[slot] = t->mm->vmas[i]->start,
			want.end[slot] = t->mm->vmas[i]->end;
	}
	for (int i = 0; i < 3; i++) {
		if (!want.start[i] && cur->start[i]) {
			layout_add(lb, "unmap the vDSO", 0, __NR_munmap, cur->start[i],
				   cur->end[i] - cur->start[i], 0, 0, 0, 0);
			continue;
		}
		if (!want.start[i])
			continue;
		if (!cur->start[i] || want.end[i] - want.start[i] != cur->end[i] - cur->start[i]) {
			pr_err("task %d: the dumped vDSO layout does not match this kernel's (area "
			       "%d: "
			       "%#lx bytes dumped, %#lx here)",
			       t->pid, i, want.end[i] - want.start[i], cur->end[i] - cur->start[i]);
			return -ENOTSUP;
		}
		int64_t d = (int64_t)(want.start[i] - cur->start[i]);
		if (have_delta && d != delta) {
			pr_err("task %d: the dumped vDSO areas are placed differently from this "
			       "kernel's",
			       t->pid);
			return -ENOTSUP;
		}
		delta = d, have_delta = true;
	}
	if (!have_delta || !delta)
		return 0;
	/* all move by the same distance: go from the far end so none lands on another */
	for (int k = 0; k < 3; k++) {
		int i = delta > 0 ? 2 - k : k;
		if (want.start[i])
			layout_add(lb, "move a vDSO area", (long)want.start[i], __NR_mremap,
				   cur->start[i], cur->end[i] - cur->start[i],
				   cur->end[i] - cur->start[i], MREMAP_MAYMOVE | MREMAP_FIXED,
				   want.start[i], 0);
	}
	return 0;
}

/* Two private anonymous mappings side by side were apart in the dumped task (one was moved
 * by mremap after it had pages: it keeps the page offset of its first place), but mapped anew
 * at their places they would merge into one. The second is mapped at a free place, given a
 * page there (which gives it an anon_vma: the kernel moves a mapping without one to a fresh
 * page offset, and would merge it), moved into its own place and the page dropped: its page
 * offset does not continue the first mapping's, so the kernel keeps them apart as they were. */
bool mm_vma_needs_apart(const Mm *mm, size_t i)
{
	const Vma *v = mm->vmas[i], *p = i ? mm->vmas[i - 1] : NULL;
	return p && p->end == v->start && p->kind == VMA_KIND__VMA_ANON_PRIVATE &&
	       v->kind == VMA_KIND__VMA_ANON_PRIVATE && !(v->flags & MAP_GROWSDOWN) &&
	       !(p->flags & MAP_GROWSDOWN) && (vma_map_prot(v) & PROT_WRITE);
}

/* A stretch of len bytes free in the dumped layout and away from the remote-call area, with
 * a page to spare on each side; 0 if there is none */
static uint64_t free_stretch(const struct restore_task *t, uint64_t len)
{
	uint64_t cand = 1ull << 32;
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < t->mm->n_vmas; i++) {
			const Vma *v = t->mm->vmas[i];
			if (v->end + PAGE_SIZE <= cand)
				continue;
			if (cand + len + PAGE_SIZE <= v->start)
				break;
			cand = v->end + PAGE_SIZE;
		}
		if (!(cand < t->area + REMOTE_AREA_SIZE + PAGE_SIZE &&
		      t->area < cand + len + PAGE_SIZE))
			break;
		/* the area is in the way: after it (it lies in a gap of the layout) */
		cand = t->area + REMOTE_AREA_SIZE + PAGE_SIZE;
	}
	if (cand < t->area + REMOTE_AREA_SIZE + PAGE_SIZE && t->area < cand + len + PAGE_SIZE)
		return 0;
	return cand + len <= TASK_SIZE_MAX ? cand : 0;
}

static void map_vma(struct restore_task *t, size_t i, uint64_t apart_at, struct layout_batch *lb)
{
	Vma *v = t->mm->vmas[i];
	int fd = t->vma_fd[i];
	uint32_t flags = v->flags | MAP_FIXED;
	uint64_t len = v->end - v->start;
	if (v->kind == VMA_KIND__VMA_AIO_RING)
		return; /* made by io_setup once the rest is in (aio.c) */
	if (v->kind == VMA_KIND__VMA_SYSV_SHM) {
		/* the task attaches the segment itself, whole, at the first VMA of the attach
		 * (the later ones, split by mprotect, are that same attach: validated) */
		if (v->pgoff == 0)
			layout_add(lb, "attach System V shared memory", (long)v->start, __NR_shmat,
				   v->sysv_shm_id, v->start, v->sysv_shmat_flags, 0, 0, 0);
		return;
	}
	if (fd >= 0)
		flags &= ~MAP_ANONYMOUS;
	if (apart_at && mm_vma_needs_apart(t->mm, i)) {
		layout_add(lb, "map memory apart", (long)apart_at, __NR_mmap, apart_at, len,
			   vma_map_prot(v), flags, -1, 0);
		layout_add(lb, "give memory a page", 0, __NR_madvise, apart_at, PAGE_SIZE,
			   MADV_POPULATE_WRITE, 0, 0, 0);
		layout_add(lb, "move memory into place", (long)v->start, __NR_mremap, apart_at, len,
			   len, MREMAP_MAYMOVE | MREMAP_FIXED, v->start, 0);
		layout_add(lb, "drop a page", 0, __NR_madvise, v->start, PAGE_SIZE, MADV_DONTNEED,
			   0, 0, 0);
		return;
	}
	layout_add(lb, v->path ? "map a file" : "map memory", (long)v->start, __NR_mmap, v->start,
		   len, vma_map_prot(v), flags, fd, fd >= 0 ? v->pgoff : 0);
}

static int unregister_rseq(struct restore_task *t)
{
	struct cryo_rseq_config rseq;
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, t->pid, sizeof(rseq), &rseq) != sizeof(rseq) ||
	    !rseq.rseq_abi_pointer)
		return 0;
	/* cryo's own rseq area is about to vanish with the rest of its memory */
	long rv = rsys4(&t->rem, SYS_rseq, rseq.rseq_abi_pointer, rseq.rseq_abi_size,
			CRYO_RSEQ_FLAG_UNREGISTER, rseq.signature);
	if (rv < 0) {
		pr_errno((int)-rv, "task %d: cannot unregister the inherited rseq area", t->pid);
		return (int)rv;
	}
	return 0;
}

int restore_mm_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct vdso_set cur;
	int ret;

	ret = unregister_rseq(t);
	if (ret)
		return ret;
	ret = read_own_vdso(t->pid, &cur);
	if (ret)
		return ret;
	/* cryo's memory out, the vDSO in place, every mapping in: a few stops of the task */
	struct layout_batch *lb = calloc(1, sizeof(*lb));
	if (!lb)
		return -ENOMEM;
	ret = unmap_all_but(t, &cur, lb);
	if (!ret)
		ret = move_vdso(t, &cur, lb);
	/* where mappings are made to be moved into place apart from a neighbour */
	uint64_t apart_len = 0, apart_at = 0;
	for (size_t i = 0; i < t->mm->n_vmas; i++)
		if (mm_vma_needs_apart(t->mm, i) &&
		    t->mm->vmas[i]->end - t->mm->vmas[i]->start > apart_len)
			apart_len = t->mm->vmas[i]->end - t->mm->vmas[i]->start;
	if (apart_len && !(apart_at = free_stretch(t, apart_len)))
		pr_warn("task %d: no room to keep its neighbouring mappings apart: some may merge",
			t->pid);
	for (size_t i = 0; !ret && i < t->mm->n_vmas; i++) {
		if (kind_slot(t->mm->vmas[i]->kind) >= 0 || (t->vma_kept && t->vma_kept[i]))
			continue;
		if (lb->b.n >= BATCH_MAX - 3)
			ret = layout_run(t, lb);
		if (!ret)
			map_vma(t, i, apart_at, lb);
	}
	if (!ret)
		ret = layout_run(t, lb);
	free(lb);
	/* AIO rings into their places, now free (io_setup maps each in another gap first) */
	if (!ret)
		ret = aio_restore_rings(t);
	if (ret)
		return ret;
	pr_info("task %d: %zu mappings recreated", t->pid, t->mm->n_vmas);
	return 0;
}
