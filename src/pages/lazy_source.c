/* dump --lazy-pages: the source of a remote lazy restore (pages/lazy_remote.h). The dump
 * listens before it touches the tree, writes every image but the pages of the ranges
 * recorded here (res/pages.c leaves holes for them), then, the tree still frozen, answers
 * the lazy-pages daemon's requests with the pages read from the tasks (process_vm_readv: a
 * frozen task's memory is as it was dumped), until the daemon says DONE. Nothing it receives
 * is trusted: each request's type, task, range and length is checked against what the dump
 * left in the tree; the first broken rule ends the session and fails the dump (its tree is
 * resumed, as after any failed dump). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/fault.h"
#include "core/log.h"
#include "core/util.h"
#include "pages/lazy_remote.h"
#include "pages/proto.h"

int lazyremote_listen(struct dump_ctx *ctx)
{
	int fd = conn_listen(ctx->opts->address, ctx->opts->port);
	if (fd < 0) {
		pr_err("dump --lazy-pages: cannot serve the pages on %s port %d",
		       ctx->opts->address ? ctx->opts->address : "every address", ctx->opts->port);
		return fd;
	}
	ctx->lazy_lfd = fd;
	/* the images' own number, for the daemon to show it has them */
	if (getrandom(&ctx->lazy_id, sizeof(ctx->lazy_id), 0) != sizeof(ctx->lazy_id)) {
		int err = errno;
		pr_errno(err, "dump --lazy-pages: getrandom");
		return -err;
	}
	return 0;
}

