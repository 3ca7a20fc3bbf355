/* The restore's side of a lazy restore (--lazy-pages): the lazy-pages daemon's socket, and
 * each task's memory handed over to it (pages/lazy_proto.h). */
#ifndef CRYO_RES_LAZY_H
#define CRYO_RES_LAZY_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include "pages/lazy_proto.h"

struct restore_ctx;
struct restore_task;

/* The features a lazy task's userfaultfd asks for: the daemon follows the address space */
#define LAZY_UFFD_FEATURES                                                                         \
	(UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE |          \
	 UFFD_FEATURE_EVENT_UNMAP)

/* Before anything is created: connect to the daemon (ctx->lazy_fd) and check that this
 * kernel's userfaultfd has what it needs. 0 or -errno, logged: no daemon, no restore. */
int lazy_connect(struct restore_ctx *ctx);
/* The task's userfaultfd (its ranges registered), its page image and its runs to the
 * daemon; 0 once the daemon took them, or -errno, logged. */
int lazy_send_task(struct restore_ctx *ctx, struct restore_task *t, int uffd,
		   const struct lazy_range *ranges, uint32_t nr_ranges, const struct lazy_run *runs,
		   uint32_t nr_runs);
/* dump --lazy-pages (inventory lazyremote_ranges): every range names a task of the tree and
 * is exactly one private anonymous VMA of it. 0 or -EINVAL, logged. */
int lazy_remote_validate(const struct restore_ctx *ctx);
/* Are the pages of [start, start+len) of task t at the dump's source (1), or in the image
 * (0)? Checked ranges are whole VMAs: a run is in one or out of all. */
bool lazy_remote_at(const struct restore_ctx *ctx, const struct restore_task *t, uint64_t start,
		    uint64_t len);
/* The tree runs: every task was sent. 0 or -errno, logged. */
int lazy_done(struct restore_ctx *ctx);
void lazy_close(struct restore_ctx *ctx);

#endif
