/* The restore driver: read and check every image, plan, create the tree with its own PIDs
 * (clone3 with set_tid, each task by its real parent), let each task rebuild what it can
 * itself ("child phase"), then rebuild the memory and the rest of every task from outside
 * with remote calls, set the registers and let them all go. If anything fails, every task
 * created is killed: nothing is left behind. docs/design.md tells the whole story. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "core/fault.h"
#include "core/log.h"
#include "res/parent.h"
#include "core/status_fd.h"
#include "files/inet.h"
#include "core/proc.h"
#include "core/restore_ctx.h"
#include "res/lazy.h"
#include "core/safeopen.h"
#include "core/util.h"
#include "img/validate.h"
#include "res/cgroup.h"
#include "res/cow.h"
#include "res/locks.h"
#include "res/procstate.h"
#include "res/sysvipc.h"

#define READY_TIMEOUT_NS (30 * 1000000000ull)

/* ---- sessions ---- */

/* Which session does a task enter by itself? A task whose session is led by a task that is
 * gone (and is not cryo's) is created by a helper with the leader's pid, which starts the
 * session and exits once its children are set up. */
static int plan_sessions(struct restore_ctx *ctx)
{
	pid_t own_sid = getsid(0);

	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		pid_t sid = t->pst->sid;
		pid_t parent_sid = t->parent >= 0 ? (pid_t)ctx->tasks[t->parent].pst->sid : own_sid;
		if (t->zombie || sid == t->pid || sid == parent_sid)
			continue;
		if (i == 0 && ctx->opts->shell_job)
			continue;
		if (restore_find_task(ctx, sid)) {
			pr_err("task %d belongs to session %d of another task in the tree, not its "
			       "parent's: not supported yet",
			       t->pid, sid);
			return -ENOTSUP;
		}
		/* one helper per session and parent: it creates the parent's members of it */
		t->helper = sid;
		for (t->helper_idx = 0; t->helper_idx < ctx->nr_helpers; t->helper_idx++)
			if (ctx->helpers[t->helper_idx].sid == sid &&
			    ctx->helpers[t->helper_idx].parent == t->parent)
				break;
		if (t->helper_idx == ctx->nr_helpers) {
			struct restore_helper *n =
			    realloc(ctx->helpers, (ctx->nr_helpers + 1) * sizeof(*n));
			if (!n)
				return -ENOMEM;
			ctx->helpers = n;
			n[ctx->nr_helpers++] = (struct restore_helper){sid, t->parent};
		}
		pr_info("task %d: session %d has no leader left; a helper will start it", t->pid,
			sid);
	}
	return 0;
}

/* ---- planning ---- */

/* A child created by a thread other than the main one: that thread is made early, in the
 * child phase, to create it. */
static int plan_thread_parents(struct restore_ctx *ctx)
{
	for (int i = 1; i < ctx->nr_tasks; i++) {
		struct restore_task *c = &ctx->tasks[i], *p = &ctx->tasks[c->parent];
		int k;
		if (!c->pst->has_parent_tid || (pid_t)c->pst->parent_tid == p->pid)
			continue;
		for (k = 1; k < p->nr_threads && p->threads[k].tid != (pid_t)c->pst->parent_tid;
		     k++)
			;
		if (k == p->nr_threads || c->helper) {
			pr_err(
			    "pstree.img: task %d was created by thread %u, not one of process %d",
			    c->pid, c->pst->parent_tid, p->pid);
			return -EINVAL;
		}
		p->threads[k].early = true;
		p->early_threads = true;
	}
	return 0;
}

