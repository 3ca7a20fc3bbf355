/* The child phase of a restore: what runs inside each new task, in ordinary C, before cryo
 * takes it over. The task sets up its session and group, its descriptors and service fds, the
 * copy-on-write memory its children inherit, creates its children (and the threads that
 * create some of them, and session helpers), then its cwd/root, and stops. See
 * docs/design.md; the driver is restore.c. */
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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/proc.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "files/tty.h"
#include "res/cow.h"
#include "res/mapped.h"

#define PF_EXITING 0x4

/* Gone, a zombie, or on its way out (a dump does not wait for a killed task's teardown). */
bool restore_pid_is_dying(pid_t pid)
{
	struct proc_stat st;
	struct proc_status ps;
	if (proc_parse_stat(pid, 0, &st))
		return true;
	if (st.state == 'Z' || st.state == 'X' || (st.flags & PF_EXITING))
		return true;
	return proc_parse_status(pid, &ps) == 0 &&
	       (ps.sig_shared_pending & (1ull << (SIGKILL - 1)));
}

/* Who holds a PID that clone3 could not have: its name, for the message. */
const char *restore_pid_owner(pid_t pid, char *buf, size_t len)
{
	struct proc_stat st;
	if (proc_parse_stat(pid, 0, &st) == 0 && st.state == 'Z')
		snprintf(buf, len,
			 "a zombie (%s) that its parent, process %d, has not reaped (the dump "
			 "killed a process whose parent outside the tree does not wait for it)",
			 st.comm, st.ppid);
	else if (proc_parse_stat(pid, 0, &st) == 0)
		snprintf(buf, len, "a running process (%s)", st.comm);
	else
		snprintf(buf, len, "a process that has ended since");
	return buf;
}

/* A failed creation of pid, as the task t tells it. */
static void create_failed(struct restore_task *t, int err, const char *what, pid_t pid)
{
	char owner[192];
	if (err == EEXIST)
		child_fail(t, 0, "cannot create %s %d: that PID is taken by %s", what, pid,
			   restore_pid_owner(pid, owner, sizeof(owner)));
	else
		child_fail(t, err, "cannot create %s %d", what, pid);
}

/* ---- the child phase, inside the new tasks ---- */

/* A shared anonymous memory object, as a descriptor (what MAP_SHARED|MAP_ANONYMOUS creates). */
static int new_shmem(uint64_t size)
{
	char path[96];
	int fd, err;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)p,
		 (unsigned long)p + size);
	fd = open(path, O_RDWR);
	err = errno;
	munmap(p, size);
	errno = err;
	return fd;
}

/* A shared anonymous object, with the data that no mapping showed at the dump */
static int restore_shmem_child(struct restore_task *t, const struct svc_file *g)
{
	int err;

	if (restore_place_fd(t, new_shmem(g->shmem_size), g->fd, "shared memory"))
		return -1;
	if (g->shmem_hidden && (err = shmem_hidden_write(g->fd, g->shmem_hidden))) {
		child_fail(t, -err,
			   "cannot write the data of the shared memory at %#lx that no mapping "
			   "shows",
			   g->shmem_hidden->start);
		return -1;
	}
	return 0;
}

