/* What a restore holds of the processes it creates, and how it lets them go when it fails.
 *
 * Never harm: cryo signals a process only through a pidfd that is proved to refer to a
 * process this restore created, never by a pid read from an image or from /proc. Every id of
 * the images is checked against pid_max before anything is created.
 *
 * How cryo gets such a pidfd: the first process it creates itself, with clone3(CLONE_PIDFD).
 * Every other one is created inside the tree by its real parent (or by a session helper), so
 * cryo cannot get it from clone3. Instead the new process, before it does anything else, asks
 * for it in its slot of the shared state page (HOLD_ASKED) and waits; cryo calls
 * pidfd_open(pid), answers HOLD_OPENED, and the process confirms (HOLD_CONFIRMED). The process
 * was alive when it asked and when it confirmed, so it held its pid all the time between, in
 * particular when cryo opened it: the pidfd is that process, and no other could have written
 * its slot (a page only the tasks of this restore map). Only a confirmed pidfd is ever used.
 *
 * Dying with cryo: until cryo holds a task under ptrace (PTRACE_O_EXITKILL then kills it with
 * cryo), every new process watches cryo. PR_SET_PDEATHSIG is not enough: it fires on the
 * death of the parent *thread*, which for most tasks is another new task, and children of a
 * session helper outlive the helper on purpose. So every wait of the child phase is a poll on
 * a pidfd of cryo itself, inherited by every task at a fixed service fd (svc_cryo): it becomes
 * readable the moment cryo exits, however cryo ends (SIGKILL included), needs no cooperation
 * from the parent, and unlike a pipe there is no write end that a task could inherit and keep
 * the watch from firing. PR_SET_PDEATHSIG(SIGKILL) stays as well, for a parent that fails
 * inside the tree. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"

/* ---- ids of the images ---- */

static int read_pid_max(pid_t *out)
{
	char buf[32];
	int fd = open("/proc/sys/kernel/pid_max", O_RDONLY | O_CLOEXEC), ret;
	ssize_t n = fd < 0 ? -1 : read_all(fd, buf, sizeof(buf) - 1);
	ret = -errno;
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		pr_errno(n < 0 ? -ret : EINVAL, "cannot read /proc/sys/kernel/pid_max");
		return n < 0 ? ret : -EINVAL;
	}
	buf[n] = 0;
	long v = strtol(buf, NULL, 10);
	if (v < 2 || v > (1l << 30)) {
		pr_err("/proc/sys/kernel/pid_max says %ld", v);
		return -EINVAL;
	}
	*out = (pid_t)v;
	return 0;
}

/* A pid, tid, session or group id: 1 .. pid_max - 1, the kernel's range. */
static bool id_ok(struct restore_ctx *ctx, uint32_t v)
{
	return v >= 1 && v < (uint32_t)ctx->pid_max;
}

static int bad_id(struct restore_ctx *ctx, const char *img, size_t task, const char *field,
		  uint32_t v)
{
	pr_err("%s: task %zu: %s %u is out of range (1 to %d, the pid_max of this system)", img,
	       task, field, v, ctx->pid_max - 1);
	return -EINVAL;
}

/* A session or group id of 0: its leader was outside the dumping cryo's pid namespace. Only
 * the job's own (the root's) can be so, and only a shell job is restored into one (it then
 * joins the restoring cryo's session and group). */
static bool outside_id_ok(struct restore_ctx *ctx, uint32_t v, uint32_t root_v)
{
	return v == 0 && root_v == 0 && ctx->opts->shell_job;
}

