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
 * writes: the kernel sends them when the window lets it, as it would have.
 *
 * Half-closed connections. Each FIN takes one sequence number, after the last byte of its
 * direction: write_seq counts ours once written (FIN_WAIT1, FIN_WAIT2, CLOSING, LAST_ACK),
 * rcv_nxt the peer's once received (CLOSE_WAIT, CLOSING, LAST_ACK). SIOCOUTQ counts our FIN
 * while it is not acknowledged, SIOCOUTQNSD while it is not sent (it is the last thing of the
 * queue: any byte not sent means it is not either); SIOCINQ leaves the peer's out. The queues'
 * sequences are set one short of each FIN, the queues go in, then the FINs are made again in
 * the order the kernel's state machine needs them:
 * - ours, sent: shutdown(SHUT_WR) in repair mode with the send queue picked: the kernel
 *   queues the FIN and takes it as sent without sending it (FIN_WAIT1, or LAST_ACK after
 *   CLOSE_WAIT); its retransmission timer sends it again if no acknowledgement comes;
 * - ours, never sent: a plain shutdown(SHUT_WR) after repair mode is off and the bytes never
 *   sent are written, as the program did;
 * - the peer's: a segment FIN|ACK with sequence rcv_nxt and acknowledgement snd_una, from
 *   the peer's address to the local one (tcp_segment.c): ESTABLISHED goes to CLOSE_WAIT,
 *   FIN_WAIT1 to CLOSING; the acknowledgement the socket answers with is the caller's
 *   firewall's to drop, the peer had it already;
 * - the peer's acknowledgement of our FIN (FIN_WAIT2): a segment ACK acknowledging write_seq.
 * The kernel takes each segment in the softirq of the loopback; the restore waits for the
 * state it must bring (a second at most), then sets the windows again (a segment's window
 * field updated the peer's). */
#include "net/tcp_repair.h"
#include "net/tcp_err.h"

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
#include <time.h>
#include <unistd.h>

#include "net/tcp_segment.h"
#include "net/tcp_urg.h"

/* include/net/tcp_states.h */
enum {
	ST_ESTABLISHED = 1,
	ST_FIN_WAIT1 = 4,
	ST_FIN_WAIT2 = 5,
	ST_CLOSE_WAIT = 8,
	ST_LAST_ACK = 9,
	ST_CLOSING = 11,
};

bool tcp_repair_state_ok(int state)
{
	return state == ST_ESTABLISHED || state == ST_FIN_WAIT1 || state == ST_FIN_WAIT2 ||
	       state == ST_CLOSE_WAIT || state == ST_LAST_ACK || state == ST_CLOSING;
}

/* our FIN is written (write_seq counts it) */
static bool fin_out(int state)
{
	return state == ST_FIN_WAIT1 || state == ST_FIN_WAIT2 || state == ST_CLOSING ||
	       state == ST_LAST_ACK;
}

/* ... and acknowledged by the peer */
static bool fin_out_acked(int state)
{
	return state == ST_FIN_WAIT2;
}

/* the peer's FIN is received (rcv_nxt counts it) */
static bool fin_in(int state)
{
	return state == ST_CLOSE_WAIT || state == ST_CLOSING || state == ST_LAST_ACK;
}

/* the option codes of TCP_REPAIR_OPTIONS are those of the TCP header (RFC 793, 7323, 2018) */

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

int tcp_errf(char *err, size_t size, int e, const char *fmt, ...)
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

/* The bytes of one queue (TCP_RECV_QUEUE, TCP_SEND_QUEUE), `len` of them, and its sequence;
 * urg: the receive queue's urgent mark (tcp_urg.c peeks past it), or NULL */
static int queue_read(int sk, int queue, uint32_t len, uint8_t **data, uint32_t *seq,
		      const struct tcp_repair_state *urg, char *err, size_t size)
{
	const char *what = queue == TCP_SEND_QUEUE ? "send" : "receive";
	socklen_t sl = sizeof(*seq);
	ssize_t got;

	*data = NULL;
	if (setint(sk, TCP_REPAIR_QUEUE, queue) < 0)
		return tcp_errf(err, size, errno, "cannot pick the %s queue (TCP_REPAIR_QUEUE)",
				what);
	if (getsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &sl) < 0)
		return tcp_errf(err, size, errno, "cannot read the %s queue's sequence", what);
	if (!len)
		return 0;
	/* one byte more than expected: a queue longer than its count shows as a mismatch */
	*data = malloc((size_t)len + 1);
	if (!*data)
		return tcp_errf(err, size, ENOMEM, "no memory for the %s queue (%u bytes)", what,
				len);
	if (urg && urg->urg)
		return tcp_urg_peek(sk, urg, *data, len, err, size);
	got = recv(sk, *data, (size_t)len + 1, MSG_PEEK | MSG_DONTWAIT);
	if (got < 0)
		return tcp_errf(err, size, errno, "cannot read the %s queue", what);
	if ((size_t)got != len)
		return tcp_errf(err, size, -EIO, "the %s queue held %zd bytes, not %u", what, got,
				len);
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
		return tcp_errf(err, size, errno, "cannot read the socket's address");
	st->family = st->local.ss_family;
	if (st->family != AF_INET && st->family != AF_INET6)
		return tcp_errf(err, size, -EAFNOSUPPORT, "family %d is not AF_INET or AF_INET6",
				st->family);
	len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return tcp_errf(err, size, errno, "cannot read TCP_INFO");
	st->state = ti.tcpi_state;
	if (!tcp_repair_state_ok(st->state))
		return tcp_errf(err, size, -ENOTSUP, "connection in state %s: not supported yet",
				tcp_state_name(st->state));
	len = sizeof(st->remote);
	if (getpeername(sk, (struct sockaddr *)&st->remote, &len) < 0)
		return tcp_errf(err, size, errno, "cannot read the peer's address");
	if (ti.tcpi_options & TCPI_OPT_ECN)
		return tcp_errf(err, size, -ENOTSUP,
				"explicit congestion notification (ECN) was agreed: not supported "
				"yet");
	if (ioctl(sk, SIOCINQ, &inq) < 0 || ioctl(sk, SIOCOUTQ, &outq) < 0 ||
	    ioctl(sk, SIOCOUTQNSD, &nsd) < 0)
		return tcp_errf(err, size, errno, "cannot read the queues' lengths");
	if (inq < 0 || outq < 0 || nsd < 0 || nsd > outq)
		return tcp_errf(err, size, -EIO, "queue lengths %d/%d/%d make no sense", inq, outq,
				nsd);
	/* our FIN is in the counts until acknowledged (outq), sent (nsd): data only kept */
	if (fin_out(st->state) && !fin_out_acked(st->state)) {
		if (!outq)
			return tcp_errf(err, size, -EIO,
					"state %s without its FIN in the send queue",
					tcp_state_name(st->state));
		outq--;
		if (nsd) {
			st->fin_unsent = true;
			nsd--;
		}
	} else if (fin_out_acked(st->state) && (outq || nsd)) {
		return tcp_errf(err, size, -EIO, "state %s with %d bytes not acknowledged",
				tcp_state_name(st->state), outq);
	}
	/* an urgent mark stops SIOCINQ: the whole queue's length, and the mark */
	if ((ret = tcp_urg_read(sk, st, &inq, err, size)))
		return ret;
	st->recvq_len = (uint32_t)inq;
	st->sendq_len = (uint32_t)outq;
	st->unsent = (uint32_t)nsd;

	/* a peek offset of the program's would make the peek start further on */
	len = sizeof(peek);
	getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &peek, &len);
	if (peek >= 0 && setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &no_peek, sizeof(no_peek)) < 0)
		return tcp_errf(err, size, errno, "cannot set the peek offset aside");
	ret =
	    queue_read(sk, TCP_RECV_QUEUE, st->recvq_len, &st->recvq, &st->rcv_seq, st, err, size);
	if (!ret)
		ret = queue_read(sk, TCP_SEND_QUEUE, st->sendq_len, &st->sendq, &st->snd_seq, NULL,
				 err, size);
	setint(sk, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
	if (peek >= 0 && setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &peek, sizeof(peek)) < 0 && !ret)
		ret = tcp_errf(err, size, errno, "cannot set the peek offset back");
	if (ret)
		goto out;

	/* in repair mode TCP_MAXSEG answers the MSS the peer announced (mss_clamp) */
	len = sizeof(st->mss);
	if (getsockopt(sk, IPPROTO_TCP, TCP_MAXSEG, &st->mss, &len) < 0) {
		ret = tcp_errf(err, size, errno, "cannot read the MSS");
		goto out;
	}
	st->advmss = ti.tcpi_advmss;
	st->wscale = ti.tcpi_options & TCPI_OPT_WSCALE;
	st->snd_wscale = ti.tcpi_snd_wscale;
	st->rcv_wscale = ti.tcpi_rcv_wscale;
	st->sack = ti.tcpi_options & TCPI_OPT_SACK;
	st->timestamps = ti.tcpi_options & TCPI_OPT_TIMESTAMPS;
	len = sizeof(st->timestamp);
	if (getsockopt(sk, IPPROTO_TCP, TCP_TIMESTAMP, &st->timestamp, &len) < 0) {
		ret = tcp_errf(err, size, errno, "cannot read TCP_TIMESTAMP");
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
	    ti.tcpi_state != (uint8_t)st->state) {
		ret = tcp_errf(err, size, -EAGAIN, "the connection changed state while being read");
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

/* Does the route to remote pick local's address as its source? */
static bool route_source_is(const struct sockaddr_in6 *local, const struct sockaddr_storage *remote)
{
	struct sockaddr_in6 got;
	socklen_t len = sizeof(got);
	int u = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool same = u >= 0 && connect(u, (const struct sockaddr *)remote, sizeof(got)) == 0 &&
		    getsockname(u, (struct sockaddr *)&got, &len) == 0 &&
		    !memcmp(&got.sin6_addr, &local->sin6_addr, sizeof(got.sin6_addr));
	if (u >= 0)
		close(u);
	return same;
}

int tcp_repair_bind(int sk, const struct sockaddr_storage *local,
		    const struct sockaddr_storage *remote)
{
	if (local->ss_family == AF_INET6 && remote->ss_family == AF_INET6) {
		const struct sockaddr_in6 *l6 = (const struct sockaddr_in6 *)local;
		int v6only = 1;
		socklen_t vl = sizeof(v6only);
		if (!IN6_IS_ADDR_V4MAPPED(&l6->sin6_addr) &&
		    !IN6_IS_ADDR_UNSPECIFIED(&l6->sin6_addr) &&
		    !IN6_IS_ADDR_LINKLOCAL(&l6->sin6_addr) &&
		    getsockopt(sk, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &vl) == 0 && !v6only &&
		    route_source_is(l6, remote)) {
			struct sockaddr_in6 any = {.sin6_family = AF_INET6,
						   .sin6_port = l6->sin6_port};
			return bind(sk, (const struct sockaddr *)&any, sizeof(any)) < 0 ? -errno
											: 0;
		}
	}
	return bind(sk, (const struct sockaddr *)local, sa_len(local->ss_family)) < 0 ? -errno : 0;
}

/* Is sk's address (after its connect) local's? */
static bool bound_to(int sk, const struct sockaddr_storage *local)
{
	struct sockaddr_storage got;
	socklen_t len = sizeof(got);
	if (getsockname(sk, (struct sockaddr *)&got, &len) < 0 || got.ss_family != local->ss_family)
		return false;
	if (local->ss_family == AF_INET6)
		return !memcmp(&((struct sockaddr_in6 *)&got)->sin6_addr,
			       &((const struct sockaddr_in6 *)local)->sin6_addr, 16) &&
		       ((struct sockaddr_in6 *)&got)->sin6_port ==
			   ((const struct sockaddr_in6 *)local)->sin6_port;
	return ((struct sockaddr_in *)&got)->sin_addr.s_addr ==
		   ((const struct sockaddr_in *)local)->sin_addr.s_addr &&
	       ((struct sockaddr_in *)&got)->sin_port ==
		   ((const struct sockaddr_in *)local)->sin_port;
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
		return tcp_errf(err, size, -EINVAL, "family %d is not AF_INET or AF_INET6",
				st->family);
	if (st->local.ss_family != st->family || st->remote.ss_family != st->family)
		return tcp_errf(err, size, -EINVAL, "the addresses are not of family %d",
				st->family);
	if (!port_of(&st->local) || !port_of(&st->remote))
		return tcp_errf(err, size, -EINVAL, "an address without a port");
	if (!tcp_repair_state_ok(st->state))
		return tcp_errf(err, size, -EINVAL, "state %d is not ESTABLISHED or half-closed",
				st->state);
	if (st->unsent > st->sendq_len)
		return tcp_errf(err, size, -EINVAL, "%u bytes not sent of a send queue of %u",
				st->unsent, st->sendq_len);
	/* a FIN never sent is one written and not acknowledged; one sent has every byte before
	 * it sent; one acknowledged every byte before it acknowledged */
	if (st->fin_unsent && (!fin_out(st->state) || fin_out_acked(st->state)))
		return tcp_errf(err, size, -EINVAL, "a FIN never sent in state %s",
				tcp_state_name(st->state));
	if (fin_out(st->state) && !st->fin_unsent && st->unsent)
		return tcp_errf(err, size, -EINVAL, "%u bytes never sent before a FIN sent",
				st->unsent);
	if (fin_out_acked(st->state) && st->sendq_len)
		return tcp_errf(err, size, -EINVAL,
				"%u bytes not acknowledged before a FIN that is", st->sendq_len);
	/* the queues are within a window: 1 GiB is the most TCP can announce (RFC 7323) */
	if (st->sendq_len > (1u << 30) || st->recvq_len > (1u << 30))
		return tcp_errf(err, size, -EINVAL, "queues of %u and %u bytes", st->sendq_len,
				st->recvq_len);
	if ((st->sendq_len && !st->sendq) || (st->recvq_len && !st->recvq))
		return tcp_errf(err, size, -EINVAL, "a queue without its bytes");
	if (st->wscale && (st->snd_wscale > 14 || st->rcv_wscale > 14))
		return tcp_errf(err, size, -EINVAL, "window scales %u/%u are above 14",
				st->snd_wscale, st->rcv_wscale);
	if (!st->wscale && (st->snd_wscale || st->rcv_wscale))
		return tcp_errf(err, size, -EINVAL, "window scales without window scaling");
	if (st->sndbuf > INT32_MAX || st->rcvbuf > INT32_MAX)
		return tcp_errf(err, size, -EINVAL, "buffers of %u and %u bytes", st->sndbuf,
				st->rcvbuf);
	if (st->mss < 8 || st->mss > 65535)
		return tcp_errf(err, size, -EINVAL, "MSS %u is out of range", st->mss);
	/* TCP_MAXSEG takes 88 (TCP_MIN_MSS) to 65535 */
	if (st->advmss && (st->advmss < 88 || st->advmss > 65535))
		return tcp_errf(err, size, -EINVAL, "announced MSS %u is out of range", st->advmss);
	if (st->has_window && st->snd_wnd > st->max_window)
		return tcp_errf(err, size, -EINVAL, "the peer's window %u is above its maximum %u",
				st->snd_wnd, st->max_window);
	return tcp_urg_check(st, err, size);
}

static int queue_write(int sk, int queue, const uint8_t *data, uint32_t len, char *err, size_t size)
{
	const char *what = queue == TCP_SEND_QUEUE ? "send" : "receive";
	uint32_t done = 0;

	if (setint(sk, TCP_REPAIR_QUEUE, queue) < 0)
		return tcp_errf(err, size, errno, "cannot pick the %s queue", what);
	while (done < len) {
		ssize_t n = send(sk, data + done, len - done, MSG_DONTWAIT);
		if (n <= 0)
			return tcp_errf(err, size, n < 0 ? errno : -EIO,
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
		return tcp_errf(err, size, errno, "cannot set the socket's buffers back");
	return 0;
}

static int set_window(int sk, const struct tcp_repair_state *st, uint32_t rcv_nxt, char *err,
		      size_t size)
{
	struct tcp_repair_window w = {
	    .snd_wl1 = st->snd_wl1,
	    .snd_wnd = st->snd_wnd,
	    .max_window = st->max_window,
	    .rcv_wnd = st->rcv_wnd,
	    .rcv_wup = st->rcv_wup,
	};
	/* before the peer's FIN is in again, our window was announced at most at rcv_nxt: the
	 * same right edge from there */
	if ((int32_t)(w.rcv_wup - rcv_nxt) > 0) {
		w.rcv_wnd += w.rcv_wup - rcv_nxt;
		w.rcv_wup = rcv_nxt;
	}
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) < 0)
		return tcp_errf(err, size, errno, "cannot set the windows");
	return 0;
}

static int state_now(int sk)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	return getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ? -errno : ti.tcpi_state;
}

