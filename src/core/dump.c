/* The dump driver: the order of steps. Find and check the task, freeze it, read every piece
 * of its state (resource code in src/res/), write the images, then kill it or let it go on.
 * Whatever fails, a task that was frozen is resumed exactly as it was. */
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

/* The root must be a live process, not a thread, and not cryo itself. */
static int check_root(struct dump_ctx *ctx, pid_t pid)
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

static int open_images_dir(struct dump_ctx *ctx)
{
	const char *dir = ctx->opts->images_dir;
	/* -D itself may be a symlink (the user named it); nothing beneath it is followed */
	ctx->dirfd = dir_open_root(dir);
	if (ctx->dirfd < 0) {
		pr_errno(-ctx->dirfd, "cannot open images directory %s", dir);
		return ctx->dirfd;
	}
	if (faccessat(ctx->dirfd, ".", W_OK, AT_EACCESS) < 0) {
		int err = errno;
		pr_errno(err, "images directory %s is not writable", dir);
		return -err;
	}
	return 0;
}

static struct dump_task *add_task(struct dump_ctx *ctx, pid_t pid, int parent)
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
static int freeze_task(struct dump_ctx *ctx, struct dump_task *t)
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
	if (!ret && t->stat.state == 'T') {
		t->stop_signal = stop_sig;
		pr_info("process %d is stopped by job control (signal %d)", t->pid, stop_sig);
	}
	if (ret == -ESRCH && proc_parse_stat(t->pid, 0, &t->stat))
		return 1;
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
static int freeze_threads(struct dump_ctx *ctx, struct dump_task *t)
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
			struct dump_task *c = add_task(ctx, child, idx);
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
static int freeze_tree(struct dump_ctx *ctx)
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
			ret = freeze_task(ctx, t);
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
			ret = freeze_threads(ctx, &ctx->tasks[i]);
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
static void resume(struct dump_ctx *ctx, struct dump_task *t)
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

static int kill_task(struct dump_ctx *ctx, struct dump_task *t)
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

/* The first executable mapping of the task: its first bytes are borrowed for one syscall. */
static int find_exec_addr(pid_t pid, uint64_t *addr)
{
	char path[64], *buf, *line, *save;
	ssize_t n;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	n = read_file_alloc(path, &buf);
	if (n < 0)
		return (int)n;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &s, &e, perms) == 3 && perms[2] == 'x' &&
		    perms[3] == 'p' && !strstr(line, "[vdso]") && !strstr(line, "[vsyscall]")) {
			*addr = s;
			ret = 0;
			break;
		}
	}
	free(buf);
	return ret;
}

/* The first remote call left the stop through the kernel's normal path, which put back a mask
 * saved by sigsuspend() and its kind: only now is the task's own mask in place. Read it, block
 * everything while cryo works inside, and queue again what arrived in between. */
static int block_signals(struct dump_task *t, struct dump_thread *th, int slot)
{
	struct remote *r = th->rem;
	long c = restart_continued(&th->seen, &r->regs);
	r->restart_continues = c > 0 ? c : 0;
	int ret = remote_guard_thread(r, slot, t->rem.stop_sig, t->pid);
	if (!ret)
		ret = remote_guard_block_signals(r);
	if (ret) {
		pr_errno(-ret, "thread %d: cannot block its signals", th->tid);
		return ret;
	}
	th->blocked = r->mask;
	th->blocked_saved = true;
	return remote_requeue_signals(r);
}

/* Each thread runs remote calls of its own from the leader's area. */
static int take_threads(struct dump_task *t)
{
	for (int k = 0; k < t->nr_threads; k++) {
		struct dump_thread *th = &t->threads[k];
		int ret;
		if (k == 0) {
			th->rem = &t->rem;
		} else {
			th->rem = &th->own;
			if ((ret = remote_init(&th->own, th->tid)))
				return ret;
			th->own.stop_mode = t->rem.stop_mode;
			remote_use_area(&th->own, t->rem.area, t->rem.area_size);
			th->own.guard_slot = t->rem.guard_slot;
		}
		if ((ret = block_signals(t, th, k)))
			return ret;
		if (proc_parse_status_tid(t->pid, th->tid, &th->status))
			return -ESRCH;
	}
	return 0;
}