/* Every id of inventory.img and pstree.img, before any of them is used. */
int restore_check_ids(struct restore_ctx *ctx)
{
	int ret = read_pid_max(&ctx->pid_max);
	if (ret)
		return ret;
	if (!id_ok(ctx, ctx->inv->root_pid)) {
		pr_err("inventory.img: root_pid %u is out of range (1 to %d)", ctx->inv->root_pid,
		       ctx->pid_max - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < ctx->pstree->n_tasks; i++) {
		PstreeTask *p = ctx->pstree->tasks[i];
		if (!id_ok(ctx, p->pid))
			return bad_id(ctx, "pstree.img", i, "pid", p->pid);
		if (!id_ok(ctx, p->ppid))
			return bad_id(ctx, "pstree.img", i, "ppid", p->ppid);
		PstreeTask *root = ctx->pstree->tasks[0];
		if (!id_ok(ctx, p->pgid) && !outside_id_ok(ctx, p->pgid, root->pgid))
			return bad_id(ctx, "pstree.img", i, "pgid", p->pgid);
		if (!id_ok(ctx, p->sid) && !outside_id_ok(ctx, p->sid, root->sid))
			return bad_id(ctx, "pstree.img", i, "sid", p->sid);
		if (p->has_parent_tid && !id_ok(ctx, p->parent_tid))
			return bad_id(ctx, "pstree.img", i, "parent_tid", p->parent_tid);
		for (size_t k = 0; k < p->n_threads; k++)
			if (!id_ok(ctx, p->threads[k]))
				return bad_id(ctx, "pstree.img", i, "thread id", p->threads[k]);
	}
	return 0;
}

/* ---- cryo's side ---- */

static int nr_slots(struct restore_ctx *ctx)
{
	return ctx->nr_tasks + ctx->nr_helpers;
}

static pid_t slot_pid(struct restore_ctx *ctx, int slot)
{
	return slot < ctx->nr_tasks ? ctx->tasks[slot].pid : ctx->helpers[slot - ctx->nr_tasks].sid;
}

/* The held process has exited (or the pidfd is no use). */
static bool pidfd_ended(int pidfd, int timeout_ms)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	return poll(&p, 1, timeout_ms) != 0;
}

/* As soon as its number is chosen (a free one in cryo, the next it opens could take it): a
 * pidfd of cryo at svc_cryo, which every new task inherits and watches. */
int restore_hold_self(struct restore_ctx *ctx, int at)
{
	int self = sys_pidfd_open(getpid()), ret;

	if (self < 0 || dup3(self, at, O_CLOEXEC) < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot make a pidfd of cryo for the new tasks to watch");
		if (self >= 0)
			close(self);
		return ret;
	}
	close(self);
	ctx->svc_cryo = at;
	return 0;
}

/* After the states page exists, before anything is created. */
int restore_hold_init(struct restore_ctx *ctx)
{
	int n = nr_slots(ctx);

	ctx->pidfds = malloc(n * sizeof(*ctx->pidfds));
	ctx->confirmed = calloc(n, sizeof(*ctx->confirmed));
	if (!ctx->pidfds || !ctx->confirmed)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		ctx->pidfds[i] = -1;
	return 0;
}

/* Answer the new processes that ask to be held; note the ones that confirmed. */
int restore_hold_poll(struct restore_ctx *ctx)
{
	for (int i = 0; i < nr_slots(ctx); i++) {
		struct task_state *st = &ctx->states[i];
		uint32_t h = __atomic_load_n(&st->hold, __ATOMIC_ACQUIRE);
		if (h == HOLD_ASKED) {
			if (ctx->pidfds[i] < 0) {
				int fd = sys_pidfd_open(slot_pid(ctx, i));
				if (fd < 0) {
					int err = errno;
					pr_errno(err,
						 "new process %d is gone before cryo could hold it",
						 slot_pid(ctx, i));
					return -err;
				}
				ctx->pidfds[i] = fd;
			}
			__atomic_store_n(&st->hold, HOLD_OPENED, __ATOMIC_RELEASE);
			syscall(SYS_futex, &st->hold, FUTEX_WAKE, 1, NULL, NULL, 0);
		} else if (h == HOLD_CONFIRMED && ctx->pidfds[i] >= 0) {
			ctx->confirmed[i] = true;
		}
	}
	return 0;
}

bool restore_holds(struct restore_ctx *ctx, int slot)
{
	return ctx->pidfds && ctx->pidfds[slot] >= 0 && ctx->confirmed[slot];
}

/* Held and still running: a pid it held then is still its own. */
bool restore_slot_alive(struct restore_ctx *ctx, int slot)
{
	return restore_holds(ctx, slot) && !pidfd_ended(ctx->pidfds[slot], 0);
}

/* The failure path: kill what this restore created and still holds, through its pidfds, and
 * wait until it is gone. A process that asked to be held and was not answered yet is answered
 * first; one that does not confirm in time is not signalled (it dies by itself: it watches
 * cryo, and cryo is about to exit). */
