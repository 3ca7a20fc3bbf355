/* System V IPC: the segments, semaphore sets and message queues of cryo's IPC namespace that
 * the tree uses. Processes in cryo's namespace share its objects with every other process of
 * the host, so a dump saves only the objects it can tie to the tree, and says which others
 * it leaves as they are:
 * - a shared memory segment attached by a task of the tree (its mappings name it): saved,
 *   with its pages; one attached outside the tree too, or attached in part, is refused; one
 *   only created or last attached by a task (cpid, lpid) is named in the log, left as it is;
 * - a semaphore set whose last operation on any semaphore (sempid) was a task's: saved;
 * - a message queue whose last sender or receiver (lspid, lrpid) is a task: saved;
 * - any other object: named in the log, left as it is.
 * A restore makes each object again with its id (/proc/sys/kernel/{shm,sem,msg}_next_id) and
 * key, as its creator (cuid, cgid), with its content, then its owner and mode; an object that
 * exists with that id is taken instead when it is the same one (key, size or number of
 * semaphores, not attached by anyone), and set back to its dumped state; anything else in
 * the way refuses the restore. Each task attaches its segments again itself (shmat, remote),
 * at the same address with the same flags; a segment removed while attached is removed again
 * once every task has attached it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/kcmp.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "img/image.h"
#include "res/mm.h"
#include "res/sysvipc.h"

#define SHM_MAX_BYTES (1ull << 40)  /* no segment of a dump is near this */
#define SEM_MAX_NSEMS 32000	    /* SEMMSL_MAX */
#define SEM_MAX_VALUE 32767	    /* SEMVMX */
#define MSG_MAX_QBYTES (1ull << 30) /* the image cap is far below */
#define IPC_MAX_ID 0x7fffffffu
#define IPC_MAX_OBJECTS 32768 /* IPCMNI */
#define SHM_DEST_BIT 01000
#define SHM_LOCKED_BIT 02000

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

/* ---- dump ---- */

/* The semaphore sets operated on since `since` (wall seconds): their ids, for a message */
static int sets_used_since(time_t since, char *ids, size_t len)
{
	struct seminfo info;
	union semun arg = {.buf = (struct semid_ds *)&info};
	int max = semctl(0, 0, SEM_INFO, arg), n = 0;
	size_t used = 0;

	ids[0] = 0;
	for (int idx = 0; idx <= max; idx++) {
		struct semid_ds ds;
		arg.buf = &ds;
		int id = semctl(idx, 0, SEM_STAT_ANY, arg);
		if (id < 0 || ds.sem_otime < since)
			continue;
		if (used + 16 < len)
			used += (size_t)snprintf(ids + used, len - used, "%s%d", n ? ", " : "", id);
		n++;
	}
	return n;
}

/* When the task started, in wall seconds (its start time counts from boot) */
static time_t started_at(const struct dump_task *t)
{
	struct timespec boot, real;
	long tick = sysconf(_SC_CLK_TCK);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_REALTIME, &real);
	return real.tv_sec - boot.tv_sec +
	       (time_t)(t->stat.start_time / (uint64_t)(tick > 0 ? tick : 100));
}

int sysv_check_undo(struct dump_ctx *ctx, struct dump_task *t)
{
	char ids[256];
	(void)ctx;
	/* kcmp compares the undo lists of two tasks; cryo never has one, so a task whose list
	 * differs from cryo's has one. No interface shows its adjustments, and the kernel also
	 * gives an empty list to every process that made a thread (CLONE_SYSVSEM). A list the
	 * task made itself can only hold adjustments for sets operated on since it started */
	for (int k = 0; k < t->nr_threads; k++) {
		long r = syscall(SYS_kcmp, getpid(), t->threads[k].tid, KCMP_SYSVSEM, 0, 0);
		if (r < 0) {
			int err = errno;
			if (err == ESRCH)
				return -ESRCH;
			pr_errno(err, "task %d: cannot compare its semaphore undo list", t->pid);
			return -err;
		}
		if (!r)
			continue;
		if (t->stat.ppid > 0 &&
		    syscall(SYS_kcmp, t->stat.ppid, t->threads[k].tid, KCMP_SYSVSEM, 0, 0) == 0) {
			pr_err("task %d (thread %d) shares its System V semaphore undo list with "
			       "process %d (CLONE_SYSVSEM): cryo cannot restore that",
			       t->pid, t->threads[k].tid, t->stat.ppid);
			return -ENOTSUP;
		}
		/* a second of slack: the times are in whole seconds */
		if (sets_used_since(started_at(t) - 2, ids, sizeof(ids))) {
			pr_err(
			    "task %d (thread %d) has a System V semaphore undo list (semop with "
			    "SEM_UNDO, or threads), and semaphore sets were operated on since it "
			    "started (ids %s): the kernel does not show its undo adjustments, "
			    "cryo cannot restore them",
			    t->pid, t->threads[k].tid, ids);
			return -ENOTSUP;
		}
	}
	return 0;
}

static bool tree_pid(const struct dump_ctx *ctx, pid_t pid)
{
	for (int i = 0; pid > 0 && i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].pid == pid)
			return true;
	return false;
}

static SysvPerm *new_perm(struct dump_ctx *ctx, int id, const struct ipc_perm *p)
{
	SysvPerm *sp = A_NEW(&ctx->arena, SysvPerm, SYSV_PERM);
	if (!sp)
		return NULL;
	sp->id = (uint32_t)id;
	sp->key = p->__key;
	sp->mode = p->mode & 0777;
	sp->uid = p->uid, sp->gid = p->gid;
	sp->cuid = p->cuid, sp->cgid = p->cgid;
	return sp;
}

/* The tree's mappings of segment id: how many VMAs, and one of them to read it through */
static int shm_attaches(struct dump_ctx *ctx, uint32_t id, uint64_t size, const Vma **first,
			pid_t *owner)
{
	int nr = 0;
	*first = NULL;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		uint64_t next = 0; /* the offset the next VMA of an attach continues at */
		for (size_t k = 0; !t->zombie && k < t->mm->n_vmas; k++) {
			const Vma *v = t->mm->vmas[k];
			if (v->kind != VMA_KIND__VMA_SYSV_SHM || v->sysv_shm_id != id)
				continue;
			const Vma *prev = k ? t->mm->vmas[k - 1] : NULL;
			bool cont = prev && prev->kind == VMA_KIND__VMA_SYSV_SHM &&
				    prev->sysv_shm_id == id && prev->end == v->start &&
				    v->pgoff == next && next;
			if (!cont && v->pgoff != 0) {
				pr_err("task %d: System V shared memory %u is attached in part at "
				       "%#lx (offset %#lx): cryo cannot restore a partial attach",
				       t->pid, id, v->start, v->pgoff);
				return -ENOTSUP;
			}
			next = v->pgoff + (v->end - v->start);
			const Vma *nv = k + 1 < t->mm->n_vmas ? t->mm->vmas[k + 1] : NULL;
			bool more = nv && nv->kind == VMA_KIND__VMA_SYSV_SHM &&
				    nv->sysv_shm_id == id && nv->start == v->end &&
				    nv->pgoff == next;
			if (!more && next != PAGE_ALIGN(size)) {
				pr_err(
				    "task %d: System V shared memory %u is attached in part (up "
				    "to %#lx, %#lx of %#lx bytes): cryo cannot restore a partial "
				    "attach",
				    t->pid, id, v->end, next, PAGE_ALIGN(size));
				return -ENOTSUP;
			}
			if (!more)
				next = 0;
			if (!*first)
				*first = v, *owner = t->pid;
			nr++;
		}
	}
	return nr;
}

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* The pages of a segment, read through a mapping's map_files (nothing of the segment
 * changes: no attach), holes and zero pages left out */
