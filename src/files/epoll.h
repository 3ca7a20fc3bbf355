/* Inside src/files/: what epoll.c (the epoll kind) shares with epoll_source.c (the dump's search
 * for where each registration's file is held) and epoll_oneshot.c (the one-shot
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

/* One line of an epoll's fdinfo: a registration */
struct ep_line {
	int fd;
	uint32_t events;
	uint64_t data;
	uint64_t ino;  /* of the registered file, and its filesystem's device (the kernel's */
	uint32_t sdev; /* dev_t: major << 20 | minor); 0 when fdinfo does not say */
};

/* epoll_source.c (dump): where each registration's file is held. */
struct task_fd;
/* The task's fds, listed the first time a registration is not at its number. */
struct fd_list {
	struct task_fd *v;
	int n;
	bool loaded;
};

/* kcmp(KCMP_EPOLL_TFD): 0 if fd of task pid is the file of registration (tfd, toff) of epoll
 * epfd of the same task, else nonzero (-1 with errno on error) */
int epoll_kcmp_tfd(pid_t pid, int fd, int epfd, int tfd, int toff);
/* The fd of task pid that holds the file of registration l (the toff-th with its number of
 * epoll epfd): its number if it still does, else another fd of the task, else -1; -errno if
 * the fds cannot be listed (listed once into fds, freed by the caller: free(fds->v)). */
int epoll_find_source(pid_t pid, int epfd, const struct ep_line *l, int toff, struct fd_list *fds);
/* Held by no fd of task t: the first fd of another task of the tree that holds it, its pid
 * in *holder; -1 if none does, -errno if a task's fds cannot be listed. */
struct dump_ctx;
struct dump_task;
int epoll_find_other_source(struct dump_ctx *ctx, struct dump_task *t, int epfd,
			    const struct ep_line *l, int toff, pid_t *holder);
/* Why fd of task t cannot be a registration's source at restore (made after the epolls are
 * filled), or NULL. */
const char *epoll_late_source_at(struct dump_ctx *ctx, struct dump_task *t, int fd);
/* For each of the n lines, how many before it have its number (kcmp's toff). NULL: no
 * memory; the caller frees. */
int *epoll_toffs(const struct ep_line *l, int n);

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
