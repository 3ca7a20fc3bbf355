/* The receive queue of a unix socket, dump half: read from cryo's copy of the socket without
 * being consumed, MSG_PEEK with SO_PEEK_OFF set to where the last message ended, one datagram
 * or seqpacket message per peek so that boundaries (and a datagram's sender) are kept, a
 * stream's bytes in runs of one sender's credentials; the task's own peek offset is put back
 * afterwards. SO_PASSCRED is on for the peeks (and off again after, if it was): the
 * credentials each message carries (SCM_CREDENTIALS) are saved with it, whether the receiver
 * asks for them now or not. Descriptors in flight (SCM_RIGHTS) are noted for inflight.c; on
 * a stream they, and urgent data (MSG_OOB, found by unix_oob.c), make the queue read after
 * the kernel's buffers (unix_skb.c), since a peek cannot tell where those start. Other
 * control messages and empty datagrams are refused by name. The restore sends the
 * messages again in the root's pass that makes every socket (unix_sk_restore.c,
 * unix_send.c), where their senders are. Apart from unix_sk.c since the peeking is a
 * machinery of its own. */
#include <errno.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/fault.h"
#include "core/log.h"
#include "files/kind.h"
#include "files/sockopt.h"
#include "files/unix_sk.h"
#include "files/unix_skb.h"

static int set_peek_off(int sk, int off)
{
	return setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
}

/* What one peek found besides the bytes. SO_PASSCRED is on for the peeks (unix_queue_dump),
 * so the kernel reports every message's credentials: pid 0 with the overflow ids when it
 * carries none. */
struct peeked {
	bool has_cred;
	struct ucred cred;
	int scm;      /* a control message cryo cannot save, 0 if none */
	bool ctrunc;  /* more descriptors than room for SCM_MAX_FD of them */
	int fds[253]; /* SCM_RIGHTS: the copies the peek gave cryo (the caller's) */
	size_t nfds;
	char rights[256]; /* ... for a refusal: what they are */
};

/* The copies a peek gave cryo closed; "pipe:[123], /tmp/x" of them into p->rights first
 * when name. */
static void close_rights(struct peeked *p, bool name)
{
	size_t len = strlen(p->rights);
	for (size_t i = 0; i < p->nfds; i++) {
		char path[64], link[200];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", p->fds[i]);
		ssize_t l = name ? readlink(path, link, sizeof(link) - 1) : -1;
		link[l > 0 ? l : 0] = 0;
		if (name && len < sizeof(p->rights) - 1)
			len += (size_t)snprintf(p->rights + len, sizeof(p->rights) - len, "%s%s",
						len ? ", " : "", l > 0 ? link : "?");
		close(p->fds[i]);
	}
	p->nfds = 0;
}

/* One peek at offset off: its length (the whole message's with MSG_TRUNC), its sender, its
 * credentials, the descriptors it carries (copies, the caller's to close or keep), and
 * whether it carried anything else. */
static ssize_t peek_at(int sk, int off, void *buf, size_t len, struct sockaddr_un *from,
		       socklen_t *fromlen, struct peeked *p)
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

	memset(p, 0, sizeof(*p));
	if (set_peek_off(sk, off) < 0)
		return -1;
	n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1;
	p->ctrunc = mh.msg_flags & MSG_CTRUNC;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET) {
			p->scm = p->scm ? p->scm : -1;
			continue;
		}
		if (c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(0)) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			const int *fds = (const int *)CMSG_DATA(c);
			for (size_t i = 0; i < k; i++) {
				if (p->nfds < sizeof(p->fds) / sizeof(p->fds[0]))
					p->fds[p->nfds++] = fds[i];
				else /* (never: the buffer holds 253) */
					close(fds[i]), p->ctrunc = true;
			}
		} else if (c->cmsg_type == SCM_CREDENTIALS &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			memcpy(&p->cred, CMSG_DATA(c), sizeof(p->cred));
			p->has_cred = true;
		} else if (!p->scm) {
			p->scm = c->cmsg_type;
		}
	}
	if (fromlen)
		*fromlen = mh.msg_namelen;
	return n;
}

