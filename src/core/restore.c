/* The restore driver: read and check every image, plan, create the task with its own PID
 * (clone3 with set_tid), let it rebuild its files and process attributes itself ("child
 * phase"), then rebuild its memory and the rest from outside with remote calls, set its
 * registers and let it go. If anything fails, the task is killed: nothing is left behind. */
#include <errno.h>
#include <fcntl.h>
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
#include "core/proc.h"
#include "core/restore.h"
#include "core/util.h"
#include "res/files.h"

void child_fail(struct restore_task *t, int err, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(t->report->msg, sizeof(t->report->msg), fmt, ap);
	va_end(ap);
	if (err && n >= 0 && (size_t)n < sizeof(t->report->msg))
		snprintf(t->report->msg + n, sizeof(t->report->msg) - n, ": %s", strerror(err));
	t->report->err = err ? err : EINVAL;
}

static int read_images(struct restore_ctx *ctx, struct restore_task *t)
{
	int ret;

	ret = img_read(ctx->dirfd, IMG_INVENTORY, 0, (ProtobufCMessage **)&ctx->inv);
	if (ret)
		return ret;
	if (ctx->inv->format_version != CRYO_FORMAT_VERSION || ctx->inv->page_size != PAGE_SIZE) {
		pr_err("inventory.img: format %u with %u-byte pages; this cryo reads format %d with "
		       "%lu-byte pages",
		       ctx->inv->format_version, ctx->inv->page_size, CRYO_FORMAT_VERSION, PAGE_SIZE);
		return -EINVAL;
	}
	if (ctx->inv->shell_job && !ctx->opts->shell_job)
		pr_warn("the dump was made with --shell-job; restore may need it too");
	ret = img_read(ctx->dirfd, IMG_PSTREE, 0, (ProtobufCMessage **)&ctx->pstree);
	if (ret)
		return ret;
	if (ctx->pstree->n_tasks != 1) {
		pr_err("pstree.img has %zu tasks: process trees are not supported yet",
		       ctx->pstree->n_tasks);
		return -ENOTSUP;
	}
	t->pst = ctx->pstree->tasks[0];
	t->pid = t->pst->pid;
	if (t->pid <= 1 || t->pid > 4194304 || t->pst->pid != ctx->inv->root_pid ||
	    t->pst->n_threads != 1 || t->pst->threads[0] != t->pst->pid) {
		pr_err("pstree.img: task %u is invalid (threads: %zu)", t->pst->pid,
		       t->pst->n_threads);
		return -EINVAL;
	}
	if ((ret = img_read(ctx->dirfd, IMG_CORE, t->pid, (ProtobufCMessage **)&t->core)) ||
	    (ret = img_read(ctx->dirfd, IMG_MM, t->pid, (ProtobufCMessage **)&t->mm)) ||
	    (ret = img_read(ctx->dirfd, IMG_PAGEMAP, t->pid, (ProtobufCMessage **)&t->pagemap)) ||
	    (ret = img_read(ctx->dirfd, IMG_FILES, t->pid, (ProtobufCMessage **)&t->files)))
		return ret;
	if (t->core->n_threads != 1 || t->core->threads[0]->tid != (uint32_t)t->pid) {
		pr_err("core-%d.img: expected one thread with tid %d", t->pid, t->pid);
		return -EINVAL;
	}
	t->thread = t->core->threads[0];
	if (!t->thread->creds || !t->thread->regs || !t->core->itimers || !t->thread->comm) {
		pr_err("core-%d.img: incomplete", t->pid);
		return -EINVAL;
	}
	t->pages_fd_local = img_raw_open(ctx->dirfd, IMG_PAGES, t->pid, &t->pages_size);
	if (t->pages_fd_local < 0)
		return t->pages_fd_local;
	if ((ret = pages_validate(t)) || (ret = files_validate(ctx, t)))
		return ret;
	return 0;
}

