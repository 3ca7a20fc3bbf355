/* Pipes, and the pipe object inside every FIFO (fifo.c gives FIFOs their path).
 *
 * Dump: each description of a pipe end is an fd entry (dups and inherited copies are shared
 * descriptions, shared.c); every entry names its pipe object by a small id, numbered in the
 * order the tree's tasks and fds are walked. Once every task has been walked
 * (pipes_dump_finish) each object is looked at once: its buffer size, and the bytes queued
 * in it, copied without being consumed (a copy of a read end taken with pidfd_getfd, tee(2)
 * into a pipe of cryo's own, read from there). Both go on the object's first entry (its
 * carrier). A pipe one end of which is held outside the tree (found in /proc, or missing
 * from the tree while the kernel says it is open) is refused by name, naming --external
 * (pipe_outside.c);
 * with --external pipe:[INODE] it is saved by that key alone (external_key), its bytes left
 * in the kernel's pipe; so is a FIFO with --external fifo:PATH.
 *
 * Restore: each object is a global (restore.c's plan): the root creates it before it
 * creates any task (pipe2, or the FIFO opened read-write by its path), sets its size, writes
 * the saved bytes back, and holds it at service fds all tasks inherit. A task's description
 * is then the root's own end (the first description of each end) or a new description of the
 * same pipe through /proc/self/fd. The service fds are closed in every task before it runs,
 * so an end no task held is closed then. An external pipe is not made: its service fds are
 * the descriptors given with --inherit-fd (inherit.c), placed there by the root. An external
 * FIFO is opened by its path as any FIFO is, but left as it is found: its size and bytes are
 * those its outside holder kept alive. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/util.h"
#include "files/kind.h"
#include "files/pipe.h"

#define PIPE_MIN_SIZE 4096u
#define PIPE_MAX_SIZE (1u << 30)

/* ---- dump ---- */

static uint32_t hash_key(uint64_t dev, uint64_t ino, uint32_t mask)
{
	uint64_t h = (ino ^ (dev << 32) ^ dev) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & mask;
}

struct pipe_obj *pipe_table_find(struct pipe_table *pt, uint64_t dev, uint64_t ino)
{
	if (!pt || !pt->hcap)
		return NULL;
	for (uint32_t h = hash_key(dev, ino, pt->hcap - 1);; h = (h + 1) & (pt->hcap - 1)) {
		uint32_t i = pt->hash[h];
		if (!i)
			return NULL;
		if (pt->objs[i - 1].dev == dev && pt->objs[i - 1].ino == ino)
			return &pt->objs[i - 1];
	}
}

/* The object of (dev, ino), made on first sight. Everything lives in the dump's arena. */
static struct pipe_obj *table_get(struct dump_ctx *ctx, uint64_t dev, uint64_t ino)
{
	struct pipe_table *pt = ctx->pipes;
	struct pipe_obj *o;

	if (!pt && !(pt = ctx->pipes = arena_alloc(&ctx->arena, sizeof(*pt))))
		return NULL;
	if ((o = pipe_table_find(pt, dev, ino)))
		return o;
	if (pt->n == pt->cap) {
		uint32_t cap = pt->cap ? pt->cap * 2 : 64;
		struct pipe_obj *objs = arena_alloc(&ctx->arena, cap * sizeof(*objs));
		uint32_t *hash = arena_alloc(&ctx->arena, cap * 2 * sizeof(*hash));
		if (!objs || !hash)
			return NULL;
		if (pt->n)
			memcpy(objs, pt->objs, pt->n * sizeof(*objs));
		pt->objs = objs, pt->cap = cap, pt->hash = hash, pt->hcap = cap * 2;
		for (uint32_t i = 0; i < pt->n; i++) {
			uint32_t h = hash_key(objs[i].dev, objs[i].ino, pt->hcap - 1);
			while (hash[h])
				h = (h + 1) & (pt->hcap - 1);
			hash[h] = i + 1;
		}
	}
	o = &pt->objs[pt->n];
	*o = (struct pipe_obj){.dev = dev, .ino = ino, .id = pt->n, .r_task = -1};
	uint32_t h = hash_key(dev, ino, pt->hcap - 1);
	while (pt->hash[h])
		h = (h + 1) & (pt->hcap - 1);
	pt->hash[h] = ++pt->n;
	return o;
}