/* What a peek found that cannot be saved, named (its copies closed); 0 if nothing. */
static int refuse_scm(pid_t pid, int fd, size_t msg, struct peeked *p, bool stream)
{
	if (p->ctrunc) {
		close_rights(p, false);
		pr_err("task %d: fd %d: unix socket with descriptors in flight in message %zu of "
		       "its queue that a peek cannot all take (MSG_CTRUNC: more than 253, or "
		       "cryo is out of descriptors): not supported",
		       pid, fd, msg);
		return -ENOTSUP;
	}
	if (p->nfds && stream) {
		/* where the bytes a stream's descriptors came with start is not in a peek (a
		 * peek of any byte before them reports the descriptors): without the kernel's
		 * buffers (unix_skb.c, which said why) the queue is refused */
		close_rights(p, true);
		pr_err("task %d: fd %d: stream unix socket with descriptors in flight (SCM_RIGHTS) "
		       "in its queue (%s), whose place in the bytes cannot be learnt: not "
		       "supported",
		       pid, fd, p->rights);
		return -ENOTSUP;
	}
	if (p->scm) {
		close_rights(p, false);
		pr_err("task %d: fd %d: unix socket with a control message of type %d in message "
		       "%zu of its queue: not supported yet",
		       pid, fd, p->scm, msg);
		return -ENOTSUP;
	}
	return 0;
}

/* /proc/sys/kernel/overflowuid or overflowgid: what a receiver is told of ids it cannot
 * see, and of a message without credentials */
static unsigned overflow_id(const char *which)
{
	char path[64], buf[32] = "";
	unsigned v = 65534;
	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", which);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = (unsigned)strtoul(buf, NULL, 10);
		fclose(f);
	}
	return v;
}

/* The credentials of message m as the peek gave them: none (pid 0, the overflow ids), or a
 * pid, uid and gid the restore can claim again. A pid 0 with other ids is a sender cryo's pid
 * namespace cannot see: refused. */
static int save_creds(pid_t pid, int fd, size_t msg, const struct peeked *p, UnixMsg *m)
{
	if (!p->has_cred) {
		pr_err("task %d: fd %d: message %zu of a unix socket's queue came without its "
		       "credentials",
		       pid, fd, msg);
		return -EIO;
	}
	if (!p->cred.pid) {
		if (p->cred.uid == overflow_id("overflowuid") &&
		    p->cred.gid == overflow_id("overflowgid"))
			return 0;
		pr_err("task %d: fd %d: unix socket with message %zu queued from a process cryo's "
		       "pid namespace cannot see (credentials pid 0, uid %u, gid %u): not "
		       "supported yet",
		       pid, fd, msg, p->cred.uid, p->cred.gid);
		return -ENOTSUP;
	}
	if ((unsigned)p->cred.pid > UNIX_CRED_PID_MAX || p->cred.uid == (uid_t)-1 ||
	    p->cred.gid == (gid_t)-1) {
		pr_err("task %d: fd %d: message %zu of a unix socket's queue has credentials "
		       "pid %d uid %u gid %u",
		       pid, fd, msg, p->cred.pid, p->cred.uid, p->cred.gid);
		return -EIO;
	}
	m->has_cred_pid = m->has_cred_uid = m->has_cred_gid = true;
	m->cred_pid = (uint32_t)p->cred.pid, m->cred_uid = p->cred.uid, m->cred_gid = p->cred.gid;
	return 0;
}

static int queue_push(struct dump_ctx *ctx, UnixSk *s, const void *data, size_t len,
		      const struct sockaddr_un *from, socklen_t fromlen, UnixMsg **out)
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
	*out = m;
	return 0;
}

/* Moves *i (index in v) and *bs (the byte it starts at) on to the buffer of byte off, or past
 * the last one at the queue's end; each empty buffer passed on the way (the place of an
 * urgent byte read, at *bs) becomes a message of s's queue first. 0 or -ENOMEM. */
static int buffer_of(struct dump_ctx *ctx, UnixSk *s, const struct unix_skb *v, size_t nv,
		     size_t off, size_t *i, size_t *bs)
{
	while (*i < nv && off >= *bs + v[*i].len) {
		if (!v[*i].len) {
			UnixMsg *m = A_NEW(&ctx->arena, UnixMsg, UNIX_MSG);
			if (!m || !DUMP_PUSH(ctx, s->queue, s->n_queue, m))
				return -ENOMEM;
			m->has_oob = m->oob = true;
		}
		*bs += v[*i].len, (*i)++;
	}
	return 0;
}

static bool special(const struct unix_skb *k)
{
	return !k->len || (k->flags & (UNIX_SKB_FDS | UNIX_SKB_OOB));
}

static int set_oobinline(int sk, int on)
{
	return setsockopt(sk, SOL_SOCKET, SO_OOBINLINE, &on, sizeof(on));
}

