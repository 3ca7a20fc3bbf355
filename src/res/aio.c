/* AIO contexts (io_setup). A context shows in the task only as its ring: a shared mapping of
 * the kernel's aio file (/[aio] (deleted) in maps) whose address is the context's id, with a
 * header (nr, head, tail) and nr completion events. The rest is the kernel's and is read with
 * the BPF iterator of src/bpf/aio_ctx.bpf.c: the number io_setup was given, and the ring's
 * slots, free or taken, from which the requests in flight follow. A request in flight cannot
 * be saved (its buffer and file are the kernel's until it completes), so the dump refuses
 * them; one that completes while the tree is frozen (a direct I/O read) is waited for a
 * little first.
 *
 * Restore, in the task's remote phase: io_setup with the same number gives a ring of the same
 * size (on as many possible CPUs: the kernel sizes it by them), moved with mremap to the old
 * address, which the kernel follows (the id becomes that address). The kernel's tail cannot
 * be set; it moves by one per completed request, so requests that complete at once (a read
 * of no bytes from an eventfd, which fails at once: its event is posted all the same) are
 * submitted and reaped until the ring's head is where it was, then submitted and left
 * unreaped up to the old tail: the kernel then counts as many events taken as there were.
 * Last, the ring's events (all nr slots, those reaped before too) and head are written back
 * as they were. */
#include <errno.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "core/arena.h"
#include "core/bpf_iter.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "res/aio.h"

#define AIO_CTX_MAGIC 0x61696f63u  /* as the BPF program writes its records */
#define AIO_RING_MAGIC 0xa10a10a1u /* the kernel's, in the ring's header */
#define AIO_RING_HEADER 32u	   /* struct aio_ring, before the events */
#define AIO_EVENT 32u		   /* struct io_event */
#define AIO_CPUS_MAX 512u	   /* as the program reads at most */
#define AIO_NR_MAX (0x10000000u / AIO_EVENT)

/* the kernel's struct aio_ring header, as it is in the task's memory */
struct ring_header {
	uint32_t id, nr, head, tail, magic, compat_features, incompat_features, header_length;
};

/* one record of the program (aio_ctx.bpf.c) */
struct ctx_rec {
	uint32_t magic, id;
	uint64_t user_id;
	uint32_t max_reqs, nr_events;
	uint32_t tail, completed_events;
	uint32_t free_global, free_cpus;
	uint32_t dead, cpus;
};

extern const char cryo_aio_ctx_obj[], cryo_aio_ctx_obj_end[];

/* loaded once per cryo, on the first ring a dump meets */
static struct bpf_iter_prog aio_ctx_prog = {
    .prog = "aio_ctx",
    .what = "the AIO contexts of a process",
    .needs = "its iterator of tasks",
    .obj = cryo_aio_ctx_obj,
    .obj_end = cryo_aio_ctx_obj_end,
};

/* CPUs the kernel may ever run (it sizes per-CPU data, and AIO rings, by them) */
static uint32_t possible_cpus(void)
{
	char buf[256];
	ssize_t n =
	    read_file_at(AT_FDCWD, "/sys/devices/system/cpu/possible", buf, sizeof(buf) - 1);
	if (n > 0) {
		/* "0-3,8-11": the last number is the highest CPU */
		buf[n] = 0;
		buf[strcspn(buf, "\n")] = 0;
		char *p = buf + strlen(buf);
		while (p > buf && p[-1] >= '0' && p[-1] <= '9')
			p--;
		if (*p)
			return (uint32_t)strtoul(p, NULL, 10) + 1;
	}
	return (uint32_t)sysconf(_SC_NPROCESSORS_CONF);
}

