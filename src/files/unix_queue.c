/* The receive queue of a unix socket, dump half: read from cryo's copy of the socket without
 * being consumed, MSG_PEEK with SO_PEEK_OFF set to where the last message ended, one datagram
 * or seqpacket message per peek so that boundaries (and a datagram's sender) are kept, a
 * stream's bytes in one run; the task's own peek offset is put back afterwards. Descriptors
 * (SCM_RIGHTS) or credentials (SCM_CREDENTIALS, the receiver has SO_PASSCRED) in the queue,
 * out-of-band bytes and empty messages are refused by name. The restore sends the messages
 * again in the root's pass that makes every socket (unix_sk_restore.c, write_queues), where
 * their senders are. Apart from unix_sk.c since the peeking is a machinery of its own. */
#include <errno.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "files/sockopt.h"
#include "files/unix_sk.h"

static int set_peek_off(int sk, int off)
{
	return setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
}

/* One peek at offset off: its length (the whole message's with MSG_TRUNC), its sender, and
 * whether it carried descriptors or credentials. */
static ssize_t peek_at(int sk, int off, void *buf, size_t len, struct sockaddr_un *from,
		       socklen_t *fromlen, int *scm)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(struct ucred)) + 64];
	struct iovec iov = {buf, len};
	struct msghdr mh = {.msg_name = from,
			    .msg_namelen = from ? sizeof(*from) : 0,
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	ssize_t n;

	if (set_peek_off(sk, off) < 0)
		return -1;
	n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1;
	*scm = mh.msg_flags & MSG_CTRUNC ? SCM_RIGHTS : 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			/* the peek gave cryo copies of them: closed at once */
			int *fds = (int *)CMSG_DATA(c);
			size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < nfds; i++)
				close(fds[i]);
			*scm = SCM_RIGHTS;
		} else if (c->cmsg_type == SCM_CREDENTIALS && !*scm) {
			*scm = SCM_CREDENTIALS;
		} else if (!*scm) {
			*scm = c->cmsg_type;
		}
	}
	if (fromlen)
		*fromlen = mh.msg_namelen;
	return n;
}

static int queue_push(struct dump_ctx *ctx, UnixSk *s, const void *data, size_t len,
		      const struct sockaddr_un *from, socklen_t fromlen)
{
	UnixMsg *m = A_NEW(&ctx->arena, UnixMsg, UNIX_MSG);
	if (!m || !DUMP_PUSH(ctx, s->queue, s->n_queue, m))
		return -ENOMEM;
	m->data.len = len;
	m->data.data = len ? arena_memdup(&ctx->arena, data, len) : NULL;
	if (len && !m->data.data)
		return -ENOMEM;
	if (from && fromlen > offsetof(struct sockaddr_un, sun_path)) {
		m->has_from = true;
		m->from.len = fromlen - offsetof(struct sockaddr_un, sun_path);
		m->from.data = arena_memdup(&ctx->arena, from->sun_path, m->from.len);
		if (!m->from.data)
			return -ENOMEM;
	}
	return 0;
}

static void refuse_scm(pid_t pid, int fd, int scm)
{
	pr_err("task %d: fd %d: unix socket with %s in its queue: not supported yet", pid, fd,
	       scm == SCM_RIGHTS	? "descriptors in flight (SCM_RIGHTS)"
	       : scm == SCM_CREDENTIALS ? "credentials (SCM_CREDENTIALS)"
					: "control messages");
}

/* A stream's bytes: one run, peeked into place. */
static int read_stream(struct dump_ctx *ctx, pid_t pid, int fd, int sk, UnixSk *s, int inq)
{
	uint8_t *buf = arena_alloc(&ctx->arena, (size_t)inq);
	int off = 0, scm = 0;

	if (!buf)
		return -ENOMEM;
	while (off < inq) {
		ssize_t n = peek_at(sk, off, buf + off, (size_t)(inq - off), NULL, NULL, &scm);
		if (n < 0) {
			pr_errno(errno, "task %d: fd %d: cannot read the queue of a unix socket",
				 pid, fd);
			return -errno;
		}
		if (scm)
			return refuse_scm(pid, fd, scm), -ENOTSUP;
		if (n == 0 || n > inq - off)
			break;
		off += (int)n;
		/* a peek goes on across messages, and stops short only before an out-of-band
		 * byte (descriptors and credentials were refused above) */
		if (off < inq) {
			pr_err("task %d: fd %d: unix socket with out-of-band data (MSG_OOB) "
			       "queued: not supported yet",
			       pid, fd);
			return -ENOTSUP;
		}
	}
	if (off != inq) {
		/* out-of-band data is not part of a peek */
		pr_err("task %d: fd %d: unix socket with %d bytes queued of which %d can be read "
		       "without consuming them (out-of-band data?): not supported yet",
		       pid, fd, inq, off);
		return -ENOTSUP;
	}
	UnixMsg *m = A_NEW(&ctx->arena, UnixMsg, UNIX_MSG);
	if (!m || !DUMP_PUSH(ctx, s->queue, s->n_queue, m))
		return -ENOMEM;
	m->data.len = (size_t)inq, m->data.data = buf;
	return 0;
}

