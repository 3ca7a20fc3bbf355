/* Seccomp, per thread: each thread has its own mode (none, strict or filter) and its own chain
 * of BPF filters, read with PTRACE_SECCOMP_GET_FILTER (index 0 is the oldest) and
 * PTRACE_SECCOMP_GET_METADATA (the log flag). In the kernel a filter is shared by the threads
 * that inherited it (or got it by SECCOMP_FILTER_FLAG_TSYNC); that sharing is visible to the
 * task itself (a later TSYNC fails on a thread whose chain is not a part of the caller's), so
 * the restore rebuilds it: the main thread installs its filters one by one and each thread is
 * created when the main thread holds the filters both share (then it inherits them); each
 * thread installs the rest of its chain itself. Filters are told apart by content: equal first
 * filters of two chains are taken to be one filter. A shape this cannot rebuild (two threads
 * sharing filters the main thread does not have, or a thread made later sharing fewer of the
 * main thread's filters than one made before it) is refused at dump, naming the thread. After
 * the restore every thread's chain and mode are read back and compared with the image.
 *
 * While cryo controls a task it holds PTRACE_O_SUSPEND_SECCOMP, so the filters (and strict
 * mode) never block its calls. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"

#define MAX_FILTERS 512

/* One thread's chain, as the plan sees it. */
struct chain {
	SeccompFilter **f;
	size_t n;
	uint32_t mode;
	bool early; /* made in the restore's child phase, before any filter */
	pid_t tid;
};

static bool same_filter(const SeccompFilter *a, const SeccompFilter *b)
{
	return a->insns.len == b->insns.len &&
	       !memcmp(a->insns.data, b->insns.data, a->insns.len) &&
	       (a->has_flags ? a->flags : 0) == (b->has_flags ? b->flags : 0);
}

/* How many first filters two chains share. */
static size_t shared(const struct chain *a, const struct chain *b)
{
	size_t i = 0;
	while (i < a->n && i < b->n && same_filter(a->f[i], b->f[i]))
		i++;
	return i;
}

/* The filters of the main thread that threads made early get (with TSYNC, all at once). */
static size_t early_depth(const struct chain *c, int n)
{
	for (int k = 1; k < n; k++)
		if (c[k].early)
			return shared(&c[k], &c[0]);
	return 0;
}

/* Can the restore rebuild these chains with their sharing? -1 if it can, else the index of
 * the first thread it cannot, with why. */
static int chains_plan(const struct chain *c, int n, const char **why)
{
	size_t e = early_depth(c, n), prev = e;

	for (int k = 1; k < n; k++) {
		size_t d = shared(&c[k], &c[0]);
		if (c[k].early && d != e) {
			*why = "it created children, and shares another part of the main thread's "
			       "filters than another such thread";
			return k;
		}
		if (!c[k].early && d < prev) {
			*why = "it shares fewer of the main thread's filters than a thread made "
			       "before it";
			return k;
		}
		if (!c[k].early)
			prev = d;
		for (int j = 1; j < k; j++) {
			size_t dj = shared(&c[j], &c[0]);
			if (shared(&c[j], &c[k]) > (d < dj ? d : dj)) {
				*why = "it shares filters with another thread that the main thread "
				       "does not have";
				return k;
			}
		}
	}
	return -1;
}

/* ---- dump ---- */

