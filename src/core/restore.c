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
#include "core/log.h"
#include "core/status_fd.h"
#include "core/proc.h"
#include "core/restore.h"
#include "core/util.h"
#include "res/cow.h"
#include "res/files.h"

#define READY_TIMEOUT_NS (30 * 1000000000ull)

int restore_alloc_fd(struct restore_ctx *ctx)
{
	return ctx->next_fd++;
}

struct svc_file *restore_add_global(struct restore_ctx *ctx, struct svc_file f)
{
	for (int i = 0; i < ctx->nr_globals; i++) {
		struct svc_file *g = &ctx->globals[i];
		if (f.kind == SVC_SHMEM && g->kind == SVC_SHMEM && g->shmem_id == f.shmem_id) {
			if (f.shmem_size > g->shmem_size)
				g->shmem_size = f.shmem_size;
			return g;
		}
		if (f.kind == SVC_DESC && g->kind == SVC_DESC && g->desc_pid == f.desc_pid &&
		    g->desc->fd == f.desc->fd)
			return g;
	}
	struct svc_file *n = realloc(ctx->globals, (ctx->nr_globals + 1) * sizeof(*n));
	if (!n)
		return NULL;
	ctx->globals = n;
	f.fd = restore_alloc_fd(ctx);
	n[ctx->nr_globals] = f;
	return &n[ctx->nr_globals++];
}

struct svc_file *restore_find_desc(struct restore_ctx *ctx, pid_t pid, int fd)
{
	for (int i = 0; i < ctx->nr_globals; i++)
		if (ctx->globals[i].kind == SVC_DESC && ctx->globals[i].desc_pid == pid &&
		    ctx->globals[i].desc->fd == fd)
			return &ctx->globals[i];
	return NULL;
}

struct restore_task *restore_find_task(struct restore_ctx *ctx, pid_t pid)
{
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].pid == pid)
			return &ctx->tasks[i];
	return NULL;
}

/* ---- images ---- */

static int read_task_images(struct restore_ctx *ctx, struct restore_task *t)
{
	int ret;

	if ((ret = img_read(ctx->dirfd, IMG_CORE, t->pid, (ProtobufCMessage **)&t->core)) ||
	    (ret = img_read(ctx->dirfd, IMG_MM, t->pid, (ProtobufCMessage **)&t->mm)) ||
	    (ret = img_read(ctx->dirfd, IMG_PAGEMAP, t->pid, (ProtobufCMessage **)&t->pagemap)) ||
	    (ret = img_read(ctx->dirfd, IMG_FILES, t->pid, (ProtobufCMessage **)&t->files)))
		return ret;
	if (t->core->n_threads != t->pst->n_threads || !t->core->itimers) {
		pr_err("core-%d.img: %zu threads, pstree.img says %zu", t->pid, t->core->n_threads,
		       t->pst->n_threads);
		return -EINVAL;
	}
	t->threads = calloc(t->core->n_threads, sizeof(*t->threads));
	if (!t->threads)
		return -ENOMEM;
	t->nr_threads = t->core->n_threads;
	for (int k = 0; k < t->nr_threads; k++) {
		ThreadCore *tc = t->core->threads[k];
		if (tc->tid != t->pst->threads[k] || !tc->creds || !tc->regs || !tc->comm) {
			pr_err("core-%d.img: thread %d (%u) is incomplete or not in pstree.img",
			       t->pid, k, tc->tid);
			return -EINVAL;
		}
		t->threads[k].tid = tc->tid;
		t->threads[k].tc = tc;
		t->threads[k].rem = k ? &t->threads[k].own : &t->rem;
	}
	t->thread = t->core->threads[0];
	t->pages_fd_local = img_raw_open(ctx->dirfd, IMG_PAGES, t->pid, &t->pages_size);
	if (t->pages_fd_local < 0)
		return t->pages_fd_local;
	if ((ret = pages_validate(t)) || (ret = files_validate(ctx, t)))
		return ret;
	return 0;
}

