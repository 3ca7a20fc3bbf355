/* The restore's side of a lazy restore: see res/lazy.h and pages/lazy_server.c. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/safeopen.h"
#include "core/util.h"
#include "pages/lazy_remote.h"
#include "res/lazy.h"
#include "res/mm.h"
#include "res/parent.h"

int lazy_connect(struct restore_ctx *ctx)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct uffdio_api api = {.api = UFFD_API, .features = LAZY_UFFD_FEATURES};
	struct stat st;
	int path_fd, fd, ret;

	/* cryo's own userfaultfd, to learn what the kernel offers before a task is made */
	fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);
	if (fd < 0 || ioctl(fd, UFFDIO_API, &api) < 0) {
		ret = -errno;
		pr_errno(-ret, "--lazy-pages: this kernel's userfaultfd lacks the fork, remap and "
			       "remove events a lazy restore needs");
		if (fd >= 0)
			close(fd);
		return ret;
	}
	close(fd);
	/* the socket itself, never a link in its place: opened beneath the directory, then
	 * reached through its descriptor */
	path_fd = dir_open(ctx->dirfd, LAZY_SOCKET, O_PATH | O_NOFOLLOW);
	if (path_fd < 0 || fstat(path_fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		ret = path_fd < 0 ? path_fd : -ENOTSOCK;
		pr_errno(-ret,
			 "--lazy-pages: no lazy-pages daemon listens in %s (%s: start `cryo "
			 "lazy-pages -D %s` first)",
			 ctx->opts->images_dir, LAZY_SOCKET, ctx->opts->images_dir);
		if (path_fd >= 0)
			close(path_fd);
		return ret;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", path_fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		pr_errno(-ret, "--lazy-pages: cannot reach the lazy-pages daemon of %s",
			 ctx->opts->images_dir);
		if (fd >= 0)
			close(fd);
		close(path_fd);
		return ret;
	}
	close(path_fd);
	ctx->lazy_fd = fd;
	pr_info("--lazy-pages: connected to the lazy-pages daemon");
	return 0;
}

static int recv_ack(struct restore_ctx *ctx, const char *what)
{
	struct lazy_ack a;
	ssize_t n = read_all(ctx->lazy_fd, &a, sizeof(a));
	if (n != sizeof(a)) {
		pr_err("--lazy-pages: the lazy-pages daemon went away (%s)", what);
		return -EPIPE;
	}
	if (a.status) {
		int err = a.status < 0 ? -a.status : a.status;
		pr_errno(err, "--lazy-pages: the lazy-pages daemon refused %s", what);
		return -err;
	}
	return 0;
}

int lazy_send_task(struct restore_ctx *ctx, struct restore_task *t, int uffd,
		   const struct lazy_range *ranges, uint32_t nr_ranges, const struct lazy_run *runs,
		   uint32_t nr_runs)
{
	char cbuf[CMSG_SPACE((1 + LAZY_IMAGES_MAX) * sizeof(int))] = {0};
	int fds[1 + LAZY_IMAGES_MAX] = {uffd, t->pages_fd_local}, nfds = 2, ret;
	struct lazy_run *level_runs = NULL;
	char what[64];

	/* a chain of parents not merged: each run as its own level has it, every level's image
	 * sent (res/parent.c) */
	if (t->chain) {
		int nr_levels;
		ret =
		    parent_lazy_runs(t, runs, nr_runs, &level_runs, &nr_runs, fds + 1, &nr_levels);
		if (ret)
			return ret;
		runs = level_runs;
		nfds = 1 + nr_levels;
	}
	struct lazy_hdr h = {LAZY_TASK, (uint32_t)t->pid, nr_ranges, nr_runs};
	struct iovec iov = {&h, sizeof(h)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	snprintf(what, sizeof(what), "the memory of task %d", t->pid);
	ssize_t n;
	do
		n = sendmsg(ctx->lazy_fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != sizeof(h) || (ret = send_all(ctx->lazy_fd, ranges, nr_ranges * sizeof(*ranges))) ||
	    (ret = send_all(ctx->lazy_fd, runs, nr_runs * sizeof(*runs)))) {
		free(level_runs);
		pr_errno(EPIPE, "--lazy-pages: cannot send %s to the lazy-pages daemon", what);
		return -EPIPE;
	}
	free(level_runs);
	return recv_ack(ctx, what);
}

int lazy_remote_validate(const struct restore_ctx *ctx)
{
	const Inventory *inv = ctx->inv;

	for (size_t i = 0; i < inv->n_lazyremote_ranges; i++) {
		const LazyremoteRange *r = inv->lazyremote_ranges[i];
		const struct restore_task *t = NULL;
		for (int k = 0; k < ctx->nr_tasks && !t; k++)
			if ((uint32_t)ctx->tasks[k].pid == r->pid)
				t = &ctx->tasks[k];
		int vi = -1;
		if (t && r->start < r->end && r->end <= TASK_SIZE_MAX && !(r->start % PAGE_SIZE) &&
		    !(r->end % PAGE_SIZE))
			vi = mm_find_vma(t->mm, r->start, r->end - r->start);
		const Vma *v = vi >= 0 ? t->mm->vmas[vi] : NULL;
		/* in (pid, start) order, apart: looked up by halves (lazy_remote_at) */
		const LazyremoteRange *p = i ? inv->lazyremote_ranges[i - 1] : NULL;
		if (!v || v->start != r->start || v->end != r->end ||
		    v->kind != VMA_KIND__VMA_ANON_PRIVATE ||
		    (p && (p->pid > r->pid || (p->pid == r->pid && p->end > r->start)))) {
			pr_err("inventory.img: memory left at the source, range %zu (task %u, "
			       "%#lx-%#lx), is not one private anonymous VMA of a task of the tree",
			       i, r->pid, r->start, r->end);
			return -EINVAL;
		}
	}
	if (inv->n_lazyremote_ranges && !inv->lazyremote_source) {
		pr_err("inventory.img: memory left at a source it does not name");
		return -EINVAL;
	}
	return 0;
}

bool lazy_remote_at(const struct restore_ctx *ctx, const struct restore_task *t, uint64_t start,
		    uint64_t len)
{
	const Inventory *inv = ctx->inv;
	/* a run lies in one VMA, a range is one VMA: in it, or apart from all */
	long i = lazyremote_find(inv->lazyremote_ranges, inv->n_lazyremote_ranges, (uint32_t)t->pid,
				 start);
	return i >= 0 && start < inv->lazyremote_ranges[i]->end && len;
}

int lazy_done(struct restore_ctx *ctx)
{
	struct lazy_hdr h = {LAZY_DONE, 0, 0, 0};
	int ret;

	if (ctx->lazy_fd < 0)
		return 0;
	if ((ret = send_all(ctx->lazy_fd, &h, sizeof(h)))) {
		pr_errno(-ret, "--lazy-pages: cannot tell the lazy-pages daemon the tree runs");
		return ret;
	}
	return recv_ack(ctx, "the end of the restore");
}

void lazy_close(struct restore_ctx *ctx)
{
	if (ctx->lazy_fd >= 0)
		close(ctx->lazy_fd);
	ctx->lazy_fd = -1;
}
