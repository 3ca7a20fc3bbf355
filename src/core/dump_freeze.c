/* The dump's hold on the tree: the root and each task checked, every process and thread
 * seized (ptrace) and frozen (or through a freezer cgroup), children found as the tree is
 * walked, and at the end each task resumed exactly as it was, or killed. The driver
 * (dump.c) decides when; this file knows how. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/kcmp.h>
#include "compat.h"
#include "core/dump_ctx.h"
#include "pages/lazy_remote.h"
#include "pages/xfer.h"
#include "core/freezer.h"
#include "files/inet.h"
#include "core/fault.h"
#include "core/log.h"
#include "core/safeopen.h"
#include "core/util.h"
#include "res/cgroup.h"
#include "res/cow.h"
#include "res/locks.h"
#include "res/ns.h"
#include "res/procstate.h"
#include "res/mapped.h"
#include "res/regs.h"
#include "res/predump.h"
#include "res/track.h"
#include "res/sysvipc.h"
#include "core/dump_freeze.h"

/* The root must be a live process, not a thread, and not cryo itself. */
int dump_check_root(struct dump_ctx *ctx, pid_t pid)
{
	char path[64], buf[4096];
	struct proc_stat st;
	int ret;

	if (pid == getpid()) {
		pr_err("cryo cannot dump itself (pid %d)", pid);
		return -EINVAL;
	}
	ret = proc_parse_stat(pid, 0, &st);
	if (ret) {
		pr_errno(-ret, "cannot find process %d", pid);
		return ret;
	}
	/* the tree would contain cryo: it cannot freeze itself */
	for (pid_t a = getppid(); a > 1;) {
		struct proc_stat as;
		if (a == pid) {
			pr_err("process %d is an ancestor of cryo (pid %d): cryo cannot dump its "
			       "own ancestor, the tree would contain cryo itself; run cryo from "
			       "outside the tree (another terminal or session)",
			       pid, getpid());
			return -EINVAL;
		}
		if (proc_parse_stat(a, 0, &as))
			break;
		a = as.ppid;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file_at(-1, path, buf, sizeof(buf)) > 0) {
		char *tg = strstr(buf, "\nTgid:");
		if (tg && atoi(tg + 6) != pid) {
			pr_err("%d is a thread of process %d: dump the process", pid, atoi(tg + 6));
			return -EINVAL;
		}
	}
	if (st.state == 'Z' || st.state == 'X') {
		pr_err("process %d is a zombie: nothing to dump", pid);
		return -ESRCH;
	}
	return 0;
}

/* What cryo cannot save yet, checked on each frozen task. */
static int check_task(struct dump_ctx *ctx, struct dump_task *t)
{
	static const struct {
		int type;
		const char *what;
	} shared[] = {
	    {KCMP_VM, "its memory (CLONE_VM, vfork)"},
	    {KCMP_SIGHAND, "its signal handlers (CLONE_SIGHAND)"},
	};
	/* The kernel shows 0 for a session or group whose leader is outside cryo's pid
	 * namespace (a container's or CI runner's session). Only a shell job can be restored
	 * into such a session: the one of the cryo that restores it, as the root's. */
	struct dump_task *root = &ctx->tasks[0];
	if (t->stat.sid == 0 || t->stat.pgid == 0) {
		if (!ctx->opts->shell_job) {
			pr_err("process %d: its %s leader is outside cryo's pid namespace: it can "
			       "only be restored as a shell job, into the session of the restoring "
			       "cryo (--shell-job)",
			       t->pid, t->stat.sid == 0 ? "session's" : "process group's");
			return -ENOTSUP;
		}
		if (t->stat.sid != root->stat.sid || (t->stat.pgid == 0 && root->stat.pgid != 0)) {
			pr_err("process %d: its %s leader is outside cryo's pid namespace and is "
			       "not the job's (process %d's): cannot be made again",
			       t->pid, t->stat.sid == 0 ? "session's" : "process group's",
			       root->pid);
			return -ENOTSUP;
		}
	}
	if (t->parent >= 0) {
		pid_t ppid = ctx->tasks[t->parent].pid;
		for (size_t i = 0; i < ARRAY_SIZE(shared); i++)
			if (syscall(SYS_kcmp, ppid, t->pid, shared[i].type, 0, 0) == 0) {
				pr_err("process %d shares %s with its parent %d: not supported yet",
				       t->pid, shared[i].what, ppid);
				return -ENOTSUP;
			}
		t->files_shared = syscall(SYS_kcmp, ppid, t->pid, KCMP_FILES, 0, 0) == 0;
		t->fs_shared = syscall(SYS_kcmp, ppid, t->pid, KCMP_FS, 0, 0) == 0;
		if (t->files_shared || t->fs_shared)
			pr_info("process %d shares its%s%s with its parent %d", t->pid,
				t->files_shared ? " descriptor table" : "",
				t->fs_shared ? " cwd/root/umask" : "", ppid);
	}
	return 0;
}

