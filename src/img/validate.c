/* Restore-side checks of image content, made once every image is decoded and before any task
 * exists: every id must match or refer to something that exists, every enum must be one the
 * kernel knows, every address must be in user space, every size and count in range. A value
 * that only the kernel can judge (a register, a signal mask, page contents) is left to it.
 * Each refusal names the image file and the field, and returns -EINVAL. */
#include <cpuid.h>
#include <errno.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "img/validate.h"
#include "files/files.h"
#include "res/aio.h"
#include "res/mapped.h"
#include "res/mm.h"

#define MAX_PID 4194304 /* PID_MAX_LIMIT on 64-bit */
#define MAX_SIG 64
#define NSEC_PER_SEC 1000000000ull
#define TASK_COMM_LEN 16
#define MAX_GROUPS 65536
#define BPF_MAX_INSNS 4096
#define ROBUST_LIST_HEAD_SIZE 24
#define RSEQ_MIN_LEN 32

/* sigaction flags the kernel keeps (SA_NOCLDSTOP ... SA_RESETHAND, SA_RESTORER, the
 * SA_UNSUPPORTED and SA_EXPOSE_TAGBITS probes) */
#define SA_KNOWN                                                                                   \
	(SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | 0x400 | 0x800 | 0x04000000 | SA_ONSTACK |      \
	 SA_RESTART | SA_NODEFER | SA_RESETHAND)
/* personality(2): the persona byte and the flags of <linux/personality.h> */
#define PER_KNOWN 0x0ffe00ffu
#define SS_AUTODISARM_FLAG (1u << 31)

/* Log why IMG is refused (FMT names the field) and return -EINVAL. */
__attribute__((format(printf, 2, 3))) static int refuse(const char *img, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_err("%s: %s", img, msg);
	return -EINVAL;
}

static bool user_addr(uint64_t a)
{
	return a < TASK_SIZE_MAX;
}

static bool user_range(uint64_t a, uint64_t len)
{
	return a < TASK_SIZE_MAX && len <= TASK_SIZE_MAX - a;
}

static bool valid_sig(int64_t s)
{
	return s >= 1 && s <= MAX_SIG;
}

static bool valid_pid(int64_t p)
{
	return p > 0 && p <= MAX_PID;
}

static int xstate_size(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid_count(0xd, 0, &a, &b, &c, &d))
		return -1;
	return (int)b;
}

static uint64_t cap_mask(void)
{
	char buf[32];
	int last = 40;
	if (read_file_at(-1, "/proc/sys/kernel/cap_last_cap", buf, sizeof(buf)) > 0)
		last = atoi(buf);
	if (last < 0 || last > 62)
		last = 62;
	return (2ull << last) - 1;
}

static bool is_thread_of(const struct restore_task *t, int64_t tid)
{
	for (size_t k = 0; k < t->pst->n_threads; k++)
		if (t->pst->threads[k] == tid)
			return true;
	return false;
}

/* ---- pstree.img ---- */

