/* The lazy-pages daemon's guard (lazy.h). Why a process of its own: when the last descriptor
 * of a userfaultfd closes, the kernel unregisters its ranges and a missing page then reads as
 * a zero page, silently. A daemon killed with SIGKILL cannot prevent that itself; the guard,
 * holding a copy of each descriptor, keeps the pages missing (the task's faults wait) and
 * kills the tasks whose memory was not complete, saying so in the log. The guard is small on
 * purpose: it only receives, holds, and on the daemon's end without a "finished", kills. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "pages/lazy.h"

enum { G_ADD = 1, G_DROP, G_FINISH, G_HOLD };

struct guard_msg {
	uint32_t op;
	uint32_t id;
	int32_t pid, parent;
	uint32_t has_pidfd;
};

struct held {
	uint32_t id;
	int uffd, pidfd;
	pid_t pid, parent;
};

/* A task's children that are not restored tasks the guard knows: made after the restore. */
static void kill_new_children(pid_t parent, const struct held *h, size_t n)
{
	char path[320], buf[4096];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/task", parent);
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", parent, e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = 0;
		for (char *p = buf, *end; *p; p = end) {
			long c = strtol(p, &end, 10);
			if (end == p)
				break;
			bool known = false;
			for (size_t i = 0; i < n; i++)
				known |= h[i].pid == c;
			if (c > 0 && !known) {
				pr_err(
				    "lazy-pages guard: killing process %ld, forked by %d while its "
				    "memory was incomplete",
				    c, parent);
				kill((pid_t)c, SIGKILL);
			}
		}
	}
	closedir(d);
}

static void __attribute__((noreturn)) guard_main(int fd)
{
	struct held *h = NULL;
	size_t n = 0;
	bool finished = false;

	prctl(PR_SET_NAME, "cryo-lazy-guard", 0, 0, 0);
	for (;;) {
		struct guard_msg m;
		char cbuf[CMSG_SPACE(2 * sizeof(int))];
		struct iovec iov = {&m, sizeof(m)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		ssize_t r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		int fds[2] = {-1, -1};
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fds, CMSG_DATA(c), c->cmsg_len - CMSG_LEN(0));
		if (r != sizeof(m))
			continue;
		if (m.op == G_FINISH) {
			finished = true;
			break;
		}
		if (m.op == G_ADD && fds[0] >= 0) {
			struct held *nh = realloc(h, (n + 1) * sizeof(*h));
			if (!nh) {
				/* cannot hold it: the task is not protected, say so */
				pr_err("lazy-pages guard: out of memory, task %d unguarded", m.pid);
				close(fds[0]);
				if (fds[1] >= 0)
					close(fds[1]);
				continue;
			}
			h = nh;
			h[n++] =
			    (struct held){m.id, fds[0], m.has_pidfd ? fds[1] : -1, m.pid, m.parent};
		} else if (m.op == G_HOLD && fds[0] >= 0) {
			/* a task whose memory is complete, whose source has not ended yet */
			struct held *nh = realloc(h, (n + 1) * sizeof(*h));
			if (!nh) {
				pr_err("lazy-pages guard: out of memory, task %d unguarded", m.pid);
				close(fds[0]);
				continue;
			}
			h = nh;
			h[n++] = (struct held){m.id, -1, fds[0], m.pid, m.parent};
		} else if (m.op == G_DROP) {
			for (size_t i = 0; i < n; i++)
				if (h[i].id == m.id) {
					if (h[i].uffd >= 0)
						close(h[i].uffd);
					if (h[i].pidfd >= 0)
						close(h[i].pidfd);
					h[i] = h[--n];
					break;
				}
		}
	}
	if (!finished) {
		if (n)
			pr_err("lazy-pages guard: the daemon ended with the memory of %zu address "
			       "space(s) incomplete: killing their processes",
			       n);
		for (size_t i = 0; i < n; i++) {
			if (h[i].pidfd >= 0) {
				pr_err("lazy-pages guard: killing task %d, %s", h[i].pid,
				       h[i].uffd >= 0 ? "its memory incomplete"
						      : "whose dumped tree may run on");
				sys_pidfd_send_signal(h[i].pidfd, SIGKILL);
			} else if (h[i].parent > 0) {
				kill_new_children(h[i].parent, h, n);
			}
		}
	}
	_exit(finished || !n ? 0 : 1);
}

int lazy_guard_start(struct lazy_guard *g, const int *drop, int n)
{
	int sp[2];

	g->fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		pr_errno(errno, "lazy-pages: cannot make the guard's socket");
		return -errno;
	}
	g->pid = fork();
	if (g->pid < 0) {
		int err = errno;
		pr_errno(err, "lazy-pages: cannot start the guard");
		close(sp[0]);
		close(sp[1]);
		return -err;
	}
	if (g->pid == 0) {
		close(sp[0]);
		for (int i = 0; i < n; i++)
			if (drop[i] >= 0)
				close(drop[i]);
		/* the daemon's signals (a terminal's ^C) are not the guard's */
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		guard_main(sp[1]);
	}
	close(sp[1]);
	g->fd = sp[0];
	return 0;
}

static int guard_send(struct lazy_guard *g, struct guard_msg *m, const int *fds, int nr)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))] = {0};
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (g->fd < 0)
		return 0;
	if (nr) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nr * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nr * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nr * sizeof(int));
	}
	while (sendmsg(g->fd, &mh, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		pr_errno(errno, "lazy-pages: cannot reach the guard");
		return -errno;
	}
	return 0;
}

int lazy_guard_add(struct lazy_guard *g, uint32_t id, int uffd, int pidfd, pid_t pid, pid_t parent)
{
	struct guard_msg m = {G_ADD, id, pid, parent, pidfd >= 0};
	int fds[2] = {uffd, pidfd};
	return guard_send(g, &m, fds, pidfd >= 0 ? 2 : 1);
}

int lazy_guard_hold(struct lazy_guard *g, uint32_t id, int pidfd, pid_t pid)
{
	struct guard_msg m = {G_HOLD, id, pid, 0, 1};
	return guard_send(g, &m, &pidfd, 1);
}

int lazy_guard_drop(struct lazy_guard *g, uint32_t id)
{
	struct guard_msg m = {G_DROP, id, 0, 0, 0};
	return guard_send(g, &m, NULL, 0);
}

void lazy_guard_finish(struct lazy_guard *g)
{
	struct guard_msg m = {G_FINISH, 0, 0, 0, 0};
	if (g->fd < 0)
		return;
	guard_send(g, &m, NULL, 0);
	close(g->fd);
	g->fd = -1;
	while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
		;
}
