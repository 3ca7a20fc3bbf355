/* System V shared memory segments of the tree: which are saved (its attaches, read from its
 * mappings), their pages read into sysvshm-ID.img, the checks of a segment's image and of
 * every attach of the layouts, the segment made again or taken again and filled, cryo's own
 * attaches, and the last attacher (shm_lpid) made a task of the tree again. The rule of
 * which segments are saved, and what the three kinds share, are in sysvipc.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "img/image.h"
#include "res/mm.h"
#include "res/sysv_kinds.h"

#define SHM_MAX_BYTES (1ull << 40) /* no segment of a dump is near this */
#define SHM_DEST_BIT 01000
#define SHM_LOCKED_BIT 02000

/* The tree's mappings of segment id: how many VMAs, and one of them to read it through */
static int shm_attaches(struct dump_ctx *ctx, uint32_t id, uint64_t size, const Vma **first,
			pid_t *owner)
{
	int nr = 0;
	*first = NULL;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		uint64_t next = 0; /* the offset the next VMA of an attach continues at */
		for (size_t k = 0; !t->zombie && k < t->mm->n_vmas; k++) {
			const Vma *v = t->mm->vmas[k];
			if (v->kind != VMA_KIND__VMA_SYSV_SHM || v->sysv_shm_id != id)
				continue;
			const Vma *prev = k ? t->mm->vmas[k - 1] : NULL;
			bool cont = prev && prev->kind == VMA_KIND__VMA_SYSV_SHM &&
				    prev->sysv_shm_id == id && prev->end == v->start &&
				    v->pgoff == next && next;
			if (!cont && v->pgoff != 0) {
				pr_err("task %d: System V shared memory %u is attached in part at "
				       "%#lx (offset %#lx): cryo cannot restore a partial attach",
				       t->pid, id, v->start, v->pgoff);
				return -ENOTSUP;
			}
			next = v->pgoff + (v->end - v->start);
			const Vma *nv = k + 1 < t->mm->n_vmas ? t->mm->vmas[k + 1] : NULL;
			bool more = nv && nv->kind == VMA_KIND__VMA_SYSV_SHM &&
				    nv->sysv_shm_id == id && nv->start == v->end &&
				    nv->pgoff == next;
			if (!more && next != PAGE_ALIGN(size)) {
				pr_err(
				    "task %d: System V shared memory %u is attached in part (up "
				    "to %#lx, %#lx of %#lx bytes): cryo cannot restore a partial "
				    "attach",
				    t->pid, id, v->end, next, PAGE_ALIGN(size));
				return -ENOTSUP;
			}
			if (!more)
				next = 0;
			if (!*first)
				*first = v, *owner = t->pid;
			nr++;
		}
	}
	return nr;
}

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* The pages of a segment, read through a mapping's map_files (nothing of the segment
 * changes: no attach), holes and zero pages left out */
static int shm_read_pages(struct dump_ctx *ctx, SysvShm *s, pid_t pid, const Vma *v)
{
	char path[96], name[64];
	uint64_t end = PAGE_ALIGN(s->size);
	uint8_t *buf = NULL;
	int src, out, ret = 0;
	PageRun *run = NULL;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid, v->start, v->end);
	src = open(path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		ret = -errno;
		pr_errno(-ret,
			 "task %d: cannot open System V shared memory %u through %s (needs "
			 "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN)",
			 pid, s->perm->id, path);
		return ret;
	}
	out = img_raw_create(ctx->dirfd, IMG_SYSVSHM, (int)s->perm->id);
	if (out < 0) {
		close(src);
		return out;
	}
	img_name(IMG_SYSVSHM, (int)s->perm->id, name, sizeof(name));
	buf = malloc(PAGE_SIZE);
	if (!buf)
		ret = -ENOMEM;
	for (off_t off = 0; !ret && (uint64_t)off < end;) {
		off_t data = lseek(src, off, SEEK_DATA), hole;
		if (data < 0 && errno == ENXIO)
			break;
		hole = data < 0 ? -1 : lseek(src, data, SEEK_HOLE);
		if (data < 0 || hole < 0) {
			ret = -errno;
			pr_errno(-ret, "System V shared memory %u: cannot find its data",
				 s->perm->id);
			break;
		}
		if ((uint64_t)hole > end)
			hole = (off_t)end;
		for (off_t p = data & ~(off_t)(PAGE_SIZE - 1); !ret && p < hole; p += PAGE_SIZE) {
			ssize_t n = pread(src, buf, PAGE_SIZE, p);
			if (n < 0) {
				ret = -errno;
				pr_errno(-ret, "System V shared memory %u: cannot read offset %#lx",
					 s->perm->id, (unsigned long)p);
				break;
			}
			if (n < (ssize_t)PAGE_SIZE) /* the end of the segment's object */
				memset(buf + n, 0, PAGE_SIZE - n);
			if (page_is_zero(buf)) {
				run = NULL;
				continue;
			}
			if ((ret = write_all(out, buf, PAGE_SIZE))) {
				pr_errno(-ret, "cannot write %s", name);
				break;
			}
			if (run && run->vaddr + run->nr_pages * PAGE_SIZE == (uint64_t)p) {
				run->nr_pages++;
			} else {
				run = A_NEW(&ctx->arena, PageRun, PAGE_RUN);
				if (!run || !DUMP_PUSH(ctx, s->runs, s->n_runs, run)) {
					ret = -ENOMEM;
					break;
				}
				run->vaddr = (uint64_t)p;
				run->nr_pages = 1;
			}
			s->nr_pages++;
		}
		off = hole;
		run = NULL;
	}
	free(buf);
	close(src);
	if (ret) {
		close(out);
		return ret;
	}
	return img_close_synced(out, name);
}