int validate_tree_ids(struct restore_ctx *ctx)
{
	/* every id of the tree is unique: a thread cannot have the pid of another process */
	size_t n = 0;
	for (int i = 0; i < ctx->nr_tasks; i++)
		n += ctx->tasks[i].zombie ? 1 : ctx->tasks[i].pst->n_threads;
	uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	n = 0;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		PstreeTask *p = t->pst;
		/* (pgid and sid were checked against pid_max with the other ids, on reading) */
		if (p->has_exit_signal && (p->exit_signal < 0 || p->exit_signal > MAX_SIG)) {
			free(ids);
			return refuse("pstree.img", "task %d: exit_signal %d is not a signal",
				      t->pid, p->exit_signal);
		}
		if (p->has_stop_signal && p->stop_signal && p->stop_signal != SIGSTOP &&
		    p->stop_signal != SIGTSTP && p->stop_signal != SIGTTIN &&
		    p->stop_signal != SIGTTOU) {
			free(ids);
			return refuse("pstree.img", "task %d: stop_signal %d is not a stop signal",
				      t->pid, p->stop_signal);
		}
		if (p->has_parent_tid && (!valid_pid(p->parent_tid) || i == 0)) {
			free(ids);
			return refuse("pstree.img", "task %d: parent_tid %u is invalid", t->pid,
				      p->parent_tid);
		}
		if (p->has_parent_tid && !is_thread_of(&ctx->tasks[t->parent], p->parent_tid)) {
			free(ids);
			return refuse("pstree.img",
				      "task %d: parent_tid %u is not a thread of its parent %u",
				      t->pid, p->parent_tid, p->ppid);
		}
		if (t->zombie)
			ids[n++] = t->pid;
		for (size_t k = 0; !t->zombie && k < p->n_threads; k++) {
			if (!valid_pid(p->threads[k])) {
				free(ids);
				return refuse("pstree.img", "task %d: thread id %u out of range",
					      t->pid, p->threads[k]);
			}
			ids[n++] = p->threads[k];
		}
	}
	int ret = 0;
	for (size_t a = 0; a < n && !ret; a++)
		for (size_t b = a + 1; b < n && !ret; b++)
			if (ids[a] == ids[b])
				ret = refuse("pstree.img",
					     "id %u appears twice among the tasks and threads",
					     ids[a]);
	free(ids);
	return ret;
}

/* ---- core-PID.img ---- */

static int check_siginfo(const char *img, const char *what, int tid, const Siginfo *si)
{
	int signo;
	if (!si || si->raw.len != 128)
		return refuse(img, "%s of thread %d: siginfo of %zu bytes, not 128", what, tid,
			      si ? si->raw.len : 0);
	memcpy(&signo, si->raw.data, sizeof(signo));
	if (!valid_sig(signo))
		return refuse(img, "%s of thread %d: si_signo %d is not a signal", what, tid,
			      signo);
	return 0;
}

static int check_timeval_pair(const char *img, const char *what, const TimevalPair *p)
{
	if (!p || p->interval_nsec >= NSEC_PER_SEC || p->value_nsec >= NSEC_PER_SEC ||
	    p->interval_sec > INT64_MAX / 2 || p->value_sec > INT64_MAX / 2)
		return refuse(img, "%s: time out of range", what);
	return 0;
}

static int check_creds(const char *img, int tid, const Creds *c, uint64_t caps)
{
	uint32_t ids[] = {c->uid, c->euid, c->suid, c->fsuid, c->gid, c->egid, c->sgid, c->fsgid};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (ids[i] == (uint32_t)-1)
			return refuse(img, "creds of thread %d: id -1 (\"no change\") is not an id",
				      tid);
	if (c->n_groups > MAX_GROUPS)
		return refuse(img, "creds of thread %d: %zu groups", tid, c->n_groups);
	for (size_t i = 0; i < c->n_groups; i++)
		if (c->groups[i] == (uint32_t)-1)
			return refuse(img, "creds of thread %d: group -1 is not a group", tid);
	if ((c->cap_inh | c->cap_prm | c->cap_eff | c->cap_bnd | c->cap_amb) & ~caps)
		return refuse(img, "creds of thread %d: capabilities this kernel does not have",
			      tid);
	if (c->securebits & ~0xffu)
		return refuse(img, "creds of thread %d: unknown securebits %#x", tid,
			      c->securebits);
	return 0;
}

