/* Memory objects of the tree that a process outside it holds too: memfds, by a descriptor or
 * a mapping (one passed over a unix socket, or opened through /proc/PID/fd: a buffer shared
 * with a compositor, a sandbox's broker); shared anonymous memory, which a process outside
 * maps when it forked the tree's root after mapping it (a worker of a server dumped without
 * its master, a multiprocessing worker without its parent); deleted files (ghost.c saves them
 * by their content) that it holds by an fd or a shared mapping. The restore makes each object
 * anew, so the restored tree and that process would no longer share it: what either writes
 * after the restore the other never sees. Such a dump is refused, naming the object where the
 * tree holds it and where the outside process does. Checked once every mapping of the tree
 * is known, against what the walk of the processes outside (core/others.c) kept, before the
 * mappings were known: memfd_outside_want names the objects from the tree's descriptors and
 * its maps (read then for this), and the walk reads nothing more for a tree without any. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/others.h"
#include "core/proc.h"
#include "core/util.h"
#include "files/files.h"
#include "res/mapped.h"

static void refuse(pid_t in, const char *what, const char *kind, pid_t out, const char *where)
{
	struct proc_stat st;
	const char *comm = proc_parse_stat(out, 0, &st) ? "?" : st.comm;
	pr_err("task %d: %s is %s that process %d (%s) outside the tree holds too (its %s): "
	       "not supported (the restore makes it anew, no longer shared with that process)",
	       (int)in, what, kind, (int)out, comm, where);
}

/* The shared anonymous memory (dev, ino) in a mapping of the tree: the task and the mapping
 * into *what (of size wsize) */
static bool anon_holder(const struct dump_ctx *ctx, uint64_t dev, uint64_t ino, pid_t *pid,
			char *what, size_t wsize)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		const struct dump_task *t = &ctx->tasks[i];
		for (size_t k = 0; !t->zombie && t->mm && k < t->mm->n_vmas; k++) {
			const Vma *v = t->mm->vmas[k];
			if (v->kind != VMA_KIND__VMA_ANON_SHARED || !v->has_ino || !v->has_dev ||
			    v->dev != dev || v->ino != ino)
				continue;
			*pid = t->pid;
			snprintf(what, wsize, "mapping %#lx-%#lx", (unsigned long)v->start,
				 (unsigned long)v->end);
			return true;
		}
	}
	return false;
}

/* The device of the tree's first shared anonymous mapping, 0 if it has none */
static uint64_t anon_dev(const struct dump_ctx *ctx)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		const struct dump_task *t = &ctx->tasks[i];
		for (size_t k = 0; !t->zombie && t->mm && k < t->mm->n_vmas; k++)
			if (t->mm->vmas[k]->kind == VMA_KIND__VMA_ANON_SHARED &&
			    t->mm->vmas[k]->has_dev && t->mm->vmas[k]->has_ino)
				return t->mm->vmas[k]->dev;
	}
	return 0;
}

/* The ghost (a regular file deleted while open, saved by its content: ghost.c) of (dev, ino):
 * the task that holds it first and its old path into *what */
static bool ghost_holder(const struct dump_ctx *ctx, uint64_t dev, uint64_t ino, pid_t *pid,
			 char *what, size_t wsize)
{
	for (int k = 0; k < ctx->nr_tasks; k++) {
		const Files *f = ctx->tasks[k].files;
		for (size_t i = 0; f && i < f->n_ghosts; i++) {
			const GhostFile *g = f->ghosts[i];
			if (!S_ISREG(g->mode) || g->dev != dev || g->ino != ino)
				continue;
			*pid = ctx->tasks[k].pid;
			snprintf(what, wsize, "the deleted file %s (ghost %u)",
				 g->orig_path ? g->orig_path : "?", g->id);
			return true;
		}
	}
	return false;
}

static bool has_ghosts(const struct dump_ctx *ctx)
{
	for (int k = 0; k < ctx->nr_tasks; k++)
		if (ctx->tasks[k].files && ctx->tasks[k].files->n_ghosts)
			return true;
	return false;
}

/* A mapping of the tree's maps (a line) that the check may find outside too: shared anonymous
 * memory, a memfd, a deleted file (a ghost); with *fds set when an fd outside may hold it
 * too (not for shared anonymous memory or a System V segment, which no fd holds) */
static bool tree_map_wanted(const char *line, bool *fds, uint64_t *dev, uint64_t *ino)
{
	unsigned long ino_l;
	unsigned maj, min;
	char perms[8];
	int pos = 0;
	if (sscanf(line, "%*x-%*x %7s %*s %x:%x %lu %n", perms, &maj, &min, &ino_l, &pos) < 4 ||
	    !pos || !ino_l || strlen(perms) < 4)
		return false;
	const char *p = line + pos;
	size_t l = strlen(p);
	bool deleted = l > 10 && !strcmp(p + l - 10, " (deleted)");
	*dev = makedev(maj, min), *ino = ino_l;
	if (mapping_is_anon_shared(perms, p))
		return true;
	if (!deleted || (!strncmp(p, "/SYSV", 5) && maj == 0 && perms[3] == 's'))
		return false;
	*fds = true;
	return true;
}

