/* memfds (memfd_create(2)): a file of the kernel's internal tmpfs, with a name ("memfd:NAME"
 * in /proc) but no place in any file system, held by descriptors and mappings.
 *
 * One object, saved once. Every memfd of the tree gets an id, 0, 1, 2... in the order the
 * dump meets it: every task's descriptors first, then every task's mappings (a memfd whose
 * descriptors are all closed lives on in its mappings: /proc/PID/map_files is then its only
 * handle). The first place of each object (an fd entry or a vma) holds the object: its name,
 * size, seals, mode and owner, and its data ranges (SEEK_DATA/SEEK_HOLE: holes stay holes and
 * cost nothing), whose bytes go to memfd-ID.img. Everything is read through a read-only
 * description cryo opens for itself and closes again.
 *
 * Restore: each object is a global (restore.c's plan): the root creates it before the tree
 * (memfd_create with its name), writes its ranges, sets its size, owner and mode, and holds it
 * at a service fd every task inherits. Each description of it is the root's own (the one
 * memfd_create made, for the first read-write description) or a new one opened through
 * /proc/self/fd. Mappings map the root's own, or a read-only description of it for shared
 * mappings that could never be made writable (no "mw"). The seals come last, from outside,
 * once every task's memory is in place (a write seal forbids writable mappings).
 *
 * Why the memfd_create description matters: an open through /proc (or through map_files)
 * counts as a writer of the inode, and execve of a file with writers fails with ETXTBSY. The
 * one memfd_create returns does not count. So a program's read-write memfd descriptor, and
 * the mappings, are that one again, and cryo keeps no description of its own: fexecve of a
 * restored memfd works as it did. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/util.h"
#include "files/kind.h"
#include "res/mm.h"

#define MEMFD_PREFIX "/memfd:"
#define DELETED_SUFFIX " (deleted)"
#define MEMFD_NAME_MAX 249 /* NAME_MAX minus "memfd:" */
#define MEMFD_MAX_IDS (1u << 20)
#define MEMFD_MAX_EXTENTS (1u << 20)
#define SEALS_KNOWN                                                                                \
	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE |          \
	 F_SEAL_EXEC)

/* ---- dump ---- */

struct memfd_table {
	struct memfd_seen {
		uint64_t dev, ino;
		pid_t pid;	  /* the task the dump met it in first, */
		const char *what; /* ... and where ("fd 3", "mapping 0x...-0x...") */
	} * objs;		  /* by id */
	uint32_t n, cap;
	bool probed;
	uint64_t shm_dev; /* the device of the kernel's tmpfs of memfds */
};

static struct memfd_table *table(struct dump_ctx *ctx)
{
	if (!ctx->memfds)
		ctx->memfds = arena_alloc(&ctx->arena, sizeof(*ctx->memfds));
	return ctx->memfds;
}

/* The id of (dev, ino) if the dump met it already, else -1 */
static int64_t find_id(struct memfd_table *mt, uint64_t dev, uint64_t ino)
{
	for (uint32_t i = 0; mt && i < mt->n; i++)
		if (mt->objs[i].dev == dev && mt->objs[i].ino == ino)
			return i;
	return -1;
}

/* Is a file of this device and kind a memfd? A probe memfd of cryo's own tells the device of
 * the kernel's internal tmpfs (one for the whole system). 1: a memfd, 0: not, <0: error. */
static int is_memfd_dev(struct dump_ctx *ctx, uint64_t dev, long f_type)
{
	struct memfd_table *mt = table(ctx);
	struct stat st;

	if (!mt)
		return -ENOMEM;
	if (!mt->probed) {
		int fd = memfd_create("cryo-probe", MFD_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			int err = errno;
			pr_errno(err, "cannot make a memfd to learn where memfds live");
			if (fd >= 0)
				close(fd);
			return -err;
		}
		close(fd);
		mt->shm_dev = st.st_dev;
		mt->probed = true;
	}
	return f_type == TMPFS_MAGIC && dev == mt->shm_dev;
}

