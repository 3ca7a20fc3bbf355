/* Remote lazy restore: `cryo dump --lazy-pages --port P [--address A]` writes every image but
 * the private anonymous memory (whole VMAs: their places in the page images are holes, the
 * inventory lists them as lazyremote_ranges and names the source), keeps the tree frozen, and
 * serves those pages (lazy_source.c) to `cryo lazy-pages --page-server --address A --port P`
 * (lazy_fetch.c, for pages/lazy_server.c), which copies them in as the restored tree touches
 * them and pushes the rest in the background. The protocol is the page server's (proto.h):
 *   the daemon: HELLO          page_server_hello {version, lazyremote}; answered by ACK
 *               GET     pid    payload: struct lazyremote_get; answered by PAGES pid with
 *                              exactly nr_pages * 4096 bytes, or ACK with an errno
 *               DONE           every page is in (or its task gone); answered by ACK, then
 *                              the source kills its tree, as a dump does
 * A connection that ends before DONE, or breaks a rule, fails the dump: its tree runs on. */
#ifndef CRYO_PAGES_LAZY_REMOTE_H
#define CRYO_PAGES_LAZY_REMOTE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cryo/cryo.h"
#include "img/image.h"
#include "pages/conn.h"

#define LAZYREMOTE_GET_MAX 256		 /* pages of one GET: 1 MiB */
#define LAZYREMOTE_WAIT_S 120		 /* the dump waits this long for the daemon to connect */
#define LAZYREMOTE_RANGES_MAX (1u << 20) /* ranges of one dump */

/* The inventory's ranges are in (pid, start) order, apart: the last one at or below (pid,
 * addr), or -1. Both ends look ranges up this way, never one by one. */
static inline long lazyremote_find(LazyremoteRange *const *r, size_t n, uint32_t pid, uint64_t addr)
{
	long lo = 0, hi = (long)n - 1, best = -1;
	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;
		if (r[mid]->pid < pid || (r[mid]->pid == pid && r[mid]->start <= addr)) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best >= 0 && r[best]->pid == pid ? best : -1;
}

struct lazyremote_get {
	uint64_t vaddr;
	uint64_t nr_pages;
};

struct dump_ctx;

/* The dump's side (lazy_source.c). Before the tree is touched: listen (a port taken fails the
 * dump there). 0 or -errno, logged. */
int lazyremote_listen(struct dump_ctx *ctx);
/* dump_pages: the pages of [start, end) of task pid stay in the tree */
int lazyremote_add(struct dump_ctx *ctx, pid_t pid, uint64_t start, uint64_t end);
/* Before the inventory is written: the ranges in (pid, start) order */
void lazyremote_sort(struct dump_ctx *ctx);
/* Once the images are written: serve the daemon until its DONE. 0, or -errno (logged: the
 * dump fails and the tree is resumed). */
int lazyremote_serve(struct dump_ctx *ctx);
void lazyremote_free(struct dump_ctx *ctx);

/* The daemon's side (lazy_fetch.c) */
struct lazyremote_src {
	struct ps_conn conn;
	char where[96];
	bool dead; /* the connection failed: no page comes from it any more */
	uint64_t pages, gets;
};

/* Connect to the dump at address:port and say hello with the images' number (id: the
 * inventory's lazyremote_id). 0 or -errno, logged. */
int lazyremote_connect(struct lazyremote_src *s, const char *address, int port,
		       const struct cryo_tls_opts *tls, uint64_t id);
/* n pages (1 to LAZYREMOTE_GET_MAX) of task pid at vaddr into buf. 0 or -errno, logged; any
 * failure of the connection marks it dead. */
int lazyremote_get(struct lazyremote_src *s, pid_t pid, uint64_t vaddr, uint64_t n, void *buf);
/* Every page is in: DONE, answered. 0 or -errno, logged. */
int lazyremote_done(struct lazyremote_src *s);
void lazyremote_close(struct lazyremote_src *s);

#endif
