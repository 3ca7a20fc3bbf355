/* `cryo lazy-pages -D DIR`: the daemon of a lazy restore. It listens on DIR/lazy-pages.socket
 * (made beneath DIR's descriptor: an old socket of that name is replaced, anything else, a
 * symbolic link above all, is refused), takes one restore (`cryo restore --lazy-pages`), and
 * from it, per task, a userfaultfd whose ranges are registered in MISSING mode, the task's
 * page image and where each run of pages is in it (lazy_proto.h). It then
 *   - answers each fault with UFFDIO_COPY of the page (and a few after it) from the image,
 *     or UFFDIO_ZEROPAGE where the image has no data;
 *   - pushes every page not asked for yet in the background, in runs of up to 1 MiB;
 *   - follows the address space: fork (a new userfaultfd, served from the same content, as
 *     the child's memory was at the fork), mremap (the pages move), MADV_DONTNEED and munmap
 *     (those pages are never copied in: a later fault there gets a zero page);
 *   - lets go of a task once its memory is complete (its descriptor closed, the kernel
 *     unregisters the ranges) or gone (the task exited: UFFDIO_COPY says ESRCH),
 * and exits once every one is, 0 if the restore sent everything and finished.
 *
 * One thread: faults first, one background run between rounds of events, so a fault waits at
 * most one run. A task whose memory cannot be completed (an image read fails, the kernel
 * refuses a copy) is killed, never left running with pages that would read as zeros; the
 * guard (lazy_guard.c) does the same if the daemon itself dies. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
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
#include "pages/lazy_proto.h"
#include "pages/lazy_remote.h"
#include "pages/lazy_space.h"
#include "cryo/cryo.h"

#include "pages/lazy_daemon.h"

/* ---- copying in ---- */

/* The task can no longer get its memory whole: it must not run on with zeros. */
static void kill_space(struct daemon *d, struct space *s, int err, const char *what)
{
	char b[64];
	pr_errno(err, "lazy-pages: %s: %s: killing it, its memory cannot be completed",
		 space_who(s, b, sizeof(b)), what);
	s->dead = true;
	d->status = 1;
	if (s->pidfd >= 0) {
		sys_pidfd_send_signal(s->pidfd, SIGKILL);
		return;
	}
	/* a child of a fork has no pid the daemon knows: the daemon ends, and the guard, which
	 * keeps its pages missing meanwhile, kills it */
	pr_err("lazy-pages: %s is left to the guard", b);
	d->fatal = true;
}

/* Copy n pages at page p of area a (their slots contiguous in the image). 0, or -EAGAIN
 * (events to read first), or -ESRCH (the address space is gone), or -errno. */
static int copy_run(struct daemon *d, struct space *s, struct area *a, uint64_t p, uint64_t n)
{
	uint64_t lv = a->slot[p] >> LAZY_LEVEL_SHIFT, off = a->slot[p] & OFF_MASK;
	uint64_t len = n * PAGE_SIZE;
	const uint8_t *src;
	if (lv == LAZY_LEVEL_REMOTE) {
		/* still in the dumped tree: from its source, at the address it had there */
		int ret = d->src && n <= RUN_PAGES
			      ? lazyremote_get(d->src, s->img->pid, off, n, d->rbuf)
			      : -EPIPE;
		if (ret) {
			kill_space(d, s, -ret, "its pages cannot come from the dumped tree");
			return -EIO;
		}
		src = d->rbuf;
	} else if (lv >= (uint64_t)s->img->nr || !s->img->map[lv] ||
		   IMG_RAW_HDR + off + len > s->img->len[lv]) {
		kill_space(d, s, EIO, "its pages are beyond its image");
		return -EIO;
	} else {
		src = s->img->map[lv] + IMG_RAW_HDR + off;
		/* the source mapped first: the kernel's copy takes its fast path only from pages
		 * present here (a missing one makes it drop its locks, fault, and try again) */
		uintptr_t from = (uintptr_t)src & ~(uintptr_t)(PAGE_SIZE - 1);
		madvise((void *)from, (uintptr_t)src + len - from, MADV_POPULATE_READ);
	}
	uint64_t done = 0;
	while (done < n) {
		struct uffdio_copy c = {.dst = a->start + (p + done) * PAGE_SIZE,
					.src = (uint64_t)src + done * PAGE_SIZE,
					.len = (n - done) * PAGE_SIZE};
		int rc = ioctl(s->uffd, UFFDIO_COPY, &c);
		int err = rc < 0 ? errno : 0;
		uint64_t got = c.copy > 0 ? (uint64_t)c.copy / PAGE_SIZE : 0;
		for (uint64_t k = 0; k < got; k++)
			a->slot[p + done + k] = SLOT_NONE;
		s->pending -= got;
		s->copied += got;
		done += got;
		if (!err)
			continue;
		if (err == EEXIST || err == ENOENT) {
			/* a page already there (the task's zero after a fault we answered), or
			 * a range no longer registered: it stays as it is */
			a->slot[p + done] = SLOT_NONE;
			s->pending--;
			done++;
			continue;
		}
		if (err == EAGAIN && got)
			continue;
		if (err == EFAULT) {
			kill_space(d, s, err, "cannot read its pages from the image");
			return -EIO;
		}
		return -err;
	}
	return 0;
}

