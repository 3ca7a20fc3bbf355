/* `cryo page-server -D DIR --port P`: receives the pages of one dump (pages/remote.c) and
 * writes them into DIR as a local dump would (same files: pages-PID.img, pagemap-PID.img,
 * inventory.img, the parent link), then exits, as the original's does: one dump per run.
 *
 * Nothing received is trusted: every message's type, id, length and order is checked
 * (pages/proto.h) before anything is written; file names are made from numbers only and
 * opened beneath DIR (core/safeopen.c: no symbolic link followed, nothing outside); the one
 * string, the parent link, must be "../NAME". A message that breaks a rule drops the
 * connection with a message saying which rule, and what was partly written is removed. A
 * second client is refused while one is served: the listening socket is closed at the first
 * accept. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/safeopen.h"
#include "core/status_fd.h"
#include "core/util.h"
#include "img/image.h"
#include "pages/conn.h"
#include "pages/proto.h"
#include "pages/read.h"
#include "pages/server.h"
#include "cryo/cryo.h"

struct closed_img {
	uint32_t pid;
	uint64_t bytes;
	bool lz4, pagemap;
};

struct session {
	int dirfd;
	struct ps_conn *conn;
	bool migrate; /* a session of migrate-target: the hello may name it */
	bool hello, inventory;
	uint32_t cur; /* the pid whose pages are open, 0: none */
	int cur_fd;
	bool cur_lz4;
	uint64_t cur_bytes;
	struct closed_img *imgs;
	size_t nr_imgs;
	uint8_t *buf;
};

