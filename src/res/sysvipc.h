/* System V IPC objects (shared memory segments, semaphore sets, message queues) of cryo's
 * IPC namespace that the tree uses: saved in ipc.img (and sysvshm-ID.img for the pages of a
 * segment), made again with the same ids and keys. The rule of which objects are saved is in
 * docs/design.md ("System V IPC"). */
#ifndef CRYO_RES_SYSVIPC_H
#define CRYO_RES_SYSVIPC_H

#include <stdbool.h>

struct dump_ctx;
struct dump_task;
struct restore_ctx;
struct restore_task;

/* A task with a semaphore undo list (semop with SEM_UNDO), whose adjustments no interface
 * shows, is refused (-ENOTSUP) while any semaphore set exists, naming it and the thread. */
int sysv_check_undo(struct dump_ctx *ctx, struct dump_task *t);
/* ... once every task was checked: the process it compares with ends */
void sysv_undo_ref_end(struct dump_ctx *ctx);
/* Once every task's memory is read: the objects of the namespace, which of them the tree
 * uses (saved, the pages of each attached segment written to its image) and which are left
 * as they are (logged). Refuses a segment attached outside the tree, or in part. */
int sysv_dump(struct dump_ctx *ctx);
/* ipc.img, written with the other images */
int sysv_write_image(struct dump_ctx *ctx);

/* Restore: read ipc.img and check it, and every attach of
 * the layouts against it; after every task's images are read. */
int sysv_read_images(struct restore_ctx *ctx);
/* Before the tree is created: each object made again with its id (the namespace's
 * *_next_id), or the existing object taken if it is the same one; refuses otherwise. */
int sysv_restore_objects(struct restore_ctx *ctx);
/* Once every task's memory is rebuilt, before its credentials: the last user of each
 * semaphore and queue (sempid, lspid, lrpid) made a task of the tree again where it was one,
 * by an operation of that task that leaves the object as it is (remote calls). */
int sysv_restore_remote(struct restore_ctx *ctx);
/* Once every task attached its segments: removed ones are removed again (IPC_RMID). */
int sysv_restore_finish(struct restore_ctx *ctx);
/* A failed restore: the objects it made are removed; the ones it took are left. */
void sysv_restore_abort(struct restore_ctx *ctx);
void sysv_restore_free(struct restore_ctx *ctx);

#endif
