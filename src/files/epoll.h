/* Inside src/files/: what epoll.c (the epoll kind) shares with epoll_oneshot.c (the one-shot
 * registrations that fired, disarmed again at restore). */
#ifndef CRYO_FILES_EPOLL_H
#define CRYO_FILES_EPOLL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "files/kind.h"

/* the bits the kernel keeps in a one-shot registration that fired */
#define EP_FLAG_BITS (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)
#define EP_POLL_BITS                                                                               \
	(EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDNORM | EPOLLRDBAND |         \
	 EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP)

/* A one-shot registration that fired: only its flag bits left */
static inline bool epoll_disarmed(uint32_t events)
{
	return (events & EPOLLONESHOT) && !(events & ~EP_FLAG_BITS);
}

/* The fd of the task that holds a registration's file (its key, unless saved apart) */
static inline int epoll_target_source(const EpollTarget *tg)
{
	return tg->has_src_fd ? tg->src_fd : tg->fd;
}

/* The entries of a task's image by fd number (images of thousands of fds: no scans). */
struct fd_index {
	const Files *f;
	int *at; /* entry index at each number, -1: none */
	int max;
};

/* The index in f->fds of the entry at fd, or -1. */
static inline int epoll_entry_at(const struct fd_index *x, int fd)
{
	return fd >= 0 && fd <= x->max ? x->at[fd] : -1;
}

/* epoll.c: tg added to the epoll e with `events`, its file put at its key for the call. -1
 * after child_fail. */
int epoll_add_one(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
		  const EpollTarget *tg, uint32_t events);

/* epoll_oneshot.c. Dump: why a fired one-shot registration on the file at fd of task pid could
 * not be made to fire again at restore (to disarm it), or NULL if it can. */
const char *epoll_oneshot_unfireable(pid_t pid, int fd);
/* Restore, on the empty epoll e: its fired one-shot registrations added and disarmed, before
 * any other is added. -1 after child_fail. */
int epoll_oneshot_disarm(struct restore_ctx *ctx, struct restore_task *t, const struct fd_index *x,
			 const FdEntry *e);

#endif
