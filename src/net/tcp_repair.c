/* libcryotcp: TCP connections saved and made again through TCP_REPAIR (see tcp_repair.h).
 *
 * What the kernel gives in repair mode, and how it is used here:
 * - TCP_REPAIR_QUEUE picks a queue; TCP_QUEUE_SEQ then reads (or, before connect, sets) its
 *   sequence number; recv(MSG_PEEK) reads the picked queue's bytes without taking them (the
 *   send queue too: everything not acknowledged yet); send() appends to it, as received
 *   (receive queue) or as sent and unacknowledged (send queue: the kernel retransmits it
 *   when its timer fires).
 * - connect() in repair mode goes to ESTABLISHED at once, sending nothing.
 * - TCP_REPAIR_OPTIONS gives back what the handshake agreed (MSS, window scale, SACK,
 *   timestamps), TCP_TIMESTAMP the clock, TCP_REPAIR_WINDOW the windows.
 * The bytes written but never sent are written again after repair mode is off, as a program
 * writes: the kernel sends them when the window lets it, as it would have. */
#include "net/tcp_repair.h"

#include <errno.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* the option codes of TCP_REPAIR_OPTIONS are those of the TCP header (RFC 793, 7323, 2018) */
enum { ST_ESTABLISHED = 1 }; /* include/net/tcp_states.h */

enum { OPT_MSS = 2, OPT_WSCALE = 3, OPT_SACK_PERM = 4, OPT_TIMESTAMP = 8 };

/* include/net/tcp_states.h */
static const char *const state_names[] = {
    [1] = "ESTABLISHED", [2] = "SYN_SENT",  [3] = "SYN_RECV", [4] = "FIN_WAIT1",
    [5] = "FIN_WAIT2",	 [6] = "TIME_WAIT", [7] = "CLOSE",    [8] = "CLOSE_WAIT",
    [9] = "LAST_ACK",	 [10] = "LISTEN",   [11] = "CLOSING", [12] = "NEW_SYN_RECV",
};

const char *tcp_state_name(int state)
{
	if (state > 0 && (size_t)state < sizeof(state_names) / sizeof(state_names[0]) &&
	    state_names[state])
		return state_names[state];
	return "unknown";
}

static int fail(char *err, size_t size, int e, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (e > 0 && n < size)
		snprintf(err + n, size - n, ": %s", strerror(e));
	return e > 0 ? -e : e;
}

static int setint(int sk, int name, int v)
{
	return setsockopt(sk, IPPROTO_TCP, name, &v, sizeof(v)) < 0 ? -errno : 0;
}

int tcp_repair_on(int sk)
{
	return setint(sk, TCP_REPAIR, TCP_REPAIR_ON);
}

int tcp_repair_off(int sk)
{
	return setint(sk, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP);
}

void tcp_repair_state_free(struct tcp_repair_state *st)
{
	free(st->sendq);
	free(st->recvq);
	st->sendq = st->recvq = NULL;
	st->sendq_len = st->recvq_len = st->unsent = 0;
}

/* The bytes of one queue (TCP_RECV_QUEUE, TCP_SEND_QUEUE), `len` of them, and its sequence */
static int queue_read(int sk, int queue, uint32_t len, uint8_t **data, uint32_t *seq, char *err,
		      size_t size)
{
	const char *what = queue == TCP_SEND_QUEUE ? "send" : "receive";
	socklen_t sl = sizeof(*seq);
	ssize_t got;

	*data = NULL;
	if (setint(sk, TCP_REPAIR_QUEUE, queue) < 0)
		return fail(err, size, errno, "cannot pick the %s queue (TCP_REPAIR_QUEUE)", what);
	if (getsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &sl) < 0)
		return fail(err, size, errno, "cannot read the %s queue's sequence", what);
	if (!len)
		return 0;
	/* one byte more than expected: a queue longer than its count shows as a mismatch */
	*data = malloc((size_t)len + 1);
	if (!*data)
		return fail(err, size, ENOMEM, "no memory for the %s queue (%u bytes)", what, len);
	got = recv(sk, *data, (size_t)len + 1, MSG_PEEK | MSG_DONTWAIT);
	if (got < 0)
		return fail(err, size, errno, "cannot read the %s queue", what);
	if ((size_t)got != len)
		return fail(err, size, -EIO, "the %s queue held %zd bytes, not %u", what, got, len);
	return 0;
}

