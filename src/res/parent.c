/* Restore from an incremental image set: pages marked `in_parent` in pagemap-PID.img are
 * those of the parent image set (the `parent` symlink of the directory, made by a dump with
 * --prev-images-dir), which may itself say in_parent for some, and so on up the chain.
 *
 * Resolved level by level: a page in_parent at level k is what level k+1 says of it, stored,
 * in_parent again, or not there at all (then it is not there at level k either: a zero page,
 * or the file's page of a private file mapping). The result is one page image as a full dump
 * would have made it: a memfd holding the pages in address order (the chain's files are
 * copied into it in the kernel, copy_file_range) and a pagemap without in_parent runs, so
 * that the rest of the restore does not know there was a chain. It costs one copy of the
 * task's memory in RAM during the restore; correctness first.
 *
 * With --lazy-pages nothing is copied at first: the merged image is made as large as it
 * would be but left sparse, and each piece of it (a run of one level) is noted with where
 * that level holds it. What the restore reads itself (the memory that is not lazy) is copied
 * in just before it is read (parent_fill); what the lazy-pages daemon brings in it reads from
 * the levels' own images, which it is sent (parent_lazy_runs). A live migration's chain of
 * pre-dumps is then not copied during its downtime.
 *
 * Nothing of the chain is trusted: each link must be "../NAME" and is opened beneath the
 * directory that holds the level (no symbolic link followed), each level's inventory must be
 * of the same root, each pagemap's runs sorted, page aligned, inside the address space,
 * counting exactly the pages its page image holds; the chain is at most PARENT_DEPTH long. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/safeopen.h"
#include "core/util.h"
#include "pages/lz4.h"
#include "pages/lazy_proto.h"
#include "pages/read.h"
#include "res/mm.h"
#include "res/parent.h"
#include "cryo/cryo.h"

#define PARENT_DEPTH 64

struct level {
	int dirfd;     /* -1 once closed */
	Pagemap *pm;   /* NULL: the task has no pagemap at this level (it was not there) */
	uint64_t *off; /* per run: its first page in the page image (stored runs) */
	int pages_fd;
	bool owned;    /* pm, pages_fd are this module's */
	bool pre_dump; /* its inventory says so: only its children need its pages */
};

/* A piece of the merged image as one level holds it */
struct piece {
	uint64_t vaddr, len;
	uint64_t merged_off, level_off;
	int level;
	bool filled;
};

/* --lazy-pages: the chain kept for parent_fill and parent_lazy_runs (pieces in address
 * order, as resolve makes them) */
struct parent_chain {
	int nr;
	int fds[PARENT_DEPTH + 1];
	struct piece *pieces;
	size_t nr_pieces;
	int out_fd; /* the merged image: t->pages_fd_local */
	bool no_cfr;
};

struct chain {
	bool defer; /* --lazy-pages: pieces noted, not copied */
	struct piece *pieces;
	size_t nr_pieces, cap_pieces;
	struct restore_task *t;
	uint32_t root; /* the root pid every level's inventory must name */
	struct level lv[PARENT_DEPTH + 1];
	int nr;
	int out_fd;	  /* the merged page image */
	uint64_t out_off; /* bytes of data written */
	bool no_cfr;	  /* copy_file_range cannot: sendfile */
	PageRun *runs;	  /* the merged runs */
	size_t nr_runs, cap;
};

/* The directory a level's `parent` link names, opened beneath the directory above it. */
static int open_parent_dir(int dirfd, int depth)
{
	char link[4096];
	ssize_t n = readlinkat(dirfd, "parent", link, sizeof(link) - 1);
	int fd;

	if (n < 0) {
		int err = errno;
		pr_err("an image set with pages in its parent has no parent link (level %d): %s",
		       depth, strerror(err));
		return -EINVAL;
	}
	link[n] = 0;
	if (!dir_sibling_name_ok(link)) {
		pr_err("the parent link of level %d is '%s': only ../NAME is followed", depth,
		       link);
		return -EINVAL;
	}
	fd = dir_open_sibling(dirfd, link);
	if (fd < 0)
		pr_errno(-fd, "cannot open the parent image set %s (level %d)", link, depth);
	return fd;
}

