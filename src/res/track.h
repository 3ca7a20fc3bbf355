/* Memory tracking for incremental dumps (pre-dump, --prev-images-dir), without soft-dirty
 * bits: a userfaultfd in write-protect-async mode, kept in the task between cryo runs, and
 * PAGEMAP_SCAN's PAGE_IS_WRITTEN. See res/track.c. */
#ifndef CRYO_TRACK_H
#define CRYO_TRACK_H

#include <stdbool.h>
#include <stdint.h>

struct dump_ctx;
struct dump_task;

/* A span of pages unchanged since the parent image set: in the parent. */
struct track_range {
	uint64_t start, end;
};

/* --prev-images-dir: checked and opened (ctx->parent_dirfd) before the tree is touched. */
int track_open_parent(struct dump_ctx *ctx);
/* Once the tree is frozen: each task's tracking userfaultfd as the parent's images name it,
 * and every copy of one in the tree (the fd walk skips them). */
int track_find(struct dump_ctx *ctx);
/* With the task's remote area mapped: reads which pages are unchanged since the parent,
 * then closes every tracking descriptor the task holds (a copy in a child keeps the tracking
 * of its parent alive: layouts are read once every task's are closed); a final dump that
 * kills the tree leaves them (their end is the tree's; track_owns). */
int track_task(struct dump_ctx *ctx, struct dump_task *t);
/* Pre-dump, once track_task ran for every task (areas still mapped): saves mm, plans the
 * pages (read after the thaw, res/predump.c) and arms a new tracking, held by cryo. */
int track_predump(struct dump_ctx *ctx, struct dump_task *t);
/* A pre-dump after the thaw, before its pages are found: the clean spans of a tracking it
 * goes on with (kept), found as the task runs. */
int track_thawed(struct dump_task *t);
/* A pre-dump after the thaw: protect [start, start+len) with the new tracking, just before
 * the range is read (res/predump.c). */
void track_protect(struct dump_task *t, uint64_t start, uint64_t len);
/* A pre-dump stopped again after its pages were read: each task's descriptor number. */
int track_pick_fds(struct dump_ctx *ctx);
/* A pre-dump whose images are written: each task takes its new tracking descriptor. */
int track_install(struct dump_ctx *ctx);
/* A failed pre-dump: the tracking of every task is removed again (areas still mapped). */
void track_abort(struct dump_ctx *ctx);
/* The layout of a final dump that kept the tracking on: is [start, end) registered with the
 * task's tracking userfaultfd (then its "uw" VmFlag is cryo's, not the program's)? */
bool track_owns(const struct dump_task *t, uint64_t start, uint64_t end);
/* The fd walk: is fd cryo's own (a tracking userfaultfd)? */
bool track_hidden_fd(const struct dump_task *t, int fd);
/* The span from a (below end) that is all in the parent (*clean) or all not; its end. */
uint64_t track_span(const struct dump_task *t, uint64_t a, uint64_t end, bool *clean);
/* The `parent` symlink of the images directory, before the inventory is written. */
int track_write_parent_link(struct dump_ctx *ctx);
void track_free(struct dump_ctx *ctx);

/* Between track.c and track_install.c. The name of a level's token (a memfd, made by cryo):
 * the task shows it as /memfd:cryo-track (deleted). */
#define TRACK_TOKEN "cryo-track"
int track_make_token(struct dump_task *t);
/* One call made by the stopped task (its area mapped), its result or -errno. */
long track_task_call(struct dump_task *t, long nr, long a1, long a2, long a3);
/* The two lowest free descriptor numbers of a stopped task. */
int track_lowest_free(struct dump_task *t, int out[2]);

#endif