int pipe_note(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e,
	      bool fifo)
{
	uint32_t acc = fi->flags & O_ACCMODE;
	struct pipe_obj *o;

	if (!(o = table_get(ctx, fi->st.st_dev, fi->st.st_ino)))
		return -ENOMEM;
	if (!o->carrier) {
		o->carrier = e;
		o->fifo = fifo;
		o->path = e->path;
		o->any_task = (int)(t - ctx->tasks), o->any_fd = fi->fd;
		if (fifo)
			ctx->pipes->has_fifo = true;
		else
			ctx->pipes->pipefs_dev = fi->st.st_dev;
	}
	if (acc != O_WRONLY && o->r_task < 0)
		o->r_task = (int)(t - ctx->tasks), o->r_fd = fi->fd;
	if (acc != O_RDONLY) {
		o->has_w = true;
		if (fi->flags & O_DIRECT)
			o->direct = true;
	}
	if (o->nr_descs == o->cap_descs) {
		uint32_t cap = o->cap_descs ? o->cap_descs * 2 : 4;
		struct pipe_desc *d = arena_alloc(&ctx->arena, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		if (o->nr_descs)
			memcpy(d, o->descs, o->nr_descs * sizeof(*d));
		o->descs = d, o->cap_descs = cap;
	}
	o->descs[o->nr_descs++] = (struct pipe_desc){(int)(t - ctx->tasks), fi->fd, e};
	e->has_pipe_id = true;
	e->pipe_id = o->id;
	return 0;
}

int pipe_note_inflight(struct dump_ctx *ctx, const struct fd_info *fi, FdEntry *e)
{
	struct pipe_obj *o =
	    fi->has_st ? pipe_table_find(ctx->pipes, fi->st.st_dev, fi->st.st_ino) : NULL;
	uint32_t acc = fi->flags & O_ACCMODE;

	/* a FIFO's description in flight would need its path opened by the root; an external
	 * pipe is not the tree's to reopen */
	if (!o || o->fifo || o->external || o->outside || strncmp(fi->link, "pipe:", 5))
		return 1;
	if (acc != O_WRONLY)
		o->r_inflight = true;
	if (acc != O_RDONLY) {
		o->w_inflight = true;
		if (fi->flags & O_DIRECT)
			o->direct = true;
	}
	e->kind = FD_KIND__FD_PIPE;
	e->has_pipe_id = true;
	e->pipe_id = o->id;
	return 0;
}

/* shared_find for pipes and FIFOs: only the descriptions of the same object are compared
 * (a thousand pipes would otherwise cost a million kcmp calls). */
FdEntry *pipe_shared_find(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			  pid_t *owner)
{
	struct pipe_obj *o = pipe_table_find(ctx->pipes, fi->st.st_dev, fi->st.st_ino);

	for (uint32_t i = 0; o && i < o->nr_descs; i++) {
		struct dump_task *ot = &ctx->tasks[o->descs[i].task];
		if (syscall(SYS_kcmp, ot->pid, t->pid, KCMP_FILE, o->descs[i].fd, fi->fd) == 0) {
			*owner = ot->pid;
			return o->descs[i].e;
		}
	}
	return NULL;
}

static int pipe_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		     FdEntry *e)
{
	return pipe_note(ctx, t, fi, e, false);
}

static int task_pidfd(struct dump_ctx *ctx, int *pidfds, int idx)
{
	if (pidfds[idx] < 0)
		pidfds[idx] = sys_pidfd_open(ctx->tasks[idx].pid);
	return pidfds[idx];
}

int pipe_take_copy(struct dump_ctx *ctx, int *pidfds, int idx, int fd)
{
	int pidfd = task_pidfd(ctx, pidfds, idx);
	int copy = pidfd < 0 ? -1 : sys_pidfd_getfd(pidfd, fd);
	if (copy < 0)
		pr_errno(errno, "task %d: cannot take a copy of fd %d", ctx->tasks[idx].pid, fd);
	return copy;
}

static void drain(int fd)
{
	char junk[4096];
	while (read(fd, junk, sizeof(junk)) > 0)
		;
}