static int read_tree(struct restore_ctx *ctx)
{
	Pstree *tree = ctx->pstree;

	if (!tree->n_tasks || tree->n_tasks > 65536 || tree->tasks[0]->pid != ctx->inv->root_pid) {
		pr_err("pstree.img: %zu tasks, the first is not the root %u", tree->n_tasks,
		       ctx->inv->root_pid);
		return -EINVAL;
	}
	ctx->tasks = calloc(tree->n_tasks, sizeof(*ctx->tasks));
	if (!ctx->tasks)
		return -ENOMEM;
	ctx->nr_tasks = tree->n_tasks;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		PstreeTask *p = tree->tasks[i];
		t->idx = i;
		t->pid = p->pid;
		t->pst = p;
		t->pages_fd_local = -1;
		t->parent = -1;
		t->zombie = p->has_zombie && p->zombie;
		if (t->pid <= 1 || t->pid > 4194304 || restore_find_task(ctx, t->pid) != t) {
			pr_err("pstree.img: task %zu has an invalid or repeated pid %u", (size_t)i,
			       p->pid);
			return -EINVAL;
		}
		if (i) {
			struct restore_task *parent = restore_find_task(ctx, p->ppid);
			if (!parent || parent->idx >= i || parent->zombie) {
				pr_err(
				    "pstree.img: the parent %u of task %u does not come before it",
				    p->ppid, p->pid);
				return -EINVAL;
			}
			t->parent = parent->idx;
		}
		if (t->zombie ? p->n_threads != 0
			      : !p->n_threads || p->n_threads > 65536 || p->threads[0] != p->pid) {
			pr_err("pstree.img: task %u has an invalid thread list (%zu threads)",
			       p->pid, p->n_threads);
			return -EINVAL;
		}
		if (!t->zombie) {
			int ret = read_task_images(ctx, t);
			if (ret)
				return ret;
		}
	}
	if (ctx->tasks[0].zombie) {
		pr_err("pstree.img: the root is a zombie");
		return -EINVAL;
	}
	return 0;
}

static int read_images(struct restore_ctx *ctx)
{
	int ret;

	ret = img_read(ctx->dirfd, IMG_INVENTORY, 0, (ProtobufCMessage **)&ctx->inv);
	if (ret)
		return ret;
	if (ctx->inv->format_version != CRYO_FORMAT_VERSION || ctx->inv->page_size != PAGE_SIZE) {
		pr_err(
		    "inventory.img: format %u with %u-byte pages; this cryo reads format %d with "
		    "%lu-byte pages",
		    ctx->inv->format_version, ctx->inv->page_size, CRYO_FORMAT_VERSION, PAGE_SIZE);
		return -EINVAL;
	}
	if (ctx->inv->shell_job && !ctx->opts->shell_job)
		pr_warn("the dump was made with --shell-job; restore may need it too");
	ret = img_read(ctx->dirfd, IMG_PSTREE, 0, (ProtobufCMessage **)&ctx->pstree);
	if (ret)
		return ret;
	return read_tree(ctx);
}

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
		t->helper = sid;
		bool known = false;
		for (int h = 0; h < ctx->nr_helpers; h++)
			known |= ctx->helpers[h] == sid;
		if (!known) {
			pid_t *n = realloc(ctx->helpers, (ctx->nr_helpers + 1) * sizeof(*n));
			if (!n)
				return -ENOMEM;
			ctx->helpers = n;
			n[ctx->nr_helpers++] = sid;
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

static int plan(struct restore_ctx *ctx)
{
	int own = proc_max_fd(getpid()), max = own, ret;

	if ((ret = restore_check_privileges(ctx)))
		return ret;
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie && files_max_fd(ctx->tasks[i].files) > max)
			max = files_max_fd(ctx->tasks[i].files);
	ctx->fd_base = max + 1;
	ctx->svc_log = ctx->fd_base;
	ctx->svc_dirfd = ctx->fd_base + 1;
	ctx->svc_tty = ctx->fd_base + 2;
	ctx->next_fd = ctx->fd_base + 3;
	if ((ret = plan_sessions(ctx)))
		return ret;
	if ((ret = plan_thread_parents(ctx)))
		return ret;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		if (t->zombie)
			continue;
		if ((ret = files_plan(ctx, t)) || (ret = mm_plan(ctx, t)))
			return ret;
	}
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
	/* after every mapping cryo makes before the tasks exist */
	if ((ret = cow_plan(ctx)))
		return ret;
	pr_debug("descriptors: tasks' below %d, %d globals, service fds up to %d", ctx->fd_base,
		 ctx->nr_globals, ctx->next_fd - 1);
	return 0;
}

