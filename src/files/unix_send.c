/* One queued message of a unix socket sent again at restore (unix_sk_restore.c,
 * write_queues), with the credentials the kernel kept with it at dump (unix_queue.c).
 *
 * A message with credentials is sent with SCM_CREDENTIALS naming them: the root has
 * CAP_SYS_ADMIN, CAP_SETUID and CAP_SETGID, which let a sender claim any pid, uid and gid of
 * its namespaces, as long as the pid exists (the kernel keeps a reference to it, and a reader
 * is told its number). The tree's own pids do not exist yet when the root writes the queues
 * (it does so before it creates any task), nor does a sender that ended before the dump: the
 * root then holds that pid a moment with a process of its own made with it (clone3 with
 * set_tid), which ends at once and stays a zombie until every queue is written; then it is
 * reaped and the pid is free again for the task that has it. The message keeps its
 * reference to the held pid, which still numbers it for every reader (the number is all a
 * reader of SCM_CREDENTIALS sees). A message without credentials is sent without any: both
 * ends' SO_PASSCRED come later (sockopt_restore_late). Urgent data (MSG_OOB) is sent with
 * MSG_OOB, one byte, at its place among the others (send_oob). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "files/unix_send.h"

/* The pid held by a new zombie of the root's; 0, or -1 with errno. */
static int hold_pid(struct restore_ctx *ctx, struct unix_holds *h, pid_t pid)
{
	siginfo_t si;
	long c;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		pid_t *n = realloc(h->pids, cap * sizeof(*n));
		if (!n)
			return errno = ENOMEM, -1;
		h->pids = n, h->cap = cap;
	}
	/* no exit signal: the root hears nothing of it, and reaps it itself (__WALL) */
	c = restore_create(ctx, pid, 0, 0, NULL);
	if (c == 0)
		_exit(0);
	if (c < 0)
		return -1;
	h->pids[h->n++] = (pid_t)c;
	/* a zombie now: its pid stays taken until it is reaped */
	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT | __WALL) < 0 && errno == EINTR)
		;
	return 0;
}

void unix_holds_release(struct unix_holds *h)
{
	for (size_t i = 0; i < h->n; i++)
		while (waitpid(h->pids[i], NULL, __WALL) < 0 && errno == EINTR)
			;
	free(h->pids);
	h->pids = NULL, h->n = h->cap = 0;
}

static ssize_t send_part(int fd, const void *data, size_t len, const UnixMsg *m, const int *fds,
			 size_t nfds, const struct sockaddr_un *to, socklen_t tolen, int flags)
{
	union {
		char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(253 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {(void *)data, len};
	struct msghdr mh = {.msg_name = (void *)to,
			    .msg_namelen = to ? tolen : 0,
			    .msg_iov = &iov,
			    .msg_iovlen = 1};
	size_t clen = (m->has_cred_pid ? CMSG_SPACE(sizeof(struct ucred)) : 0) +
		      (nfds ? CMSG_SPACE(nfds * sizeof(int)) : 0);
	if (nfds > 253)
		return errno = EINVAL, -1;
	if (clen) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.b, mh.msg_controllen = clen;
	}
	struct cmsghdr *c = clen ? CMSG_FIRSTHDR(&mh) : NULL;
	if (m->has_cred_pid) {
		/* validated: pid 1..2^22, no id -1 */
		struct ucred uc = {.pid = (pid_t)m->cred_pid,
				   .uid = (uid_t)m->cred_uid,
				   .gid = (gid_t)m->cred_gid};
		c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(uc));
		memcpy(CMSG_DATA(c), &uc, sizeof(uc));
		c = CMSG_NXTHDR(&mh, c);
	}
	if (nfds) {
		c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL | flags);
}

/* Urgent data sent again (unix_send.h): the byte with MSG_OOB, a buffer of its own that the
 * receiver's socket points to; the empty buffer of a byte read, as it came to be: a byte
 * sent so and read at once by rcv with recv(MSG_OOB) (SO_OOBINLINE off for the call: it
 * fails EINVAL inline), which leaves its buffer in place. */
static int send_oob(struct restore_ctx *ctx, struct unix_holds *h, int fd, int rcv,
		    const UnixMsg *m)
{
	char c = m->data.len ? (char)m->data.data[0] : 0;
	bool held = false;
	ssize_t n;

	for (;;) {
		n = send_part(fd, &c, 1, m, NULL, 0, NULL, 0, MSG_OOB);
		if (n < 0 && errno == ESRCH && m->has_cred_pid && !held) {
			/* the sender's pid is nobody's now: held, as for any message */
			if (hold_pid(ctx, h, (pid_t)m->cred_pid) < 0 && errno != EEXIST) {
				int err = errno;
				pr_err("cannot hold pid %u for a queued message's credentials: %s",
				       m->cred_pid, strerror(err));
				errno = err;
				return -1;
			}
			held = true;
			continue;
		}
		break;
	}
	if (n != 1)
		return n < 0 ? -1 : (errno = EIO, -1);
	if (m->data.len)
		return 0;
	int inl = 0, zero = 0;
	socklen_t il = sizeof(inl);
	if (getsockopt(rcv, SOL_SOCKET, SO_OOBINLINE, &inl, &il) < 0 ||
	    (inl && setsockopt(rcv, SOL_SOCKET, SO_OOBINLINE, &zero, sizeof(zero)) < 0))
		return -1;
	n = recv(rcv, &c, 1, MSG_OOB | MSG_DONTWAIT);
	int err = errno;
	if (inl && setsockopt(rcv, SOL_SOCKET, SO_OOBINLINE, &inl, sizeof(inl)) < 0)
		return -1;
	if (n != 1) {
		pr_err("cannot read back the urgent byte of a unix socket's queue: %s",
		       n < 0 ? strerror(err) : "none");
		errno = n < 0 ? err : EIO;
		return -1;
	}
	return 0;
}

int unix_send_msg(struct restore_ctx *ctx, struct unix_holds *h, int fd, int rcv, const UnixMsg *m,
		  const int *fds, size_t nfds, const struct sockaddr_un *to, socklen_t tolen)
{
	size_t off = 0;
	bool held = false;

	if (m->has_oob && m->oob)
		return send_oob(ctx, h, fd, rcv, m);
	while (off < m->data.len) {
		/* descriptors go with the first part: on a stream, the kernel's buffer they
		 * came in at dump (unix_queue.c), which must be sent as one again */
		ssize_t n = send_part(fd, m->data.data + off, m->data.len - off, m, fds, nfds, to,
				      tolen, 0);
		if (n > 0 && nfds && (size_t)n < m->data.len) {
			pr_err("a queued message of %zu bytes with descriptors in flight went in "
			       "parts (%zd bytes first): the reader would stop elsewhere",
			       m->data.len, n);
			errno = EMSGSIZE;
			return -1;
		}
		if (n < 0 && errno == ESRCH && m->has_cred_pid && !held) {
			/* the sender's pid is nobody's now: held for the message (a pid someone
			 * took meanwhile is there to be claimed: EEXIST, sent again) */
			if (hold_pid(ctx, h, (pid_t)m->cred_pid) < 0 && errno != EEXIST) {
				int err = errno;
				pr_err("cannot hold pid %u for a queued message's credentials: %s",
				       m->cred_pid, strerror(err));
				errno = err;
				return -1;
			}
			held = true;
			continue;
		}
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}
