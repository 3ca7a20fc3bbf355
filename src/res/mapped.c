/* The objects behind mappings, for a dump (see mapped.h).
 *
 * Files: /proc/PID/map_files/START-END is a link to the very file mapped; stat() through it
 * needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE. Without them the mapping's path in the maps
 * and its device and inode there are all cryo has: the path is opened (no symbolic link
 * followed) and must hold that device and inode, or the dump refuses the mapping. Either way
 * the path is checked, since it is what the restore will open.
 *
 * Shared anonymous memory: read through its map_files link, lseek(SEEK_DATA) finds the pages
 * the object holds, whether this task ever touched them or not. Without the link, the task is
 * asked with mincore() (remote call), which tells for a shared mapping whether each page is
 * in the object's page cache (or swap cache), independently of the task's page tables; pages
 * moved out to swap are invisible to it, so a mapping with any of them (the "Swap:" of its
 * smaps, looked at before and after) is refused. The pages found are read through
 * /proc/PID/mem: reading a page that does not exist would create it in the running tree.
 * The page images hold memory by address: data of an object that no mapping of the tree
 * shows (a part unmapped, which a later mremap shows again) is read through map_files and
 * saved beside the object's first mapping. Without map_files cryo cannot see it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/util.h"
#include "res/mapped.h"

/* ---- files ---- */

static bool closed_to_us(int err)
{
	return err == EPERM || err == EACCES;
}

/* The path, opened as it is: a symbolic link on the way would make it another file. */
static int stat_path(const char *path, struct stat *st)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how)), ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The restore maps m->path: it must lead to the file mapped (dev, ino). */
static int check_path(struct dump_task *t, const struct mapping_id *m, uint64_t dev, uint64_t ino,
		      bool no_link, struct stat *st)
{
	const char *why = no_link
			      ? " (and /proc/PID/map_files, which needs CAP_CHECKPOINT_RESTORE, "
				"is closed to cryo)"
			      : "";
	int ret = stat_path(m->path, st);

	if (ret) {
		pr_errno(-ret,
			 "task %d: mapping %#lx-%#lx: cannot open %s, the file it maps, by its "
			 "path%s; the restore could not map it",
			 t->pid, m->start, m->end, m->path, why);
		return ret;
	}
	if ((uint64_t)st->st_dev != dev || (uint64_t)st->st_ino != ino) {
		pr_err(
		    "task %d: mapping %#lx-%#lx maps device %u:%u inode %lu, but %s is now device "
		    "%u:%u inode %lu%s: the restore could not map the same file",
		    t->pid, m->start, m->end, major(dev), minor(dev), ino, m->path,
		    major(st->st_dev), minor(st->st_dev), (uint64_t)st->st_ino, why);
		return -ESTALE;
	}
	return 0;
}

