/* The page server's parts that `cryo migrate-target` (src/migrate/target.c) shares: listening
 * (with -d, --pidfile, --status-fd), accepting (with TLS), and one dump's session. */
#ifndef CRYO_PAGES_SERVER_H
#define CRYO_PAGES_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cryo/cryo.h"
#include "pages/conn.h"
#include "pages/proto.h"

/* Listen on o's address and port; with o->daemon in the background (the caller's process
 * exits there), the pid file and status fd done. who: for messages. The socket or -errno,
 * logged. */
int ps_listen_start(const struct cryo_page_server_opts *o, int dirfd, const char *who);
/* The next client of lfd, TLS set up. 0 or -errno, logged. */
int ps_accept(int lfd, struct ps_conn *c, const struct cryo_tls_opts *tls, const char *who);
/* The first message, which must be a HELLO: its header into h, its payload into buf
 * (PS_HELLO_MAX bytes). 0 or -errno, logged. */
int ps_recv_hello(struct ps_conn *c, uint8_t *buf, struct ps_hdr *h);
/* One dump's pages into dirfd, from its hello (h, hello) to its DONE, answered; migrate: the
 * hello may carry migrate-target's fields. nr_imgs: the page images received. 0 or -errno
 * (logged; what was partly written is removed). */
int ps_serve_dump(int dirfd, struct ps_conn *c, const struct ps_hdr *h, const uint8_t *hello,
		  bool migrate, size_t *nr_imgs);

#endif
