/* Socket options any family has (sockopt.c): read from cryo's copy of a socket at dump, set
 * again on the new socket at restore. Buffers and timeouts go first (before the queued data
 * is written back: the send buffer bounds it); the rest last (SO_PASSCRED would make a
 * connect or send bind the socket to an automatic name). */
#ifndef CRYO_FILES_SOCKOPT_H
#define CRYO_FILES_SOCKOPT_H

#include "core/dump_ctx.h"
#include "core/restore_ctx.h"

/* Dump: the options of socket `sk` (cryo's copy of fd `fd` of task `pid`); NULL after
 * logging. */
struct inet_opts_pre;
SkOpts *sockopt_dump(struct dump_ctx *ctx, pid_t pid, int fd, int sk,
		     const struct inet_opts_pre *pre);
/* Restore, child phase (child_fail on error, -1): what is the dumped fd `fd`. */
int sockopt_restore_early(struct restore_task *t, int fd, int sk, const SkOpts *o);
int sockopt_restore_late(struct restore_task *t, int fd, int sk, const SkOpts *o);
/* The classic BPF filter and its lock (SO_LOCK_FILTER): a packet or netlink socket's before
 * it is bound (no packet comes in unfiltered), a unix socket's after its queue is written
 * back (that data passed the filter once already). */
int sockopt_restore_filter(struct restore_task *t, int fd, int sk, const SkOpts *o);
/* Image checks; refuse naming img and fd. */
int sockopt_validate(const char *img, int fd, const SkOpts *o);

#endif
