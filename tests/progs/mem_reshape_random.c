/* Random reshaping of an address space, the operations real programs mix, with a model of what
 * every page must hold.
 *
 * In a reserved PROT_NONE stretch of 2048 pages, a fixed random sequence (seeds 1..4, one
 * after another in four stretches) of: anonymous, private file, shared file and shared
 * anonymous mappings made with MAP_FIXED over whatever is there; pages written; holes
 * punched with munmap; pieces of mappings moved, grown and shrunk with mremap (MREMAP_FIXED,
 * within what their object holds); mprotect to read-only, PROT_NONE and back. The model
 * follows each page: its data (a tag written into it), the file offset or shared object it
 * maps, and its protection. After the dump every page is checked against the model (a
 * PROT_NONE page is made readable first), shared pages through their object (a pread of the
 * shared file), holes are still holes, and the layout is identical. */
// zt-run: gen2 lazy predump page-server
#include "zt.h"
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <unistd.h>

#define PG 4096UL
#define NPG 2048
#ifndef NSEEDS
#define NSEEDS 4
#endif
#ifndef SEED0
#define SEED0 0
#endif
#define OPS 400
#ifndef WRITE_MAX
#define WRITE_MAX 16
#endif
#define FPAGES 256 /* pages of each file */
#define MAXOBJ 64
#define OBJPG 64

enum kind { RESERVED, HOLE, ANON, FPRIV, FSHARED, SHANON };

struct page {
	uint8_t kind, prot;
	uint16_t obj;	/* SHANON: its object */
	uint32_t off;	/* FPRIV/FSHARED/SHANON: page offset in the object */
	uint32_t tag;	/* ANON/FPRIV: data written (0: none) */
};

static struct page model[NSEEDS][NPG];
static uint32_t shared_file[FPAGES]; /* tag of each page of the shared file */
static uint32_t shanon[MAXOBJ][OBJPG];
static int nr_obj;
static char *base[NSEEDS];
static int fpriv, fshared;
static uint32_t next_tag = 1000;
static uint64_t rng;
static int slot;      /* 0 in the parent, 1 in the child */
static int fork_obj = -1; /* shared objects made before the fork: written by nobody after */
#define EXPECT(cond, ...)                                                                          \
	(slot ? zt_tree_expect(slot, cond, __VA_ARGS__) : zt_expect(cond, __VA_ARGS__))
static char layout_before[2 << 20], layout_after[2 << 20];

static uint32_t rnd(uint32_t n)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng >> 33) % n;
}

/* A page's content: the tag in every word, mixed with the word's place in the page */
static void put(char *p, uint32_t tag)
{
	uint32_t *w = (uint32_t *)p;
	for (size_t i = 0; i < PG / 4; i++)
		w[i] = tag * 2654435761u + (uint32_t)i;
}

static bool is(const char *p, uint32_t tag)
{
	const uint32_t *w = (const uint32_t *)p;
	if (!tag) {
		for (size_t i = 0; i < PG / 4; i++)
			if (w[i])
				return false;
		return true;
	}
	for (size_t i = 0; i < PG / 4; i++)
		if (w[i] != tag * 2654435761u + (uint32_t)i)
			return false;
	return true;
}

static uint32_t priv_file_tag(uint32_t off)
{
	return 100000 + off;
}

static uint32_t expected(const struct page *m)
{
	switch (m->kind) {
	case ANON:
		return m->tag;
	case FPRIV:
		return m->tag ? m->tag : priv_file_tag(m->off);
	case FSHARED:
		return shared_file[m->off];
	case SHANON:
		return shanon[m->obj][m->off];
	}
	return 0;
}

