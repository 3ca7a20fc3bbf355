/* Processes outside the tree that a thread of the tree traces (strace -p, gdb attached to a
 * running program). The ptrace link cannot be made again by the restore: the restored tracer
 * would trace nothing (its next wait finds no child: strace says "No child processes" and
 * quits, gdb loses its inferior), and the dump's kill of the tracer lets the tracee go, maybe
 * with a breakpoint still written in its code. So the dump is refused, naming each tracer and
 * tracee, before anything is changed. Only the tracee's side tells the link (TracerPid in each
 * of its threads' status, the tracer's thread id), so every thread outside the tree is read.
 * A tracee inside the tree is refused when it is frozen (it cannot be seized a second time). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
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

/* TracerPid of thread tid of process pid: 0 when untraced or gone */
static pid_t tracer_of(pid_t pid, const char *tid)
{
	char path[80], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/task/%s/status", pid, tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* the Name line before it has any newline of the name escaped */
	const char *p = strstr(buf, "\nTracerPid:");
	return p ? (pid_t)atoi(p + strlen("\nTracerPid:")) : 0;
}

int dump_check_tracees(struct dump_ctx *ctx)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int ret = 0;

	if (!proc) {
		pr_errno(errno, "cannot read /proc for the tracees of the tree");
		return -errno;
	}
	while ((de = readdir(proc))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		char path[64];
		if (pid <= 0 || pid == getpid() || dump_find_task(ctx, pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		DIR *tasks = opendir(path);
		if (!tasks)
			continue; /* gone meanwhile */
		struct dirent *te;
		while ((te = readdir(tasks))) {
			if (te->d_name[0] == '.')
				continue;
			pid_t tracer = tracer_of(pid, te->d_name);
			struct dump_task *t = tracer > 0 ? tracer_in_tree(ctx, tracer) : NULL;
			if (!t)
				continue;
			struct proc_stat st;
			const char *comm = proc_parse_stat(pid, 0, &st) ? "?" : st.comm;
			pr_err(
			    "task %d (%s): thread %d traces thread %s of process %d (%s), which "
			    "is outside the tree: a ptrace link cannot be restored (not supported "
			    "yet); detach the tracer first",
			    t->pid, t->stat.comm, (int)tracer, te->d_name, (int)pid, comm);
			ret = -ENOTSUP;
		}
		closedir(tasks);
	}
	closedir(proc);
	return ret;
}
