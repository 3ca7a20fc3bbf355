/* Seccomp: strict mode, or the stack of BPF filters. Filters are read with
 * PTRACE_SECCOMP_GET_FILTER (index 0 is the oldest) and installed again in that order. While cryo
 * controls a task it holds PTRACE_O_SUSPEND_SECCOMP, so the filters never block its calls. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "compat.h"
#include "core/dump.h"
#include "core/log.h"
#include "core/restore.h"

#define MAX_FILTERS 512

int dump_seccomp(struct dump_ctx *ctx, struct dump_task *t)
{
	TaskCore *core = t->core;
	int n = 0;

	core->seccomp_mode = t->status.seccomp;
	if (core->seccomp_mode != SECCOMP_MODE_FILTER)
		return 0;
	while (n < MAX_FILTERS) {
		long len = ptrace(PTRACE_SECCOMP_GET_FILTER, t->pid, n, NULL);
		if (len < 0) {
			if (errno == ENOENT)
				break;
			int err = errno;
			pr_errno(err, "task %d: cannot read seccomp filter %d", t->pid, n);
			return -err;
		}
		n++;
	}
	core->seccomp_filters = arena_alloc(&ctx->arena, n * sizeof(void *));
	if (n && !core->seccomp_filters)
		return -ENOMEM;
	core->n_seccomp_filters = n;
	for (int i = 0; i < n; i++) {
		SeccompFilter *f = A_NEW(&ctx->arena, SeccompFilter, SECCOMP_FILTER);
		long len = ptrace(PTRACE_SECCOMP_GET_FILTER, t->pid, i, NULL);
		if (!f || len <= 0)
			return f ? -EIO : -ENOMEM;
		f->insns.len = len * sizeof(struct sock_filter);
		f->insns.data = arena_alloc(&ctx->arena, f->insns.len);
		if (!f->insns.data)
			return -ENOMEM;
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, t->pid, i, f->insns.data) != len)
			return -EIO;
		core->seccomp_filters[i] = f; /* oldest first, as the kernel numbers them */
	}
	pr_info("task %d: seccomp mode %u with %d filters", t->pid, core->seccomp_mode, n);
	return 0;
}

int restore_seccomp_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	uint64_t scratch = remote_scratch(r);
	TaskCore *core = t->core;
	long rv;
	int ret;

	if (core->seccomp_mode == SECCOMP_MODE_STRICT) {
		rv = rsys3(r, __NR_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0);
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot enter seccomp strict mode", t->pid);
			return (int)rv;
		}
		return 0;
	}
	if (core->seccomp_mode != SECCOMP_MODE_FILTER) {
		if (core->seccomp_mode || core->n_seccomp_filters) {
			pr_err("core-%d.img: unknown seccomp mode %u", t->pid, core->seccomp_mode);
			return -EINVAL;
		}
		return 0;
	}
	for (size_t i = 0; i < core->n_seccomp_filters; i++) {
		SeccompFilter *f = core->seccomp_filters[i];
		struct sock_fprog prog;
		size_t len = f->insns.len;
		if (!len || len % sizeof(struct sock_filter) ||
		    len / sizeof(struct sock_filter) > BPF_MAXINSNS ||
		    len + 64 > remote_scratch_size(r)) {
			pr_err("core-%d.img: seccomp filter %zu has an invalid size %zu", t->pid, i,
			       len);
			return -EINVAL;
		}
		prog.len = len / sizeof(struct sock_filter);
		prog.filter = (struct sock_filter *)(scratch + 64);
		ret = remote_write(t->pid, scratch, &prog, sizeof(prog));
		if (!ret)
			ret = remote_write(t->pid, scratch + 64, f->insns.data, len);
		if (ret)
			return ret;
		/* threads made early exist already: they get the filter too */
		rv = rsys3(r, __NR_seccomp, SECCOMP_SET_MODE_FILTER,
			   t->early_threads ? SECCOMP_FILTER_FLAG_TSYNC : 0, scratch);
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot install seccomp filter %zu", t->pid, i);
			return (int)rv;
		}
	}
	return 0;
}
