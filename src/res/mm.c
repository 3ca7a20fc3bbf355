/* The address space layout: every VMA with its protection, flags and advice, the vDSO areas,
 * and the mm fields (code/data/brk/stack/args/env boundaries, auxv, executable). The content
 * of pages is in pages.c. On restore the task's whole address space is replaced from outside:
 * everything but the remote-call area is unmapped, the vDSO is moved to its dumped address and
 * each VMA is mapped again with MAP_FIXED (mm_layout.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "res/aio.h"
#include "res/mapped.h"
#include "res/mm.h"

#define MAX_AUXV_WORDS 128

int mm_find_vma(const Mm *mm, uint64_t addr, uint64_t len)
{
	size_t lo = 0, hi = mm->n_vmas;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const Vma *v = mm->vmas[mid];
		if (addr >= v->end)
			lo = mid + 1;
		else if (addr < v->start)
			hi = mid;
		else
			return addr + len <= v->end && addr + len >= addr ? (int)mid : -1;
	}
	return -1;
}

/* ---- dump ---- */

static int classify(struct dump_task *t, struct smaps_vma *s, Vma *v)
{
	bool shared = s->perms[3] == 's';
	const char *p = s->path;
	size_t plen = strlen(p);
	bool deleted = plen > 10 && !strcmp(p + plen - 10, " (deleted)");

	/* the kernel's own areas map its data pages (io, pfnmap): not device memory */
	if (!strcmp(p, "[vdso]") || !strcmp(p, "[vvar]") || !strcmp(p, "[vvar_vclock]")) {
		v->kind = !strcmp(p, "[vdso]")	 ? VMA_KIND__VMA_VDSO
			  : !strcmp(p, "[vvar]") ? VMA_KIND__VMA_VVAR
						 : VMA_KIND__VMA_VVAR_VCLOCK;
		return 0;
	}
	/* the ring of an AIO context (io_setup): saved with its context (aio.c) */
	if (!strcmp(p, "/[aio] (deleted)") || !strcmp(p, "[aio]")) {
		v->kind = VMA_KIND__VMA_AIO_RING;
		return 0;
	}
	if (p[0] == '[' && strcmp(p, "[heap]") && strcmp(p, "[stack]") && strncmp(p, "[anon:", 6) &&
	    strncmp(p, "[anon_shmem:", 12)) {
		pr_err("task %d: special mapping %s at %#lx is not supported", t->pid, p, s->start);
		return -ENOTSUP;
	} else if (s->ino == 0 && !shared)
		v->kind = VMA_KIND__VMA_ANON_PRIVATE;
	else if (mapping_is_anon_shared(s->perms, p))
		v->kind = VMA_KIND__VMA_ANON_SHARED;
	else if (!strncmp(p, "/SYSV", 5) && s->dev_major == 0 && shared) {
		/* the inode number is the segment's id (sysvipc.c saves the segment) */
		v->kind = VMA_KIND__VMA_SYSV_SHM;
		v->has_sysv_shm_id = v->has_sysv_shmat_flags = true;
		v->sysv_shm_id = (uint32_t)s->ino;
		/* (its attach flags come from VmFlags: mm_apply_vmflags) */
	} else if (!strncmp(p, "/SYSV", 5)) {
		pr_err("task %d: mapping %#lx-%#lx (%s) is not a System V segment cryo knows",
		       t->pid, s->start, s->end, p);
		return -ENOTSUP;
	} else if (!strncmp(p, "/memfd:", 7) && deleted) {
		v->kind = VMA_KIND__VMA_MEMFD; /* checked to be one by memfd_dump_vma */
	} else if (p[0] != '/') {
		pr_err("task %d: mapping %#lx-%#lx of '%s' is not supported", t->pid, s->start,
		       s->end, p);
		return -ENOTSUP;
	} else
		v->kind = shared ? VMA_KIND__VMA_FILE_SHARED : VMA_KIND__VMA_FILE_PRIVATE;
	return 0;
}

