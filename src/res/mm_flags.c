/* What /proc/PID/smaps's VmFlags says of each VMA, and when it is read.
 *
 * smaps is the one place the kernel shows a VMA's advice, locks and other flags, and reading
 * it costs a walk of every page table entry of the task (its resident counts): 20-25 ms of a
 * freeze for a GiB, measured. A full dump pays it in line. The final dump of a chain of
 * pre-dumps, whose freeze is the downtime, reads the layout from /proc/PID/maps (ranges,
 * protections, files: all its pages need) and smaps in a thread of its own while the pages are
 * read, and applies and checks the flags afterwards, still frozen. The tree is frozen and its
 * remote areas are gone by then: both reads see one layout, which the finish checks VMA by
 * VMA. A flag the restore could not bring back refuses the dump then, as it would have before
 * (the pages read by then are thrown away with the images; the tree runs on).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/util.h"
#include "res/mm.h"
#include "res/track.h"

/* Every VmFlags letter of /proc/PID/smaps, and what the restore does about it. A letter cryo
 * does not know, or knows it cannot bring back, refuses the dump: nothing is lost silently. */
enum vmflag_fate {
	VF_LAYOUT, /* follows from protection, kind and flags the VMA is mapped with */
	VF_KEPT,   /* saved and given again (advice, lock, seal...) */
	VF_REFUSE, /* the restore could not give it back */
};
static const struct {
	char name[3];
	uint8_t fate;
	const char *what;
} vmflags_known[] = {
    {"rd", VF_LAYOUT, NULL},
    {"wr", VF_LAYOUT, NULL},
    {"ex", VF_LAYOUT, NULL},
    {"sh", VF_LAYOUT, NULL},
    {"mr", VF_LAYOUT, NULL},
    {"mw", VF_KEPT, NULL},
    {"me", VF_LAYOUT, NULL},
    {"ms", VF_LAYOUT, NULL},
    {"gd", VF_KEPT, NULL},
    {"lo", VF_KEPT, NULL},
    {"sr", VF_KEPT, NULL},
    {"rr", VF_KEPT, NULL},
    {"dc", VF_KEPT, NULL},
    {"lf", VF_KEPT, NULL},
    {"ac", VF_KEPT, NULL},
    {"nr", VF_KEPT, NULL},
    {"wf", VF_KEPT, NULL},
    {"dd", VF_KEPT, NULL},
    {"hg", VF_KEPT, NULL},
    {"nh", VF_KEPT, NULL},
    {"mg", VF_KEPT, NULL},
    {"sl", VF_KEPT, NULL},
    {"gu", VF_KEPT, NULL},   /* guard pages may be there: pages.c finds and saves them */
    {"sd", VF_LAYOUT, NULL}, /* soft-dirty: set on every new mapping where it exists */
    {"de", VF_REFUSE, "cannot be expanded (VM_DONTEXPAND)"},
    {"dp", VF_REFUSE, "is droppable (MAP_DROPPABLE)"},
    {"um", VF_REFUSE,
     "is registered with a userfaultfd (after a lazy restore: its memory is still coming in, dump "
     "once `cryo lazy-pages` has exited)"},
    {"uw", VF_REFUSE, "is registered with a userfaultfd"},
    {"ui", VF_REFUSE, "is registered with a userfaultfd"},
    {"mm", VF_REFUSE, "maps driver memory (VM_MIXEDMAP)"},
    {"sf", VF_REFUSE, "is a synchronous (MAP_SYNC) mapping"},
    {"ar", VF_REFUSE, "has an architecture flag (VM_ARCH_1)"},
    {"ss", VF_REFUSE, "is a shadow stack"},
    {"mt", VF_REFUSE, "has memory tagging"},
};