int tcp_repair_read(int sk, struct tcp_repair_state *st, char *err, size_t size)
{
	struct tcp_info ti;
	socklen_t len;
	int inq = 0, outq = 0, nsd = 0, peek = -1, no_peek = -1, ret;

	memset(st, 0, sizeof(*st));
	len = sizeof(st->local);
	if (getsockname(sk, (struct sockaddr *)&st->local, &len) < 0)
		return fail(err, size, errno, "cannot read the socket's address");
	st->family = st->local.ss_family;
	if (st->family != AF_INET && st->family != AF_INET6)
		return fail(err, size, -EAFNOSUPPORT, "family %d is not AF_INET or AF_INET6",
			    st->family);
	len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return fail(err, size, errno, "cannot read TCP_INFO");
	st->state = ti.tcpi_state;
	if (st->state != ST_ESTABLISHED)
		return fail(err, size, -ENOTSUP, "connection in state %s: not supported yet",
			    tcp_state_name(st->state));
	len = sizeof(st->remote);
	if (getpeername(sk, (struct sockaddr *)&st->remote, &len) < 0)
		return fail(err, size, errno, "cannot read the peer's address");
	if (ti.tcpi_options & TCPI_OPT_ECN)
		return fail(err, size, -ENOTSUP,
			    "explicit congestion notification (ECN) was agreed: not supported "
			    "yet");
	if (ioctl(sk, SIOCINQ, &inq) < 0 || ioctl(sk, SIOCOUTQ, &outq) < 0 ||
	    ioctl(sk, SIOCOUTQNSD, &nsd) < 0)
		return fail(err, size, errno, "cannot read the queues' lengths");
	if (inq < 0 || outq < 0 || nsd < 0 || nsd > outq)
		return fail(err, size, -EIO, "queue lengths %d/%d/%d make no sense", inq, outq,
			    nsd);
	st->recvq_len = (uint32_t)inq;
	st->sendq_len = (uint32_t)outq;
	st->unsent = (uint32_t)nsd;

	/* a peek offset of the program's would make the peek start further on */
	len = sizeof(peek);
	getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &peek, &len);
	if (peek >= 0 && setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &no_peek, sizeof(no_peek)) < 0)
		return fail(err, size, errno, "cannot set the peek offset aside");
	ret = queue_read(sk, TCP_RECV_QUEUE, st->recvq_len, &st->recvq, &st->rcv_seq, err, size);
	if (!ret)
		ret = queue_read(sk, TCP_SEND_QUEUE, st->sendq_len, &st->sendq, &st->snd_seq, err,
				 size);
	setint(sk, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
	if (peek >= 0 && setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &peek, sizeof(peek)) < 0 && !ret)
		ret = fail(err, size, errno, "cannot set the peek offset back");
	if (ret)
		goto out;

	/* in repair mode TCP_MAXSEG answers the MSS the peer announced (mss_clamp) */
	len = sizeof(st->mss);
	if (getsockopt(sk, IPPROTO_TCP, TCP_MAXSEG, &st->mss, &len) < 0) {
		ret = fail(err, size, errno, "cannot read the MSS");
		goto out;
	}
	st->wscale = ti.tcpi_options & TCPI_OPT_WSCALE;
	st->snd_wscale = ti.tcpi_snd_wscale;
	st->rcv_wscale = ti.tcpi_rcv_wscale;
	st->sack = ti.tcpi_options & TCPI_OPT_SACK;
	st->timestamps = ti.tcpi_options & TCPI_OPT_TIMESTAMPS;
	len = sizeof(st->timestamp);
	if (getsockopt(sk, IPPROTO_TCP, TCP_TIMESTAMP, &st->timestamp, &len) < 0) {
		ret = fail(err, size, errno, "cannot read TCP_TIMESTAMP");
		goto out;
	}
	struct tcp_repair_window w;
	len = sizeof(w);
	if (getsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len) == 0 && len == sizeof(w)) {
		st->has_window = true;
		st->snd_wl1 = w.snd_wl1;
		st->snd_wnd = w.snd_wnd;
		st->max_window = w.max_window;
		st->rcv_wnd = w.rcv_wnd;
		st->rcv_wup = w.rcv_wup;
	}
	len = sizeof(st->sndbuf);
	getsockopt(sk, SOL_SOCKET, SO_SNDBUF, &st->sndbuf, &len);
	len = sizeof(st->rcvbuf);
	getsockopt(sk, SOL_SOCKET, SO_RCVBUF, &st->rcvbuf, &len);
	/* the state again: a FIN or a reset that came meanwhile changed it */
	len = sizeof(ti);
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    ti.tcpi_state != ST_ESTABLISHED) {
		ret = fail(err, size, -EAGAIN, "the connection changed state while being read");
		goto out;
	}
	return 0;
