#ifndef CRYO_RES_MM_H
#define CRYO_RES_MM_H

#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include "img/image.h"

/* Vma.madvise bits: advice given to a range that must be given again on restore */
#define CRYO_MADV_DONTFORK (1u << 0)
#define CRYO_MADV_DONTDUMP (1u << 1)
#define CRYO_MADV_HUGEPAGE (1u << 2)
#define CRYO_MADV_NOHUGEPAGE (1u << 3)
#define CRYO_MADV_MERGEABLE (1u << 4)
#define CRYO_MADV_WIPEONFORK (1u << 5)
#define CRYO_MADV_LOCKONFAULT (1u << 6)
#define CRYO_MADV_SEQUENTIAL (1u << 7)
#define CRYO_MADV_RANDOM (1u << 8)
/* Not advice but kept with it: a private mapping the kernel charged as writable memory
 * (VM_ACCOUNT, "ac"): it was writable once, and must be mapped writable to get the flag. */
#define CRYO_VMA_ACCOUNTED (1u << 16)
/* A shared file mapping that may be made writable (VM_MAYWRITE, "mw"): the file was open for
 * writing, and is opened so again for it, whatever the mapping's protection now. */
#define CRYO_VMA_MAYWRITE (1u << 17)
/* Sealed by mseal() ("sl"): sealed again, last of all */
#define CRYO_VMA_SEALED (1u << 18)

#define TASK_SIZE_MAX 0x7ffffffff000ULL

/* Does this VMA's content go into the page image? */
static inline bool vma_has_content(const Vma *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_ANON_SHARED ||
	       v->kind == VMA_KIND__VMA_FILE_PRIVATE ||
	       (v->kind == VMA_KIND__VMA_MEMFD && !(v->flags & MAP_SHARED));
}
/* A private mapping of a file (a memfd's too): its clean pages come from the file */
static inline bool vma_private_file(const Vma *v)
{
	return v->kind == VMA_KIND__VMA_FILE_PRIVATE ||
	       (v->kind == VMA_KIND__VMA_MEMFD && !(v->flags & MAP_SHARED));
}
/* The kernel's own areas (vDSO, vvar) */
static inline bool vma_special(const Vma *v)
{
	return v->kind >= VMA_KIND__VMA_VDSO && v->kind <= VMA_KIND__VMA_VVAR_VCLOCK;
}
/* Protection a VMA is mapped with, and filled under, before it gets its own */
static inline uint32_t vma_map_prot(const Vma *v)
{
	bool grow = (v->madvise & CRYO_VMA_ACCOUNTED) && !(v->flags & MAP_SHARED);
	return v->prot | (grow ? PROT_WRITE : 0);
}
/* Must VMA i be mapped apart and moved into place, to stay apart from its neighbour below? */
bool mm_vma_needs_apart(const Mm *mm, size_t i);
/* An address range, and the order of qsort() by start */
struct mm_range {
	uint64_t start, end;
};
int mm_range_cmp(const void *a, const void *b);
/* Index of the VMA holding [addr, addr+len), or -1 */
int mm_find_vma(const Mm *mm, uint64_t addr, uint64_t len);

/* One VMA as /proc/PID/maps or smaps describes it (mm.c, mm_flags.c) */
struct smaps_vma {
	uint64_t start, end, pgoff;
	char perms[5];
	unsigned dev_major, dev_minor;
	uint64_t ino;
	char path[4096];
	char vmflags[256];
	bool vmflags_read; /* from smaps (not maps) */
	int pkey;	   /* ProtectionKey: */
};
static inline bool has_vmflag(const char *flags, const char *f)
{
	for (const char *p = flags; (p = strstr(p, f)); p += 2)
		if ((p == flags || p[-1] == ' ') && (p[2] == ' ' || p[2] == 0 || p[2] == '\n'))
			return true;
	return false;
}
struct dump_ctx;
struct dump_task;
/* What VmFlags says of v: refused flags (naming the task and mapping), advice, locks... */
int mm_apply_vmflags(struct dump_task *t, const struct smaps_vma *s, Vma *v);
/* A final dump of a chain reads each task's layout from maps, and smaps (whose resident
 * counts walk every page table entry) in a thread of its own while the pages are read: start
 * once every layout is read, finish (VmFlags applied, checked) once the pages are. join:
 * any path, idempotent. */
void mm_flags_start(struct dump_ctx *ctx);
int mm_flags_finish(struct dump_ctx *ctx);
void mm_flags_join(struct dump_ctx *ctx);
void mm_flags_free(struct dump_ctx *ctx); /* joined, buffers freed */

#endif
