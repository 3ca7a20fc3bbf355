/* The lazy-pages daemon's side of its connection with the restore (`cryo restore
 * --lazy-pages`): the listening socket beneath DIR, the one restore accepted, and each task
 * it hands over (its userfaultfd, checked to be one, its page images and the runs of pages
 * in them: lazy_proto.h), every length and range checked before it becomes a space that
 * lazy_server.c serves. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "compat.h"
#include "core/fault.h"
#include "core/log.h"
#include "core/safeopen.h"
#include "core/status_fd.h"
#include "core/util.h"
#include "img/image.h"
#include "pages/lazy.h"
#include "pages/lazy_daemon.h"
#include "pages/lazy_proto.h"
#include "pages/lazy_remote.h"
#include "pages/lazy_space.h"

/* ---- the restore's messages ---- */

/* ---- the spaces served ---- */

static int watch(struct daemon *d, struct space *s)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = s->id};
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->uffd, &ev) < 0)
		return -errno;
	return 0;
}

int lazy_add_space(struct daemon *d, struct space *s)
{
	struct space **n = realloc(d->sp, (d->nr_sp + 1) * sizeof(*n));
	int ret;
	if (!n)
		return -ENOMEM;
	d->sp = n;
	s->id = ++d->next_id;
	if ((ret = watch(d, s)))
		return ret;
	n[d->nr_sp++] = s;
	/* the guard holds a copy from now on */
	return lazy_guard_add(&d->guard, s->id, s->uffd, s->pidfd, s->pid, s->parent);
}

#define bad(fmt, ...) (pr_err("lazy-pages: the restore " fmt, ##__VA_ARGS__), -EPROTO)

static bool is_uffd(int fd)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return !strcmp(link, "anon_inode:[userfaultfd]");
}