/* The numbers the service fds may take: none a task of the tree has, none of cryo's. */
static int plan_fd_room(struct restore_ctx *ctx)
{
	int limit = fd_room_limit(1), ret;

	if (limit < 0) {
		pr_errno(-limit, "cannot raise cryo's RLIMIT_NOFILE to its hard limit");
		return limit;
	}
	if ((ret = fd_room_init(&ctx->room, limit)) || (ret = fd_room_use_own(&ctx->room)))
		return ret;
	/* never the standard numbers: a child's messages go to fd 2 */
	for (int fd = 0; fd < 3; fd++)
		fd_room_use(&ctx->room, fd);
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		int over = t->zombie ? -1 : fd_room_use_files(&ctx->room, t->files);
		if (over >= 0) {
			pr_err("task %d: fd %d is not below cryo's RLIMIT_NOFILE hard limit %d: "
			       "this cryo cannot restore it",
			       t->pid, over, limit);
			return -EMFILE;
		}
	}
	ctx->svc_log = restore_alloc_fd(ctx);
	ctx->svc_dirfd = restore_alloc_fd(ctx);
	ctx->svc_tty = restore_alloc_fd(ctx);
	int cryo = restore_alloc_fd(ctx);
	if (ctx->room.over) /* (check_fd_room says how many it needs) */
		return 0;
	return restore_hold_self(ctx, cryo);
}

/* Every service fd planned: they must all be below the limit. */
static int check_fd_room(struct restore_ctx *ctx)
{
	const struct fd_room *r = &ctx->room;
	size_t need = fd_room_tree_need(ctx->nr_tasks);

	for (int i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie)
			need += fd_room_task_need(ctx->tasks[i].files, ctx->tasks[i].mm);
	if (r->over) {
		pr_err("the restore needs %d descriptors of its own while it rebuilds the tree, "
		       "at numbers no descriptor of the tree has, below cryo's RLIMIT_NOFILE hard "
		       "limit %d: only %d are free",
		       r->n_taken + r->over, r->limit, r->n_taken);
		return -EMFILE;
	}
	/* what the dump counted on (fd_room_check): never less than what is taken */
	if ((size_t)r->n_taken > need)
		pr_warn("the restore takes %d service fds, more than the %zu a dump allows for",
			r->n_taken, need);
	return 0;
}

static int plan(struct restore_ctx *ctx)
{
	int ret;

	if ((ret = restore_check_privileges(ctx)) || (ret = plan_fd_room(ctx)))
		return ret;
	if ((ret = plan_sessions(ctx)))
		return ret;
	if ((ret = plan_thread_parents(ctx)))
		return ret;
	/* every memfd object first: tasks' descriptors and mappings refer to them */
	if ((ret = memfd_plan(ctx)))
		return ret;
	/* ... and every ghost (files deleted while open, cwds, mappings of deleted files) */
	if ((ret = ghost_plan(ctx)))
		return ret;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		if (t->zombie)
			continue;
		if ((ret = files_plan(ctx, t)) || (ret = mm_plan(ctx, t)))
			return ret;
	}
	/* the unix sockets depend on each other: checked as a set */
	if ((ret = unix_plan_check(ctx)))
		return ret;
	if ((ret = check_fd_room(ctx)))
		return ret;
	ctx->states_size =
	    PAGE_ALIGN((ctx->nr_tasks + ctx->nr_helpers) * sizeof(struct task_state));
	ctx->states =
	    mmap(NULL, ctx->states_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctx->states == MAP_FAILED) {
		ctx->states = NULL;
		return -ENOMEM;
	}
	for (int i = 0; i < ctx->nr_tasks; i++)
		ctx->tasks[i].state = &ctx->states[i];
	if ((ret = restore_hold_init(ctx)))
		return ret;
	/* after every mapping cryo makes before the tasks exist */
	if ((ret = cow_plan(ctx)))
		return ret;
	pr_debug("descriptors: %d service fds (%d globals) from %d to %d, below %d; %d numbers "
		 "are the tree's or cryo's",
		 ctx->room.n_taken, ctx->nr_globals, ctx->room.taken[0],
		 ctx->room.taken[ctx->room.n_taken - 1], ctx->room.limit, ctx->room.n_used);
	return 0;
}

/* ---- cryo's side ---- */