static int shm_read_pages(struct dump_ctx *ctx, SysvShm *s, pid_t pid, const Vma *v)
{
	char path[96], name[64];
	uint64_t end = PAGE_ALIGN(s->size);
	uint8_t *buf = NULL;
	int src, out, ret = 0;
	PageRun *run = NULL;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid, v->start, v->end);
	src = open(path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		ret = -errno;
		pr_errno(-ret,
			 "task %d: cannot open System V shared memory %u through %s (needs "
			 "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN)",
			 pid, s->perm->id, path);
		return ret;
	}
	out = img_raw_create(ctx->dirfd, IMG_SYSVSHM, (int)s->perm->id);
	if (out < 0) {
		close(src);
		return out;
	}
	img_name(IMG_SYSVSHM, (int)s->perm->id, name, sizeof(name));
	buf = malloc(PAGE_SIZE);
	if (!buf)
		ret = -ENOMEM;
	for (off_t off = 0; !ret && (uint64_t)off < end;) {
		off_t data = lseek(src, off, SEEK_DATA), hole;
		if (data < 0 && errno == ENXIO)
			break;
		hole = data < 0 ? -1 : lseek(src, data, SEEK_HOLE);
		if (data < 0 || hole < 0) {
			ret = -errno;
			pr_errno(-ret, "System V shared memory %u: cannot find its data",
				 s->perm->id);
			break;
		}
		if ((uint64_t)hole > end)
			hole = (off_t)end;
		for (off_t p = data & ~(off_t)(PAGE_SIZE - 1); !ret && p < hole; p += PAGE_SIZE) {
			ssize_t n = pread(src, buf, PAGE_SIZE, p);
			if (n < 0) {
				ret = -errno;
				pr_errno(-ret, "System V shared memory %u: cannot read offset %#lx",
					 s->perm->id, (unsigned long)p);
				break;
			}
			if (n < (ssize_t)PAGE_SIZE) /* the end of the segment's object */
				memset(buf + n, 0, PAGE_SIZE - n);
			if (page_is_zero(buf)) {
				run = NULL;
				continue;
			}
			if ((ret = write_all(out, buf, PAGE_SIZE))) {
				pr_errno(-ret, "cannot write %s", name);
				break;
			}
			if (run && run->vaddr + run->nr_pages * PAGE_SIZE == (uint64_t)p) {
				run->nr_pages++;
			} else {
				run = A_NEW(&ctx->arena, PageRun, PAGE_RUN);
				if (!run || !DUMP_PUSH(ctx, s->runs, s->n_runs, run)) {
					ret = -ENOMEM;
					break;
				}
				run->vaddr = (uint64_t)p;
				run->nr_pages = 1;
			}
			s->nr_pages++;
		}
		off = hole;
		run = NULL;
	}
	free(buf);
	close(src);
	if (ret) {
		close(out);
		return ret;
	}
	return img_close_synced(out, name);
}

static int dump_shms(struct dump_ctx *ctx)
{
	struct shm_info info;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info), refused = 0;

	if (max < 0) {
		pr_errno(errno, "cannot list System V shared memory segments (SHM_INFO)");
		return -errno;
	}
	for (int idx = 0; idx <= max; idx++) {
		struct shmid_ds ds;
		int id = shmctl(idx, SHM_STAT_ANY, &ds), ret;
		const Vma *v;
		pid_t owner = 0;
		if (id < 0)
			continue; /* a free index */
		int nr = shm_attaches(ctx, (uint32_t)id, ds.shm_segsz, &v, &owner);
		if (nr < 0) {
			refused = nr;
			continue;
		}
		if (!nr) {
			if (tree_pid(ctx, ds.shm_cpid) || tree_pid(ctx, ds.shm_lpid))
				pr_warn(
				    "System V shared memory %d (key %#x, %zu bytes), created or "
				    "last attached by task %d of the tree, is not attached by it: "
				    "left as it is, not saved",
				    id, ds.shm_perm.__key, ds.shm_segsz,
				    tree_pid(ctx, ds.shm_cpid) ? ds.shm_cpid : ds.shm_lpid);
			else
				pr_info(
				    "System V shared memory %d (key %#x) is not the tree's: left "
				    "as it is",
				    id, ds.shm_perm.__key);
			continue;
		}
		if (ds.shm_nattch != (shmatt_t)nr) {
			pr_err("System V shared memory %d (key %#x) is attached %lu times, %d of "
			       "them by the tree: shared with processes outside it, not supported",
			       id, ds.shm_perm.__key, (unsigned long)ds.shm_nattch, nr);
			refused = -ENOTSUP;
			continue;
		}
		SysvShm *s = A_NEW(&ctx->arena, SysvShm, SYSV_SHM);
		if (!s || !(s->perm = new_perm(ctx, id, &ds.shm_perm)))
			return -ENOMEM;
		s->size = ds.shm_segsz;
		s->has_lpid = true;
		s->lpid = ds.shm_lpid > 0 ? (uint32_t)ds.shm_lpid : 0;
		s->has_removed = s->has_locked = true;
		s->removed = !!(ds.shm_perm.mode & SHM_DEST_BIT);
		s->locked = !!(ds.shm_perm.mode & SHM_LOCKED_BIT);
		if ((ret = shm_read_pages(ctx, s, owner, v)))
			return ret;
		if (!DUMP_PUSH(ctx, ctx->ipc->shms, ctx->ipc->n_shms, s))
			return -ENOMEM;
		pr_info("System V shared memory %d (key %#x, %zu bytes%s): %lu pages saved", id,
			ds.shm_perm.__key, ds.shm_segsz, s->removed ? ", removed" : "",
			s->nr_pages);
	}
	return refused;
}