/* the context whose ring is at addr in task pid, as the kernel counts it now */
static int read_ctx(pid_t pid, uint64_t addr, uint32_t cpus, struct ctx_rec *out)
{
	struct {
		uint32_t nr_cpus;
	} bss = {cpus};
	char *buf;
	size_t len;
	int ret;

	if (bss.nr_cpus > AIO_CPUS_MAX) {
		pr_err("task %d: the AIO context at %#lx cannot be read: this machine may have %u "
		       "CPUs, more than the %u cryo reads",
		       pid, addr, bss.nr_cpus, AIO_CPUS_MAX);
		return -ENOTSUP;
	}
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot open a pidfd to read its AIO contexts", pid);
		return ret;
	}
	ret = bpf_iter_run_process(&aio_ctx_prog, pidfd, &bss, sizeof(bss), &buf, &len);
	close(pidfd);
	if (ret) {
		if (ret != -ENOTSUP)
			pr_errno(-ret,
				 "task %d: cannot run the BPF iterator of tasks for its AIO "
				 "context at %#lx",
				 pid, addr);
		else
			pr_err("task %d: its AIO context at %#lx cannot be saved without it", pid,
			       addr);
		return -ENOTSUP;
	}
	ret = -ENOENT;
	for (size_t off = 0; off + sizeof(*out) <= len; off += sizeof(*out)) {
		struct ctx_rec r;
		memcpy(&r, buf + off, sizeof(r));
		if (r.magic == AIO_CTX_MAGIC && r.user_id == addr && addr) {
			*out = r;
			ret = 0;
		}
	}
	free(buf);
	return ret;
}