out:
	tcp_repair_state_free(st);
	return ret;
}

static socklen_t sa_len(int family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static int port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

int tcp_repair_check(const struct tcp_repair_state *st, char *err, size_t size)
{
	if (st->family != AF_INET && st->family != AF_INET6)
		return fail(err, size, -EINVAL, "family %d is not AF_INET or AF_INET6", st->family);
	if (st->local.ss_family != st->family || st->remote.ss_family != st->family)
		return fail(err, size, -EINVAL, "the addresses are not of family %d", st->family);
	if (!port_of(&st->local) || !port_of(&st->remote))
		return fail(err, size, -EINVAL, "an address without a port");
	if (st->state != ST_ESTABLISHED)
		return fail(err, size, -EINVAL, "state %d is not ESTABLISHED", st->state);
	if (st->unsent > st->sendq_len)
		return fail(err, size, -EINVAL, "%u bytes not sent of a send queue of %u",
			    st->unsent, st->sendq_len);
	/* the queues are within a window: 1 GiB is the most TCP can announce (RFC 7323) */
	if (st->sendq_len > (1u << 30) || st->recvq_len > (1u << 30))
		return fail(err, size, -EINVAL, "queues of %u and %u bytes", st->sendq_len,
			    st->recvq_len);
	if ((st->sendq_len && !st->sendq) || (st->recvq_len && !st->recvq))
		return fail(err, size, -EINVAL, "a queue without its bytes");
	if (st->wscale && (st->snd_wscale > 14 || st->rcv_wscale > 14))
		return fail(err, size, -EINVAL, "window scales %u/%u are above 14", st->snd_wscale,
			    st->rcv_wscale);
	if (!st->wscale && (st->snd_wscale || st->rcv_wscale))
		return fail(err, size, -EINVAL, "window scales without window scaling");
	if (st->sndbuf > INT32_MAX || st->rcvbuf > INT32_MAX)
		return fail(err, size, -EINVAL, "buffers of %u and %u bytes", st->sndbuf,
			    st->rcvbuf);
	if (st->mss < 8 || st->mss > 65535)
		return fail(err, size, -EINVAL, "MSS %u is out of range", st->mss);
	if (st->has_window && st->snd_wnd > st->max_window)
		return fail(err, size, -EINVAL, "the peer's window %u is above its maximum %u",
			    st->snd_wnd, st->max_window);
	return 0;
}

static int queue_write(int sk, int queue, const uint8_t *data, uint32_t len, char *err, size_t size)
{
	const char *what = queue == TCP_SEND_QUEUE ? "send" : "receive";
	uint32_t done = 0;

	if (setint(sk, TCP_REPAIR_QUEUE, queue) < 0)
		return fail(err, size, errno, "cannot pick the %s queue", what);
	while (done < len) {
		ssize_t n = send(sk, data + done, len - done, MSG_DONTWAIT);
		if (n <= 0)
			return fail(err, size, n < 0 ? errno : -EIO,
				    "cannot fill the %s queue (%u of %u bytes in)", what, done,
				    len);
		done += (uint32_t)n;
	}
	return 0;
}

/* The buffer (read as the kernel doubles it) made at least `want` */
static int buf_at_least(int sk, int name, int force, uint32_t want)
{
	int now = 0, half = (int)(want / 2);
	socklen_t len = sizeof(now);

	if (getsockopt(sk, SOL_SOCKET, name, &now, &len) < 0)
		return -errno;
	if ((uint32_t)now >= want)
		return 0;
	return setsockopt(sk, SOL_SOCKET, force, &half, sizeof(half)) < 0 ? -errno : 0;
}

/* The buffers back to what they were before the queues went in (the kernel halves) */
static int set_bufs(int sk, int sndbuf, int rcvbuf, char *err, size_t size)
{
	int s = sndbuf / 2, r = rcvbuf / 2;
	if (setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &s, sizeof(s)) < 0 ||
	    setsockopt(sk, SOL_SOCKET, SO_RCVBUFFORCE, &r, sizeof(r)) < 0)
		return fail(err, size, errno, "cannot set the socket's buffers back");
	return 0;
}