/* Every pid must be free; one still held by a zombie of the dumped tree is waited for. */
static int check_pids_free(struct restore_ctx *ctx)
{
	uint64_t deadline = now_ns() + 10000000000ull;
	bool told = false;
	char owner[192];

	for (int i = 0; i < ctx->nr_tasks + ctx->nr_helpers; i++) {
		pid_t pid =
		    i < ctx->nr_tasks ? ctx->tasks[i].pid : ctx->helpers[i - ctx->nr_tasks].sid;
		for (int k = 1; i < ctx->nr_tasks && k < ctx->tasks[i].nr_threads; k++) {
			char tpath[32];
			snprintf(tpath, sizeof(tpath), "/proc/%d", ctx->tasks[i].threads[k].tid);
			if (access(tpath, F_OK) == 0 &&
			    !restore_pid_is_dying(ctx->tasks[i].threads[k].tid)) {
				pid_t tid = ctx->tasks[i].threads[k].tid;
				pr_err("cannot restore thread %d of process %d: that id is taken "
				       "by %s",
				       tid, ctx->tasks[i].pid,
				       restore_pid_owner(tid, owner, sizeof(owner)));
				return -EEXIST;
			}
		}
		char path[32];
		snprintf(path, sizeof(path), "/proc/%d", pid);
		while (access(path, F_OK) == 0) {
			if (!restore_pid_is_dying(pid) || now_ns() > deadline) {
				pr_err("cannot restore process %d: that PID is taken by %s", pid,
				       restore_pid_owner(pid, owner, sizeof(owner)));
				return -EEXIST;
			}
			if (!told)
				pr_info("pid %d is still a zombie of the dumped process: waiting",
					pid);
			told = true;
			struct timespec ms = {0, 1000000};
			nanosleep(&ms, NULL);
		}
	}
	return 0;
}

static const char *task_error(struct restore_ctx *ctx, int *err)
{
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (ctx->states[i].state == TS_FAILED) {
			*err = ctx->states[i].err;
			return ctx->states[i].msg;
		}
	*err = 0;
	return NULL;
}

/* Create the root, and through it the tree; wait until every task is ready. */
static int create_tree(struct restore_ctx *ctx)
{
	struct restore_task *root = &ctx->tasks[0];
	uint64_t deadline = now_ns() + READY_TIMEOUT_NS;
	pid_t first = root->helper ? root->helper : root->pid;
	/* the first process is the only one cryo creates itself: its pidfd comes from clone3 */
	int slot = root->helper ? ctx->nr_tasks + root->helper_idx : 0, pidfd = -1;
	pid_t me = getpid(), parent = ctx->opts->sibling ? getppid() : me;
	long pid;
	int ret;

	ret = check_pids_free(ctx);
	if (ret)
		return ret;
	/* from here on a failure kills what was made: the connections' lock goes too */
	ctx->tcp_taken = ctx->tcp_conns > 0;
	/* System V objects once the pids are known to be free: an object of a tree that still
	 * runs is never taken from it */
	ret = sysv_restore_objects(ctx);
	if (ret)
		return ret;
	pr_info("creating the tree");
	/* --restore-sibling: a child of cryo's parent, which can wait for it */
	pid = restore_create(ctx, first,
			     ctx->opts->sibling ? 0 /* cryo's own, as clone3 wants */ : SIGCHLD,
			     ctx->opts->sibling ? CLONE_PARENT : 0, &pidfd);
	if (pid < 0) {
		char owner[192];
		ret = -errno;
		if (ret == -EEXIST)
			pr_err("cannot restore process %d: that PID is taken by %s", first,
			       restore_pid_owner(first, owner, sizeof(owner)));
		else
			pr_errno(-ret, "cannot create process %d (clone3 with set_tid%s)", first,
				 ret == -EPERM
				     ? ", which needs CAP_CHECKPOINT_RESTORE in the user namespace "
				       "that owns the pid namespace"
				     : "");
		return ret;
	}
	if (pid == 0) {
		if (root->helper) {
			if (restore_root_setup(ctx, root))
				_exit(1);
			restore_helper_main(ctx, root->helper_idx, parent);
		}
		restore_task_main(ctx, root, parent);
	}
	ctx->pidfds[slot] = pidfd;
	ctx->confirmed[slot] = true;
	bool helper_gone = false;
	for (;;) {
		int ready = 0, err, status;
		const char *msg;
		if ((ret = restore_hold_poll(ctx)))
			return ret;
		/* ready, and held by cryo */
		for (int i = 0; i < ctx->nr_tasks; i++)
			ready += ctx->states[i].state == TS_READY &&
				 (ctx->tasks[i].zombie || restore_holds(ctx, i));
		if (ready == ctx->nr_tasks)
			return 0;
		if ((msg = task_error(ctx, &err))) {
			pr_err("a new task failed: %s", msg);
			return err ? -err : -EINVAL;
		}
		/* a session helper made the root and leaves once the root is set up */
		if (!ctx->opts->sibling && !helper_gone && waitpid(pid, &status, WNOHANG) == pid) {
			if (root->helper && WIFEXITED(status) && !WEXITSTATUS(status)) {
				helper_gone = true;
				continue;
			}
			pr_err("process %ld ended while the tree was being created (status %#x)",
			       pid, status);
			return -ECHILD;
		}
		if (now_ns() > deadline) {
			pr_err("the new tasks did not get ready in %llu s",
			       READY_TIMEOUT_NS / 1000000000ull);
			return -ETIMEDOUT;
		}
		struct timespec pause = {0, 50000};
		nanosleep(&pause, NULL);
	}
}

