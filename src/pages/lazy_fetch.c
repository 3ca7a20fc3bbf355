/* `cryo lazy-pages --page-server --address A --port P`: the daemon's connection to the dump
 * --lazy-pages that keeps the pages in its frozen tree (pages/lazy_remote.h). One request at a
 * time, in the daemon's one thread: a fault waits for its pages' round trip, the background
 * push for its own. The answer is checked before a byte of it is used: its type, its task,
 * its exact length; any failure marks the source dead, and the daemon kills each task that
 * still needs a page from it (a task never runs on with zeros where its pages were). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "pages/lazy_remote.h"
#include "pages/proto.h"
#include "images/cryo.pb-c.h"

static int lost(struct lazyremote_src *s, int err, const char *what)
{
	if (!s->dead)
		pr_errno(err,
			 "lazy-pages: the source of the pages, the dump at %s, %s (%lu pages "
			 "received)",
			 s->where, what, s->pages);
	s->dead = true;
	return err > 0 ? -err : -EIO;
}

/* The ACK to a hello or a DONE: 0, or -errno */
static int recv_ack(struct lazyremote_src *s, const char *what)
{
	struct ps_hdr h;
	char msg[96];
	int ret = conn_recv(&s->conn, &h, sizeof(h), NULL);
	if (ret) {
		snprintf(msg, sizeof(msg), "did not answer the %s (did it die?)", what);
		return lost(s, -ret, msg);
	}
	if (h.type != PS_ACK || h.len) {
		snprintf(msg, sizeof(msg), "answered the %s with message %u", what, h.type);
		return lost(s, EPROTO, msg);
	}
	if (h.id) {
		snprintf(msg, sizeof(msg), "refused the %s", what);
		return lost(s, h.id < 4096 ? (int)h.id : EIO, msg);
	}
	return 0;
}

int lazyremote_connect(struct lazyremote_src *s, const char *address, int port,
		       const struct cryo_tls_opts *tls, uint64_t id)
{
	PageServerHello m = PAGE_SERVER_HELLO__INIT;
	uint8_t buf[64];
	int ret;

	*s = (struct lazyremote_src){.conn = {.fd = -1}};
	snprintf(s->where, sizeof(s->where), "%s port %d", address, port);
	if ((ret = conn_connect(&s->conn, address, port, tls))) {
		pr_err("lazy-pages: no dump --lazy-pages serves pages at %s", s->where);
		s->dead = true;
		return ret;
	}
	m.version = PS_VERSION;
	m.has_lazyremote = m.lazyremote = true;
	m.has_lazyremote_id = true;
	m.lazyremote_id = id;
	size_t len = page_server_hello__pack(&m, buf);
	struct ps_hdr h = {PS_HELLO, 0, len};
	if ((ret = conn_send(&s->conn, &h, sizeof(h))) || (ret = conn_send(&s->conn, buf, len)))
		return lost(s, -ret, "cannot be sent the hello");
	if ((ret = recv_ack(s, "hello")))
		return ret;
	pr_info("lazy-pages: the pages left in the dumped tree come from %s", s->where);
	return 0;
}

int lazyremote_get(struct lazyremote_src *s, pid_t pid, uint64_t vaddr, uint64_t n, void *buf)
{
	struct lazyremote_get g = {vaddr, n};
	struct ps_hdr h = {PS_GET, (uint32_t)pid, sizeof(g)};
	char msg[128];
	int ret;

	if (s->dead)
		return -EPIPE;
	if (!n || n > LAZYREMOTE_GET_MAX)
		return -EINVAL;
	if ((ret = conn_send(&s->conn, &h, sizeof(h))) ||
	    (ret = conn_send(&s->conn, &g, sizeof(g))))
		return lost(s, -ret, "cannot be sent a request (did it die?)");
	if ((ret = conn_recv(&s->conn, &h, sizeof(h), NULL))) {
		snprintf(msg, sizeof(msg),
			 "did not answer for %lu pages of task %d at %#lx (did it "
			 "die?)",
			 n, pid, vaddr);
		return lost(s, -ret, msg);
	}
	if (h.type == PS_ACK && !h.len) {
		snprintf(msg, sizeof(msg), "refused %lu pages of task %d at %#lx", n, pid, vaddr);
		return lost(s, h.id && h.id < 4096 ? (int)h.id : EIO, msg);
	}
	/* exactly the pages asked for, of the task asked for: nothing else is read */
	if (h.type != PS_PAGES || h.id != (uint32_t)pid || h.len != n * PAGE_SIZE) {
		snprintf(msg, sizeof(msg),
			 "answered a request for %lu pages of task %d with message %u (task %u, "
			 "%lu bytes)",
			 n, pid, h.type, h.id, h.len);
		return lost(s, EPROTO, msg);
	}
	if ((ret = conn_recv(&s->conn, buf, n * PAGE_SIZE, NULL)))
		return lost(s, -ret, "went away in the middle of its pages");
	s->pages += n;
	s->gets++;
	return 0;
}

int lazyremote_done(struct lazyremote_src *s)
{
	struct ps_hdr h = {PS_DONE, 0, 0};
	int ret;

	if (s->dead)
		return -EPIPE;
	if ((ret = conn_send(&s->conn, &h, sizeof(h))))
		return lost(s, -ret, "cannot be told every page is in");
	if ((ret = recv_ack(s, "end")))
		return ret;
	pr_info("lazy-pages: the dump at %s has ended its tree: %lu pages came from it in %lu "
		"requests",
		s->where, s->pages, s->gets);
	return 0;
}

void lazyremote_close(struct lazyremote_src *s)
{
	conn_close(&s->conn);
	s->dead = true;
}