int tcp_repair_restore(int sk, const struct tcp_repair_state *st, bool keep_repair, char *err,
		       size_t size)
{
	uint32_t sent = st->sendq_len - st->unsent;
	int ret;

	if ((ret = tcp_repair_check(st, err, size)))
		return ret;
	/* the queues go in as segments of another size than the program's writes made, with
	 * another overhead: room for them while they are written, the buffers as they were
	 * (at least the connection's) once done */
	int sndbuf = 0, rcvbuf = 0;
	socklen_t bl = sizeof(sndbuf);
	if ((ret = buf_at_least(sk, SO_SNDBUF, SO_SNDBUFFORCE, st->sndbuf)) ||
	    (ret = buf_at_least(sk, SO_RCVBUF, SO_RCVBUFFORCE, st->rcvbuf)) ||
	    getsockopt(sk, SOL_SOCKET, SO_SNDBUF, &sndbuf, &bl) < 0 ||
	    getsockopt(sk, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &bl) < 0 ||
	    (ret = buf_at_least(sk, SO_SNDBUF, SO_SNDBUFFORCE,
				(uint32_t)sndbuf + st->sendq_len + 262144)) ||
	    (ret = buf_at_least(sk, SO_RCVBUF, SO_RCVBUFFORCE,
				(uint32_t)rcvbuf + st->recvq_len + 262144)))
		return fail(err, size, ret ? -ret : errno,
			    "cannot make the socket's buffers as large as the connection's");
	if (tcp_repair_on(sk) < 0)
		return fail(err, size, errno, "cannot turn TCP_REPAIR on");
	/* in repair mode the port may be one another socket holds: the connection's own,
	 * which the kernel tells apart by the peer */
	if (bind(sk, (const struct sockaddr *)&st->local, sa_len(st->family)) < 0)
		return fail(err, size, errno, "cannot bind to the connection's address");
	/* each queue starts where its first byte is: the send queue at the first byte not
	 * acknowledged, the receive queue at the first byte not read */
	if (setint(sk, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) < 0 ||
	    setint(sk, TCP_QUEUE_SEQ, (int)(st->snd_seq - st->sendq_len)) < 0)
		return fail(err, size, errno, "cannot set the send sequence");
	if (setint(sk, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) < 0 ||
	    setint(sk, TCP_QUEUE_SEQ, (int)(st->rcv_seq - st->recvq_len)) < 0)
		return fail(err, size, errno, "cannot set the receive sequence");
	if (connect(sk, (const struct sockaddr *)&st->remote, sa_len(st->family)) < 0)
		return fail(err, size, errno, "cannot connect in repair mode");

	struct tcp_repair_opt opts[4];
	int n = 0;
	opts[n++] = (struct tcp_repair_opt){OPT_MSS, st->mss};
	if (st->wscale)
		opts[n++] = (struct tcp_repair_opt){OPT_WSCALE, st->snd_wscale |
								    (uint32_t)st->rcv_wscale << 16};
	if (st->sack)
		opts[n++] = (struct tcp_repair_opt){OPT_SACK_PERM, 0};
	if (st->timestamps)
		opts[n++] = (struct tcp_repair_opt){OPT_TIMESTAMP, 0};
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts,
		       (socklen_t)(n * sizeof(opts[0]))) < 0)
		return fail(err, size, errno, "cannot set the handshake's options");
	if (st->timestamps && setint(sk, TCP_TIMESTAMP, (int)st->timestamp) < 0)
		return fail(err, size, errno, "cannot set the TCP clock");

	if ((ret = queue_write(sk, TCP_RECV_QUEUE, st->recvq, st->recvq_len, err, size)) ||
	    (ret = queue_write(sk, TCP_SEND_QUEUE, st->sendq, sent, err, size)))
		return ret;
	setint(sk, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
	if (st->has_window) {
		struct tcp_repair_window w = {
		    .snd_wl1 = st->snd_wl1,
		    .snd_wnd = st->snd_wnd,
		    .max_window = st->max_window,
		    .rcv_wnd = st->rcv_wnd,
		    .rcv_wup = st->rcv_wup,
		};
		if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) < 0)
			return fail(err, size, errno, "cannot set the windows");
	}
	if (keep_repair && !st->unsent)
		return set_bufs(sk, sndbuf, rcvbuf, err, size);
	if (keep_repair)
		return st->unsent ? fail(err, size, -EINVAL,
					 "%u bytes never sent can only be written with repair "
					 "mode off",
					 st->unsent)
				  : 0;
	if (tcp_repair_off(sk) < 0)
		return fail(err, size, errno, "cannot turn TCP_REPAIR off");
	/* the bytes never sent: written as the program wrote them */
	for (uint32_t done = 0; done < st->unsent;) {
		ssize_t k = send(sk, st->sendq + sent + done, st->unsent - done,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k <= 0)
			return fail(err, size, k < 0 ? errno : -EIO,
				    "cannot write the %u bytes never sent (%u in)", st->unsent,
				    done);
		done += (uint32_t)k;
	}
	return set_bufs(sk, sndbuf, rcvbuf, err, size);
}