void restore_kill_created(struct restore_ctx *ctx)
{
	int n;
	if (!ctx->states || !ctx->pidfds)
		return;
	n = nr_slots(ctx);
	uint64_t deadline = now_ns() + 1000000000ull;
	for (;;) {
		bool pending = false;
		restore_hold_poll(ctx);
		for (int i = 0; i < n; i++)
			if (ctx->pidfds[i] >= 0 && !ctx->confirmed[i] &&
			    !pidfd_ended(ctx->pidfds[i], 0))
				pending = true;
		if (!pending || now_ns() > deadline)
			break;
		struct timespec pause = {0, 100000};
		nanosleep(&pause, NULL);
	}
	for (int i = 0; i < n; i++)
		if (restore_holds(ctx, i) && sys_pidfd_send_signal(ctx->pidfds[i], SIGKILL) < 0 &&
		    errno != ESRCH)
			pr_errno(errno, "cannot kill new process %d", slot_pid(ctx, i));
	/* a traced task's end goes to its tracer first, cryo's own children are reaped */
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		for (int k = t->nr_threads - 1; k > 0; k--)
			if (t->threads[k].seized)
				while (waitpid(t->threads[k].tid, NULL, __WALL) < 0 &&
				       errno == EINTR)
					;
		bool own_child = i == 0 && !t->helper && !ctx->opts->sibling;
		if (t->seized || (own_child && restore_holds(ctx, i)))
			while (waitpid(t->pid, NULL, __WALL) < 0 && errno == EINTR)
				;
	}
	for (int h = 0; h < ctx->nr_helpers; h++)
		if (ctx->helpers[h].parent < 0 && !ctx->opts->sibling &&
		    restore_holds(ctx, ctx->nr_tasks + h))
			while (waitpid(ctx->helpers[h].sid, NULL, __WALL) < 0 && errno == EINTR)
				;
	/* the others are reaped by their parents or a subreaper: wait until they have ended */
	uint64_t until = now_ns() + 3000000000ull;
	for (int i = 0; i < n; i++) {
		int64_t left = (int64_t)(until - now_ns()) / 1000000;
		if (restore_holds(ctx, i) && !pidfd_ended(ctx->pidfds[i], left > 0 ? (int)left : 0))
			pr_warn("new process %d has not ended yet", slot_pid(ctx, i));
	}
}

void restore_hold_free(struct restore_ctx *ctx)
{
	for (int i = 0; ctx->pidfds && i < nr_slots(ctx); i++)
		if (ctx->pidfds[i] >= 0)
			close(ctx->pidfds[i]);
	free(ctx->pidfds);
	free(ctx->confirmed);
	ctx->pidfds = NULL;
	ctx->confirmed = NULL;
	if (ctx->svc_cryo >= 0)
		close(ctx->svc_cryo);
	ctx->svc_cryo = -1;
}

/* ---- inside the new processes ---- */

/* cryo has exited: leave now (exit_group), before anything more is done. */
static void check_cryo(struct restore_ctx *ctx, int ready)
{
	if (ready != 0)
		_exit(1);
}

/* Sleep up to ns, or less if cryo exits; in cryo itself (its own pidfd) a plain sleep. */
void child_pause(struct restore_ctx *ctx, long ns)
{
	struct pollfd p = {.fd = ctx->svc_cryo, .events = POLLIN};
	struct timespec ts = {ns / 1000000000, ns % 1000000000};
	int r = ppoll(&p, 1, &ts, NULL);
	check_cryo(ctx, r < 0 && errno == EINTR ? 0 : r);
}

/* A futex wait that notices cryo's end within 10 ms. */
void child_futex_wait(struct restore_ctx *ctx, uint32_t *word, uint32_t val)
{
	struct timespec ts = {0, 10000000};
	struct pollfd p = {.fd = ctx->svc_cryo, .events = POLLIN};
	syscall(SYS_futex, word, FUTEX_WAIT, val, &ts, NULL, 0);
	check_cryo(ctx, poll(&p, 1, 0));
}

/* The first thing a new process does: die with its parent (unless the parent leaves on
 * purpose: a session helper), and be held by cryo (see the top of this file). */
void child_hold_handshake(struct restore_ctx *ctx, int slot, pid_t parent, bool pdeath)
{
	struct task_state *st = &ctx->states[slot];
	uint32_t h;

	if (pdeath) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent) /* the parent went before the line above */
			_exit(1);
	}
	__atomic_store_n(&st->hold, HOLD_ASKED, __ATOMIC_RELEASE);
	while ((h = __atomic_load_n(&st->hold, __ATOMIC_ACQUIRE)) != HOLD_OPENED)
		child_futex_wait(ctx, &st->hold, h);
	__atomic_store_n(&st->hold, HOLD_CONFIRMED, __ATOMIC_RELEASE);
}