/* A mapping of a file deleted since (a program or library upgraded while it runs, a file
 * mapped then unlinked): its ghost (files/ghost.c), read through the mapped file itself
 * (map_files), one for the whole tree with the fds that hold the same file. The restore maps
 * the ghost: clean private pages come from it, written ones from the page image, and a
 * shared mapping writes into the same ghost as the fds. 1: not deleted after all (a file
 * really named "x (deleted)", which is at its path). */
static int map_ghost(struct dump_ctx *ctx, struct dump_task *t, const struct smaps_vma *s, Vma *v)
{
	char link[96], orig[4096];
	struct stat st;
	uint32_t id;
	int ret;

	snprintf(link, sizeof(link), "/proc/%d/map_files/%lx-%lx", t->pid, s->start, s->end);
	if (stat(link, &st) < 0) {
		int err = errno;
		bool closed = err == EPERM || err == EACCES;
		uint64_t size;
		/* without map_files, the device and inode of the maps: a file an fd of the tree
		 * holds, or the executable, has its ghost already */
		st = (struct stat){.st_dev = makedev(s->dev_major, s->dev_minor), .st_ino = s->ino};
		if (closed && ghost_known(ctx, st.st_dev, st.st_ino, &id, &size) &&
		    ghost_link_deleted(s->path, &st, orig, sizeof(orig))) {
			v->path = arena_strdup(&ctx->arena, orig);
			if (!v->path)
				return -ENOMEM;
			v->has_ghost_id = v->has_dev = v->has_ino = v->has_file_size = true;
			v->ghost_id = id;
			v->dev = st.st_dev, v->ino = st.st_ino, v->file_size = size;
			return 0;
		}
		pr_errno(err,
			 "task %d: mapping %#lx-%#lx of deleted file %s: cannot reach the file "
			 "through %s%s",
			 t->pid, s->start, s->end, s->path, link,
			 closed ? " (it needs CAP_CHECKPOINT_RESTORE), and no descriptor of the "
				  "tree holds it: not supported"
				: "");
		return closed ? -ENOTSUP : -err;
	}
	if (!ghost_link_deleted(s->path, &st, orig, sizeof(orig)))
		return 1;
	if (!S_ISREG(st.st_mode) || st.st_nlink > 0) {
		pr_err("task %d: mapping %#lx-%#lx of %s: %s: not supported yet", t->pid, s->start,
		       s->end, s->path,
		       S_ISREG(st.st_mode) ? "its name was removed but it has others (hard links)"
					   : "a deleted file that is not a regular file");
		return -ENOTSUP;
	}
	if ((ret = ghost_note(ctx, t, &st, orig, link, &id)))
		return ret;
	v->path = arena_strdup(&ctx->arena, orig);
	if (!v->path)
		return -ENOMEM;
	v->has_ghost_id = true;
	v->ghost_id = id;
	v->has_dev = v->has_ino = v->has_file_size = true;
	v->dev = st.st_dev, v->ino = st.st_ino, v->file_size = st.st_size;
	return 0;
}

