/* Open file descriptors, as the drivers see them: one call per task at dump, and the restore
 * side's checks, plan and child-phase rebuild. Everything else about descriptors is inside
 * src/files/ (see kind.h and docs/design.md, "how to add a descriptor kind"). */
#ifndef CRYO_FILES_H
#define CRYO_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "img/image.h"

struct dump_ctx;
struct dump_task;
struct restore_ctx;
struct restore_task;
struct svc_file;

#define FILES_MAX_FD (1 << 20)

/* Dump: every descriptor of t, each by its kind. A descriptor cryo cannot save does not stop
 * the walk: every one of them is named (per task, per kind, with the fd numbers), then
 * -ENOTSUP is returned. */
int dump_files(struct dump_ctx *ctx, struct dump_task *t);
/* ... then, once for the whole tree: what needs every task's descriptors (pipes: who holds
 * each end, the bytes in them). -ENOTSUP after naming every refusal. */
int dump_files_finish(struct dump_ctx *ctx);

/* Restore, before anything exists: every value of files-PID.img (called by img/validate.c) */
int files_validate(struct restore_ctx *ctx, struct restore_task *t);
/* ... descriptions shared between tasks become global objects (opened once, by the root) */
int files_plan(struct restore_ctx *ctx, struct restore_task *t);
int files_max_fd(const Files *f);

/* Child phase, inside the new task: every descriptor at its number (failures: child_fail) */
int restore_files_child(struct restore_ctx *ctx, struct restore_task *t);
/* ... and in the root (or the task `by` that makes its object: a unix pair's maker), one
 * shared description at its service fd, for all to inherit */
int restore_shared_desc_child(struct restore_ctx *ctx, struct svc_file *g, struct restore_task *by);
/* ... and one pipe or FIFO, with its bytes, at its service fds (pipe.c) */
int restore_pipe_global_child(struct restore_ctx *ctx, struct svc_file *g);
/* --inherit-fd (inherit.c): the root, before it closes cryo's descriptors, places a copy of
 * each at its service fd; cryo closes its own once the root has them */
int inherit_root_child(struct restore_ctx *ctx, struct restore_task *root);
void inherit_close(struct restore_ctx *ctx);
/* Remote phase, just before the task resumes: arm its timerfds (timerfd.c) */
int restore_timerfds_remote(struct restore_ctx *ctx, struct restore_task *t);

/* Files deleted while open (ghost.c): one ghost per deleted inode for the whole tree.
 * Dump: the ghost of the deleted file whose stat is st, found or made (its content read
 * through src, e.g. /proc/PID/map_files/A-B); its id into *id. -ENOTSUP logged. */
struct stat;
int ghost_note(struct dump_ctx *ctx, struct dump_task *t, const struct stat *st,
	       const char *orig_path, const char *src, uint32_t *id);
/* Is there a ghost of the file dev:ino already (an fd of the tree, the executable)? */
bool ghost_known(struct dump_ctx *ctx, uint64_t dev, uint64_t ino, uint32_t *id, uint64_t *size);
/* Is link (a /proc link text of a file whose stat is st) a deleted file's? Its old path into
 * orig then. A file really named "x (deleted)", which is at its path, is not. */
bool ghost_link_deleted(const char *link, const struct stat *st, char *orig, size_t len);
/* Restore: every ghost a global, made by the root before the tree (every reference checked) */
int ghost_plan(struct restore_ctx *ctx);
int restore_ghost_global_child(struct restore_ctx *ctx, struct svc_file *g);
/* "/proc/self/fd/N" of ghost id's service fd (valid in every task's child phase), or NULL */
const char *ghost_self_path(const struct restore_ctx *ctx, uint32_t id);

/* memfds (memfd.c): the objects, each made once by the root, before the tree */
int memfd_plan(struct restore_ctx *ctx);
int restore_memfd_global_child(struct restore_ctx *ctx, struct svc_file *g);
/* ... their seals, added from outside once every mapping is made (remote phase) */
int restore_memfd_seals(struct restore_ctx *ctx);
/* Dump: the memfd behind a mapping of task t (its id, and the object if it is new into v);
 * refuses naming the task and the mapping what cannot be saved; 1: not a memfd but a deleted
 * file of a tmpfs that looks like one (a ghost, res/mm.c). */
int memfd_dump_vma(struct dump_ctx *ctx, struct dump_task *t, unsigned dev_major,
		   unsigned dev_minor, uint64_t ino, Vma *v);
/* The memfds the dump met so far (and the device of their tmpfs into *dev); whether (dev,
 * ino) is one, with the task and the place ("fd 3") it was met first */
uint32_t memfd_dump_count(const struct dump_ctx *ctx, uint64_t *dev);
bool memfd_dump_holder(const struct dump_ctx *ctx, uint64_t dev, uint64_t ino, pid_t *pid,
		       const char **what);
/* The dev and ino of memfd id (below memfd_dump_count) */
void memfd_dump_key(const struct dump_ctx *ctx, uint32_t id, uint64_t *dev, uint64_t *ino);
/* Refuse a memfd of the tree that a process outside it holds too (memfd_outside.c): what the
 * walk of the processes outside the tree must read for it (core/others.h), said once every
 * descriptor of the tree is known (the tree's maps are read for the mappings, known to the
 * dump later); the check, once every mapping of the tree is known */
int memfd_outside_want(struct dump_ctx *ctx);
int memfd_scan_outside(struct dump_ctx *ctx);
/* Restore plan: the service fd a memfd mapping is mapped from */
int memfd_vma_fd(struct restore_ctx *ctx, const Vma *v);
/* Image checks of a memfd mapping's own fields (img/validate.c) */
int memfd_vma_validate(const char *img, const Vma *v);
/* Remote phase, each task in the tree's order (remote calls; errors logged, negative errno):
 * leases first, before its credentials (res/leases.c); the descriptors of late kinds
 * (pidfds), once its threads exist (late.c); the owners and O_ASYNC of its descriptions,
 * after its credentials (owner.c). */
int restore_leases_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_files_late(struct restore_ctx *ctx, struct restore_task *t);
int restore_owners_remote(struct restore_ctx *ctx, struct restore_task *t);

/* unix sockets (unix_sk_restore.c): the rules of the whole set, once every task's files
 * were planned; task t makes those it makes (the root all but the pairs other tasks made),
 * at their service fds, the root before the tree, another task before its descriptors */
int unix_plan_check(struct restore_ctx *ctx);
int restore_unix_child(struct restore_ctx *ctx, struct restore_task *t);
/* ... is the description of entry e (a unix socket) made by the root? */
bool unix_made_by_root(struct restore_ctx *ctx, const FdEntry *e);

#endif
