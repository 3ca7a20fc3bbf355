/* Incremental image sets at restore: the chain of parents (res/parent.c). */
#ifndef CRYO_PARENT_H
#define CRYO_PARENT_H

struct restore_ctx;
struct restore_task;

/* When the task's pagemap has pages in the parent: its pages resolved through the chain of
 * parent image sets into one page image (a memfd, t->pages_fd_local) and one pagemap without
 * in_parent runs (t->pagemap), every level checked. 0 or -errno, logged. */
int parent_merge(struct restore_ctx *ctx, struct restore_task *t);

#endif
