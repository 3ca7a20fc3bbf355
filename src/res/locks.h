#ifndef CRYO_RES_LOCKS_H
#define CRYO_RES_LOCKS_H
#include <stddef.h>
struct dump_ctx;
struct dump_task;
struct restore_ctx;
struct restore_task;
/* File locks held through the task's descriptors (fdinfo "lock:" lines), noted fd by fd
 * by the descriptor walk, from the fdinfo it read. Without --file-locks each is named and the
 * dump refused (-ENOTSUP); with it, they are kept in t->locks at the walk's end. Leases are
 * always refused. */
struct lock_walk {
	struct seen_lock *seen;
	size_t n, cap;
	int refused;
};
int locks_note(struct dump_ctx *ctx, struct dump_task *t, struct lock_walk *w, int fd,
	       char *fdinfo);
int locks_walk_end(struct dump_ctx *ctx, struct dump_task *t, struct lock_walk *w);
/* The image's locks, each fd among the task's descriptors. */
int locks_validate(struct restore_task *t);
/* Take them again in the restored task (remote calls), before it runs. */
int restore_locks_remote(struct restore_ctx *ctx, struct restore_task *t);
#endif