static int queued_in(int fd)
{
	int n = -1;
	return ioctl(fd, FIONREAD, &n) < 0 ? -1 : n;
}

/* Read len bytes from cryo's copy and say how many left it: more than len when the read
 * ended inside a packet (the kernel drops the rest of a packet a short read leaves). */
static int read_drop(int fd, uint8_t *scratch, int len)
{
	int before = queued_in(fd), after;
	if (len && read(fd, scratch, (size_t)len) < 0)
		return -1;
	after = queued_in(fd);
	return before < 0 || after < 0 ? -1 : before - after;
}

static int push_chunk(FdEntry *c, uint32_t len, bool packet, uint32_t cap)
{
	if (!packet && c->n_pipe_chunk_len && !c->pipe_chunk_packet[c->n_pipe_chunk_len - 1]) {
		c->pipe_chunk_len[c->n_pipe_chunk_len - 1] += len; /* plain runs on */
		return 0;
	}
	if (c->n_pipe_chunk_len == cap)
		return -EIO; /* more than the pipe has buffers: not a pipe's layout */
	c->pipe_chunk_len[c->n_pipe_chunk_len] = len;
	c->pipe_chunk_packet[c->n_pipe_chunk_len++] = packet;
	return 0;
}

/* The queued bytes into buf, copied (tee) without being consumed, and where packets lie in
 * them (measured here: tee keeps each buffer's packet mark).
 *
 * A read of the copy with room for everything stops at the end of a packet: that cuts the
 * bytes into runs, each some plain bytes then one packet (the last run may have no packet).
 * A second copy tells the packet's length in each run: reading 1 byte of a run that begins
 * with a packet drops the whole packet; a run that begins with plain bytes is read up to its
 * last 2 bytes, and if that read dropped more than it took, a packet of 2 bytes or more
 * followed plain bytes in one run (written before and after O_DIRECT was set): refused.
 * Otherwise the run's last byte is a 1-byte packet if the run is not the last (runs end at
 * packets), else plain: a write in packet mode goes into the last buffer when that holds
 * plain bytes and has room (measured), so a packet follows plain bytes only after a full
 * page of them. A read cannot tell a 1-byte packet from 1 plain byte: a last run of 1 byte
 * is taken for a packet when a writer is in packet mode now, for plain bytes if not. */