/* The root, first: cryo's own descriptors out of the way, the objects every task shares. */
int restore_root_setup(struct restore_ctx *ctx, struct restore_task *t)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* every service fd held from the start (a copy of the images directory until its
	 * object comes): the descriptors made on the way to their places never land on one,
	 * and nothing of cryo's is left at one. cryo's pidfd is there already */
	for (int i = 0; i < ctx->room.n_taken; i++) {
		int fd = ctx->room.taken[i];
		if (fd != ctx->svc_cryo && dup2(ctx->dirfd, fd) < 0) {
			child_fail(t, errno, "cannot hold fd %d for the restore", fd);
			return -1;
		}
	}
	if (log_move_fd(ctx->svc_log) < 0) {
		child_fail(t, errno, "cannot move the log to fd %d", ctx->svc_log);
		return -1;
	}
	if (restore_place_fd(t, dup(ctx->dirfd), ctx->svc_dirfd, "the images directory"))
		return -1;
	if (ctx->need_tty && tty_root_open(ctx, t))
		return -1;
	/* --inherit-fd: cryo's descriptors for external resources, before they are closed */
	if (inherit_root_child(ctx, t))
		return -1;
	if (restore_close_but_svc(ctx) < 0) {
		child_fail(t, errno, "cannot close cryo's descriptors");
		return -1;
	}
	/* the pseudo-terminal pairs first: shared descriptions of them are opened below */
	if (restore_ptys_child(ctx))
		return -1;
	/* the unix sockets all in one pass, after the other objects (files in flight in their
	 * queues may be any of them), before the shared descriptions that are copies of them */
	for (int i = 0; i < ctx->nr_globals; i++) {
		struct svc_file *g = &ctx->globals[i];
		if (g->kind == SVC_SHMEM && restore_shmem_child(t, g))
			return -1;
		if (g->kind == SVC_DESC && g->desc->kind != FD_KIND__FD_UNIX_SK &&
		    restore_shared_desc_child(ctx, g, t))
			return -1;
		if (g->kind == SVC_PIPE && restore_pipe_global_child(ctx, g))
			return -1;
		if (g->kind == SVC_MEMFD && restore_memfd_global_child(ctx, g))
			return -1;
		if (g->kind == SVC_GHOST && restore_ghost_global_child(ctx, g))
			return -1;
	}
	if (restore_unix_child(ctx, t))
		return -1;
	for (int i = 0; i < ctx->nr_globals; i++) {
		struct svc_file *g = &ctx->globals[i];
		if (g->kind == SVC_DESC && g->desc->kind == FD_KIND__FD_UNIX_SK &&
		    unix_made_by_root(ctx, g->desc) && restore_shared_desc_child(ctx, g, t))
			return -1;
	}
	return 0;
}

/* Wait until the process group pgid exists, when its leader is a task of the tree that
 * another task creates (a sibling made by another thread, an uncle, ...): nothing orders that
 * creation before this one. A zombie leader holds its group until it is reaped. */
static int wait_group(struct restore_ctx *ctx, struct restore_task *t, pid_t pgid)
{
	struct restore_task *leader = restore_find_task(ctx, pgid);
	int st;

	if (!leader || leader == t)
		return 0;
	while ((st = __atomic_load_n(&leader->state->state, __ATOMIC_ACQUIRE)) == TS_NONE)
		child_pause(ctx, 20000);
	if (st == TS_FAILED) {
		child_fail(t, 0, "the leader %d of its process group failed", pgid);
		return -1;
	}
	return 0;
}

/* Session and process group as dumped. A zombie (zombie = true) has no way to tell cryo but
 * its state slot, like every task. */
static int child_session(struct restore_ctx *ctx, struct restore_task *t, bool zombie)
{
	PstreeTask *p = t->pst, *root = ctx->tasks[0].pst;
	bool job = ctx->opts->shell_job;
	pid_t pgid = (pid_t)p->pgid;

	/* A shell job on a terminal: on cryo's, it joins the session and group of the cryo
	 * that restores it, as a job of the shell that runs cryo (even a session leader: the
	 * terminal is that session's); on its own terminal again, it leads a session on it. */
	if (t->idx == 0 && job && ctx->need_tty)
		return 0; /* tty_root_open did it */
	if ((pid_t)p->sid == t->pid) {
		if (setsid() < 0) {
			child_fail(t, errno, "cannot start session %d", t->pid);
			return -1;
		}
		return 0;
	}
	if (t->idx == 0 && job)
		return 0;
	/* the job's session and group are where the root went: its members follow it */
	if (job && pgid == (pid_t)root->pgid)
		pgid = getpgid(ctx->tasks[0].pid);
	if ((pid_t)p->sid != getsid(0) && !(job && p->sid == root->sid)) {
		child_fail(t, ESRCH, "the %s belonged to session %u, but was created in session %d",
			   zombie ? "zombie" : "task", p->sid, getsid(0));
		return -1;
	}
	if (pgid == t->pid) {
		if (setpgid(0, 0) < 0) {
			child_fail(t, errno, "cannot start process group %d", t->pid);
			return -1;
		}
	} else if (pgid != getpgrp() && (wait_group(ctx, t, pgid) || setpgid(0, pgid) < 0)) {
		if (__atomic_load_n(&t->state->state, __ATOMIC_ACQUIRE) != TS_FAILED)
			child_fail(t, errno, "cannot join process group %d", pgid);
		return -1;
	}
	return 0;
}