/* "NAME" of "/memfd:NAME (deleted)" */
static char *name_of(struct arena *a, const char *link)
{
	size_t l = strlen(link), pl = strlen(MEMFD_PREFIX), sl = strlen(DELETED_SUFFIX);
	char *name;

	if (l < pl + sl || strncmp(link, MEMFD_PREFIX, pl) || strcmp(link + l - sl, DELETED_SUFFIX))
		return NULL;
	name = arena_alloc(a, l - pl - sl + 1);
	if (name) {
		memcpy(name, link + pl, l - pl - sl);
		name[l - pl - sl] = 0;
	}
	return name;
}

/* The object read through src (cryo's own read-only description of it): attributes, seals,
 * data ranges into memfd-ID.img. `what` names the holder in messages ("fd 3"). */
static int save_object(struct dump_ctx *ctx, struct dump_task *t, int src, const char *link,
		       const char *what, uint32_t id, MemfdObject **out)
{
	MemfdObject *m = A_NEW(&ctx->arena, MemfdObject, MEMFD_OBJECT);
	char who[64], desc[300];
	struct stat st;
	int seals, ret = 0;

	if (!m)
		return -ENOMEM;
	m->name = name_of(&ctx->arena, link);
	if (!m->name || strlen(m->name) > MEMFD_NAME_MAX) {
		pr_err("task %d: %s: the memfd name in '%s' is not one memfd_create gives", t->pid,
		       what, link);
		return -ENOTSUP;
	}
	seals = fcntl(src, F_GET_SEALS);
	if (fstat(src, &st) < 0 || seals < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: %s: cannot read the memfd %s", t->pid, what, link);
		return ret;
	}
	if ((unsigned)seals & ~(unsigned)SEALS_KNOWN) {
		pr_err("task %d: %s: the memfd %s has seals %#x, some unknown to cryo", t->pid,
		       what, link, seals);
		return -ENOTSUP;
	}
	m->size = st.st_size, m->seals = (uint32_t)seals, m->mode = st.st_mode;
	m->uid = st.st_uid, m->gid = st.st_gid;
	m->has_atime_ns = m->has_mtime_ns = true;
	m->atime_ns = (uint64_t)st.st_atim.tv_sec * 1000000000ull + (uint64_t)st.st_atim.tv_nsec;
	m->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;

	snprintf(who, sizeof(who), "task %d: %s", t->pid, what);
	snprintf(desc, sizeof(desc), "the memfd %s", link);
	ret = extents_dump(ctx, src, st.st_size, IMG_MEMFD, (int)id, &m->extents, &m->n_extents,
			   who, desc);
	if (ret)
		return ret;
	pr_info("task %d: %s: memfd %u '%s': %lu bytes in %zu data ranges, seals %#x, mode %o, "
		"owner %u:%u",
		t->pid, what, id, m->name, m->size, m->n_extents, m->seals, m->mode, m->uid,
		m->gid);
	*out = m;
	return 0;
}

/* A new object (dev, ino) read through the file `path` opens (read-only): its id, and the
 * object into *out. 1: not a memfd after all. */