/* The buffers v[0..nv) as the restore can make them again: 0, or -ENOTSUP named. */
static int check_skbs(pid_t pid, int fd, const struct unix_skb *v, size_t nv, int inq,
		      bool *has_oob)
{
	size_t total = 0, pending = nv;
	for (size_t k = 0; k < nv; k++) {
		if ((v[k].flags & UNIX_SKB_FDS) && (v[k].consumed || !v[k].nfds || !v[k].len)) {
			pr_err("task %d: fd %d: unix socket whose buffer %zu carries descriptors "
			       "but was read from (%u bytes) or names none",
			       pid, fd, k, v[k].consumed);
			return -EIO;
		}
		if ((v[k].flags & UNIX_SKB_OOB) &&
		    (v[k].len != 1 || v[k].consumed || (v[k].flags & UNIX_SKB_FDS))) {
			/* (a send's descriptors go with its first buffer, its urgent byte in
			 * the last: one buffer has both only for a send of one byte) */
			pr_err("task %d: fd %d: unix socket with urgent data (MSG_OOB) in a buffer "
			       "of %u bytes (%u read)%s: not supported yet",
			       pid, fd, v[k].len + v[k].consumed, v[k].consumed,
			       (v[k].flags & UNIX_SKB_FDS) ? " with descriptors" : "");
			return -ENOTSUP;
		}
		if (!v[k].len && v[k].consumed != 1) {
			pr_err("task %d: fd %d: unix socket with an empty buffer of %u bytes read "
			       "in its queue (buffer %zu): not supported yet",
			       pid, fd, v[k].consumed, k);
			return -ENOTSUP;
		}
		if (v[k].flags & UNIX_SKB_OOB)
			pending = k;
		if (!v[k].len && pending < k) {
			/* the kernel holds one urgent byte, the last sent: a byte read after the
			 * pending one was sent cannot be (the restore sends them in order) */
			pr_err("task %d: fd %d: unix socket with the buffer of an urgent byte read "
			       "after the pending one (buffer %zu): not supported",
			       pid, fd, k);
			return -ENOTSUP;
		}
		total += v[k].len;
	}
	if (total != (size_t)inq) {
		pr_err("task %d: fd %d: unix socket whose buffers hold %zu bytes, of %d queued",
		       pid, fd, total, inq);
		return -EIO;
	}
	*has_oob = pending < nv;
	return 0;
}

/* A stream's bytes after the kernel's buffers v[0..nv) (unix_skb.c), inq of them, read with
 * SO_OOBINLINE on when an urgent byte is pending (a peek from the queue's start would step
 * over it otherwise; the caller puts the task's value back). A buffer with descriptors is a
 * message of its own: peeked at its start, the peek ends with it and gives its descriptors
 * (a read stops there too, and one that reads any of its bytes gets them). So is the urgent
 * byte (oob, its one byte), and the empty buffer of one read (oob, no bytes: a peek steps
 * over it, a read stops there). The bytes between such buffers go in runs of one sender's
 * credentials, as in read_stream, each peek bounded by the next such buffer (a peek before
 * one with descriptors runs on into it and reports them: those copies are closed). */