/* cryo's own descriptor (its pidfd is at svc_cryo; this task has cryo's credentials yet) */
static int sys_pidfd_getfd_flags(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

static int open_task_svc(struct restore_ctx *ctx, struct restore_task *t)
{
	char name[64];

	img_name(IMG_PAGES, t->pid, name, sizeof(name));
	/* resolved through parent image sets: cryo's memfd of it (res/parent.c) */
	if (restore_place_fd(t,
			     t->pages_merged
				 ? sys_pidfd_getfd_flags(ctx->svc_cryo, t->pages_fd_local)
				 : openat(ctx->svc_dirfd, name, O_RDONLY),
			     t->svc[0].fd, name))
		return -1;
	for (int i = 1; i < t->nr_svc; i++) {
		struct svc_file *f = &t->svc[i];
		if (restore_place_fd(t, open(f->path, f->flags), f->fd, f->path))
			return -1;
	}
	return 0;
}

/* clone3 with set_tid = pid; with pidfd, CLONE_PIDFD too. A PID taken fails with EEXIST
 * (the kernel also says ERANGE when another restore takes the same PID at the same moment). */
long restore_create(struct restore_ctx *ctx, pid_t pid, int exit_signal, uint64_t flags, int *pidfd)
{
	uint64_t tid = pid;
	struct cryo_clone_args args = {.flags = flags | (pidfd ? CLONE_PIDFD : 0),
				       .pidfd = (uint64_t)pidfd,
				       .exit_signal = exit_signal,
				       .set_tid = (uint64_t)&tid,
				       .set_tid_size = 1};
	/* a pid of a task just gone stays taken for a moment after /proc lets it go */
	for (int tries = 0;; tries++) {
		long ret = sys_clone3(&args);
		int err = ret < 0 && errno == ERANGE ? EEXIST : errno;
		/* (parsing /proc may leave errno changed) */
		if (ret >= 0 || err != EEXIST || tries == 2000 || !restore_pid_is_dying(pid)) {
			errno = err;
			return ret;
		}
		child_pause(ctx, 1000000);
	}
}

/* What a child shares with its parent from its birth on. */
static uint64_t share_flags(struct restore_task *c)
{
	if (c->zombie)
		return 0;
	return (c->core->files_shared_with_parent ? CLONE_FILES : 0) |
	       (c->core->fs_shared_with_parent ? CLONE_FS : 0);
}

/* A zombie: a child that exits at once, with the status it had, and is not reaped. Its
 * group and session outlive it while it is a zombie (others may belong to them), so it sets
 * them first, as a live task does, and says in its state slot that it did (TS_CREATED: its
 * group exists; TS_READY: all done), or why it could not: cryo counts a zombie as made only
 * then, and a wrong group is never left unsaid. */
static void __attribute__((noreturn)) become_zombie(struct restore_ctx *ctx, struct restore_task *t)
{
	int status = t->pst->has_exit_status ? t->pst->exit_status : 0;
	if (child_session(ctx, t, true))
		_exit(1);
	__atomic_store_n(&t->state->state, TS_CREATED, __ATOMIC_RELEASE);
	if (t->pst->comm)
		prctl(PR_SET_NAME, t->pst->comm, 0, 0, 0);
	__atomic_store_n(&t->state->state, TS_READY, __ATOMIC_RELEASE);
	if (WIFSIGNALED(status)) {
		struct rlimit none = {0, 0};
		sigset_t all;
		setrlimit(RLIMIT_CORE, &none);
		signal(WTERMSIG(status), SIG_DFL);
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		kill(getpid(), WTERMSIG(status));
	}
	_exit(WEXITSTATUS(status));
}

/* Wait until child t of the caller is ready; false if it failed or died. */
static bool wait_ready(struct restore_ctx *ctx, struct restore_task *t)
{
	for (;;) {
		int st = __atomic_load_n(&t->state->state, __ATOMIC_ACQUIRE);
		siginfo_t si = {0};
		if (st == TS_READY)
			return true;
		if (st == TS_FAILED)
			return false;
		if (waitid(P_PID, t->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid)
			return false;
		child_pause(ctx, 20000);
	}
}

/* A session helper: starts the session, creates its members, and leaves once they are set. */
void restore_helper_main(struct restore_ctx *ctx, int h, pid_t parent)
{
	struct restore_helper *hp = &ctx->helpers[h];
	pid_t me = getpid();
	/* a failed restore leaves nothing behind */
	child_hold_handshake(ctx, ctx->nr_tasks + h, parent, true);
	if (setsid() < 0)
		_exit(1);
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *c = &ctx->tasks[i];
		if (c->helper_idx != h || !c->helper)
			continue;
		long pid = restore_create(
		    ctx, c->pid, c->pst->has_exit_signal ? c->pst->exit_signal : SIGCHLD, 0, NULL);
		if (pid < 0) {
			create_failed(c, errno, "process", c->pid);
			_exit(1);
		}
		if (pid == 0) {
			if (c->zombie)
				become_zombie(ctx, c);
			restore_task_main(ctx, c, me);
		}
	}
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *c = &ctx->tasks[i];
		if (c->helper && c->helper_idx == h && !c->zombie && !wait_ready(ctx, c))
			_exit(1);
	}
	(void)hp;
	_exit(0);
}