static int read_chain(struct dump_ctx *ctx, pid_t pid, pid_t tid, ThreadCore *tc)
{
	int n = 0;

	while (n < MAX_FILTERS) {
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, n, NULL) < 0) {
			if (errno == ENOENT)
				break;
			int err = errno;
			pr_errno(err, "process %d, thread %d: cannot read seccomp filter %d", pid,
				 tid, n);
			return -err;
		}
		n++;
	}
	if (n == MAX_FILTERS) {
		pr_err("process %d, thread %d: more than %d seccomp filters", pid, tid, n);
		return -E2BIG;
	}
	tc->seccomp_filters = arena_alloc(&ctx->arena, (n ? n : 1) * sizeof(void *));
	if (!tc->seccomp_filters)
		return -ENOMEM;
	tc->n_seccomp_filters = n;
	for (int i = 0; i < n; i++) {
		SeccompFilter *f = A_NEW(&ctx->arena, SeccompFilter, SECCOMP_FILTER);
		struct cryo_seccomp_metadata md = {.filter_off = i};
		long len = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, i, NULL);
		if (!f)
			return -ENOMEM;
		if (len <= 0 || len > BPF_MAXINSNS)
			return -EIO;
		f->insns.len = len * sizeof(struct sock_filter);
		f->insns.data = arena_alloc(&ctx->arena, f->insns.len);
		if (!f->insns.data)
			return -ENOMEM;
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, i, f->insns.data) != len ||
		    ptrace(PTRACE_SECCOMP_GET_METADATA, tid, sizeof(md), &md) < 0) {
			int err = errno ? errno : EIO;
			pr_errno(err, "process %d, thread %d: cannot read seccomp filter %d", pid,
				 tid, i);
			return -err;
		}
		if (md.flags & ~(uint64_t)SECCOMP_FILTER_FLAG_LOG) {
			pr_err("process %d, thread %d: seccomp filter %d has flags %#llx that cryo "
			       "cannot restore",
			       pid, tid, i, (unsigned long long)md.flags);
			return -ENOTSUP;
		}
		f->has_flags = true;
		f->flags = (uint32_t)md.flags;
		tc->seccomp_filters[i] = f; /* oldest first, as the kernel numbers them */
	}
	return 0;
}

int dump_seccomp(struct dump_ctx *ctx, struct dump_task *t)
{
	int idx = (int)(t - ctx->tasks), bad, ret = 0;
	struct chain *c = calloc(t->nr_threads, sizeof(*c));
	TaskCore *core = t->core;
	const char *why = "";

	if (!c)
		return -ENOMEM;
	for (int k = 0; k < t->nr_threads && !ret; k++) {
		struct dump_thread *th = &t->threads[k];
		ThreadCore *tc = th->tc;
		tc->has_seccomp_mode = true;
		tc->seccomp_mode = th->status.seccomp;
		if (tc->seccomp_mode == SECCOMP_MODE_FILTER)
			ret = read_chain(ctx, t->pid, th->tid, tc);
		else if (tc->seccomp_mode != SECCOMP_MODE_DISABLED &&
			 tc->seccomp_mode != SECCOMP_MODE_STRICT) {
			pr_err("process %d, thread %d: unknown seccomp mode %u", t->pid, th->tid,
			       tc->seccomp_mode);
			ret = -ENOTSUP;
		}
		c[k] = (struct chain){tc->seccomp_filters, tc->n_seccomp_filters, tc->seccomp_mode,
				      false, th->tid};
	}
	/* threads that created children are made early by the restore (restore.c) */
	for (int i = idx + 1; i < ctx->nr_tasks; i++)
		for (int k = 1; k < t->nr_threads; k++)
			if (ctx->tasks[i].parent == idx && ctx->tasks[i].parent_tid == c[k].tid)
				c[k].early = true;
	if (!ret && (bad = chains_plan(c, t->nr_threads, &why)) >= 0) {
		pr_err("process %d, thread %d: its seccomp filters cannot be rebuilt exactly: %s",
		       t->pid, c[bad].tid, why);
		ret = -ENOTSUP;
	}
	free(c);
	if (ret)
		return ret;
	/* the process-wide fields: the main thread's */
	core->seccomp_mode = t->threads[0].tc->seccomp_mode;
	core->seccomp_filters = t->threads[0].tc->seccomp_filters;
	core->n_seccomp_filters = t->threads[0].tc->n_seccomp_filters;
	for (int k = 0; k < t->nr_threads; k++)
		if (t->threads[k].tc->seccomp_mode)
			pr_info("process %d, thread %d: seccomp mode %u with %zu filters", t->pid,
				t->threads[k].tid, t->threads[k].tc->seccomp_mode,
				t->threads[k].tc->n_seccomp_filters);
	return 0;
}