struct dump_task *dump_add_task(struct dump_ctx *ctx, pid_t pid, int parent)
{
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].pid == pid)
			return &ctx->tasks[i];
	if ((ctx->nr_tasks & (ctx->nr_tasks - 1)) == 0) {
		size_t cap = ctx->nr_tasks ? ctx->nr_tasks * 2 : 8;
		struct dump_task *n = realloc(ctx->tasks, cap * sizeof(*n));
		if (!n)
			return NULL;
		ctx->tasks = n;
	}
	struct dump_task *t = &ctx->tasks[ctx->nr_tasks++];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->parent = parent;
	return t;
}

#define SEIZE_OPTS (PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP)

/* Suspending a task's seccomp filters (and reading them) takes CAP_SYS_ADMIN: a caller
 * without it seizes without, and refuses a task that has filters. */
static unsigned long seize_opts(struct dump_ctx *ctx)
{
	if (!ctx->seize_opts) {
		struct proc_status me;
		bool admin =
		    !proc_parse_status(getpid(), &me) && (me.cap_eff & (1ull << CAP_SYS_ADMIN));
		ctx->seize_opts = admin ? SEIZE_OPTS : SEIZE_OPTS & ~PTRACE_O_SUSPEND_SECCOMP;
	}
	return ctx->seize_opts;
}

static int check_seccomp_allowed(struct dump_ctx *ctx, pid_t tid)
{
	struct proc_status st;
	if (seize_opts(ctx) & PTRACE_O_SUSPEND_SECCOMP)
		return 0;
	if (proc_parse_status(tid, &st))
		return -ESRCH;
	if (st.seccomp) {
		pr_err("task %d runs under seccomp (mode %d): dumping it needs CAP_SYS_ADMIN "
		       "(run cryo as root)",
		       tid, st.seccomp);
		return -EPERM;
	}
	return 0;
}

/* Seize a thread and wait for its stop; one seized while its cgroup was frozen only waits. */
static int seize(struct dump_ctx *ctx, pid_t pid, pid_t tid, int *stop_sig,
		 struct syscall_seen *seen)
{
	int ret = check_seccomp_allowed(ctx, tid);
	if (ret)
		return ret;
	/* the call it sleeps in, which the stop ends (res/restart.c) */
	syscall_seen_read(pid, tid, seen);
	for (int i = 0; i < ctx->nr_preseized; i++)
		if (ctx->preseized[i] == tid) {
			ctx->preseized[i] = 0;
			return ptrace_stop_wait_until(tid, stop_sig, ctx->freeze_deadline);
		}
	if (ptrace(PTRACE_SEIZE, tid, 0, seize_opts(ctx)) < 0)
		return -errno;
	return ptrace_stop_wait_until(tid, stop_sig, ctx->freeze_deadline);
}

/* --freeze-cgroup: with the cgroup frozen, seize every thread in it; thawed, each stops in
 * ptrace before it runs again. */
static int freeze_cgroup(struct dump_ctx *ctx)
{
	const char *cg = ctx->opts->freeze_cgroup;
	pid_t *tids = NULL;
	struct freeze_watchdog wd;
	int n = 0, ret;

	ret = freeze_watchdog_start(cg, &wd);
	if (ret)
		return ret;
	fault_point("dump: cgroup watchdog started", 0);
	ret = cgroup_freeze(cg, true, ctx->freeze_deadline);
	fault_point("dump: cgroup frozen", 0);
	if (ret) {
		freeze_watchdog_stop(&wd);
		return ret;
	}
	ret = cgroup_threads(cg, &tids, &n);
	for (int i = 0; !ret && i < n; i++) {
		if ((ret = check_seccomp_allowed(ctx, tids[i])) == -ESRCH) {
			ret = 0;
			continue;
		}
		if (ret)
			break;
		if (ptrace(PTRACE_SEIZE, tids[i], 0, seize_opts(ctx)) < 0) {
			if (errno == ESRCH)
				continue;
			ret = -errno;
			pr_errno(-ret, "cannot seize thread %d of cgroup %s", tids[i], cg);
			break;
		}
		ctx->preseized = tids;
		ctx->nr_preseized = i + 1;
	}
	if (ret) {
		for (int i = 0; i < ctx->nr_preseized; i++)
			ptrace(PTRACE_DETACH, ctx->preseized[i], 0, 0);
		ctx->nr_preseized = 0;
		if (!ctx->preseized)
			free(tids);
	}
	int tret = cgroup_freeze(cg, false, 0);
	if (!tret)
		freeze_watchdog_stop(&wd);
	else
		close(wd.fd); /* the watchdog tries too */
	return ret ? ret : tret;
}