static int note_new(struct dump_ctx *ctx, struct dump_task *t, const char *path, const char *link,
		    const char *what, uint64_t dev, uint64_t ino, uint32_t *id, MemfdObject **out)
{
	struct memfd_table *mt = table(ctx);
	struct statfs sfs;
	struct stat st;
	int src, ret;

	if (!mt)
		return -ENOMEM;
	/* O_NOATIME: saving it must not change it */
	src = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (src < 0 && errno == EPERM)
		src = open(path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		ret = -errno;
		if (ret == -EPERM || ret == -EACCES)
			pr_err("task %d: %s is the memfd %s, which cryo cannot open to read it "
			       "(%s): not supported",
			       t->pid, what, link,
			       strstr(path, "/map_files/")
				   ? "no descriptor holds it, and /proc/PID/map_files needs "
				     "CAP_CHECKPOINT_RESTORE"
				   : strerror(-ret));
		else
			pr_errno(-ret, "task %d: %s: cannot open the memfd %s", t->pid, what, link);
		return ret == -EPERM || ret == -EACCES ? -ENOTSUP : ret;
	}
	if (fstat(src, &st) < 0 || fstatfs(src, &sfs) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: %s: cannot stat the memfd %s", t->pid, what, link);
		close(src);
		return ret;
	}
	if ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino) {
		pr_err("task %d: %s: %s opens another file than it shows", t->pid, what, path);
		close(src);
		return -ESTALE;
	}
	if (sfs.f_type == HUGETLBFS_MAGIC) {
		pr_err("task %d: %s is a hugetlb memfd (%s, MFD_HUGETLB): not supported yet",
		       t->pid, what, link);
		close(src);
		return -ENOTSUP;
	}
	ret = is_memfd_dev(ctx, st.st_dev, (long)sfs.f_type);
	if (ret <= 0) {
		close(src);
		return ret < 0 ? ret : 1;
	}
	if (mt->n == MEMFD_MAX_IDS) {
		pr_err("task %d: %s: more than %u memfds in the tree", t->pid, what, MEMFD_MAX_IDS);
		close(src);
		return -ENOTSUP;
	}
	if (mt->n == mt->cap) {
		uint32_t cap = mt->cap ? mt->cap * 2 : 16;
		struct memfd_seen *o = arena_alloc(&ctx->arena, cap * sizeof(*o));
		if (!o) {
			close(src);
			return -ENOMEM;
		}
		if (mt->n)
			memcpy(o, mt->objs, mt->n * sizeof(*o));
		mt->objs = o, mt->cap = cap;
	}
	ret = save_object(ctx, t, src, link, what, mt->n, out);
	close(src);
	if (ret)
		return ret;
	mt->objs[mt->n] = (struct memfd_seen){dev, ino, t->pid, arena_strdup(&ctx->arena, what)};
	*id = mt->n++;
	return 0;
}

uint32_t memfd_dump_count(const struct dump_ctx *ctx, uint64_t *dev)
{
	if (!ctx->memfds || !ctx->memfds->probed)
		return 0;
	*dev = ctx->memfds->shm_dev;
	return ctx->memfds->n;
}

void memfd_dump_key(const struct dump_ctx *ctx, uint32_t id, uint64_t *dev, uint64_t *ino)
{
	*dev = ctx->memfds->objs[id].dev;
	*ino = ctx->memfds->objs[id].ino;
}

bool memfd_dump_holder(const struct dump_ctx *ctx, uint64_t dev, uint64_t ino, pid_t *pid,
		       const char **what)
{
	int64_t id = find_id(ctx->memfds, dev, ino);
	if (id < 0)
		return false;
	*pid = ctx->memfds->objs[id].pid;
	*what = ctx->memfds->objs[id].what ? ctx->memfds->objs[id].what : "?";
	return true;
}

static bool memfd_recognise(const struct fd_info *fi)
{
	size_t l = strlen(fi->link), sl = strlen(DELETED_SUFFIX);
	return !strncmp(fi->link, MEMFD_PREFIX, strlen(MEMFD_PREFIX)) && l > sl &&
	       !strcmp(fi->link + l - sl, DELETED_SUFFIX) && fi->has_st &&
	       S_ISREG(fi->st.st_mode) && fi->st.st_nlink == 0;
}

