/* Files deleted while open ("ghosts"): no name leads to them any more, so the dump saves the
 * file itself and the restore recreates it at its old path (or beside it, if that name is
 * taken now), opens it as the task had it, and removes the name again.
 *
 * Exactly as it was: a regular file's data ranges only (SEEK_DATA/SEEK_HOLE), so holes stay
 * holes and a 1 GiB sparse file with 4 KiB of data makes a 4 KiB image; its size; owner,
 * mode, access and modification times (set last, after every write); the content as it is at
 * the dump, also when it changed after the unlink. Besides regular files: a deleted directory
 * (always empty: rmdir removes only empty ones), a device node (mknod) and a symbolic link
 * (its target). The times of the directory the ghost is created in are put back too.
 *
 * One ghost per deleted file for the whole tree: every fd (of any task, each with its own open
 * file description), current or root directory, executable and mapping that holds the same
 * inode refers to it. It is listed in the files image of the first task that met it; others
 * name it by id. At restore every ghost is a global object: the root makes it before the
 * tree, holds it at a service fd that every task inherits, and each holder opens its own
 * description through /proc/self/fd of that service fd (mappings are mapped from one). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/util.h"
#include "files/kind.h"

#define GHOST_MAX_EXTENTS (1u << 20)

static uint64_t ts_ns(struct timespec ts)
{
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct timespec ns_ts(uint64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / 1000000000ull),
				 .tv_nsec = (long)(ns % 1000000000ull)};
}

/* The data ranges of the file at src (/proc/PID/fd/N, /proc/PID/map_files/A-B) into the
 * image, holes skipped (extents.c). */
static int save_content(struct dump_ctx *ctx, struct dump_task *t, const char *src_path, off_t size,
			GhostFile *g)
{
	char who[32], what[PATH_MAX + 16];
	int src, ret;

	/* O_NOATIME: reading it must not change its access time */
	src = open(src_path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (src < 0 && errno == EPERM)
		src = open(src_path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot open deleted file %s (%s) to save it", t->pid,
			 g->orig_path, src_path);
		return ret;
	}
	g->has_sparse = true;
	g->sparse = true;
	snprintf(who, sizeof(who), "task %d", t->pid);
	snprintf(what, sizeof(what), "deleted file %s", g->orig_path);
	ret = extents_dump(ctx, src, size, IMG_GHOST, (int)g->id, &g->extents, &g->n_extents, who,
			   what);
	close(src);
	return ret;
}

static int read_target(struct dump_task *t, int task_fd, GhostFile *g, struct arena *a)
{
	char buf[4096];
	int pidfd = sys_pidfd_open(t->pid), fd = -1, err = 0;
	ssize_t n = -1;

	if (pidfd >= 0 && task_fd >= 0)
		fd = sys_pidfd_getfd(pidfd, task_fd);
	if (fd >= 0)
		n = readlinkat(fd, "", buf, sizeof(buf) - 1);
	if (n < 0)
		err = task_fd < 0 ? EINVAL : errno;
	if (fd >= 0)
		close(fd);
	if (pidfd >= 0)
		close(pidfd);
	if (n < 0) {
		pr_errno(err, "task %d: cannot read the deleted symbolic link of fd %d", t->pid,
			 task_fd);
		return -err;
	}
	buf[n] = 0;
	g->target = arena_strdup(a, buf);
	return g->target ? 0 : -ENOMEM;
}

/* The ghost saved already for this inode, by any task of the tree (one ghost per deleted
 * file, however many tasks, fds, mappings and directories hold it): its owner and index */
static GhostFile *ghost_find(struct dump_ctx *ctx, uint64_t dev, uint64_t ino,
			     struct dump_task **owner, size_t *idx)
{
	for (int k = 0; k < ctx->nr_tasks; k++) {
		Files *f = ctx->tasks[k].files;
		for (size_t i = 0; f && i < f->n_ghosts; i++)
			if (f->ghosts[i]->dev == dev && f->ghosts[i]->ino == ino) {
				*owner = &ctx->tasks[k];
				*idx = i;
				return f->ghosts[i];
			}
	}
	return NULL;
}

/* The ghost of the deleted file whose stat is st: found, or made in t's list. src is where
 * its content is read (a regular file), task_fd the task's fd of it (a symbolic link). */