int sysv_dump_shms(struct dump_ctx *ctx)
{
	struct shm_info info;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info), refused = 0;

	if (max < 0) {
		pr_errno(errno, "cannot list System V shared memory segments (SHM_INFO)");
		return -errno;
	}
	for (int idx = 0; idx <= max; idx++) {
		struct shmid_ds ds;
		int id = shmctl(idx, SHM_STAT_ANY, &ds), ret;
		const Vma *v;
		pid_t owner = 0;
		if (id < 0)
			continue; /* a free index */
		int nr = shm_attaches(ctx, (uint32_t)id, ds.shm_segsz, &v, &owner);
		if (nr < 0) {
			refused = nr;
			continue;
		}
		if (!nr) {
			if (sysv_tree_pid(ctx, ds.shm_cpid) || sysv_tree_pid(ctx, ds.shm_lpid))
				pr_warn(
				    "System V shared memory %d (key %#x, %zu bytes), created or "
				    "last attached by task %d of the tree, is not attached by it: "
				    "left as it is, not saved",
				    id, ds.shm_perm.__key, ds.shm_segsz,
				    sysv_tree_pid(ctx, ds.shm_cpid) ? ds.shm_cpid : ds.shm_lpid);
			else
				pr_info(
				    "System V shared memory %d (key %#x) is not the tree's: left "
				    "as it is",
				    id, ds.shm_perm.__key);
			continue;
		}
		if (ds.shm_nattch != (shmatt_t)nr) {
			pr_err("System V shared memory %d (key %#x) is attached %lu times, %d of "
			       "them by the tree: shared with processes outside it, not supported",
			       id, ds.shm_perm.__key, (unsigned long)ds.shm_nattch, nr);
			refused = -ENOTSUP;
			continue;
		}
		SysvShm *s = A_NEW(&ctx->arena, SysvShm, SYSV_SHM);
		if (!s || !(s->perm = sysv_new_perm(ctx, id, &ds.shm_perm)))
			return -ENOMEM;
		s->size = ds.shm_segsz;
		s->has_lpid = true;
		s->lpid = ds.shm_lpid > 0 ? (uint32_t)ds.shm_lpid : 0;
		s->has_removed = s->has_locked = true;
		s->removed = !!(ds.shm_perm.mode & SHM_DEST_BIT);
		s->locked = !!(ds.shm_perm.mode & SHM_LOCKED_BIT);
		if ((ret = shm_read_pages(ctx, s, owner, v)))
			return ret;
		if (!DUMP_PUSH(ctx, ctx->ipc->shms, ctx->ipc->n_shms, s))
			return -ENOMEM;
		pr_info("System V shared memory %d (key %#x, %zu bytes%s): %lu pages saved", id,
			ds.shm_perm.__key, ds.shm_segsz, s->removed ? ", removed" : "",
			s->nr_pages);
	}
	return refused;
}

static const SysvShm *find_shm(const Ipc *ipc, uint32_t id)
{
	for (size_t i = 0; ipc && i < ipc->n_shms; i++)
		if (ipc->shms[i]->perm->id == id)
			return ipc->shms[i];
	return NULL;
}