/* Refuses a VMA with a flag the restore would lose, naming the task, the mapping and it */
static int check_vmflags(struct dump_task *t, const struct smaps_vma *s, const Vma *v)
{
	char word[8];
	int n;

	for (const char *p = s->vmflags; sscanf(p, " %7s%n", word, &n) == 1; p += n) {
		size_t k = 0, nk = sizeof(vmflags_known) / sizeof(vmflags_known[0]);
		while (k < nk && strcmp(vmflags_known[k].name, word))
			k++;
		/* a final dump that kept cryo's tracking on: its registrations are no state of
		 * the program's (its copy of the tracking tells them from another one's) */
		if (k < nk && !strcmp(word, "uw") && track_owns(t, s->start, s->end))
			continue;
		/* an AIO ring is made so by io_setup, as the restore makes it (aio.c) */
		if (k < nk && !strcmp(word, "de") && v->kind == VMA_KIND__VMA_AIO_RING)
			continue;
		if (k == nk || vmflags_known[k].fate == VF_REFUSE) {
			pr_err("task %d: mapping %#lx-%#lx (%s) %s (VmFlags '%s'): cryo cannot "
			       "restore that",
			       t->pid, s->start, s->end, s->path[0] ? s->path : "anonymous",
			       k == nk ? "has a flag cryo does not know" : vmflags_known[k].what,
			       word);
			return -ENOTSUP;
		}
	}
	/* the kernel gives execute-only memory a key of its own (x86 PKU), and gives it again
	 * when the restore makes the mapping execute-only; any other key is the program's */
	if (s->pkey && strcmp(s->perms, "--xp") && strcmp(s->perms, "--xs")) {
		pr_err("task %d: mapping %#lx-%#lx (%s) has memory protection key %d "
		       "(pkey_mprotect): cryo cannot restore protection keys",
		       t->pid, s->start, s->end, s->path[0] ? s->path : "anonymous", s->pkey);
		return -ENOTSUP;
	}
	return 0;
}

int mm_apply_vmflags(struct dump_task *t, const struct smaps_vma *s, Vma *v)
{
	const char *f = s->vmflags, *p = s->path;
	int ret;

	if (!vma_special(v)) {
		/* the kernel's own areas map its data pages (io, pfnmap): not device memory */
		if (has_vmflag(f, "io") || has_vmflag(f, "pf")) {
			pr_err("task %d: mapping %#lx-%#lx (%s) maps device memory: not supported",
			       t->pid, s->start, s->end, p);
			return -ENOTSUP;
		}
		if (has_vmflag(f, "ht")) {
			pr_err(
			    "task %d: mapping %#lx-%#lx is hugetlbfs memory%s: not supported yet",
			    t->pid, s->start, s->end,
			    !strncmp(p, "/memfd:", 7) ? " (a hugetlb memfd, MFD_HUGETLB)" : "");
			return -ENOTSUP;
		}
		if ((ret = check_vmflags(t, s, v)))
			return ret;
	}
	if (v->kind == VMA_KIND__VMA_SYSV_SHM) {
		/* attached read-only, it can never be made writable */
		v->sysv_shmat_flags = has_vmflag(f, "mw") ? 0 : SHM_RDONLY;
		if (has_vmflag(f, "gu")) {
			pr_err("task %d: System V shared memory at %#lx has guard pages: not "
			       "supported",
			       t->pid, s->start);
			return -ENOTSUP;
		}
	}
	if (has_vmflag(f, "gd"))
		v->flags |= MAP_GROWSDOWN;
	if (has_vmflag(f, "nr"))
		v->flags |= MAP_NORESERVE;
	v->madvise = (has_vmflag(f, "dc") ? CRYO_MADV_DONTFORK : 0) |
		     (has_vmflag(f, "dd") ? CRYO_MADV_DONTDUMP : 0) |
		     (has_vmflag(f, "hg") ? CRYO_MADV_HUGEPAGE : 0) |
		     (has_vmflag(f, "nh") ? CRYO_MADV_NOHUGEPAGE : 0) |
		     (has_vmflag(f, "mg") ? CRYO_MADV_MERGEABLE : 0) |
		     (has_vmflag(f, "wf") ? CRYO_MADV_WIPEONFORK : 0) |
		     (has_vmflag(f, "lf") ? CRYO_MADV_LOCKONFAULT : 0) |
		     (has_vmflag(f, "sr") ? CRYO_MADV_SEQUENTIAL : 0) |
		     (has_vmflag(f, "rr") ? CRYO_MADV_RANDOM : 0) |
		     (has_vmflag(f, "ac") ? CRYO_VMA_ACCOUNTED : 0) |
		     (has_vmflag(f, "sl") ? CRYO_VMA_SEALED : 0);
	/* a shared file mapping is writable only if its file was open for writing */
	if ((v->kind == VMA_KIND__VMA_FILE_SHARED ||
	     (v->kind == VMA_KIND__VMA_MEMFD && (v->flags & MAP_SHARED))) &&
	    has_vmflag(f, "mw"))
		v->madvise |= CRYO_VMA_MAYWRITE;
	if (has_vmflag(f, "lo")) {
		v->has_locked = true;
		v->locked = true;
	}
	return 0;
}