/* ---- cryo's side ---- */

/* Every pid must be free; one still held by a zombie of the dumped tree is waited for. */
static int check_pids_free(struct restore_ctx *ctx)
{
	uint64_t deadline = now_ns() + 10000000000ull;
	bool told = false;

	for (int i = 0; i < ctx->nr_tasks + ctx->nr_helpers; i++) {
		pid_t pid = i < ctx->nr_tasks ? ctx->tasks[i].pid : ctx->helpers[i - ctx->nr_tasks];
		for (int k = 1; i < ctx->nr_tasks && k < ctx->tasks[i].nr_threads; k++) {
			char tpath[32];
			snprintf(tpath, sizeof(tpath), "/proc/%d", ctx->tasks[i].threads[k].tid);
			if (access(tpath, F_OK) == 0 &&
			    !restore_pid_is_dying(ctx->tasks[i].threads[k].tid)) {
				pr_err("cannot restore thread %d of process %d: that id is taken",
				       ctx->tasks[i].threads[k].tid, ctx->tasks[i].pid);
				return -EEXIST;
			}
		}
		char path[32];
		snprintf(path, sizeof(path), "/proc/%d", pid);
		while (access(path, F_OK) == 0) {
			if (!restore_pid_is_dying(pid) || now_ns() > deadline) {
				struct proc_stat st;
				const char *comm = proc_parse_stat(pid, 0, &st) ? "?" : st.comm;
				pr_err("cannot restore process %d: that PID is taken by a running "
				       "process (%s)",
				       pid, comm);
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
	long pid;
	int ret;

	ret = check_pids_free(ctx);
	if (ret)
		return ret;
	pr_info("creating the tree");
	/* --restore-sibling: a child of cryo's parent, which can wait for it */
	pid = restore_create(ctx, root->helper ? root->helper : root->pid,
			     ctx->opts->sibling ? 0 /* cryo's own, as clone3 wants */ : SIGCHLD,
			     ctx->opts->sibling ? CLONE_PARENT : 0);
	if (pid < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot create process %d (clone3 with set_tid%s)",
			 root->helper ? root->helper : root->pid,
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
			restore_helper_main(ctx, NULL, root->helper);
		}
		restore_task_main(ctx, root);
	}
	for (;;) {
		int ready = 0, err, status;
		const char *msg;
		for (int i = 0; i < ctx->nr_tasks; i++)
			ready += ctx->tasks[i].zombie || ctx->states[i].state == TS_READY;
		if (ready == ctx->nr_tasks)
			return 0;
		if ((msg = task_error(ctx, &err))) {
			pr_err("a new task failed: %s", msg);
			return err ? -err : -EINVAL;
		}
		if (!ctx->opts->sibling && waitpid(pid, &status, WNOHANG) == pid) {
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

	if (ptrace(PTRACE_SEIZE, t->pid, 0, opts) < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot take control of new process %d", t->pid);
		return ret;
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

static int close_service_fds(struct restore_ctx *ctx, struct restore_task *t)
{
	long rv = rsys3(&t->rem, __NR_close_range, ctx->fd_base, ~0u, 0);
	if (rv < 0) {
		pr_errno((int)-rv, "task %d: cannot close cryo's descriptors", t->pid);
		return (int)rv;
	}
	return 0;
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
	/* process-wide first, seccomp before the threads (they inherit it), credentials of each
	 * thread last for it, the leader's after all others (it makes the process-wide calls) */
	if ((ret = restore_rlimits_remote(ctx, t)) || (ret = restore_signals_remote(ctx, t)) ||
	    (ret = restore_seccomp_remote(ctx, t)) || (ret = create_threads(ctx, t)) ||
	    (ret = restore_task_attrs_outside(ctx, t)))
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
	if ((ret = restore_task_attrs_remote(ctx, t)) || (ret = restore_timers_remote(ctx, t)) ||
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
		if (!ctx->tasks[i].zombie && (ret = take_over(ctx, &ctx->tasks[i])))
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
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie && (ret = close_service_fds(ctx, &ctx->tasks[i])))
			return ret;
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie && (ret = rebuild_rest(ctx, &ctx->tasks[i])))
			return ret;
	return 0;
}

static int write_pidfile(const char *path, pid_t pid)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), ret;
	if (fd < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot write pid file %s", path);
		return ret;
	}
	snprintf(buf, sizeof(buf), "%d", pid);
	ret = write_all(fd, buf, strlen(buf));
	close(fd);
	return ret;
}

/* Kill what this restore created: tasks that got as far as running their own code. */
static void kill_created(struct restore_ctx *ctx)
{
	if (!ctx->states)
		return;
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (ctx->states[i].state != TS_NONE && !ctx->tasks[i].zombie)
			kill(ctx->tasks[i].pid, SIGKILL);
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		for (int k = t->nr_threads - 1; k > 0; k--)
			if (t->threads[k].seized)
				while (waitpid(t->threads[k].tid, NULL, __WALL) < 0 &&
				       errno == EINTR)
					;
		if (t->seized || (i == 0 && ctx->states[0].state != TS_NONE && !t->helper &&
				  !ctx->opts->sibling))
			while (waitpid(t->pid, NULL, __WALL) < 0 && errno == EINTR)
				;
	}
	if (ctx->tasks[0].helper) {
		kill(ctx->tasks[0].helper, SIGKILL);
		if (!ctx->opts->sibling)
			while (waitpid(ctx->tasks[0].helper, NULL, __WALL) < 0 && errno == EINTR)
				;
	}
}

#define IMG_MSG(m) ((m) ? &(m)->base : NULL)

static void cleanup(struct restore_ctx *ctx)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		if (t->pages_fd_local >= 0)
			close(t->pages_fd_local);
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
	if (ctx->states)
		munmap(ctx->states, ctx->states_size);
	free(ctx->tasks);
	free(ctx->helpers);
	free(ctx->globals);
	img_free(IMG_MSG(ctx->pstree));
	img_free(IMG_MSG(ctx->inv));
	if (ctx->dirfd >= 0)
		close(ctx->dirfd);
}

int cryo_restore(const struct cryo_restore_opts *opts, int *status)
{
	struct restore_ctx ctx = {.opts = opts};
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
	ret = read_images(&ctx);
	if (!ret)
		ret = plan(&ctx);
	if (!ret)
		ret = create_tree(&ctx);
	if (!ret)
		ret = rebuild(&ctx);
	root = ctx.nr_tasks ? ctx.tasks[0].pid : 0;
	if (!ret && opts->pidfile)
		ret = write_pidfile(opts->pidfile, root);
	if (ret) {
		kill_created(&ctx);
		pr_err("restore of process %d failed; nothing was left behind",
		       root ? root : (pid_t)(ctx.inv ? ctx.inv->root_pid : 0));
	} else {
		/* -s: a SIGSTOP queued in each process (cryo's own children), taken once it is
		 * released */
		for (int i = 0; opts->leave_stopped && i < ctx.nr_tasks; i++)
			if (!ctx.tasks[i].zombie && kill(ctx.tasks[i].pid, SIGSTOP) < 0)
				pr_errno(errno, "cannot leave process %d stopped",
					 ctx.tasks[i].pid);
		/* all at once, children first: a parent never runs before its tree is whole */
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
