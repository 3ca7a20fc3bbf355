#ifndef CRYO_RES_LOCKS_H
#define CRYO_RES_LOCKS_H
struct dump_ctx;
struct dump_task;
struct restore_ctx;
struct restore_task;
/* File locks held through the task's descriptors (fdinfo "lock:" lines). Without
 * --file-locks each is named and the dump refused (-ENOTSUP); with it, they are kept in
 * t->locks. Leases are always refused. */
int dump_locks(struct dump_ctx *ctx, struct dump_task *t);
/* The image's locks, each fd among the task's descriptors. */
int locks_validate(struct restore_task *t);
/* Take them again in the restored task (remote calls), before it runs. */
int restore_locks_remote(struct restore_ctx *ctx, struct restore_task *t);
#endif