static int push_retry(struct space *s, uint64_t addr)
{
	if (s->nr_retry == s->cap_retry) {
		size_t cap = s->cap_retry ? 2 * s->cap_retry : 16;
		uint64_t *n = realloc(s->retry, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->retry = n;
		s->cap_retry = cap;
	}
	s->retry[s->nr_retry++] = addr;
	return 0;
}

/* A fault at addr: its page (and the next ones of the same run) or a zero page. */
static int on_fault(struct daemon *d, struct space *s, uint64_t addr)
{
	uint64_t p;
	struct area *a;
	int ret = 0;

	addr &= ~(uint64_t)(PAGE_SIZE - 1);
	s->faults++;
	a = space_find_area(s, addr, &p);
	if (a && a->slot[p] != SLOT_NONE) {
		uint64_t n = 1, max = (a->end - a->start) / PAGE_SIZE;
		while (n < FAULT_PAGES && p + n < max && a->slot[p + n] != SLOT_NONE &&
		       a->slot[p + n] == a->slot[p] + n * PAGE_SIZE)
			n++;
		ret = copy_run(d, s, a, p, n);
		if (ret == -EAGAIN)
			return push_retry(s, addr);
		if (!ret) {
			/* the page may have been there already: the thread tries again */
			struct uffdio_range w = {addr, PAGE_SIZE};
			ioctl(s->uffd, UFFDIO_WAKE, &w);
		}
		return ret;
	}
	/* not in the image, or dropped by the task since: a zero page, as the kernel would */
	struct uffdio_zeropage z = {.range = {addr, PAGE_SIZE}};
	if (ioctl(s->uffd, UFFDIO_ZEROPAGE, &z) == 0) {
		s->zeroed++;
		return 0;
	}
	if (errno == EAGAIN)
		return push_retry(s, addr);
	if (errno == ESRCH)
		return -ESRCH;
	/* there already, or no longer registered: the thread retries its access */
	struct uffdio_range w = {addr, PAGE_SIZE};
	ioctl(s->uffd, UFFDIO_WAKE, &w);
	return 0;
}

/* One background run of the space: 0, or -errno as copy_run */
static int background(struct daemon *d, struct space *s)
{
	while (s->cur_area < s->nr_areas) {
		struct area *a = &s->areas[s->cur_area];
		uint64_t max = (a->end - a->start) / PAGE_SIZE, p = s->cur_page;
		while (p < max && a->slot[p] == SLOT_NONE)
			p++;
		if (p == max) {
			s->cur_area++;
			s->cur_page = 0;
			continue;
		}
		uint64_t n = 1;
		while (n < RUN_PAGES && p + n < max && a->slot[p + n] != SLOT_NONE &&
		       a->slot[p + n] == a->slot[p] + n * PAGE_SIZE)
			n++;
		s->cur_page = p;
		return copy_run(d, s, a, p, n);
	}
	/* the cursor went past pages that came back (a remap): once more from the start */
	s->cur_area = 0;
	s->cur_page = 0;
	return 0;
}

/* ---- spaces ---- */

/* The memory is complete, or the task is gone: let it go. */
static void release(struct daemon *d, size_t i, const char *why)
{
	struct space *s = d->sp[i];
	char b[64];
	pr_info("lazy-pages: %s: %s (%lu pages copied, %lu zero pages, %lu faults)",
		space_who(s, b, sizeof(b)), why, s->copied, s->zeroed, s->faults);
	lazy_guard_drop(&d->guard, s->id);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, s->uffd, NULL);
	close(s->uffd);
	int *v = d->src && s->pidfd >= 0 && !s->dead
		     ? realloc(d->done_pidfds, (d->nr_done + 1) * sizeof(*v))
		     : NULL;
	if (v) {
		d->done_pidfds = v;
		v[d->nr_done++] = s->pidfd;
		/* and the guard holds it too, for a daemon that dies before DONE */
		lazy_guard_hold(&d->guard, s->id, s->pidfd, s->pid);
	} else if (s->pidfd >= 0) {
		if (d->src && !s->dead) /* it cannot be held: it cannot run on alone either */
			sys_pidfd_send_signal(s->pidfd, SIGKILL);
		close(s->pidfd);
	}
	space_free(s);
	d->sp[i] = d->sp[--d->nr_sp];
}