static int fill_vma(struct dump_ctx *ctx, struct dump_task *t, struct smaps_vma *s, Vma **out)
{
	Vma *v = A_NEW(&ctx->arena, Vma, VMA);
	int ret;

	if (!v)
		return -ENOMEM;
	v->start = s->start;
	v->end = s->end;
	ret = classify(t, s, v);
	if (ret)
		return ret;
	v->prot = (s->perms[0] == 'r' ? PROT_READ : 0) | (s->perms[1] == 'w' ? PROT_WRITE : 0) |
		  (s->perms[2] == 'x' ? PROT_EXEC : 0);
	v->flags = s->perms[3] == 's' ? MAP_SHARED : MAP_PRIVATE;
	if (v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_ANON_SHARED)
		v->flags |= MAP_ANONYMOUS;
	/* what VmFlags says: now, or from smaps read beside the pages (mm_flags.c) */
	if (s->vmflags_read && (ret = mm_apply_vmflags(t, s, v)))
		return ret;
	v->pgoff = s->pgoff;
	if (s->path[0])
		v->name = arena_strdup(&ctx->arena, s->path);
	if (v->kind == VMA_KIND__VMA_MEMFD) {
		/* one object for all its fds and mappings (files/memfd.c) */
		ret = memfd_dump_vma(ctx, t, s->dev_major, s->dev_minor, s->ino, v);
		if (ret < 0)
			return ret;
		if (ret == 1) /* a deleted file of a tmpfs that only looks like a memfd */
			v->kind = (v->flags & MAP_SHARED) ? VMA_KIND__VMA_FILE_SHARED
							  : VMA_KIND__VMA_FILE_PRIVATE;
	}
	size_t plen = strlen(s->path);
	if ((v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED) &&
	    plen > 10 && !strcmp(s->path + plen - 10, " (deleted)") &&
	    (ret = map_ghost(ctx, t, s, v)) <= 0) {
		if (ret)
			return ret;
	} else if (v->kind == VMA_KIND__VMA_MEMFD) {
	} else if (v->kind == VMA_KIND__VMA_AIO_RING) {
		/* (a pre-dump needs the layout only: the final dump checks the context) */
		if (!ctx->opts->pre_dump && (ret = aio_dump_ring(&ctx->arena, t, v)))
			return ret;
	} else if (v->kind != VMA_KIND__VMA_ANON_PRIVATE && v->kind != VMA_KIND__VMA_VDSO &&
		   v->kind != VMA_KIND__VMA_VVAR && v->kind != VMA_KIND__VMA_VVAR_VCLOCK &&
		   v->kind != VMA_KIND__VMA_SYSV_SHM) {
		const struct mapped_file *f;
		struct mapping_id m = {.start = s->start,
				       .end = s->end,
				       .dev_major = s->dev_major,
				       .dev_minor = s->dev_minor,
				       .ino = s->ino,
				       .path = s->path,
				       .anon_shared = v->kind == VMA_KIND__VMA_ANON_SHARED};
		ret = mapped_file_identify(ctx, t, &m, &f);
		if (ret)
			return ret;
		if (v->kind != VMA_KIND__VMA_ANON_SHARED)
			v->path = arena_strdup(&ctx->arena, s->path);
		v->has_dev = v->has_ino = true;
		v->dev = f->st_dev, v->ino = f->st_ino;
		v->has_file_size = f->has_size;
		v->file_size = f->st_size;
	}
	*out = v;
	return 0;
}

static int add_vma(struct dump_ctx *ctx, struct dump_task *t, struct smaps_vma *s)
{
	Vma *v = NULL;
	int ret;

	if (!strcmp(s->path, "[vsyscall]"))
		return 0; /* fixed by the kernel, the same in every task */
	if (t->rem.area && s->start >= t->rem.area && s->end <= t->rem.area + t->rem.area_size)
		return 0;
	ret = fill_vma(ctx, t, s, &v);
	if (!ret && !DUMP_PUSH(ctx, t->mm->vmas, t->mm->n_vmas, v))
		ret = -ENOMEM;
	return ret;
}

/* The layout. A pre-dump reads /proc/PID/maps instead of smaps: smaps counts the resident
 * pages of every mapping, a walk of every page table entry (some 40 ms of the freeze for a
 * GiB), and a pre-dump needs only the ranges, protections and kinds to find and read the
 * pages and to track them. Its mm image then has no VmFlags-derived fields (advice, locks,
 * growsdown): nothing reads a parent's mm image, and the final dump reads smaps, refusing
 * what it must. */