static int ghost_get(struct dump_ctx *ctx, struct dump_task *t, const struct stat *st,
		     const char *orig_path, const char *src, int task_fd, GhostFile **out,
		     struct dump_task **owner, size_t *idx)
{
	mode_t type = st->st_mode & S_IFMT;
	int ret = 0;

	if ((*out = ghost_find(ctx, st->st_dev, st->st_ino, owner, idx)))
		return 0;
	if (type != S_IFREG && type != S_IFDIR && type != S_IFCHR && type != S_IFBLK &&
	    type != S_IFLNK) {
		pr_err("task %d: %s was deleted, and a deleted file of mode %o cannot be "
		       "recreated: not supported yet",
		       t->pid, orig_path, st->st_mode);
		return -ENOTSUP;
	}
	Files *f = t->files;
	GhostFile *g = A_NEW(&ctx->arena, GhostFile, GHOST_FILE);
	if (!g || !DUMP_PUSH(ctx, f->ghosts, f->n_ghosts, g))
		return -ENOMEM;
	g->id = ctx->next_ghost_id++;
	g->orig_path = arena_strdup(&ctx->arena, orig_path);
	if (!g->orig_path)
		return -ENOMEM;
	g->mode = st->st_mode;
	g->size = st->st_size;
	g->has_uid = g->has_gid = g->has_atime_ns = g->has_mtime_ns = true;
	g->uid = st->st_uid;
	g->gid = st->st_gid;
	g->atime_ns = ts_ns(st->st_atim);
	g->mtime_ns = ts_ns(st->st_mtim);
	g->has_dev = g->has_ino = true;
	g->dev = st->st_dev;
	g->ino = st->st_ino;
	if (type == S_IFREG)
		ret = save_content(ctx, t, src, st->st_size, g);
	else if (type == S_IFLNK)
		ret = read_target(t, task_fd, g, &ctx->arena);
	else if (type == S_IFCHR || type == S_IFBLK) {
		g->has_rdev = true;
		g->rdev = st->st_rdev;
	}
	if (ret)
		return ret;
	pr_info("task %d: deleted %s (mode %o, %lu bytes, %zu data ranges) saved as ghost %u",
		t->pid, orig_path, g->mode, g->size, g->n_extents, g->id);
	*out = g;
	*owner = t;
	*idx = f->n_ghosts - 1;
	return 0;
}

int ghost_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e,
	       const char *orig_path)
{
	struct dump_task *owner;
	char src[64];
	GhostFile *g;
	size_t idx;
	int ret;

	snprintf(src, sizeof(src), "/proc/%d/fd/%d", t->pid, fi->fd);
	ret = ghost_get(ctx, t, &fi->st, orig_path, src, fi->fd, &g, &owner, &idx);
	if (ret) {
		if (ret == -ENOTSUP)
			pr_err("task %d: fd %d: deleted %s refused (above)", t->pid, fi->fd,
			       orig_path);
		return ret;
	}
	if (owner == t) {
		e->has_ghost = true;
		e->ghost = (int32_t)idx;
	} else {
		/* another open of a file a task before this one holds: the same ghost, a
		 * description of its own */
		e->has_ghost_id = true;
		e->ghost_id = g->id;
		pr_info("task %d: fd %d: deleted %s is ghost %u of task %d", t->pid, fi->fd,
			orig_path, g->id, owner->pid);
	}
	return 0;
}

int ghost_note(struct dump_ctx *ctx, struct dump_task *t, const struct stat *st,
	       const char *orig_path, const char *src, uint32_t *id)
{
	struct dump_task *owner;
	GhostFile *g;
	size_t idx;
	/* A pre-dump writes no files image, so no ghost: the final dump, which a restore reads,
	 * notes the file (of a pre-dump a restore reads the pagemap and pages only) */
	if (ctx->opts->pre_dump) {
		*id = 0;
		return 0;
	}
	int ret = ghost_get(ctx, t, st, orig_path, src, -1, &g, &owner, &idx);
	if (!ret)
		*id = g->id;
	return ret;
}

bool ghost_known(struct dump_ctx *ctx, uint64_t dev, uint64_t ino, uint32_t *id, uint64_t *size)
{
	struct dump_task *owner;
	size_t idx;
	GhostFile *g = ghost_find(ctx, dev, ino, &owner, &idx);
	if (g) {
		*id = g->id;
		*size = g->size;
	}
	return g != NULL;
}

