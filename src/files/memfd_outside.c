/* Memory objects of the tree that a process outside it holds too: memfds, by a descriptor or
 * a mapping (one passed over a unix socket, or opened through /proc/PID/fd: a buffer shared
 * with a compositor, a sandbox's broker); shared anonymous memory, which a process outside
 * maps when it forked the tree's root after mapping it (a worker of a server dumped without
 * its master, a multiprocessing worker without its parent); deleted files (ghost.c saves them
 * by their content) that it holds by an fd or a shared mapping. The restore makes each object
 * anew, so the restored tree and that process would no longer share it: what either writes
 * after the restore the other never sees. Such a dump is refused, naming the object where the
 * tree holds it and where the outside process does. Read once every mapping of the tree is
 * known, and only then: a tree with none of these costs nothing. */
#include <dirent.h>
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
#include "core/proc.h"
#include "files/files.h"

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

static bool deleted_link(const char *link)
{
	size_t l = strlen(link);
	return l > 10 && !strcmp(link + l - 10, " (deleted)");
}

/* The process's descriptors; the number of refusals */
static int scan_fds(const struct dump_ctx *ctx, pid_t pid, bool memfds, bool ghosts)
{
	char path[64], link[4200], where[300], gwhat[4200 + 32];
	int n = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	DIR *fds = opendir(path);
	if (!fds)
		return 0; /* gone, a kernel thread, or not ours to read */
	struct dirent *f;
	while ((f = readdir(fds))) {
		struct stat st;
		const char *what;
		pid_t in;
		if (f->d_name[0] == '.')
			continue;
		ssize_t l = readlinkat(dirfd(fds), f->d_name, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		if (link[0] != '/' || !deleted_link(link) ||
		    fstatat(dirfd(fds), f->d_name, &st, 0) < 0)
			continue;
		snprintf(where, sizeof(where), "fd %s", f->d_name);
		if (memfds && !strncmp(link, "/memfd:", 7) &&
		    memfd_dump_holder(ctx, st.st_dev, st.st_ino, &in, &what)) {
			refuse(in, what, "a memfd", pid, where);
			n++;
		} else if (ghosts && S_ISREG(st.st_mode) &&
			   ghost_holder(ctx, st.st_dev, st.st_ino, &in, gwhat, sizeof(gwhat))) {
			/* the restore's file would be a copy of it */
			refuse(in, gwhat, "a file", pid, where);
			n++;
		}
	}
	closedir(fds);
	return n;
}

/* A maps line of a shared mapping ("start-end rws? ...") */
static bool shared_map(const char *line)
{
	const char *p = strchr(line, ' ');
	return p && strlen(p) > 4 && p[4] == 's';
}

/* The process's mappings of the memory objects' devices (memfds, shared anonymous memory:
 * usually one device, the kernel's internal tmpfs); the number of refusals */
static int scan_maps(const struct dump_ctx *ctx, pid_t pid, uint64_t mdev, uint64_t adev,
		     bool ghosts)
{
	char path[64], line[4400], where[64], awhat[64], gwhat[4200 + 32];
	int n = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, ino;
		unsigned maj, min;
		const char *what, *kind;
		pid_t in;
		/* a path that does not fit the buffer: its rest is read as lines of its own,
		 * which do not parse */
		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &start, &end, &maj, &min, &ino) !=
			5 ||
		    !ino)
			continue;
		uint64_t dev = makedev(maj, min);
		if (mdev && dev == mdev && memfd_dump_holder(ctx, dev, ino, &in, &what)) {
			kind = "a memfd";
		} else if (adev && dev == adev &&
			   anon_holder(ctx, dev, ino, &in, awhat, sizeof(awhat))) {
			what = awhat;
			kind = "shared anonymous memory";
		} else if (ghosts && shared_map(line) &&
			   ghost_holder(ctx, dev, ino, &in, gwhat, sizeof(gwhat))) {
			/* a private mapping (a library upgraded under both) shares nothing */
			what = gwhat;
			kind = "a file";
		} else {
			continue;
		}
		snprintf(where, sizeof(where), "mapping %#lx-%#lx", start, end);
		refuse(in, what, kind, pid, where);
		n++;
	}
	fclose(f);
	return n;
}

int memfd_scan_outside(struct dump_ctx *ctx)
{
	uint64_t mdev = 0, adev = anon_dev(ctx);
	int found = 0;
	bool memfds = memfd_dump_count(ctx, &mdev) > 0, ghosts = has_ghosts(ctx);
	if (!memfds && !adev && !ghosts)
		return 0;
	DIR *proc = opendir("/proc");
	if (!proc) {
		int err = errno;
		pr_errno(err, "cannot read /proc for other holders of the tree's shared memory");
		return -err;
	}
	struct dirent *de;
	while ((de = readdir(proc))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid <= 0 || pid == getpid() || dump_find_task(ctx, pid))
			continue;
		if (memfds || ghosts)
			found += scan_fds(ctx, pid, memfds, ghosts);
		found += scan_maps(ctx, pid, memfds ? mdev : 0, adev, ghosts);
	}
	closedir(proc);
	return found ? -ENOTSUP : 0;
}