static int read_stream_skbs(struct dump_ctx *ctx, struct dump_task *t, int fd, int sk, UnixSk *s,
			    int inq, uint8_t *buf, const struct unix_skb *v, size_t nv)
{
	pid_t pid = t->pid;
	size_t i = 0, bs = 0;
	int off = 0, ret;
	bool has_oob = false;
	struct peeked p;

	if ((ret = check_skbs(pid, fd, v, nv, inq, &has_oob)))
		return ret;
	if (has_oob && set_oobinline(sk, 1) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: fd %d: cannot turn SO_OOBINLINE on for the peeks", pid,
			 fd);
		return ret;
	}
	for (;;) {
		/* (the empty buffers on the way: messages of their own, with no peek) */
		if ((ret = buffer_of(ctx, s, v, nv, (size_t)off, &i, &bs)))
			return ret;
		if (off >= inq)
			break;
		bool alone = special(&v[i]);
		size_t lim, j = i, js = bs;
		if (alone && (size_t)off != bs) {
			pr_err("task %d: fd %d: a peek of a unix socket's queue ended inside the "
			       "buffer at byte %zu (at %d)",
			       pid, fd, bs, off);
			return -EIO;
		}
		while (!alone && j < nv && !special(&v[j]))
			js += v[j].len, j++;
		lim = alone ? v[i].len : js - (size_t)off;
		bool fds = v[i].flags & UNIX_SKB_FDS;
		ssize_t n = peek_at(sk, off, buf + off, lim, NULL, NULL, &p);
		if (n < 0) {
			ret = -errno;
			pr_errno(-ret, "task %d: fd %d: cannot read the queue of a unix socket",
				 pid, fd);
			return ret;
		}
		if (!fds)
			close_rights(&p, false); /* the next buffer's, given again at its peek */
		if ((ret = refuse_scm(pid, fd, s->n_queue, &p, false)))
			return ret;
		if (n <= 0 || (size_t)n > lim || (alone && (size_t)n != lim) ||
		    (fds && p.nfds != v[i].nfds)) {
			close_rights(&p, false);
			pr_err(
			    "task %d: fd %d: a peek of a unix socket's queue at byte %d returned "
			    "%zd bytes and %zu descriptors where its buffers say %zu%s",
			    pid, fd, off, n, p.nfds, lim, fds ? " and descriptors" : "");
			return -EIO;
		}
		UnixMsg *m = A_NEW(&ctx->arena, UnixMsg, UNIX_MSG);
		if (!m || !DUMP_PUSH(ctx, s->queue, s->n_queue, m)) {
			close_rights(&p, false);
			return -ENOMEM;
		}
		m->data.len = (size_t)n, m->data.data = buf + off;
		if (v[i].flags & UNIX_SKB_OOB)
			m->has_oob = m->oob = true;
		if ((ret = save_creds(pid, fd, s->n_queue - 1, &p, m))) {
			close_rights(&p, false);
			return ret;
		}
		if (s->n_queue > UNIX_QUEUE_MAX_MSGS) {
			close_rights(&p, false);
			pr_err("task %d: fd %d: unix socket with more than %u changes of sender "
			       "or messages with descriptors queued: not supported",
			       pid, fd, UNIX_QUEUE_MAX_MSGS);
			return -ENOTSUP;
		}
		/* the files in flight: kept until every task was walked (inflight.c) */
		if (p.nfds && (ret = inflight_note(ctx, t, fd, s->n_queue - 1, m, p.fds, p.nfds)))
			return ret;
		/* a stop between two plain runs is a change of credentials */
		const UnixMsg *prev = s->n_queue > 1 ? s->queue[s->n_queue - 2] : NULL;
		if (prev && !unix_msg_apart(prev) && !unix_msg_apart(m) &&
		    unix_msg_same_creds(m, prev)) {
			pr_err("task %d: fd %d: unix socket whose queue's peek stops at byte %d "
			       "without a change of sender or a buffer of its own: not supported",
			       pid, fd, off);
			return -ENOTSUP;
		}
		off += (int)n;
	}
	return 0;
}

/* The queue of a stream with urgent data or descriptors, after its buffers; SO_OOBINLINE
 * put back. What made it needed, named in a refusal when the buffers cannot be read: oob
 * (what unix_oob_dump found) or the peek that gave descriptors (rights, its copies open). */
static int read_stream_layout(struct dump_ctx *ctx, struct dump_task *t, int fd, int sk, UnixSk *s,
			      int inq, uint8_t *buf, const char *oob, struct peeked *rights)
{
	struct unix_skb *v = NULL;
	size_t nv = 0;
	struct stat st;
	int inl = 0, ret;
	socklen_t il = sizeof(inl);

	if (getsockopt(sk, SOL_SOCKET, SO_OOBINLINE, &inl, &il) < 0 || fstat(sk, &st) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: fd %d: cannot read SO_OOBINLINE of a unix socket", t->pid,
			 fd);
		return ret;
	}
	if ((ret = unix_skb_layout(st.st_ino, &v, &nv))) {
		if (ret == -ENOTSUP && oob)
			pr_err("task %d: fd %d: unix socket with urgent data (MSG_OOB) queued, %s, "
			       "whose place cannot be learnt: not supported",
			       t->pid, fd, oob);
		if (ret == -ENOTSUP && rights)
			refuse_scm(t->pid, fd, s->n_queue, rights, true);
		return ret;
	}
	ret = read_stream_skbs(ctx, t, fd, sk, s, inq, buf, v, nv);
	free(v);
	if (set_oobinline(sk, inl) < 0 && !ret) {
		ret = -errno;
		pr_errno(-ret, "task %d: fd %d: cannot put SO_OOBINLINE back", t->pid, fd);
	}
	return ret;
}