/* Take a new task under control once it finished its child phase. */
static int take_over(struct restore_ctx *ctx, struct restore_task *t)
{
	int sig, event, ret;
	unsigned long opts = PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP;

	if (!restore_holds(ctx, t->idx)) {
		pr_err("new process %d is not held by cryo", t->pid);
		return -ESRCH;
	}
	if (ptrace(PTRACE_SEIZE, t->pid, 0, opts) < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot take control of new process %d", t->pid);
		return ret;
	}
	/* still alive after the seize: the pid seized is the one cryo holds */
	if (!restore_slot_alive(ctx, t->idx)) {
		ptrace(PTRACE_DETACH, t->pid, 0, 0);
		pr_err("new process %d ended before cryo took control of it", t->pid);
		return -ESRCH;
	}
	t->seized = true;
	t->threads[0].seized = true;
	__atomic_store_n(&t->state->go, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &t->state->go, FUTEX_WAKE, 1, NULL, NULL, 0);
	ret = wait_stopped(t->pid, &sig, &event);
	if (!ret && sig != SIGSTOP) {
		pr_err("process %d stopped by signal %d while rebuilding itself", t->pid, sig);
		return -EINVAL;
	}
	if (ret)
		return ret;
	if (t->pst->has_stop_signal && t->pst->stop_signal) {
		/* a job stopped by job control stops again for real, under cryo: leaving it, it
		 * stays stopped; its parent heard of it, as it had (see rebuild_rest) */
		int stop = t->pst->stop_signal;
		for (int tries = 0;; tries++) {
			/* an injected signal that is blocked is only queued: let this one through
			 */
			uint64_t mask = ~(1ull << (stop - 1));
			if (stop < 1 || stop > 64 ||
			    ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(mask), &mask) < 0 ||
			    ptrace(PTRACE_CONT, t->pid, 0, stop) < 0)
				return stop < 1 || stop > 64 ? -EINVAL : -errno;
			ret = wait_stopped(t->pid, &sig, &event);
			if (ret || event == PTRACE_EVENT_STOP)
				break;
			/* the kernel dropped it (a stop signal other than SIGSTOP in a group it
			 * takes for orphaned): the task raised SIGSTOP again, which it cannot drop
			 */
			if (sig != SIGSTOP || tries) {
				ret = -EINVAL;
				break;
			}
			pr_warn("process %d: stop signal %d was discarded (its group is orphaned "
				"now); stopping it with SIGSTOP",
				t->pid, stop);
			stop = SIGSTOP;
		}
		if (ret) {
			pr_err("process %d did not stop with signal %d: %s", t->pid,
			       t->pst->stop_signal, t->state->msg);
			return ret;
		}
	}
	ret = remote_init(&t->rem, t->pid);
	if (ret)
		return ret;
	remote_use_area(&t->rem, t->area, REMOTE_AREA_SIZE);
	/* threads made in the child phase wait in a futex: take them as they are */
	for (int k = 1; k < t->nr_threads; k++) {
		struct restore_thread *th = &t->threads[k];
		if (!th->early)
			continue;
		ret = ptrace_seize_stop(th->tid, opts);
		if (ret) {
			pr_errno(-ret, "cannot take control of new thread %d", th->tid);
			return ret;
		}
		th->seized = true;
		if ((ret = remote_init(&th->own, th->tid)))
			return ret;
		remote_use_area(&th->own, t->area, REMOTE_AREA_SIZE);
	}
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return x < y ? -1 : x > y;
}