/* For each child stopped by job control: has this task taken the stop report already? A
 * waitid() with WNOWAIT in the task tells, and leaves things as they were. */
static int check_stop_reports(struct dump_ctx *ctx, struct dump_task *t)
{
	int idx = (int)(t - ctx->tasks);
	for (int i = idx + 1; i < ctx->nr_tasks; i++) {
		struct dump_task *c = &ctx->tasks[i];
		siginfo_t si;
		if (c->parent != idx || !c->stop_signal)
			continue;
		memset(&si, 0, sizeof(si));
		if (remote_write(t->pid, remote_scratch(&t->rem), &si, sizeof(si)))
			return -EFAULT;
		long rv = rsys5(&t->rem, __NR_waitid, P_PID, c->pid, remote_scratch(&t->rem),
				WSTOPPED | WNOWAIT | WNOHANG, 0);
		if (rv < 0 || remote_read(t->pid, remote_scratch(&t->rem), &si, sizeof(si)))
			return rv < 0 ? (int)rv : -EFAULT;
		c->stop_reported = si.si_pid != c->pid;
	}
	return 0;
}

/* Everything only the thread can tell, in one batch; the leader's carries the process-wide
 * questions too. */
static int ask_inside(struct dump_task *t, struct dump_thread *th)
{
	struct remote_batch *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return -ENOMEM;
	signals_ask_thread(b, th);
	creds_ask_thread(b, th);
	attrs_ask_thread(b, th);
	procstate_ask_thread(b, th);
	if (th->rem == &t->rem) {
		procstate_ask(b, t);
		batch_ask(b, &t->ans.brk, __NR_brk, 0, 0, 0, 0, 0, 0);
		signals_ask(b, t);
		attrs_ask(b, t);
		timers_ask(b, t);
	}
	ret = remote_batch_run(th->rem, b);
	free(b);
	return ret;
}

static int read_thread(struct dump_ctx *ctx, struct dump_task *t, struct dump_thread *th)
{
	int ret;
	th->tc = A_NEW(&ctx->arena, ThreadCore, THREAD_CORE);
	if (!th->tc || !DUMP_PUSH(ctx, t->core->threads, t->core->n_threads, th->tc))
		return -ENOMEM;
	th->tc->tid = th->tid;
	if ((ret = ask_inside(t, th)))
		return ret;
	if ((ret = dump_regs(ctx, t, th)) || (ret = dump_thread_signals(ctx, t, th)) ||
	    (ret = dump_creds(ctx, t, th)) || (ret = dump_thread_attrs(ctx, t, th)))
		return ret;
	/* done with this thread: back into the signal code with its own registers and mask,
	 * where the others wait */
	return th->rem == &t->rem ? 0 : remote_release(th->rem);
}

/* The remote area mapped in the frozen task, its threads ready for remote calls. */
static int take_task(struct dump_ctx *ctx, struct dump_task *t)
{
	uint64_t exec_addr = 0;
	int ret;

	ret = remote_init(&t->rem, t->pid);
	if (ret)
		return ret;
	/* Calls end with a signal the process ignores, and every thread gets a frame that takes
	 * it home if cryo dies (the dead man's switch, src/remote/guard.c). */
	t->rem.stop_sig = guard_pick_signal(t->status.sig_caught);
	t->rem.guard_slot = guard_slot_size(t->pid);
	t->rem.guard_slots = t->nr_threads;
	ret = remote_guard_map_area(&t->rem, t->rem.guard_slot * t->nr_threads);
	if (ret == -ENOENT || ret == -ENOSPC) {
		pr_info("process %d: no spot to borrow; its area is mapped from its code", t->pid);
		ret = find_exec_addr(t->pid, &exec_addr);
		if (ret) {
			pr_err("process %d has no executable mapping to run a system call from",
			       t->pid);
			return ret;
		}
		ret = remote_map_area(&t->rem, exec_addr);
	}
	if (ret)
		return ret;
	return take_threads(t);
}