bool ghost_link_deleted(const char *link, const struct stat *st, char *orig, size_t len)
{
	size_t l = strlen(link), sl = strlen(" (deleted)");
	struct stat now;

	if (l <= sl || strcmp(link + l - sl, " (deleted)"))
		return false;
	/* a file really named "x (deleted)" is where its link text says */
	if (lstat(link, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino)
		return false;
	snprintf(orig, len, "%.*s", (int)(l - sl), link);
	return true;
}

/* ---- restore ---- */

/* Create the object at path; on success return an fd of it: O_WRONLY for a regular file
 * (its content written), O_PATH for the others. -errno on failure (EEXIST: name taken). */
static int create_at(struct restore_ctx *ctx, struct restore_task *t, const GhostFile *g,
		     const char *path)
{
	mode_t type = g->mode & S_IFMT;
	int fd, ret = 0;

	switch (type) {
	case S_IFREG:
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		return fd < 0 ? -errno : fd;
	case S_IFDIR:
		ret = mkdir(path, 0700);
		break;
	case S_IFCHR:
	case S_IFBLK:
		ret = mknod(path, type | 0600, (dev_t)g->rdev);
		break;
	case S_IFLNK:
		ret = symlink(g->target, path);
		break;
	default:
		return -EINVAL;
	}
	if (ret < 0)
		return -errno;
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int write_content(struct restore_ctx *ctx, struct restore_task *t, const GhostFile *g,
			 int dst)
{
	char what[PATH_MAX + 16];
	/* saved before sparse files were: one range, the whole of it */
	GhostExtent whole = {.off = 0, .len = g->size}, *one = &whole;

	snprintf(what, sizeof(what), "deleted file %s", g->orig_path);
	return extents_restore(ctx, t, IMG_GHOST, (int)g->id, dst, g->sparse ? g->extents : &one,
			       g->sparse ? g->n_extents : 1, g->size, what);
}

/* Owner, mode, times: last, once nothing will change them any more */
static int set_attrs(struct restore_task *t, const GhostFile *g, int fd, const char *path)
{
	char self[64];
	bool lnk = S_ISLNK(g->mode);
	struct timespec ts[2] = {ns_ts(g->atime_ns), ns_ts(g->mtime_ns)};

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (g->has_uid && g->has_gid && fchownat(fd, "", g->uid, g->gid, AT_EMPTY_PATH) < 0) {
		child_fail(t, errno, "cannot give deleted file %s its owner %u:%u", g->orig_path,
			   g->uid, g->gid);
		return -1;
	}
	if (!lnk && chmod(self, g->mode & 07777) < 0) {
		child_fail(t, errno, "cannot give deleted file %s its mode %o", g->orig_path,
			   g->mode & 07777);
		return -1;
	}
	if (g->has_atime_ns && g->has_mtime_ns &&
	    (lnk ? utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW)
		 : utimensat(AT_FDCWD, self, ts, 0)) < 0) {
		child_fail(t, errno, "cannot give deleted file %s its times", g->orig_path);
		return -1;
	}
	return 0;
}

/* Remove the ghost's name. Built beside its old name (taken by a new file), it is given the
 * old name for an instant first, so that its fd reads "NAME (deleted)" as before. */
static void remove_name(struct restore_task *t, const GhostFile *g, const char *path)
{
	int rmflag = S_ISDIR(g->mode) ? AT_REMOVEDIR : 0;
	if (strcmp(path, g->orig_path) &&
	    renameat2(AT_FDCWD, path, AT_FDCWD, g->orig_path, RENAME_EXCHANGE) == 0) {
		unlinkat(AT_FDCWD, g->orig_path, rmflag);
		if (rename(path, g->orig_path) < 0)
			pr_warn("task %d: %s is left at %s", t->pid, g->orig_path, path);
	} else {
		unlinkat(AT_FDCWD, path, rmflag);
	}
}

/* ---- restore: every ghost is a global object, made by the root before the tree ---- */

struct ghost_ref {
	uint32_t id;
	int global; /* index in ctx->globals */
	const GhostFile *g;
	pid_t owner;   /* the task whose files image lists it */
	char self[32]; /* "/proc/self/fd/N" of its service fd, in every task */
};

static int cmp_ref(const void *a, const void *b)
{
	const struct ghost_ref *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static const struct ghost_ref *ref_of(const struct restore_ctx *ctx, uint32_t id)
{
	struct ghost_ref key = {.id = id};
	return ctx->nr_ghosts ? bsearch(&key, ctx->ghosts, ctx->nr_ghosts, sizeof(key), cmp_ref)
			      : NULL;
}

/* A reference to a ghost (an fd of another task, a cwd, a mapping...) must name one of the
 * tree, of the type the holder needs (0: the entry's own mode says). */
static int check_ref(const char *img, const char *what, const struct restore_ctx *ctx, uint32_t id,
		     mode_t type)
{
	const struct ghost_ref *r = ref_of(ctx, id);
	if (!r)
		return files_refuse(img, "%s: ghost %u is in no files image of the tree", what, id);
	if (type && (r->g->mode & S_IFMT) != type)
		return files_refuse(img, "%s: ghost %u (mode %#o) is not a %s", what, id,
				    r->g->mode, S_ISDIR(type) ? "directory" : "regular file");
	return 0;
}

static int check_task_refs(struct restore_ctx *ctx, struct restore_task *t)
{
	char img[64], what[64];
	int ret = 0;
	TaskCore *c = t->core;

	img_name(IMG_FILES, t->pid, img, sizeof(img));
	for (size_t i = 0; !ret && i < t->files->n_fds; i++) {
		const FdEntry *e = t->files->fds[i];
		if (!e->has_ghost_id)
			continue;
		snprintf(what, sizeof(what), "fd %d", e->fd);
		if (e->has_dup_of || (e->has_ghost && e->ghost >= 0) ||
		    (e->kind != FD_KIND__FD_REG && e->kind != FD_KIND__FD_DIR &&
		     e->kind != FD_KIND__FD_CHR && e->kind != FD_KIND__FD_PATH))
			ret = files_refuse(img, "%s: a ghost_id on a dup, a ghost or kind %d", what,
					   e->kind);
		else
			ret = check_ref(
			    img, what, ctx, e->ghost_id,
			    e->has_mode && e->kind != FD_KIND__FD_PATH ? e->mode & S_IFMT : 0);
	}
	img_name(IMG_CORE, t->pid, img, sizeof(img));
	if (!ret && c->has_cwd_ghost_id)
		ret = check_ref(img, "cwd", ctx, c->cwd_ghost_id, S_IFDIR);
	if (!ret && c->has_root_ghost_id)
		ret = check_ref(img, "root", ctx, c->root_ghost_id, S_IFDIR);
	if (!ret && c->has_exe_ghost_id)
		ret = check_ref(img, "executable", ctx, c->exe_ghost_id, S_IFREG);
	img_name(IMG_MM, t->pid, img, sizeof(img));
	for (size_t i = 0; !ret && i < t->mm->n_vmas; i++) {
		const Vma *v = t->mm->vmas[i];
		if (!v->has_ghost_id)
			continue;
		snprintf(what, sizeof(what), "mapping %#lx", v->start);
		if (v->kind != VMA_KIND__VMA_FILE_PRIVATE && v->kind != VMA_KIND__VMA_FILE_SHARED)
			ret = files_refuse(img, "%s: a ghost_id on kind %d", what, v->kind);
		else
			ret = check_ref(img, what, ctx, v->ghost_id, S_IFREG);
	}
	return ret;
}

int ghost_plan(struct restore_ctx *ctx)
{
	uint32_t n = 0;

	for (int i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie)
			n += (uint32_t)ctx->tasks[i].files->n_ghosts;
	if (n) {
		ctx->ghosts = calloc(n, sizeof(*ctx->ghosts));
		if (!ctx->ghosts)
			return -ENOMEM;
	}
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		for (size_t k = 0; !t->zombie && k < t->files->n_ghosts; k++)
			ctx->ghosts[ctx->nr_ghosts++] =
			    (struct ghost_ref){.id = t->files->ghosts[k]->id,
					       .g = t->files->ghosts[k],
					       .owner = t->pid};
	}
	if (n)
		sort_n(ctx->ghosts, n, sizeof(*ctx->ghosts), cmp_ref);
	for (uint32_t i = 0; i < n; i++) {
		struct ghost_ref *r = &ctx->ghosts[i];
		if (i && r[-1].id == r->id) {
			char img[64];
			img_name(IMG_FILES, r->owner, img, sizeof(img));
			return files_refuse(img, "ghost %u is listed by tasks %d and %d", r->id,
					    r[-1].owner, r->owner);
		}
		struct svc_file *g = restore_add_global(
		    ctx, (struct svc_file){.kind = SVC_GHOST, .desc_pid = r->owner, .ghost = r->g});
		if (!g)
			return -ENOMEM;
		r->global = (int)(g - ctx->globals);
		snprintf(r->self, sizeof(r->self), "/proc/self/fd/%d", g->fd);
	}
	for (int i = 0; i < ctx->nr_tasks; i++) {
		int ret = ctx->tasks[i].zombie ? 0 : check_task_refs(ctx, &ctx->tasks[i]);
		if (ret)
			return ret;
	}
	return 0;
}

const char *ghost_self_path(const struct restore_ctx *ctx, uint32_t id)
{
	const struct ghost_ref *r = ref_of(ctx, id);
	return r ? r->self : NULL;
}

/* The directories made above a ghost (the ends of their paths in path), deepest first */
static void remove_parents(const char *path, const int *made, int n)
{
	char buf[4200];
	while (n-- > 0) {
		snprintf(buf, sizeof(buf), "%.*s", made[n], path);
		rmdir(buf);
	}
}

/* In the root, before it creates the tree: the ghost made at its old path (or beside it),
 * filled, given its owner, mode and times, held at its service fd (O_PATH: every holder opens
 * its own description through it), its name removed. */
int restore_ghost_global_child(struct restore_ctx *ctx, struct svc_file *sg)
{
	struct restore_task *t = &ctx->tasks[0];
	const GhostFile *g = sg->ghost;
	char path[4200], dir[4200], self[64];
	struct stat pst;
	int obj, hold;

	/* the deepest directory above it that still exists: `rm -rf` may have removed its
	 * parents too. Those are made again for the moment the ghost is built, so that it has
	 * its old path (an fd, a cwd, a mapping of it reads "PATH (deleted)" as before), and
	 * removed after it, deepest first. */
	int made[64], nr_made = 0;
	size_t last = (size_t)(strrchr(g->orig_path, '/') - g->orig_path), plen = last ? last : 1;
	snprintf(dir, sizeof(dir), "%.*s", (int)plen, g->orig_path);
	bool dir_times;
	while (!(dir_times = stat(dir, &pst) == 0) && errno == ENOENT && plen > 1) {
		char *up = strrchr(dir, '/');
		plen = up > dir ? (size_t)(up - dir) : 1;
		dir[plen] = 0;
	}
	snprintf(path, sizeof(path), "%s", g->orig_path);
	for (size_t i = plen == 1 ? 1 : plen + 1; dir_times && i <= last; i++) {
		if (path[i] != '/')
			continue;
		path[i] = 0;
		int r = nr_made < 64 ? mkdir(path, 0700) : -1;
		int err = nr_made < 64 ? errno : ENAMETOOLONG;
		path[i] = '/';
		if (r < 0) {
			child_fail(t, err, "cannot make the removed directory %.*s again for %s",
				   (int)i, path, g->orig_path);
			remove_parents(path, made, nr_made);
			return -1;
		}
		made[nr_made++] = (int)i;
	}
	obj = create_at(ctx, t, g, path);
	for (int i = 0; obj == -EEXIST && i < 100; i++) {
		snprintf(path, sizeof(path), "%s.cryo-ghost-%d-%d", g->orig_path, sg->desc_pid, i);
		obj = create_at(ctx, t, g, path);
	}
	if (obj < 0) {
		child_fail(t, -obj, "cannot recreate deleted file %s", g->orig_path);
		remove_parents(path, made, nr_made);
		return -1;
	}
	if ((S_ISREG(g->mode) && write_content(ctx, t, g, obj)) || set_attrs(t, g, obj, path)) {
		close(obj);
		remove_name(t, g, path);
		remove_parents(path, made, nr_made);
		return -1;
	}
	/* opened again through the object itself: no name is looked up twice */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", obj);
	hold = S_ISLNK(g->mode) ? dup(obj) : open(self, O_PATH | O_CLOEXEC);
	int err = errno;
	close(obj);
	if (hold >= 0 && hold != sg->fd) {
		int placed = dup2(hold, sg->fd);
		if (placed < 0)
			err = errno;
		close(hold);
		hold = placed;
	}
	remove_name(t, g, path);
	remove_parents(path, made, nr_made);
	if (dir_times) {
		struct timespec ts[2] = {pst.st_atim, pst.st_mtim};
		utimensat(AT_FDCWD, dir, ts, 0);
	}
	if (hold < 0) {
		child_fail(t, err, "cannot hold recreated deleted file %s", path);
		return -1;
	}
	return 0;
}

int ghost_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	uint32_t id = e->has_ghost_id ? e->ghost_id : t->files->ghosts[e->ghost]->id;
	const struct ghost_ref *r = ref_of(ctx, id);
	struct stat hold_st, st;
	int fd, hold;

	if (!r) { /* (validated) */
		child_fail(t, EINVAL, "fd %d: ghost %u is unknown", e->fd, id);
		return -1;
	}
	hold = ctx->globals[r->global].fd;
	/* a symbolic link cannot be reopened through /proc: O_PATH holds no state of its own,
	 * a copy is the same */
	fd = S_ISLNK(r->g->mode) ? dup(hold) : open(r->self, flags & ~O_NOFOLLOW);
	if (fd < 0) {
		child_fail(t, errno, "cannot open deleted file %s for fd %d", r->g->orig_path,
			   e->fd);
		return -1;
	}
	if (fstat(hold, &hold_st) < 0 || fstat(fd, &st) < 0 || st.st_ino != hold_st.st_ino ||
	    st.st_dev != hold_st.st_dev) {
		close(fd);
		child_fail(t, ESTALE, "recreated deleted file %s is not the one opened",
			   r->g->orig_path);
		return -1;
	}
	return fd;
}