/* Every descriptor that is not one of the task's own (its table's image: the parent's for a
 * table shared with it) goes: the service fds, wherever they are. Late kinds come after. */
static int close_service_fds(struct restore_ctx *ctx, struct restore_task *t)
{
	const struct restore_task *o = t;
	while (o->parent >= 0 && o->core->files_shared_with_parent)
		o = &ctx->tasks[o->parent];
	size_t n = o->files->n_fds;
	int *fds = malloc((n ? n : 1) * sizeof(*fds)), ret = 0;
	unsigned int lo = 0;

	if (!fds)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		fds[i] = o->files->fds[i]->fd;
	qsort(fds, n, sizeof(*fds), cmp_int);
	for (size_t i = 0; i <= n && !ret; i++) {
		unsigned int hi = i < n ? (unsigned int)fds[i] : ~0u;
		long rv =
		    hi > lo ? rsys3(&t->rem, __NR_close_range, lo, i < n ? hi - 1 : hi, 0) : 0;
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot close cryo's descriptors", t->pid);
			ret = (int)rv;
		}
		lo = hi + 1;
	}
	free(fds);
	return ret;
}

/* The other threads, made by the leader: clone3 with their tids, from the remote-call area;
 * each stops at once (PTRACE_O_TRACECLONE) and gets its own remote context in the area. */
static int create_threads(struct restore_ctx *ctx, struct restore_task *t)
{
	unsigned long opts = PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP;
	uint64_t scratch = remote_scratch(&t->rem);
	int ret = 0;

	if (t->nr_threads < 2)
		return 0;
	if (ptrace(PTRACE_SETOPTIONS, t->pid, 0, opts | PTRACE_O_TRACECLONE) < 0)
		return -errno;
	for (int k = 1; k < t->nr_threads && !ret; k++) {
		struct restore_thread *th = &t->threads[k];
		uint64_t tid = th->tid;
		if (th->early) {
			th->own.stop_mode = t->rem.stop_mode;
			continue;
		}
		/* it inherits the filters it shares with the main thread */
		if ((ret = restore_seccomp_before_thread(ctx, t, k)))
			break;
		struct cryo_clone_args args = {
		    .flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			     CLONE_SYSVSEM,
		    .set_tid = scratch + sizeof(args),
		    .set_tid_size = 1,
		};
		int sig, event;
		if ((ret = remote_write(t->pid, scratch, &args, sizeof(args))) ||
		    (ret = remote_write(t->pid, scratch + sizeof(args), &tid, sizeof(tid))))
			break;
		long rv = rsys2(&t->rem, SYS_clone3, scratch, sizeof(args));
		for (int tries = 0; rv == -EEXIST && tries < 2000 && restore_pid_is_dying(th->tid);
		     tries++) {
			struct timespec ms = {0, 1000000};
			nanosleep(&ms, NULL);
			rv = rsys2(&t->rem, SYS_clone3, scratch, sizeof(args));
		}
		if (rv == -EEXIST || rv == -ERANGE) {
			char owner[192];
			pr_err("task %d: cannot create thread %d: that PID is taken by %s", t->pid,
			       th->tid, restore_pid_owner(th->tid, owner, sizeof(owner)));
			ret = -EEXIST;
			break;
		}
		if (rv != th->tid) {
			pr_errno(rv < 0 ? (int)-rv : EINVAL, "task %d: cannot create thread %d",
				 t->pid, th->tid);
			ret = rv < 0 ? (int)rv : -EINVAL;
			break;
		}
		th->seized = true;
		ret = wait_stopped(th->tid, &sig, &event);
		if (!ret && event != PTRACE_EVENT_STOP) {
			pr_err("thread %d: unexpected first stop (signal %d, event %d)", th->tid,
			       sig, event);
			ret = -EINVAL;
		}
		if (!ret)
			ret = remote_init(&th->own, th->tid);
		if (!ret) {
			th->own.stop_mode = t->rem.stop_mode;
			remote_use_area(&th->own, t->area, REMOTE_AREA_SIZE);
		}
	}
	if (ptrace(PTRACE_SETOPTIONS, t->pid, 0, opts) < 0 && !ret)
		ret = -errno;
	return ret;
}