static int check_thread(const char *img, struct restore_task *t, const ThreadCore *tc,
			uint64_t caps, int xsize)
{
	int tid = (int)tc->tid, ret;

	if (xsize > 0 && tc->xstate.len != (size_t)xsize)
		return refuse(img, "thread %d: xstate of %zu bytes, this CPU's is %d bytes", tid,
			      tc->xstate.len, xsize);
	for (size_t i = 0; i < tc->n_pending; i++)
		if ((ret = check_siginfo(img, "pending signal", tid, tc->pending[i])))
			return ret;
	if (tc->altstack_flags & ~(SS_ONSTACK | SS_DISABLE | SS_AUTODISARM_FLAG) ||
	    (tc->altstack_flags & SS_ONSTACK && tc->altstack_flags & SS_DISABLE) ||
	    (!(tc->altstack_flags & SS_DISABLE) && !user_range(tc->altstack_sp, tc->altstack_size)))
		return refuse(img,
			      "thread %d: alternate signal stack %#lx (%lu bytes, flags %#x) "
			      "is invalid",
			      tid, tc->altstack_sp, tc->altstack_size, tc->altstack_flags);
	if (tc->has_rseq_ptr && tc->rseq_ptr &&
	    (!user_addr(tc->rseq_ptr) || tc->rseq_ptr % 32 || !tc->has_rseq_len ||
	     tc->rseq_len < RSEQ_MIN_LEN || tc->rseq_len > PAGE_SIZE))
		return refuse(img, "thread %d: rseq area %#lx (%u bytes) is invalid", tid,
			      tc->rseq_ptr, tc->rseq_len);
	if ((tc->robust_list && !user_addr(tc->robust_list)) ||
	    (tc->robust_list_len != ROBUST_LIST_HEAD_SIZE &&
	     (tc->robust_list_len || tc->robust_list)))
		return refuse(img, "thread %d: robust_list %#lx (%lu bytes) is invalid", tid,
			      tc->robust_list, tc->robust_list_len);
	if (!user_addr(tc->clear_child_tid))
		return refuse(img, "thread %d: clear_child_tid %#lx is not a user address", tid,
			      tc->clear_child_tid);
	switch (tc->sched_policy) {
	case SCHED_OTHER:
	case SCHED_BATCH:
	case SCHED_IDLE:
		if (tc->sched_prio != 0)
			return refuse(img, "thread %d: sched_prio %d with policy %d", tid,
				      tc->sched_prio, tc->sched_policy);
		break;
	case SCHED_FIFO:
	case SCHED_RR:
		if (tc->sched_prio < 1 || tc->sched_prio > 99)
			return refuse(img, "thread %d: sched_prio %d out of range", tid,
				      tc->sched_prio);
		break;
	default:
		return refuse(img, "thread %d: sched_policy %d is unknown", tid, tc->sched_policy);
	}
	if (tc->has_seccomp_mode &&
	    (tc->seccomp_mode > 2 || (tc->seccomp_mode == 2) != (tc->n_seccomp_filters > 0)))
		return refuse(img, "thread %d: seccomp_mode %u with %zu filters", tid,
			      tc->seccomp_mode, tc->n_seccomp_filters);
	for (size_t i = 0; i < tc->n_seccomp_filters; i++) {
		const SeccompFilter *f = tc->seccomp_filters[i];
		if (!f->insns.len || f->insns.len % 8 || f->insns.len / 8 > BPF_MAX_INSNS ||
		    (f->has_flags && f->flags & ~2u /* SECCOMP_FILTER_FLAG_LOG */))
			return refuse(img,
				      "thread %d: seccomp filter %zu (%zu bytes, flags %#x) is "
				      "invalid",
				      tid, i, f->insns.len, f->has_flags ? f->flags : 0);
	}
	if (tc->nice < -20 || tc->nice > 19)
		return refuse(img, "thread %d: nice %d out of range", tid, tc->nice);
	if (strlen(tc->comm) >= TASK_COMM_LEN)
		return refuse(img, "thread %d: comm \"%.20s...\" is longer than %d bytes", tid,
			      tc->comm, TASK_COMM_LEN - 1);
	if (tc->has_timer_slack_ns && !tc->timer_slack_ns)
		return refuse(img, "thread %d: timer_slack_ns 0", tid);
	if (tc->n_spec_ctrl > 3)
		return refuse(img, "thread %d: %zu speculation controls", tid, tc->n_spec_ctrl);
	for (size_t w = 0; w < tc->n_spec_ctrl; w++) {
		uint32_t v = tc->spec_ctrl[w], state = v & ~(uint32_t)PR_SPEC_PRCTL;
		/* 0 (not controllable), or PR_SPEC_PRCTL with exactly one state */
		if (v && (!(v & PR_SPEC_PRCTL) ||
			  (state != PR_SPEC_ENABLE && state != PR_SPEC_DISABLE &&
			   state != PR_SPEC_FORCE_DISABLE && state != PR_SPEC_DISABLE_NOEXEC)))
			return refuse(img, "thread %d: speculation control %zu is %#x", tid, w, v);
	}
	if (tc->has_ioprio && (tc->ioprio < 0 || tc->ioprio >= 1 << 16 || tc->ioprio >> 13 > 3))
		return refuse(img, "thread %d: ioprio %#x is invalid", tid, tc->ioprio);
	if (tc->has_cpu_affinity) {
		bool any = false;
		for (size_t i = 0; i < tc->cpu_affinity.len; i++)
			any |= tc->cpu_affinity.data[i] != 0;
		if (!any || tc->cpu_affinity.len > sizeof(cpu_set_t))
			return refuse(img,
				      "thread %d: cpu_affinity (%zu bytes) is empty or too long",
				      tid, tc->cpu_affinity.len);
	}
	return check_creds(img, tid, tc->creds, caps);
}