int mapped_file_identify(struct dump_ctx *ctx, struct dump_task *t, const struct mapping_id *m,
			 const struct mapped_file **out)
{
	char link[96];
	struct stat st;
	bool has_size = true, no_link = false;
	int ret;

	/* a tree maps the same few files (the program, libc, ld.so) in many VMAs of every task */
	for (int i = 0; i < ctx->nr_mapped_files; i++) {
		const struct mapped_file *f = &ctx->mapped_files[i];
		if (f->ino != m->ino || f->dev_major != m->dev_major ||
		    f->dev_minor != m->dev_minor)
			continue;
		/* another name (a hard link) of a file seen already: it must lead there too */
		if (!m->anon_shared && strcmp(f->path, m->path) &&
		    (ret = check_path(t, m, f->st_dev, f->st_ino, false, &st)))
			return ret;
		*out = f;
		return 0;
	}
	snprintf(link, sizeof(link), "/proc/%d/map_files/%lx-%lx", t->pid, m->start, m->end);
	if (stat(link, &st) < 0) {
		ret = -errno;
		if (!closed_to_us(-ret)) {
			pr_errno(-ret, "task %d: cannot stat the file mapped at %#lx-%#lx (%s)",
				 t->pid, m->start, m->end, m->path);
			return ret;
		}
		/* what the maps say is the identity; the path is checked against it below */
		no_link = true;
		st.st_dev = makedev(m->dev_major, m->dev_minor);
		st.st_ino = m->ino;
		st.st_size = 0;
		has_size = false;
	}
	if (!m->anon_shared) {
		struct stat at;
		if ((ret = check_path(t, m, st.st_dev, st.st_ino, no_link, &at)))
			return ret;
		st.st_size = at.st_size;
		has_size = true;
	}
	if (!(ctx->nr_mapped_files & 15)) {
		struct mapped_file *n =
		    realloc(ctx->mapped_files, (ctx->nr_mapped_files + 16) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		ctx->mapped_files = n;
	}
	struct mapped_file *f = &ctx->mapped_files[ctx->nr_mapped_files++];
	*f = (struct mapped_file){.dev_major = m->dev_major,
				  .dev_minor = m->dev_minor,
				  .ino = m->ino,
				  .st_dev = st.st_dev,
				  .st_ino = st.st_ino,
				  .st_size = st.st_size,
				  .has_size = has_size,
				  .path = arena_strdup(&ctx->arena, m->path)};
	if (!f->path) {
		ctx->nr_mapped_files--;
		return -ENOMEM;
	}
	*out = f;
	return 0;
}

/* ---- shared anonymous memory ---- */

struct shmem_vma {
	uint64_t start, end;
	uint64_t swap_kb;
};

/* The task's shared anonymous mappings, with the swap each has (from smaps), or without
 * (from maps, much cheaper to read) */
static int list_shmem(pid_t pid, bool smaps, struct shmem_vma **out, int *nr)
{
	char path[64], *buf, *line, *save;
	struct shmem_vma *v = NULL;
	int n = 0, cap = 0;
	bool in = false;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, smaps ? "smaps" : "maps");
	len = read_file_alloc(path, &buf);
	if (len < 0) {
		pr_errno((int)-len, "cannot read %s", path);
		return (int)len;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e, off, ino;
		unsigned maj, mnr;
		char perms[5];
		int pos = 0;
		if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &s, &e, perms, &off, &maj, &mnr,
			   &ino, &pos) >= 7 &&
		    pos) {
			in = mapping_is_anon_shared(perms, line + pos);
			if (!in)
				continue;
			if (n == cap) {
				struct shmem_vma *nv = realloc(v, (cap = cap * 2 + 8) * sizeof(*v));
				if (!nv) {
					free(v);
					free(buf);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n++] = (struct shmem_vma){s, e, 0};
		} else if (in && !strncmp(line, "Swap:", 5)) {
			v[n - 1].swap_kb = strtoull(line + 5, NULL, 10);
		}
	}
	free(buf);
	*out = v;
	*nr = n;
	return 0;
}

static int refuse_swapped(struct dump_task *t, const struct shmem_vma *v, int nr)
{
	for (int i = 0; i < nr; i++)
		if (v[i].swap_kb) {
			pr_err("task %d: shared memory at %#lx-%#lx has %lu kB in swap: without "
			       "CAP_CHECKPOINT_RESTORE (for /proc/PID/map_files) cryo cannot tell "
			       "which of its pages they are",
			       t->pid, v[i].start, v[i].end, v[i].swap_kb);
			return -ENOTSUP;
		}
	return 0;
}

static int ask_mincore(struct dump_ctx *ctx, struct dump_task *t, struct shmem_resident *r)
{
	uint64_t scratch = remote_scratch(&t->rem), room = remote_scratch_size(&t->rem);
	uint64_t pages = (r->end - r->start) / PAGE_SIZE;

	r->vec = arena_alloc(&ctx->arena, pages);
	if (!r->vec)
		return -ENOMEM;
	for (uint64_t done = 0; done < pages;) {
		uint64_t n = pages - done < room ? pages - done : room;
		long rv = rsys3(&t->rem, __NR_mincore, r->start + done * PAGE_SIZE, n * PAGE_SIZE,
				scratch);
		int ret = rv < 0 ? (int)rv : remote_read(t->pid, scratch, r->vec + done, n);
		if (ret) {
			pr_errno(-ret,
				 "task %d: cannot ask which pages of its shared memory at %#lx "
				 "exist (mincore)",
				 t->pid, r->start);
			return ret;
		}
		done += n;
	}
	return 0;
}