static int memfd_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		      FdEntry *e)
{
	int64_t known = find_id(ctx->memfds, fi->st.st_dev, fi->st.st_ino);
	char path[64], what[32];
	uint32_t id;
	int ret;

	snprintf(what, sizeof(what), "fd %d", fi->fd);
	if (fi->flags & O_PATH) {
		pr_err("task %d: fd %d is an O_PATH descriptor of the memfd %s: not supported yet",
		       t->pid, fi->fd, fi->link);
		return -ENOTSUP;
	}
	if (known >= 0) {
		id = (uint32_t)known;
	} else {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", t->pid, fi->fd);
		ret = note_new(ctx, t, path, fi->link, what, fi->st.st_dev, fi->st.st_ino, &id,
			       &e->memfd);
		if (ret == 1) {
			/* a deleted file of a tmpfs that only looks like one: a ghost */
			e->kind = FD_KIND__FD_REG;
			return named_dump(ctx, t, fi, e);
		}
		if (ret)
			return ret;
	}
	e->has_memfd_id = true;
	e->memfd_id = id;
	return 0;
}

int memfd_dump_vma(struct dump_ctx *ctx, struct dump_task *t, unsigned dev_major,
		   unsigned dev_minor, uint64_t ino, Vma *v)
{
	uint64_t dev = makedev(dev_major, dev_minor);
	int64_t known = find_id(ctx->memfds, dev, ino);
	char path[96], what[64];
	uint32_t id;
	int ret;

	if (known >= 0) {
		id = (uint32_t)known;
	} else {
		char link[4096];
		ssize_t n;
		snprintf(what, sizeof(what), "mapping %#lx-%#lx", v->start, v->end);
		snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", t->pid, v->start,
			 v->end);
		/* the link tells the name exactly (the maps line ends at a newline in it) */
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0)
			link[n] = 0;
		else
			snprintf(link, sizeof(link), "%s", v->name ? v->name : "");
		ret = note_new(ctx, t, path, link, what, dev, ino, &id, &v->memfd);
		if (ret == 1)
			return 1; /* a deleted file of a tmpfs that only looks like one: a ghost */
		if (ret)
			return ret;
	}
	v->has_memfd_id = true;
	v->memfd_id = id;
	return 0;
}

/* ---- restore ---- */

static struct svc_file *global_of(struct restore_ctx *ctx, uint32_t id)
{
	return id < ctx->nr_memfds ? &ctx->globals[ctx->memfds[id]] : NULL;
}

static int image_size_check(struct restore_ctx *ctx, uint32_t id, const MemfdObject *m)
{
	char img[64];
	uint64_t size, sum = 0;
	int fd;

	for (size_t i = 0; i < m->n_extents; i++)
		sum += m->extents[i]->len;
	img_name(IMG_MEMFD, (int)id, img, sizeof(img));
	fd = img_raw_open(ctx->dirfd, IMG_MEMFD, (int)id, &size);
	if (fd < 0)
		return fd;
	close(fd);
	if (size != sum) {
		pr_err("%s holds %lu bytes, but memfd %u has %lu bytes of data", img, size, id,
		       sum);
		return -EINVAL;
	}
	return 0;
}

