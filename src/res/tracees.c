/* Processes outside the tree that a thread of the tree traces (strace -p, gdb attached to a
 * running program). The ptrace link cannot be made again by the restore: the restored tracer
 * would trace nothing (its next wait finds no child: strace says "No child processes" and
 * quits, gdb loses its inferior), and the dump's kill of the tracer lets the tracee go, maybe
 * with a breakpoint still written in its code. So the dump is refused, naming each tracer and
 * tracee, with the other refusals of the descriptor walk, before anything is changed. Only the
 * tracee's side tells the link (TracerPid in each of its threads' status, the tracer's thread
 * id), so every thread outside the tree is read: by the walk of core/others.c, which every
 * final dump makes. A tracee inside the tree is refused when it is frozen (it cannot be seized
 * a second time). */
#include <errno.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/others.h"
#include "core/proc.h"
#include "res/tracees.h"

/* The task of the tree with a thread tid, or NULL */
static struct dump_task *tracer_in_tree(struct dump_ctx *ctx, pid_t tid)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		if (t->pid == tid)
			return t;
		for (int j = 0; j < t->nr_threads; j++)
			if (t->threads[j].tid == tid)
				return t;
	}
	return NULL;
}

int dump_check_tracees(struct dump_ctx *ctx)
{
	const struct others *w = others_read(ctx);
	int ret = 0;

	if (!w)
		return -EINVAL;
	for (uint32_t p = 0; p < w->nr_procs; p++) {
		const struct other_proc *op = &w->procs[p];
		for (uint32_t i = op->traced0; i < op->traced0 + op->nr_traced; i++) {
			const struct other_traced *tr = &w->traced[i];
			struct dump_task *t = tracer_in_tree(ctx, tr->tracer);
			if (!t)
				continue;
			struct proc_stat st;
			const char *comm = proc_parse_stat(op->pid, 0, &st) ? "?" : st.comm;
			pr_err(
			    "task %d (%s): thread %d traces thread %d of process %d (%s), which "
			    "is outside the tree: a ptrace link cannot be restored (not supported "
			    "yet); detach the tracer first",
			    t->pid, t->stat.comm, (int)tr->tracer, (int)tr->tid, (int)op->pid,
			    comm);
			ret = -ENOTSUP;
		}
	}
	return ret;
}