static int finish_thread(struct restore_ctx *ctx, struct restore_task *t, struct restore_thread *th)
{
	int ret;

	if (th->rem == &t->rem) {
		/* the area's last call cannot return into it: it stops at the syscall's exit */
		t->rem.area_ours = true;
		ret = remote_unmap_area(&t->rem);
	} else {
		ret = remote_park(th->rem);
	}
	/* a restored task's signals are the images' (queued with the mask blocked): nothing
	 * can have been kept aside that is its own */
	remote_forget_stolen(th->rem);
	if (ret)
		return ret;
	ret = restore_regs(ctx, t, th);
	if (ret)
		return ret;
	if (ptrace(PTRACE_SETSIGMASK, th->tid, sizeof(uint64_t), &th->tc->blocked) < 0) {
		ret = -errno;
		pr_errno(-ret, "thread %d: cannot set its signal mask", th->tid);
		return ret;
	}
	return 0;
}

/* The layout, then the pages: the task reads them itself, while cryo goes on with the next. */
static int rebuild_memory_start(struct restore_ctx *ctx, struct restore_task *t)
{
	uint64_t all = ~0ull;
	int ret;

	if (ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(all), &all) < 0)
		return -errno;
	if ((ret = restore_mm_remote(ctx, t)) || (ret = restore_pages_start(ctx, t)))
		return ret;
	return t->rem.err;
}

static int rebuild_memory_finish(struct restore_ctx *ctx, struct restore_task *t)
{
	int ret;
	if ((ret = restore_pages_finish(ctx, t)) || (ret = restore_mm_fields_remote(ctx, t)))
		return ret;
	return t->rem.err;
}

/* Children stopped again during the restore told this task (a report, a SIGCHLD) as if it
 * were news: take back the reports it had taken before the dump, and the SIGCHLDs (the
 * pending signals of the dump are queued again right after). */
static int forget_new_child_events(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	uint64_t scratch = remote_scratch(r);
	uint64_t chld = 1ull << (SIGCHLD - 1);
	struct timespec zero = {0, 0};
	int ret;

	for (int i = t->idx + 1; i < ctx->nr_tasks; i++) {
		struct restore_task *c = &ctx->tasks[i];
		if (c->parent != t->idx || !c->pst->has_stop_reported || !c->pst->stop_reported)
			continue;
		long rv = rsys5(r, __NR_waitid, P_PID, c->pid, scratch, WSTOPPED | WNOHANG, 0);
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot take the stop report of %d", t->pid,
				 c->pid);
			return (int)rv;
		}
	}
	if ((ret = remote_write(t->pid, scratch, &chld, sizeof(chld))) ||
	    (ret = remote_write(t->pid, scratch + 8, &zero, sizeof(zero))))
		return ret;
	while (rsys4(r, __NR_rt_sigtimedwait, scratch, 0, scratch + 8, 8) == SIGCHLD)
		;
	return 0;
}

static int rebuild_rest(struct restore_ctx *ctx, struct restore_task *t)
{
	int ret;
	/* locks and leases first: a seccomp filter or new credentials must not stand in the
	 * way; then process-wide, seccomp with the threads (they inherit the filters they share
	 * with the main thread), the late descriptors once the threads exist (pidfds of them),
	 * credentials of each thread last for it, the leader's after all others (it makes the
	 * process-wide calls), then the owners of descriptions (the kernel keeps the setter's
	 * uids with them) */
	if ((ret = restore_locks_remote(ctx, t)) || (ret = restore_leases_remote(ctx, t)) ||
	    (ret = restore_procstate_remote(ctx, t)) || (ret = restore_rlimits_remote(ctx, t)) ||
	    (ret = restore_signals_remote(ctx, t)) || (ret = restore_seccomp_begin(ctx, t)) ||
	    (ret = create_threads(ctx, t)) || (ret = restore_files_late(ctx, t)) ||
	    (ret = restore_seccomp_finish(ctx, t)) || (ret = restore_task_attrs_outside(ctx, t)))
		return ret;
	for (int k = 0; k < t->nr_threads; k++) {
		struct restore_thread *th = &t->threads[k];
		if ((ret = restore_altstack_remote(ctx, t, th)) ||
		    (ret = restore_thread_attrs_remote(ctx, t, th)))
			return ret;
	}
	for (int k = t->nr_threads - 1; k >= 0; k--)
		if ((ret = restore_creds_remote(ctx, t, &t->threads[k])))
			return ret;
	if ((ret = restore_owners_remote(ctx, t)) || (ret = restore_task_attrs_remote(ctx, t)) ||
	    (ret = restore_timers_remote(ctx, t)) || (ret = restore_timerfds_remote(ctx, t)) ||
	    (ret = forget_new_child_events(ctx, t)) ||
	    (ret = restore_pending_signals_remote(ctx, t)))
		return ret;
	for (int k = 0; k < t->nr_threads; k++)
		if (t->threads[k].rem->err)
			return t->threads[k].rem->err;
	for (int k = t->nr_threads - 1; k >= 0; k--)
		if ((ret = finish_thread(ctx, t, &t->threads[k])))
			return ret;
	return 0;
}

