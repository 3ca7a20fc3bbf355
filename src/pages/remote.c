/* The page server transport of a dump (--page-server): pages-PID.img and pagemap-PID.img
 * are sent to `cryo page-server` (pages/server.c), which writes them into its own images
 * directory; the inventory goes there too, so that a pre-dump's set on the server is a
 * parent a later dump can name. Every other image is written locally, as the original tool
 * does, and so is a copy of each pagemap: the next dump of a chain reads its tracking
 * descriptor there (res/track.c). The protocol: pages/proto.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "pages/conn.h"
#include "pages/proto.h"
#include "pages/xfer.h"

struct ps_client {
	struct ps_conn conn;
	pid_t cur;	/* the image open on the server, 0: none */
	uint64_t bytes; /* ... its data bytes sent */
	char where[96];
};

static int send_msg(struct page_xfer *x, uint32_t type, uint32_t id, const void *p, size_t len)
{
	struct ps_client *r = x->priv;
	struct ps_hdr h = {type, id, len};
	int ret = conn_send(&r->conn, &h, sizeof(h));
	if (!ret && len)
		ret = conn_send(&r->conn, p, len);
	if (ret)
		pr_errno(-ret, "cannot send to the page server at %s (did it stop?)", r->where);
	return ret;
}

static int begin(struct page_xfer *x, pid_t pid)
{
	struct ps_client *r = x->priv;
	uint32_t codec = x->lz4 ? 1 : 0;
	if (r->cur == pid)
		return 0;
	r->cur = pid;
	r->bytes = 0;
	return send_msg(x, PS_OPEN, pid, &codec, sizeof(codec));
}

static int ps_open(struct page_xfer *x, pid_t pid)
{
	return pid; /* the server opens it at the first message for it */
}

static int ps_write(struct page_xfer *x, int h, pid_t pid, const void *buf, size_t len)
{
	struct ps_client *r = x->priv;
	const char *p = buf;
	int ret = begin(x, pid);
	while (!ret && len) {
		size_t n = len < PS_DATA_MAX ? len : PS_DATA_MAX;
		ret = send_msg(x, PS_DATA, pid, p, n);
		r->bytes += n;
		p += n, len -= n;
	}
	return ret;
}

static int ps_close(struct page_xfer *x, int h, pid_t pid, bool ok)
{
	struct ps_client *r = x->priv;
	int ret;
	if (!ok)
		return 0; /* the dump fails: the server drops the image when the connection ends */
	if ((ret = begin(x, pid)))
		return ret;
	ret = send_msg(x, PS_CLOSE, pid, &r->bytes, sizeof(r->bytes));
	r->cur = 0;
	return ret;
}

static int ps_image(struct page_xfer *x, enum img_type type, int id, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	int ret;

	if (type != IMG_PAGEMAP && type != IMG_INVENTORY)
		return 0;
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(m, buf);
	ret = send_msg(x, type == IMG_PAGEMAP ? PS_PAGEMAP : PS_INVENTORY, id, buf, len);
	free(buf);
	return ret;
}

/* The server's answer to what (hello, the end of the dump): 0 or -errno, logged. */
static int wait_ack(struct page_xfer *x, const char *what)
{
	struct ps_client *r = x->priv;
	struct ps_hdr h;
	int ret = conn_recv(&r->conn, &h, sizeof(h), NULL);

	if (ret) {
		pr_errno(-ret, "the page server at %s did not answer the %s (see its log)",
			 r->where, what);
		return ret;
	}
	if (h.type != PS_ACK || h.len) {
		pr_err("the page server at %s answered the %s with message %u", r->where, what,
		       h.type);
		return -EPROTO;
	}
	if (h.id) {
		pr_errno(h.id < 4096 ? (int)h.id : EIO, "the page server at %s refused the %s",
			 r->where, what);
		return h.id < 4096 ? -(int)h.id : -EIO;
	}
	return 0;
}

static int ps_finish(struct page_xfer *x)
{
	int ret = send_msg(x, PS_DONE, 0, NULL, 0);

	if (ret || (ret = wait_ack(x, "end of the dump")))
		return ret;
	pr_info("the page server at %s has the pages (%lu bytes sent)",
		((struct ps_client *)x->priv)->where, x->stored);
	return 0;
}

static void ps_destroy(struct page_xfer *x)
{
	struct ps_client *r = x->priv;
	conn_close(&r->conn);
	free(r);
	free(x);
}

static const struct page_xfer_ops ps_ops = {
    .open = ps_open,
    .write = ps_write,
    .close = ps_close,
    .image = ps_image,
    .finish = ps_finish,
    .destroy = ps_destroy,
};

struct page_xfer *xfer_remote_new(struct dump_ctx *ctx)
{
	const struct cryo_dump_opts *o = ctx->opts;
	struct page_xfer *x = calloc(1, sizeof(*x));
	struct ps_client *r = calloc(1, sizeof(*r));
	PageServerHello hello = PAGE_SERVER_HELLO__INIT;
	uint8_t buf[PS_HELLO_MAX];

	if (!x || !r)
		goto fail;
	x->ops = &ps_ops;
	x->priv = r;
	r->conn.fd = -1;
	snprintf(r->where, sizeof(r->where), "%s port %d", o->address ? o->address : "?", o->port);
	if (!o->address || o->port <= 0) {
		pr_err("--page-server needs --address and --port");
		goto fail;
	}
	if (conn_connect(&r->conn, o->address, o->port, &o->tls))
		goto fail;
	hello.version = PS_VERSION;
	hello.parent = (char *)o->prev_images_dir;
	hello.has_pre_dump = true;
	hello.pre_dump = o->pre_dump;
	hello.session = (char *)o->ps_session;
	size_t len = page_server_hello__get_packed_size(&hello);
	if (len > sizeof(buf)) {
		pr_err("--prev-images-dir is too long for the page server");
		goto fail;
	}
	page_server_hello__pack(&hello, buf);
	if (send_msg(x, PS_HELLO, 0, buf, len) || wait_ack(x, "hello"))
		goto fail;
	pr_info("pages go to the page server at %s%s", r->where, o->tls.on ? " (TLS)" : "");
	return x;
fail:
	if (r)
		conn_close(&r->conn);
	free(r);
	free(x);
	return NULL;
}