static int parse_smaps(struct dump_ctx *ctx, struct dump_task *t)
{
	char path[64], *buf, *line, *save;
	struct smaps_vma cur;
	/* a final dump of a chain reads smaps beside the pages instead (mm_flags.c) */
	bool have = false, maps_only = ctx->opts->pre_dump || ctx->parent_dirfd >= 0;
	ssize_t n;
	int ret = 0;

	snprintf(path, sizeof(path), maps_only ? "/proc/%d/maps" : "/proc/%d/smaps", t->pid);
	n = read_file_alloc(path, &buf);
	if (n < 0) {
		pr_errno((int)-n, "cannot read %s", path);
		return (int)n;
	}
	for (line = strtok_r(buf, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save)) {
		struct smaps_vma s;
		int pos = 0;
		if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &s.start, &s.end, s.perms,
			   &s.pgoff, &s.dev_major, &s.dev_minor, &s.ino, &pos) >= 7) {
			snprintf(s.path, sizeof(s.path), "%s", line + pos);
			s.vmflags[0] = 0;
			s.vmflags_read = false;
			s.pkey = 0;
			cur = s;
			have = !maps_only;
			if (maps_only)
				ret = add_vma(ctx, t, &cur);
		} else if (have && !strncmp(line, "ProtectionKey:", 14)) {
			cur.pkey = atoi(line + 14);
		} else if (have && !strncmp(line, "VmFlags:", 8)) {
			snprintf(cur.vmflags, sizeof(cur.vmflags), "%s", line + 8);
			cur.vmflags_read = true;
			have = false;
			ret = add_vma(ctx, t, &cur);
		}
	}
	free(buf);
	return ret;
}

int dump_mm(struct dump_ctx *ctx, struct dump_task *t)
{
	Mm *mm = A_NEW(&ctx->arena, Mm, MM);
	const struct proc_stat *st = &t->stat;
	char path[64], exe[4096];
	uint64_t auxv[MAX_AUXV_WORDS];
	ssize_t n;
	int fd, ret;

	if (!mm)
		return -ENOMEM;
	t->mm = mm;
	mm->start_code = st->start_code, mm->end_code = st->end_code;
	mm->start_data = st->start_data, mm->end_data = st->end_data;
	mm->start_brk = st->start_brk, mm->brk = t->ans.brk;
	mm->start_stack = st->start_stack;
	mm->arg_start = st->arg_start, mm->arg_end = st->arg_end;
	mm->env_start = st->env_start, mm->env_end = st->env_end;

	snprintf(path, sizeof(path), "/proc/%d/auxv", t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read_all(fd, auxv, sizeof(auxv))) < 0) {
		int err = errno;
		pr_errno(err, "cannot read %s", path);
		if (fd >= 0)
			close(fd);
		return -err;
	}
	close(fd);
	mm->n_auxv = n / sizeof(uint64_t);
	mm->auxv = arena_memdup(&ctx->arena, auxv, n);

	snprintf(path, sizeof(path), "/proc/%d/exe", t->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0) {
		int err = errno;
		pr_errno(err, "task %d: cannot read its executable's path", t->pid);
		return -err;
	}
	exe[n] = 0;
	/* a deleted executable (upgraded while it runs) is the ghost its mappings map too */
	char orig[4096];
	struct stat est;
	if (stat(path, &est) == 0 && ghost_link_deleted(exe, &est, orig, sizeof(orig))) {
		if (!strncmp(exe, "/memfd:", 7)) {
			pr_err("task %d: its executable is the memfd %s (fexecve): not supported "
			       "yet",
			       t->pid, exe);
			return -ENOTSUP;
		}
		if (!S_ISREG(est.st_mode) || est.st_nlink > 0) {
			pr_err("task %d: its executable %s was deleted but has other names (hard "
			       "links): not supported yet",
			       t->pid, exe);
			return -ENOTSUP;
		}
		if ((ret = ghost_note(ctx, t, &est, orig, path, &t->core->exe_ghost_id)))
			return ret;
		t->core->has_exe_ghost_id = true;
		snprintf(exe, sizeof(exe), "%s", orig);
	}
	mm->exe_path = arena_strdup(&ctx->arena, exe);

	ret = parse_smaps(ctx, t);
	if (ret)
		return ret;
	pr_info("task %d: %zu mappings, brk %#lx, exe %s", t->pid, mm->n_vmas, mm->brk, exe);
	return 0;
}

/* ---- restore: planning, before the task exists ---- */

