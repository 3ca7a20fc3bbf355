/* The dump driver: the order of steps. Find and check the task, freeze it, read every piece
 * of its state (resource code in src/res/), write the images, then kill it or let it go on.
 * Whatever fails, a task that was frozen is resumed exactly as it was. */
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

#include "compat.h"
#include "core/dump.h"
#include "core/log.h"
#include "core/util.h"
#include "res/regs.h"

void *dump_push(struct dump_ctx *ctx, void ***arr, size_t *n, void *item)
{
	/* grow by doubling inside the arena; the old array is simply left there */
	size_t cap = 4;
	while (cap < *n + 1)
		cap *= 2;
	if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
		void **na = arena_alloc(&ctx->arena, cap * sizeof(void *));
		if (!na)
			return NULL;
		if (*n)
			memcpy(na, *arr, *n * sizeof(void *));
		*arr = na;
	}
	(*arr)[(*n)++] = item;
	return item;
}

static int check_target(struct dump_ctx *ctx, struct dump_task *t)
{
	char path[64], buf[4096];
	int ret;

	if (t->pid == getpid()) {
		pr_err("cryo cannot dump itself (pid %d)", t->pid);
		return -EINVAL;
	}
	ret = proc_parse_stat(t->pid, 0, &t->stat);
	if (ret) {
		pr_errno(-ret, "cannot find process %d", t->pid);
		return ret;
	}
	ret = proc_parse_status(t->pid, &t->status);
	if (ret) {
		pr_errno(-ret, "cannot read the status of process %d", t->pid);
		return ret;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", t->pid);
	if (read_file_at(-1, path, buf, sizeof(buf)) > 0) {
		char *tg = strstr(buf, "\nTgid:");
		if (tg && atoi(tg + 6) != t->pid) {
			pr_err("%d is a thread of process %d: dump the process", t->pid, atoi(tg + 6));
			return -EINVAL;
		}
	}
	if (t->stat.state == 'Z' || t->stat.state == 'X') {
		pr_err("process %d is a zombie: nothing to dump", t->pid);
		return -ESRCH;
	}
	if (t->status.threads > 1) {
		pr_err("process %d has %d threads: multi-threaded processes are not supported yet",
		       t->pid, t->status.threads);
		return -ENOTSUP;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", t->pid, t->pid);
	if (read_file_at(-1, path, buf, sizeof(buf)) > 0 && buf[0]) {
		pr_err("process %d has children (%s): process trees are not supported yet", t->pid,
		       strtok(buf, "\n"));
		return -ENOTSUP;
	}
	if (t->stat.state == 'T' || t->stat.state == 't') {
		pr_err("process %d is stopped (state %c): stopped processes are not supported yet",
		       t->pid, t->stat.state);
		return -ENOTSUP;
	}
	return 0;
}

static int open_images_dir(struct dump_ctx *ctx)
{
	const char *dir = ctx->opts->images_dir;
	ctx->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->dirfd < 0) {
		int err = errno;
		pr_errno(err, "cannot open images directory %s", dir);
		return -err;
	}
	if (faccessat(ctx->dirfd, ".", W_OK, AT_EACCESS) < 0) {
		int err = errno;
		pr_errno(err, "images directory %s is not writable", dir);
		return -err;
	}
	return 0;
}

static int freeze(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret = ptrace_seize_stop(t->pid, PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP);
	if (ret) {
		pr_errno(-ret, "cannot freeze process %d (ptrace)", t->pid);
		return ret;
	}
	t->seized = true;
	ctx->t_frozen = now_ns();
	/* what was read before the freeze may have changed: read it again */
	ret = proc_parse_stat(t->pid, 0, &t->stat);
	if (!ret)
		ret = proc_parse_status(t->pid, &t->status);
	if (!ret && t->status.threads > 1) {
		pr_err("process %d started a thread: multi-threaded processes are not supported yet",
		       t->pid);
		ret = -ENOTSUP;
	}
	pr_info("process %d frozen", t->pid);
	return ret;
}

/* Let the task go on as if nothing happened (-R, or after a failed dump). */
static void resume(struct dump_ctx *ctx, struct dump_task *t)
{
	struct user_regs_struct regs = t->rem.regs;

	if (!t->seized)
		return;
	if (t->rem.area)
		remote_unmap_area(&t->rem);
	if (t->rem.tid) {
		regs_fixup_restart(&regs, true);
		if (ptrace(PTRACE_SETREGS, t->pid, 0, &regs) < 0)
			pr_errno(errno, "cannot put back the registers of %d", t->pid);
	}
	if (t->blocked_saved &&
	    ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(t->blocked), &t->blocked) < 0)
		pr_errno(errno, "cannot put back the signal mask of %d", t->pid);
	if (ptrace(PTRACE_DETACH, t->pid, 0, 0) < 0)
		pr_errno(errno, "cannot release process %d", t->pid);
	t->seized = false;
	ctx->t_thawed = now_ns();
	pr_info("process %d resumed", t->pid);
}