static int read_state(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret = take_task(ctx, t);
	if (ret)
		return ret;
	ret = check_stop_reports(ctx, t);
	if (ret)
		return ret;

	t->core = A_NEW(&ctx->arena, TaskCore, TASK_CORE);
	if (!t->core)
		return -ENOMEM;
	/* a pre-dump saves memory only, and every millisecond here is one of the freeze: the
	 * leader's answers (brk), shared memory and the tracking; the area stays (track.c) */
	if (ctx->opts->pre_dump) {
		/* a batch: its results are kept in memory (track.c: task_call) */
		struct remote_batch *b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		batch_ask(b, &t->ans.brk, __NR_brk, 0, 0, 0, 0, 0, 0);
		ret = remote_batch_run(&t->rem, b);
		free(b);
		return ret ?: shmem_ask_resident(ctx, t) ?: track_task(ctx, t) ?: t->rem.err;
	}
	for (int k = 0; k < t->nr_threads; k++)
		if ((ret = read_thread(ctx, t, &t->threads[k])))
			return ret;
	t->core->has_files_shared_with_parent = t->core->files_shared_with_parent = t->files_shared;
	t->core->has_fs_shared_with_parent = t->core->fs_shared_with_parent = t->fs_shared;
	if ((ret = dump_sigactions(ctx, t)) || (ret = dump_timers(ctx, t)) ||
	    (ret = dump_task_attrs(ctx, t)) || (ret = dump_seccomp(ctx, t)) ||
	    (ret = dump_fs(ctx, t)) || (ret = shmem_ask_resident(ctx, t)) ||
	    (ret = dump_cgroups(ctx, t)) || (ret = dump_procstate(ctx, t)))
		return ret;
	/* tracking (res/track.c) needs the area: a pre-dump saves mm and pages there and keeps
	 * the area until the tree is resumed, to take the tracking away again on a failure */
	if ((ret = track_task(ctx, t)))
		return ret;
	if (ctx->opts->pre_dump)
		return t->rem.err;
	ret = remote_unmap_area(&t->rem);
	if (ret)
		return ret;
	if (t->rem.err)
		return t->rem.err;
	/* with tracking, once every task's is closed (dump_all) */
	return ctx->parent_dirfd >= 0 ? 0 : dump_mm(ctx, t);
}

static int sync_images_dir(struct dump_ctx *ctx)
{
	int ret = sync_fd(ctx->dirfd);
	if (ret)
		pr_errno(-ret, "cannot sync images directory %s", ctx->opts->images_dir);
	return ret;
}

static int write_task_images(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret;
	if (t->zombie)
		return 0;
	/* each image names its task: restore refuses one that belongs to another */
	t->mm->has_owner_pid = t->pagemap->has_owner_pid = true;
	t->mm->owner_pid = t->pagemap->owner_pid = t->pid;
	/* a pre-dump's image set holds the memory only */
	if (ctx->opts->pre_dump)
		return img_write(ctx->dirfd, IMG_MM, t->pid, &t->mm->base) ?:
		       img_write(ctx->dirfd, IMG_PAGEMAP, t->pid, &t->pagemap->base) ?:
		       xfer_image(ctx->xfer, IMG_PAGEMAP, t->pid, &t->pagemap->base);
	t->core->has_owner_pid = t->files->has_owner_pid = true;
	t->core->owner_pid = t->files->owner_pid = t->pid;
	t->core->n_file_locks = t->nr_locks;
	t->core->file_locks = t->locks;
	if ((ret = img_write(ctx->dirfd, IMG_CORE, t->pid, &t->core->base)) ||
	    (ret = img_write(ctx->dirfd, IMG_MM, t->pid, &t->mm->base)) ||
	    (ret = img_write(ctx->dirfd, IMG_PAGEMAP, t->pid, &t->pagemap->base)) ||
	    (ret = xfer_image(ctx->xfer, IMG_PAGEMAP, t->pid, &t->pagemap->base)) ||
	    (ret = img_write(ctx->dirfd, IMG_FILES, t->pid, &t->files->base)))
		return ret;
	return 0;
}