static int dump_sems(struct dump_ctx *ctx)
{
	struct seminfo info;
	union semun arg = {.buf = (struct semid_ds *)&info};
	int max = semctl(0, 0, SEM_INFO, arg);

	if (max < 0) {
		pr_errno(errno, "cannot list System V semaphore sets (SEM_INFO)");
		return -errno;
	}
	for (int idx = 0; idx <= max; idx++) {
		struct semid_ds ds;
		arg.buf = &ds;
		int id = semctl(idx, 0, SEM_STAT_ANY, arg);
		pid_t user = 0;
		if (id < 0)
			continue;
		for (unsigned long k = 0; k < ds.sem_nsems && !user; k++) {
			int p = semctl(id, (int)k, GETPID);
			if (tree_pid(ctx, p))
				user = p;
		}
		if (!user) {
			pr_info(
			    "System V semaphore set %d (key %#x) was not last used by the tree: "
			    "left as it is",
			    id, ds.sem_perm.__key);
			continue;
		}
		unsigned short *vals = arena_alloc(&ctx->arena, ds.sem_nsems * sizeof(*vals) + 1);
		SysvSemSet *s = A_NEW(&ctx->arena, SysvSemSet, SYSV_SEM_SET);
		if (!vals || !s || !(s->perm = new_perm(ctx, id, &ds.sem_perm)))
			return -ENOMEM;
		arg.array = vals;
		if (semctl(id, 0, GETALL, arg) < 0) {
			pr_errno(errno, "System V semaphore set %d: cannot read its values", id);
			return -errno;
		}
		s->n_values = s->n_pids = ds.sem_nsems;
		s->values = arena_alloc(&ctx->arena, ds.sem_nsems * sizeof(uint32_t) + 1);
		s->pids = arena_alloc(&ctx->arena, ds.sem_nsems * sizeof(uint32_t) + 1);
		if (!s->values || !s->pids || !DUMP_PUSH(ctx, ctx->ipc->sems, ctx->ipc->n_sems, s))
			return -ENOMEM;
		for (size_t k = 0; k < s->n_values; k++) {
			int p = semctl(id, (int)k, GETPID);
			s->values[k] = vals[k];
			s->pids[k] = p > 0 ? (uint32_t)p : 0;
		}
		pr_info("System V semaphore set %d (key %#x, %lu semaphores, last used by task "
			"%d): saved",
			id, ds.sem_perm.__key, (unsigned long)ds.sem_nsems, user);
	}
	return 0;
}

static int dump_msgs(struct dump_ctx *ctx)
{
	struct msginfo info;
	int max = msgctl(0, MSG_INFO, (struct msqid_ds *)&info);

	if (max < 0) {
		pr_errno(errno, "cannot list System V message queues (MSG_INFO)");
		return -errno;
	}
	for (int idx = 0; idx <= max; idx++) {
		struct msqid_ds ds;
		int id = msgctl(idx, MSG_STAT_ANY, &ds);
		if (id < 0)
			continue;
		if (!tree_pid(ctx, ds.msg_lspid) && !tree_pid(ctx, ds.msg_lrpid)) {
			pr_info(
			    "System V message queue %d (key %#x) was not last used by the tree: "
			    "left as it is",
			    id, ds.msg_perm.__key);
			continue;
		}
		SysvMsgQueue *q = A_NEW(&ctx->arena, SysvMsgQueue, SYSV_MSG_QUEUE);
		if (!q || !(q->perm = new_perm(ctx, id, &ds.msg_perm)))
			return -ENOMEM;
		q->qbytes = ds.msg_qbytes;
		q->has_lspid = q->has_lrpid = true;
		q->lspid = ds.msg_lspid > 0 ? (uint32_t)ds.msg_lspid : 0;
		q->lrpid = ds.msg_lrpid > 0 ? (uint32_t)ds.msg_lrpid : 0;
		/* no message is larger than the bytes queued */
		size_t cap = ds.__msg_cbytes + sizeof(long) + 1;
		struct {
			long type;
			char text[];
		} *m = malloc(cap);
		if (!m)
			return -ENOMEM;
		/* MSG_COPY: the n-th message, left in the queue (CONFIG_CHECKPOINT_RESTORE) */
		for (unsigned long n = 0; n < ds.msg_qnum; n++) {
			/* no MSG_NOERROR: a message larger than the buffer (the queue changed
			 * meanwhile) fails instead of being cut */
			ssize_t len =
			    msgrcv(id, m, cap - sizeof(long), (long)n, MSG_COPY | IPC_NOWAIT);
			if (len < 0) {
				int err = errno;
				free(m);
				pr_errno(
				    err,
				    "System V message queue %d: cannot copy message %lu of %lu%s",
				    id, n, (unsigned long)ds.msg_qnum,
				    err == ENOSYS ? " (the kernel has no MSG_COPY)" : "");
				return err == ENOSYS ? -ENOTSUP : -err;
			}
			SysvMsg *sm = A_NEW(&ctx->arena, SysvMsg, SYSV_MSG);
			if (!sm || !DUMP_PUSH(ctx, q->messages, q->n_messages, sm)) {
				free(m);
				return -ENOMEM;
			}
			sm->type = m->type;
			sm->text.len = (size_t)len;
			sm->text.data = arena_memdup(&ctx->arena, m->text, (size_t)len + 1);
			if (!sm->text.data) {
				free(m);
				return -ENOMEM;
			}
		}
		free(m);
		if (!DUMP_PUSH(ctx, ctx->ipc->msgs, ctx->ipc->n_msgs, q))
			return -ENOMEM;
		pr_info("System V message queue %d (key %#x, %zu messages): saved", id,
			ds.msg_perm.__key, q->n_messages);
	}
	return 0;
}

int sysv_dump(struct dump_ctx *ctx)
{
	int ret;

	ctx->ipc = A_NEW(&ctx->arena, Ipc, IPC);
	if (!ctx->ipc)
		return -ENOMEM;
	/* the tree is frozen; processes outside it may still change these objects meanwhile */
	if ((ret = dump_shms(ctx)) || (ret = dump_sems(ctx)) || (ret = dump_msgs(ctx)))
		return ret;
	return 0;
}

int sysv_write_image(struct dump_ctx *ctx)
{
	return img_write(ctx->dirfd, IMG_IPC, 0, &ctx->ipc->base);
}

/* ---- restore: reading and checking ---- */

static int check_perm(const char *what, size_t i, const SysvPerm *p)
{
	if (!p || p->id > IPC_MAX_ID || p->mode & ~0777u || p->uid == (uint32_t)-1 ||
	    p->gid == (uint32_t)-1 || p->cuid == (uint32_t)-1 || p->cgid == (uint32_t)-1) {
		pr_err("ipc.img: %s %zu: invalid id, mode or owner", what, i);
		return -EINVAL;
	}
	return 0;
}

