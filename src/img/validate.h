/* Checks of image content made before any task is created (validate.c), and the reading of a
 * whole images directory into a restore context (core/restore_images.c), which runs them. */
#ifndef CRYO_VALIDATE_H
#define CRYO_VALIDATE_H

struct restore_ctx;
struct restore_task;

/* The ids of pstree.img: ranges, and no id used twice among tasks and threads. */
int validate_tree_ids(struct restore_ctx *ctx);
/* Every value of one live task's core, mm, files and pagemap images that can be checked
 * without the kernel, and the ids that refer to other images. */
int validate_task(struct restore_ctx *ctx, struct restore_task *t);

/* Read and check every image of ctx->dirfd into ctx (inventory, tree, each task's images);
 * creates nothing. Returns 0 or -errno, logged naming the image and the field. */
int restore_read_images(struct restore_ctx *ctx);
/* Free what restore_read_images allocated (also after a failure); ctx->dirfd stays open. */
void restore_images_free(struct restore_ctx *ctx);

#endif