int shmem_ask_resident(struct dump_ctx *ctx, struct dump_task *t)
{
	struct shmem_vma *v = NULL, *after = NULL;
	int nr = 0, nr_after = 0, ret, fd;
	char link[96];

	ret = list_shmem(t->pid, false, &v, &nr);
	if (ret || !nr)
		goto out;
	snprintf(link, sizeof(link), "/proc/%d/map_files/%lx-%lx", t->pid, v[0].start, v[0].end);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || !closed_to_us(errno)) {
		/* open to cryo (or failing otherwise: pages.c will say how) */
		if (fd >= 0)
			close(fd);
		goto out;
	}
	free(v);
	v = NULL;
	if ((ret = list_shmem(t->pid, true, &v, &nr)) || (ret = refuse_swapped(t, v, nr)))
		goto out;
	t->shmem_res = arena_alloc(&ctx->arena, nr * sizeof(*t->shmem_res));
	if (!t->shmem_res) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < nr && !ret; i++) {
		struct shmem_resident *r = &t->shmem_res[t->nr_shmem_res++];
		r->start = v[i].start, r->end = v[i].end;
		ret = ask_mincore(ctx, t, r);
	}
	/* a page that went out to swap meanwhile would have been missed */
	if (!ret && !(ret = list_shmem(t->pid, true, &after, &nr_after)))
		ret = refuse_swapped(t, after, nr_after);
	if (!ret)
		pr_info("task %d: %d shared anonymous mappings, their pages found with mincore "
			"(map_files is closed to cryo)",
			t->pid, nr);
out:
	free(v);
	free(after);
	return ret;
}

const uint8_t *shmem_resident(const struct dump_task *t, uint64_t start, uint64_t end)
{
	for (int i = 0; i < t->nr_shmem_res; i++)
		if (t->shmem_res[i].start == start && t->shmem_res[i].end == end)
			return t->shmem_res[i].vec;
	return NULL;
}

/* ---- data of a shared anonymous object that no mapping shows ---- */

struct shmem_seen {
	uint64_t ino;
	uint64_t off, len; /* what one mapping shows of the object, bytes */
	pid_t pid;
	Vma *v;
};

static int seen_cmp(const void *a, const void *b)
{
	const struct shmem_seen *x = a, *y = b;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* The first byte of [data, hole) that none of s[0..n) (sorted by offset) covers, or hole */
static uint64_t first_uncovered(const struct shmem_seen *s, int n, uint64_t data, uint64_t hole)
{
	for (int i = 0; i < n && data < hole; i++)
		if (s[i].off <= data && s[i].off + s[i].len > data)
			data = s[i].off + s[i].len;
	return data < hole ? data : hole;
}

/* [off, off + len) of the object behind fd, read into an extent of the first mapping */
static int save_extent(struct dump_ctx *ctx, const struct shmem_seen *s, int fd, uint64_t off,
		       uint64_t len, uint64_t *total)
{
	Vma *v = s[0].v;

	if (len > SHMEM_HIDDEN_MAX - *total) {
		pr_err("task %d: shared memory at %#lx-%#lx: its object holds data at offsets "
		       "%#lx-%#lx that no mapping of the tree shows, more than the %lu MiB of such "
		       "data one dump saves",
		       s[0].pid, v->start, v->end, off, off + len, SHMEM_HIDDEN_MAX >> 20);
		return -ENOTSUP;
	}
	ShmemExtent *e = A_NEW(&ctx->arena, ShmemExtent, SHMEM_EXTENT);
	ShmemExtent **list = arena_alloc(&ctx->arena, (v->n_shmem_hidden + 1) * sizeof(*list));
	uint8_t *data = arena_alloc(&ctx->arena, len);
	if (!e || !list || !data)
		return -ENOMEM;
	for (uint64_t done = 0; done < len;) {
		ssize_t n = pread(fd, data + done, len - done, (off_t)(off + done));
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			pr_errno(
			    err,
			    "task %d: cannot read its shared memory at %#lx-%#lx at offset %#lx "
			    "of the object (data no mapping shows)",
			    s[0].pid, v->start, v->end, off + done);
			return -err;
		}
		done += (uint64_t)n;
	}
	if (v->n_shmem_hidden)
		memcpy(list, v->shmem_hidden, v->n_shmem_hidden * sizeof(*list));
	e->off = off;
	e->data.data = data, e->data.len = len;
	list[v->n_shmem_hidden++] = e;
	v->shmem_hidden = list;
	*total += len;
	pr_info("task %d: shared memory at %#lx-%#lx: %lu bytes at offset %#lx of its object "
		"that no mapping shows, saved",
		s[0].pid, v->start, v->end, len, off);
	return 0;
}