int ghosts_validate(struct restore_ctx *ctx, struct restore_task *t, const char *img)
{
	Files *f = t->files;
	for (size_t i = 0; i < f->n_ghosts; i++) {
		GhostFile *g = f->ghosts[i];
		mode_t type = g->mode & S_IFMT;
		char name[64];
		uint64_t size, sum = 0, end = 0;

		for (size_t j = 0; j < i; j++)
			if (f->ghosts[j]->id == g->id)
				return files_refuse(img, "ghost file %zu: id %u appears twice", i,
						    g->id);
		if (g->id >= (1u << 24) || !g->orig_path || g->orig_path[0] != '/' ||
		    strlen(g->orig_path) >= 4096)
			return files_refuse(img, "ghost file %zu is invalid (id, path)", i);
		if ((type != S_IFREG && type != S_IFDIR && type != S_IFCHR && type != S_IFBLK &&
		     type != S_IFLNK) ||
		    g->mode & ~(uint32_t)(S_IFMT | 07777))
			return files_refuse(
			    img, "ghost file %zu: mode %#o is not one cryo recreates", i, g->mode);
		if (type == S_IFLNK && (!g->target || !g->target[0] || strlen(g->target) >= 4096))
			return files_refuse(img, "ghost file %zu: a symbolic link without target",
					    i);
		if ((type == S_IFCHR || type == S_IFBLK) && !g->has_rdev)
			return files_refuse(img, "ghost file %zu: a device without its number", i);
		if (type != S_IFREG)
			continue;
		if (g->size > INT64_MAX)
			return files_refuse(img, "ghost file %zu: size %lu out of range", i,
					    g->size);
		if (g->n_extents > GHOST_MAX_EXTENTS || (!g->sparse && g->n_extents))
			return files_refuse(img, "ghost file %zu: %zu data ranges", i,
					    g->n_extents);
		for (size_t j = 0; j < g->n_extents; j++) {
			GhostExtent *x = g->extents[j];
			if (x->off < end || x->len == 0 || x->len > g->size ||
			    x->off > g->size - x->len)
				return files_refuse(img,
						    "ghost file %zu: data range %zu (%lu+%lu) is "
						    "out of order or beyond its size %lu",
						    i, j, x->off, x->len, g->size);
			end = x->off + x->len;
			sum += x->len;
		}
		if (!g->sparse)
			sum = g->size;
		img_name(IMG_GHOST, g->id, name, sizeof(name));
		int fd = img_raw_open(ctx->dirfd, IMG_GHOST, g->id, &size);
		if (fd < 0)
			return fd;
		close(fd);
		if (size != sum)
			return files_refuse(img,
					    "ghost file %zu: %lu bytes of data, but %s holds %lu",
					    i, sum, name, size);
	}
	return 0;
}