static const SysvShm *find_shm(const Ipc *ipc, uint32_t id)
{
	for (size_t i = 0; ipc && i < ipc->n_shms; i++)
		if (ipc->shms[i]->perm->id == id)
			return ipc->shms[i];
	return NULL;
}

static int check_shm(struct restore_ctx *ctx, size_t i, const SysvShm *s)
{
	char name[64];
	uint64_t pages = PAGE_ALIGN(s->size) / PAGE_SIZE, prev_end = 0, total = 0, data;
	int ret, fd;

	if ((ret = check_perm("segment", i, s->perm)))
		return ret;
	if (!s->size || s->size > SHM_MAX_BYTES || (s->removed && s->perm->key != IPC_PRIVATE)) {
		pr_err("ipc.img: segment %u: size %lu or key %#x is invalid", s->perm->id, s->size,
		       s->perm->key);
		return -EINVAL;
	}
	for (size_t k = 0; k < i; k++)
		if (ctx->ipc->shms[k]->perm->id == s->perm->id ||
		    (s->perm->key != IPC_PRIVATE && ctx->ipc->shms[k]->perm->key == s->perm->key)) {
			pr_err("ipc.img: segment %u: a second segment with its id or key",
			       s->perm->id);
			return -EINVAL;
		}
	for (size_t k = 0; k < s->n_runs; k++) {
		const PageRun *r = s->runs[k];
		if (r->vaddr % PAGE_SIZE || r->vaddr / PAGE_SIZE < prev_end || !r->nr_pages ||
		    r->nr_pages > pages || r->vaddr / PAGE_SIZE > pages - r->nr_pages) {
			pr_err(
			    "ipc.img: segment %u: page run %zu (%#lx, %lu pages) is outside it or "
			    "out of order",
			    s->perm->id, k, r->vaddr, r->nr_pages);
			return -EINVAL;
		}
		prev_end = r->vaddr / PAGE_SIZE + r->nr_pages;
		total += r->nr_pages;
	}
	img_name(IMG_SYSVSHM, (int)s->perm->id, name, sizeof(name));
	fd = img_raw_open(ctx->dirfd, IMG_SYSVSHM, (int)s->perm->id, &data);
	if (fd < 0)
		return fd;
	close(fd);
	if (total != s->nr_pages || data != total * PAGE_SIZE) {
		pr_err("%s holds %lu bytes, ipc.img describes %lu pages (runs: %lu)", name, data,
		       s->nr_pages, total);
		return -EINVAL;
	}
	return 0;
}

static int check_msgs(size_t i, const SysvMsgQueue *q)
{
	uint64_t bytes = 0;
	int ret = check_perm("message queue", i, q->perm);
	if (ret)
		return ret;
	if (q->qbytes > MSG_MAX_QBYTES || q->n_messages > q->qbytes) {
		pr_err("ipc.img: message queue %u: qbytes %lu or %zu messages are invalid",
		       q->perm->id, q->qbytes, q->n_messages);
		return -EINVAL;
	}
	for (size_t k = 0; k < q->n_messages; k++) {
		const SysvMsg *m = q->messages[k];
		bytes += m->text.len;
		if (m->type < 1 || m->text.len > q->qbytes || bytes > q->qbytes) {
			pr_err("ipc.img: message queue %u: message %zu (type %ld, %zu bytes) does "
			       "not fit the queue",
			       q->perm->id, k, (long)m->type, m->text.len);
			return -EINVAL;
		}
	}
	return 0;
}

/* Every attach of the layouts: a saved segment, covered whole by one run of VMAs */
static int check_attaches(struct restore_ctx *ctx, struct restore_task *t)
{
	Mm *mm = t->mm;
	for (size_t k = 0; k < mm->n_vmas; k++) {
		const Vma *v = mm->vmas[k], *p = k ? mm->vmas[k - 1] : NULL;
		if (v->kind != VMA_KIND__VMA_SYSV_SHM)
			continue;
		const SysvShm *s = find_shm(ctx->ipc, v->sysv_shm_id);
		bool cont = p && p->kind == VMA_KIND__VMA_SYSV_SHM &&
			    p->sysv_shm_id == v->sysv_shm_id && p->end == v->start &&
			    p->pgoff + (p->end - p->start) == v->pgoff &&
			    p->sysv_shmat_flags == v->sysv_shmat_flags;
		if (!s || (v->pgoff && !cont) || v->pgoff > PAGE_ALIGN(s->size) ||
		    v->end - v->start > PAGE_ALIGN(s->size) - v->pgoff) {
			pr_err("mm-%d.img: System V mapping %#lx-%#lx (segment %u, offset %#lx) "
			       "is not an attach of a segment of ipc.img",
			       t->pid, v->start, v->end, v->sysv_shm_id, v->pgoff);
			return -EINVAL;
		}
		const Vma *n = k + 1 < mm->n_vmas ? mm->vmas[k + 1] : NULL;
		bool more = n && n->kind == VMA_KIND__VMA_SYSV_SHM &&
			    n->sysv_shm_id == v->sysv_shm_id && n->start == v->end && n->pgoff;
		if (!more && v->pgoff + (v->end - v->start) != PAGE_ALIGN(s->size)) {
			pr_err("mm-%d.img: System V mapping %#lx-%#lx does not cover segment %u to "
			       "its end",
			       t->pid, v->start, v->end, v->sysv_shm_id);
			return -EINVAL;
		}
	}
	return 0;
}