static int check_posix_timer(const char *img, struct restore_task *t, const PosixTimer *pt)
{
	int base = pt->notify & ~SIGEV_THREAD_ID, ret;

	if (pt->id < 0)
		return refuse(img, "posix timer id %d is negative", pt->id);
	if (pt->clock < 0) {
		/* a CPU-time clock: ~pid << 3 | per-thread bit | kind (0..2) */
		int64_t pid = ~(int64_t)(pt->clock >> 3);
		if ((pt->clock & 3) == 3 || (pid && pid != t->pid && !is_thread_of(t, pid)))
			return refuse(img,
				      "posix timer %d: clock %d is not a CPU clock of this task",
				      pt->id, pt->clock);
	} else if (pt->clock > 11 || pt->clock == 4 || pt->clock == 5 || pt->clock == 6 ||
		   pt->clock == 10) {
		return refuse(img, "posix timer %d: clock %d cannot drive a timer", pt->id,
			      pt->clock);
	}
	if ((base != SIGEV_SIGNAL && base != SIGEV_NONE) ||
	    (pt->notify & SIGEV_THREAD_ID && base != SIGEV_SIGNAL))
		return refuse(img, "posix timer %d: notify %d is unknown", pt->id, pt->notify);
	if (base == SIGEV_SIGNAL && !valid_sig(pt->signo))
		return refuse(img, "posix timer %d: signo %d is not a signal", pt->id, pt->signo);
	if (base == SIGEV_NONE && (pt->signo < 0 || pt->signo > MAX_SIG))
		return refuse(img, "posix timer %d: signo %d is not a signal", pt->id, pt->signo);
	if (pt->notify & SIGEV_THREAD_ID && pt->has_notify_tid && !is_thread_of(t, pt->notify_tid))
		return refuse(img, "posix timer %d: notify_tid %u is not a thread of this task",
			      pt->id, pt->notify_tid);
	if (pt->has_overrun && pt->overrun < 0)
		return refuse(img, "posix timer %d: overrun %d", pt->id, pt->overrun);
	if ((ret = check_timeval_pair(img, "posix timer", pt->time)))
		return ret;
	return 0;
}