static int recv_task(struct daemon *d, const struct lazy_hdr *h, int uffd, int *pages_fds,
		     int nr_images)
{
	struct lazy_range *ranges = NULL;
	struct lazy_run *runs = NULL;
	struct space *s = NULL;
	struct stat st[LAZY_IMAGES_MAX];
	int ret = -EPROTO;

	if (h->pid < 1 || h->pid > LAZY_PID_MAX || !h->nr_ranges ||
	    h->nr_ranges > LAZY_RANGES_MAX || h->nr_runs > LAZY_RUNS_MAX) {
		ret = bad("sent task %u with %u ranges, %u runs", h->pid, h->nr_ranges, h->nr_runs);
		goto out;
	}
	bool images_ok = nr_images >= 1 && nr_images <= LAZY_IMAGES_MAX;
	for (int k = 0; images_ok && k < nr_images; k++)
		images_ok =
		    pages_fds[k] >= 0 && fstat(pages_fds[k], &st[k]) == 0 && S_ISREG(st[k].st_mode);
	if (uffd < 0 || !is_uffd(uffd) || !images_ok) {
		ret = bad("sent task %u without its userfaultfd and page images", h->pid);
		goto out;
	}
	ranges = calloc(h->nr_ranges, sizeof(*ranges));
	runs = calloc(h->nr_runs ? h->nr_runs : 1, sizeof(*runs));
	s = calloc(1, sizeof(*s));
	if (!ranges || !runs || !s) {
		ret = -ENOMEM;
		goto out;
	}
	if (read_all(d->conn, ranges, h->nr_ranges * sizeof(*ranges)) !=
		(ssize_t)(h->nr_ranges * sizeof(*ranges)) ||
	    read_all(d->conn, runs, h->nr_runs * sizeof(*runs)) !=
		(ssize_t)(h->nr_runs * sizeof(*runs))) {
		ret = bad("went away in the middle of task %u", h->pid);
		goto out;
	}
	s->uffd = uffd;
	s->pid = h->pid;
	s->img = calloc(1, sizeof(*s->img));
	if (!s->img) {
		ret = -ENOMEM;
		goto out;
	}
	s->img->refs = 1;
	s->img->pid = (pid_t)h->pid;
	s->img->nr = nr_images;
	for (int k = 0; k < nr_images; k++) {
		if (st[k].st_size > IMG_RAW_HDR) {
			void *m = mmap(NULL, st[k].st_size, PROT_READ, MAP_SHARED, pages_fds[k], 0);
			if (m == MAP_FAILED) {
				ret = -errno;
				pr_errno(-ret, "lazy-pages: task %u: cannot map its page image %d",
					 h->pid, k);
				goto out;
			}
			s->img->map[k] = m;
			s->img->len[k] = st[k].st_size;
		}
	}
	for (int k = 0; k < nr_images; k++) {
		close(pages_fds[k]);
		pages_fds[k] = -1;
	}
	s->pidfd = sys_pidfd_open(h->pid);
	if (s->pidfd < 0) {
		ret = -errno;
		pr_errno(-ret, "lazy-pages: task %u", h->pid);
		goto out;
	}
	/* ranges: page aligned, in order, apart, in the user's half */
	for (uint32_t i = 0; i < h->nr_ranges; i++) {
		struct lazy_range *r = &ranges[i];
		if (r->start % PAGE_SIZE || r->end % PAGE_SIZE || r->start >= r->end ||
		    r->end > TASK_SPACE_END || (i && r->start < ranges[i - 1].end)) {
			ret = bad("sent task %u a bad range %#lx-%#lx", h->pid, r->start, r->end);
			goto out;
		}
		uint64_t n = (r->end - r->start) / PAGE_SIZE;
		uint64_t *slot = malloc(n * sizeof(*slot));
		for (uint64_t k = 0; slot && k < n; k++)
			slot[k] = SLOT_NONE;
		if (!slot || space_add_area(s, r->start, r->end, slot)) {
			free(slot);
			ret = -ENOMEM;
			goto out;
		}
	}
	/* runs: each inside one range and inside its image, in order */
	uint64_t prev = 0, at_source = 0;
	size_t ai = 0;
	for (uint32_t i = 0; i < h->nr_runs; i++) {
		struct lazy_run *r = &runs[i];
		uint64_t len = r->nr_pages * PAGE_SIZE;
		uint64_t lv = r->off >> LAZY_LEVEL_SHIFT, off = r->off & OFF_MASK;
		uint64_t data = lv < (uint64_t)nr_images && st[lv].st_size > IMG_RAW_HDR
				    ? (uint64_t)st[lv].st_size - IMG_RAW_HDR
				    : 0;
		/* at the source: off is the address there, in the user's half */
		bool remote = lv == LAZY_LEVEL_REMOTE && d->src;
		if (remote)
			data = TASK_SPACE_END;
		if (lv == LAZY_LEVEL_REMOTE && !d->src) {
			ret = bad("sent task %u memory a dump --lazy-pages left in its tree: this "
				  "daemon has no source (--page-server --address --port)",
				  h->pid);
			goto out;
		}
		while (ai < s->nr_areas && s->areas[ai].end <= r->vaddr)
			ai++;
		if (!r->nr_pages || r->nr_pages > TASK_SPACE_END / PAGE_SIZE ||
		    r->vaddr % PAGE_SIZE || off % PAGE_SIZE || r->vaddr < prev ||
		    (lv >= (uint64_t)nr_images && !remote) || ai == s->nr_areas ||
		    r->vaddr < s->areas[ai].start || r->vaddr + len > s->areas[ai].end ||
		    off > data || len > data - off) {
			ret = bad("sent task %u a run %u (%#lx, %lu pages at %lu) outside its "
				  "ranges or its image",
				  h->pid, i, r->vaddr, r->nr_pages, r->off);
			goto out;
		}
		struct area *a = &s->areas[ai];
		for (uint64_t k = 0; k < r->nr_pages; k++)
			a->slot[(r->vaddr - a->start) / PAGE_SIZE + k] =
			    (lv << LAZY_LEVEL_SHIFT) | (off + k * PAGE_SIZE);
		s->pending += r->nr_pages;
		if (remote)
			at_source += r->nr_pages;
		prev = r->vaddr + len;
	}
	fcntl(uffd, F_SETFL, O_NONBLOCK);
	if ((ret = lazy_add_space(d, s)))
		goto out_added;
	pr_info("lazy-pages: task %u: %lu pages to come in %u ranges (%lu from the dumped tree, "
		"the others from %d page image(s))",
		h->pid, s->pending, h->nr_ranges, at_source, nr_images);
	free(ranges);
	free(runs);
	return 0;
out:
	if (s) {
		if (s->pidfd > 0)
			close(s->pidfd);
		space_free(s);
	}
	if (uffd >= 0)
		close(uffd);
	for (int k = 0; k < nr_images; k++)
		if (pages_fds[k] >= 0)
			close(pages_fds[k]);
	free(ranges);
	free(runs);
	return ret;
out_added:
	free(ranges);
	free(runs);
	return ret;
}

