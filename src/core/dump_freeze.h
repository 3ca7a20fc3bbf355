/* The dump's hold on the tree (dump_freeze.c): found, checked, seized and frozen; resumed or
 * killed at the end. Each returns 0 or -errno, logged with the task named, unless it says. */
#ifndef CRYO_CORE_DUMP_FREEZE_H
#define CRYO_CORE_DUMP_FREEZE_H

#include <sys/types.h>

#include "core/dump_ctx.h"

/* The root pid given: a live process, not a thread, not cryo itself */
int dump_check_root(struct dump_ctx *ctx, pid_t pid);
/* The task of pid in ctx, added (child of task index parent) if it is not there; NULL: no
 * memory */
struct dump_task *dump_add_task(struct dump_ctx *ctx, pid_t pid, int parent);
/* Every task of the tree seized and frozen, from the root down, children found as it goes */
int dump_freeze_tree(struct dump_ctx *ctx);
/* One task (its main thread), and then its other threads, seized and stopped again (a
 * pre-dump's second stop) */
int dump_freeze_task(struct dump_ctx *ctx, struct dump_task *t);
int dump_freeze_threads(struct dump_ctx *ctx, struct dump_task *t);
/* Let t go on exactly as it was (nothing logged on a task already gone) */
void dump_resume(struct dump_ctx *ctx, struct dump_task *t);
/* The dump succeeded: t killed */
int dump_kill_task(struct dump_ctx *ctx, struct dump_task *t);

#endif