int lazyremote_add(struct dump_ctx *ctx, pid_t pid, uint64_t start, uint64_t end)
{
	if (ctx->n_lazy_ranges >= LAZYREMOTE_RANGES_MAX) {
		pr_err("dump --lazy-pages: more than %u memory ranges", LAZYREMOTE_RANGES_MAX);
		return -E2BIG;
	}
	LazyremoteRange *r = A_NEW(&ctx->arena, LazyremoteRange, LAZYREMOTE_RANGE);
	if (!r || !DUMP_PUSH(ctx, ctx->lazy_ranges, ctx->n_lazy_ranges, r))
		return -ENOMEM;
	r->pid = (uint32_t)pid;
	r->start = start;
	r->end = end;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const LazyremoteRange *x = *(LazyremoteRange *const *)a, *y = *(LazyremoteRange *const *)b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

void lazyremote_sort(struct dump_ctx *ctx)
{
	if (ctx->n_lazy_ranges)
		sort_n(ctx->lazy_ranges, ctx->n_lazy_ranges, sizeof(*ctx->lazy_ranges), cmp_range);
}

void lazyremote_free(struct dump_ctx *ctx)
{
	if (ctx->lazy_lfd >= 0)
		close(ctx->lazy_lfd);
	ctx->lazy_lfd = -1;
}

/* Is [vaddr, vaddr + n pages) of task pid inside the memory the dump left in the tree? It
 * may span ranges that touch: two VMAs here can be one at the restore (the kernel merges
 * them there), which the daemon then asks for in one run. */
static bool left_in_tree(const struct dump_ctx *ctx, uint32_t pid, uint64_t vaddr, uint64_t n)
{
	if (!n || n > LAZYREMOTE_GET_MAX || vaddr % PAGE_SIZE)
		return false;
	long i = lazyremote_find(ctx->lazy_ranges, ctx->n_lazy_ranges, pid, vaddr);
	if (i < 0 || vaddr >= ctx->lazy_ranges[i]->end)
		return false;
	uint64_t end = vaddr + n * PAGE_SIZE; /* n is at most LAZYREMOTE_GET_MAX: no overflow */
	for (size_t k = (size_t)i; end > ctx->lazy_ranges[k]->end; k++) {
		const LazyremoteRange *next =
		    k + 1 < ctx->n_lazy_ranges ? ctx->lazy_ranges[k + 1] : NULL;
		if (!next || next->pid != pid || next->start != ctx->lazy_ranges[k]->end)
			return false;
	}
	return true;
}

/* Are those pages stored runs of the task's pagemap (in order, touching)? A page the dump
 * found unchanged since its parent (in_parent) is the parent's at the restore side, and a page
 * in no run was never there: a daemon asking for either has resolved the images wrongly. */
static bool stored_in_tree(const struct dump_ctx *ctx, uint32_t pid, uint64_t vaddr, uint64_t n)
{
	const Pagemap *pm = NULL;
	for (int i = 0; i < ctx->nr_tasks && !pm; i++)
		if ((uint32_t)ctx->tasks[i].pid == pid && !ctx->tasks[i].zombie)
			pm = ctx->tasks[i].pagemap;
	if (!pm)
		return false;
	size_t lo = 0, hi = pm->n_runs;
	while (lo < hi) { /* the first run that ends above vaddr */
		size_t mid = lo + (hi - lo) / 2;
		if (pm->runs[mid]->vaddr + pm->runs[mid]->nr_pages * PAGE_SIZE <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint64_t at = vaddr, end = vaddr + n * PAGE_SIZE;
	for (size_t i = lo; i < pm->n_runs && at < end; i++) {
		const PageRun *r = pm->runs[i];
		if (r->vaddr > at || r->in_parent)
			return false;
		at = r->vaddr + r->nr_pages * PAGE_SIZE;
	}
	return at >= end;
}

static int send_ack(struct ps_conn *c, int err)
{
	struct ps_hdr h = {PS_ACK, (uint32_t)err, 0};
	return conn_send(c, &h, sizeof(h));
}

#define bad(c, fmt, ...)                                                                           \
	(pr_err("dump --lazy-pages: the lazy-pages daemon at %s " fmt, (c)->peer, ##__VA_ARGS__),  \
	 -EPROTO)

static int check_hello(const struct dump_ctx *ctx, struct ps_conn *c)
{
	struct ps_hdr h;
	uint8_t buf[PS_HELLO_MAX];
	int ret = conn_recv(c, &h, sizeof(h), NULL);
	if (ret) {
		pr_errno(-ret, "dump --lazy-pages: no hello from %s", c->peer);
		return ret;
	}
	if (h.type != PS_HELLO || h.id || !h.len || h.len > PS_HELLO_MAX)
		return bad(c, "began with message %u of %lu bytes, not a hello", h.type, h.len);
	if ((ret = conn_recv(c, buf, h.len, NULL)))
		return ret;
	PageServerHello *m = page_server_hello__unpack(NULL, h.len, buf);
	if (!m)
		return bad(c, "sent a hello that does not decode");
	bool ok = m->version == PS_VERSION && m->has_lazyremote && m->lazyremote && !m->parent &&
		  !m->session && !m->has_files && !m->has_pre_dump;
	bool ours = m->has_lazyremote_id && m->lazyremote_id == ctx->lazy_id;
	page_server_hello__free_unpacked(m, NULL);
	if (!ok) {
		send_ack(c, EPROTO);
		return bad(c, "sent the hello of a dump or of another version, not a lazy-pages "
			      "daemon's");
	}
	if (!ours) {
		send_ack(c, ESTALE);
		return bad(c, "restores the images of another dump (the inventory's lazyremote_id "
			      "differs)");
	}
	return send_ack(c, 0);
}

/* The daemon's requests until its DONE. 0 or -errno, logged. */
static int answer(struct dump_ctx *ctx, struct ps_conn *c, uint64_t *pages,
		  int (*before_done)(struct dump_ctx *))
{
	uint8_t *buf = malloc(LAZYREMOTE_GET_MAX * PAGE_SIZE);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct ps_hdr h;
		struct lazyremote_get g;
		int eof = 0;
		if ((ret = conn_recv(c, &h, sizeof(h), &eof))) {
			pr_errno(-ret,
				 "dump --lazy-pages: the lazy-pages daemon at %s went away before "
				 "it had every page (%lu sent)",
				 c->peer, *pages);
			break;
		}
		if (h.type == PS_DONE && !h.id && !h.len) {
			/* the daemon has everything. What could still fail before the tree is
			 * killed is done first: once it is acknowledged, the daemon's copy runs
			 * and this tree must not */
			ret = before_done ? before_done(ctx) : 0;
			int sent = send_ack(c, ret ? -ret : 0);
			if (sent && !ret) {
				/* a daemon that hears no answer kills its copy: this one runs on
				 * (two copies never run; only an answer lost after it was sent
				 * would end both) */
				pr_errno(-sent,
					 "dump --lazy-pages: cannot tell the daemon at %s "
					 "that the tree ends: it runs on",
					 c->peer);
				ret = sent;
			}
			break;
		}
		if (h.type != PS_GET || h.len != sizeof(g)) {
			ret = bad(c, "sent message %u of %lu bytes", h.type, h.len);
			break;
		}
		if ((ret = conn_recv(c, &g, sizeof(g), NULL)))
			break;
		if (!left_in_tree(ctx, h.id, g.vaddr, g.nr_pages) ||
		    !stored_in_tree(ctx, h.id, g.vaddr, g.nr_pages)) {
			send_ack(c, EINVAL);
			ret = bad(c,
				  "asked for %lu pages of task %u at %#lx: not memory this dump "
				  "left in its tree",
				  g.nr_pages, h.id, g.vaddr);
			break;
		}
		if ((ret = fault_point("dump --lazy-pages: a request", EIO)))
			break;
		size_t len = g.nr_pages * PAGE_SIZE;
		struct iovec local = {buf, len}, remote = {(void *)g.vaddr, len};
		ssize_t n = process_vm_readv((pid_t)h.id, &local, 1, &remote, 1, 0);
		if (n != (ssize_t)len) {
			ret = n < 0 ? -errno : -EIO;
			pr_errno(-ret, "dump --lazy-pages: task %u: cannot read %zu bytes at %#lx",
				 h.id, len, g.vaddr);
			send_ack(c, -ret);
			break;
		}
		struct ps_hdr ph = {PS_PAGES, h.id, len};
		if ((ret = conn_send(c, &ph, sizeof(ph))) || (ret = conn_send(c, buf, len))) {
			pr_errno(-ret, "dump --lazy-pages: cannot send pages to %s", c->peer);
			break;
		}
		*pages += g.nr_pages;
	}
	free(buf);
	return ret;
}

int lazyremote_serve(struct dump_ctx *ctx, int (*before_done)(struct dump_ctx *))
{
	struct ps_conn c = {.fd = -1};
	struct pollfd p = {ctx->lazy_lfd, POLLIN, 0};
	uint64_t pages = 0, t0 = now_ns();
	int fd, ret;

	pr_info("dump --lazy-pages: the tree stays frozen; waiting for `cryo lazy-pages "
		"--page-server` on %s port %d (%ld pages left in it)",
		ctx->opts->address ? ctx->opts->address : "every address", ctx->opts->port,
		(long)ctx->lazy_pages);
	do
		ret = poll(&p, 1, LAZYREMOTE_WAIT_S * 1000);
	while (ret < 0 && errno == EINTR);
	if (ret <= 0) {
		pr_err("dump --lazy-pages: no lazy-pages daemon came in %d s", LAZYREMOTE_WAIT_S);
		return ret < 0 ? -errno : -ETIMEDOUT;
	}
	do
		fd = accept4(ctx->lazy_lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	/* one daemon: a second one is refused */
	lazyremote_free(ctx);
	if (fd < 0) {
		ret = -errno;
		pr_errno(-ret, "dump --lazy-pages: accept failed");
		return ret;
	}
	if (!(ret = conn_accept(&c, fd, &ctx->opts->tls)) && !(ret = check_hello(ctx, &c))) {
		pr_info("dump --lazy-pages: serving the pages to %s", c.peer);
		/* no reply may be due for long (the daemon waits for its restore, or is done
		 * and waits for the restore's end): keepalives tell a daemon gone, not silence */
		struct timeval none = {0, 0};
		int one = 1, idle = 10, intvl = 5, cnt = 3;
		setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
		setsockopt(c.fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(c.fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		setsockopt(c.fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		setsockopt(c.fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
		ret = answer(ctx, &c, &pages, before_done);
	}
	conn_close(&c);
	if (!ret)
		pr_info("dump --lazy-pages: the lazy-pages daemon has every page (%lu pages sent "
			"in %.3f ms)",
			pages, (now_ns() - t0) / 1e6);
	return ret;
}