static pid_t creator(struct restore_task *c, struct restore_task *parent)
{
	return c->pst->has_parent_tid ? (pid_t)c->pst->parent_tid : parent->pid;
}

/* The children that thread `by` of task t creates (all but those of early threads, for the
 * main thread). */
static int create_children(struct restore_ctx *ctx, struct restore_task *t, pid_t by)
{
	/* group leaders first, so that their members can join them */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = t->idx + 1; i < ctx->nr_tasks; i++) {
			struct restore_task *c = &ctx->tasks[i];
			bool leader = (pid_t)c->pst->pgid == c->pid;
			if (c->parent != t->idx || c->helper || leader != (pass == 0) ||
			    creator(c, t) != by)
				continue;
			long pid = restore_create(
			    ctx, c->pid, c->pst->has_exit_signal ? c->pst->exit_signal : SIGCHLD,
			    share_flags(c), NULL);
			if (pid < 0) {
				create_failed(t, errno, "child", c->pid);
				return -1;
			}
			if (pid == 0) {
				if (c->zombie)
					become_zombie(ctx, c);
				restore_task_main(ctx, c, t->pid);
			}
		}
		/* the leaders' groups must exist before their members join them */
		for (int i = t->idx + 1; pass == 0 && i < ctx->nr_tasks; i++) {
			struct restore_task *c = &ctx->tasks[i];
			siginfo_t si;
			if (c->parent != t->idx || c->helper || (pid_t)c->pst->pgid != c->pid ||
			    creator(c, t) != by)
				continue;
			if (c->zombie) {
				if (waitid(P_PID, c->pid, &si, WEXITED | WNOWAIT) < 0) {
					child_fail(t, errno, "zombie %d did not exit", c->pid);
					return -1;
				}
				continue;
			}
			while (__atomic_load_n(&c->state->state, __ATOMIC_ACQUIRE) == TS_NONE) {
				struct timespec pause = {0, 20000};
				memset(&si, 0, sizeof(si));
				if (waitid(P_PID, c->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
				    si.si_pid) {
					child_fail(t, 0, "child %d died while it was set up",
						   c->pid);
					return -1;
				}
				child_pause(ctx, pause.tv_nsec);
			}
		}
	}
	if (by != t->pid)
		return 0;
	/* children in a session whose leader is gone come through a helper */
	for (int h = 0; h < ctx->nr_helpers; h++) {
		if (ctx->helpers[h].parent != t->idx)
			continue;
		long pid = restore_create(ctx, ctx->helpers[h].sid, SIGCHLD, 0, NULL);
		if (pid < 0) {
			create_failed(t, errno, "session helper", ctx->helpers[h].sid);
			return -1;
		}
		if (pid == 0)
			restore_helper_main(ctx, h, t->pid);
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			child_fail(t, 0, "session helper %ld failed", pid);
			return -1;
		}
	}
	/* zombies must have exited before cryo looks at the tree */
	for (int i = t->idx + 1; i < ctx->nr_tasks; i++) {
		struct restore_task *c = &ctx->tasks[i];
		siginfo_t si;
		if (c->parent == t->idx && c->zombie &&
		    waitid(P_PID, c->pid, &si, WEXITED | WNOWAIT) < 0) {
			child_fail(t, errno, "zombie %d did not exit", c->pid);
			return -1;
		}
	}
	/* the deaths of zombies and helpers are old news to this task: the SIGCHLDs they sent
	 * now go (the dumped pending signals come back later) */
	sigset_t chld;
	struct timespec zero = {0, 0};
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while (sigtimedwait(&chld, NULL, &zero) > 0)
		;
	return 0;
}