static int check_core(struct restore_ctx *ctx, struct restore_task *t, const char *img)
{
	TaskCore *c = t->core;
	uint64_t caps = cap_mask();
	int xsize = xstate_size(), ret;
	bool seen[MAX_SIG + 1] = {false}, res_seen[RLIM_NLIMITS] = {false};

	if (!c->has_owner_pid || c->owner_pid != (uint32_t)t->pid)
		return refuse(img, "owner_pid %u: the image is not task %d's", c->owner_pid,
			      t->pid);
	for (size_t k = 0; k < c->n_threads; k++)
		if ((ret = check_thread(img, t, c->threads[k], caps, xsize)))
			return ret;
	for (size_t i = 0; i < c->n_sigactions; i++) {
		SigactionEntry *e = c->sigactions[i];
		if (!valid_sig(e->signo) || e->signo == SIGKILL || e->signo == SIGSTOP ||
		    seen[e->signo])
			return refuse(img, "sigaction entry %zu: signo %u is invalid or repeated",
				      i, e->signo);
		seen[e->signo] = true;
		if ((e->handler > 1 && !user_addr(e->handler)) || e->flags & ~(uint64_t)SA_KNOWN ||
		    !user_addr(e->restorer))
			return refuse(img,
				      "sigaction of signal %u: handler %#lx, flags %#lx or "
				      "restorer %#lx invalid",
				      e->signo, e->handler, e->flags, e->restorer);
	}
	for (size_t i = 0; i < c->n_shared_pending; i++)
		if ((ret =
			 check_siginfo(img, "shared pending signal", t->pid, c->shared_pending[i])))
			return ret;
	if ((ret = check_timeval_pair(img, "itimers.real", c->itimers->real)) ||
	    (ret = check_timeval_pair(img, "itimers.virt", c->itimers->virt)) ||
	    (ret = check_timeval_pair(img, "itimers.prof", c->itimers->prof)))
		return ret;
	for (size_t i = 0; i < c->n_posix_timers; i++) {
		if ((ret = check_posix_timer(img, t, c->posix_timers[i])))
			return ret;
		for (size_t j = 0; j < i; j++)
			if (c->posix_timers[j]->id == c->posix_timers[i]->id)
				return refuse(img, "posix timer id %d appears twice",
					      c->posix_timers[i]->id);
	}
	for (size_t i = 0; i < c->n_rlimits; i++) {
		RlimitEntry *e = c->rlimits[i];
		if (e->resource >= RLIM_NLIMITS || res_seen[e->resource])
			return refuse(img, "rlimit entry %zu: resource %u is unknown or repeated",
				      i, e->resource);
		res_seen[e->resource] = true;
		if (e->cur > e->max)
			return refuse(img, "rlimit %u: soft limit %lu above hard limit %lu",
				      e->resource, e->cur, e->max);
	}
	if (c->personality & ~PER_KNOWN)
		return refuse(img, "personality %#x has unknown bits", c->personality);
	if (c->umask & ~0777u)
		return refuse(img, "umask %#o is not a mode", c->umask);
	if (c->pdeathsig < 0 || c->pdeathsig > MAX_SIG || c->exit_signal < 0 ||
	    c->exit_signal > MAX_SIG)
		return refuse(img, "pdeathsig %d or exit_signal %d is not a signal", c->pdeathsig,
			      c->exit_signal);
	if (c->dumpable < 0 || c->dumpable > 2)
		return refuse(img, "dumpable %d is not 0, 1 or 2", c->dumpable);
	if (c->seccomp_mode > 2 || (c->seccomp_mode == 2) != (c->n_seccomp_filters > 0))
		return refuse(img, "seccomp_mode %u with %zu filters", c->seccomp_mode,
			      c->n_seccomp_filters);
	for (size_t i = 0; i < c->n_seccomp_filters; i++) {
		size_t len = c->seccomp_filters[i]->insns.len;
		if (!len || len % 8 || len / 8 > BPF_MAX_INSNS)
			return refuse(img, "seccomp filter %zu: %zu bytes is not a BPF program", i,
				      len);
	}
	if (c->oom_score_adj < -1000 || c->oom_score_adj > 1000)
		return refuse(img, "oom_score_adj %d out of range", c->oom_score_adj);
	if (c->cwd[0] != '/' || c->root[0] != '/')
		return refuse(img, "cwd \"%.64s\" or root \"%.64s\" is not an absolute path",
			      c->cwd, c->root);
	if (c->has_mce_kill && (c->mce_kill < 0 || c->mce_kill > 2))
		return refuse(img, "mce_kill %d is unknown", c->mce_kill);
	if (t->parent < 0 && ((c->has_files_shared_with_parent && c->files_shared_with_parent) ||
			      (c->has_fs_shared_with_parent && c->fs_shared_with_parent)))
		return refuse(img, "the root task cannot share files or fs with a parent");
	return 0;
}