static int copy_queued(struct dump_ctx *ctx, struct pipe_obj *o, int fd, int mine[2], uint8_t *buf,
		       int queued, uint32_t size)
{
	struct dump_task *t = &ctx->tasks[o->any_task];
	const char *what = o->fifo ? "FIFO" : "pipe";
	uint32_t cap = size / PIPE_MIN_SIZE + 1, nruns = 0;
	FdEntry *c = o->carrier;
	uint32_t *runs = NULL;
	uint8_t *scratch = NULL;
	int ret = 0, got = 0;
	ssize_t n;

	n = tee(fd, mine[1], (size_t)queued, SPLICE_F_NONBLOCK);
	if (n != queued) {
		if (n < 0)
			pr_errno(errno, "task %d: cannot copy the bytes of fd %d (a %s)", t->pid,
				 o->any_fd, what);
		else
			pr_err("task %d: fd %d is a %s whose %d bytes copied as %zd", t->pid,
			       o->any_fd, what, queued, n);
		ret = -EIO;
		goto out;
	}
	runs = malloc(cap * sizeof(*runs));
	scratch = malloc((size_t)queued);
	if (!runs || !scratch) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < queued) {
		n = read(mine[0], buf + got, (size_t)(queued - got));
		if (n <= 0 || nruns == cap) {
			pr_err("task %d: cannot read the copy of the bytes of fd %d (a %s)", t->pid,
			       o->any_fd, what);
			ret = -EIO;
			goto out;
		}
		runs[nruns++] = (uint32_t)n;
		got += (int)n;
	}
	if (nruns == 1 && !o->direct && runs[0] > 1 && runs[0] == (uint32_t)queued) {
		/* the common case, a plain pipe: one probe says no packet ends it */
		if (tee(fd, mine[1], (size_t)queued, SPLICE_F_NONBLOCK) != queued) {
			ret = -EIO;
			goto out;
		}
		int d = read_drop(mine[0], scratch, queued - 1);
		drain(mine[0]);
		if (d == queued - 1)
			goto out; /* plain, or a 1-byte packet at the end no writer adds to */
		if (d < 0) {
			ret = -EIO;
			goto out;
		}
	}
	/* packets: the layout */
	c->pipe_chunk_len = arena_alloc(&ctx->arena, cap * sizeof(*c->pipe_chunk_len));
	c->pipe_chunk_packet = arena_alloc(&ctx->arena, cap * sizeof(*c->pipe_chunk_packet));
	if (!c->pipe_chunk_len || !c->pipe_chunk_packet) {
		ret = -ENOMEM;
		goto out;
	}
	c->n_pipe_chunk_len = 0;
	if (tee(fd, mine[1], (size_t)queued, SPLICE_F_NONBLOCK) != queued) {
		ret = -EIO;
		goto out;
	}
	for (uint32_t i = 0; i < nruns && !ret; i++) {
		int len = (int)runs[i], d;
		bool last = i == nruns - 1;
		if ((d = read_drop(mine[0], scratch, 1)) < 0) {
			ret = -EIO;
			break;
		}
		if (d == len && len > 1) {
			ret = push_chunk(c, (uint32_t)len, true, cap);
			continue;
		}
		if (d != 1) {
			ret = -EIO;
			break;
		}
		if (len == 1) {
			ret = push_chunk(c, 1, !last || o->direct, cap);
			continue;
		}
		/* plain bytes first */
		int rest = len - 1;
		if (rest > 1 && (d = read_drop(mine[0], scratch, rest - 1)) != rest - 1) {
			if (d == rest) {
				pr_err("task %d: fd %d is a %s in which plain bytes and a packet "
				       "(O_DIRECT) are read as one: a pipe written with and "
				       "without packet mode is not supported yet",
				       t->pid, o->any_fd, what);
				ret = -ENOTSUP;
			} else {
				ret = -EIO;
			}
			break;
		}
		if (read_drop(mine[0], scratch, 1) != 1) {
			ret = -EIO;
			break;
		}
		ret = push_chunk(c, (uint32_t)len - 1, false, cap);
		if (!ret)
			ret = push_chunk(c, 1, !last, cap);
	}
	drain(mine[0]);
	c->n_pipe_chunk_packet = c->n_pipe_chunk_len;
	if (!ret && c->n_pipe_chunk_len == 1 && !c->pipe_chunk_packet[0])
		c->n_pipe_chunk_len = c->n_pipe_chunk_packet = 0; /* plain after all */
	if (ret == -EIO)
		pr_err("task %d: the bytes of fd %d (a %s) changed while they were copied", t->pid,
		       o->any_fd, what);
out:
	drain(mine[0]);
	free(runs);
	free(scratch);
	return ret;
}

/* One object: the other end is there (pipe_outside.c), its size, its bytes (not consumed). */
static int save_one(struct dump_ctx *ctx, struct pipe_obj *o, int *pidfds, int mine[2],
		    int *mine_size)
{
	struct dump_task *t = &ctx->tasks[o->any_task];
	const char *what = o->fifo ? "FIFO" : "pipe";
	int fd = -1, size, queued = 0, ret = 0;

	if ((ret = pipe_outside_end(ctx, o, pidfds)))
		return ret < 0 ? ret : 0;
	/* any description tells the size and how many bytes are queued */
	fd = pipe_take_copy(ctx, pidfds, o->r_task >= 0 ? o->r_task : o->any_task,
			    o->r_task >= 0 ? o->r_fd : o->any_fd);
	if (fd < 0)
		return -errno;
	size = fcntl(fd, F_GETPIPE_SZ);
	if (size < 0 || ioctl(fd, FIONREAD, &queued) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot read the size of fd %d (a %s)", t->pid, o->any_fd,
			 what);
		goto out;
	}
	o->carrier->has_pipe_size = true;
	o->carrier->pipe_size = (uint32_t)size;
	if (queued <= 0)
		goto out;
	if (o->r_task < 0) {
		/* writers only, with bytes no one can read now: a reader of cryo's own for them
		 * (only then: opening a FIFO for reading lets a writer waiting in open() go) */
		char path[64];
		close(fd);
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", t->pid, o->any_fd);
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			pr_errno(errno, "task %d: cannot open fd %d (a %s) for reading", t->pid,
				 o->any_fd, what);
			return -errno;
		}
	}
	if (*mine_size < size) {
		if (fcntl(mine[1], F_SETPIPE_SZ, size) < size) {
			ret = -errno;
			pr_errno(-ret, "cannot make cryo's own pipe %d bytes large", size);
			goto out;
		}
		*mine_size = size;
	}
	uint8_t *buf = arena_alloc(&ctx->arena, (size_t)queued);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = copy_queued(ctx, o, fd, mine, buf, queued, (uint32_t)size)))
		goto out;
	o->carrier->has_pipe_data = true;
	o->carrier->pipe_data.len = (size_t)queued;
	o->carrier->pipe_data.data = buf;
