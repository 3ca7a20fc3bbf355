/* Room for a restore's own descriptors ("service fds": the log, the images directory, the
 * objects every task shares, each task's page image and mapped files). They go at numbers
 * no descriptor of the tree has (and none of cryo's own at the start of the restore), lowest
 * first, below cryo's RLIMIT_NOFILE hard limit: the tasks inherit cryo's limit and get their
 * own only after the service fds are closed. A tree whose numbers leave no room for them
 * cannot be restored: the dump refuses it (fd_room_check), the restore fails before it
 * creates anything. */
#ifndef CRYO_FD_ROOM_H
#define CRYO_FD_ROOM_H

#include <stddef.h>
#include <stdint.h>

#include "img/image.h"

struct fd_room {
	uint64_t *used; /* a bit per number below limit: a task's, cryo's, or taken already */
	int limit;	/* cryo's hard RLIMIT_NOFILE (at most FILES_MAX_FD) */
	int next;	/* every number below it is used */
	int n_used;	/* numbers below limit used by the tree and cryo (not taken) */
	int over;	/* numbers taken past the limit: no room */
	int *taken;	/* the numbers handed out, in increasing order */
	int n_taken, cap_taken;
};

/* The limit the tasks of a restore by this cryo have while they are rebuilt: cryo's hard
 * limit; its soft limit is raised to it (raise != 0). */
int fd_room_limit(int raise);
int fd_room_init(struct fd_room *r, int limit);
void fd_room_free(struct fd_room *r);
/* A number the tree (or cryo) uses; one at or past the limit counts in `over`-checks of the
 * caller (fd_room_use returns -1 for it). */
int fd_room_use(struct fd_room *r, int fd);
/* Every number of a task's table: its fds and the keys its epolls are filled with. Returns
 * the highest one at or past the limit, or -1. */
int fd_room_use_files(struct fd_room *r, const Files *f);
/* Every descriptor cryo holds now. */
int fd_room_use_own(struct fd_room *r);
/* The lowest free number, taken; past the limit when there is none (then r->over > 0). */
int fd_room_take(struct fd_room *r);
/* Is fd one handed out (a service fd)? */
int fd_room_is_taken(const struct fd_room *r, int fd);

/* At most how many numbers a restore takes for one task's images (its share of the globals
 * included), and for the whole tree besides (cryo's own, the four fixed ones, a margin for the
 * moments a descriptor is made before it is moved to its place). An --inherit-fd the restore
 * is given adds one per descriptor it stands for: the restore checks what it takes itself. */
size_t fd_room_task_need(const Files *f, const Mm *m);
size_t fd_room_tree_need(int nr_tasks);

struct dump_ctx;
/* Dump, once every task's descriptors and mappings are known: -ENOTSUP (said why) if the
 * restore would find too few free numbers (fd_room_dump.c). */
int fd_room_check(struct dump_ctx *ctx);

#endif