/* A segment from the peer (FIN|ACK or ACK) fed to sk, then the state it must bring waited
 * for: the loopback hands it to TCP in a softirq, at once as a rule. Its destination is
 * st->local, which sk is bound to already: a local address, the segment never leaves the
 * host. */
static int from_peer(int sk, const struct tcp_repair_state *st, uint32_t seq, uint32_t ack,
		     uint8_t flags, int want, char *err, size_t size)
{
	const char *what = flags & TCP_SEG_FIN ? "the peer's FIN" : "the peer's acknowledgement";
	/* the window field as the peer's last one was (the windows are set again after) */
	uint32_t win = st->wscale ? st->snd_wnd >> st->snd_wscale : st->snd_wnd;
	int ret, now = -1;

	ret = tcp_segment_send(&st->remote, &st->local, seq, ack, flags,
			       (uint16_t)(win > 65535 ? 65535 : win));
	if (ret)
		return tcp_errf(err, size, -ret, "cannot send %s again (raw socket)", what);
	for (int i = 0; i < 1000; i++) {
		if ((now = state_now(sk)) == want || now < 0)
			break;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	if (now != want)
		return tcp_errf(err, size, now < 0 ? -now : -EIO,
				"%s was not taken: state %s, not %s (a firewall dropped it?)", what,
				tcp_state_name(now), tcp_state_name(want));
	return 0;
}

/* Our FIN, taken as sent (the send queue picked) or sent as usual */
static int our_fin(int sk, bool as_sent, char *err, size_t size)
{
	if (as_sent && setint(sk, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) < 0)
		return tcp_errf(err, size, errno, "cannot pick the send queue for our FIN");
	int r = shutdown(sk, SHUT_WR);
	int e = errno;
	if (as_sent)
		setint(sk, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
	return r < 0 ? tcp_errf(err, size, e, "cannot queue our FIN again (shutdown)") : 0;
}

static bool use_advmss(const struct tcp_repair_state *st)
{
	return st->advmss && st->advmss <= 32767;
}

/* The segment size the connection sends with (mss_cache, which TCP_MAXSEG and TCP_INFO's
 * snd_mss read) is computed by the connect, from the MSS the peer takes as known then: the
 * repair connect's is TCP_MAXSEG's (the announced MSS, set above) or 536, and nothing computes
 * it again when TCP_REPAIR_OPTIONS gives the peer's (measured: 524 for ever, where the
 * connection had 988; its segments that small). Setting IP_OPTIONS makes the kernel compute
 * it again from the path MTU (tcp_sync_mss): set to none, which every dumped connection has
 * (inet_opts.c refuses IP options), on IPv4 and v4-mapped connections. A native IPv6 one has
 * no such call: it keeps the connect's, of its own announced MSS, right when both ends
 * announce the same. TCP_MAXSEG unset after: the program's own value cannot be read from a
 * connection (it answers mss_cache). */
static int sync_mss(int sk, const struct tcp_repair_state *st, char *err, size_t size)
{
	const struct sockaddr_in6 *r6 = (const struct sockaddr_in6 *)&st->remote;
	bool v4 = st->family == AF_INET ||
		  (st->remote.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&r6->sin6_addr));

	if (v4 && setsockopt(sk, IPPROTO_IP, IP_OPTIONS, NULL, 0) < 0)
		return tcp_errf(err, size, errno, "cannot have the segment size computed again");
	if (use_advmss(st) && setint(sk, TCP_MAXSEG, 0) < 0)
		return tcp_errf(err, size, errno, "cannot unset TCP_MAXSEG");
	return 0;
}

int tcp_repair_restore(int sk, const struct tcp_repair_state *st, bool keep_repair, char *err,
		       size_t size)
{
	uint32_t sent = st->sendq_len - st->unsent;
	/* where each queue starts, one short of its FIN: the FINs go in after the queues */
	uint32_t snd_una = st->snd_seq - (fin_out(st->state) ? 1 : 0) - st->sendq_len;
	uint32_t rcv_nxt = st->rcv_seq - (fin_in(st->state) ? 1 : 0);
	bool fin_sent = fin_out(st->state) && !st->fin_unsent;
	int ret;

	if ((ret = tcp_repair_check(st, err, size)))
		return ret;
	if (keep_repair && (st->unsent || st->fin_unsent))
		return tcp_errf(err, size, -EINVAL,
				"%u bytes%s never sent can only be written with repair mode off",
				st->unsent, st->fin_unsent ? " and a FIN" : "");
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
		return tcp_errf(err, size, ret ? -ret : errno,
				"cannot make the socket's buffers as large as the connection's");
	if (tcp_repair_on(sk) < 0)
		return tcp_errf(err, size, errno, "cannot turn TCP_REPAIR on");
	/* in repair mode the port may be one another socket holds: the connection's own,
	 * which the kernel tells apart by the peer */
	int bret = tcp_repair_bind(sk, &st->local, &st->remote);
	if (bret < 0)
		return tcp_errf(err, size, -bret, "cannot bind to the connection's address");
	/* each queue starts where its first byte is: the send queue at the first byte not
	 * acknowledged, the receive queue at the first byte not read */
	if (setint(sk, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) < 0 ||
	    setint(sk, TCP_QUEUE_SEQ, (int)snd_una) < 0)
		return tcp_errf(err, size, errno, "cannot set the send sequence");
	if (setint(sk, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) < 0 ||
	    setint(sk, TCP_QUEUE_SEQ, (int)(rcv_nxt - st->recvq_len)) < 0)
		return tcp_errf(err, size, errno, "cannot set the receive sequence");
	/* the MSS this end announces is the route's, clamped by TCP_MAXSEG, as the connect
	 * computes it (less the timestamps' 12 bytes once they were agreed, which the repair
	 * connect does not take off): given as TCP_MAXSEG for the connect, unset after.
	 * TCP_MAXSEG takes at most 32767 (MAX_TCP_WINDOW): above (loopback's 65483), the
	 * route's is announced, 12 more with timestamps */
	if (use_advmss(st) && setint(sk, TCP_MAXSEG, (int)st->advmss) < 0)
		return tcp_errf(err, size, errno, "cannot set the announced MSS");
	if (connect(sk, (const struct sockaddr *)&st->remote, sa_len(st->family)) < 0)
		return tcp_errf(err, size, errno, "cannot connect in repair mode");
	if (!bound_to(sk, &st->local))
		return tcp_errf(err, size, EADDRNOTAVAIL,
				"the connection came back with another local address");

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
		return tcp_errf(err, size, errno, "cannot set the handshake's options");
	if (st->timestamps && setint(sk, TCP_TIMESTAMP, (int)st->timestamp) < 0)
		return tcp_errf(err, size, errno, "cannot set the TCP clock");

	/* an urgent mark: the queue up to it, the urgent byte as a segment from the peer once
	 * the windows let it in, the rest of the queue (tcp_urg.c) */
	uint32_t before_urg = st->urg ? st->urg_off : st->recvq_len;
	uint32_t urg_seq = rcv_nxt - st->recvq_len + st->urg_off;
	if ((ret = queue_write(sk, TCP_RECV_QUEUE, st->recvq, before_urg, err, size)) ||
	    (ret = queue_write(sk, TCP_SEND_QUEUE, st->sendq, sent, err, size)))
		return ret;
	setint(sk, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
	if (st->has_window && (ret = set_window(sk, st, st->urg ? urg_seq : rcv_nxt, err, size)))
		return ret;
	if (st->urg) {
		uint32_t after = st->recvq_len - st->urg_off - 1;
		if ((ret = tcp_urg_restore(sk, st, urg_seq, snd_una, err, size)) ||
		    (ret = queue_write(sk, TCP_RECV_QUEUE, st->recvq + st->urg_off + 1, after, err,
				       size)))
			return ret;
		setint(sk, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
		/* the segment's window field set the peer's window, the answer ours */
		if (st->has_window && (ret = set_window(sk, st, rcv_nxt, err, size)))
			return ret;
	}

	/* the FINs, in the order of the state machine: CLOSE_WAIT and LAST_ACK had the peer's
	 * first, CLOSING ours first; FIN_WAIT2 had ours acknowledged */
	bool peer_fin_first = st->state == ST_CLOSE_WAIT || st->state == ST_LAST_ACK;
	bool fed = false; /* a segment went in: its window field changed the peer's window */
	if (peer_fin_first) {
		if ((ret = from_peer(sk, st, rcv_nxt, snd_una, TCP_SEG_FIN | TCP_SEG_ACK,
				     ST_CLOSE_WAIT, err, size)))
			return ret;
		fed = true;
	}
	if (fin_sent && (ret = our_fin(sk, true, err, size)))
		return ret;
	if (fin_out_acked(st->state)) {
		if ((ret = from_peer(sk, st, rcv_nxt, st->snd_seq, TCP_SEG_ACK, ST_FIN_WAIT2, err,
				     size)))
			return ret;
		fed = true;
	}
	if (st->state == ST_CLOSING && fin_sent) {
		if ((ret = from_peer(sk, st, rcv_nxt, snd_una, TCP_SEG_FIN | TCP_SEG_ACK,
				     ST_CLOSING, err, size)))
			return ret;
		fed = true;
	}
	if (fed && st->has_window &&
	    (ret = set_window(sk, st, fin_in(st->state) ? st->rcv_seq : rcv_nxt, err, size)))
		return ret;
	if ((ret = sync_mss(sk, st, err, size)))
		return ret;
	if (st->before_live && (ret = st->before_live(sk, st->before_live_arg, err, size)))
		return ret;
	if (keep_repair)
		return set_bufs(sk, sndbuf, rcvbuf, err, size);
	if (tcp_repair_off(sk) < 0)
		return tcp_errf(err, size, errno, "cannot turn TCP_REPAIR off");
	/* the bytes never sent: written as the program wrote them */
	for (uint32_t done = 0; done < st->unsent;) {
		ssize_t k = send(sk, st->sendq + sent + done, st->unsent - done,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k <= 0)
			return tcp_errf(err, size, k < 0 ? errno : -EIO,
					"cannot write the %u bytes never sent (%u in)", st->unsent,
					done);
		done += (uint32_t)k;
	}
	if (st->fin_unsent) {
		/* ... and our FIN behind them, as the program's shutdown queued it */
		if ((ret = our_fin(sk, false, err, size)))
			return ret;
		if (st->state == ST_CLOSING) {
			/* the peer's FIN came to a FIN_WAIT1 whose FIN was held back */
			if (tcp_repair_on(sk) < 0)
				return tcp_errf(err, size, errno,
						"cannot turn TCP_REPAIR on again");
			if ((ret = from_peer(sk, st, rcv_nxt, snd_una, TCP_SEG_FIN | TCP_SEG_ACK,
					     ST_CLOSING, err, size)) ||
			    (st->has_window && (ret = set_window(sk, st, st->rcv_seq, err, size))))
				return ret;
			if (tcp_repair_off(sk) < 0)
				return tcp_errf(err, size, errno, "cannot turn TCP_REPAIR off");
		}
	}
	return set_bufs(sk, sndbuf, rcvbuf, err, size);
}