static void make_files(void)
{
	static char buf[PG];
	fpriv = open("private.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
	fshared = open("shared.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fpriv < 0 || fshared < 0)
		zt_fail("create files: %m");
	for (uint32_t i = 0; i < FPAGES; i++) {
		put(buf, priv_file_tag(i));
		if (pwrite(fpriv, buf, PG, i * PG) != (ssize_t)PG)
			zt_fail("write: %m");
		shared_file[i] = 200000 + i;
		put(buf, shared_file[i]);
		if (pwrite(fshared, buf, PG, i * PG) != (ssize_t)PG)
			zt_fail("write: %m");
	}
}

/* The mapping (as the kernel has it) around page i of stretch s: [*lo, *hi) in pages */
static bool vma_of(int s, int i, int *lo, int *hi)
{
	static char maps[256 << 10];
	uintptr_t a = (uintptr_t)(base[s] + (size_t)i * PG);
	if (zt_read_file("/proc/self/maps", maps, sizeof(maps)) < 0)
		zt_fail("maps: %m");
	for (char *l = maps; *l;) {
		unsigned long st, en;
		if (sscanf(l, "%lx-%lx", &st, &en) == 2 && a >= st && a < en) {
			uintptr_t b = (uintptr_t)base[s];
			*lo = st < b ? 0 : (int)((st - b) / PG);
			*hi = en > b + NPG * PG ? NPG : (int)((en - b) / PG);
			return true;
		}
		char *nl = strchr(l, '\n');
		if (!nl)
			break;
		l = nl + 1;
	}
	return false;
}

static void op_map(int s)
{
	int n = 1 + rnd(48), at = rnd(NPG - n), k = rnd(4);
	int prot = PROT_READ | PROT_WRITE;
	char *a = base[s] + (size_t)at * PG;
	void *p;
	uint32_t off = 0;
	uint16_t obj = 0;

	if (k == 0) {
		p = mmap(a, n * PG, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	} else if (k == 1 || k == 2) {
		off = rnd(FPAGES - n);
		p = mmap(a, n * PG, prot, (k == 1 ? MAP_PRIVATE : MAP_SHARED) | MAP_FIXED,
			 k == 1 ? fpriv : fshared, (off_t)off * PG);
	} else {
		if (nr_obj == MAXOBJ || n > OBJPG)
			return;
		obj = (uint16_t)nr_obj++;
		p = mmap(a, n * PG, prot,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		/* the object is as large as the first mapping of it */
		for (int i = n; i < OBJPG; i++)
			shanon[obj][i] = 0xffffffff; /* beyond the object: never mapped */
	}
	if (p != a)
		zt_fail("mmap kind %d at %p: %m", k, (void *)a);
	for (int i = 0; i < n; i++)
		model[s][at + i] = (struct page){.kind = k == 0	  ? ANON
							 : k == 1 ? FPRIV
							 : k == 2 ? FSHARED
								  : SHANON,
						 .prot = (uint8_t)prot,
						 .obj = obj,
						 .off = off + i};
}

static void op_write(int s)
{
	int n = 1 + rnd(WRITE_MAX), at = rnd(NPG - n);
	for (int i = at; i < at + n; i++) {
		struct page *m = &model[s][i];
		if (m->kind < ANON || m->prot != (PROT_READ | PROT_WRITE))
			continue;
		/* after the fork each task has its own model: shared data stays as it was */
		if (fork_obj >= 0 && (m->kind == FSHARED || (m->kind == SHANON && m->obj < fork_obj)))
			continue;
		uint32_t tag = next_tag++;
		put(base[s] + (size_t)i * PG, tag);
		if (m->kind == ANON || m->kind == FPRIV)
			m->tag = tag;
		else if (m->kind == FSHARED)
			shared_file[m->off] = tag;
		else
			shanon[m->obj][m->off] = tag;
	}
}

static void op_unmap(int s)
{
	int n = 1 + rnd(24), at = rnd(NPG - n);
	if (munmap(base[s] + (size_t)at * PG, n * PG))
		zt_fail("munmap: %m");
	for (int i = at; i < at + n; i++)
		model[s][i] = (struct page){.kind = HOLE};
}

static void op_protect(int s)
{
	int n = 1 + rnd(24), at = rnd(NPG - n);
	int prots[] = {PROT_READ, PROT_NONE, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE};
	int prot = prots[rnd(4)];
	for (int i = at; i < at + n; i++)
		if (model[s][i].kind < ANON)
			return; /* only over mapped pages */
	if (mprotect(base[s] + (size_t)at * PG, n * PG, prot))
		zt_fail("mprotect: %m");
	for (int i = at; i < at + n; i++)
		model[s][i].prot = (uint8_t)prot;
}

/* Move (and grow or shrink) a piece of one mapping to a place in the stretch */
static void op_remap(int s)
{
	static struct page tmp[NPG];
	int lo, hi, i = rnd(NPG);
	struct page *m = &model[s][i];

	if (m->kind < ANON || !vma_of(s, i, &lo, &hi))
		return;
	int from = lo + rnd(hi - lo);
	int n = 1 + rnd(hi - from);
	int grow = (int)rnd(3) - 1; /* -1 shrink, 0 same, 1 grow */
	int nn = n + grow * (1 + (int)rnd(8));
	if (nn < 1)
		nn = 1;
	/* a grown piece maps what follows in its object: there must be something */
	for (int k = n; k < nn; k++) {
		struct page last = model[s][from + n - 1];
		uint32_t off = last.off + (k - n) + 1;
		if ((last.kind == FPRIV || last.kind == FSHARED) && off >= FPAGES)
			nn = k;
		if (last.kind == SHANON && (off >= OBJPG || shanon[last.obj][off] == 0xffffffff))
			nn = k;
	}
	int to = rnd(NPG - nn);
	/* the target must not overlap the source (MREMAP_FIXED refuses that) */
	if (to < from + n && from < to + nn)
		return;
	char *src = base[s] + (size_t)from * PG, *dst = base[s] + (size_t)to * PG;
	if (mremap(src, n * PG, nn * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != dst)
		zt_fail("mremap %p+%d -> %p+%d: %m", (void *)src, n, (void *)dst, nn);
	for (int k = 0; k < nn; k++) {
		if (k < n)
			tmp[k] = model[s][from + k];
		else {
			tmp[k] = model[s][from + n - 1];
			tmp[k].off += k - n + 1;
			tmp[k].tag = 0;
		}
	}
	for (int k = 0; k < n; k++)
		model[s][from + k] = (struct page){.kind = HOLE};
	for (int k = 0; k < nn; k++)
		model[s][to + k] = tmp[k];
}

static void run(int s, int ops)
{
	for (int op = 0; op < ops; op++) {
		switch (rnd(10)) {
		case 0:
		case 1:
			op_map(s);
			break;
		case 2:
		case 3:
		case 4:
			op_write(s);
			break;
		case 5:
			op_unmap(s);
			break;
		case 6:
			op_protect(s);
			break;
		default:
			op_remap(s);
			break;
		}
	}
}

static void check(int s)
{
	static char buf[PG];
	int bad = 0;
	for (int i = 0; i < NPG; i++) {
		struct page *m = &model[s][i];
		char *p = base[s] + (size_t)i * PG;
		unsigned char v;
		if (m->kind == HOLE) {
			if (!EXPECT(mincore(p, PG, &v) < 0 && errno == ENOMEM,
				       "stretch %d page %d (%p): hole is mapped", s, i, (void *)p))
				bad++;
			continue;
		}
		if (m->kind == RESERVED)
			continue;
		if (!(m->prot & PROT_READ) && mprotect(p, PG, PROT_READ))
			zt_fail("mprotect for the check: %m");
		uint32_t want = expected(m);
		if (!is(p, want) && bad++ < 20)
			EXPECT(0, "task %d stretch %d page %d (%p): kind %d prot %d off %u: data mismatch "
				  "(want tag %u, first word %#x)",
				  slot, s, i, (void *)p, m->kind, m->prot, m->off, want, *(uint32_t *)p);
		if (m->kind == FSHARED &&
		    (pread(fshared, buf, PG, (off_t)m->off * PG) != (ssize_t)PG || !is(buf, want)) &&
		    bad++ < 20)
			EXPECT(0, "stretch %d page %d: shared file page %u differs in the file", s, i,
				  m->off);
	}
	if (bad)
		zt_log("task %d stretch %d: %d bad pages", slot, s, bad);
}

int main(int argc, char **argv)
{
	pid_t child;

	zt_init(argc, argv);
	make_files();
	for (int s = 0; s < NSEEDS; s++) {
		char *a = zt_free_area(NPG * PG + 64 * PG);
		base[s] = mmap(a + 32 * PG, NPG * PG, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1,
			       0);
		if (base[s] == MAP_FAILED)
			zt_fail("reserve: %m");
		rng = (uint64_t)(SEED0 + s + 1) * 0x9e3779b97f4a7c15ULL;
		run(s, OPS);
	}
	/* a child goes on reshaping its copy, the parent its own */
	zt_tree_init(2);
	fork_obj = nr_obj;
	child = fork();
	if (child < 0)
		zt_fail("fork: %m");
	rng ^= child ? 0x1234 : 0x5678;
	slot = child ? 0 : 1;
	if (!child)
		zt_tree_child();
	for (int s = 0; s < NSEEDS; s++)
		run(s, OPS / 4);
	if (!child) {
		zt_tree_ready(1, "child");
		zt_tree_wait_go();
		for (int s = 0; s < NSEEDS; s++)
			check(s);
		zt_tree_done(1);
		for (;;)
			pause();
	}
	zt_tree_wait_ready();
	if (zt_smaps_layout(layout_before, sizeof(layout_before)) < 0)
		zt_fail("cannot read smaps");

	zt_ready();
	zt_wait_for_check();

	if (zt_smaps_layout(layout_after, sizeof(layout_after)) < 0)
		zt_fail("cannot read smaps after");
	if (!zt_expect_same_text("smaps", layout_before, layout_after)) {
		/* both kept in the work directory, to be compared whole */
		int fd = open("smaps.before", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0 && write(fd, layout_before, strlen(layout_before)) < 0)
			zt_log("cannot keep smaps.before: %m");
		close(fd);
		fd = open("smaps.after", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0 && write(fd, layout_after, strlen(layout_after)) < 0)
			zt_log("cannot keep smaps.after: %m");
		close(fd);
	}
	for (int s = 0; s < NSEEDS; s++)
		check(s);
	zt_tree_go();
	zt_tree_collect();
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	zt_pass();
}