/* One place of memfd id: the next new one holds the object, the others come after it. */
static int plan_one(struct restore_ctx *ctx, const char *img, const char *what, uint32_t id,
		    const MemfdObject *m)
{
	struct svc_file *g;
	int ret;

	if (id > ctx->nr_memfds || (id == ctx->nr_memfds) != !!m) {
		pr_err("%s: %s: memfd %u is out of order (or without its object)", img, what, id);
		return -EINVAL;
	}
	if (id < ctx->nr_memfds)
		return 0;
	if ((ret = image_size_check(ctx, id, m)))
		return ret;
	int *n = realloc(ctx->memfds, (ctx->nr_memfds + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	ctx->memfds = n;
	g = restore_add_global(ctx, (struct svc_file){.kind = SVC_MEMFD, .memfd = m, .fd2 = -1});
	if (!g)
		return -ENOMEM;
	n[ctx->nr_memfds++] = (int)(g - ctx->globals);
	return 0;
}

int memfd_plan(struct restore_ctx *ctx)
{
	char img[64], what[64];
	int ret;

	/* in the dump's order: every task's descriptors, then every task's mappings, then the
	 * files in flight */
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		img_name(IMG_FILES, t->pid, img, sizeof(img));
		for (size_t k = 0; !t->zombie && k < t->files->n_fds; k++) {
			FdEntry *e = t->files->fds[k];
			if (e->kind != FD_KIND__FD_MEMFD)
				continue;
			snprintf(what, sizeof(what), "fd %d", e->fd);
			if (e->has_dup_of) {
				/* a reference to a description before it: no object of its own */
				if (e->memfd || e->memfd_id >= ctx->nr_memfds)
					return files_refuse(img, "fd %d: memfd %u is out of order",
							    e->fd, e->memfd_id);
				continue;
			}
			if ((ret = plan_one(ctx, img, what, e->memfd_id, e->memfd)))
				return ret;
			struct svc_file *g = global_of(ctx, e->memfd_id);
			/* the first read-write description is the one memfd_create makes */
			if (!g->primary_r && (e->flags & O_ACCMODE) == O_RDWR)
				g->primary_r = e;
		}
	}
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		img_name(IMG_MM, t->pid, img, sizeof(img));
		for (size_t k = 0; !t->zombie && k < t->mm->n_vmas; k++) {
			Vma *v = t->mm->vmas[k];
			if (v->kind != VMA_KIND__VMA_MEMFD)
				continue;
			snprintf(what, sizeof(what), "mapping %#lx", v->start);
			if ((ret = plan_one(ctx, img, what, v->memfd_id, v->memfd)))
				return ret;
			struct svc_file *g = global_of(ctx, v->memfd_id);
			if ((v->flags & MAP_SHARED) && !(v->prot & PROT_WRITE) &&
			    !(v->madvise & CRYO_VMA_MAYWRITE) && g->fd2 < 0)
				g->fd2 = restore_alloc_fd(ctx);
		}
	}
	/* then the files in flight, saved once every task was walked (inflight.c) */
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		img_name(IMG_FILES, t->pid, img, sizeof(img));
		for (size_t k = 0; !t->zombie && k < t->files->n_inflight; k++) {
			FdEntry *e = t->files->inflight[k];
			if (e->kind != FD_KIND__FD_MEMFD || e->has_dup_of || e->has_inflight_same)
				continue;
			snprintf(what, sizeof(what), "file in flight %zu", k);
			if ((ret = plan_one(ctx, img, what, e->memfd_id, e->memfd)))
				return ret;
			struct svc_file *g = global_of(ctx, e->memfd_id);
			if (!g->primary_r && (e->flags & O_ACCMODE) == O_RDWR)
				g->primary_r = e;
		}
	}
	return 0;
}

int memfd_vma_fd(struct restore_ctx *ctx, const Vma *v)
{
	struct svc_file *g = global_of(ctx, v->memfd_id);
	if (!g) /* memfd_plan saw every one */
		return -EINVAL;
	/* a shared mapping that may never be made writable is mapped from a read-only
	 * description: without VM_MAYWRITE, as it was (and a write seal allows it) */
	if ((v->flags & MAP_SHARED) && !(v->prot & PROT_WRITE) && !(v->madvise & CRYO_VMA_MAYWRITE))
		return g->fd2;
	return g->fd;
}

static int write_content(struct restore_ctx *ctx, struct restore_task *root, uint32_t id,
			 const MemfdObject *m, int dst)
{
	char what[300];

	snprintf(what, sizeof(what), "memfd %u (%s)", id, m->name);
	if (extents_restore(ctx, root, IMG_MEMFD, (int)id, dst, m->extents, m->n_extents, m->size,
			    what))
		return -1;
	if (lseek(dst, 0, SEEK_SET) < 0) {
		child_fail(root, errno, "cannot write the content of %s", what);
		return -1;
	}
	return 0;
}

