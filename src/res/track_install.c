/* A pre-dump's tracking handed to the task once its images are complete, with the level's
 * token; or taken away again when the pre-dump fails (res/track.c says what they are).
 *
 * The token: a pre-dump that follows another goes on with the same userfaultfd (its clean
 * pages stay protected), so the userfaultfd's number and inode no longer tell one level of
 * the chain from the next. Each level puts a token of its own beside it, an empty memfd made
 * by cryo (a new inode every time), and its pagemap names both. A dump whose parent is an
 * older level (whose token is gone: closed by the level after it, when that one began) finds
 * the tracking not to be that level's, and saves the memory whole: the tracking would show
 * clean the pages a later level protected again after they were written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/util.h"
#include "res/track.h"
#include "res/track_lend.h"

#define TRACK_FD_CAP 1024

/* The highest free descriptor number below min(RLIMIT_NOFILE, TRACK_FD_CAP), not `but`. */
static int pick_fd(struct dump_task *t, int but)
{
	char path[64];
	struct rlimit rl;
	int top = TRACK_FD_CAP;
	bool *used;
	struct dirent *de;
	DIR *d;

	char *lim = NULL, *line;
	/* /proc/PID/limits: prlimit() on a task of another user needs CAP_SYS_RESOURCE */
	snprintf(path, sizeof(path), "/proc/%d/limits", t->pid);
	if (read_file_alloc(path, &lim) > 0 && (line = strstr(lim, "Max open files"))) {
		unsigned long cur;
		if (sscanf(line + strlen("Max open files"), " %lu", &cur) == 1 &&
		    cur < (unsigned long)top)
			top = (int)cur;
	} else if (prlimit(t->pid, RLIMIT_NOFILE, NULL, &rl) == 0 && rl.rlim_cur < (rlim_t)top) {
		top = (int)rl.rlim_cur;
	}
	free(lim);
	if (top < 6)
		return -EMFILE;
	used = calloc(top, sizeof(*used));
	if (!used)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/fd", t->pid);
	if (!(d = opendir(path))) {
		free(used);
		return -errno;
	}
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd >= 0 && fd < top)
			used[fd] = true;
	}
	closedir(d);
	if (but >= 0 && but < top)
		used[but] = true;
	int fd = top - 1;
	while (fd > 2 && used[fd])
		fd--;
	free(used);
	return fd > 2 ? fd : -EMFILE;
}

int track_make_token(struct dump_task *t)
{
	struct stat st;
	int fd = memfd_create(TRACK_TOKEN, MFD_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;
		pr_errno(err, "task %d: cannot make the token of its tracking", t->pid);
		if (fd >= 0)
			close(fd);
		return -err;
	}
	t->token_copy = fd;
	t->has_token = true;
	t->token_ino = st.st_ino;
	return 0;
}

int track_pick_fds(struct dump_ctx *ctx)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		int ret;
		if (t->zombie || !t->has_copy || !t->has_token)
			continue;
		if ((ret = pick_fd(t, -1)) < 0 || (t->track_fd = ret, ret = pick_fd(t, ret)) < 0) {
			pr_errno(-ret, "task %d: no free descriptor number for the tracking",
				 t->pid);
			return ret;
		}
		t->token_fd = ret;
		Pagemap *pm = t->pagemap;
		pm->has_track_fd = pm->has_track_ino = true;
		pm->track_fd = t->track_fd;
		pm->track_ino = t->track_ino;
		pm->has_track_token_fd = pm->has_track_token_ino = true;
		pm->track_token_fd = t->token_fd;
		pm->track_token_ino = t->token_ino;
	}
	return 0;
}

