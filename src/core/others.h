/* What the processes outside the tree hold, as far as the dump's checks ask: one walk of
 * /proc per final dump (others.c), below the resource code that reads it. Four checks refuse
 * what the restore would cut off from such a process: a pipe or FIFO it holds too
 * (files/pipe_outside.c), a pseudo-terminal pair (files/pty.c), a memfd, shared anonymous
 * memory or a deleted file (files/memfd_outside.c), a thread of it traced by the tree
 * (res/tracees.c). Each says what it needs before the walk (others_want*), then reads the
 * records, which keep only what some check may match: most of a machine's descriptors and
 * mappings are never stored. */
#ifndef CRYO_CORE_OTHERS_H
#define CRYO_CORE_OTHERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct dump_ctx;

/* The parts of the walk the checks want (the threads' tracers are always read) */
enum {
	OTHERS_FD_LINKS = 1,   /* every fd's link: anonymous pipes (pipe:[INO]) kept */
	OTHERS_FD_PATHS = 2,   /* ... and a stat of each path: FIFOs, character devices kept */
	OTHERS_FD_DELETED = 4, /* ... a stat of each path that ends in " (deleted)": kept */
};

/* One descriptor of a process outside the tree */
struct other_fd {
	int fd;
	bool pipe;    /* an anonymous pipe: ino is its pipefs inode (from the link) */
	bool has_st;  /* the link is a path, stat()ed: dev, ino, rdev, mode */
	bool deleted; /* ... that ends in " (deleted)" */
	bool memfd;   /* ... and starts with "/memfd:" */
	uint32_t mode;
	uint64_t dev, ino, rdev;
};

/* One mapping of an object others_want_mapping named */
struct other_map {
	uint64_t start, end, dev, ino;
	bool shared;
};

/* A thread with a tracer (TracerPid) */
struct other_traced {
	pid_t tid, tracer;
};

/* One process outside the tree with something kept; its records are [first, first + nr) of
 * each array, in the order the kernel lists them */
struct other_proc {
	pid_t pid;
	uint32_t fd0, nr_fds;
	uint32_t map0, nr_maps;
	uint32_t traced0, nr_traced;
};

struct others {
	unsigned want;	     /* OTHERS_FD_* */
	uint64_t (*keys)[2]; /* (dev, ino) of the objects whose mappings are kept (malloc) */
	uint32_t nr_keys, cap_keys;
	bool walked;
	struct other_proc *procs;
	struct other_fd *fds;
	struct other_map *maps;
	struct other_traced *traced;
	uint32_t nr_procs, nr_fds, nr_maps, nr_traced;
	uint32_t cap_procs, cap_fds, cap_maps, cap_traced;
};

/* Before the walk: what a check will look for */
void others_want(struct dump_ctx *ctx, unsigned what);
int others_want_mapping(struct dump_ctx *ctx, uint64_t dev, uint64_t ino);
/* The walk, once: every process but cryo and the tree's. 0, or -errno (logged) */
int others_walk(struct dump_ctx *ctx);
/* The records, NULL before the walk */
const struct others *others_read(const struct dump_ctx *ctx);
void others_free(struct dump_ctx *ctx);

#endif