int sysv_read_images(struct restore_ctx *ctx)
{
	int ret;

	ret = img_read(ctx->dirfd, IMG_IPC, 0, (ProtobufCMessage **)&ctx->ipc);
	if (ret)
		return ret;
	Ipc *ipc = ctx->ipc;
	if (ipc->n_shms > IPC_MAX_OBJECTS || ipc->n_sems > IPC_MAX_OBJECTS ||
	    ipc->n_msgs > IPC_MAX_OBJECTS) {
		pr_err("ipc.img: %zu segments, %zu semaphore sets, %zu queues: too many",
		       ipc->n_shms, ipc->n_sems, ipc->n_msgs);
		return -EINVAL;
	}
	for (size_t i = 0; i < ipc->n_shms; i++)
		if ((ret = check_shm(ctx, i, ipc->shms[i])))
			return ret;
	for (size_t i = 0; i < ipc->n_sems; i++) {
		const SysvSemSet *s = ipc->sems[i];
		if ((ret = check_perm("semaphore set", i, s->perm)))
			return ret;
		if (!s->n_values || s->n_values > SEM_MAX_NSEMS ||
		    (s->n_pids && s->n_pids != s->n_values)) {
			pr_err("ipc.img: semaphore set %u has %zu semaphores", s->perm->id,
			       s->n_values);
			return -EINVAL;
		}
		for (size_t k = 0; k < s->n_values; k++)
			if (s->values[k] > SEM_MAX_VALUE) {
				pr_err("ipc.img: semaphore set %u: value %u of semaphore %zu is "
				       "above %d",
				       s->perm->id, s->values[k], k, SEM_MAX_VALUE);
				return -EINVAL;
			}
	}
	for (size_t i = 0; i < ipc->n_msgs; i++)
		if ((ret = check_msgs(i, ipc->msgs[i])))
			return ret;
	/* ids and keys unique within each kind */
	for (size_t i = 0; i < ipc->n_sems; i++)
		for (size_t k = 0; k < i; k++)
			if (ipc->sems[k]->perm->id == ipc->sems[i]->perm->id ||
			    (ipc->sems[i]->perm->key &&
			     ipc->sems[k]->perm->key == ipc->sems[i]->perm->key)) {
				pr_err("ipc.img: semaphore set %u: a second set with its id or key",
				       ipc->sems[i]->perm->id);
				return -EINVAL;
			}
	for (size_t i = 0; i < ipc->n_msgs; i++)
		for (size_t k = 0; k < i; k++)
			if (ipc->msgs[k]->perm->id == ipc->msgs[i]->perm->id ||
			    (ipc->msgs[i]->perm->key &&
			     ipc->msgs[k]->perm->key == ipc->msgs[i]->perm->key)) {
				pr_err(
				    "ipc.img: message queue %u: a second queue with its id or key",
				    ipc->msgs[i]->perm->id);
				return -EINVAL;
			}
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie && (ret = check_attaches(ctx, &ctx->tasks[i])))
			return ret;
	ctx->sysv_made = calloc(ipc->n_shms + ipc->n_sems + ipc->n_msgs + 1, sizeof(bool));
	ctx->sysv_mem = calloc(ipc->n_shms + 1, sizeof(void *));
	return ctx->sysv_made && ctx->sysv_mem ? 0 : -ENOMEM;
}

/* ---- restore: the objects ---- */

enum ipc_kind { K_SHM, K_SEM, K_MSG };
static const char *const next_id_path[] = {
    "/proc/sys/kernel/shm_next_id", "/proc/sys/kernel/sem_next_id", "/proc/sys/kernel/msg_next_id"};
static const char *const kind_name[] = {"shared memory segment", "semaphore set", "message queue"};

static int write_sysctl(const char *path, long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC), len = snprintf(buf, sizeof(buf), "%ld\n", v);
	if (fd < 0)
		return -errno;
	int ret = write_all(fd, buf, (size_t)len);
	close(fd);
	return ret;
}

static int read_sysctl(const char *path, long *v)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EINVAL;
	*v = strtol(buf, NULL, 10);
	return 0;
}

static void remove_object(enum ipc_kind k, uint32_t id)
{
	int r = k == K_SHM   ? shmctl((int)id, IPC_RMID, NULL)
		: k == K_SEM ? semctl((int)id, 0, IPC_RMID)
			     : msgctl((int)id, IPC_RMID, NULL);
	if (r < 0 && errno != EINVAL && errno != EIDRM)
		pr_errno(errno, "cannot remove %s %u", kind_name[k], id);
}

/* Make the object with its id, as its creator: the namespace's next id is set, the object
 * made (as euid cuid, egid cgid in this thread only), the sysctl put back. */
static int create_with_id(enum ipc_kind k, const SysvPerm *p, uint64_t size, int nsems)
{
	uid_t euid = geteuid();
	gid_t egid = getegid();
	long old = -1;
	int ret, id, err = 0;

	if ((ret = read_sysctl(next_id_path[k], &old)) ||
	    (ret = write_sysctl(next_id_path[k], p->id))) {
		pr_errno(-ret, "cannot set %s to %u (needs CAP_CHECKPOINT_RESTORE)",
			 next_id_path[k], p->id);
		return ret;
	}
	if (syscall(SYS_setresgid, -1, p->cgid, -1) || syscall(SYS_setresuid, -1, p->cuid, -1)) {
		err = errno;
		id = -1;
	} else {
		int flags = IPC_CREAT | IPC_EXCL | 0600;
		id = k == K_SHM	  ? shmget(p->key, size, flags)
		     : k == K_SEM ? semget(p->key, nsems, flags)
				  : msgget(p->key, flags);
		if (id < 0)
			err = errno;
	}
	/* back to cryo's own ids (its capabilities come back with euid 0) */
	if (syscall(SYS_setresuid, -1, euid, -1) || syscall(SYS_setresgid, -1, egid, -1)) {
		pr_errno(errno, "cannot take back cryo's own ids");
		abort(); /* never: cryo keeps its saved ids */
	}
	/* the kernel forgets a next id once used (back to -1, which cannot be written): a value
	 * someone else had set is put back */
	long now = -1;
	if (old != -1)
		ret = write_sysctl(next_id_path[k], old);
	else if (!(ret = read_sysctl(next_id_path[k], &now)) && now != -1)
		ret = -EBUSY; /* not used by this object: another one may take it */
	if (ret) {
		pr_errno(-ret, "cannot put %s back to %ld (it is %ld)", next_id_path[k], old, now);
		if (id >= 0)
			remove_object(k, (uint32_t)id);
		return ret;
	}
	if (id < 0) {
		pr_errno(err, "cannot make %s %u (key %#x) as its creator %u:%u", kind_name[k],
			 p->id, p->key, p->cuid, p->cgid);
		return -err;
	}
	if ((uint32_t)id != p->id) {
		/* its index was taken meanwhile */
		remove_object(k, (uint32_t)id);
		pr_err("%s %u (key %#x) could not get its id: the kernel gave %d (another "
		       "object took it)",
		       kind_name[k], p->id, p->key, id);
		return -EEXIST;
	}
	return ret;
}

/* An object where the image's is: -ENOENT if none; 0 if it is the image's own (same key;
 * the caller compares the rest); refusal otherwise. A key already used by another id
 * refuses too. */