/* One object (s[0..n), its mappings in the tree): its data outside them saved */
static int save_object(struct dump_ctx *ctx, const struct shmem_seen *s, int n, uint64_t *total)
{
	char link[96];
	off_t pos = 0;
	int fd, ret = 0;

	snprintf(link, sizeof(link), "/proc/%d/map_files/%lx-%lx", s[0].pid, s[0].v->start,
		 s[0].v->end);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd < 0) /* pages.c says why, or (closed to cryo) finds the pages with mincore */
		return 0;
	while (!ret) {
		off_t data = lseek(fd, pos, SEEK_DATA), hole;
		if (data < 0)
			break; /* ENXIO: no data after pos */
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			break;
		uint64_t d = (uint64_t)data & ~(PAGE_SIZE - 1), h = PAGE_ALIGN((uint64_t)hole);
		while (!ret && (d = first_uncovered(s, n, d, h)) < h) {
			uint64_t upto = h;
			for (int i = 0; i < n; i++)
				if (s[i].off > d && s[i].off < upto)
					upto = s[i].off;
			ret = save_extent(ctx, s, fd, d, upto - d, total);
			d = upto;
		}
		pos = (off_t)h;
	}
	close(fd);
	return ret;
}

int shmem_save_hidden(struct dump_ctx *ctx)
{
	struct shmem_seen *s = NULL;
	int n = 0, cap = 0, ret = 0;
	uint64_t total = 0;

	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		if (t->zombie || !t->mm)
			continue;
		for (size_t j = 0; j < t->mm->n_vmas; j++) {
			Vma *v = t->mm->vmas[j];
			if (v->kind != VMA_KIND__VMA_ANON_SHARED || !v->has_ino)
				continue;
			if (n == cap) {
				struct shmem_seen *ns =
				    realloc(s, (cap = cap * 2 + 16) * sizeof(*s));
				if (!ns) {
					free(s);
					return -ENOMEM;
				}
				s = ns;
			}
			s[n++] =
			    (struct shmem_seen){v->ino, v->pgoff, v->end - v->start, t->pid, v};
		}
	}
	if (n)
		sort_n(s, n, sizeof(*s), seen_cmp);
	for (int i = 0, j; i < n && !ret; i = j) {
		for (j = i + 1; j < n && s[j].ino == s[i].ino; j++)
			;
		ret = save_object(ctx, s + i, j - i, &total);
	}
	free(s);
	return ret;
}

/* The object's size in bytes as the restore makes it, for this mapping's image */
static uint64_t shmem_object_size(const Vma *v)
{
	uint64_t size = v->pgoff + v->end - v->start;
	if (v->has_file_size && PAGE_ALIGN(v->file_size) > size)
		size = PAGE_ALIGN(v->file_size);
	return size;
}

int shmem_hidden_check(const Vma *v, const char **why)
{
	uint64_t size = shmem_object_size(v), total = 0, prev_end = 0;

	if (v->n_shmem_hidden && v->kind != VMA_KIND__VMA_ANON_SHARED) {
		*why =
		    "data of a shared object that no mapping shows, on a mapping of another kind";
		return -EINVAL;
	}
	for (size_t i = 0; i < v->n_shmem_hidden; i++) {
		const ShmemExtent *e = v->shmem_hidden[i];
		if (!e->data.len || e->off < prev_end || e->off > size ||
		    e->data.len > size - e->off || e->data.len > SHMEM_HIDDEN_MAX - total) {
			*why = "data of its shared object that no mapping shows is out of the "
			       "object, overlaps or is out of order";
			return -EINVAL;
		}
		prev_end = e->off + e->data.len;
		total += e->data.len;
	}
	return 0;
}

int shmem_hidden_write(int fd, const Vma *v)
{
	for (size_t i = 0; i < v->n_shmem_hidden; i++) {
		const ShmemExtent *e = v->shmem_hidden[i];
		for (size_t done = 0; done < e->data.len;) {
			ssize_t n = pwrite(fd, e->data.data + done, e->data.len - done,
					   (off_t)(e->off + done));
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			done += (size_t)n;
		}
	}
	return 0;
}