static int write_images(struct dump_ctx *ctx)
{
	Pstree tree = PSTREE__INIT;
	Inventory inv = INVENTORY__INIT;
	struct utsname u;
	struct timespec now;
	int ret;

	/* an allocation that failed where its result was optional (a string, a copy) leaves a
	 * message incomplete: nothing is written from it */
	if (ctx->arena.failed) {
		pr_err("out of memory while reading the state of the tree");
		return -ENOMEM;
	}

	tree.n_tasks = ctx->nr_tasks;
	tree.tasks = arena_alloc(&ctx->arena, ctx->nr_tasks * sizeof(*tree.tasks));
	if (!tree.tasks)
		return -ENOMEM;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		PstreeTask *pt = A_NEW(&ctx->arena, PstreeTask, PSTREE_TASK);
		if (!pt)
			return -ENOMEM;
		pt->pid = t->pid;
		pt->ppid =
		    t->parent >= 0 ? (uint32_t)ctx->tasks[t->parent].pid : (uint32_t)t->stat.ppid;
		pt->pgid = t->stat.pgid, pt->sid = t->stat.sid;
		pt->has_exit_signal = true;
		pt->exit_signal = t->stat.exit_signal;
		/* also when it is the main thread: restore checks it against the parent's threads
		 */
		if (t->parent_tid && t->parent >= 0) {
			pt->has_parent_tid = true;
			pt->parent_tid = t->parent_tid;
		}
		if (t->stop_signal) {
			pt->has_stop_signal = pt->has_stop_reported = true;
			pt->stop_signal = t->stop_signal;
			pt->stop_reported = t->stop_reported;
		}
		if (t->zombie) {
			pt->has_zombie = pt->has_exit_status = true;
			pt->zombie = true;
			pt->exit_status = t->exit_status;
			pt->comm = arena_strdup(&ctx->arena, t->stat.comm);
		} else {
			pt->n_threads = t->nr_threads;
			pt->threads = arena_alloc(&ctx->arena, t->nr_threads * sizeof(uint32_t));
			if (!pt->threads)
				return -ENOMEM;
			for (int k = 0; k < t->nr_threads; k++)
				pt->threads[k] = t->threads[k].tid;
		}
		tree.tasks[i] = pt;
		if ((ret = write_task_images(ctx, t)))
			return ret;
	}
	if (ctx->arena.failed)
		return -ENOMEM;
	if ((ret = sysv_write_image(ctx)) ||
	    (ret = img_write(ctx->dirfd, IMG_PSTREE, 0, &tree.base)))
		return ret;
	/* the stats too before the tree is killed: after that, nothing may fail the dump */
	ctx->stats.total_ns = now_ns() - ctx->t_start;
	ctx->stats.frozen_ns = now_ns() - ctx->t_frozen + ctx->frozen_before_ns;
	if ((ret = img_write(ctx->dirfd, IMG_STATS, 0, &ctx->stats.base)) ||
	    (ret = sync_images_dir(ctx)))
		return ret;

	/* the inventory goes last: without it the directory is not a usable checkpoint */
	clock_gettime(CLOCK_REALTIME, &now);
	uname(&u);
	inv.format_version = CRYO_FORMAT_VERSION;
	inv.root_pid = ctx->tasks[0].pid;
	inv.dump_time_ns = now.tv_sec * 1000000000ull + now.tv_nsec;
	inv.kernel_release = u.release;
	inv.has_shell_job = true;
	inv.shell_job = ctx->opts->shell_job;
	inv.page_size = PAGE_SIZE;
	inv.has_pre_dump = ctx->opts->pre_dump;
	inv.pre_dump = ctx->opts->pre_dump;
	inv.parent = (char *)ctx->opts->prev_images_dir;
	char where[96];
	if (ctx->opts->page_server) {
		snprintf(where, sizeof(where), "%s:%d", ctx->opts->address, ctx->opts->port);
		inv.page_server = where;
	}
	inv.has_pages_compressed = inv.pages_compressed = ctx->opts->compress;
	char source[96];
	if (ctx->opts->lazy_remote) {
		lazyremote_sort(ctx);
		snprintf(source, sizeof(source), "%s:%d",
			 ctx->opts->address ? ctx->opts->address : "", ctx->opts->port);
		inv.lazyremote_source = source;
		inv.lazyremote_ranges = ctx->lazy_ranges;
		inv.n_lazyremote_ranges = ctx->n_lazy_ranges;
		inv.has_lazyremote_id = true;
		inv.lazyremote_id = ctx->lazy_id;
	}
	if ((ret = track_write_parent_link(ctx)))
		return ret;
	ret = img_write(ctx->dirfd, IMG_INVENTORY, 0, &inv.base);
	if (!ret)
		ret = sync_images_dir(ctx);
	/* the page server has the pages, their pagemaps and the inventory too, or the dump
	 * failed */
	if (!ret && (ret = xfer_image(ctx->xfer, IMG_INVENTORY, 0, &inv.base)) == 0)
		ret = xfer_finish(ctx->xfer);
	if (ret) /* a partial one, or one not known to be on disk */
		dir_unlink(ctx->dirfd, "inventory.img");
	return ret;
}