static int check_vmas(struct restore_task *t)
{
	Mm *mm = t->mm;
	uint64_t prev_end = 0;

	for (size_t i = 0; i < mm->n_vmas; i++) {
		Vma *v = mm->vmas[i];
		if (v->start >= v->end || v->start % PAGE_SIZE || v->end % PAGE_SIZE ||
		    v->start < prev_end || v->end > TASK_SIZE_MAX || v->pgoff % PAGE_SIZE ||
		    (v->has_file_size && v->file_size > (uint64_t)INT64_MAX - PAGE_SIZE)) {
			pr_err("mm-%d.img: mapping %zu (%#lx-%#lx) is invalid or out of order",
			       t->pid, i, v->start, v->end);
			return -EINVAL;
		}
		const char *why;
		if (shmem_hidden_check(v, &why)) {
			pr_err("mm-%d.img: mapping %#lx-%#lx: %s", t->pid, v->start, v->end, why);
			return -EINVAL;
		}
		if (v->kind < VMA_KIND__VMA_ANON_PRIVATE ||
		    (v->kind > VMA_KIND__VMA_MEMFD && v->kind != VMA_KIND__VMA_SYSV_SHM &&
		     v->kind != VMA_KIND__VMA_AIO_RING) ||
		    v->prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC) ||
		    v->flags & ~(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN |
				 MAP_NORESERVE)) {
			pr_err("mm-%d.img: mapping %#lx-%#lx has invalid kind/protection/flags",
			       t->pid, v->start, v->end);
			return -EINVAL;
		}
		if ((v->kind == VMA_KIND__VMA_FILE_PRIVATE ||
		     v->kind == VMA_KIND__VMA_FILE_SHARED) &&
		    (!v->path || v->path[0] != '/')) {
			pr_err("mm-%d.img: file mapping %#lx-%#lx has no file path", t->pid,
			       v->start, v->end);
			return -EINVAL;
		}
		prev_end = v->end;
	}
	if (mm->n_auxv > MAX_AUXV_WORDS || mm->n_auxv % 2) {
		pr_err("mm-%d.img: auxv has %zu words", t->pid, mm->n_auxv);
		return -EINVAL;
	}
	if (!mm->exe_path || mm->exe_path[0] != '/') {
		pr_err("mm-%d.img: no executable path", t->pid);
		return -EINVAL;
	}
	return 0;
}