static int plan(struct restore_ctx *ctx, struct restore_task *t)
{
	int own = proc_max_fd(getpid()), ret;
	int target = files_max_fd(t->files);

	t->svc_base = (own > target ? own : target) + 1;
	ret = mm_plan(ctx, t);
	if (ret)
		return ret;
	t->svc_dirfd = t->svc_base + t->nr_svc;
	t->svc_log = t->svc_dirfd + 1;
	t->svc_tty = -1;
	for (size_t i = 0; i < t->files->n_fds; i++)
		if (t->files->fds[i]->kind == FD_KIND__FD_TTY)
			t->svc_tty = t->svc_log + 1;
	t->report = mmap(NULL, sizeof(*t->report), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t->report == MAP_FAILED) {
		t->report = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int place_fd(struct restore_task *t, int fd, int at, const char *what)
{
	if (fd < 0) {
		child_fail(t, errno, "cannot open %s", what);
		return -1;
	}
	if (fd != at) {
		if (dup2(fd, at) < 0) {
			child_fail(t, errno, "cannot move %s to fd %d", what, at);
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int child_session(struct restore_ctx *ctx, struct restore_task *t)
{
	PstreeTask *p = t->pst;
	if ((pid_t)p->sid == t->pid) {
		if (setsid() < 0) {
			child_fail(t, errno, "cannot start session %d", t->pid);
			return -1;
		}
		return 0;
	}
	/* a shell job joins the session and group of the cryo that restores it, as a job of
	 * the shell that runs cryo */
	if (ctx->opts->shell_job)
		return 0;
	if ((pid_t)p->sid != getsid(0)) {
		child_fail(t, ESRCH,
			   "the task belonged to session %u, which is not cryo's (%d); "
			   "restoring into a foreign session is not supported yet",
			   p->sid, getsid(0));
		return -1;
	}
	if ((pid_t)p->pgid == t->pid) {
		if (setpgid(0, 0) < 0) {
			child_fail(t, errno, "cannot start process group %d", t->pid);
			return -1;
		}
	} else if ((pid_t)p->pgid != getpgrp() && setpgid(0, p->pgid) < 0) {
		child_fail(t, errno, "cannot join process group %u", p->pgid);
		return -1;
	}
	return 0;
}

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

/* Runs in the new task: everything it can rebuild by itself with ordinary calls. */
static void __attribute__((noreturn)) child_main(struct restore_ctx *ctx, struct restore_task *t)
{
	sigset_t all;
	struct rlimit rl;
	char go, name[64];

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* until cryo hands it its own */
	if (read(t->go_pipe[0], &go, 1) != 1)
		_exit(1);
	close(t->go_pipe[0]);
	close(t->go_pipe[1]);

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (log_move_fd(t->svc_log) < 0) {
		child_fail(t, errno, "cannot move the log to fd %d", t->svc_log);
		goto fail;
	}
	img_name(IMG_PAGES, t->pid, name, sizeof(name));
	if (place_fd(t, openat(ctx->dirfd, name, O_RDONLY), t->svc[0].fd, name))
		goto fail;
	for (int i = 1; i < t->nr_svc; i++) {
		struct svc_file *f = &t->svc[i];
		if (f->kind == SVC_FILE && place_fd(t, open(f->path, f->flags), f->fd, f->path))
			goto fail;
		if (f->kind == SVC_SHMEM && place_fd(t, new_shmem(f->shmem_size), f->fd, "shared memory"))
			goto fail;
	}
	if (place_fd(t, dup(ctx->dirfd), t->svc_dirfd, "the images directory"))
		goto fail;
	if (t->svc_tty >= 0) {
		int tty = isatty(0) ? 0 : isatty(1) ? 1 : isatty(2) ? 2 : -1;
		if (tty < 0) {
			child_fail(t, ENOTTY, "--shell-job: cryo runs without a terminal to give");
			goto fail;
		}
		if (place_fd(t, dup(tty), t->svc_tty, "the terminal"))
			goto fail;
	}
	if (syscall(SYS_close_range, 0, t->svc_base - 1, 0) < 0) {
		child_fail(t, errno, "cannot close cryo's descriptors");
		goto fail;
	}
	/* the page cryo's remote calls run from: `syscall; int3` at its start */
	uint8_t *area = mmap((void *)t->area, REMOTE_AREA_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (area != (uint8_t *)t->area) {
		child_fail(t, errno, "cannot map the remote-call area at %#lx", t->area);
		goto fail;
	}
	area[0] = 0x0f, area[1] = 0x05, area[2] = 0xcc;
	if (child_session(ctx, t) || restore_files_child(ctx, t) || restore_fs_child(ctx, t) ||
	    restore_task_attrs_child(ctx, t))
		goto fail;
	raise(SIGSTOP); /* cryo takes over from here and never lets this return */
	child_fail(t, EINVAL, "resumed without being restored");
fail:
	_exit(1);
}

static bool pid_is_dying(pid_t pid)
{
	struct proc_stat st;
	if (proc_parse_stat(pid, 0, &st))
		return true; /* already gone */
	return st.state == 'Z' || st.state == 'X';
}

static int create_task(struct restore_ctx *ctx, struct restore_task *t)
{
	uint64_t tid = t->pid;
	struct cryo_clone_args args = { .exit_signal = SIGCHLD, .set_tid = (uint64_t)&tid,
					.set_tid_size = 1 };
	uint64_t deadline = now_ns() + 10000000000ull;
	bool told = false;
	long pid;

	if (pipe2(t->go_pipe, O_CLOEXEC) < 0)
		return -errno;
	for (;;) {
		pid = sys_clone3(&args);
		if (pid >= 0 || errno != EEXIST)
			break;
		/* a process just killed by a dump may still be a zombie for a moment */
		if (!pid_is_dying(t->pid) || now_ns() > deadline) {
			struct proc_stat st;
			const char *comm = proc_parse_stat(t->pid, 0, &st) ? "?" : st.comm;
			pr_err("cannot restore process %d: that PID is taken by a running process (%s)",
			       t->pid, comm);
			close(t->go_pipe[0]);
			close(t->go_pipe[1]);
			return -EEXIST;
		}
		if (!told)
			pr_info("pid %d is still a zombie of the dumped process: waiting", t->pid);
		told = true;
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
	if (pid < 0) {
		int err = errno;
		pr_errno(err, "cannot create process %d (clone3 with set_tid)", t->pid);
		close(t->go_pipe[0]);
		close(t->go_pipe[1]);
		return -err;
	}
	if (pid == 0)
		child_main(ctx, t);
	t->created = true;
	close(t->go_pipe[0]);
	return 0;
}

/* Take the new task under control once it finished its child phase. */
static int take_over(struct restore_ctx *ctx, struct restore_task *t)
{
	int sig, event, ret;
	unsigned long opts = PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP;

	if (ptrace(PTRACE_SEIZE, t->pid, 0, opts) < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot take control of new process %d", t->pid);
		close(t->go_pipe[1]);
		return ret;
	}
	if (write(t->go_pipe[1], "g", 1) != 1) {
		ret = -errno;
		close(t->go_pipe[1]);
		return ret;
	}
	close(t->go_pipe[1]);
	ret = wait_stopped(t->pid, &sig, &event);
	if (ret == -ESRCH || (!ret && sig != SIGSTOP)) {
		if (t->report->err)
			pr_errno(t->report->err, "process %d: %s", t->pid, t->report->msg);
		else if (!ret)
			pr_err("process %d stopped by signal %d while rebuilding itself", t->pid, sig);
		return ret ? ret : -EINVAL;
	}
	if (ret)
		return ret;
	ret = remote_init(&t->rem, t->pid);
	if (ret)
		return ret;
	remote_use_area(&t->rem, t->area, REMOTE_AREA_SIZE);
	return 0;
}

static int close_service_fds(struct restore_task *t)
{
	long rv = rsys3(&t->rem, __NR_close_range, t->svc_base, ~0u, 0);
	if (rv < 0) {
		pr_errno((int)-rv, "task %d: cannot close cryo's descriptors", t->pid);
		return (int)rv;
	}
	return 0;
}

static int finish(struct restore_ctx *ctx, struct restore_task *t)
{
	int ret;

	/* the area's last call cannot return into it: stop at the syscall's exit instead */
	t->rem.area_ours = true;
	ret = remote_unmap_area(&t->rem);
	if (ret)
		return ret;
	ret = restore_regs(ctx, t);
	if (ret)
		return ret;
	if (ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(uint64_t), &t->thread->blocked) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot set its signal mask", t->pid);
		return ret;
	}
	return 0;
}

static int rebuild(struct restore_ctx *ctx, struct restore_task *t)
{
	int ret;
	uint64_t all = ~0ull;

	if (ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(all), &all) < 0)
		return -errno;
	if ((ret = restore_mm_remote(ctx, t)) || (ret = restore_pages_remote(ctx, t)) ||
	    (ret = restore_mm_fields_remote(ctx, t)) || (ret = close_service_fds(t)) ||
	    (ret = restore_rlimits_remote(ctx, t)) ||
	    (ret = restore_task_attrs_outside(ctx, t)) || (ret = restore_signals_remote(ctx, t)) ||
	    (ret = restore_thread_attrs_remote(ctx, t)) || (ret = restore_seccomp_remote(ctx, t)) ||
	    (ret = restore_creds_remote(ctx, t)) || (ret = restore_task_attrs_remote(ctx, t)) ||
	    (ret = restore_timers_remote(ctx, t)) ||
	    (ret = restore_pending_signals_remote(ctx, t)))
		return ret;
	if (t->rem.err)
		return t->rem.err;
	return finish(ctx, t);
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

#define IMG_MSG(m) ((m) ? &(m)->base : NULL)

static void cleanup(struct restore_ctx *ctx, struct restore_task *t)
{
	if (t->pages_fd_local > 0)
		close(t->pages_fd_local);
	if (t->report)
		munmap(t->report, sizeof(*t->report));
	free(t->svc);
	free(t->vma_svc);
	img_free(IMG_MSG(t->core));
	img_free(IMG_MSG(t->mm));
	img_free(IMG_MSG(t->pagemap));
	img_free(IMG_MSG(t->files));
	img_free(IMG_MSG(ctx->pstree));
	img_free(IMG_MSG(ctx->inv));
	if (ctx->dirfd >= 0)
		close(ctx->dirfd);
}

int cryo_restore(const struct cryo_restore_opts *opts, int *status)
{
	struct restore_ctx ctx = { .opts = opts };
	struct restore_task *t = &ctx.task;
	uint64_t t0 = now_ns();
	int ret;

	t->pages_fd_local = -1;
	ctx.dirfd = open(opts->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx.dirfd < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot open images directory %s", opts->images_dir);
		return ret;
	}
	ret = read_images(&ctx, t);
	if (!ret)
		ret = plan(&ctx, t);
	if (!ret)
		ret = create_task(&ctx, t);
	if (!ret)
		ret = take_over(&ctx, t);
	if (!ret)
		ret = rebuild(&ctx, t);
	if (!ret && opts->pidfile)
		ret = write_pidfile(opts->pidfile, t->pid);
	if (ret) {
		if (t->created) {
			kill(t->pid, SIGKILL);
			while (waitpid(t->pid, NULL, __WALL) < 0 && errno == EINTR)
				;
		}
		pr_err("restore of process %d failed; nothing was left behind", t->pid);
	} else {
		if (ptrace(PTRACE_DETACH, t->pid, 0, t->rem.park_sig) < 0) {
			ret = -errno;
			pr_errno(-ret, "cannot release restored process %d", t->pid);
			kill(t->pid, SIGKILL);
		} else {
			pr_info("process %d restored in %.3f ms", t->pid, (now_ns() - t0) / 1e6);
		}
	}
	cleanup(&ctx, t);
	if (!ret && !opts->detach) {
		int st = 0;
		while (waitpid(t->pid, &st, 0) < 0 && errno == EINTR)
			;
		if (status)
			*status = st;
	}
	return ret;
}