int lazy_send_ack(struct daemon *d, int status)
{
	struct lazy_ack a = {status, 0};
	return send_all(d->conn, &a, sizeof(a));
}

/* One message of the restore. 0 to go on, 1 when it is done or gone, -errno. */
int lazy_on_conn(struct daemon *d)
{
	struct lazy_hdr h;
#define FDS_MAX (1 + LAZY_IMAGES_MAX)
	char cbuf[CMSG_SPACE((FDS_MAX + 1) * sizeof(int))];
	struct iovec iov = {&h, sizeof(h)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	int fds[FDS_MAX + 1], nfds = 0, ret;
	ssize_t r;

	do
		r = recvmsg(d->conn, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	while (r < 0 && errno == EINTR);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (int k = 0; k < n; k++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
				if (nfds <= FDS_MAX)
					fds[nfds++] = fd;
				else
					close(fd); /* one too many: refused below */
			}
		}
	if (r == 0 || (r < 0 && errno == ECONNRESET)) {
		ret = 1;
		if (!d->restore_done) {
			pr_err("lazy-pages: the restore ended before it sent every task (it "
			       "failed?)");
			d->status = 1;
		}
		goto out;
	}
	if (r != sizeof(h) || (mh.msg_flags & MSG_CTRUNC)) {
		ret = bad("sent a short or truncated message");
		goto out;
	}
	if (h.type == LAZY_DONE && !nfds && !h.nr_ranges && !h.nr_runs && !d->restore_done) {
		d->restore_done = true;
		pr_info("lazy-pages: the restore sent every task (%zu)", d->nr_sp);
		return lazy_send_ack(d, 0);
	}
	if (h.type != LAZY_TASK || nfds < 2 || nfds > FDS_MAX || d->restore_done) {
		ret = bad("sent message %u with %d descriptors", h.type, nfds);
		goto out;
	}
	ret = recv_task(d, &h, fds[0], fds + 1, nfds - 1);
	if (ret == -EPROTO || lazy_send_ack(d, ret ? ret : 0))
		return ret ? ret : -EPIPE;
	return 0;
out:
	for (int k = 0; k < nfds; k++)
		close(fds[k]);
	return ret;
}

/* ---- the socket ---- */

/* Remove an old daemon's socket at name in the images directory; nothing else is removed. */
static int remove_old_socket(struct daemon *d, const char *name)
{
	struct stat st;

	if (fstatat(d->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		pr_err("lazy-pages: %s in the images directory is not a socket cryo may replace",
		       name);
		return -EEXIST;
	}
	return unlinkat(d->dirfd, name, 0) < 0 ? -errno : 0;
}

/* The socket appears under its name only once it listens (bound and listening under a name
 * of its own, then renamed): a restore started as soon as the file is there never finds it
 * refusing connections. */
int lazy_listen_socket(struct daemon *d)
{
	static const char tmp[] = LAZY_SOCKET ".new";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	if ((ret = remove_old_socket(d, LAZY_SOCKET)) || (ret = remove_old_socket(d, tmp)))
		return ret;
	/* the directory by its descriptor: the last component is made by bind, which never
	 * follows a link */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", d->dirfd, tmp);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0 ||
	    fchmodat(d->dirfd, tmp, 0600, 0) < 0 ||
	    renameat(d->dirfd, tmp, d->dirfd, LAZY_SOCKET) < 0) {
		int err = errno;
		pr_errno(err, "lazy-pages: cannot listen on %s", LAZY_SOCKET);
		if (fd >= 0)
			close(fd);
		unlinkat(d->dirfd, tmp, 0);
		return -err;
	}
	return fd;
}

int lazy_accept_restore(struct daemon *d)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    (cr.uid != 0 && cr.uid != geteuid())) {
		pr_err("lazy-pages: refused a client of uid %u", cr.uid);
		close(fd);
		return 0;
	}
	/* one restore per run: the socket goes at the first */
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->lfd, NULL);
	close(d->lfd);
	d->lfd = -1;
	unlinkat(d->dirfd, LAZY_SOCKET, 0);
	d->conn = fd;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	pr_info("lazy-pages: a restore (pid %d) connected", cr.pid);
	return 0;
}