/* Runs sorted, aligned, in the address space, stored pages = total = the image's size. */
static int check_runs(struct chain *c, struct level *l, uint64_t pages_size, int depth)
{
	Pagemap *pm = l->pm;
	uint64_t prev_end = 0, total = 0;

	l->off = calloc(pm->n_runs ? pm->n_runs : 1, sizeof(*l->off));
	if (!l->off)
		return -ENOMEM;
	for (size_t i = 0; i < pm->n_runs; i++) {
		PageRun *r = pm->runs[i];
		if (!r->nr_pages || r->nr_pages > TASK_SIZE_MAX / PAGE_SIZE ||
		    r->vaddr % PAGE_SIZE || r->vaddr < prev_end ||
		    r->vaddr + r->nr_pages * PAGE_SIZE > TASK_SIZE_MAX) {
			pr_err(
			    "pagemap-%d.img of level %d: run %zu (%#lx, %lu pages) is invalid or "
			    "out of order",
			    c->t->pid, depth, i, r->vaddr, r->nr_pages);
			return -EINVAL;
		}
		prev_end = r->vaddr + r->nr_pages * PAGE_SIZE;
		l->off[i] = total;
		if (!r->in_parent)
			total += r->nr_pages;
	}
	if (total != pm->total_pages || total > UINT64_MAX / PAGE_SIZE ||
	    total * PAGE_SIZE != pages_size) {
		pr_err("pages-%d.img of level %d holds %lu bytes, its pagemap %lu pages", c->t->pid,
		       depth, pages_size, total);
		return -EINVAL;
	}
	return 0;
}

/* Level k (>= 1): the parent of level k-1, opened and checked. */
static int load_level(struct chain *c, int k)
{
	struct level *l = &c->lv[k];
	ProtobufCMessage *msg = NULL;
	uint64_t size;
	char name[64];
	int ret;

	if (k > PARENT_DEPTH) {
		pr_err("task %d: the chain of parent image sets is longer than %d", c->t->pid,
		       PARENT_DEPTH);
		return -ELOOP;
	}
	l->owned = true;
	l->pages_fd = -1;
	l->dirfd = open_parent_dir(c->lv[k - 1].dirfd, k);
	if (l->dirfd < 0)
		return l->dirfd;
	c->nr = k + 1;
	if ((ret = img_read(l->dirfd, IMG_INVENTORY, 0, &msg)))
		return ret;
	Inventory *inv = (Inventory *)msg;
	l->pre_dump = inv->pre_dump;
	if (inv->format_version != CRYO_FORMAT_VERSION || inv->page_size != PAGE_SIZE ||
	    inv->root_pid != c->root) {
		pr_err("the parent image set of level %d is not one of process %u (format %u, "
		       "root %u)",
		       k, c->root, inv->format_version, inv->root_pid);
		img_free(msg);
		return -EINVAL;
	}
	/* a dump --lazy-pages holds holes where it left memory at its source: a child that
	 * took a page from them would get zeros */
	if (inv->n_lazyremote_ranges || inv->lazyremote_source) {
		pr_err("the parent image set of level %d was made by a dump --lazy-pages: its "
		       "memory is not in it, it cannot be a parent",
		       k);
		img_free(msg);
		return -EINVAL;
	}
	img_free(msg);
	img_name(IMG_PAGEMAP, c->t->pid, name, sizeof(name));
	if (faccessat(l->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		pr_err("task %d: pages in the parent (level %d), which has no %s", c->t->pid, k,
		       name);
		return -EINVAL;
	}
	if ((ret = img_read(l->dirfd, IMG_PAGEMAP, c->t->pid, &msg)))
		return ret;
	l->pm = (Pagemap *)msg;
	if (!l->pm->has_owner_pid || l->pm->owner_pid != (uint32_t)c->t->pid) {
		pr_err("pagemap-%d.img of level %d is not task %d's", c->t->pid, k, c->t->pid);
		return -EINVAL;
	}
	bool unpacked;
	l->pages_fd = pages_open(l->dirfd, c->t->pid, l->pm, &size, &unpacked);
	if (l->pages_fd < 0)
		return l->pages_fd;
	return check_runs(c, l, size, k);
}

/* len bytes from fd at in (past the header) to out_fd at out: in the kernel; between file
 * systems (the images' and the memfd's tmpfs) copy_file_range says EXDEV, sendfile does it */
static int copy_pages(int fd, uint64_t in_off, int out_fd, uint64_t out_off, uint64_t len,
		      bool *no_cfr, pid_t pid)
{
	loff_t in = IMG_RAW_HDR + in_off, out = IMG_RAW_HDR + out_off;
	while (len) {
		ssize_t n = *no_cfr ? -1 : copy_file_range(fd, &in, out_fd, &out, len, 0);
		if (n < 0 && (*no_cfr || errno == EXDEV || errno == EINVAL || errno == ENOSYS)) {
			*no_cfr = true;
			if (lseek(out_fd, out, SEEK_SET) < 0)
				return -errno;
			n = sendfile(out_fd, fd, &in, len);
			if (n > 0)
				out += n;
		}
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			pr_errno(err, "task %d: cannot copy its pages from the parent image set",
				 pid);
			return -err;
		}
		len -= n;
	}
	return 0;
}