static int dump_all(struct dump_ctx *ctx)
{
	int ret;
	/* from the first file written on (a ghost image, below) until the last image is on disk,
	 * the directory must not look like a checkpoint */
	if ((ret = dir_unlink(ctx->dirfd, "inventory.img"))) {
		pr_errno(-ret, "cannot remove the old inventory.img of %s", ctx->opts->images_dir);
		return ret;
	}
	/* what cryo cannot restore exactly refuses the dump before any change; every task is
	 * looked at, so that one run names everything in the way (namespaces, then descriptors
	 * and the locks held through them, below) */
	int refused = 0;
	/* a pre-dump saves memory only: what the final dump will refuse is named then */
	for (int i = 0; i < ctx->nr_tasks && !ctx->opts->pre_dump; i++) {
		struct dump_task *t = &ctx->tasks[i];
		if (t->zombie)
			continue;
		if ((ret = dump_check_namespaces(ctx, t)) == -ENOTSUP ||
		    (ret = sysv_check_undo(ctx, t)) == -ENOTSUP)
			refused = -ENOTSUP;
		else if (ret)
			break;
	}
	sysv_undo_ref_end(ctx);
	if (ret && ret != -ENOTSUP)
		return ret;
	for (int i = 0; i < ctx->nr_tasks && !ctx->opts->pre_dump; i++) {
		struct dump_task *t = &ctx->tasks[i];
		if (t->zombie)
			continue;
		if (t->files_shared) {
			/* the parent's table, saved with the parent */
			t->files = A_NEW(&ctx->arena, Files, FILES);
			ret = t->files ? 0 : -ENOMEM;
		} else {
			ret = dump_files(ctx, t);
		}
		if (ret == -ENOTSUP)
			refused = ret;
		else if (ret)
			return ret;
	}
	if (!ctx->opts->pre_dump && (ret = dump_files_finish(ctx)) == -ENOTSUP)
		refused = ret;
	else if (ret)
		return ret;
	if (refused)
		return refused;
	/* the connections are locked and read once nothing can refuse the dump any more */
	if (!ctx->opts->pre_dump && (ret = inet_tcp_dump_finish(ctx)))
		return ret;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		if ((ret = fault_point("dump: before a task's state", EIO)))
			return ret;
		if (!ctx->tasks[i].zombie && (ret = read_state(ctx, &ctx->tasks[i])))
			return ret;
	}
	/* the tracking of every task is closed now (a child's copy kept its parent's alive):
	 * the layouts, and for a pre-dump the pages and the new tracking */
	for (int i = 0; i < ctx->nr_tasks && (ctx->opts->pre_dump || ctx->parent_dirfd >= 0); i++) {
		struct dump_task *t = &ctx->tasks[i];
		if (!t->zombie &&
		    (ret = ctx->opts->pre_dump ? track_predump(ctx, t) : dump_mm(ctx, t)))
			return ret;
	}
	/* a pre-dump reads its pages once the tree runs again (predump_thawed) */
	if (ctx->opts->pre_dump)
		return 0;
	/* sharing is seen before any page is read: reading may change it (pages.c). Not in an
	 * incremental image set: pages in a parent cannot be shared with another task's */
	bool incremental = ctx->opts->pre_dump || ctx->opts->prev_images_dir;
	for (int i = 0; i < ctx->nr_tasks && !incremental; i++)
		if (!ctx->tasks[i].zombie && (ret = cow_detect(ctx, &ctx->tasks[i])))
			return ret;
	for (int i = 0; i < ctx->nr_tasks && !ctx->opts->pre_dump; i++) {
		if ((ret = fault_point("dump: before a task's pages", EIO)))
			return ret;
		if (!ctx->tasks[i].zombie && (ret = dump_pages(ctx, &ctx->tasks[i])))
			return ret;
	}
	if ((ret = pages_dump_finish(ctx)) || (ret = sysv_dump(ctx)))
		return ret;
	return write_images(ctx);
}

