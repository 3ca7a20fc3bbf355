/* Incremental image sets at restore: the chain of parents (res/parent.c). */
#ifndef CRYO_PARENT_H
#define CRYO_PARENT_H

#include <stdint.h>

struct restore_ctx;
struct restore_task;

/* When the task's pagemap has pages in the parent: its pages resolved through the chain of
 * parent image sets into one page image (a memfd, t->pages_fd_local) and one pagemap without
 * in_parent runs (t->pagemap), every level checked. 0 or -errno, logged. */
int parent_merge(struct restore_ctx *ctx, struct restore_task *t);

/* --lazy-pages: parent_merge resolves the chain but copies no page (the merged image is left
 * sparse, t->chain keeps each level's page image): what cryo or the task reads itself is
 * copied in first by parent_fill, what the lazy-pages daemon brings in it takes from the
 * levels themselves (parent_lazy_runs). */
struct lazy_run;
/* The pages of [vaddr, vaddr + len) copied into the merged image, if they are not yet.
 * 0 or -errno, logged. */
int parent_fill(struct restore_task *t, uint64_t vaddr, uint64_t len);
/* The runs of the merged image (vaddr, nr_pages, off into the merged image) said by level:
 * each level's run with the image index in its offset (lazy_proto.h) into *out (allocated),
 * *nr_out of them; the levels' descriptors, in that order, into fds (*nr_fds). 0 or
 * -errno. */
int parent_lazy_runs(const struct restore_task *t, const struct lazy_run *runs, uint32_t nr,
		     struct lazy_run **out, uint32_t *nr_out, int *fds, int *nr_fds);
void parent_chain_free(struct restore_task *t);

#endif