/* Every live task, one step at a time: memories first (they need the service descriptors,
 * which may be shared between tasks), then the descriptors go, then the rest. */
static int rebuild(struct restore_ctx *ctx)
{
	int ret;
	pr_info("all %d tasks created and ready", ctx->nr_tasks);
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie &&
		    ((ret = fault_point("restore: taking a task over", EIO)) ||
		     (ret = take_over(ctx, &ctx->tasks[i]))))
			return ret;
	pr_info("all tasks under control");
	/* two tasks fill their pages at a time: one per core */
	int inflight[2], n = 0;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		if (ctx->tasks[i].zombie)
			continue;
		if ((ret = rebuild_memory_start(ctx, &ctx->tasks[i])))
			return ret;
		inflight[n++] = i;
		if (n == 2) {
			if ((ret = rebuild_memory_finish(ctx, &ctx->tasks[inflight[0]])))
				return ret;
			inflight[0] = inflight[1];
			n = 1;
		}
	}
	for (int k = 0; k < n; k++)
		if ((ret = rebuild_memory_finish(ctx, &ctx->tasks[inflight[k]])))
			return ret;
	pr_info("all memory rebuilt");
	/* seals last: a write seal would forbid the writable mappings made above */
	if ((ret = restore_memfd_seals(ctx)))
		return ret;
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie && (ret = close_service_fds(ctx, &ctx->tasks[i])))
			return ret;
	if ((ret = sysv_restore_remote(ctx)))
		return ret;
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie &&
		    ((ret = fault_point("restore: the rest of a task", EIO)) ||
		     (ret = rebuild_rest(ctx, &ctx->tasks[i]))))
			return ret;
	return fault_point("restore: before the release", EIO);
}

#define IMG_MSG(m) ((m) ? &(m)->base : NULL)

static void cleanup(struct restore_ctx *ctx)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		if (t->pages_fd_local >= 0)
			close(t->pages_fd_local);
		parent_chain_free(t);
		free(t->svc);
		free(t->vma_fd);
		free(t->vma_kept);
		free(t->threads);
		restore_pages_free(t);
		img_free(IMG_MSG(t->core));
		img_free(IMG_MSG(t->mm));
		img_free(IMG_MSG(t->pagemap));
		img_free(IMG_MSG(t->files));
	}
	restore_hold_free(ctx);
	fd_room_free(&ctx->room);
	if (ctx->states)
		munmap(ctx->states, ctx->states_size);
	free(ctx->tasks);
	free(ctx->helpers);
	free(ctx->globals);
	free(ctx->desc_index);
	free(ctx->pipes);
	free(ctx->ptys);
	free(ctx->memfds);
	free(ctx->ghosts);
	free(ctx->unix_sks);
	free(ctx->inherit_uses);
	sysv_restore_free(ctx);
	lazy_close(ctx);
	img_free(IMG_MSG(ctx->pstree));
	img_free(IMG_MSG(ctx->inv));
	if (ctx->dirfd >= 0)
		close(ctx->dirfd);
}