static int kill_task(struct dump_ctx *ctx, struct dump_task *t)
{
	int status;
	if (kill(t->pid, SIGKILL) < 0) {
		int err = errno;
		pr_errno(err, "cannot kill dumped process %d", t->pid);
		return -err;
	}
	/* as its tracer cryo hears of its death too; after this the pid is a zombie at most */
	while (waitpid(t->pid, &status, __WALL) < 0 && errno == EINTR)
		;
	t->seized = false;
	ctx->t_thawed = now_ns();
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
static int block_signals(struct dump_task *t)
{
	uint64_t all = ~0ull;
	int ret = remote_write(t->pid, remote_scratch(&t->rem), &all, sizeof(all));
	if (ret)
		return ret;
	long rv = rsys4(&t->rem, __NR_rt_sigprocmask, SIG_SETMASK, remote_scratch(&t->rem),
			remote_scratch(&t->rem) + 8, 8);
	if (rv < 0 || remote_read(t->pid, remote_scratch(&t->rem) + 8, &t->blocked, 8)) {
		pr_errno(rv < 0 ? (int)-rv : EFAULT, "task %d: cannot block its signals", t->pid);
		return rv < 0 ? (int)rv : -EFAULT;
	}
	t->blocked_saved = true;
	return remote_requeue_signals(&t->rem);
}

static int read_state(struct dump_ctx *ctx, struct dump_task *t)
{
	ThreadCore *tc;
	uint64_t exec_addr = 0;
	int ret;

	ret = dump_files(ctx, t);
	if (ret)
		return ret;
	ret = remote_init(&t->rem, t->pid);
	if (ret)
		return ret;
	/* a task with its own SIGTRAP disposition must not see the trap of a remote call */
	if ((t->status.sig_caught | t->status.sig_ignored) & (1ull << (SIGTRAP - 1)))
		t->rem.stop_mode = true;
	ret = find_exec_addr(t->pid, &exec_addr);
	if (ret) {
		pr_err("process %d has no executable mapping to run a system call from", t->pid);
		return ret;
	}
	ret = remote_map_area(&t->rem, exec_addr);
	if (ret)
		return ret;
	ret = block_signals(t);
	if (ret)
		return ret;

	t->core = A_NEW(&ctx->arena, TaskCore, TASK_CORE);
	tc = A_NEW(&ctx->arena, ThreadCore, THREAD_CORE);
	if (!t->core || !tc || !DUMP_PUSH(ctx, t->core->threads, t->core->n_threads, tc))
		return -ENOMEM;
	t->thread = tc;
	tc->tid = t->pid;
	t->brk = rsys1(&t->rem, __NR_brk, 0);

	if ((ret = dump_regs(ctx, t, tc)) || (ret = dump_signals(ctx, t)) ||
	    (ret = dump_timers(ctx, t)) || (ret = dump_creds(ctx, t, tc)) ||
	    (ret = dump_task_attrs(ctx, t)) || (ret = dump_thread_attrs(ctx, t, tc)) ||
	    (ret = dump_seccomp(ctx, t)) || (ret = dump_fs(ctx, t)))
		return ret;
	ret = remote_unmap_area(&t->rem);
	if (ret)
		return ret;
	if (t->rem.err)
		return t->rem.err;
	ret = dump_mm(ctx, t);
	if (ret)
		return ret;
	return dump_pages(ctx, t);
}

static int write_images(struct dump_ctx *ctx, struct dump_task *t)
{
	Pstree tree = PSTREE__INIT;
	PstreeTask pt = PSTREE_TASK__INIT, *ptp = &pt;
	Inventory inv = INVENTORY__INIT;
	uint32_t tid = t->pid;
	struct utsname u;
	struct timespec now;
	int ret;

	pt.pid = t->pid, pt.ppid = t->stat.ppid, pt.pgid = t->stat.pgid, pt.sid = t->stat.sid;
	pt.n_threads = 1, pt.threads = &tid;
	tree.n_tasks = 1, tree.tasks = &ptp;

	if ((ret = img_write(ctx->dirfd, IMG_CORE, t->pid, &t->core->base)) ||
	    (ret = img_write(ctx->dirfd, IMG_MM, t->pid, &t->mm->base)) ||
	    (ret = img_write(ctx->dirfd, IMG_PAGEMAP, t->pid, &t->pagemap->base)) ||
	    (ret = img_write(ctx->dirfd, IMG_FILES, t->pid, &t->files->base)) ||
	    (ret = img_write(ctx->dirfd, IMG_PSTREE, 0, &tree.base)))
		return ret;

	/* the inventory goes last: without it the directory is not a usable checkpoint */
	clock_gettime(CLOCK_REALTIME, &now);
	uname(&u);
	inv.format_version = CRYO_FORMAT_VERSION;
	inv.root_pid = t->pid;
	inv.dump_time_ns = now.tv_sec * 1000000000ull + now.tv_nsec;
	inv.kernel_release = u.release;
	inv.has_shell_job = true;
	inv.shell_job = ctx->opts->shell_job;
	inv.page_size = PAGE_SIZE;
	return img_write(ctx->dirfd, IMG_INVENTORY, 0, &inv.base);
}

int cryo_dump(const struct cryo_dump_opts *opts)
{
	struct dump_ctx ctx = { .opts = opts, .dirfd = -1 };
	struct dump_task *t = &ctx.task;
	DumpStats init = DUMP_STATS__INIT;
	int ret;

	ctx.stats = init;
	ctx.t_start = now_ns();
	t->pid = opts->pid;
	pr_info("dumping process %d into %s%s", t->pid, opts->images_dir,
		opts->leave_running ? " (leaving it running)" : "");
	ret = open_images_dir(&ctx);
	if (!ret)
		ret = check_target(&ctx, t);
	if (!ret)
		ret = freeze(&ctx, t);
	if (!ret)
		ret = read_state(&ctx, t);
	if (!ret) {
		unlinkat(ctx.dirfd, "inventory.img", 0);
		ret = write_images(&ctx, t);
	}
	if (ret || opts->leave_running) {
		resume(&ctx, t);
	} else {
		ret = kill_task(&ctx, t);
	}
	if (!ret) {
		ctx.stats.total_ns = now_ns() - ctx.t_start;
		ctx.stats.frozen_ns = ctx.t_thawed - ctx.t_frozen;
		ret = img_write(ctx.dirfd, IMG_STATS, 0, &ctx.stats.base);
		pr_info("dump of %d done in %.3f ms (frozen %.3f ms, memory %.3f ms, %lu pages)",
			t->pid, ctx.stats.total_ns / 1e6, ctx.stats.frozen_ns / 1e6,
			ctx.stats.memory_ns / 1e6, ctx.stats.pages_written);
	} else if (ctx.t_frozen) {
		pr_err("dump of process %d failed; it was left running", t->pid);
	} else {
		pr_err("dump of process %d failed before it was touched", t->pid);
	}
	if (ctx.dirfd >= 0)
		close(ctx.dirfd);
	arena_free(&ctx.arena);
	return ret;
}
