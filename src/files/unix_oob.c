/* Urgent data (MSG_OOB) of a unix stream socket (CONFIG_AF_UNIX_OOB): found here, saved by
 * the queue dump from the kernel's buffers (unix_queue.c, unix_skb.c), sent again by the
 * restore (unix_send.c). SO_OOBINLINE itself is one of the SOL_SOCKET options every socket
 * keeps (sk_opts.tab).
 *
 * A send(MSG_OOB) puts its last byte in a buffer of its own, the socket's urgent byte: the
 * receiver reads it with recv(MSG_OOB) (or inline, with SO_OOBINLINE), a normal read stops
 * short before it, SIOCATMARK tells a reader at that point. Once it was read with
 * recv(MSG_OOB), its empty buffer stays where it was: reads still stop there, and SIOCATMARK
 * says 1 while it is first. None of this is in what a peek returns (a peek at an offset runs
 * on across the urgent byte, as if it were inline), so the queue dump alone would give the
 * byte back inline or lose the stop. Each trace is looked for here, on cryo's copy of the
 * socket, the task being frozen:
 *  - SIOCATMARK set: the reader is at a mark (an urgent byte first, or the empty buffer of
 *    one read);
 *  - a byte pending: recv(MSG_OOB | MSG_PEEK) returns it (with SO_OOBINLINE turned off for
 *    the call: it fails EINVAL on an inline socket);
 *  - the stop of a byte read earlier: a peek of the whole queue from its start, with
 *    SO_PASSCRED off (so that a change of sender does not stop it either), returns less
 *    than the queue holds.
 * Any of them makes the queue dump read the kernel's buffers, which show the urgent byte's
 * and the empty ones exactly (without them, the dump refuses naming what was found). */
#include <errno.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/log.h"
#include "files/unix_sk.h"

static int get_flag(int sk, int opt, int *v)
{
	socklen_t len = sizeof(*v);
	return getsockopt(sk, SOL_SOCKET, opt, v, &len);
}

static int set_flag(int sk, int opt, int v)
{
	return setsockopt(sk, SOL_SOCKET, opt, &v, sizeof(v));
}

/* 1 if an urgent byte is pending (not read yet), 0 if not, -errno */
static int oob_pending(int sk, int inline_on)
{
	char c;
	int ret = 0;

	if (inline_on && set_flag(sk, SO_OOBINLINE, 0) < 0)
		return -errno;
	if (inline_on)
		fault_point("unix socket: SO_OOBINLINE off for the urgent byte's peek", 0);
	ssize_t n = recv(sk, &c, 1, MSG_OOB | MSG_PEEK | MSG_DONTWAIT);
	if (n == 1)
		ret = 1;
	/* EINVAL: none (or not connected); the other errors of a stream whose peer is gone
	 * say nothing is there to read either */
	else if (n < 0 && errno != EINVAL && errno != EAGAIN && errno != ENOTCONN &&
		 errno != ECONNRESET && errno != EPIPE)
		ret = -errno;
	if (inline_on && set_flag(sk, SO_OOBINLINE, 1) < 0 && ret >= 0)
		ret = -errno;
	return ret;
}

/* The bytes a single peek from the queue's start returns, credentials left out (SO_PASSCRED
 * off, the peek offset -1 so it does not move); the caller puts both back. -errno. */
static ssize_t peek_all(int sk, size_t inq, int *ctrunc)
{
	char *buf = malloc(inq + 1);
	char cbuf[256];
	struct iovec iov = {buf, inq + 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};

	if (!buf)
		return -ENOMEM;
	if (set_flag(sk, SO_PASSCRED, 0) < 0 || set_flag(sk, SO_PEEK_OFF, -1) < 0) {
		free(buf);
		return -errno;
	}
	/* MSG_CMSG_CLOEXEC and a small control buffer: descriptors a stream carries make the
	 * peek stop too (the queue dump refuses them); they are closed, never kept */
	ssize_t n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int err = errno;
	*ctrunc = 0;
	if (n >= 0)
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (size_t i = 0; i < k; i++)
					close(((int *)CMSG_DATA(c))[i]);
				*ctrunc = 1;
			}
	if (n >= 0 && (mh.msg_flags & MSG_CTRUNC))
		*ctrunc = 1;
	free(buf);
	return n < 0 ? (err == EAGAIN ? 0 : -err) : n;
}

int unix_oob_dump(pid_t pid, int fd, int sk, const UnixSk *s, const char **oob)
{
	int mark = 0, inl = 0, inq = 0, ret;

	*oob = NULL;

	if (s->type != SOCK_STREAM || s->state == UNIX_ST_LISTEN)
		return 0;
	if (get_flag(sk, SO_OOBINLINE, &inl) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: fd %d: cannot read SO_OOBINLINE of a unix socket", pid,
			 fd);
		return ret;
	}
	if (ioctl(sk, SIOCATMARK, &mark) < 0 || ioctl(sk, SIOCINQ, &inq) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: fd %d: cannot ask a unix socket SIOCATMARK or SIOCINQ",
			 pid, fd);
		return ret;
	}
	if ((ret = oob_pending(sk, inl)) < 0) {
		pr_errno(-ret, "task %d: fd %d: cannot look for urgent data in a unix socket", pid,
			 fd);
		return ret;
	}
	if (ret) {
		*oob = "a byte not read yet";
		return 0;
	}
	if (mark) {
		*oob = "at the mark of a byte read before (SIOCATMARK)";
		return 0;
	}
	if (inq <= 0 || (unsigned)inq > UNIX_QUEUE_MAX_BYTES)
		return 0; /* nothing to stop at; too much is the queue dump's to refuse */

	int cred = 0, peek_off = -1, ctrunc = 0;
	if (get_flag(sk, SO_PASSCRED, &cred) < 0 || get_flag(sk, SO_PEEK_OFF, &peek_off) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: fd %d: cannot read SO_PASSCRED or SO_PEEK_OFF", pid, fd);
		return ret;
	}
	ssize_t n = peek_all(sk, (size_t)inq, &ctrunc);
	/* the task's own values back, whatever happened */
	if ((set_flag(sk, SO_PASSCRED, cred) < 0 || set_flag(sk, SO_PEEK_OFF, peek_off) < 0) &&
	    n >= 0)
		n = -errno;
	if (n < 0) {
		pr_errno((int)-n, "task %d: fd %d: cannot peek at a unix socket's queue", pid, fd);
		return (int)n;
	}
	if (n < inq && !ctrunc) {
		static char why[96];
		snprintf(why, sizeof(why),
			 "reads stop at byte %zd of the %d queued, where a byte "
			 "was read",
			 n, inq);
		*oob = why;
	}
	return 0;
}