static int emit(struct chain *c, uint64_t vaddr, uint64_t len, int k, uint64_t off)
{
	PageRun *last = c->nr_runs ? &c->runs[c->nr_runs - 1] : NULL;
	/* as a dump makes them: a run never spans two VMAs */
	if (last && last->vaddr + last->nr_pages * PAGE_SIZE == vaddr &&
	    mm_find_vma(c->t->mm, last->vaddr, vaddr + len - last->vaddr) >= 0) {
		c->runs[c->nr_runs - 1].nr_pages += len / PAGE_SIZE;
	} else {
		if (c->nr_runs == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 64;
			PageRun *n = realloc(c->runs, cap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			c->runs = n;
			c->cap = cap;
		}
		PageRun init = PAGE_RUN__INIT;
		init.vaddr = vaddr;
		init.nr_pages = len / PAGE_SIZE;
		c->runs[c->nr_runs++] = init;
	}
	if (c->defer) {
		if (c->nr_pieces == c->cap_pieces) {
			size_t cap = c->cap_pieces ? c->cap_pieces * 2 : 64;
			struct piece *n = realloc(c->pieces, cap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			c->pieces = n;
			c->cap_pieces = cap;
		}
		c->pieces[c->nr_pieces++] = (struct piece){vaddr, len, c->out_off, off, k, false};
		c->out_off += len;
		return 0;
	}
	int ret =
	    copy_pages(c->lv[k].pages_fd, off, c->out_fd, c->out_off, len, &c->no_cfr, c->t->pid);
	if (!ret)
		c->out_off += len;
	return ret;
}

/* The pages of [a, b) as level k has them. */
static int resolve(struct chain *c, int k, uint64_t a, uint64_t b)
{
	struct level *l = &c->lv[k];
	Pagemap *pm = l->pm;
	size_t lo = 0, hi = pm->n_runs;
	int ret;

	/* the first run that ends above a */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		PageRun *r = pm->runs[mid];
		if (r->vaddr + r->nr_pages * PAGE_SIZE <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < pm->n_runs && pm->runs[i]->vaddr < b; i++) {
		PageRun *r = pm->runs[i];
		uint64_t s = r->vaddr > a ? r->vaddr : a;
		uint64_t e = r->vaddr + r->nr_pages * PAGE_SIZE;
		if (e > b)
			e = b;
		if (!r->in_parent) {
			ret = emit(c, s, e - s, k, (l->off[i] * PAGE_SIZE) + (s - r->vaddr));
		} else {
			if (k + 1 >= c->nr && (ret = load_level(c, k + 1)))
				return ret;
			ret = resolve(c, k + 1, s, e);
		}
		if (ret)
			return ret;
	}
	return 0;
}

static bool has_parent_runs(Pagemap *pm)
{
	for (size_t i = 0; i < pm->n_runs; i++)
		if (pm->runs[i]->in_parent)
			return true;
	return false;
}

int parent_merge(struct restore_ctx *ctx, struct restore_task *t)
{
	struct chain *c;
	int ret;

	if (!has_parent_runs(t->pagemap))
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->t = t;
	c->defer = ctx->opts->lazy_pages;
	c->root = ctx->inv->root_pid;
	c->lv[0] =
	    (struct level){.dirfd = ctx->dirfd, .pm = t->pagemap, .pages_fd = t->pages_fd_local};
	c->nr = 1;
	c->out_fd = memfd_create("cryo-pages", MFD_CLOEXEC);
	if (c->out_fd < 0) {
		ret = -errno;
		goto out;
	}
	if ((ret = check_runs(c, &c->lv[0], t->pages_size, 0)))
		goto out;
	if (ftruncate(c->out_fd, IMG_RAW_HDR) < 0) {
		ret = -errno;
		goto out;
	}
	if ((ret = resolve(c, 0, 0, TASK_SIZE_MAX)))
		goto out;
	/* --lazy-pages: the merged image as large as if it were written, its pages to come */
	if (c->defer && ftruncate(c->out_fd, IMG_RAW_HDR + c->out_off) < 0) {
		ret = -errno;
		goto out;
	}

	/* the merged pagemap, as a message of its own (packed and read back: freed as any) */
	Pagemap pm = PAGEMAP__INIT;
	PageRun **ptrs = calloc(c->nr_runs ? c->nr_runs : 1, sizeof(*ptrs));
	if (!ptrs) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->nr_runs; i++) {
		ptrs[i] = &c->runs[i];
		pm.total_pages += c->runs[i].nr_pages;
	}
	pm.runs = ptrs;
	pm.n_runs = c->nr_runs;
	pm.has_owner_pid = true;
	pm.owner_pid = t->pid;
	size_t len = pagemap__get_packed_size(&pm);
	uint8_t *buf = malloc(len ? len : 1);
	Pagemap *merged = buf ? pagemap__unpack(NULL, pagemap__pack(&pm, buf), buf) : NULL;
	free(buf);
	free(ptrs);
	if (!merged) {
		ret = -ENOMEM;
		goto out;
	}
	pr_info("task %d: %lu pages, %lu of them from %d parent image set(s)", t->pid,
		merged->total_pages, merged->total_pages - t->pagemap->total_pages, c->nr - 1);
	if (c->defer) {
		struct parent_chain *pc = calloc(1, sizeof(*pc));
		if (!pc) {
			img_free(&merged->base);
			ret = -ENOMEM;
			goto out;
		}
		/* each level's page image stays open; level 0's is the task's own */
		pc->nr = c->nr;
		for (int k = 0; k < c->nr; k++) {
			pc->fds[k] = c->lv[k].pages_fd;
			c->lv[k].pages_fd = -1;
		}
		pc->pieces = c->pieces;
		pc->nr_pieces = c->nr_pieces;
		c->pieces = NULL;
		pc->out_fd = c->out_fd;
		t->chain = pc;
		pr_info("task %d: %lu pages in %d image sets, copied in as they are needed "
			"(--lazy-pages)",
			t->pid, merged->total_pages, c->nr);
	} else {
		close(t->pages_fd_local);
	}
	img_free(&t->pagemap->base);
	t->pagemap = merged;
	t->pages_fd_local = c->out_fd;
	c->out_fd = -1;
	t->pages_size = c->out_off;
	t->pages_merged = true;
out:
	for (int k = 1; k < c->nr; k++) {
		struct level *l = &c->lv[k];
		if (l->dirfd >= 0)
			close(l->dirfd);
		if (l->pages_fd >= 0)
			close(l->pages_fd);
		img_free(l->pm ? &l->pm->base : NULL);
		free(l->off);
	}
	free(c->lv[0].off);
	if (c->out_fd >= 0)
		close(c->out_fd);
	free(c->runs);
	free(c->pieces);
	free(c);
	return ret;
}

int parent_fill(struct restore_task *t, uint64_t vaddr, uint64_t len)
{
	struct parent_chain *pc = t->chain;
	size_t lo = 0, hi;

	if (!pc)
		return 0;
	/* the first piece that ends above vaddr */
	for (hi = pc->nr_pieces; lo < hi;) {
		size_t mid = (lo + hi) / 2;
		if (pc->pieces[mid].vaddr + pc->pieces[mid].len <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < pc->nr_pieces && pc->pieces[i].vaddr < vaddr + len; i++) {
		struct piece *p = &pc->pieces[i];
		if (p->filled)
			continue;
		int ret = copy_pages(pc->fds[p->level], p->level_off, pc->out_fd, p->merged_off,
				     p->len, &pc->no_cfr, t->pid);
		if (ret)
			return ret;
		p->filled = true;
	}
	return 0;
}

int parent_lazy_runs(const struct restore_task *t, const struct lazy_run *runs, uint32_t nr,
		     struct lazy_run **out, uint32_t *nr_out, int *fds, int *nr_fds)
{
	const struct parent_chain *pc = t->chain;
	size_t cap = nr + 16, n = 0, pi = 0;
	struct lazy_run *v = malloc(cap * sizeof(*v));

	if (!v)
		return -ENOMEM;
	/* both in address order: each run is made of whole pieces (resolve emits a piece per
	 * level's run, and a merged run is consecutive pieces) */
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t a = runs[i].vaddr, b = a + runs[i].nr_pages * PAGE_SIZE;
		/* memory a dump --lazy-pages left in its tree: what its own image says it stored
		 * (level 0, a hole there) is at the source; what it found unchanged since its
		 * parent is in the parents' images, here */
		bool remote = runs[i].off >> LAZY_LEVEL_SHIFT == LAZY_LEVEL_REMOTE;
		while (pi < pc->nr_pieces && pc->pieces[pi].vaddr + pc->pieces[pi].len <= a)
			pi++;
		for (size_t k = pi; k < pc->nr_pieces && pc->pieces[k].vaddr < b; k++) {
			const struct piece *p = &pc->pieces[k];
			uint64_t s = p->vaddr > a ? p->vaddr : a;
			uint64_t e = p->vaddr + p->len < b ? p->vaddr + p->len : b;
			if (n == cap) {
				cap *= 2;
				struct lazy_run *nv = realloc(v, cap * sizeof(*nv));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n++] = (struct lazy_run){s, (e - s) / PAGE_SIZE,
						   remote && !p->level
						       ? LAZY_REMOTE_OFF(s)
						       : ((uint64_t)p->level << LAZY_LEVEL_SHIFT) |
							     (p->level_off + (s - p->vaddr))};
		}
	}
	*out = v;
	*nr_out = (uint32_t)n;
	for (int k = 0; k < pc->nr; k++)
		fds[k] = pc->fds[k];
	*nr_fds = pc->nr;
	return 0;
}

void parent_chain_free(struct restore_task *t)
{
	struct parent_chain *pc = t->chain;
	if (!pc)
		return;
	for (int k = 0; k < pc->nr; k++)
		if (pc->fds[k] >= 0)
			close(pc->fds[k]);
	free(pc->pieces);
	free(pc);
	t->chain = NULL;
}

/* ---- cryo dedup: holes punched in parents for pages no child needs ---- */

struct span {
	uint64_t start, end;
};

struct spans {
	struct span *s;
	size_t n, cap;
};

static int span_add(struct spans *v, uint64_t a, uint64_t b)
{
	if (v->n && v->s[v->n - 1].end == a) {
		v->s[v->n - 1].end = b;
		return 0;
	}
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct span *n = realloc(v->s, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		v->s = n;
		v->cap = cap;
	}
	v->s[v->n++] = (struct span){a, b};
	return 0;
}

/* A compressed level's frames, and how many of each one's bytes no child needs. */
struct lz4_dedup {
	int fd;
	struct lz4_frame *frames;
	size_t nr;
	uint32_t *unneeded;
};

/* Bytes [off, off+len) of the level's pages are not needed (dedup never names a byte
 * twice): each frame all of whose bytes are so is punched. */
static int lz4_unneeded(struct lz4_dedup *lz, uint64_t off, uint64_t len, uint64_t *punched)
{
	size_t lo = 0, hi = lz->nr;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (lz->frames[mid].raw_off + lz->frames[mid].raw_len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < lz->nr && len; i++) {
		struct lz4_frame *f = &lz->frames[i];
		uint64_t end = f->raw_off + f->raw_len;
		uint64_t n = (end - off < len ? end - off : len);
		lz->unneeded[i] += n;
		if (lz->unneeded[i] >= f->raw_len && !f->punched) {
			int ret = pages_lz4_punch(lz->fd, f);
			if (ret)
				return ret;
			*punched += f->raw_len / PAGE_SIZE;
		}
		off += n, len -= n;
	}
	return 0;
}

/* Level k (>= 1) holds pages of its stored runs for the spans `need` only (sorted): the rest
 * is punched out of its page image, if it is a pre-dump's. The spans its in_parent runs give
 * within `need` are what its parent must keep: into *next. */
static int dedup_level(struct chain *c, int k, const struct spans *need, struct spans *next,
		       uint64_t *punched)
{
	struct level *l = &c->lv[k];
	char name[64];
	int fd = -1, ret = 0;
	size_t j = 0;

	struct lz4_dedup lz = {0};

	img_name(IMG_PAGES, c->t->pid, name, sizeof(name));
	if (l->pre_dump && (fd = dir_open(l->dirfd, name, O_RDWR)) < 0) {
		pr_errno(-fd, "cannot open %s of level %d for writing", name, k);
		return fd;
	}
	/* compressed: a frame goes once none of its pages is needed */
	if (fd >= 0 && l->pm->has_pages_codec && l->pm->pages_codec == PAGES_CODEC__PAGES_LZ4) {
		struct stat st;
		lz.fd = fd;
		ret = fstat(fd, &st) < 0 ? -errno
		      : st.st_size < IMG_RAW_HDR
			  ? -EINVAL
			  : pages_lz4_index(fd, st.st_size - IMG_RAW_HDR,
					    l->pm->total_pages * PAGE_SIZE, l->pm->pages_block,
					    name, &lz.frames, &lz.nr);
		if (!ret && !(lz.unneeded = calloc(lz.nr ? lz.nr : 1, sizeof(*lz.unneeded))))
			ret = -ENOMEM;
		if (!ret && !lz.frames)
			lz.frames = calloc(1, sizeof(*lz.frames)); /* no frame: nothing to punch */
		if (ret || !lz.frames) {
			close(fd);
			free(lz.frames);
			free(lz.unneeded);
			return ret ? ret : -ENOMEM;
		}
	}
	for (size_t i = 0; i < l->pm->n_runs && !ret; i++) {
		PageRun *r = l->pm->runs[i];
		uint64_t a = r->vaddr, e = r->vaddr + r->nr_pages * PAGE_SIZE;
		while (j < need->n && need->s[j].end <= a)
			j++;
		/* walk [a, e) against the needed spans from j on */
		for (size_t q = j; a < e && !ret;) {
			bool in = q < need->n && need->s[q].start <= a;
			uint64_t b =
			    in ? (need->s[q].end < e ? need->s[q].end : e)
			       : (q < need->n && need->s[q].start < e ? need->s[q].start : e);
			if (in && r->in_parent)
				ret = span_add(next, a, b);
			else if (!in && !r->in_parent && fd >= 0) {
				uint64_t off = (l->off[i] * PAGE_SIZE) + (a - r->vaddr);
				ret = lz.frames ? lz4_unneeded(&lz, off, b - a, punched)
				      : fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						  IMG_RAW_HDR + off, b - a) < 0
					  ? -errno
					  : 0;
				if (ret)
					pr_errno(-ret, "cannot punch a hole in %s of level %d",
						 name, k);
				if (!lz.frames)
					*punched += (b - a) / PAGE_SIZE;
			}
			a = b;
			if (in && a >= need->s[q].end)
				q++;
		}
	}
	if (fd >= 0)
		close(fd);
	free(lz.frames);
	free(lz.unneeded);
	return ret;
}

