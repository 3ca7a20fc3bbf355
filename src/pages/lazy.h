/* Lazy restore (post-copy) of private anonymous memory: the daemon `cryo lazy-pages`
 * (lazy_server.c), its guard (lazy_guard.c) and the wire format (lazy_proto.h). The restore's
 * side is res/lazy.c. */
#ifndef CRYO_PAGES_LAZY_H
#define CRYO_PAGES_LAZY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The guard: a process of its own that holds a copy of every userfaultfd the daemon serves
 * and, should the daemon end before a task's memory is complete (killed, crashed), kills that
 * task rather than let it run on with pages that would read as zeros (its copy keeps the
 * missing pages missing meanwhile: the task waits, it never sees wrong memory). */
struct lazy_guard {
	int fd; /* the daemon's end; -1: none */
	pid_t pid;
};

/* Start the guard; it closes the daemon's descriptors drop[0..n) (the listening socket...),
 * holding only what it is given. 0 or -errno, logged. */
int lazy_guard_start(struct lazy_guard *g, const int *drop, int n);
/* Give the guard a copy of uffd, the memory of task pid (pidfd: a pidfd of it), or, for an
 * address space made by fork after the restore (pid 0), of a child of parent. id: the
 * daemon's name for it. */
int lazy_guard_add(struct lazy_guard *g, uint32_t id, int uffd, int pidfd, pid_t pid, pid_t parent);
/* Its memory is complete, or it is gone: the guard lets it go. */
int lazy_guard_drop(struct lazy_guard *g, uint32_t id);
/* After its drop, a task whose memory is complete but whose source (a dump --lazy-pages) has
 * not ended its tree yet: killed too if the daemon ends without lazy_guard_finish */
int lazy_guard_hold(struct lazy_guard *g, uint32_t id, int pidfd, pid_t pid);
/* Every memory is complete: the guard ends without killing anything. */
void lazy_guard_finish(struct lazy_guard *g);

#endif
