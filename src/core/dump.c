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
#include "core/dump_freeze.h"
#include "pages/lazy_remote.h"
#include "pages/xfer.h"
#include "core/freezer.h"
#include "files/fd_room.h"
#include "files/files.h"
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
#include "res/mm.h"
#include "res/page_ring.h"
#include "res/predump.h"
#include "res/track.h"
#include "res/sysvipc.h"
#include "res/tracees.h"

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
		for (int k = 0; k < t->nr_threads && !t->zombie && !t->stop_signal; k++)
			if ((k ? &t->threads[k].own : &t->rem)->stop_arrived) {
				/* the stop it would have made: its parent has not seen it yet */
				t->stop_signal = SIGSTOP;
				t->stop_reported = false;
				pr_info(
				    "process %d: saved stopped (SIGSTOP arrived during the dump)",
				    t->pid);
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
	/* a thread of the tree tracing a process outside it: a link the restore cannot make
	 * (from the walk of the processes outside the tree that dump_files_finish made) */
	if (!ctx->opts->pre_dump && (ret = dump_check_tracees(ctx))) {
		if (ret != -ENOTSUP)
			return ret;
		refused = ret;
	}
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
	/* the restore's own descriptors need numbers the tree leaves free (files/fd_room.h) */
	if ((ret = fd_room_check(ctx)))
		return ret;
	/* every memfd and mapping of the tree is known now: one a process outside holds too would
	 * be cut off from it by the restore. Refused before the pages are read; the System V
	 * objects are looked at all the same, so that one run names every object shared with a
	 * process outside */
	if ((ret = memfd_scan_outside(ctx))) {
		if (ret != -ENOTSUP)
			return ret;
		int r = sysv_dump(ctx);
		return r && r != -ENOTSUP ? r : -ENOTSUP;
	}
	if ((ret = shmem_save_hidden(ctx)))
		return ret;
	/* a final dump of a chain: smaps (the VmFlags) read beside the pages (res/mm_flags.c) */
	mm_flags_start(ctx);
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
	if ((ret = mm_flags_finish(ctx)) || (ret = pages_dump_finish(ctx)) ||
	    (ret = sysv_dump(ctx)))
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
	ret = dump_freeze_task(ctx, t);
	if (ret == 1 || (!ret && t->zombie)) {
		pr_err("process %d exited during its pre-dump", t->pid);
		return -ESRCH;
	}
	if (ret)
		return ret;
	do /* until a pass finds no thread not seized yet */
		ret = dump_freeze_threads(ctx, t);
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
		dump_resume(ctx, &ctx->tasks[i]);
	ctx->frozen_before_ns = now_ns() - ctx->t_frozen;
	pr_info("pre-dump: the tree was frozen %.3f ms; its pages are read as it runs",
		ctx->frozen_before_ns / 1e6);
	for (int i = 0; i < ctx->nr_tasks && !ret; i++) {
		if ((ret = fault_point("pre-dump: before a task's pages, thawed", EIO)))
			break;
		/* found (PAGEMAP_SCAN, planned), then each range protected and read */
		if (!ctx->tasks[i].zombie && !(ret = track_thawed(&ctx->tasks[i])) &&
		    !(ret = dump_pages(ctx, &ctx->tasks[i])))
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

	sk_guard_init(&ctx.sk_guard, netlock_delete);
	netlock_init(&ctx.netlock, &ctx.sk_guard);
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
			      o.compress || !o.port)) {
		/* the pages are served from the frozen tree, which then goes like a dump's. With
		 * --track-mem --prev-images-dir only the pages written since the parent stay in
		 * the tree; the rest are the parents' at the restore side */
		pr_err("dump --lazy-pages needs --port, and goes with none of pre-dump, -R, -s, "
		       "--page-server, --compress (not supported yet)");
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
	if (!ret && o.prev_images_dir && !o.pre_dump)
		ring_prefault(&ctx);
	if (!ret)
		ret = dump_check_root(&ctx, opts->pid);
	if (!ret)
		ret = dump_add_task(&ctx, opts->pid, -1) ? 0 : -ENOMEM;
	/* --tcp-established: the network lock's table and its guard before the freeze, which
	 * then pays only for the tree's connections put in it (made then if this fails) */
	if (!ret && o.tcp_established && !o.network_unlocked && !o.pre_dump) {
		char who[48];
		snprintf(who, sizeof(who), "dump of process %d", opts->pid);
		netlock_prepare(&ctx.netlock, who);
	}
	if (!ret)
		ret = dump_freeze_tree(&ctx);
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
			dump_resume(&ctx, &ctx.tasks[i]);
	} else {
		/* the root first: its children must not see their parent go on without them */
		for (int i = 0; i < ctx.nr_tasks && !ret; i++)
			ret = dump_kill_task(&ctx, &ctx.tasks[i]);
		/* the last copies of the connections, in repair mode: they go without a packet,
		 * and the lock stays until the restore */
		inet_tcp_dump_end(&ctx, ret != 0);
	}
	ctx.t_thawed = now_ns();
	/* every socket the reads changed is as it was, the tree runs on or is gone */
	sk_guard_end(&ctx.sk_guard);
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
	others_free(&ctx);
	mm_flags_free(&ctx);
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