out:
	close(fd);
	return ret;
}

int pipes_dump_finish(struct dump_ctx *ctx)
{
	struct pipe_table *pt = ctx->pipes;
	int mine[2], mine_size, ret = 0;
	int *pidfds;

	if (!pt || !pt->n) {
		pipe_externals_note(ctx);
		return 0;
	}
	ret = pipe_scan_outside(ctx);
	if (ret && ret != -ENOTSUP)
		return ret;
	if (pipe2(mine, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	mine_size = fcntl(mine[1], F_GETPIPE_SZ);
	pidfds = malloc(ctx->nr_tasks * sizeof(*pidfds));
	if (!pidfds) {
		close(mine[0]), close(mine[1]);
		return -ENOMEM;
	}
	for (int i = 0; i < ctx->nr_tasks; i++)
		pidfds[i] = -1;
	for (uint32_t i = 0; i < pt->n; i++) {
		if (pt->objs[i].outside)
			continue;
		/* a refusal goes on to the next object, so that one run names them all */
		int r = save_one(ctx, &pt->objs[i], pidfds, mine, &mine_size);
		if (r && (r != -ENOTSUP || !ret))
			ret = r;
		if (ret && ret != -ENOTSUP)
			break;
	}
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (pidfds[i] >= 0)
			close(pidfds[i]);
	free(pidfds);
	close(mine[0]), close(mine[1]);
	if (!ret)
		pipe_externals_note(ctx);
	return ret;
}

/* ---- restore ---- */

static struct svc_file *global_of(struct restore_ctx *ctx, const FdEntry *e)
{
	return e->pipe_id < ctx->nr_pipes ? &ctx->globals[ctx->pipes[e->pipe_id]] : NULL;
}

/* Plan: the object's first entry makes it a global; the first description of each end of a
 * pipe is the root's own end. Entries come in the order the dump numbered them. */
int pipe_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e)
{
	char img[64];
	struct svc_file *g;

	img_name(IMG_FILES, t->pid, img, sizeof(img));
	if (e->pipe_id == ctx->nr_pipes) {
		if (!e->has_pipe_size && !e->external_key)
			return files_refuse(img, "fd %d: pipe %u has no size", e->fd, e->pipe_id);
		int *n = realloc(ctx->pipes, (ctx->nr_pipes + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		ctx->pipes = n;
		g = restore_add_global(
		    ctx,
		    (struct svc_file){.kind = SVC_PIPE, .desc_pid = t->pid, .desc = (FdEntry *)e});
		if (!g)
			return -ENOMEM;
		g->fd2 = e->kind == FD_KIND__FD_PIPE ? restore_alloc_fd(ctx) : -1;
		n[ctx->nr_pipes++] = (int)(g - ctx->globals);
	} else if (e->pipe_id > ctx->nr_pipes || e->has_pipe_size || e->has_pipe_data ||
		   e->external_key) {
		return files_refuse(img, "fd %d: pipe %u is out of order", e->fd, e->pipe_id);
	}
	g = global_of(ctx, e);
	if (g->desc->kind != e->kind)
		return files_refuse(img, "fd %d: pipe %u is a pipe and a FIFO", e->fd, e->pipe_id);
	if (e->kind == FD_KIND__FD_PIPE && (e->flags & O_ACCMODE) == O_RDONLY && !g->primary_r)
		g->primary_r = e;
	else if (e->kind == FD_KIND__FD_PIPE && (e->flags & O_ACCMODE) == O_WRONLY && !g->primary_w)
		g->primary_w = e;
	/* --inherit-fd fd[N]:PATH for a FIFO held outside the tree at the dump (--external
	 * fifo:PATH): the caller's fd stands for the FIFO, which is not looked for by its path
	 * (it may have another one here, or none); a FIFO the tree held alone has its bytes in
	 * the image, which the caller's could not take */
	const char *key = e->kind == FD_KIND__FD_FIFO ? inherit_path_key(ctx, e) : NULL;
	if (key && !g->desc->external_key) {
		pr_err("task %d: fd %d: --inherit-fd fd[N]:%s: a FIFO the tree held alone is "
		       "opened again by its path, with its bytes; only one dumped with --external "
		       "fifo:%s can be given by the caller",
		       t->pid, e->fd, key, e->path);
		return -ENOTSUP;
	}
	if (key)
		return inherit_plan(ctx, t, e, key, O_RDONLY, g->fd);
	if (g->desc->external_key && e->kind == FD_KIND__FD_PIPE) {
		/* an external pipe: the end this description is of comes from --inherit-fd */
		bool w = (e->flags & O_ACCMODE) == O_WRONLY;
		return inherit_plan(ctx, t, e, g->desc->external_key, w ? O_WRONLY : O_RDONLY,
				    w ? g->fd2 : g->fd);
	}
	return 0;
}

/* The bytes back as they lay: each packet one write in packet mode (one buffer: a packet is
 * at most a page), plain bytes written without it. Validated to fit the pipe. */
static int write_chunks(struct restore_task *root, const FdEntry *e, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	size_t off = 0;

	for (size_t i = 0; i < e->n_pipe_chunk_len && fl >= 0; i++) {
		size_t len = e->pipe_chunk_len[i];
		int want = e->pipe_chunk_packet[i] ? fl | O_DIRECT : fl & ~O_DIRECT;
		if (fcntl(fd, F_SETFL, want) < 0)
			break;
		if (e->pipe_chunk_packet[i]
			? write(fd, e->pipe_data.data + off, len) != (ssize_t)len
			: write_all(fd, e->pipe_data.data + off, len) < 0)
			break;
		off += len;
	}
	if (off != e->pipe_data.len || fl < 0 || fcntl(fd, F_SETFL, fl) < 0) {
		child_fail(root, errno ? errno : EIO,
			   "cannot write %zu bytes back into pipe %u in %zu packets and runs",
			   e->pipe_data.len, e->pipe_id, e->n_pipe_chunk_len);
		return -1;
	}
	return 0;
}

/* A FIFO a process outside the tree held at the dump: opened read-write by its path, which
 * must lead to the same FIFO (the outside holder's), and left as it is: the bytes in it are
 * the ones the holder has not read yet, or wrote since. */
static int external_fifo_open(struct restore_task *root, struct svc_file *g)
{
	const FdEntry *e = g->desc;
	struct stat st;
	int fd = open(e->path, O_RDWR | O_CLOEXEC); /* read-write: no partner waited for */

	if (fd < 0) {
		child_fail(root, errno, "cannot open the external FIFO %s (--external %s)", e->path,
			   e->external_key);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || st.st_dev != e->external_dev ||
	    st.st_ino != e->external_ino) {
		child_fail(root, ESTALE,
			   "%s is not the FIFO held outside the tree at the dump (device %#lx "
			   "inode %lu then): its outside holder would not share it",
			   e->path, (unsigned long)e->external_dev, (unsigned long)e->external_ino);
		close(fd);
		return -1;
	}
	return restore_place_fd(root, fd, g->fd, "a FIFO") ? -1 : 0;
}

/* In the root, before the tree exists: the pipe (or the FIFO, opened read-write, which never
 * waits for a partner), its size, its bytes, at its service fds. */
int restore_pipe_global_child(struct restore_ctx *ctx, struct svc_file *g)
{
	struct restore_task *root = &ctx->tasks[0];
	const FdEntry *e = g->desc;
	int fds[2], size, queued = 0;
	struct stat st;

	if (e->external_key && (e->kind == FD_KIND__FD_PIPE || inherit_path_key(ctx, e)))
		return 0; /* its ends are the inherited ones, at its service fds already */
	if (e->external_key)
		return external_fifo_open(root, g);

	if (e->kind == FD_KIND__FD_FIFO) {
		fds[0] = fds[1] = e->fifo_deleted ? fifo_deleted_open(ctx, root, e)
						  : named_open(ctx, root, e, O_RDWR | O_CLOEXEC);
		if (fds[0] < 0)
			return -1;
		if (fstat(fds[0], &st) < 0 || !S_ISFIFO(st.st_mode)) {
			child_fail(root, ENXIO, "%s is not a FIFO any more", e->path);
			return -1;
		}
		if (ioctl(fds[0], FIONREAD, &queued) < 0 || queued) {
			child_fail(root, EBUSY,
				   "the FIFO %s holds %d bytes already (someone "
				   "else has it open)",
				   e->path, queued);
			return -1;
		}
	} else if (pipe2(fds, O_CLOEXEC) < 0) {
		child_fail(root, errno, "cannot create pipe %u", e->pipe_id);
		return -1;
	}
	size = fcntl(fds[1], F_GETPIPE_SZ);
	if (size != (int)e->pipe_size &&
	    (size = fcntl(fds[1], F_SETPIPE_SZ, (int)e->pipe_size)) != (int)e->pipe_size) {
		child_fail(root, size < 0 ? errno : ERANGE,
			   "cannot give pipe %u (fd %d of task %d) its size of %u bytes",
			   e->pipe_id, e->fd, g->desc_pid, e->pipe_size);
		return -1;
	}
	if (e->n_pipe_chunk_len) {
		if (write_chunks(root, e, fds[1]))
			return -1;
	} else if (e->has_pipe_data && e->pipe_data.len &&
		   write_all(fds[1], e->pipe_data.data, e->pipe_data.len) < 0) {
		child_fail(root, errno, "cannot write %zu bytes back into pipe %u",
			   e->pipe_data.len, e->pipe_id);
		return -1;
	}
	if (e->fifo_deleted && fifo_deleted_finish(root, e, fds[0]))
		return -1;
	if (restore_place_fd(root, fds[0], g->fd, "a pipe"))
		return -1;
	if (e->kind == FD_KIND__FD_PIPE && restore_place_fd(root, fds[1], g->fd2, "a pipe"))
		return -1;
	return 0;
}

/* A task's description of the pipe: the root's own end, or a new description of it (its
 * own status flags: two descriptions of one end may differ in O_NONBLOCK). */
int pipe_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	struct svc_file *g = global_of(ctx, e);
	char path[64];
	int fd, end;

	if (!g) { /* validated */
		child_fail(t, EINVAL, "fd %d: pipe %u is unknown", e->fd, e->pipe_id);
		return -1;
	}
	end = e->kind == FD_KIND__FD_PIPE && (e->flags & O_ACCMODE) == O_WRONLY ? g->fd2 : g->fd;
	if (e == g->primary_r || e == g->primary_w) {
		fd = dup(end);
	} else {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", end);
		fd = open(path, flags & ~O_DIRECT);
	}
	if (fd < 0) {
		child_fail(t, errno, "cannot open fd %d (pipe %u)", e->fd, e->pipe_id);
		return -1;
	}
	if (fcntl(fd, F_SETFL, flags) < 0) {
		child_fail(t, errno, "cannot set the flags %#o of fd %d (pipe %u)", flags, e->fd,
			   e->pipe_id);
		close(fd);
		return -1;
	}
	return fd;
}

bool pipe_inflight_ok(struct restore_ctx *ctx, const FdEntry *e)
{
	struct svc_file *g = global_of(ctx, e);
	return g && g->desc->kind == FD_KIND__FD_PIPE && !g->desc->external_key;
}

int pipe_writer_fd(struct restore_ctx *ctx, const FdEntry *e)
{
	struct svc_file *g = global_of(ctx, e);
	/* an external pipe has readers outside: a byte written into it could be theirs (and
	 * its write end may not be the tree's); a FIFO's one service fd is open read-write */
	return !g || g->desc->external_key ? -1 : g->fd2 >= 0 ? g->fd2 : g->fd;
}

/* "pipe:[INODE]" and nothing else */
static bool pipe_key_valid(const char *k)
{
	size_t n = strlen(k);
	if (n < 8 || n > 26 || strncmp(k, "pipe:[", 6) || k[n - 1] != ']' || k[6] == '0')
		return false;
	for (size_t i = 6; i < n - 1; i++)
		if (k[i] < '0' || k[i] > '9')
			return false;
	return true;
}

/* "fifo:PATH" for the entry's own path, and the FIFO's identity with it */
static bool fifo_key_valid(const FdEntry *e)
{
	return e->path && !strncmp(e->external_key, "fifo:", 5) &&
	       !strcmp(e->external_key + 5, e->path) && !e->fifo_deleted && !e->has_handle &&
	       e->has_external_dev && e->has_external_ino;
}

int pipe_validate_common(const char *img, const FdEntry *e)
{
	if (!e->has_pipe_id)
		return files_refuse(img, "fd %d: a pipe without its pipe_id", e->fd);
	if (e->external_key &&
	    ((e->kind == FD_KIND__FD_PIPE
		  ? !pipe_key_valid(e->external_key) || e->has_external_dev || e->has_external_ino
		  : !fifo_key_valid(e)) ||
	     e->has_pipe_size || e->has_pipe_data || e->n_pipe_chunk_len))
		return files_refuse(img, "fd %d: an invalid external pipe (key \"%.40s\")", e->fd,
				    e->external_key);
	if (e->pipe_id >= FILES_MAX_FD)
		return files_refuse(img, "fd %d: pipe_id %u out of range", e->fd, e->pipe_id);
	if (e->has_pipe_size && (e->pipe_size < PIPE_MIN_SIZE || e->pipe_size > PIPE_MAX_SIZE ||
				 (e->pipe_size & (e->pipe_size - 1))))
		return files_refuse(img, "fd %d: pipe size %u is invalid", e->fd, e->pipe_size);
	if (e->has_pipe_data && (!e->has_pipe_size || e->pipe_data.len > e->pipe_size))
		return files_refuse(img, "fd %d: %zu bytes queued in a pipe of %u", e->fd,
				    e->pipe_data.len, e->pipe_size);
	if (e->pos)
		return files_refuse(img, "fd %d: a pipe at position %lu", e->fd, e->pos);
	if (e->n_pipe_chunk_len != e->n_pipe_chunk_packet ||
	    (e->n_pipe_chunk_len && !e->has_pipe_data))
		return files_refuse(img, "fd %d: a packet layout without its bytes", e->fd);
	/* each chunk takes one buffer of the pipe (a plain run one per page): they fit, or the
	 * restore would block writing them */
	uint64_t sum = 0, bufs = 0;
	for (size_t i = 0; i < e->n_pipe_chunk_len; i++) {
		uint32_t len = e->pipe_chunk_len[i];
		bool pkt = e->pipe_chunk_packet[i];
		if (!len || (pkt && len > PIPE_MIN_SIZE) ||
		    (!pkt && i && !e->pipe_chunk_packet[i - 1]))
			return files_refuse(img, "fd %d: pipe chunk %zu (%u bytes) is invalid",
					    e->fd, i, len);
		sum += len;
		bufs += pkt ? 1 : (len + PIPE_MIN_SIZE - 1) / PIPE_MIN_SIZE;
	}
	if (e->n_pipe_chunk_len && (sum != e->pipe_data.len || bufs > e->pipe_size / PIPE_MIN_SIZE))
		return files_refuse(img,
				    "fd %d: %zu packets and runs do not make the %zu bytes "
				    "queued in a pipe of %u",
				    e->fd, e->n_pipe_chunk_len, e->pipe_data.len, e->pipe_size);
	return 0;
}

static int pipe_validate(const char *img, const Files *f, const FdEntry *e)
{
	if (e->has_mode && !S_ISFIFO(e->mode))
		return files_refuse(img, "fd %d: mode %#o is not a pipe's", e->fd, e->mode);
	if (e->path)
		return files_refuse(img, "fd %d: a pipe with a path", e->fd);
	return pipe_validate_common(img, e);
}

const struct fd_ops fd_pipe_ops = {
    .name = "a pipe",
    .names = "pipes",
    .kind = FD_KIND__FD_PIPE,
    .link_prefix = "pipe:",
    .dump = pipe_dump,
    .restore = pipe_open,
    .validate = pipe_validate,
};