static int find_existing(enum ipc_kind k, const SysvPerm *p, struct ipc_perm *have)
{
	int r, other = -1;
	union {
		struct shmid_ds shm;
		struct semid_ds sem;
		struct msqid_ds msg;
	} ds;
	union semun arg = {.buf = &ds.sem};

	r = k == K_SHM	 ? shmctl((int)p->id, IPC_STAT, &ds.shm)
	    : k == K_SEM ? semctl((int)p->id, 0, IPC_STAT, arg)
			 : msgctl((int)p->id, IPC_STAT, &ds.msg);
	if (r < 0 && errno != EINVAL && errno != EIDRM) {
		pr_errno(errno, "cannot look at %s %u", kind_name[k], p->id);
		return -errno;
	}
	if (r >= 0) {
		*have = k == K_SHM   ? ds.shm.shm_perm
			: k == K_SEM ? ds.sem.sem_perm
				     : ds.msg.msg_perm;
		if (have->__key != p->key) {
			pr_err("%s %u (key %#x) cannot be restored: another one (key %#x) has its "
			       "id",
			       kind_name[k], p->id, p->key, have->__key);
			return -EEXIST;
		}
		return 0;
	}
	if (p->key != IPC_PRIVATE) {
		other = k == K_SHM   ? shmget(p->key, 0, 0)
			: k == K_SEM ? semget(p->key, 0, 0)
				     : msgget(p->key, 0);
		if (other >= 0) {
			pr_err("%s %u (key %#x) cannot be restored: its key belongs to %s %d",
			       kind_name[k], p->id, p->key, kind_name[k], other);
			return -EEXIST;
		}
	}
	return -ENOENT;
}

static int set_owner(enum ipc_kind k, const SysvPerm *p, uint64_t qbytes)
{
	union {
		struct shmid_ds shm;
		struct semid_ds sem;
		struct msqid_ds msg;
	} ds;
	union semun arg = {.buf = &ds.sem};
	struct ipc_perm *perm = k == K_SHM   ? &ds.shm.shm_perm
				: k == K_SEM ? &ds.sem.sem_perm
					     : &ds.msg.msg_perm;
	int r = k == K_SHM   ? shmctl((int)p->id, IPC_STAT, &ds.shm)
		: k == K_SEM ? semctl((int)p->id, 0, IPC_STAT, arg)
			     : msgctl((int)p->id, IPC_STAT, &ds.msg);
	if (r >= 0) {
		perm->uid = p->uid, perm->gid = p->gid;
		perm->mode = p->mode;
		if (k == K_MSG)
			ds.msg.msg_qbytes = qbytes;
		r = k == K_SHM	 ? shmctl((int)p->id, IPC_SET, &ds.shm)
		    : k == K_SEM ? semctl((int)p->id, 0, IPC_SET, arg)
				 : msgctl((int)p->id, IPC_SET, &ds.msg);
	}
	if (r < 0) {
		int err = errno;
		pr_errno(err, "%s %u: cannot set its owner %u:%u, mode %o%s", kind_name[k], p->id,
			 p->uid, p->gid, p->mode,
			 k == K_MSG && err == EPERM ? " or its limit (above msgmnb: needs "
						      "CAP_SYS_RESOURCE)"
						    : "");
		return -err;
	}
	return 0;
}

static int restore_shm(struct restore_ctx *ctx, const SysvShm *s, bool *made, void **keep)
{
	struct ipc_perm have;
	struct shmid_ds ds;
	char name[64];
	uint64_t size;
	int ret = find_existing(K_SHM, s->perm, &have);

	if (ret == -ENOENT) {
		if ((ret = create_with_id(K_SHM, s->perm, s->size, 0)))
			return ret;
		*made = true;
	} else if (ret) {
		return ret;
	} else {
		/* the same segment still there (not removed: the original tree was killed, or
		 * left running and killed since): taken again if no one has it attached */
		if (shmctl((int)s->perm->id, IPC_STAT, &ds) < 0)
			return -errno;
		if (ds.shm_segsz != s->size || s->removed || (ds.shm_perm.mode & SHM_DEST_BIT) ||
		    ds.shm_nattch) {
			pr_err("shared memory segment %u (key %#x) exists with %zu bytes, "
			       "attached %lu times%s: not the dumped one (%lu bytes) free to be "
			       "taken again; is the dumped tree still running?",
			       s->perm->id, s->perm->key, ds.shm_segsz,
			       (unsigned long)ds.shm_nattch,
			       ds.shm_perm.mode & SHM_DEST_BIT ? ", removed" : "", s->size);
			return -EEXIST;
		}
		pr_info("shared memory segment %u (key %#x) still exists: taken again, its "
			"content set back to the dumped one",
			s->perm->id, s->perm->key);
	}
	/* the content: cryo attaches the segment for a moment and reads the pages in */
	int fd = img_raw_open(ctx->dirfd, IMG_SYSVSHM, (int)s->perm->id, &size);
	if (fd < 0)
		return fd;
	img_name(IMG_SYSVSHM, (int)s->perm->id, name, sizeof(name));
	uint8_t *mem = shmat((int)s->perm->id, NULL, 0);
	if (mem == (void *)-1) {
		ret = -errno;
		pr_errno(-ret, "shared memory segment %u: cannot attach it to fill it",
			 s->perm->id);
		close(fd);
		return ret;
	}
	if (!*made) /* a segment taken again: what is not in the image is zero */
		memset(mem, 0, s->size);
	uint64_t off = IMG_RAW_HDR;
	for (size_t k = 0; k < s->n_runs && !ret; k++) {
		size_t len = s->runs[k]->nr_pages * PAGE_SIZE;
		ssize_t n = pread(fd, mem + s->runs[k]->vaddr, len, (off_t)off);
		if (n != (ssize_t)len) {
			ret = n < 0 ? -errno : -EIO;
			pr_errno(-ret, "cannot read %s", name);
		}
		off += len;
	}
	close(fd);
	/* cryo stays attached until every task is: with kernel.shm_rmid_forced a segment that
	 * nobody has attached goes at once */
	*keep = mem;
	if (ret)
		return ret;
	/* (a segment taken again may have been locked or unlocked since) */
	if (shmctl((int)s->perm->id, s->locked ? SHM_LOCK : SHM_UNLOCK, NULL) < 0) {
		ret = -errno;
		pr_errno(-ret, "shared memory segment %u: cannot %s it", s->perm->id,
			 s->locked ? "lock (SHM_LOCK)" : "unlock (SHM_UNLOCK)");
		return ret;
	}
	return set_owner(K_SHM, s->perm, 0);
}