long cryo_clone3_thread(struct cryo_clone_args *args, size_t size, void (*fn)(void *), void *arg);

struct early_arg {
	struct restore_ctx *ctx;
	struct restore_task *t;
	struct restore_thread *th;
};

/* An early thread: creates its children, says so, and waits to be taken over by cryo. */
static void early_thread_main(void *p)
{
	struct early_arg *a = p;
	uint32_t never = 0;
	if (create_children(a->ctx, a->t, a->th->tid) == 0)
		__atomic_store_n(&a->th->done, 1, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&a->th->done, 2, __ATOMIC_RELEASE);
	syscall(SYS_futex, &a->th->done, FUTEX_WAKE, 1, NULL, NULL, 0);
	for (;;) /* until cryo takes it over, or ends */
		child_futex_wait(a->ctx, &never, 0);
}

static int create_early_threads(struct restore_ctx *ctx, struct restore_task *t)
{
	static struct early_arg args[64];
	int n = 0;

	for (int k = 1; k < t->nr_threads; k++) {
		struct restore_thread *th = &t->threads[k];
		size_t stack_size = 256 * 1024;
		uint64_t tid = th->tid;
		if (!th->early)
			continue;
		if (n == 64) {
			child_fail(t, E2BIG, "too many threads with children");
			return -1;
		}
		void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (stack == MAP_FAILED) {
			child_fail(t, errno, "cannot map a stack for thread %d", th->tid);
			return -1;
		}
		struct cryo_clone_args ca = {
		    .flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			     CLONE_SYSVSEM,
		    .stack = (uint64_t)stack,
		    .stack_size = stack_size,
		    .set_tid = (uint64_t)&tid,
		    .set_tid_size = 1,
		};
		args[n] = (struct early_arg){ctx, t, th};
		long rv = cryo_clone3_thread(&ca, sizeof(ca), early_thread_main, &args[n++]);
		if (rv < 0) {
			create_failed(t, rv == -ERANGE ? EEXIST : (int)-rv, "thread", th->tid);
			return -1;
		}
	}
	for (int k = 1; k < t->nr_threads; k++) {
		struct restore_thread *th = &t->threads[k];
		uint32_t d;
		while (th->early && !(d = __atomic_load_n(&th->done, __ATOMIC_ACQUIRE)))
			child_futex_wait(ctx, &th->done, 0);
		if (th->early && __atomic_load_n(&th->done, __ATOMIC_ACQUIRE) != 1)
			return -1; /* the thread reported why */
	}
	return 0;
}