/* A task of a pre-dump stopped again, its threads too, for the remote calls that give it its
 * tracking descriptor. */
static int restop_task(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret;

	free(t->threads);
	free(t->gone);
	t->threads = NULL, t->gone = NULL;
	t->nr_threads = t->nr_gone = 0;
	ret = freeze_task(ctx, t);
	if (ret == 1 || (!ret && t->zombie)) {
		pr_err("process %d exited during its pre-dump", t->pid);
		return -ESRCH;
	}
	if (ret)
		return ret;
	do /* until a pass finds no thread not seized yet */
		ret = freeze_threads(ctx, t);
	while (ret > 0);
	return ret < 0 ? ret : take_task(ctx, t);
}

/* A pre-dump with its layout read and the new tracking armed (held by cryo only): the tree
 * runs again while its pages are read (res/predump.c, which says why that is exact), then it
 * is stopped once more, briefly, to write the small images and give each task its tracking
 * descriptor. A failure in between leaves cryo's copies the only ones: track_abort (or cryo's
 * death) ends the tracking with them. */
static int predump_thawed(struct dump_ctx *ctx)
{
	int ret = 0;

	for (int i = ctx->nr_tasks - 1; i >= 0; i--)
		resume(ctx, &ctx->tasks[i]);
	ctx->frozen_before_ns = now_ns() - ctx->t_frozen;
	pr_info("pre-dump: the tree was frozen %.3f ms; its pages are read as it runs",
		ctx->frozen_before_ns / 1e6);
	for (int i = 0; i < ctx->nr_tasks && !ret; i++) {
		if ((ret = fault_point("pre-dump: before a task's pages, thawed", EIO)))
			break;
		/* found (PAGEMAP_SCAN, planned), then each range protected and read */
		if (!ctx->tasks[i].zombie && !(ret = dump_pages(ctx, &ctx->tasks[i])))
			ret = predump_read_pages(ctx, &ctx->tasks[i]);
	}
	if (!ret)
		ret = pages_dump_finish(ctx);
	if (!ret)
		ret = sysv_dump(ctx);
	if (!ret)
		ret = fault_point("pre-dump: pages read, before the second stop", EIO);
	if (ret)
		return ret;
	ctx->freeze_deadline =
	    now_ns() + (ctx->opts->timeout ? ctx->opts->timeout : 10) * 1000000000ull;
	ctx->t_frozen = now_ns();
	for (int i = 0; i < ctx->nr_tasks && !ret; i++)
		if (!ctx->tasks[i].zombie)
			ret = restop_task(ctx, &ctx->tasks[i]);
	if (!ret)
		ret = fault_point("pre-dump: stopped again", EIO);
	if (!ret)
		ret = track_pick_fds(ctx);
	return ret ? ret : write_images(ctx);
}