/* ---- restore ---- */

/* Thread k's chain; images without chains per thread have the process's in every thread. */
static void chain_of(struct restore_task *t, int k, struct chain *c)
{
	ThreadCore *tc = t->threads[k].tc;
	if (tc->has_seccomp_mode)
		*c = (struct chain){tc->seccomp_filters, tc->n_seccomp_filters, tc->seccomp_mode};
	else
		*c = (struct chain){t->core->seccomp_filters, t->core->n_seccomp_filters,
				    t->core->seccomp_mode};
	c->early = t->threads[k].early;
	c->tid = t->threads[k].tid;
}

static struct chain *chains_of(struct restore_task *t)
{
	struct chain *c = calloc(t->nr_threads, sizeof(*c));
	for (int k = 0; c && k < t->nr_threads; k++)
		chain_of(t, k, &c[k]);
	return c;
}

static int install(struct restore_task *t, struct remote *r, pid_t tid, const SeccompFilter *f,
		   size_t i, unsigned flags)
{
	uint64_t scratch = remote_scratch(r);
	size_t len = f->insns.len;
	struct sock_fprog prog;
	long rv;
	int ret;

	if (len + 64 > remote_scratch_size(r))
		return -E2BIG;
	prog.len = len / sizeof(struct sock_filter);
	prog.filter = (struct sock_filter *)(scratch + 64);
	if ((ret = remote_write(t->pid, scratch, &prog, sizeof(prog))) ||
	    (ret = remote_write(t->pid, scratch + 64, f->insns.data, len)))
		return ret;
	if (f->has_flags)
		flags |= f->flags & SECCOMP_FILTER_FLAG_LOG;
	rv = rsys3(r, __NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, scratch);
	if (rv) {
		pr_errno(rv < 0 ? (int)-rv : EBUSY, "thread %d: cannot install seccomp filter %zu",
			 tid, i);
		return rv < 0 ? (int)rv : -EBUSY;
	}
	return 0;
}

/* Before the threads: check the images' chains, and give the threads made early the main
 * thread's filters they share (with TSYNC: only they exist so far). */
int restore_seccomp_begin(struct restore_ctx *ctx, struct restore_task *t)
{
	struct chain *c = chains_of(t);
	const char *why = "";
	int bad, ret = 0;
	size_t e;

	if (!c)
		return -ENOMEM;
	for (int k = 0; k < t->nr_threads && !ret; k++) {
		if (c[k].mode > SECCOMP_MODE_FILTER ||
		    (c[k].mode == SECCOMP_MODE_FILTER) != (c[k].n > 0)) {
			pr_err("core-%d.img: thread %d: seccomp mode %u with %zu filters", t->pid,
			       c[k].tid, c[k].mode, c[k].n);
			ret = -EINVAL;
		}
		for (size_t i = 0; i < c[k].n && !ret; i++) {
			size_t len = c[k].f[i]->insns.len;
			if (!len || len % sizeof(struct sock_filter) ||
			    len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
				pr_err("core-%d.img: thread %d: seccomp filter %zu has an invalid "
				       "size %zu",
				       t->pid, c[k].tid, i, len);
				ret = -EINVAL;
			}
		}
	}
	if (!ret && (bad = chains_plan(c, t->nr_threads, &why)) >= 0) {
		pr_err("core-%d.img: thread %d: its seccomp filters cannot be rebuilt: %s", t->pid,
		       c[bad].tid, why);
		ret = -EINVAL;
	}
	e = ret ? 0 : early_depth(c, t->nr_threads);
	t->seccomp_done = 0;
	for (size_t i = 0; i < e && !ret; i++, t->seccomp_done++)
		ret = install(t, &t->rem, t->pid, c[0].f[i], i, SECCOMP_FILTER_FLAG_TSYNC);
	free(c);
	return ret;
}