/* Seize one task, or find it a zombie; returns 1 if it vanished (exited and reaped). */
int dump_freeze_task(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret = proc_parse_stat(t->pid, 0, &t->stat);
	if (ret)
		return 1;
	if (t->stat.state == 'Z' || t->stat.state == 'X') {
		t->zombie = true;
		t->exit_status = t->stat.exit_code;
		pr_info("process %d is a zombie (status %#x)", t->pid, t->exit_status);
		return 0;
	}
	if (t->stat.state == 't') {
		pr_err("process %d is being traced by another program: cannot dump it", t->pid);
		return -EBUSY;
	}
	int stop_sig = 0;
	struct syscall_seen seen;
	ret = seize(ctx, t->pid, t->pid, &stop_sig, &seen);
	/* Stopped by job control is what the stop reports (its signal), not the state read
	 * before: a SIGCONT or a SIGSTOP may come in between. An interrupt of a running task
	 * reports SIGTRAP. */
	if (!ret && (stop_sig == SIGSTOP || stop_sig == SIGTSTP || stop_sig == SIGTTIN ||
		     stop_sig == SIGTTOU)) {
		t->stop_signal = stop_sig;
		pr_info("process %d is stopped by job control (signal %d)", t->pid, stop_sig);
	} else if (!ret && t->stat.state == 'T') {
		pr_info("process %d was continued as it was frozen (its stop reported signal %d)",
			t->pid, stop_sig);
	}
	/* exiting as cryo seized it (ptrace refuses an exiting task with EPERM): gone, or a
	 * zombie of its parent now, as any other */
	if ((ret == -ESRCH || ret == -EPERM) && proc_parse_stat(t->pid, 0, &t->stat))
		return 1;
	if ((ret == -ESRCH || ret == -EPERM) && (t->stat.state == 'Z' || t->stat.state == 'X')) {
		t->zombie = true;
		t->exit_status = t->stat.exit_code;
		pr_info("process %d exited as it was frozen: a zombie (status %#x)", t->pid,
			t->exit_status);
		return 0;
	}
	if (ret == -EPERM && geteuid() != 0) {
		pr_errno(-ret,
			 "cannot freeze process %d (ptrace; as uid %d, cryo may trace only "
			 "processes of its own user that do not have more privileges)",
			 t->pid, (int)geteuid());
		return ret;
	}
	if (ret == -ETIMEDOUT) {
		pr_err("process %d did not stop within %u s (--timeout; state %c: a task in an "
		       "uninterruptible wait, such as a vfork parent, stops only when that ends); "
		       "it goes on untouched once cryo exits",
		       t->pid, ctx->opts->timeout ? ctx->opts->timeout : 10, t->stat.state);
		return ret;
	}
	if (ret == -EPERM) {
		/* most often: another tracer (a debugger, a second cryo) was first */
		struct proc_status st = {0};
		struct proc_stat ts;
		pid_t tracer = proc_parse_status(t->pid, &st) ? 0 : st.tracer;
		if (tracer > 0) {
			const char *comm = proc_parse_stat(tracer, 0, &ts) ? "?" : ts.comm;
			pr_err("cannot freeze process %d: it is traced by process %d (%s) already "
			       "(a debugger, or another dump of it)",
			       t->pid, (int)tracer, comm);
			return -EBUSY;
		}
	}
	if (ret) {
		pr_errno(-ret, "cannot freeze process %d (ptrace)", t->pid);
		return ret;
	}
	t->seized = true;
	t->threads = calloc(1, sizeof(*t->threads));
	if (!t->threads)
		return -ENOMEM;
	t->nr_threads = 1;
	t->threads[0].tid = t->pid;
	t->threads[0].seized = true;
	t->threads[0].seen = seen;
	/* what was read before the freeze may have changed: read it again */
	ret = proc_parse_stat(t->pid, 0, &t->stat);
	if (!ret)
		ret = proc_parse_status(t->pid, &t->status);
	if (ret)
		pr_errno(-ret, "cannot read the state of frozen process %d", t->pid);
	return ret;
}

