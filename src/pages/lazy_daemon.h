/* Inside src/pages/: the lazy-pages daemon's state, shared by its loop and copying
 * (lazy_server.c) and its side of the restore's connection (lazy_conn.c: the socket, the
 * tasks' userfaultfds and images as they come). */
#ifndef CRYO_PAGES_LAZY_DAEMON_H
#define CRYO_PAGES_LAZY_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pages/lazy.h"
#include "pages/lazy_space.h"

#define RUN_PAGES 256  /* one background UFFDIO_COPY: 1 MiB */
#define FAULT_PAGES 16 /* a fault's page and the ones after it */

struct daemon {
	int dirfd, lfd, conn, epfd;
	struct lazy_guard guard;
	struct space **sp;
	size_t nr_sp;
	uint32_t next_id;
	bool restore_done, conn_gone;
	bool fatal; /* a memory the daemon cannot complete, of a process it cannot kill */
	int status;
	/* --page-server: the dump --lazy-pages that has the pages of LAZY_LEVEL_REMOTE runs,
	 * and a buffer for one answer of it (lazy_fetch.c) */
	struct lazyremote_src *src;
	uint8_t *rbuf;
	/* --page-server: the pidfds of the tasks whose memory is complete, kept until the
	 * source has ended its tree: if it does not (it failed, or went away), it runs on, and
	 * these must not run beside it */
	int *done_pidfds;
	size_t nr_done;
};

/* lazy_conn.c: space s watched and served from now on (its id given), the guard holding
 * its copy (a task the restore handed over, or a child forked since); 0 or -errno */
int lazy_add_space(struct daemon *d, struct space *s);

/* lazy_conn.c: the listening socket beneath DIR (made anew; anything else of that name, a
 * symbolic link above all, refused): its descriptor or -errno */
int lazy_listen_socket(struct daemon *d);
/* lazy_conn.c: take the one restore (d->conn); 0 or -errno */
int lazy_accept_restore(struct daemon *d);
/* lazy_conn.c: one message of the restore (a task, or its end); 0, or -errno (-EPROTO: the
 * restore broke the protocol, logged) */
int lazy_on_conn(struct daemon *d);
/* lazy_conn.c: the answer to the restore: status 0 or -errno */
int lazy_send_ack(struct daemon *d, int status);

#endif