int memfd_outside_want(struct dump_ctx *ctx)
{
	uint64_t mdev = 0, dev, ino;
	uint32_t n = memfd_dump_count(ctx, &mdev);
	bool fds = n > 0 || has_ghosts(ctx);
	int ret = 0;

	for (uint32_t i = 0; !ret && i < n; i++) {
		memfd_dump_key(ctx, i, &dev, &ino);
		ret = others_want_mapping(ctx, dev, ino);
	}
	for (int k = 0; !ret && k < ctx->nr_tasks; k++) {
		const Files *f = ctx->tasks[k].files;
		for (size_t i = 0; !ret && f && i < f->n_ghosts; i++)
			ret = others_want_mapping(ctx, f->ghosts[i]->dev, f->ghosts[i]->ino);
	}
	/* the mappings of the tree, which the dump reads later (res/mm.c) */
	for (int k = 0; !ret && k < ctx->nr_tasks; k++) {
		char path[64], *buf, *line, *next;
		if (ctx->tasks[k].zombie)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/maps", ctx->tasks[k].pid);
		ssize_t len = read_file_alloc(path, &buf);
		if (len < 0) {
			pr_errno((int)-len, "task %d: cannot read %s", ctx->tasks[k].pid, path);
			return (int)len;
		}
		for (line = buf; !ret && line && *line; line = next) {
			if ((next = strchr(line, '\n')))
				*next++ = 0;
			if (tree_map_wanted(line, &fds, &dev, &ino))
				ret = others_want_mapping(ctx, dev, ino);
		}
		free(buf);
	}
	if (!ret && fds)
		others_want(ctx, OTHERS_FD_DELETED);
	return ret;
}

/* The process's descriptors (the walk's: core/others.c); the number of refusals */
static int scan_fds(const struct dump_ctx *ctx, const struct others *w, const struct other_proc *op,
		    bool memfds, bool ghosts)
{
	char where[300], gwhat[4200 + 32];
	int n = 0;
	for (uint32_t i = op->fd0; i < op->fd0 + op->nr_fds; i++) {
		const struct other_fd *f = &w->fds[i];
		const char *what;
		pid_t in;
		if (!f->has_st || !f->deleted)
			continue;
		snprintf(where, sizeof(where), "fd %d", f->fd);
		if (memfds && f->memfd && memfd_dump_holder(ctx, f->dev, f->ino, &in, &what)) {
			refuse(in, what, "a memfd", op->pid, where);
			n++;
		} else if (ghosts && S_ISREG(f->mode) &&
			   ghost_holder(ctx, f->dev, f->ino, &in, gwhat, sizeof(gwhat))) {
			/* the restore's file would be a copy of it */
			refuse(in, gwhat, "a file", op->pid, where);
			n++;
		}
	}
	return n;
}

/* The process's mappings of the tree's memory objects (the walk kept those of the objects
 * memfd_outside_want named); the number of refusals */
static int scan_maps(const struct dump_ctx *ctx, const struct others *w,
		     const struct other_proc *op, uint64_t mdev, uint64_t adev, bool ghosts)
{
	char where[64], awhat[64], gwhat[4200 + 32];
	int n = 0;
	for (uint32_t i = op->map0; i < op->map0 + op->nr_maps; i++) {
		const struct other_map *m = &w->maps[i];
		const char *what, *kind;
		pid_t in;
		if (mdev && m->dev == mdev && memfd_dump_holder(ctx, m->dev, m->ino, &in, &what)) {
			kind = "a memfd";
		} else if (adev && m->dev == adev &&
			   anon_holder(ctx, m->dev, m->ino, &in, awhat, sizeof(awhat))) {
			what = awhat;
			kind = "shared anonymous memory";
		} else if (ghosts && m->shared &&
			   ghost_holder(ctx, m->dev, m->ino, &in, gwhat, sizeof(gwhat))) {
			/* a private mapping (a library upgraded under both) shares nothing */
			what = gwhat;
			kind = "a file";
		} else {
			continue;
		}
		snprintf(where, sizeof(where), "mapping %#lx-%#lx", (unsigned long)m->start,
			 (unsigned long)m->end);
		refuse(in, what, kind, op->pid, where);
		n++;
	}
	return n;
}

int memfd_scan_outside(struct dump_ctx *ctx)
{
	uint64_t mdev = 0, adev = anon_dev(ctx);
	int found = 0;
	bool memfds = memfd_dump_count(ctx, &mdev) > 0, ghosts = has_ghosts(ctx);
	if (!memfds && !adev && !ghosts)
		return 0;
	const struct others *w = others_read(ctx);
	if (!w)
		return -EINVAL;
	for (uint32_t p = 0; p < w->nr_procs; p++) {
		if (memfds || ghosts)
			found += scan_fds(ctx, w, &w->procs[p], memfds, ghosts);
		found += scan_maps(ctx, w, &w->procs[p], memfds ? mdev : 0, adev, ghosts);
	}
	return found ? -ENOTSUP : 0;
}
