/* A one-shot epoll registration that fired is disarmed: the kernel keeps only its flag bits
 * (EPOLLONESHOT, EPOLLET...; not even EPOLLERR|EPOLLHUP, which every add and modify puts
 * in). No call sets such a mask; the kernel makes it by reporting the registration. So it is
 * added with every poll bit, reported by one epoll_wait (before anything else is added) and
 * so disarmed as it was. That needs its file to be ready for something at restore, which
 * the dump checks (a copy of the fd, polled). An empty pipe or FIFO is made ready for that
 * moment with one byte through its write end, taken back after; a fired one-shot
 * registration on any other file that is not ready is refused.
 *
 * Apart from epoll.c since it is a machinery of its own, on both sides: what the dump checks
 * of the registered file, and the poke, epoll_wait and taking back at restore. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "core/util.h"
#include "files/epoll.h"

/* Why the file at fd of the task will not be ready for anything when its epoll is filled
 * (polled now through a copy), or NULL if it will be. A signalfd is ready by the signals of
 * whoever polls it, and a restored task gets its pending signals in the remote phase; a
 * timerfd is armed, and its expirations put back, in the remote phase. */
static const char *not_ready(pid_t pid, int fd)
{
	char path[64], link[64];
	ssize_t n;
	int pidfd, copy = -1;
	bool ready = false;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return "a file that is gone";
	link[n] = 0;
	if (!strcmp(link, "anon_inode:[signalfd]"))
		return "a signalfd, ready only once the task has its signals again, after the "
		       "epolls are filled";
	if (!strcmp(link, "anon_inode:[timerfd]"))
		return "a timerfd, ready only once it is armed again, after the epolls are filled";
	pidfd = sys_pidfd_open(pid);
	if (pidfd >= 0)
		copy = sys_pidfd_getfd(pidfd, fd);
	if (copy >= 0) {
		struct pollfd p = {.fd = copy, .events = EP_POLL_BITS & 0xffff};
		ready = poll(&p, 1, 0) == 1 && p.revents && !(p.revents & POLLNVAL);
		close(copy);
	}
	if (pidfd >= 0)
		close(pidfd);
	return ready ? NULL : "a file that is not ready now";
}

/* A read end of a pipe or FIFO (not ready: empty, with writers): the restore can make it
 * ready for a moment with one byte through the pipe's write end, and take the byte back. */
static bool pokable(pid_t pid, int fd)
{
	char path[64], info[256], *flags;
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (stat(path, &st) < 0 || !S_ISFIFO(st.st_mode))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if (read_file_at(-1, path, info, sizeof(info)) < 0 || !(flags = strstr(info, "flags:")))
		return false;
	return (strtoul(flags + 6, NULL, 8) & O_ACCMODE) != O_WRONLY;
}

const char *epoll_oneshot_unfireable(pid_t pid, int fd)
{
	const char *why = not_ready(pid, fd);
	return why && !pokable(pid, fd) ? why : NULL;
}

/* A fired one-shot registration on an empty pipe: one byte written through the pipe's write
 * end makes it ready for the epoll_wait that disarms it; *poked is the read end to take the
 * byte back from (the pipe was empty: that byte is the only one). */
static int poke(struct restore_ctx *ctx, struct restore_task *t, const struct fd_index *x,
		const FdEntry *e, const EpollTarget *tg, int *poked)
{
	int si = epoll_entry_at(x, epoll_target_source(tg));
	const FdEntry *se = si >= 0 ? x->f->fds[si] : NULL;
	struct pollfd p = {.fd = epoll_target_source(tg), .events = EP_POLL_BITS & 0xffff};
	int w;

	*poked = -1;
	if (!se || (se->kind != FD_KIND__FD_PIPE && se->kind != FD_KIND__FD_FIFO) ||
	    (poll(&p, 1, 0) == 1 && p.revents))
		return 0;
	if ((w = pipe_writer_fd(ctx, se)) < 0 || write(w, "", 1) != 1) {
		child_fail(t, w < 0 ? EINVAL : errno,
			   "epoll fd %d: cannot make the pipe of target fd %d ready", e->fd,
			   tg->fd);
		return -1;
	}
	*poked = p.fd;
	return 0;
}

int epoll_oneshot_disarm(struct restore_ctx *ctx, struct restore_task *t, const struct fd_index *x,
			 const FdEntry *e)
{
	int fired = 0, *poked = calloc(e->n_epoll_targets + 1, sizeof(int)), ret = 0;

	if (!poked) {
		child_fail(t, ENOMEM, "epoll fd %d: cannot fill it", e->fd);
		return -1;
	}
	/* fired one-shot registrations first, alone in the epoll: one epoll_wait reports
	 * (and so disarms) exactly them */
	for (size_t i = 0; i < e->n_epoll_targets && !ret; i++) {
		const EpollTarget *tg = e->epoll_targets[i];
		if (!epoll_disarmed(tg->events))
			continue;
		ret = poke(ctx, t, x, e, tg, &poked[fired]);
		if (!ret)
			ret = epoll_add_one(ctx, t, e, tg, tg->events | EP_POLL_BITS);
		fired++;
	}
	if (fired && !ret) {
		struct epoll_event *ev = malloc((size_t)fired * sizeof(*ev));
		int n = ev ? epoll_wait(e->fd, ev, fired, 0) : -1;
		free(ev);
		for (int i = 0; i < fired && !ret; i++) {
			char c;
			if (poked[i] >= 0 && read(poked[i], &c, 1) != 1) {
				child_fail(t, errno,
					   "epoll fd %d: cannot take back the byte of fd %d", e->fd,
					   poked[i]);
				ret = -1;
			}
		}
		if (!ret && n != fired) {
			child_fail(
			    t, n < 0 ? errno : EAGAIN,
			    "epoll fd %d: %d of its %d one-shot registrations that had fired "
			    "could not be made to fire again (their files are not ready)",
			    e->fd, fired - (n < 0 ? 0 : n), fired);
			ret = -1;
		}
	}
	free(poked);
	return ret;
}