int sysv_check_shm(struct restore_ctx *ctx, size_t i, const SysvShm *s)
{
	char name[64];
	uint64_t pages = PAGE_ALIGN(s->size) / PAGE_SIZE, prev_end = 0, total = 0, data;
	int ret, fd;

	if ((ret = sysv_check_perm("segment", i, s->perm)))
		return ret;
	if (!s->size || s->size > SHM_MAX_BYTES || (s->removed && s->perm->key != IPC_PRIVATE)) {
		pr_err("ipc.img: segment %u: size %lu or key %#x is invalid", s->perm->id, s->size,
		       s->perm->key);
		return -EINVAL;
	}
	for (size_t k = 0; k < i; k++)
		if (ctx->ipc->shms[k]->perm->id == s->perm->id ||
		    (s->perm->key != IPC_PRIVATE && ctx->ipc->shms[k]->perm->key == s->perm->key)) {
			pr_err("ipc.img: segment %u: a second segment with its id or key",
			       s->perm->id);
			return -EINVAL;
		}
	for (size_t k = 0; k < s->n_runs; k++) {
		const PageRun *r = s->runs[k];
		if (r->vaddr % PAGE_SIZE || r->vaddr / PAGE_SIZE < prev_end || !r->nr_pages ||
		    r->nr_pages > pages || r->vaddr / PAGE_SIZE > pages - r->nr_pages) {
			pr_err(
			    "ipc.img: segment %u: page run %zu (%#lx, %lu pages) is outside it or "
			    "out of order",
			    s->perm->id, k, r->vaddr, r->nr_pages);
			return -EINVAL;
		}
		prev_end = r->vaddr / PAGE_SIZE + r->nr_pages;
		total += r->nr_pages;
	}
	img_name(IMG_SYSVSHM, (int)s->perm->id, name, sizeof(name));
	fd = img_raw_open(ctx->dirfd, IMG_SYSVSHM, (int)s->perm->id, &data);
	if (fd < 0)
		return fd;
	close(fd);
	if (total != s->nr_pages || data != total * PAGE_SIZE) {
		pr_err("%s holds %lu bytes, ipc.img describes %lu pages (runs: %lu)", name, data,
		       s->nr_pages, total);
		return -EINVAL;
	}
	return 0;
}

/* Every attach of the layouts: a saved segment, covered whole by one run of VMAs */
int sysv_check_attaches(struct restore_ctx *ctx, struct restore_task *t)
{
	Mm *mm = t->mm;
	for (size_t k = 0; k < mm->n_vmas; k++) {
		const Vma *v = mm->vmas[k], *p = k ? mm->vmas[k - 1] : NULL;
		if (v->kind != VMA_KIND__VMA_SYSV_SHM)
			continue;
		const SysvShm *s = find_shm(ctx->ipc, v->sysv_shm_id);
		bool cont = p && p->kind == VMA_KIND__VMA_SYSV_SHM &&
			    p->sysv_shm_id == v->sysv_shm_id && p->end == v->start &&
			    p->pgoff + (p->end - p->start) == v->pgoff &&
			    p->sysv_shmat_flags == v->sysv_shmat_flags;
		if (!s || (v->pgoff && !cont) || v->pgoff > PAGE_ALIGN(s->size) ||
		    v->end - v->start > PAGE_ALIGN(s->size) - v->pgoff) {
			pr_err("mm-%d.img: System V mapping %#lx-%#lx (segment %u, offset %#lx) "
			       "is not an attach of a segment of ipc.img",
			       t->pid, v->start, v->end, v->sysv_shm_id, v->pgoff);
			return -EINVAL;
		}
		const Vma *n = k + 1 < mm->n_vmas ? mm->vmas[k + 1] : NULL;
		bool more = n && n->kind == VMA_KIND__VMA_SYSV_SHM &&
			    n->sysv_shm_id == v->sysv_shm_id && n->start == v->end && n->pgoff;
		if (!more && v->pgoff + (v->end - v->start) != PAGE_ALIGN(s->size)) {
			pr_err("mm-%d.img: System V mapping %#lx-%#lx does not cover segment %u to "
			       "its end",
			       t->pid, v->start, v->end, v->sysv_shm_id);
			return -EINVAL;
		}
	}
	return 0;
}