/* A stream's bytes, peeked into place: one message per run of bytes with the same
 * credentials, as a reader with SO_PASSCRED gets them (the kernel stops a read where they
 * change; without SO_PASSCRED a read runs on across them, both ways as before). A queue
 * with descriptors in flight is read after the kernel's buffers (read_stream_skbs). */
static int read_stream(struct dump_ctx *ctx, struct dump_task *t, int fd, int sk, UnixSk *s,
		       int inq, const char *oob)
{
	uint8_t *buf = arena_alloc(&ctx->arena, (size_t)inq);
	pid_t pid = t->pid;
	size_t first = s->n_queue;
	int off = 0, ret;
	struct peeked p;

	if (!buf)
		return -ENOMEM;
	if (oob)
		return read_stream_layout(ctx, t, fd, sk, s, inq, buf, oob, NULL);
	while (off < inq) {
		ssize_t n = peek_at(sk, off, buf + off, (size_t)(inq - off), NULL, NULL, &p);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			pr_errno(errno, "task %d: fd %d: cannot read the queue of a unix socket",
				 pid, fd);
			return -errno;
		}
		if (p.nfds && !p.ctrunc) {
			/* descriptors: where their buffer starts is learnt from the kernel's
			 * buffers, and the whole queue read again after them (these copies
			 * kept meanwhile, to name them if it cannot be) */
			s->n_queue = first;
			ret = read_stream_layout(ctx, t, fd, sk, s, inq, buf, NULL, &p);
			close_rights(&p, false);
			return ret;
		}
		if ((ret = refuse_scm(pid, fd, s->n_queue, &p, true)))
			return ret;
		if (n == 0 || n > inq - off)
			break;
		UnixMsg *m = A_NEW(&ctx->arena, UnixMsg, UNIX_MSG);
		if (!m || !DUMP_PUSH(ctx, s->queue, s->n_queue, m))
			return -ENOMEM;
		m->data.len = (size_t)n, m->data.data = buf + off;
		if ((ret = save_creds(pid, fd, s->n_queue - 1, &p, m)))
			return ret;
		/* a peek stops short where the credentials change, and before an out-of-band
		 * byte: the same credentials on both sides of a stop are the latter (or two
		 * senders of one number, which the restore could not tell apart either) */
		if (s->n_queue > 1 && unix_msg_same_creds(m, s->queue[s->n_queue - 2])) {
			pr_err("task %d: fd %d: unix socket with out-of-band data (MSG_OOB) queued "
			       "(a peek stops at byte %d without a change of sender): not "
			       "supported yet",
			       pid, fd, off);
			return -ENOTSUP;
		}
		if (s->n_queue > UNIX_QUEUE_MAX_MSGS) {
			pr_err("task %d: fd %d: unix socket with more than %u changes of sender "
			       "queued: not supported",
			       pid, fd, UNIX_QUEUE_MAX_MSGS);
			return -ENOTSUP;
		}
		off += (int)n;
	}
	if (off != inq) {
		/* out-of-band data is not part of a peek */
		pr_err("task %d: fd %d: unix socket with %d bytes queued of which %d can be read "
		       "without consuming them (out-of-band data?): not supported yet",
		       pid, fd, inq, off);
		return -ENOTSUP;
	}
	return 0;
}

/* Datagrams and seqpacket messages: one peek each, boundaries, senders and credentials
 * kept. */