/* Seize the threads of a task not seized yet; returns how many new ones were seen. */
int dump_freeze_threads(struct dump_ctx *ctx, struct dump_task *t)
{
	char path[64];
	struct dirent **list;
	int n, found = 0, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", t->pid);
	n = scandir(path, &list, NULL, NULL);
	if (n < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot list the threads of %d", t->pid);
		return ret;
	}
	for (int i = 0; i < n; i++) {
		pid_t tid = atoi(list[i]->d_name);
		bool known = tid <= 0;
		for (int k = 0; k < t->nr_threads && !known; k++)
			known = t->threads[k].tid == tid;
		for (int k = 0; k < t->nr_gone && !known; k++)
			known = t->gone[k] == tid;
		if (!known && !ret) {
			struct syscall_seen seen;
			int r = seize(ctx, t->pid, tid, NULL, &seen);
			struct proc_stat st;
			if (r && (r == -ESRCH || proc_parse_stat(t->pid, tid, &st) ||
				  st.state == 'Z' || st.state == 'X')) {
				/* gone, but it may have made another thread first: look again */
				pr_debug("thread %d of %d exited before it could be frozen", tid,
					 t->pid);
				pid_t *g = realloc(t->gone, (t->nr_gone + 1) * sizeof(*g));
				if (g) {
					t->gone = g;
					g[t->nr_gone++] = tid;
				}
				found++;
			} else if (r) {
				pr_errno(-r, "cannot freeze thread %d of %d", tid, t->pid);
				ret = r;
			} else {
				struct dump_thread *nt =
				    realloc(t->threads, (t->nr_threads + 1) * sizeof(*nt));
				if (!nt) {
					ret = -ENOMEM;
				} else {
					t->threads = nt;
					memset(&nt[t->nr_threads], 0, sizeof(*nt));
					nt[t->nr_threads].tid = tid;
					nt[t->nr_threads].seized = true;
					nt[t->nr_threads].seen = seen;
					t->nr_threads++;
					found++;
				}
			}
		}
		free(list[i]);
	}
	free(list);
	return ret ? ret : found;
}

/* Add the children of a frozen task; returns how many were new. */
static int add_children(struct dump_ctx *ctx, int idx)
{
	char path[64], *buf, *p, *end;
	pid_t pid = ctx->tasks[idx].pid;
	int found = 0, before;
	ssize_t n;

	for (int k = 0; k < ctx->tasks[idx].nr_threads; k++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid,
			 ctx->tasks[idx].threads[k].tid);
		n = read_file_alloc(path, &buf);
		if (n < 0)
			continue; /* a thread that just exited */
		for (p = buf;; p = end) {
			long child = strtol(p, &end, 10);
			if (end == p)
				break;
			before = ctx->nr_tasks;
			struct dump_task *c = dump_add_task(ctx, child, idx);
			if (!c) {
				free(buf);
				return -ENOMEM;
			}
			if (ctx->nr_tasks > before) {
				c->parent_tid = ctx->tasks[idx].threads[k].tid;
				found++;
			}
		}
		free(buf);
	}
	return found;
}

/* Freeze the whole tree: every task found is seized before any state is read, and the search
 * goes on until a pass finds nothing new, so children born meanwhile are caught too. */