/* This task's own service fd for f; numbers are unique across the tree */
static int add_svc(struct restore_ctx *ctx, struct restore_task *t, struct svc_file f)
{
	for (int i = 0; i < t->nr_svc; i++) {
		struct svc_file *o = &t->svc[i];
		if (o->kind == f.kind && f.kind == SVC_FILE && !strcmp(o->path, f.path) &&
		    o->flags == f.flags)
			return o->fd;
	}
	struct svc_file *n = realloc(t->svc, (t->nr_svc + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	t->svc = n;
	f.fd = restore_alloc_fd(ctx);
	n[t->nr_svc++] = f;
	return f.fd;
}

int mm_range_cmp(const void *a, const void *b)
{
	const struct mm_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* An address for the remote-call area that is free in cryo (hence in the new task, a copy of
 * it) and in the dumped layout, so it survives the whole replacement. */
static int pick_area(struct restore_task *t)
{
	Mm *mm = t->mm;
	struct mm_range *r;
	size_t n = 0, cap = mm->n_vmas + 512;
	char *buf, *line, *save;
	uint64_t cand = 0x100000;
	ssize_t len = read_file_alloc("/proc/self/maps", &buf);

	if (len < 0)
		return (int)len;
	r = malloc(cap * sizeof(*r));
	if (!r) {
		free(buf);
		return -ENOMEM;
	}
	for (size_t i = 0; i < mm->n_vmas; i++)
		r[n++] = (struct mm_range){mm->vmas[i]->start, mm->vmas[i]->end};
	for (line = strtok_r(buf, "\n", &save); line && n < cap;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx", &s, &e) == 2)
			r[n++] = (struct mm_range){s, e};
	}
	free(buf);
	sort_n(r, n, sizeof(*r), mm_range_cmp);
	/* one guard page on each side keeps it from merging with neighbours */
	for (size_t i = 0; i < n; i++) {
		if (cand + REMOTE_AREA_SIZE + PAGE_SIZE <= r[i].start)
			break;
		if (r[i].end + PAGE_SIZE > cand)
			cand = r[i].end + PAGE_SIZE;
	}
	free(r);
	if (cand + REMOTE_AREA_SIZE > TASK_SIZE_MAX)
		return -ENOMEM;
	t->area = cand;
	return 0;
}

int mm_plan(struct restore_ctx *ctx, struct restore_task *t)
{
	Mm *mm = t->mm;
	int ret;

	ret = check_vmas(t);
	if (ret)
		return ret;
	t->vma_fd = calloc(mm->n_vmas ? mm->n_vmas : 1, sizeof(int));
	if (!t->vma_fd)
		return -ENOMEM;
	/* [0] the page image, [1] the executable */
	/* a deleted one through the service fd of its ghost (files/ghost.c) */
	const char *exe =
	    t->core->has_exe_ghost_id ? ghost_self_path(ctx, t->core->exe_ghost_id) : mm->exe_path;
	if (!exe)
		return -EINVAL; /* (ghost_plan checked it) */
	if (add_svc(ctx, t, (struct svc_file){.kind = SVC_PAGES}) < 0 ||
	    add_svc(ctx, t, (struct svc_file){.kind = SVC_FILE, .path = exe, .flags = O_RDONLY}) <
		0)
		return -ENOMEM;
	for (size_t i = 0; i < mm->n_vmas; i++) {
		Vma *v = mm->vmas[i];
		t->vma_fd[i] = -1;
		if (v->kind == VMA_KIND__VMA_ANON_SHARED) {
			/* one shmem object per dumped one, made by the root and inherited by every
			 * task: all mappings of it, in any task, map it again. Its size is the
			 * dumped object's (a part no longer mapped is still there, as holes: a
			 * later mremap growing the mapping shows it), where the dump could see it
			 */
			uint64_t size = v->pgoff + v->end - v->start;
			if (v->has_file_size && PAGE_ALIGN(v->file_size) > size)
				size = PAGE_ALIGN(v->file_size);
			struct svc_file *g = restore_add_global(
			    ctx, (struct svc_file){.kind = SVC_SHMEM,
						   .shmem_id = v->has_ino ? v->ino : ~i,
						   .shmem_size = size});
			if (!g)
				return -ENOMEM;
			if (v->n_shmem_hidden)
				g->shmem_hidden = v;
			t->vma_fd[i] = g->fd;
			continue;
		}
		if (v->kind == VMA_KIND__VMA_MEMFD) {
			/* the object the root made (files/memfd.c) */
			if ((t->vma_fd[i] = memfd_vma_fd(ctx, v)) < 0)
				return -EINVAL;
			continue;
		}
		if (v->kind != VMA_KIND__VMA_FILE_PRIVATE && v->kind != VMA_KIND__VMA_FILE_SHARED)
			continue;
		struct svc_file f = {.kind = SVC_FILE,
				     .path = v->has_ghost_id ? ghost_self_path(ctx, v->ghost_id)
							     : v->path,
				     .flags = O_RDONLY};
		if (!f.path)
			return -EINVAL; /* (ghost_plan checked it) */
		/* the access the original open file had: a shared mapping of a file open for
		 * writing may be made writable later (mprotect), one of a read-only file not */
		if (v->kind == VMA_KIND__VMA_FILE_SHARED &&
		    ((v->prot & PROT_WRITE) || (v->madvise & CRYO_VMA_MAYWRITE)))
			f.flags = O_RDWR;
		ret = add_svc(ctx, t, f);
		if (ret < 0)
			return ret;
		t->vma_fd[i] = ret;
	}
	ret = pick_area(t);
	if (ret) {
		pr_err("task %d: no address is free for the remote-call area", t->pid);
		return ret;
	}
	pr_debug("task %d: remote-call area planned at %#lx, %d service files", t->pid, t->area,
		 t->nr_svc);
	return 0;
}

/* ---- restore: protections, advice, seals and mm fields, after the pages ---- */

static const struct {
	uint32_t bit;
	int advice;
} advice_map[] = {
    {CRYO_MADV_DONTFORK, MADV_DONTFORK},     {CRYO_MADV_DONTDUMP, MADV_DONTDUMP},
    {CRYO_MADV_HUGEPAGE, MADV_HUGEPAGE},     {CRYO_MADV_NOHUGEPAGE, MADV_NOHUGEPAGE},
    {CRYO_MADV_MERGEABLE, MADV_MERGEABLE},   {CRYO_MADV_WIPEONFORK, MADV_WIPEONFORK},
    {CRYO_MADV_SEQUENTIAL, MADV_SEQUENTIAL}, {CRYO_MADV_RANDOM, MADV_RANDOM},
};

struct prctl_mm_map_v1 {
	uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv;
	uint32_t auxv_size;
	uint32_t exe_fd;
};

/* Does the page image hold any page of v? */
static bool vma_has_run(const struct restore_task *t, const Vma *v)
{
	const Pagemap *pm = t->pagemap;
	size_t lo = 0, hi = pm ? pm->n_runs : 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const PageRun *r = pm->runs[mid];
		if (r->vaddr + r->nr_pages * PAGE_SIZE <= v->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < (pm ? pm->n_runs : 0) && pm->runs[lo]->vaddr < v->end;
}

static int run_checked(struct restore_task *t, struct remote_batch *b, const char *what)
{
	int ret = remote_batch_run(&t->rem, b);
	if (ret)
		return ret;
	for (int k = 0; k < b->n; k++) {
		long rv = batch_result(b, k);
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot %s at %#lx (call %ld)", t->pid, what,
				 b->e[k][1], b->e[k][0]);
			return (int)rv;
		}
	}
	b->n = 0;
	return 0;
}

/* Before protections and locks: the accounting of read-only private memory, guard pages. */
static int prepare_vmas(struct restore_task *t)
{
	Mm *mm = t->mm;
	struct remote_batch b = {0};
	size_t g = 0; /* next guard run */
	int ret;

	for (size_t i = 0; i < mm->n_vmas; i++) {
		Vma *v = mm->vmas[i];
		bool kept = t->vma_kept && t->vma_kept[i];
		if (b.n > BATCH_MAX - 3 && (ret = run_checked(t, &b, "prepare a mapping")))
			return ret;
		/* a private anonymous mapping made read-only keeps its accounting (ac) only if it
		 * has had a page (an anon_vma): one is made and dropped, which leaves no content.
		 * It is mapped writable until its protection is set (vma_map_prot). */
		if ((v->madvise & CRYO_VMA_ACCOUNTED) && v->kind == VMA_KIND__VMA_ANON_PRIVATE &&
		    !(v->prot & PROT_WRITE) && !kept && !vma_has_run(t, v)) {
			batch_add(&b, __NR_madvise, v->start, PAGE_SIZE, MADV_POPULATE_WRITE, 0, 0,
				  0);
			batch_add(&b, __NR_madvise, v->start, PAGE_SIZE, MADV_DONTNEED, 0, 0, 0);
		}
		/* guard pages, before mlock, which does not allow them */
		for (; g < mm->n_guards && mm->guards[g]->vaddr < v->end; g++) {
			if (b.n == BATCH_MAX && (ret = run_checked(t, &b, "install guard pages")))
				return ret;
			batch_add(&b, __NR_madvise, mm->guards[g]->vaddr,
				  mm->guards[g]->nr_pages * PAGE_SIZE, MADV_GUARD_INSTALL, 0, 0, 0);
		}
	}
	return b.n ? run_checked(t, &b, "prepare a mapping") : 0;
}

/* Seal what was sealed (mseal): last, nothing may change these mappings afterwards. */
static int seal_vmas(struct restore_task *t)
{
	struct remote_batch b = {0};
	long rv;

	for (size_t i = 0; i <= t->mm->n_vmas; i++) {
		Vma *v = i < t->mm->n_vmas ? t->mm->vmas[i] : NULL;
		if (v && (v->madvise & CRYO_VMA_SEALED))
			batch_add(&b, __NR_mseal, v->start, v->end - v->start, 0, 0, 0, 0);
		if (b.n && (b.n == BATCH_MAX || !v)) {
			int ret = remote_batch_run(&t->rem, &b);
			if (ret)
				return ret;
			for (int k = 0; k < b.n; k++)
				if ((rv = batch_result(&b, k)) < 0) {
					pr_errno((int)-rv,
						 "task %d: cannot seal its mapping at %#lx", t->pid,
						 b.e[k][1]);
					return (int)rv;
				}
			b.n = 0;
		}
	}
	return 0;
}

/* After the pages are in: advice and locks, then the mm fields. */
int restore_mm_fields_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	Mm *mm = t->mm;
	uint64_t scratch = remote_scratch(r);
	struct prctl_mm_map_v1 map = {
	    mm->start_code,
	    mm->end_code,
	    mm->start_data,
	    mm->end_data,
	    mm->start_brk,
	    mm->brk,
	    mm->start_stack,
	    mm->arg_start,
	    mm->arg_end,
	    mm->env_start,
	    mm->env_end,
	    scratch + sizeof(map),
	    (uint32_t)(mm->n_auxv * sizeof(uint64_t)),
	    (uint32_t)t->svc[1].fd,
	};
	long rv;
	int ret;

	struct remote_batch b = {0};
	ret = prepare_vmas(t);
	if (ret)
		return ret;
	for (size_t i = 0; i < mm->n_vmas; i++) {
		Vma *v = mm->vmas[i];
		for (size_t a = 0; a < sizeof(advice_map) / sizeof(advice_map[0]); a++)
			if (v->madvise & advice_map[a].bit)
				batch_add(&b, __NR_madvise, v->start, v->end - v->start,
					  advice_map[a].advice, 0, 0, 0);
		bool kept = t->vma_kept && t->vma_kept[i];
		/* an attach of System V memory comes with the protection of its flags */
		if (vma_map_prot(v) != v->prot || (kept && v->prot != (PROT_READ | PROT_WRITE)) ||
		    v->kind == VMA_KIND__VMA_SYSV_SHM)
			batch_add(&b, __NR_mprotect, v->start, v->end - v->start, v->prot, 0, 0, 0);
		if (v->locked)
			batch_add(&b, __NR_mlock2, v->start, v->end - v->start,
				  (v->madvise & CRYO_MADV_LOCKONFAULT) ? 1 /* MLOCK_ONFAULT */ : 0,
				  0, 0, 0);
		if (b.n > BATCH_MAX - 16 || i + 1 == mm->n_vmas) {
			ret = remote_batch_run(r, &b);
			if (ret)
				return ret;
			for (int k = 0; k < b.n; k++)
				if ((rv = batch_result(&b, k)) < 0) {
					pr_errno((int)-rv,
						 "task %d: cannot give advice, protection or lock "
						 "(call %ld) to %#lx+%#lx",
						 t->pid, b.e[k][0], b.e[k][1], b.e[k][2]);
					return (int)rv;
				}
			b.n = 0;
		}
	}

	ret = remote_write(t->pid, scratch, &map, sizeof(map));
	if (!ret && mm->n_auxv)
		ret = remote_write(t->pid, scratch + sizeof(map), mm->auxv, map.auxv_size);
	if (ret)
		return ret;
	rv = rsys5(r, __NR_prctl, PR_SET_MM, PR_SET_MM_MAP, scratch, sizeof(map), 0);
	if (rv < 0) {
		pr_errno((int)-rv,
			 "task %d: cannot set its mm fields (brk %#lx, stack %#lx, exe %s)", t->pid,
			 mm->brk, mm->start_stack, mm->exe_path);
		return (int)rv;
	}
	return seal_vmas(t);
}