static int read_messages(struct dump_ctx *ctx, struct dump_task *t, int fd, int sk, UnixSk *s,
			 int inq)
{
	pid_t pid = t->pid;
	int off = 0, ret = 0;
	size_t cap = 1 << 16, total = 0;
	char *buf = malloc(cap);
	struct peeked p;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct sockaddr_un from;
		socklen_t fromlen = 0;
		char one;
		UnixMsg *m;
		/* the length first, then the whole message (both from the same offset) */
		ssize_t n = peek_at(sk, off, &one, 1, NULL, NULL, &p);
		if (n < 0 && errno == EAGAIN)
			break;
		close_rights(&p, false); /* the whole peek below gives them again */
		if (n > 0 && (size_t)n > cap) {
			char *b = realloc(buf, (size_t)n);
			if (!b) {
				ret = -ENOMEM;
				break;
			}
			buf = b, cap = (size_t)n;
		}
		if (n > 0)
			n = peek_at(sk, off, buf, cap, &from, &fromlen, &p);
		if (n < 0) {
			ret = -errno;
			pr_errno(-ret, "task %d: fd %d: cannot read the queue of a unix socket",
				 pid, fd);
			break;
		}
		if ((ret = refuse_scm(pid, fd, s->n_queue, &p, false)))
			break;
		/* a seqpacket socket shut down for reading (its peer closed, or shut its
		 * sending side) reads 0 at the queue's end: the end of file. An empty message
		 * also reads 0, but brings credentials (SO_PASSCRED is on for the peeks: the
		 * kernel gives them with every message it hands over, none with the end) */
		if (n == 0 && s->type == SOCK_SEQPACKET && !p.has_cred && !p.nfds && !p.scm)
			break;
		if (n == 0) {
			close_rights(&p, false);
			pr_err("task %d: fd %d: unix socket with an empty message queued (it "
			       "cannot be read past without consuming it): not supported yet",
			       pid, fd);
			ret = -ENOTSUP;
			break;
		}
		total += (size_t)n;
		if (total > UNIX_QUEUE_MAX_BYTES || s->n_queue >= UNIX_QUEUE_MAX_MSGS) {
			close_rights(&p, false);
			pr_err("task %d: fd %d: unix socket with more than %u bytes or %u "
			       "messages queued: not supported",
			       pid, fd, UNIX_QUEUE_MAX_BYTES, UNIX_QUEUE_MAX_MSGS);
			ret = -ENOTSUP;
			break;
		}
		off += (int)n;
		if ((ret = queue_push(ctx, s, buf, (size_t)n, s->type == SOCK_DGRAM ? &from : NULL,
				      fromlen, &m)) ||
		    (ret = save_creds(pid, fd, s->n_queue - 1, &p, m))) {
			close_rights(&p, false);
			break;
		}
		/* the files in flight: kept until every task was walked (inflight.c) */
		if (p.nfds && (ret = inflight_note(ctx, t, fd, s->n_queue - 1, m, p.fds, p.nfds)))
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

static int set_passcred(int sk, int on)
{
	return setsockopt(sk, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
}

static int read_queue(struct dump_ctx *ctx, struct dump_task *t, int fd, int sk, UnixSk *s,
		      const SkOpts *o, const char *oob)
{
	pid_t pid = t->pid;
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
		struct peeked p;
		char one;
		if (peek_at(sk, 0, &one, 1, NULL, NULL, &p) < 0 && errno == EAGAIN)
			return 0;
	}
	if (o && o->passpidfd) {
		/* a pidfd of each sender: of the process itself, which the restore cannot
		 * tie to a message made before the tree exists */
		pr_err("task %d: fd %d: unix socket with SO_PASSPIDFD and data queued (the "
		       "senders' pidfds): not supported yet",
		       pid, fd);
		return -ENOTSUP;
	}
	if ((unsigned)inq > UNIX_QUEUE_MAX_BYTES) {
		pr_err("task %d: fd %d: unix socket with %d bytes queued (more than %u): not "
		       "supported",
		       pid, fd, inq, UNIX_QUEUE_MAX_BYTES);
		return -ENOTSUP;
	}
	/* every message's credentials, also where the receiver does not ask for them (it may
	 * turn SO_PASSCRED on later): on for the peeks (only of a queue that holds something),
	 * on a socket nothing else uses now, and off again after */
	bool cred_on = o && o->passcred;
	int ret;
	if (!cred_on && set_passcred(sk, 1) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: fd %d: cannot turn SO_PASSCRED on for the peeks", pid, fd);
		return ret;
	}
	fault_point("unix socket: SO_PASSCRED and SO_PEEK_OFF changed for the peeks", 0);
	ret = s->type == SOCK_STREAM ? read_stream(ctx, t, fd, sk, s, inq, oob)
				     : read_messages(ctx, t, fd, sk, s, inq);
	if (!cred_on && set_passcred(sk, 0) < 0 && !ret) {
		ret = -errno;
		pr_errno(-ret, "task %d: fd %d: cannot turn SO_PASSCRED off again", pid, fd);
	}
	return ret;
}

int unix_queue_dump(struct dump_ctx *ctx, struct dump_task *t, int fd, int sk, UnixSk *s,
		    const char *oob)
{
	pid_t pid = t->pid;
	int ret = read_queue(ctx, t, fd, sk, s, s->opts, oob);

	/* the task's own peek offset back, whatever happened */
	if (set_peek_off(sk, s->opts->peek_off) < 0 && !ret) {
		ret = -errno;
		pr_errno(-ret, "task %d: fd %d: cannot put SO_PEEK_OFF back", pid, fd);
	}
	return ret;
}