/* In the root, before the tree exists: the memfd, its content, size, owner and mode. */
int restore_memfd_global_child(struct restore_ctx *ctx, struct svc_file *g)
{
	struct restore_task *root = &ctx->tasks[0];
	const MemfdObject *m = g->memfd;
	uint32_t id = 0;
	char self[64];
	int fd;

	while (id < ctx->nr_memfds && &ctx->globals[ctx->memfds[id]] != g)
		id++;
	/* created executable or not as the seals and mode tell; sealing always allowed, the
	 * seals it had come later (F_SEAL_SEAL among them) */
	bool noexec = (m->seals & F_SEAL_EXEC) && !(m->mode & 0111);
	fd = memfd_create(m->name,
			  MFD_CLOEXEC | MFD_ALLOW_SEALING | (noexec ? MFD_NOEXEC_SEAL : MFD_EXEC));
	if (fd < 0 && errno == EINVAL) /* before Linux 6.3: no such flags, executable */
		fd = memfd_create(m->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		child_fail(root, errno, "cannot create memfd %u (%s)%s", id, m->name,
			   errno == EACCES ? " (vm.memfd_noexec forbids executable memfds)" : "");
		return -1;
	}
	if (write_content(ctx, root, id, m, fd)) {
		close(fd);
		return -1;
	}
	if (fchown(fd, m->uid, m->gid) < 0 || fchmod(fd, m->mode & 07777) < 0) {
		child_fail(root, errno, "cannot give memfd %u (%s) its owner %u:%u and mode %o", id,
			   m->name, m->uid, m->gid, m->mode & 07777);
		close(fd);
		return -1;
	}
	/* the times last: the writes above set them */
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
	if (m->has_atime_ns)
		ts[0] = (struct timespec){.tv_sec = (time_t)(m->atime_ns / 1000000000ull),
					  .tv_nsec = (long)(m->atime_ns % 1000000000ull)};
	if (m->has_mtime_ns)
		ts[1] = (struct timespec){.tv_sec = (time_t)(m->mtime_ns / 1000000000ull),
					  .tv_nsec = (long)(m->mtime_ns % 1000000000ull)};
	if (futimens(fd, ts) < 0) {
		child_fail(root, errno, "cannot give memfd %u (%s) its times", id, m->name);
		close(fd);
		return -1;
	}
	if (restore_place_fd(root, fd, g->fd, "a memfd"))
		return -1;
	if (g->fd2 >= 0) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", g->fd);
		if (restore_place_fd(root, open(self, O_RDONLY | O_CLOEXEC), g->fd2,
				     "a read-only description of a memfd"))
			return -1;
	}
	return 0;
}

/* A task's description: the memfd_create one (its own status flags), or a new one. */
static int memfd_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	struct svc_file *g = global_of(ctx, e->memfd_id);
	char self[64];
	int fd;

	if (!g) { /* validated */
		child_fail(t, EINVAL, "fd %d: memfd %u is unknown", e->fd, e->memfd_id);
		return -1;
	}
	if (e == g->primary_r) {
		fd = dup(g->fd);
		if (fd >= 0 && fcntl(fd, F_SETFL, flags) < 0) {
			child_fail(t, errno, "cannot set the flags %#o of fd %d (memfd %u)", flags,
				   e->fd, e->memfd_id);
			close(fd);
			return -1;
		}
	} else {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", g->fd);
		fd = open(self, flags);
	}
	if (fd < 0) {
		child_fail(t, errno, "cannot open fd %d (memfd %u, %s)", e->fd, e->memfd_id,
			   g->memfd->name);
		return -1;
	}
	if (lseek(fd, (off_t)e->pos, SEEK_SET) < 0) {
		child_fail(t, errno, "cannot seek fd %d (memfd %u) to %lu", e->fd, e->memfd_id,
			   e->pos);
		close(fd);
		return -1;
	}
	return fd;
}