/* ---- mm-PID.img ---- */

static int check_mm(struct restore_ctx *ctx, struct restore_task *t, const char *img)
{
	Mm *mm = t->mm;
	uint64_t prev_end = 0;
	int special[3] = {0};

	if (!mm->has_owner_pid || mm->owner_pid != (uint32_t)t->pid)
		return refuse(img, "owner_pid %u: the image is not task %d's", mm->owner_pid,
			      t->pid);
	for (size_t i = 0; i < mm->n_vmas; i++) {
		Vma *v = mm->vmas[i];
		if (v->start >= v->end || v->start % PAGE_SIZE || v->end % PAGE_SIZE ||
		    v->start < prev_end || v->end > TASK_SIZE_MAX || v->pgoff % PAGE_SIZE ||
		    v->pgoff > INT64_MAX - (v->end - v->start))
			return refuse(img,
				      "mapping %zu (%#lx-%#lx, pgoff %#lx) is invalid or out of "
				      "order",
				      i, v->start, v->end, v->pgoff);
		if (v->has_file_size && v->file_size > (uint64_t)INT64_MAX - PAGE_SIZE)
			return refuse(img, "mapping %#lx: file size %#lx is out of range", v->start,
				      v->file_size);
		prev_end = v->end;
		bool sysv = v->kind == VMA_KIND__VMA_SYSV_SHM;
		bool aio = v->kind == VMA_KIND__VMA_AIO_RING;
		if (v->kind < VMA_KIND__VMA_ANON_PRIVATE ||
		    (v->kind > VMA_KIND__VMA_MEMFD && !sysv && !aio))
			return refuse(img, "mapping %#lx: kind %d is unknown", v->start, v->kind);
		const char *why;
		if (aio_ring_check(v, &why) || shmem_hidden_check(v, &why))
			return refuse(img, "mapping %#lx: %s", v->start, why);
		/* the segment itself is checked against ipc.img (res/sysvipc.c) */
		if (sysv != v->has_sysv_shm_id ||
		    (v->has_sysv_shmat_flags && (!sysv || v->sysv_shmat_flags & ~SHM_RDONLY)))
			return refuse(img,
				      "mapping %#lx: sysv_shm_id/sysv_shmat_flags do not fit "
				      "kind %d",
				      v->start, v->kind);
		if (v->prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
			return refuse(img, "mapping %#lx: prot %#x is invalid", v->start, v->prot);
		if (v->flags & ~(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN |
				 MAP_NORESERVE) ||
		    !(v->flags & MAP_SHARED) == !(v->flags & MAP_PRIVATE) ||
		    (v->kind != VMA_KIND__VMA_MEMFD &&
		     !(v->flags & MAP_SHARED) != !(v->kind == VMA_KIND__VMA_ANON_SHARED ||
						   v->kind == VMA_KIND__VMA_FILE_SHARED || sysv ||
						   aio)))
			return refuse(img, "mapping %#lx: flags %#x are invalid for its kind %d",
				      v->start, v->flags, v->kind);
		bool anon =
		    v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_ANON_SHARED;
		if (!(v->flags & MAP_ANONYMOUS) != !anon)
			return refuse(img,
				      "mapping %#lx: flags %#x: MAP_ANONYMOUS does not fit kind %d",
				      v->start, v->flags, v->kind);
		if (v->madvise &
		    ~(0x1ffu | CRYO_VMA_ACCOUNTED | CRYO_VMA_MAYWRITE | CRYO_VMA_SEALED))
			return refuse(img, "mapping %#lx: madvise %#x has unknown bits", v->start,
				      v->madvise);
		bool file =
		    v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED;
		if (file && (!v->path || v->path[0] != '/'))
			return refuse(img, "file mapping %#lx has no absolute path", v->start);
		if (v->has_ghost_file && (!file || v->ghost_file >= t->files->n_ghosts))
			return refuse(img, "mapping %#lx: ghost_file %u is not in files-%d.img",
				      v->start, v->ghost_file, t->pid);
		if (v->has_cow_from_parent && v->cow_from_parent &&
		    (t->parent < 0 || v->kind != VMA_KIND__VMA_ANON_PRIVATE))
			return refuse(img,
				      "mapping %#lx: cow_from_parent without a parent's memory",
				      v->start);
		if (vma_special(v) && special[v->kind - VMA_KIND__VMA_VDSO]++)
			return refuse(img, "mapping %#lx: a second vDSO/vvar area", v->start);
		int ret = memfd_vma_validate(img, v);
		if (ret)
			return ret;
	}
	uint64_t f[] = {mm->start_code, mm->end_code,  mm->start_data,	mm->end_data,
			mm->start_brk,	mm->brk,       mm->start_stack, mm->arg_start,
			mm->arg_end,	mm->env_start, mm->env_end};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!user_addr(f[i]))
			return refuse(img, "mm field %zu (%#lx) is not a user address", i, f[i]);
	if (mm->start_code > mm->end_code || mm->start_data > mm->end_data ||
	    mm->start_brk > mm->brk || mm->arg_start > mm->arg_end || mm->env_start > mm->env_end)
		return refuse(img, "mm: a start above its end (code, data, brk, arg or env)");
	if (mm->n_auxv > 128 || mm->n_auxv % 2)
		return refuse(img, "auxv has %zu words", mm->n_auxv);
	if (!mm->exe_path || mm->exe_path[0] != '/')
		return refuse(img, "exe_path is not an absolute path");
	prev_end = 0;
	for (size_t i = 0; i < mm->n_guards; i++) {
		PageRun *g = mm->guards[i];
		int vi;
		if (!g->nr_pages || g->nr_pages > TASK_SIZE_MAX / PAGE_SIZE ||
		    g->vaddr % PAGE_SIZE || g->vaddr < prev_end ||
		    (vi = mm_find_vma(mm, g->vaddr, g->nr_pages * PAGE_SIZE)) < 0 ||
		    vma_special(mm->vmas[vi]) || mm->vmas[vi]->kind == VMA_KIND__VMA_SYSV_SHM)
			return refuse(img,
				      "guard pages %zu (%#lx, %lu pages) do not fit the layout", i,
				      g->vaddr, g->nr_pages);
		prev_end = g->vaddr + g->nr_pages * PAGE_SIZE;
	}
	for (size_t i = 0; i < mm->n_prefork; i++) {
		PreforkPage *pp = mm->prefork[i];
		struct restore_task *prov = restore_find_task(ctx, pp->provider);
		int vi = mm_find_vma(mm, pp->vaddr, PAGE_SIZE);
		if (pp->vaddr % PAGE_SIZE || vi < 0 || !prov || prov->parent != t->idx)
			return refuse(img, "prefork page %#lx (provider %u) is invalid", pp->vaddr,
				      pp->provider);
	}
	return 0;
}

/* ---- files-PID.img: src/files/validate.c ---- */

/* ---- pagemap-PID.img ---- */

static int check_pagemap(struct restore_task *t, const char *img)
{
	if (!t->pagemap->has_owner_pid || t->pagemap->owner_pid != (uint32_t)t->pid)
		return refuse(img, "owner_pid %u: the image is not task %d's",
			      t->pagemap->owner_pid, t->pid);
	return 0;
}

int validate_task(struct restore_ctx *ctx, struct restore_task *t)
{
	char img[64];
	int ret;

	img_name(IMG_CORE, t->pid, img, sizeof(img));
	if ((ret = check_core(ctx, t, img)))
		return ret;
	img_name(IMG_MM, t->pid, img, sizeof(img));
	if ((ret = check_mm(ctx, t, img)))
		return ret;
	if ((ret = files_validate(ctx, t)))
		return ret;
	img_name(IMG_PAGEMAP, t->pid, img, sizeof(img));
	return check_pagemap(t, img);
}