int cryo_restore(const struct cryo_restore_opts *opts, int *status)
{
	struct restore_ctx ctx = {.opts = opts, .lazy_fd = -1, .svc_cryo = -1};
	pid_t root;
	uint64_t t0 = now_ns();
	int ret;

	ctx.dirfd = open(opts->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx.dirfd < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot open images directory %s", opts->images_dir);
		return ret;
	}
	/* without -d cryo waits for the root, even when a session helper was its parent */
	if (!opts->detach)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	/* no daemon, no restore: before anything is made */
	ret = opts->lazy_pages ? lazy_connect(&ctx) : 0;
	if (!ret)
		ret = restore_read_images(&ctx);
	if (!ret)
		ret = lazy_remote_validate(&ctx);
	if (!ret)
		ret = inet_tcp_restore_check(&ctx);
	if (!ret)
		ret = plan(&ctx);
	if (!ret)
		ret = create_tree(&ctx);
	/* the root holds its copies of the --inherit-fd descriptors (or failed) */
	inherit_close(&ctx);
	if (!ret)
		ret = fault_point("restore: tree created", EIO);
	if (!ret)
		ret = rebuild(&ctx);
	if (!ret)
		ret = sysv_restore_finish(&ctx);
	root = ctx.nr_tasks ? ctx.tasks[0].pid : 0;
	if (!ret && opts->pidfile)
		ret = pidfile_write(ctx.dirfd, opts->pidfile, root);
	if (ret) {
		restore_kill_created(&ctx);
		sysv_restore_abort(&ctx);
		/* the connections cannot be taken over by this restore: their lock goes too,
		 * a firewall rule is not left behind for ever (their peers see a reset) */
		inet_tcp_restore_finish(&ctx);
		if (root || ctx.inv)
			pr_err("restore of process %d failed; nothing was left behind",
			       root ? root : (pid_t)ctx.inv->root_pid);
		else
			pr_err("restore from %s failed; nothing was created", opts->images_dir);
	} else {
		/* -s: a SIGSTOP queued in each process (cryo's own children), taken once it is
		 * released */
		for (int i = 0; opts->leave_stopped && i < ctx.nr_tasks; i++)
			if (!ctx.tasks[i].zombie && kill(ctx.tasks[i].pid, SIGSTOP) < 0)
				pr_errno(errno, "cannot leave process %d stopped",
					 ctx.tasks[i].pid);
		/* all at once, children first: a parent never runs before its tree is whole */
		for (int i = 0; i < ctx.nr_tasks; i++)
			if (!ctx.tasks[i].zombie)
				restore_check_cgroups(&ctx, &ctx.tasks[i]);
		/* the connections are made again: their packets may pass */
		inet_tcp_restore_finish(&ctx);
		pr_info("releasing the restored tree");
		for (int i = ctx.nr_tasks - 1; i >= 0; i--) {
			struct restore_task *t = &ctx.tasks[i];
			for (int k = t->nr_threads - 1; k >= 0 && !t->zombie; k--)
				if (ptrace(PTRACE_DETACH, t->threads[k].tid, 0,
					   t->threads[k].rem->park_sig) < 0)
					pr_errno(errno, "cannot release restored thread %d",
						 t->threads[k].tid);
		}
		if (ctx.tasks[0].helper && !opts->sibling)
			while (waitpid(ctx.tasks[0].helper, NULL, 0) < 0 && errno == EINTR)
				;
		pr_info("%d process(es) restored in %.3f ms", ctx.nr_tasks, (now_ns() - t0) / 1e6);
		if (opts->stats) {
			opts->stats->tasks = ctx.nr_tasks;
			opts->stats->total_ns = now_ns() - t0;
			for (int i = 0; i < ctx.nr_tasks; i++)
				if (ctx.tasks[i].pagemap)
					opts->stats->pages += ctx.tasks[i].pagemap->total_pages;
		}
		/* the daemon may end once the memories are complete: every task is sent */
		if (lazy_done(&ctx))
			pr_warn("--lazy-pages: the tree runs, but the lazy-pages daemon did not "
				"confirm the end of the restore");
		/* --status-fd: the tree runs (or is left stopped), every task released */
		if (opts->has_status_fd)
			status_fd_notify(opts->status_fd);
	}
	cleanup(&ctx);
	if (!ret && !opts->detach) {
		int st = 0;
		while (waitpid(root, &st, 0) < 0 && errno == EINTR)
			;
		if (status)
			*status = st;
	}
	return ret;
}