int track_install(struct dump_ctx *ctx)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		if (t->zombie || !t->has_copy || !t->has_token || !t->seized)
			continue;
		/* the task takes cryo's descriptors itself (pidfd_getfd from its side), in one
		 * batch, which runs to its end even when cryo dies during it: the task never keeps
		 * the pidfd of cryo or a second copy (the numbers are known while it is stopped) */
		int lo[2];
		long r_pfd = -ENOSYS, r_fd = -ENOSYS, rv = -ENOSYS, r_tk = -ENOSYS, rt = -ENOSYS;
		long r_c1, r_c2, r_c3;
		int ret = track_lowest_free(t, lo);
		if (!ret && (lo[0] == t->track_fd || lo[1] == t->track_fd || lo[0] == t->token_fd ||
			     lo[1] == t->token_fd))
			ret = -EMFILE;
		struct remote_batch *b = ret ? NULL : calloc(1, sizeof(*b));
		if (!ret && !b)
			ret = -ENOMEM;
		/* a task of another user takes them from a lender of its own user */
		struct track_lender lender = {.pid = -1, .pidfd = -1};
		pid_t from = getpid();
		int from_track = t->track_copy, from_token = t->token_copy;
		uid_t uid;
		gid_t gid;
		int need = ret ? 0 : track_lend_needed(t->pid, &uid, &gid);
		if (need < 0)
			ret = need;
		if (need > 0 && !(ret = track_lend_start(&lender, t->pid, uid, gid, t->track_copy,
							 t->token_copy))) {
			from = lender.pid;
			from_track = TRACK_LEND_FD_A;
			from_token = TRACK_LEND_FD_B;
			pr_debug(
			    "task %d: its tracking descriptors lent by process %d (uid %u, gid %u)",
			    t->pid, lender.pid, (unsigned)uid, (unsigned)gid);
		}
		if (!ret) {
			batch_ask(b, &r_pfd, SYS_pidfd_open, from, 0, 0, 0, 0, 0);
			batch_ask(b, &r_fd, SYS_pidfd_getfd, lo[0], from_track, 0, 0, 0, 0);
			batch_ask(b, &rv, __NR_dup3, lo[1], t->track_fd, O_CLOEXEC, 0, 0, 0);
			batch_ask(b, &r_c1, __NR_close, lo[1], 0, 0, 0, 0, 0);
			batch_ask(b, &r_tk, SYS_pidfd_getfd, lo[0], from_token, 0, 0, 0, 0);
			batch_ask(b, &rt, __NR_dup3, lo[1], t->token_fd, O_CLOEXEC, 0, 0, 0);
			batch_ask(b, &r_c2, __NR_close, lo[1], 0, 0, 0, 0, 0);
			batch_ask(b, &r_c3, __NR_close, lo[0], 0, 0, 0, 0, 0);
			ret = remote_batch_run(&t->rem, b);
			free(b);
			b = NULL;
			pr_debug(
			    "task %d: pidfd %ld, copies %ld %ld (expected %d, %d), dup3 %ld %ld",
			    t->pid, r_pfd, r_fd, r_tk, lo[0], lo[1], rv, rt);
		}
		free(b);
		track_lend_end(&lender);
		/* in place, whatever else went wrong: a failure takes them away again
		 * (track_abort; closing a number the batch left free does nothing) */
		if (!ret && (rv == t->track_fd || rt == t->token_fd))
			t->track_armed = true;
		if (!ret && (r_pfd != lo[0] || r_fd != lo[1] || rv != t->track_fd ||
			     r_tk != lo[1] || rt != t->token_fd))
			ret = r_pfd < 0	 ? (int)r_pfd
			      : r_fd < 0 ? (int)r_fd
			      : rv < 0	 ? (int)rv
			      : r_tk < 0 ? (int)r_tk
			      : rt < 0	 ? (int)rt
					 : -EIO;
		if (ret) {
			pr_errno(-ret, "task %d: cannot take its tracking descriptors from cryo",
				 t->pid);
			return ret;
		}
		t->track_armed = true;
		close(t->track_copy);
		close(t->token_copy);
		t->has_copy = t->has_token = false;
		pr_info("task %d: its writes are tracked (fd %d, token at fd %d)", t->pid,
			t->track_fd, t->token_fd);
	}
	return 0;
}

void track_abort(struct dump_ctx *ctx)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		if (t->has_copy)
			close(t->track_copy); /* the last descriptor: the tracking ends */
		if (t->has_token)
			close(t->token_copy);
		t->has_copy = t->has_token = false;
		if (!t->track_armed || !t->seized || !t->rem.area)
			continue;
		long rv = track_task_call(t, __NR_close, t->track_fd, 0, 0);
		long rt = track_task_call(t, __NR_close, t->token_fd, 0, 0);
		if (rv < 0 && rv != -EBADF)
			pr_errno((int)-rv, "task %d: cannot remove cryo's tracking (fd %d)", t->pid,
				 t->track_fd);
		else if (rt < 0 && rt != -EBADF)
			pr_errno((int)-rt, "task %d: cannot remove cryo's tracking token (fd %d)",
				 t->pid, t->token_fd);
		else
			pr_info("task %d: memory tracking removed", t->pid);
		t->track_armed = false;
	}
}