int sysv_restore_shm(struct restore_ctx *ctx, const SysvShm *s, bool *made, void **keep)
{
	struct ipc_perm have;
	struct shmid_ds ds;
	char name[64];
	uint64_t size;
	int ret = sysv_find_existing(K_SHM, s->perm, &have);

	if (ret == -ENOENT) {
		if ((ret = sysv_create_with_id(K_SHM, s->perm, s->size, 0)))
			return ret;
		*made = true;
	} else if (ret) {
		return ret;
	} else {
		/* the same segment still there (not removed: the original tree was killed, or
		 * left running and killed since): taken again if no one has it attached */
		if (shmctl((int)s->perm->id, IPC_STAT, &ds) < 0)
			return -errno;
		if (ds.shm_segsz != s->size || s->removed || (ds.shm_perm.mode & SHM_DEST_BIT) ||
		    ds.shm_nattch) {
			pr_err("shared memory segment %u (key %#x) exists with %zu bytes, "
			       "attached %lu times%s: not the dumped one (%lu bytes) free to be "
			       "taken again; is the dumped tree still running?",
			       s->perm->id, s->perm->key, ds.shm_segsz,
			       (unsigned long)ds.shm_nattch,
			       ds.shm_perm.mode & SHM_DEST_BIT ? ", removed" : "", s->size);
			return -EEXIST;
		}
		pr_info("shared memory segment %u (key %#x) still exists: taken again, its "
			"content set back to the dumped one",
			s->perm->id, s->perm->key);
	}
	/* the content: cryo attaches the segment for a moment and reads the pages in */
	int fd = img_raw_open(ctx->dirfd, IMG_SYSVSHM, (int)s->perm->id, &size);
	if (fd < 0)
		return fd;
	img_name(IMG_SYSVSHM, (int)s->perm->id, name, sizeof(name));
	uint8_t *mem = shmat((int)s->perm->id, NULL, 0);
	if (mem == (void *)-1) {
		ret = -errno;
		pr_errno(-ret, "shared memory segment %u: cannot attach it to fill it",
			 s->perm->id);
		close(fd);
		return ret;
	}
	if (!*made) /* a segment taken again: what is not in the image is zero */
		memset(mem, 0, s->size);
	uint64_t off = IMG_RAW_HDR;
	for (size_t k = 0; k < s->n_runs && !ret; k++) {
		size_t len = s->runs[k]->nr_pages * PAGE_SIZE;
		ssize_t n = pread(fd, mem + s->runs[k]->vaddr, len, (off_t)off);
		if (n != (ssize_t)len) {
			ret = n < 0 ? -errno : -EIO;
			pr_errno(-ret, "cannot read %s", name);
		}
		off += len;
	}
	close(fd);
	/* cryo stays attached until every task is: with kernel.shm_rmid_forced a segment that
	 * nobody has attached goes at once */
	*keep = mem;
	if (ret)
		return ret;
	/* (a segment taken again may have been locked or unlocked since) */
	if (shmctl((int)s->perm->id, s->locked ? SHM_LOCK : SHM_UNLOCK, NULL) < 0) {
		ret = -errno;
		pr_errno(-ret, "shared memory segment %u: cannot %s it", s->perm->id,
			 s->locked ? "lock (SHM_LOCK)" : "unlock (SHM_UNLOCK)");
		return ret;
	}
	return sysv_set_owner(K_SHM, s->perm, 0);
}

void sysv_detach_all(struct restore_ctx *ctx)
{
	for (size_t i = 0; ctx->sysv_mem && i < ctx->ipc->n_shms; i++)
		if (ctx->sysv_mem[i]) {
			shmdt(ctx->sysv_mem[i]);
			ctx->sysv_mem[i] = NULL;
		}
}

/* The segment's last attach or detach is its task's (shm_lpid): an attach of it somewhere
 * free, and its detach, made by that task */
int sysv_shm_lpid_remote(struct restore_ctx *ctx, const SysvShm *s)
{
	struct restore_task *t = sysv_live_task(ctx, s->has_lpid, s->lpid);
	long addr;

	if (!t)
		return 0;
	addr = remote_syscall(&t->rem, __NR_shmat, s->perm->id, 0, SHM_RDONLY, 0, 0, 0);
	if (addr < 0 && addr > -4096) {
		pr_errno((int)-addr, "task %d: cannot attach System V shared memory %u", t->pid,
			 s->perm->id);
		return (int)addr;
	}
	return sysv_task_call(t, "detach System V shared memory", s->perm->id, __NR_shmdt, addr, 0,
			      0, 0, 0);
}