static int on_fork(struct daemon *d, struct space *s, int ufd)
{
	struct space *c = calloc(1, sizeof(*c));
	int ret = -ENOMEM;

	if (!c) {
		close(ufd);
		return ret;
	}
	c->uffd = ufd;
	c->pidfd = -1;
	c->parent = s->pid ? s->pid : s->parent;
	c->img = s->img;
	c->img->refs++;
	fcntl(ufd, F_SETFL, O_NONBLOCK);
	fcntl(ufd, F_SETFD, FD_CLOEXEC);
	/* the child's memory is the parent's as it was at the fork: the same slots */
	for (size_t i = 0; i < s->nr_areas; i++) {
		struct area *a = &s->areas[i];
		uint64_t n = (a->end - a->start) / PAGE_SIZE;
		uint64_t *slot = malloc(n * sizeof(*slot));
		if (slot)
			memcpy(slot, a->slot, n * sizeof(*slot));
		if (!slot || space_add_area(c, a->start, a->end, slot)) {
			free(slot);
			ret = -ENOMEM;
			goto fail;
		}
	}
	if ((ret = lazy_add_space(d, c)))
		goto fail_added;
	pr_info("lazy-pages: a child of %d with %lu pages to come", c->parent, c->pending);
	return 0;
fail:
	close(ufd);
	space_free(c);
	return ret;
fail_added:
	/* the child cannot be served: the guard kills it when the daemon fails */
	pr_errno(-ret, "lazy-pages: cannot serve a child forked by %d", c->parent);
	return ret;
}

/* Every message of the space's userfaultfd; then the faults that had to wait. 0, -ESRCH (it
 * is gone), or -errno. */
static int drain(struct daemon *d, struct space *s)
{
	struct uffd_msg msg[32];
	int ret = 0;

	for (;;) {
		ssize_t r = read(s->uffd, msg, sizeof(msg));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0) {
			ret = r < 0 ? -errno : -ESRCH;
			break;
		}
		for (size_t i = 0; i < (size_t)r / sizeof(msg[0]) && !ret; i++) {
			struct uffd_msg *m = &msg[i];
			switch (m->event) {
			case UFFD_EVENT_PAGEFAULT:
				ret = on_fault(d, s, m->arg.pagefault.address);
				break;
			case UFFD_EVENT_FORK:
				ret = on_fork(d, s, (int)m->arg.fork.ufd);
				break;
			case UFFD_EVENT_REMAP:
				ret = space_remap(s, m->arg.remap.from, m->arg.remap.to,
						  m->arg.remap.len);
				break;
			case UFFD_EVENT_REMOVE:
				space_forget(s, m->arg.remove.start, m->arg.remove.end);
				break;
			case UFFD_EVENT_UNMAP:
				ret = space_cut(s, m->arg.remove.start, m->arg.remove.end, NULL);
				break;
			default:
				pr_warn("lazy-pages: unknown userfaultfd event %u", m->event);
			}
		}
		if (ret)
			break;
	}
	/* a fault that met an event (EAGAIN) once more, now that the events are read */
	size_t n = s->nr_retry;
	s->nr_retry = 0;
	for (size_t i = 0; i < n && !ret; i++) {
		uint64_t addr = s->retry[i];
		ret = on_fault(d, s, addr);
	}
	return ret;
}

/* ---- the loop ---- */

static struct space *space_of(struct daemon *d, uint32_t id, size_t *idx)
{
	for (size_t i = 0; i < d->nr_sp; i++)
		if (d->sp[i]->id == id) {
			*idx = i;
			return d->sp[i];
		}
	return NULL;
}

/* After a step of a space: let it go when it is complete, gone or beyond help. */
static void settle(struct daemon *d, size_t i, int ret)
{
	struct space *s = d->sp[i];
	if (ret == -ESRCH) {
		release(d, i,
			s->pending ? "gone (the task exited) before its memory was complete"
				   : "gone");
		return;
	}
	if (ret && ret != -EAGAIN && !s->dead)
		kill_space(d, s, -ret, "the kernel refused its pages");
	if (s->dead) {
		release(d, i, "killed");
		return;
	}
	if (!s->pending)
		release(d, i, "memory complete");
}

