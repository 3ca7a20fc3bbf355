#ifndef CRYO_RES_LOCKS_H
#define CRYO_RES_LOCKS_H
struct dump_ctx;
struct dump_task;
/* File locks and leases held through the task's descriptors (fdinfo "lock:" lines): refused,
 * each named, unless saved (--file-locks). */
int dump_check_locks(struct dump_ctx *ctx, struct dump_task *t);
#endif