/* Datagrams and seqpacket messages: one peek each, boundaries and senders kept. */
static int read_messages(struct dump_ctx *ctx, pid_t pid, int fd, int sk, UnixSk *s, int inq)
{
	int off = 0, scm = 0, ret = 0;
	size_t cap = 1 << 16, total = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct sockaddr_un from;
		socklen_t fromlen = 0;
		char one;
		/* the length first, then the whole message (both from the same offset) */
		ssize_t n = peek_at(sk, off, &one, 1, NULL, NULL, &scm);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n > 0 && (size_t)n > cap) {
			char *b = realloc(buf, (size_t)n);
			if (!b) {
				ret = -ENOMEM;
				break;
			}
			buf = b, cap = (size_t)n;
		}
		if (n > 0 && !scm)
			n = peek_at(sk, off, buf, cap, &from, &fromlen, &scm);
		if (n < 0) {
			ret = -errno;
			pr_errno(-ret, "task %d: fd %d: cannot read the queue of a unix socket",
				 pid, fd);
			break;
		}
		if (scm) {
			refuse_scm(pid, fd, scm);
			ret = -ENOTSUP;
			break;
		}
		if (n == 0) {
			pr_err("task %d: fd %d: unix socket with an empty message queued (it "
			       "cannot be read past without consuming it): not supported yet",
			       pid, fd);
			ret = -ENOTSUP;
			break;
		}
		total += (size_t)n;
		if (total > UNIX_QUEUE_MAX_BYTES || s->n_queue >= UNIX_QUEUE_MAX_MSGS) {
			pr_err("task %d: fd %d: unix socket with more than %u bytes or %u "
			       "messages queued: not supported",
			       pid, fd, UNIX_QUEUE_MAX_BYTES, UNIX_QUEUE_MAX_MSGS);
			ret = -ENOTSUP;
			break;
		}
		off += (int)n;
		if ((ret = queue_push(ctx, s, buf, (size_t)n, s->type == SOCK_DGRAM ? &from : NULL,
				      fromlen)))
			break;
	}
	free(buf);
	if (!ret && s->type == SOCK_SEQPACKET && total != (size_t)inq) {
		pr_err("task %d: fd %d: unix socket with %d bytes queued of which %zu can be "
		       "read without consuming them: not supported yet",
		       pid, fd, inq, total);
		ret = -ENOTSUP;
	}
	return ret;
}

static int read_queue(struct dump_ctx *ctx, pid_t pid, int fd, int sk, UnixSk *s, const SkOpts *o)
{
	int inq = 0;

	if (ioctl(sk, SIOCINQ, &inq) < 0) {
		pr_errno(errno, "task %d: fd %d: cannot read the length of a unix socket's queue",
			 pid, fd);
		return -errno;
	}
	if (!inq && s->type == SOCK_STREAM)
		return 0;
	if (!inq) {
		/* a datagram socket's is the first message's length: none, or an empty one */
		int scm = 0;
		char one;
		if (peek_at(sk, 0, &one, 1, NULL, NULL, &scm) < 0 && errno == EAGAIN && !scm)
			return 0;
	}
	if (o && (o->passcred || o->passpidfd)) {
		pr_err("task %d: fd %d: unix socket with SO_PASS%s and data queued (the senders' "
		       "credentials): not supported yet",
		       pid, fd, o->passcred ? "CRED" : "PIDFD");
		return -ENOTSUP;
	}
	if ((unsigned)inq > UNIX_QUEUE_MAX_BYTES) {
		pr_err("task %d: fd %d: unix socket with %d bytes queued (more than %u): not "
		       "supported",
		       pid, fd, inq, UNIX_QUEUE_MAX_BYTES);
		return -ENOTSUP;
	}
	return s->type == SOCK_STREAM ? read_stream(ctx, pid, fd, sk, s, inq)
				      : read_messages(ctx, pid, fd, sk, s, inq);
}

int unix_queue_dump(struct dump_ctx *ctx, pid_t pid, int fd, int sk, UnixSk *s)
{
	int ret = read_queue(ctx, pid, fd, sk, s, s->opts);

	/* the task's own peek offset back, whatever happened */
	if (set_peek_off(sk, s->opts->peek_off) < 0 && !ret) {
		ret = -errno;
		pr_errno(-ret, "task %d: fd %d: cannot put SO_PEEK_OFF back", pid, fd);
	}
	return ret;
}
