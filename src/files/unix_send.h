/* A queued message of a unix socket sent again at restore, with its credentials
 * (unix_send.c). */
#ifndef CRYO_FILES_UNIX_SEND_H
#define CRYO_FILES_UNIX_SEND_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "core/restore_ctx.h"

/* The pids the root holds with zombies of its own while it writes the queues. */
struct unix_holds {
	pid_t *pids;
	size_t n, cap;
};

/* Send m's bytes on fd (to `to` when not NULL), with its credentials when it has them and
 * the descriptors fds[0..nfds) (SCM_RIGHTS, at most 253); urgent data (m->oob) with MSG_OOB,
 * the empty buffer of a byte read then read by rcv, the receiving socket. 0, or -1 with errno
 * (logged only when a pid could not be held or a byte not read back). */
int unix_send_msg(struct restore_ctx *ctx, struct unix_holds *h, int fd, int rcv, const UnixMsg *m,
		  const int *fds, size_t nfds, const struct sockaddr_un *to, socklen_t tolen);
/* Every held pid reaped (free again for the tree's tasks). */
void unix_holds_release(struct unix_holds *h);

#endif