static int restore_sem(const SysvSemSet *s, bool *made)
{
	struct ipc_perm have;
	int ret = find_existing(K_SEM, s->perm, &have);
	union semun arg;

	if (ret == -ENOENT) {
		if ((ret = create_with_id(K_SEM, s->perm, 0, (int)s->n_values)))
			return ret;
		*made = true;
	} else if (ret) {
		return ret;
	} else {
		struct semid_ds ds;
		arg.buf = &ds;
		if (semctl((int)s->perm->id, 0, IPC_STAT, arg) < 0)
			return -errno;
		if (ds.sem_nsems != s->n_values) {
			pr_err("semaphore set %u (key %#x) exists with %lu semaphores, the dumped "
			       "one had %zu: not the same",
			       s->perm->id, s->perm->key, (unsigned long)ds.sem_nsems, s->n_values);
			return -EEXIST;
		}
		pr_info("semaphore set %u (key %#x) still exists: taken again, its values set "
			"back to the dumped ones",
			s->perm->id, s->perm->key);
	}
	unsigned short *vals = calloc(s->n_values, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (size_t k = 0; k < s->n_values; k++)
		vals[k] = (unsigned short)s->values[k];
	arg.array = vals;
	ret = semctl((int)s->perm->id, 0, SETALL, arg) < 0 ? -errno : 0;
	free(vals);
	if (ret) {
		pr_errno(-ret, "semaphore set %u: cannot set its values", s->perm->id);
		return ret;
	}
	return set_owner(K_SEM, s->perm, 0);
}

/* The last sender and receiver of a queue are the tasks' again (lspid, lrpid) when they are
 * tasks of the tree: the last message is sent by the sender itself, and the receiver takes a
 * message cryo queued in front of the others (an empty queue: one the sender sends). */
#define MSG_REMOTE_MAX (64 * 1024) /* a message sent from the scratch area of a task */
struct msg_plan {
	struct restore_task *sender, *receiver;
	bool dummy_first, hold_last, empty_dummy;
};

static struct restore_task *live_task(struct restore_ctx *ctx, bool has, uint32_t pid)
{
	struct restore_task *t = has && pid ? restore_find_task(ctx, (pid_t)pid) : NULL;
	return t && !t->zombie ? t : NULL;
}

static void plan_msg(struct restore_ctx *ctx, const SysvMsgQueue *q, struct msg_plan *p)
{
	size_t last = q->n_messages ? q->messages[q->n_messages - 1]->text.len : 0;
	p->sender = live_task(ctx, q->has_lspid, q->lspid);
	p->receiver = live_task(ctx, q->has_lrpid, q->lrpid);
	p->hold_last = p->sender && q->n_messages && last + sizeof(long) <= MSG_REMOTE_MAX;
	p->dummy_first = p->receiver && q->n_messages && q->n_messages + 1 <= q->qbytes;
	p->empty_dummy = p->sender && !q->n_messages && q->qbytes >= 1;
}

static int restore_msg(struct restore_ctx *ctx, const SysvMsgQueue *q, bool *made)
{
	struct msg_plan plan;
	struct ipc_perm have;
	int ret = find_existing(K_MSG, q->perm, &have), id = (int)q->perm->id;
	size_t cap = sizeof(long) + 1;

	if (ret == -ENOENT) {
		if ((ret = create_with_id(K_MSG, q->perm, 0, 0)))
			return ret;
		*made = true;
	} else if (ret) {
		return ret;
	} else {
		struct {
			long type;
			char text[1];
		} drop;
		/* what is queued now (sent since the dump) goes: the queue is the dumped one */
		while (msgrcv(id, &drop, 1, 0, IPC_NOWAIT | MSG_NOERROR) >= 0)
			;
		if (errno != ENOMSG) {
			pr_errno(errno, "message queue %u: cannot empty it", q->perm->id);
			return -errno;
		}
		pr_info("message queue %u (key %#x) still exists: taken again, its messages set "
			"back to the dumped ones",
			q->perm->id, q->perm->key);
	}
	/* the limit first (cryo's mode, for now), so the messages fit */
	SysvPerm own = *q->perm;
	own.uid = geteuid(), own.gid = getegid(), own.mode = 0600;
	if ((ret = set_owner(K_MSG, &own, q->qbytes)))
		return ret;
	for (size_t k = 0; k < q->n_messages; k++)
		if (q->messages[k]->text.len + sizeof(long) > cap)
			cap = q->messages[k]->text.len + sizeof(long);
	struct {
		long type;
		char text[];
	} *m = malloc(cap);
	if (!m)
		return -ENOMEM;
	plan_msg(ctx, q, &plan);
	if (plan.dummy_first) {
		m->type = 1;
		if (msgsnd(id, m, 0, IPC_NOWAIT) < 0)
			ret = -errno;
	}
	for (size_t k = 0; k < q->n_messages - plan.hold_last && !ret; k++) {
		m->type = q->messages[k]->type;
		memcpy(m->text, q->messages[k]->text.data, q->messages[k]->text.len);
		if (msgsnd(id, m, q->messages[k]->text.len, IPC_NOWAIT) < 0) {
			ret = -errno;
			pr_errno(-ret, "message queue %u: cannot queue message %zu (%zu bytes%s)",
				 q->perm->id, k, q->messages[k]->text.len,
				 ret == -EINVAL ? ", above msgmax?" : "");
		}
	}
	free(m);
	return ret ? ret : set_owner(K_MSG, q->perm, q->qbytes);
}

int sysv_restore_objects(struct restore_ctx *ctx)
{
	Ipc *ipc = ctx->ipc;
	size_t n = 0;
	int ret = 0;

	if (!ipc)
		return 0;
	for (size_t i = 0; i < ipc->n_shms && !ret; i++, n++)
		ret = restore_shm(ctx, ipc->shms[i], &ctx->sysv_made[n], &ctx->sysv_mem[i]);
	for (size_t i = 0; i < ipc->n_sems && !ret; i++, n++)
		ret = restore_sem(ipc->sems[i], &ctx->sysv_made[n]);
	for (size_t i = 0; i < ipc->n_msgs && !ret; i++, n++)
		ret = restore_msg(ctx, ipc->msgs[i], &ctx->sysv_made[n]);
	if (!ret && (ipc->n_shms || ipc->n_sems || ipc->n_msgs))
		pr_info("System V IPC: %zu segments, %zu semaphore sets, %zu message queues "
			"restored",
			ipc->n_shms, ipc->n_sems, ipc->n_msgs);
	return ret;
}

static int task_call(struct restore_task *t, const char *what, uint32_t id, long nr, long a1,
		     long a2, long a3, long a4, long a5)
{
	long rv = remote_syscall(&t->rem, nr, a1, a2, a3, a4, a5, 0);
	if (rv < 0 || t->rem.err) {
		int err = rv < 0 ? (int)-rv : -t->rem.err;
		pr_errno(err, "task %d: cannot %s (System V object %u)", t->pid, what, id);
		return -err;
	}
	return 0;
}

/* Each semaphore's last operation is its task's (sempid): an operation that leaves its value
 * as it is, +1 then -1 (-1 then +1 at the maximum), made by that task. */
static int sem_pids_remote(struct restore_ctx *ctx, const SysvSemSet *s)
{
	struct sembuf *ops = calloc(2 * s->n_pids + 2, sizeof(*ops));
	int ret = 0;

	if (!ops)
		return -ENOMEM;
	for (size_t k = 0; k < s->n_pids && !ret; k++) {
		struct restore_task *t = live_task(ctx, true, s->pids[k]);
		bool first = true;
		for (size_t j = 0; j < k && first; j++)
			first = s->pids[j] != s->pids[k];
		if (!t || !first)
			continue;
		/* a few semaphores a call: SEMOPM (operations per call) is 32 on old kernels */
		for (size_t j = k, n = 0; !ret && j <= s->n_pids; j++) {
			if (j < s->n_pids && s->pids[j] == s->pids[k]) {
				short d = s->values[j] < SEM_MAX_VALUE ? 1 : -1;
				ops[n++] = (struct sembuf){(unsigned short)j, d, IPC_NOWAIT};
				ops[n++] =
				    (struct sembuf){(unsigned short)j, (short)-d, IPC_NOWAIT};
			}
			if (n && (n == 32 || j == s->n_pids)) {
				uint64_t scratch = remote_scratch(&t->rem);
				ret = remote_write(t->pid, scratch, ops, n * sizeof(*ops));
				if (!ret)
					ret = task_call(t,
							"make the last operation on its semaphores",
							s->perm->id, __NR_semop, s->perm->id,
							(long)scratch, (long)n, 0, 0);
				n = 0;
			}
		}
	}
	free(ops);
	return ret;
}

static int msg_pids_remote(struct restore_ctx *ctx, const SysvMsgQueue *q)
{
	struct msg_plan p;
	int ret = 0;
	long type = 1;

	plan_msg(ctx, q, &p);
	if (p.empty_dummy) {
		uint64_t sc = remote_scratch(&p.sender->rem);
		if ((ret = remote_write(p.sender->pid, sc, &type, sizeof(type))) ||
		    (ret = task_call(p.sender, "send to its queue", q->perm->id, __NR_msgsnd,
				     q->perm->id, (long)sc, 0, IPC_NOWAIT, 0)))
			return ret;
	}
	if ((p.empty_dummy || p.dummy_first) && p.receiver) {
		uint64_t sc = remote_scratch(&p.receiver->rem);
		if ((ret = task_call(p.receiver, "receive from its queue", q->perm->id, __NR_msgrcv,
				     q->perm->id, (long)sc, 0, 0, IPC_NOWAIT | MSG_NOERROR)))
			return ret;
	} else if (p.empty_dummy) {
		struct {
			long type;
			char c;
		} drop;
		if (msgrcv((int)q->perm->id, &drop, 0, 0, IPC_NOWAIT | MSG_NOERROR) < 0)
			return -errno;
	}
	if (p.hold_last) {
		const SysvMsg *m = q->messages[q->n_messages - 1];
		uint64_t sc = remote_scratch(&p.sender->rem);
		type = m->type;
		if ((ret = remote_write(p.sender->pid, sc, &type, sizeof(type))) ||
		    (m->text.len && (ret = remote_write(p.sender->pid, sc + sizeof(type),
							m->text.data, m->text.len))) ||
		    (ret = task_call(p.sender, "send its last message", q->perm->id, __NR_msgsnd,
				     q->perm->id, (long)sc, (long)m->text.len, IPC_NOWAIT, 0)))
			return ret;
	}
	return 0;
}

static void detach_all(struct restore_ctx *ctx)
{
	for (size_t i = 0; ctx->sysv_mem && i < ctx->ipc->n_shms; i++)
		if (ctx->sysv_mem[i]) {
			shmdt(ctx->sysv_mem[i]);
			ctx->sysv_mem[i] = NULL;
		}
}

/* The segment's last attach or detach is its task's (shm_lpid): an attach of it somewhere
 * free, and its detach, made by that task */
static int shm_lpid_remote(struct restore_ctx *ctx, const SysvShm *s)
{
	struct restore_task *t = live_task(ctx, s->has_lpid, s->lpid);
	long addr;

	if (!t)
		return 0;
	addr = remote_syscall(&t->rem, __NR_shmat, s->perm->id, 0, SHM_RDONLY, 0, 0, 0);
	if (addr < 0 && addr > -4096) {
		pr_errno((int)-addr, "task %d: cannot attach System V shared memory %u", t->pid,
			 s->perm->id);
		return (int)addr;
	}
	return task_call(t, "detach System V shared memory", s->perm->id, __NR_shmdt, addr, 0, 0, 0,
			 0);
}

int sysv_restore_remote(struct restore_ctx *ctx)
{
	int ret = 0;
	/* every task holds its attaches now: cryo's own can go, before the tasks' last ones */
	if (ctx->ipc)
		detach_all(ctx);
	for (size_t i = 0; ctx->ipc && i < ctx->ipc->n_shms && !ret; i++)
		ret = shm_lpid_remote(ctx, ctx->ipc->shms[i]);
	for (size_t i = 0; ctx->ipc && i < ctx->ipc->n_sems && !ret; i++)
		ret = sem_pids_remote(ctx, ctx->ipc->sems[i]);
	for (size_t i = 0; ctx->ipc && i < ctx->ipc->n_msgs && !ret; i++)
		ret = msg_pids_remote(ctx, ctx->ipc->msgs[i]);
	return ret;
}

int sysv_restore_finish(struct restore_ctx *ctx)
{
	if (ctx->ipc)
		detach_all(ctx);
	for (size_t i = 0; ctx->ipc && i < ctx->ipc->n_shms; i++) {
		const SysvShm *s = ctx->ipc->shms[i];
		if (s->removed && shmctl((int)s->perm->id, IPC_RMID, NULL) < 0) {
			pr_errno(errno, "shared memory segment %u: cannot remove it again",
				 s->perm->id);
			return -errno;
		}
	}
	return 0;
}

void sysv_restore_abort(struct restore_ctx *ctx)
{
	Ipc *ipc = ctx->ipc;
	size_t n = 0;

	if (!ipc || !ctx->sysv_made)
		return;
	detach_all(ctx);
	for (size_t i = 0; i < ipc->n_shms; i++, n++)
		if (ctx->sysv_made[n])
			remove_object(K_SHM, ipc->shms[i]->perm->id);
	for (size_t i = 0; i < ipc->n_sems; i++, n++)
		if (ctx->sysv_made[n])
			remove_object(K_SEM, ipc->sems[i]->perm->id);
	for (size_t i = 0; i < ipc->n_msgs; i++, n++)
		if (ctx->sysv_made[n])
			remove_object(K_MSG, ipc->msgs[i]->perm->id);
}

void sysv_restore_free(struct restore_ctx *ctx)
{
	if (ctx->ipc)
		detach_all(ctx);
	img_free(ctx->ipc ? &ctx->ipc->base : NULL);
	free(ctx->sysv_made);
	free(ctx->sysv_mem);
	ctx->ipc = NULL;
	ctx->sysv_made = NULL;
	ctx->sysv_mem = NULL;
}
