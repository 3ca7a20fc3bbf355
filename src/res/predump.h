/* Pre-dump pages read after the thaw (res/predump.c). */
#ifndef CRYO_PREDUMP_H
#define CRYO_PREDUMP_H

#include <stdbool.h>
#include <stdint.h>

#include "images/cryo.pb-c.h"

struct dump_ctx;
struct dump_task;
struct page_plan;

/* While the tree is frozen: an empty plan, and the reads dump_pages() plans into it (src_fd
 * -1: process_vm_readv; else read through that descriptor at src_off, which the plan owns
 * from plan_own_fd() on). */
struct page_plan *plan_new(void);
/* The reads planned next are of a VMA the tracking registers (or not). */
void plan_vma(struct page_plan *p, bool tracked);
int plan_add(struct page_plan *p, uint64_t addr, uint64_t len, int src_fd, uint64_t src_off);
int plan_own_fd(struct page_plan *p, int fd); /* closes fd itself on a failure */
void plan_free(struct page_plan *p);
/* Once the tree runs again: the planned pages read into pages-PID.img. A range the task
 * unmapped or made unreadable since is dropped from the pagemap and named in its
 * predump_lost runs, for the next dump to read again. */
int predump_read_pages(struct dump_ctx *ctx, struct dump_task *t);
/* The next dump: the parent pagemap's predump_lost runs, checked (they are input), kept in
 * the task; then taken out of its clean spans once they are known. */
int predump_lost_load(struct dump_task *t, const Pagemap *pm, const char *dir);
int predump_lost_apply(struct dump_task *t);

#endif