#define bad(s, fmt, ...)                                                                           \
	(pr_err("page server: the client (%s) " fmt ": dropping the connection", (s)->conn->peer,  \
		##__VA_ARGS__),                                                                    \
	 -EPROTO)

static struct closed_img *find_img(struct session *s, uint32_t pid)
{
	for (size_t i = 0; i < s->nr_imgs; i++)
		if (s->imgs[i].pid == pid)
			return &s->imgs[i];
	return NULL;
}

/* "../NAME" with no other "..", "." or empty component: as res/track.c accepts it */
static bool parent_ok(const char *rel, size_t len)
{
	if (strlen(rel) != len || len > 4000 || strncmp(rel, "../", 3) || !rel[3] || rel[3] == '/')
		return false;
	for (const char *p = rel + 3; *p;) {
		const char *e = strchrnul(p, '/');
		if (e == p || (e - p == 2 && !strncmp(p, "..", 2)) || (e - p == 1 && *p == '.'))
			return false;
		p = *e ? e + 1 : e;
	}
	return true;
}

static int on_hello(struct session *s, struct ps_hdr *h)
{
	PageServerHello *m;
	int ret = 0;

	if (s->hello || h->id || !h->len || h->len > PS_HELLO_MAX)
		return bad(s, "sent a bad hello (id %u, %lu bytes)", h->id, h->len);
	m = page_server_hello__unpack(NULL, h->len, s->buf);
	if (!m)
		return bad(s, "sent a hello that does not decode");
	if (m->version != PS_VERSION) {
		ret = bad(s, "speaks version %u of the protocol, this server %d", m->version,
			  PS_VERSION);
		goto out;
	}
	if (m->has_lazyremote && m->lazyremote) {
		ret = bad(s, "sent the hello of a lazy-pages daemon: this server receives dumps");
		goto out;
	}
	if (!s->migrate && (m->session || m->has_files || m->has_restore_tcp)) {
		ret = bad(s, "sent a hello of a migration: this is a page server");
		goto out;
	}
	if (m->has_files && m->files) {
		ret = bad(s, "sent a hello of a files session to the page server");
		goto out;
	}
	if (m->parent && !parent_ok(m->parent, strlen(m->parent))) {
		ret = bad(s, "names the parent '%s': only ../NAME is accepted", m->parent);
		goto out;
	}
	/* until its inventory comes, the directory is not a checkpoint */
	if ((ret = dir_unlink(s->dirfd, "inventory.img")))
		goto out;
	if (m->parent) {
		struct stat st;
		if (fstatat(s->dirfd, "parent", &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!S_ISLNK(st.st_mode) || unlinkat(s->dirfd, "parent", 0) < 0) {
				pr_err("page server: parent in the images directory is not a link "
				       "cryo may replace");
				ret = -EEXIST;
				goto out;
			}
		}
		if (symlinkat(m->parent, s->dirfd, "parent") < 0) {
			ret = -errno;
			pr_errno(-ret, "page server: cannot make the parent link");
			goto out;
		}
	}
	s->hello = true;
	/* the dump waits for this before it touches its tree */
	struct ps_hdr ack = {PS_ACK, 0, 0};
	if ((ret = conn_send(s->conn, &ack, sizeof(ack))))
		goto out;
	pr_info("page server: a %s from %s%s%s", m->pre_dump ? "pre-dump" : "dump", s->conn->peer,
		m->parent ? ", parent " : "", m->parent ? m->parent : "");
out:
	page_server_hello__free_unpacked(m, NULL);
	return ret;
}

static int on_open(struct session *s, struct ps_hdr *h)
{
	uint32_t codec;
	int fd;

	if (h->id < 1 || h->id > PS_PID_MAX || h->len != sizeof(codec))
		return bad(s, "opened the pages of task %u with %lu bytes", h->id, h->len);
	memcpy(&codec, s->buf, sizeof(codec));
	if (codec > 1)
		return bad(s, "opened pages-%u.img with codec %u", h->id, codec);
	if (s->cur)
		return bad(s, "opened pages-%u.img while pages-%u.img is open", h->id, s->cur);
	if (find_img(s, h->id))
		return bad(s, "opened pages-%u.img a second time", h->id);
	if (s->nr_imgs >= PS_TASKS_MAX)
		return bad(s, "sent more than %d page images", PS_TASKS_MAX);
	fd = img_raw_create(s->dirfd, codec ? IMG_PAGES_LZ4 : IMG_PAGES, h->id);
	if (fd < 0)
		return fd;
	s->cur = h->id;
	s->cur_fd = fd;
	s->cur_lz4 = codec;
	s->cur_bytes = 0;
	return 0;
}

static int on_data(struct session *s, struct ps_hdr *h)
{
	int ret;
	if (!s->cur || h->id != s->cur || !h->len)
		return bad(s, "sent %lu bytes of pages-%u.img, which is not open", h->len, h->id);
	if (s->cur_bytes + h->len > PS_IMAGE_MAX)
		return bad(s, "sent more than %llu bytes of pages-%u.img", PS_IMAGE_MAX, h->id);
	ret = write_all(s->cur_fd, s->buf, h->len);
	if (ret) {
		pr_errno(-ret, "page server: cannot write pages-%u.img", s->cur);
		return ret;
	}
	s->cur_bytes += h->len;
	return 0;
}

static int on_close(struct session *s, struct ps_hdr *h)
{
	char name[64];
	uint64_t total;
	int ret;

	if (!s->cur || h->id != s->cur || h->len != sizeof(total))
		return bad(s, "closed pages-%u.img, which is not open", h->id);
	memcpy(&total, s->buf, sizeof(total));
	if (total != s->cur_bytes)
		return bad(s, "closed pages-%u.img at %lu bytes, %lu were received", h->id, total,
			   s->cur_bytes);
	struct closed_img *n = realloc(s->imgs, (s->nr_imgs + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->imgs = n;
	img_name(IMG_PAGES, s->cur, name, sizeof(name));
	ret = img_close_synced(s->cur_fd, name);
	s->cur_fd = -1;
	n[s->nr_imgs++] = (struct closed_img){s->cur, s->cur_bytes, s->cur_lz4, false};
	s->cur = 0;
	return ret;
}

static int on_pagemap(struct session *s, struct ps_hdr *h)
{
	struct closed_img *img = find_img(s, h->id);
	Pagemap *pm;
	int ret;

	if (!img || img->pagemap || !h->len || h->len > IMG_META_MAX)
		return bad(s, "sent pagemap-%u.img (%lu bytes) without its pages, or twice", h->id,
			   h->len);
	pm = pagemap__unpack(NULL, h->len, s->buf);
	if (!pm)
		return bad(s, "sent a pagemap-%u.img that does not decode", h->id);
	bool lz4 = pm->has_pages_codec && pm->pages_codec == PAGES_CODEC__PAGES_LZ4;
	if (!pm->has_owner_pid || pm->owner_pid != h->id || pages_check_codec(h->id, pm) ||
	    lz4 != img->lz4 || pm->total_pages > PS_IMAGE_MAX / PAGE_SIZE ||
	    (!lz4 && pm->total_pages * PAGE_SIZE != img->bytes)) {
		ret = bad(s,
			  "sent a pagemap-%u.img that does not describe its pages (%lu pages, "
			  "%lu bytes received)",
			  h->id, pm->total_pages, img->bytes);
	} else {
		ret = img_write(s->dirfd, IMG_PAGEMAP, h->id, &pm->base);
		img->pagemap = !ret;
	}
	pagemap__free_unpacked(pm, NULL);
	return ret;
}

static int on_inventory(struct session *s, struct ps_hdr *h)
{
	Inventory *inv;
	int ret;

	if (s->inventory || s->cur || h->id || !h->len || h->len > IMG_META_MAX)
		return bad(s, "sent an inventory out of place");
	inv = inventory__unpack(NULL, h->len, s->buf);
	if (!inv)
		return bad(s, "sent an inventory that does not decode");
	if (inv->format_version != CRYO_FORMAT_VERSION || inv->page_size != PAGE_SIZE ||
	    inv->root_pid < 1 || inv->root_pid > PS_PID_MAX) {
		ret = bad(s, "sent an inventory of format %u, page size %u, root %u",
			  inv->format_version, inv->page_size, inv->root_pid);
	} else {
		ret = img_write(s->dirfd, IMG_INVENTORY, 0, &inv->base);
		s->inventory = !ret;
	}
	inventory__free_unpacked(inv, NULL);
	return ret;
}

static int on_done(struct session *s, struct ps_hdr *h)
{
	if (h->len || h->id || s->cur || !s->inventory)
		return bad(s, "finished with an image open or no inventory");
	for (size_t i = 0; i < s->nr_imgs; i++)
		if (!s->imgs[i].pagemap)
			return bad(s, "finished without pagemap-%u.img", s->imgs[i].pid);
	return sync_fd(s->dirfd);
}

/* One message: 1 when the dump is complete, 0 to go on, -errno. */
static int one_message(struct session *s)
{
	struct ps_hdr h;
	int eof, ret;

	ret = conn_recv(s->conn, &h, sizeof(h), &eof);
	if (ret) {
		pr_err("page server: the client (%s) %s before the end of the dump", s->conn->peer,
		       eof ? "went away" : "broke the connection");
		return ret;
	}
	if (!s->hello && h.type != PS_HELLO)
		return bad(s, "did not begin with a hello (message %u)", h.type);
	if (h.len > PS_DATA_MAX || (h.type != PS_PAGEMAP && h.type != PS_INVENTORY &&
				    h.type != PS_DATA && h.len > PS_HELLO_MAX))
		return bad(s, "sent message %u of %lu bytes", h.type, h.len);
	if (h.len && (ret = conn_recv(s->conn, s->buf, h.len, NULL))) {
		pr_err("page server: the client (%s) went away in the middle of a message",
		       s->conn->peer);
		return ret;
	}
	switch (h.type) {
	case PS_HELLO:
		return on_hello(s, &h);
	case PS_OPEN:
		return on_open(s, &h);
	case PS_DATA:
		return on_data(s, &h);
	case PS_CLOSE:
		return on_close(s, &h);
	case PS_PAGEMAP:
		return on_pagemap(s, &h);
	case PS_INVENTORY:
		return on_inventory(s, &h);
	case PS_DONE:
		return on_done(s, &h) ?: 1;
	default:
		return bad(s, "sent an unknown message type %u", h.type);
	}
}

/* A dump that did not finish leaves no checkpoint here: every image it sent goes. */
static void drop_partial(struct session *s)
{
	char name[64];
	for (size_t i = 0; i < s->nr_imgs; i++) {
		img_name(IMG_PAGES, s->imgs[i].pid, name, sizeof(name));
		dir_unlink(s->dirfd, name);
		img_name(IMG_PAGEMAP, s->imgs[i].pid, name, sizeof(name));
		if (s->imgs[i].pagemap)
			dir_unlink(s->dirfd, name);
	}
	if (s->cur) {
		close(s->cur_fd);
		s->cur_fd = -1;
		img_name(IMG_PAGES, s->cur, name, sizeof(name));
		dir_unlink(s->dirfd, name);
	}
	dir_unlink(s->dirfd, "inventory.img");
}

static int serve(struct session *s)
{
	struct ps_hdr ack = {PS_ACK, 0, 0};
	int ret;

	while (!(ret = one_message(s)))
		;
	if (ret < 0) {
		drop_partial(s);
		ack.id = -ret;
		conn_send(s->conn, &ack, sizeof(ack)); /* the reason, if it still listens */
		return ret;
	}
	ret = conn_send(s->conn, &ack, sizeof(ack));
	if (ret)
		pr_errno(-ret, "page server: cannot confirm the dump to %s", s->conn->peer);
	return ret;
}

int ps_recv_hello(struct ps_conn *c, uint8_t *buf, struct ps_hdr *h)
{
	int eof, ret = conn_recv(c, h, sizeof(*h), &eof);
	if (ret) {
		pr_err("page server: the client (%s) %s before its hello", c->peer,
		       eof ? "went away" : "broke the connection");
		return ret;
	}
	if (h->type != PS_HELLO || h->id || !h->len || h->len > PS_HELLO_MAX) {
		pr_err("page server: the client (%s) did not begin with a hello (message %u, %lu "
		       "bytes): dropping the connection",
		       c->peer, h->type, h->len);
		return -EPROTO;
	}
	if ((ret = conn_recv(c, buf, h->len, NULL)))
		pr_err("page server: the client (%s) went away in the middle of its hello",
		       c->peer);
	return ret;
}

int ps_serve_dump(int dirfd, struct ps_conn *c, const struct ps_hdr *h, const uint8_t *hello,
		  bool migrate, size_t *nr_imgs)
{
	struct session s = {.dirfd = dirfd, .cur_fd = -1, .conn = c, .migrate = migrate};
	struct ps_hdr hh = *h;
	int ret;

	s.buf = malloc(PS_DATA_MAX);
	if (!s.buf)
		return -ENOMEM;
	memcpy(s.buf, hello, h->len);
	ret = on_hello(&s, &hh);
	if (ret) {
		struct ps_hdr ack = {PS_ACK, (uint32_t)-ret, 0};
		conn_send(c, &ack, sizeof(ack));
	} else {
		ret = serve(&s);
	}
	if (nr_imgs)
		*nr_imgs = s.nr_imgs;
	if (s.cur_fd >= 0)
		close(s.cur_fd);
	free(s.imgs);
	free(s.buf);
	return ret;
}

int ps_listen_start(const struct cryo_page_server_opts *o, int dirfd, const char *who)
{
	int lfd;

	if (o->port <= 0 || o->port > 65535) {
		pr_err("%s needs --port (1 to 65535)", who);
		return -EINVAL;
	}
	lfd = conn_listen(o->address, o->port);
	if (lfd < 0)
		return lfd;
	int ret = server_detach(o->daemon, dirfd, o->pidfile, who);
	if (ret) {
		close(lfd);
		return ret;
	}
	pr_info("%s: listening on %s port %d for %s", who,
		o->address ? o->address : "every address", o->port, o->images_dir);
	if (o->status_fd >= 0)
		status_fd_notify(o->status_fd);
	return lfd;
}

int ps_accept(int lfd, struct ps_conn *c, const struct cryo_tls_opts *tls, const char *who)
{
	int fd;

	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		int ret = -errno;
		pr_errno(-ret, "%s: accept failed", who);
		return ret;
	}
	return conn_accept(c, fd, tls);
}

int cryo_page_server(const struct cryo_page_server_opts *o)
{
	struct ps_conn conn = {.fd = -1};
	struct ps_hdr h;
	uint8_t hello[PS_HELLO_MAX];
	size_t nr = 0;
	int dirfd, lfd = -1, ret;

	if (o->port <= 0 || o->port > 65535) {
		pr_err("page-server needs --port (1 to 65535)");
		return -EINVAL;
	}
	dirfd = dir_open_root(o->images_dir);
	if (dirfd < 0) {
		pr_errno(-dirfd, "page server: cannot open images directory %s", o->images_dir);
		return dirfd;
	}
	lfd = ret = ps_listen_start(o, dirfd, "page server");
	if (lfd >= 0)
		ret = ps_accept(lfd, &conn, &o->tls, "page server");
	/* one client per run: a second one is refused at once */
	if (lfd >= 0)
		close(lfd);
	if (!ret)
		ret = ps_recv_hello(&conn, hello, &h);
	if (!ret)
		ret = ps_serve_dump(dirfd, &conn, &h, hello, false, &nr);
	if (!ret)
		pr_info("page server: the dump from %s is complete (%zu page images)", conn.peer,
			nr);
	conn_close(&conn);
	close(dirfd);
	return ret > 0 ? 0 : ret;
}