int cryo_dump(const struct cryo_dump_opts *given)
{
	/* a pre-dump always leaves the tree running, and always tracks its writes */
	struct cryo_dump_opts o = *given, *opts = &o;
	struct dump_ctx ctx = {.opts = opts, .dirfd = -1, .parent_dirfd = -1, .lazy_lfd = -1};
	DumpStats init = DUMP_STATS__INIT;
	int ret;

	netlock_init(&ctx.netlock);
	if (o.pre_dump) {
		o.leave_running = true;
		o.leave_stopped = false;
		o.track_mem = true;
	}
	if (o.auto_dedup && o.page_server) {
		/* the parents are on the server, which has no process tree to walk */
		pr_err("--auto-dedup with --page-server is not supported yet: run cryo dedup on "
		       "the server's directory once the dump's images are there");
		return -ENOTSUP;
	}
	if (o.lazy_remote && (o.pre_dump || o.leave_running || o.leave_stopped || o.page_server ||
			      o.compress || o.prev_images_dir || o.track_mem || !o.port)) {
		/* the pages are served from the frozen tree, which then goes like a dump's */
		pr_err("dump --lazy-pages needs --port, and goes with none of pre-dump, -R, -s, "
		       "--page-server, --compress, --prev-images-dir, --track-mem (not supported "
		       "yet)");
		return -ENOTSUP;
	}
	if (!o.pre_dump && o.track_mem && (o.leave_running || o.leave_stopped)) {
		pr_err("dump --track-mem of a tree left running is not supported yet: make "
		       "pre-dumps (cryo pre-dump), then the final dump with --prev-images-dir");
		return -ENOTSUP;
	}

	ctx.stats = init;
	ctx.t_start = now_ns();
	pr_info("dumping process %d and its descendants into %s%s", opts->pid, opts->images_dir,
		opts->leave_running   ? " (leaving them running)"
		: opts->leave_stopped ? " (leaving them stopped)"
				      : "");
	ret = open_images_dir(&ctx);
	if (!ret)
		ret = track_open_parent(&ctx);
	/* a page server that cannot be reached fails the dump before the tree is touched */
	if (!ret)
		ret = xfer_open(&ctx);
	/* dump --lazy-pages: a port that cannot be had fails it before the tree is touched */
	if (!ret && o.lazy_remote)
		ret = lazyremote_listen(&ctx);
	if (!ret)
		ret = check_root(&ctx, opts->pid);
	if (!ret)
		ret = add_task(&ctx, opts->pid, -1) ? 0 : -ENOMEM;
	/* --tcp-established: the network lock's table and watchdog before the freeze, which
	 * then pays only for the tree's connections put in it (made then if this fails) */
	if (!ret && o.tcp_established && !o.network_unlocked && !o.pre_dump) {
		char who[48];
		snprintf(who, sizeof(who), "dump of process %d", opts->pid);
		netlock_prepare(&ctx.netlock, who);
	}
	if (!ret)
		ret = freeze_tree(&ctx);
	if (!ret)
		ret = track_find(&ctx);
	if (!ret)
		ret = dump_all(&ctx);
	if (!ret && opts->pre_dump)
		ret = predump_thawed(&ctx);
	/* a pre-dump's tasks take their new tracking once its images are complete */
	if (!ret && opts->pre_dump && (ret = track_install(&ctx)))
		dir_unlink(ctx.dirfd, "inventory.img");
	if (ret && opts->pre_dump)
		track_abort(&ctx);
	/* dump --lazy-pages: the images are written; the pages are served from the tree, still
	 * frozen, until the daemon has them all. If not, the images are no checkpoint and the
	 * tree runs on, as after any failed dump */
	bool before_kill_done = false;
	if (!ret && o.lazy_remote) {
		/* the connections go to repair mode before the daemon is told the tree ends */
		ret = lazyremote_serve(
		    &ctx, opts->leave_running || opts->leave_stopped ? NULL : inet_tcp_before_kill);
		before_kill_done = !ret;
		if (ret)
			dir_unlink(ctx.dirfd, "inventory.img");
	}
	lazyremote_free(&ctx);
	/* -s: each process (still seized: the pid is its own) has a SIGSTOP queued, which it
	 * takes as soon as it is released */
	for (int i = 0; !ret && opts->leave_stopped && i < ctx.nr_tasks; i++)
		if (ctx.tasks[i].seized && kill(ctx.tasks[i].pid, SIGSTOP) < 0)
			pr_errno(errno, "cannot leave process %d stopped", ctx.tasks[i].pid);
	/* the connections in repair mode, to end without a packet with the tree; if that
	 * fails the tree goes on, and the images are not a checkpoint */
	if (!ret && !opts->leave_running && !opts->leave_stopped && !before_kill_done &&
	    (ret = inet_tcp_before_kill(&ctx)))
		dir_unlink(ctx.dirfd, "inventory.img");
	if (ret || opts->leave_running || opts->leave_stopped) {
		/* the connections out of repair mode and their packets let through before the
		 * tree runs on */
		inet_tcp_dump_end(&ctx, true);
		for (int i = ctx.nr_tasks - 1; i >= 0; i--)
			resume(&ctx, &ctx.tasks[i]);
	} else {
		/* the root first: its children must not see their parent go on without them */
		for (int i = 0; i < ctx.nr_tasks && !ret; i++)
			ret = kill_task(&ctx, &ctx.tasks[i]);
		/* the last copies of the connections, in repair mode: they go without a packet,
		 * and the lock stays until the restore */
		inet_tcp_dump_end(&ctx, ret != 0);
	}
	ctx.t_thawed = now_ns();
	/* --auto-dedup: the dump is complete; what its parents hold that no level needs any
	 * more is punched out (a failure there leaves the images valid: only a warning) */
	if (!ret && o.auto_dedup && o.prev_images_dir && cryo_dedup(o.images_dir))
		pr_warn("--auto-dedup: the parents of %s were not deduplicated (see above); the "
			"dump is complete",
			o.images_dir);
	if (!ret) {
		/* a pre-dump's two stops, the second to its very end (its stats image is written
		 * before the inventory and the install) */
		uint64_t frozen = opts->pre_dump
				      ? ctx.frozen_before_ns + (ctx.t_thawed - ctx.t_frozen)
				      : ctx.stats.frozen_ns;
		pr_info("dump of %d process(es) done in %.3f ms (frozen %.3f ms, memory %.3f ms, "
			"%lu pages)",
			ctx.nr_tasks, ctx.stats.total_ns / 1e6, frozen / 1e6,
			ctx.stats.memory_ns / 1e6, ctx.stats.pages_written);
	} else if (ctx.t_frozen) {
		pr_err("dump of process %d failed; it was left running", opts->pid);
	} else {
		pr_err("dump of process %d failed before it was touched", opts->pid);
	}
	pages_dump_finish(&ctx);
	xfer_free(&ctx);
	for (int i = 0; i < ctx.nr_preseized; i++)
		if (ctx.preseized[i])
			ptrace(PTRACE_DETACH, ctx.preseized[i], 0, 0);
	free(ctx.preseized);
	free(ctx.mapped_files);
	track_free(&ctx);
	if (ctx.dirfd >= 0)
		close(ctx.dirfd);
	for (int i = 0; i < ctx.nr_tasks; i++) {
		cow_free(&ctx.tasks[i]);
		free(ctx.tasks[i].threads);
		free(ctx.tasks[i].gone);
	}
	free(ctx.tasks);
	arena_free(&ctx.arena);
	return ret;
}