/* Before thread k is created: the main thread holds the filters the two share. */
int restore_seccomp_before_thread(struct restore_ctx *ctx, struct restore_task *t, int k)
{
	struct chain c0, ck;
	size_t d;
	int ret = 0;

	chain_of(t, 0, &c0);
	chain_of(t, k, &ck);
	d = shared(&c0, &ck);
	for (; t->seccomp_done < d && !ret; t->seccomp_done++)
		ret = install(t, &t->rem, t->pid, c0.f[t->seccomp_done], t->seccomp_done, 0);
	return ret;
}

/* Thread k's chain and mode in the kernel are those of the image. */
static int check_thread(struct restore_task *t, const struct chain *c)
{
	struct proc_status st = {.seccomp = -1};
	size_t i;

	for (i = 0; i < c->n; i++) {
		size_t len = c->f[i]->insns.len;
		struct cryo_seccomp_metadata md = {.filter_off = i};
		uint8_t *got = malloc(len);
		bool same = got && ptrace(PTRACE_SECCOMP_GET_FILTER, c->tid, i, NULL) ==
				       (long)(len / sizeof(struct sock_filter));
		same = same && ptrace(PTRACE_SECCOMP_GET_FILTER, c->tid, i, got) ==
				   (long)(len / sizeof(struct sock_filter));
		same = same && !memcmp(got, c->f[i]->insns.data, len);
		same = same && ptrace(PTRACE_SECCOMP_GET_METADATA, c->tid, sizeof(md), &md) >= 0 &&
		       md.flags == (c->f[i]->has_flags ? c->f[i]->flags : 0);
		free(got);
		if (!same)
			break;
	}
	/* (a thread without filters has no chain to read: EINVAL) */
	if (i == c->n && c->mode == SECCOMP_MODE_FILTER &&
	    (ptrace(PTRACE_SECCOMP_GET_FILTER, c->tid, i, NULL) >= 0 || errno != ENOENT))
		i = c->n + 1; /* one filter too many */
	if (i != c->n || proc_parse_status_tid(t->pid, c->tid, &st) || st.seccomp != (int)c->mode) {
		pr_err("process %d, thread %d: its seccomp state after the restore is not the "
		       "dumped one (mode %u, %zu filters; filter %zu differs, or mode %d)",
		       t->pid, c->tid, c->mode, c->n, i, st.seccomp);
		return -EIO;
	}
	return 0;
}

/* Once every thread exists: the rest of the main thread's chain, then each thread's own
 * filters installed by that thread, strict mode last (a strict thread could not pass on a
 * filter, nor make a thread that is not strict), and every chain read back. */
int restore_seccomp_finish(struct restore_ctx *ctx, struct restore_task *t)
{
	struct chain *c = chains_of(t);
	size_t e;
	int ret = 0;

	if (!c)
		return -ENOMEM;
	e = early_depth(c, t->nr_threads);
	for (; t->seccomp_done < c[0].n && !ret; t->seccomp_done++)
		ret = install(t, &t->rem, t->pid, c[0].f[t->seccomp_done], t->seccomp_done, 0);
	for (int k = 1; k < t->nr_threads && !ret; k++) {
		struct restore_thread *th = &t->threads[k];
		size_t d = c[k].early ? e : shared(&c[k], &c[0]);
		for (size_t i = d; i < c[k].n && !ret; i++)
			ret = install(t, th->rem, th->tid, c[k].f[i], i, 0);
	}
	for (int k = 0; k < t->nr_threads && !ret; k++) {
		long rv;
		if (c[k].mode != SECCOMP_MODE_STRICT)
			continue;
		rv = rsys3(t->threads[k].rem, __NR_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0);
		if (rv < 0) {
			pr_errno((int)-rv, "thread %d: cannot enter seccomp strict mode", c[k].tid);
			ret = (int)rv;
		}
	}
	for (int k = 0; k < t->nr_threads && !ret; k++)
		ret = check_thread(t, &c[k]);
	free(c);
	return ret;
}