int aio_dump_ring(struct arena *a, struct dump_task *t, Vma *v)
{
	uint64_t len = v->end - v->start;
	struct ring_header h;
	struct ctx_rec k = {0};
	uint32_t in_flight = 0, cpus = possible_cpus();
	int ret;

	/* requests that complete on their own (direct I/O) are given 100 ms */
	for (int round = 0;; round++) {
		ret = read_ctx(t->pid, v->start, cpus, &k);
		if (ret == -ENOENT) {
			pr_err(
			    "task %d: mapping %#lx-%#lx is the ring of an AIO context that is not "
			    "its own (inherited over fork: the context stays with the process "
			    "that made it): not supported",
			    t->pid, v->start, v->end);
			return -ENOTSUP;
		}
		if (ret)
			return ret;
		uint64_t taken = (uint64_t)k.free_global + k.free_cpus + k.completed_events;
		if (k.dead || !k.nr_events || k.nr_events > AIO_NR_MAX || taken >= k.nr_events) {
			if (k.dead || !k.nr_events || k.nr_events > AIO_NR_MAX ||
			    taken > k.nr_events - 1) {
				pr_err(
				    "task %d: the AIO context at %#lx is being destroyed or shows "
				    "counts cryo does not understand (nr_events %u, free %u+%u, "
				    "completed %u)",
				    t->pid, v->start, k.nr_events, k.free_global, k.free_cpus,
				    k.completed_events);
				return -ENOTSUP;
			}
		}
		in_flight = k.nr_events - 1 - (uint32_t)taken;
		if (!in_flight || round == 10)
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (in_flight) {
		pr_err("task %d: the AIO context at %#lx has %u request%s in flight (submitted, "
		       "not completed): cryo cannot save a request the kernel is still doing",
		       t->pid, v->start, in_flight, in_flight == 1 ? "" : "s");
		return -ENOTSUP;
	}
	ret = remote_read(t->pid, v->start, &h, sizeof(h));
	if (ret) {
		pr_errno(-ret, "task %d: cannot read the ring of its AIO context at %#lx", t->pid,
			 v->start);
		return ret;
	}
	uint64_t want =
	    ((uint64_t)AIO_RING_HEADER + (uint64_t)k.nr_events * AIO_EVENT + PAGE_SIZE - 1) &
	    ~(uint64_t)(PAGE_SIZE - 1);
	if (h.magic != AIO_RING_MAGIC || h.nr != k.nr_events || h.tail != k.tail ||
	    h.tail >= h.nr || h.header_length != AIO_RING_HEADER || len != want) {
		pr_err("task %d: the ring of its AIO context at %#lx is not as the kernel "
		       "keeps it (magic %#x, nr %u of %u, tail %u of %u, header %u, %#lx bytes of "
		       "%#lx)",
		       t->pid, v->start, h.magic, h.nr, k.nr_events, h.tail, k.tail,
		       h.header_length, len, want);
		return -ENOTSUP;
	}
	AioRing *r = A_NEW(a, AioRing, AIO_RING);
	uint8_t *ev = r ? arena_alloc(a, (size_t)h.nr * AIO_EVENT) : NULL;
	if (!ev)
		return -ENOMEM;
	ret = remote_read(t->pid, v->start + AIO_RING_HEADER, ev, (size_t)h.nr * AIO_EVENT);
	if (ret) {
		pr_errno(-ret, "task %d: cannot read the events of its AIO context at %#lx", t->pid,
			 v->start);
		return ret;
	}
	/* the counts again: nothing may have moved while the ring was read */
	struct ctx_rec k2 = {0};
	ret = read_ctx(t->pid, v->start, cpus, &k2);
	if (ret || k2.tail != k.tail || k2.completed_events != k.completed_events ||
	    k2.free_global + k2.free_cpus != k.free_global + k.free_cpus) {
		pr_err("task %d: its AIO context at %#lx changed while it was read", t->pid,
		       v->start);
		return ret ? ret : -EAGAIN;
	}
	if (h.id != k.id) {
		pr_err("task %d: the ring of its AIO context at %#lx names context %u, not %u: the "
		       "kernel would not find it",
		       t->pid, v->start, h.id, k.id);
		return -ENOTSUP;
	}
	r->id = k.id;
	r->max_reqs = k.max_reqs;
	r->nr = h.nr;
	r->head = h.head;
	r->tail = h.tail;
	r->events.data = ev;
	r->events.len = (size_t)h.nr * AIO_EVENT;
	v->aio = r;
	pr_info("task %d: AIO context %#lx: io_setup(%u), %u events, head %u, tail %u", t->pid,
		v->start, r->max_reqs, r->nr, r->head, r->tail);
	return 0;
}

int aio_ring_check(const Vma *v, const char **why)
{
	const AioRing *r = v->aio;
	bool ring = v->kind == VMA_KIND__VMA_AIO_RING;

	*why = NULL;
	if (!ring != !r)
		*why = "an aio_ring where there is no AIO ring, or none where there is";
	else if (!ring)
		return 0;
	else if (!r->max_reqs || !r->nr || r->nr > AIO_NR_MAX || r->tail >= r->nr ||
		 r->max_reqs > r->nr || r->id >= 1u << 16)
		*why = "aio_ring: max_reqs, nr or tail out of range";
	else if (r->events.len != (size_t)r->nr * AIO_EVENT)
		*why = "aio_ring: events is not nr events long";
	else if (v->end - v->start !=
		 (((uint64_t)AIO_RING_HEADER + (uint64_t)r->nr * AIO_EVENT + PAGE_SIZE - 1) &
		  ~(uint64_t)(PAGE_SIZE - 1)))
		*why = "aio_ring: the mapping is not the size of a ring of nr events";
	else if (v->flags != MAP_SHARED || v->prot != (PROT_READ | PROT_WRITE) || v->path)
		*why = "aio_ring: the mapping is not a ring's (shared, read-write, no file)";
	return *why ? -EINVAL : 0;
}

/* scratch in the task, above where batches put their data (none runs meanwhile) */
enum {
	SCR_CTX = 0,	  /* aio_context_t io_setup writes */
	SCR_TS = 16,	  /* a zero timespec */
	SCR_LIST = 64,	  /* iocb pointers */
	SCR_IOCBS = 1024, /* the iocbs */
	SCR_EVENTS = SCR_IOCBS + 64 * sizeof(struct iocb),
	SCR_END = SCR_EVENTS + 64 * sizeof(struct io_event),
	CHUNK = 64,
};

/* n requests that complete at once, reaped (reap) or left in the ring */
static int complete_requests(struct restore_task *t, uint64_t scr, uint64_t ctx_id, int efd,
			     uint32_t n, bool reap)
{
	struct iocb cbs[CHUNK];
	uint64_t list[CHUNK];
	int ret;

	for (int i = 0; i < CHUNK; i++) {
		cbs[i] =
		    (struct iocb){.aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = (uint32_t)efd};
		list[i] = scr + SCR_IOCBS + (uint64_t)i * sizeof(struct iocb);
	}
	if ((ret = remote_write(t->pid, scr + SCR_IOCBS, cbs, sizeof(cbs))) ||
	    (ret = remote_write(t->pid, scr + SCR_LIST, list, sizeof(list))))
		return ret;
	while (n) {
		long c = n < CHUNK ? n : CHUNK;
		long rv = rsys3(&t->rem, __NR_io_submit, ctx_id, c, scr + SCR_LIST);
		if (rv <= 0) {
			pr_errno(rv ? (int)-rv : EAGAIN,
				 "task %d: AIO context %#lx: cannot submit the requests that bring "
				 "its ring where it was",
				 t->pid, ctx_id);
			return rv ? (int)rv : -EAGAIN;
		}
		if (reap) {
			long got = rsys5(&t->rem, __NR_io_getevents, ctx_id, rv, rv,
					 scr + SCR_EVENTS, scr + SCR_TS);
			if (got != rv) {
				pr_errno(got < 0 ? (int)-got : EIO,
					 "task %d: AIO context %#lx: %ld of %ld requests reaped",
					 t->pid, ctx_id, got < 0 ? 0 : got, rv);
				return got < 0 ? (int)got : -EIO;
			}
		}
		n -= (uint32_t)rv;
	}
	return 0;
}

static int rebuild(struct restore_task *t, const Vma *v, uint64_t scr, int efd, uint64_t *ctx_id)
{
	const AioRing *r = v->aio;
	uint64_t len = v->end - v->start;
	struct ring_header h;
	long rv;
	int ret;

	uint64_t zero = 0; /* (io_setup wants its slot 0) */
	if ((ret = remote_write(t->pid, scr + SCR_CTX, &zero, sizeof(zero))))
		return ret;
	rv = rsys2(&t->rem, __NR_io_setup, r->max_reqs, scr + SCR_CTX);
	if (rv < 0) {
		pr_errno((int)-rv, "task %d: cannot make its AIO context again (io_setup(%u))",
			 t->pid, r->max_reqs);
		return (int)rv;
	}
	if ((ret = remote_read(t->pid, scr + SCR_CTX, ctx_id, sizeof(*ctx_id))) ||
	    (ret = remote_read(t->pid, *ctx_id, &h, sizeof(h))))
		return ret;
	if (h.nr != r->nr) {
		pr_err("task %d: io_setup(%u) makes a ring of %u events here, not %u as when it "
		       "was dumped (a machine with another number of possible CPUs?)",
		       t->pid, r->max_reqs, h.nr, r->nr);
		return -ENOTSUP;
	}
	if (*ctx_id != v->start) {
		rv = rsys5(&t->rem, __NR_mremap, *ctx_id, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   v->start);
		if (rv != (long)v->start) {
			pr_errno(rv < 0 ? (int)-rv : EIO,
				 "task %d: cannot move the ring of its AIO context to %#lx", t->pid,
				 v->start);
			return rv < 0 ? (int)rv : -EIO;
		}
		*ctx_id = v->start;
	}
	uint32_t head = r->head % r->nr, pending = (r->tail + r->nr - head) % r->nr;
	if ((ret = complete_requests(t, scr, *ctx_id, efd, head, true)) ||
	    (ret = complete_requests(t, scr, *ctx_id, efd, pending, false)))
		return ret;
	if ((ret = remote_read(t->pid, v->start, &h, sizeof(h))))
		return ret;
	if (h.tail != r->tail || h.head != head) {
		pr_err("task %d: the ring of its AIO context came to head %u, tail %u, not %u, %u",
		       t->pid, h.head, h.tail, head, r->tail);
		return -EIO;
	}
	if ((ret =
		 remote_write(t->pid, v->start + AIO_RING_HEADER, r->events.data, r->events.len)) ||
	    (ret = remote_write(t->pid, v->start + offsetof(struct ring_header, head), &r->head,
				sizeof(r->head))))
		pr_errno(-ret, "task %d: cannot write the events of its AIO context at %#lx",
			 t->pid, v->start);
	return ret;
}

/* The contexts of the task's rings, in the order of their ids: the kernel gives each new
 * context the lowest free index of the task's table, so a hole (a context destroyed) is made
 * by a filler context destroyed at the end. */
int aio_restore_rings(struct restore_task *t)
{
	uint64_t scr = remote_batch_data(&t->rem), fillers[64];
	struct timespec zero = {0, 0};
	size_t nf = 0;
	uint32_t next = 0;
	int ret = 0;
	long efd = -1;

	for (;;) {
		const Vma *v = NULL;
		bool any = false;
		for (size_t i = 0; i < t->mm->n_vmas; i++) {
			const Vma *w = t->mm->vmas[i];
			if (w->kind != VMA_KIND__VMA_AIO_RING || w->aio->id < next)
				continue;
			any = true;
			if (!v || w->aio->id < v->aio->id)
				v = w;
		}
		if (!any)
			break;
		if (efd < 0) {
			if (scr + SCR_END > remote_scratch(&t->rem) + remote_scratch_size(&t->rem))
				return -ENOSPC;
			if ((ret = remote_write(t->pid, scr + SCR_TS, &zero, sizeof(zero))))
				return ret;
			efd = rsys2(&t->rem, __NR_eventfd2, 0, EFD_CLOEXEC);
			if (efd < 0) {
				pr_errno((int)-efd,
					 "task %d: cannot make the eventfd its AIO contexts are "
					 "rebuilt with",
					 t->pid);
				return (int)efd;
			}
		}
		if (v->aio->id > next) {
			/* a hole in the table: a filler takes index next */
			uint64_t id = 0;
			long rv = -ENOSPC;
			if (nf == sizeof(fillers) / sizeof(fillers[0]) ||
			    (ret = remote_write(t->pid, scr + SCR_CTX, &id, sizeof(id))) ||
			    (rv = rsys2(&t->rem, __NR_io_setup, 1, scr + SCR_CTX)) < 0 ||
			    (ret = remote_read(t->pid, scr + SCR_CTX, &id, sizeof(id)))) {
				if (!ret) {
					ret = (int)rv;
					pr_errno(
					    (int)-rv,
					    "task %d: cannot fill index %u of its AIO contexts",
					    t->pid, next);
				}
				break;
			}
			fillers[nf++] = id;
			next++;
			continue;
		}
		uint64_t ctx_id = 0;
		ret = rebuild(t, v, scr, (int)efd, &ctx_id);
		if (ret) {
			if (ctx_id)
				rsys1(&t->rem, __NR_io_destroy, ctx_id);
			break;
		}
		pr_info("task %d: AIO context %#lx made again (index %u, head %u, tail %u)", t->pid,
			v->start, v->aio->id, v->aio->head, v->aio->tail);
		next = v->aio->id + 1;
	}
	for (size_t i = 0; i < nf; i++) {
		long rv = rsys1(&t->rem, __NR_io_destroy, fillers[i]);
		if (rv < 0 && !ret) {
			pr_errno((int)-rv, "task %d: cannot destroy a filler AIO context", t->pid);
			ret = (int)rv;
		}
	}
	if (efd >= 0)
		rsys1(&t->rem, __NR_close, efd);
	return ret;
}