/* ---- smaps read beside the pages (a final dump of a chain) ---- */

static void *read_all_smaps(void *arg)
{
	struct dump_ctx *ctx = arg;
	char path[64];

	/* no logging here: the main thread reports what went wrong (mm_flags_finish) */
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		if (t->zombie || !t->mm)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/smaps", t->pid);
		t->smaps_len = read_file_alloc(path, &t->smaps_buf);
	}
	return NULL;
}

void mm_flags_start(struct dump_ctx *ctx)
{
	if (ctx->opts->pre_dump || ctx->parent_dirfd < 0 || ctx->smaps_started)
		return;
	for (int i = 0; i < ctx->nr_tasks; i++)
		ctx->tasks[i].smaps_len = -ENODATA;
	/* without a thread, the finish reads them itself */
	ctx->smaps_started = !pthread_create(&ctx->smaps_thread, NULL, read_all_smaps, ctx);
}

void mm_flags_join(struct dump_ctx *ctx)
{
	if (ctx->smaps_started)
		pthread_join(ctx->smaps_thread, NULL);
	ctx->smaps_started = false;
}

/* The VMAs of smaps, in order, are those read from maps: each gets its flags. */
static int apply_task(struct dump_task *t, char *buf)
{
	char *line, *save;
	struct smaps_vma cur;
	size_t k = 0;
	bool have = false;
	int ret = 0;

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
			have = strcmp(s.path, "[vsyscall]") != 0; /* (not in the layout) */
		} else if (have && !strncmp(line, "ProtectionKey:", 14)) {
			cur.pkey = atoi(line + 14);
		} else if (have && !strncmp(line, "VmFlags:", 8)) {
			snprintf(cur.vmflags, sizeof(cur.vmflags), "%s", line + 8);
			cur.vmflags_read = true;
			have = false;
			Vma *v = k < t->mm->n_vmas ? t->mm->vmas[k] : NULL;
			if (!v || v->start != cur.start || v->end != cur.end) {
				pr_err("task %d: its layout changed while it was frozen (mapping "
				       "%#lx-%#lx)",
				       t->pid, cur.start, cur.end);
				return -EAGAIN;
			}
			k++;
			ret = mm_apply_vmflags(t, &cur, v);
		}
	}
	if (!ret && k != t->mm->n_vmas) {
		pr_err("task %d: its layout changed while it was frozen (%zu mappings, then %zu)",
		       t->pid, t->mm->n_vmas, k);
		return -EAGAIN;
	}
	return ret;
}

int mm_flags_finish(struct dump_ctx *ctx)
{
	char path[64];
	int ret = 0;

	if (ctx->opts->pre_dump || ctx->parent_dirfd < 0)
		return 0;
	mm_flags_join(ctx);
	for (int i = 0; i < ctx->nr_tasks && !ret; i++) {
		struct dump_task *t = &ctx->tasks[i];
		if (t->zombie || !t->mm)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/smaps", t->pid);
		if (t->smaps_len < 0 || !t->smaps_buf) {
			free(t->smaps_buf);
			t->smaps_buf = NULL;
			t->smaps_len = read_file_alloc(path, &t->smaps_buf);
		}
		if (t->smaps_len < 0) {
			pr_errno((int)-t->smaps_len, "cannot read %s", path);
			ret = (int)t->smaps_len;
		} else {
			ret = apply_task(t, t->smaps_buf);
		}
		free(t->smaps_buf);
		t->smaps_buf = NULL;
	}
	return ret;
}

void mm_flags_free(struct dump_ctx *ctx)
{
	mm_flags_join(ctx);
	for (int i = 0; i < ctx->nr_tasks; i++) {
		free(ctx->tasks[i].smaps_buf);
		ctx->tasks[i].smaps_buf = NULL;
	}
}