/* Runs in each new task: everything it can rebuild by itself with ordinary calls. */
void restore_task_main(struct restore_ctx *ctx, struct restore_task *t, pid_t parent)
{
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	/* die with the parent until cryo hands it its own (the remote phase sets the dumped
	 * parent-death signal, under ptrace: PTRACE_O_EXITKILL covers it from then on), not
	 * with a session helper, which leaves on purpose; and be held by cryo first of all */
	child_hold_handshake(ctx, t->idx, parent, !t->helper);

	/* a root made by a session helper: the helper did this already, for both of them */
	if (t->idx == 0 && !t->helper && restore_root_setup(ctx, t))
		goto fail;
	bool files_shared = t->core->files_shared_with_parent;
	bool fs_shared = t->core->fs_shared_with_parent;
	/* a child starts with its parent's descriptors: only the shared objects stay (unless
	 * the table itself is shared: then the parent has rebuilt it already) */
	if (t->idx && !files_shared && restore_close_but_svc(ctx) < 0) {
		child_fail(t, errno, "cannot close its parent's descriptors");
		goto fail;
	}
	/* --log-pid: a log of its own, unless it shares its parent's descriptor table */
	if (ctx->opts->log_pid && !(t->idx && files_shared))
		log_open_for_pid(ctx->svc_dirfd, t->pid);
	/* the parent's remote-call area came with the fork: this task has its own */
	if (t->parent >= 0)
		munmap((void *)ctx->tasks[t->parent].area, REMOTE_AREA_SIZE);
	/* the page cryo's remote calls run from */
	uint8_t *area = mmap((void *)t->area, REMOTE_AREA_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (area != (uint8_t *)t->area) {
		child_fail(t, errno, "cannot map the remote-call area at %#lx", t->area);
		goto fail;
	}
	remote_area_fill(area);
	/* the subreaper flag first: orphans of a session helper must come back to this task */
	if (child_session(ctx, t, false) || tty_session_setup(ctx, t))
		goto fail;
	/* in its session and group now: members of the group may join it */
	__atomic_store_n(&t->state->state, TS_CREATED, __ATOMIC_RELEASE);
	/* the unix pairs this task made (not the root: it made its own already), which only it
	 * and the tasks it creates hold, before its descriptors are placed */
	if (restore_task_attrs_child(ctx, t) || open_task_svc(ctx, t) || cow_build_child(ctx, t) ||
	    (t->idx && !files_shared && restore_unix_child(ctx, t)) ||
	    (!files_shared && restore_files_child(ctx, t)) || create_early_threads(ctx, t) ||
	    create_children(ctx, t, t->pid) || cow_finish_child(ctx, t) ||
	    (!fs_shared && restore_fs_child(ctx, t)))
		goto fail;
	__atomic_store_n(&t->state->state, TS_READY, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&t->state->go, __ATOMIC_ACQUIRE))
		child_futex_wait(ctx, &t->state->go, 0);
	for (;;)
		raise(SIGSTOP); /* cryo takes over from here and never lets this return */
fail:
	if (__atomic_load_n(&t->state->state, __ATOMIC_ACQUIRE) != TS_FAILED)
		__atomic_store_n(&t->state->state, TS_FAILED, __ATOMIC_RELEASE);
	_exit(1);
}
