/* Inside src/files/: what pipe.c (pipes and the pipe inside every FIFO) shares with
 * pipe_outside.c (the holders outside the tree, --external): the dump's table of the tree's
 * pipe objects. */
#ifndef CRYO_FILES_PIPE_H
#define CRYO_FILES_PIPE_H

#include <stdbool.h>
#include <stdint.h>

#include "files/kind.h"

/* One pipe object of the tree (a pipe or the pipe of a FIFO), all its descriptions */
struct pipe_obj {
	uint64_t dev, ino;
	uint32_t id;
	bool fifo;
	FdEntry *carrier;
	const char *path;     /* FIFO: its path (arena) */
	int any_task, any_fd; /* the first description of it in the tree */
	int r_task, r_fd;     /* one with read access, r_task -1 if none */
	bool has_w;	      /* one with write access */
	bool direct;	      /* a write description is in packet mode (O_DIRECT) */
	bool outside;	      /* held outside the tree: refused already */
	bool external;	      /* ... or named by --external: saved by its key alone */
	bool r_inflight;      /* a description with read access is in flight (inflight.c) */
	bool w_inflight;      /* ... one with write access */
	struct pipe_desc {    /* its descriptions saved so far, for shared_find */
		int task, fd;
		FdEntry *e;
	} * descs;
	uint32_t nr_descs, cap_descs;
};

struct pipe_table {
	struct pipe_obj *objs;
	uint32_t n, cap;
	uint32_t *hash; /* open addressing: index + 1, 0 empty */
	uint32_t hcap;
	uint64_t pipefs_dev;
	bool has_fifo;
};

/* The object of (dev, ino), or NULL (pt may be NULL) */
struct pipe_obj *pipe_table_find(struct pipe_table *pt, uint64_t dev, uint64_t ino);
/* A copy of the description at fd of task idx (the same open file description); pidfds: one
 * per task, -1 until opened. -1 (logged) if it cannot be taken. */
int pipe_take_copy(struct dump_ctx *ctx, int *pidfds, int idx, int fd);

/* pipe_outside.c. Every other process's descriptors looked at (the walk of core/others.c,
 * after it): an object held outside the tree is refused by name (-ENOTSUP, naming
 * --external), or marked external if --external names it. */
int pipe_scan_outside(struct dump_ctx *ctx);
/* One object, before its size and bytes are read: saved as external (1) when it is, or an end
 * missing from the tree is held elsewhere and --external names it; refused (-ENOTSUP) when
 * such an end is not named; 0 when the tree holds it whole (the caller saves it). */
int pipe_outside_end(struct dump_ctx *ctx, struct pipe_obj *o, int *pidfds);
/* Warnings for each --external that named no external pipe of the tree */
void pipe_externals_note(struct dump_ctx *ctx);

#endif