static int serve(struct daemon *d)
{
	struct epoll_event ev[32];
	size_t rr = 0;

	for (;;) {
		if (d->fatal)
			return -EIO;
		/* every memory complete once the restore sent them all (or went away) */
		if (!d->nr_sp && (d->conn_gone || d->restore_done))
			return 0;
		int n = epoll_wait(d->epfd, ev, 32, d->nr_sp ? 0 : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int k = 0; k < n; k++) {
			uint32_t id = (uint32_t)ev[k].data.u64;
			if (id == UINT32_MAX) {
				int ret = lazy_accept_restore(d);
				if (ret)
					return ret;
			} else if (id == 0) {
				int ret = lazy_on_conn(d);
				if (ret) {
					epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->conn, NULL);
					close(d->conn);
					d->conn = -1;
					d->conn_gone = true;
					if (ret < 0)
						d->status = 1;
				}
			} else {
				size_t i;
				struct space *s = space_of(d, id, &i);
				if (s)
					settle(d, i, drain(d, s));
			}
		}
		/* one background run, the spaces in turn (a place to die, for the tests of the
		 * guard) */
		if (d->nr_sp) {
			fault_point("lazy-pages: a background run", 0);
			size_t i = rr++ % d->nr_sp;
			settle(d, i, background(d, d->sp[i]));
		}
	}
}

int cryo_lazy_pages(const struct cryo_lazy_pages_opts *o)
{
	struct daemon d = {.dirfd = -1, .lfd = -1, .conn = -1, .epfd = -1, .guard = {.fd = -1}};
	struct lazyremote_src src = {.conn = {.fd = -1}};
	int ret;

	d.dirfd = dir_open_root(o->images_dir);
	if (d.dirfd < 0) {
		pr_errno(-d.dirfd, "lazy-pages: cannot open images directory %s", o->images_dir);
		return d.dirfd;
	}
	/* --page-server: the source first; without it there is nothing to restore */
	if (o->address) {
		d.rbuf = malloc(RUN_PAGES * PAGE_SIZE);
		if (!d.rbuf) {
			ret = -ENOMEM;
			goto out;
		}
		/* the images must be those the source left its memory for */
		Inventory *inv = NULL;
		if ((ret = img_read(d.dirfd, IMG_INVENTORY, 0, (ProtobufCMessage **)&inv)))
			goto out;
		uint64_t id = inv->lazyremote_id;
		bool remote = inv->has_lazyremote_id && inv->n_lazyremote_ranges;
		img_free(&inv->base);
		if (!remote) {
			pr_err("lazy-pages --page-server: %s is not the image set of a dump "
			       "--lazy-pages --port (its inventory leaves no memory at a source)",
			       o->images_dir);
			ret = -EINVAL;
			goto out;
		}
		if ((ret = lazyremote_connect(&src, o->address, o->port, &o->tls, id)))
			goto out;
		d.src = &src;
	}
	if ((d.lfd = lazy_listen_socket(&d)) < 0) {
		ret = d.lfd;
		goto out;
	}
	if ((ret = server_detach(o->daemon, d.dirfd, o->pidfile, "lazy-pages")))
		goto out;
	/* the source's connection too: only the daemon speaks on it, and its end is the
	 * source's sign that the daemon is gone */
	int drop[] = {d.lfd, d.dirfd, src.conn.fd};
	if ((ret = lazy_guard_start(&d.guard, drop, 3)))
		goto out;
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT32_MAX};
	if (d.epfd < 0 || epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.lfd, &ev) < 0) {
		ret = -errno;
		goto out;
	}
	pr_info("lazy-pages: listening on %s/%s", o->images_dir, LAZY_SOCKET);
	if (o->status_fd >= 0)
		status_fd_notify(o->status_fd);
	ret = serve(&d);
	if (!ret && d.status)
		ret = -EIO;
	/* the source ends its tree only once every page is here; a failure leaves it running */
	if (!ret && d.src)
		ret = lazyremote_done(d.src);
	if (!ret)
		pr_info("lazy-pages: every task's memory is complete");
out:
	/* the source's tree runs on unless it answered DONE: the restored one must not */
	for (size_t k = 0; k < d.nr_done; k++) {
		if (ret) {
			pr_err("lazy-pages: the source did not end its tree: a restored task whose "
			       "memory is complete killed, so that one copy runs");
			sys_pidfd_send_signal(d.done_pidfds[k], SIGKILL);
		}
		close(d.done_pidfds[k]);
	}
	free(d.done_pidfds);
	/* what is still held was not completed: the guard kills it once we are gone */
	while (d.nr_sp) {
		struct space *s = d.sp[d.nr_sp - 1];
		close(s->uffd);
		if (s->pidfd >= 0)
			close(s->pidfd);
		space_free(s);
		d.nr_sp--;
	}
	free(d.sp);
	if (!ret)
		lazy_guard_finish(&d.guard);
	else if (d.guard.fd >= 0)
		close(d.guard.fd);
	if (d.lfd >= 0) {
		close(d.lfd);
		unlinkat(d.dirfd, LAZY_SOCKET, 0);
	}
	if (d.conn >= 0)
		close(d.conn);
	if (d.epfd >= 0)
		close(d.epfd);
	close(d.dirfd);
	lazyremote_close(&src);
	free(d.rbuf);
	return ret;
}