int dump_freeze_tree(struct dump_ctx *ctx)
{
	bool changed = true;
	int passes_short = 0;
	int ret;

	/* --timeout: the whole freeze, each wait for a stop included */
	ctx->freeze_deadline =
	    now_ns() + (ctx->opts->timeout ? ctx->opts->timeout : 10) * 1000000000ull;
	if (ctx->opts->freeze_cgroup && (ret = freeze_cgroup(ctx)))
		return ret;
	ctx->t_frozen = now_ns();
	while (changed) {
		if (now_ns() > ctx->freeze_deadline) {
			pr_err("the tree of %d could not be frozen within %u s (--timeout)",
			       ctx->tasks[0].pid, ctx->opts->timeout ? ctx->opts->timeout : 10);
			return -ETIMEDOUT;
		}
		changed = false;
		for (int i = 0; i < ctx->nr_tasks; i++) {
			struct dump_task *t = &ctx->tasks[i];
			if (t->seized || t->zombie)
				continue;
			ret = dump_freeze_task(ctx, t);
			if (ret == 1) { /* gone: forget it */
				memmove(t, t + 1, (ctx->nr_tasks - i - 1) * sizeof(*t));
				for (int k = i; k < ctx->nr_tasks - 1; k++)
					if (ctx->tasks[k].parent > i)
						ctx->tasks[k].parent--;
				ctx->nr_tasks--;
				i--;
				continue;
			}
			if (ret)
				return ret;
			if (t->zombie)
				continue;
			changed = true;
		}
		/* threads and children of seized tasks: until a pass finds none new */
		for (int i = 0; i < ctx->nr_tasks; i++) {
			if (!ctx->tasks[i].seized)
				continue;
			ret = dump_freeze_threads(ctx, &ctx->tasks[i]);
			if (ret < 0)
				return ret;
			changed |= ret > 0;
			ret = add_children(ctx, i);
			if (ret < 0)
				return ret;
			changed |= ret > 0;
		}
		/* a listing of /proc/PID/task can skip a live thread while others exit: done only
		 * when every process has as many threads frozen as the kernel counts */
		for (int i = 0; !changed && i < ctx->nr_tasks; i++) {
			struct dump_task *t = &ctx->tasks[i];
			struct proc_status st;
			if (!t->seized || proc_parse_status(t->pid, &st))
				continue;
			if (st.threads > t->nr_threads) {
				if (++passes_short > 100000) {
					pr_err("process %d: %d threads, %d could be frozen", t->pid,
					       st.threads, t->nr_threads);
					return -EAGAIN;
				}
				changed = true;
			}
		}
	}
	/* threads of the cgroup outside the tree: let them go */
	for (int i = 0; i < ctx->nr_preseized; i++)
		if (ctx->preseized[i] && ptrace(PTRACE_DETACH, ctx->preseized[i], 0, 0) == 0)
			pr_info("thread %d is in the cgroup but not in the tree of %d",
				ctx->preseized[i], ctx->tasks[0].pid);
	ctx->nr_preseized = 0;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		/* a zombie is made again by its parent, in the parent's session */
		if (t->zombie && t->parent >= 0 && t->stat.sid != t->pid &&
		    t->stat.sid != ctx->tasks[t->parent].stat.sid) {
			pr_err(
			    "process %d is a zombie in session %d, not in its parent %d's session "
			    "%d: cannot be made again",
			    t->pid, t->stat.sid, ctx->tasks[t->parent].pid,
			    ctx->tasks[t->parent].stat.sid);
			return -ENOTSUP;
		}
		if (!t->zombie && (ret = check_task(ctx, t)))
			return ret;
	}
	pr_info("%d processes frozen", ctx->nr_tasks);
	return 0;
}

/* Let the task go on as if nothing happened (-R, or after a failed dump). Every thread is
 * left in the kernel's signal code with its own registers: leaving it, the kernel restarts
 * an interrupted call itself (with its own restart record). */
void dump_resume(struct dump_ctx *ctx, struct dump_task *t)
{
	if (!t->seized)
		return;
	for (int k = t->nr_threads - 1; k >= 0; k--) {
		struct dump_thread *th = &t->threads[k];
		struct remote *r = k ? &th->own : &t->rem;
		if (!th->seized)
			continue;
		int ret = 0;
		if (k == 0 && r->area)
			remote_unmap_area(r);
		if (r->tid)
			ret = remote_release(r);
		if (ret != -ESRCH && ptrace(PTRACE_DETACH, th->tid, 0, r->park_sig) < 0)
			ret = -errno;
		if (ret == -ESRCH)
			pr_info("thread %d is gone (killed during the dump)", th->tid);
		else if (ret)
			pr_errno(-ret, "cannot put back and release thread %d", th->tid);
		th->seized = false;
	}
	t->seized = false;
	pr_info("process %d resumed", t->pid);
}

int dump_kill_task(struct dump_ctx *ctx, struct dump_task *t)
{
	int status;
	if (!t->seized)
		return 0;
	if (kill(t->pid, SIGKILL) < 0) {
		int err = errno;
		pr_errno(err, "cannot kill dumped process %d", t->pid);
		return -err;
	}
	/* It can never run again. Its memory is torn down in the background (a tenth of a
	 * second for 1 GiB): cryo does not wait for that; a restore waits for the pid. */
	(void)status;
	t->seized = false;
	pr_info("process %d killed", t->pid);
	return 0;
}