static int dedup_task(int dirfd, uint32_t root, pid_t pid, uint64_t *punched)
{
	struct restore_task t = {.pid = pid};
	struct chain *c = calloc(1, sizeof(*c));
	struct spans need = {0}, next = {0};
	ProtobufCMessage *msg = NULL;
	uint64_t size;
	int ret;

	if (!c)
		return -ENOMEM;
	c->t = &t;
	c->root = root;
	c->lv[0] = (struct level){.dirfd = dirfd, .pages_fd = -1};
	c->nr = 1;
	c->out_fd = -1;
	if ((ret = img_read(dirfd, IMG_PAGEMAP, pid, &msg)))
		goto out;
	c->lv[0].pm = (Pagemap *)msg;
	c->lv[0].owned = true;
	bool unpacked;
	if ((c->lv[0].pages_fd = pages_open(dirfd, pid, c->lv[0].pm, &size, &unpacked)) < 0) {
		ret = c->lv[0].pages_fd;
		goto out;
	}
	if ((ret = check_runs(c, &c->lv[0], size, 0)))
		goto out;
	for (size_t i = 0; i < c->lv[0].pm->n_runs && !ret; i++) {
		PageRun *r = c->lv[0].pm->runs[i];
		if (r->in_parent)
			ret = span_add(&need, r->vaddr, r->vaddr + r->nr_pages * PAGE_SIZE);
	}
	for (int k = 1; !ret; k++) {
		if (!has_parent_runs(c->lv[k - 1].pm))
			break;
		if ((ret = load_level(c, k)))
			break;
		next.n = 0;
		ret = dedup_level(c, k, &need, &next, punched);
		struct spans tmp = need;
		need = next;
		next = tmp;
	}
out:
	for (int k = 0; k < c->nr; k++) {
		struct level *l = &c->lv[k];
		if (k && l->dirfd >= 0)
			close(l->dirfd);
		if (l->pages_fd >= 0)
			close(l->pages_fd);
		img_free(l->pm ? &l->pm->base : NULL);
		free(l->off);
	}
	free(need.s);
	free(next.s);
	free(c);
	return ret;
}

int cryo_dedup(const char *dir)
{
	ProtobufCMessage *inv = NULL, *tree = NULL;
	uint64_t punched = 0;
	int dirfd = dir_open_root(dir), ret;

	if (dirfd < 0) {
		pr_errno(-dirfd, "cannot open images directory %s", dir);
		return dirfd;
	}
	if (!(ret = img_read(dirfd, IMG_INVENTORY, 0, &inv)) &&
	    !(ret = img_read(dirfd, IMG_PSTREE, 0, &tree))) {
		Pstree *pst = (Pstree *)tree;
		for (size_t i = 0; i < pst->n_tasks && !ret; i++) {
			PstreeTask *pt = pst->tasks[i];
			if (pt->has_zombie && pt->zombie)
				continue;
			if (pt->pid <= 1 || pt->pid > 4194304) {
				pr_err("pstree.img: invalid pid %u", pt->pid);
				ret = -EINVAL;
				break;
			}
			ret = dedup_task(dirfd, ((Inventory *)inv)->root_pid, pt->pid, &punched);
		}
	}
	if (!ret)
		pr_info("dedup of %s: %lu pages punched out of its parents", dir, punched);
	img_free(inv);
	img_free(tree);
	close(dirfd);
	return ret;
}