int restore_memfd_seals(struct restore_ctx *ctx)
{
	struct restore_task *root = &ctx->tasks[0];

	for (uint32_t id = 0; id < ctx->nr_memfds; id++) {
		struct svc_file *g = global_of(ctx, id);
		uint32_t want = g->memfd->seals;
		long rv = 0;
		if (want)
			rv = rsys3(&root->rem, __NR_fcntl, g->fd, F_ADD_SEALS, want);
		if (rv >= 0)
			rv = rsys2(&root->rem, __NR_fcntl, g->fd, F_GET_SEALS);
		if (rv < 0 || (uint32_t)rv != want) {
			pr_errno(rv < 0 ? (int)-rv : EINVAL,
				 "task %d: cannot give memfd %u (%s) its seals %#x (it has %#lx)",
				 root->pid, id, g->memfd->name, want, rv);
			return rv < 0 ? (int)rv : -EINVAL;
		}
	}
	return 0;
}

static int object_validate(const char *img, const char *what, const MemfdObject *m)
{
	uint64_t end = 0;

	if (!m->name || strlen(m->name) > MEMFD_NAME_MAX)
		return files_refuse(img, "%s: the memfd's name is invalid", what);
	if (m->size > INT64_MAX)
		return files_refuse(img, "%s: memfd size %lu out of range", what, m->size);
	if (m->seals & ~(uint32_t)SEALS_KNOWN)
		return files_refuse(img, "%s: memfd seals %#x unknown", what, m->seals);
	if (!S_ISREG(m->mode) || m->mode & ~(uint32_t)(S_IFMT | 07777))
		return files_refuse(img, "%s: memfd mode %#o is invalid", what, m->mode);
	if (m->n_extents > MEMFD_MAX_EXTENTS)
		return files_refuse(img, "%s: %zu data ranges", what, m->n_extents);
	for (size_t j = 0; j < m->n_extents; j++) {
		const GhostExtent *x = m->extents[j];
		if (x->off < end || x->len == 0 || x->len > m->size || x->off > m->size - x->len)
			return files_refuse(img,
					    "%s: memfd data range %zu (%lu+%lu) is out of order "
					    "or beyond its size %lu",
					    what, j, x->off, x->len, m->size);
		end = x->off + x->len;
	}
	return 0;
}

static int memfd_validate(const char *img, const Files *f, const FdEntry *e)
{
	char what[32];
	(void)f;
	snprintf(what, sizeof(what), "fd %d", e->fd);
	if (!e->has_memfd_id || e->memfd_id >= MEMFD_MAX_IDS)
		return files_refuse(img, "fd %d: a memfd without a valid memfd_id", e->fd);
	if ((e->has_mode && !S_ISREG(e->mode)) || e->path || (e->flags & O_PATH))
		return files_refuse(img, "fd %d: not a memfd's mode, path or flags", e->fd);
	return e->memfd ? object_validate(img, what, e->memfd) : 0;
}

int memfd_vma_validate(const char *img, const Vma *v)
{
	char what[64];
	snprintf(what, sizeof(what), "mapping %#lx", v->start);
	if (v->kind != VMA_KIND__VMA_MEMFD)
		return v->has_memfd_id || v->memfd
			   ? files_refuse(img, "%s: memfd fields on another kind", what)
			   : 0;
	if (!v->has_memfd_id || v->memfd_id >= MEMFD_MAX_IDS || v->path || v->has_ghost_file)
		return files_refuse(img, "%s: a memfd mapping without a valid memfd_id", what);
	return v->memfd ? object_validate(img, what, v->memfd) : 0;
}

const struct fd_ops fd_memfd_ops = {
    .name = "a memfd",
    .names = "memfds",
    .kind = FD_KIND__FD_MEMFD,
    .recognise = memfd_recognise,
    .dump = memfd_dump,
    .restore = memfd_open,
    .validate = memfd_validate,
};
