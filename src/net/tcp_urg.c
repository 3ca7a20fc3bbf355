/* libcryotcp: the urgent mark of a receive queue (see tcp_urg.h).
 *
 * What the kernel shows of it (tcp_sock's urg_data and urg_seq, which nothing reads out as
 * such), as measured on Linux 6.18, in repair mode too:
 * - recv(MSG_OOB | MSG_PEEK) answers the urgent byte while it is there to be read, EINVAL
 *   when there is no mark or its byte was read (or SO_OOBINLINE is on), EAGAIN (or 0 once
 *   shut down) when a mark was announced and its byte has not come yet;
 * - SIOCINQ stops at a mark in the queue (without SO_OOBINLINE): the bytes before it; with
 *   SO_OOBINLINE it counts the whole queue;
 * - a peek stops at the mark when it has copied something already; one that starts there
 *   (SO_PEEK_OFF) takes the urgent byte with SO_OOBINLINE on and skips it otherwise.
 * So the dump turns SO_OOBINLINE off and on, on the task's socket itself (the tree is frozen,
 * the connection in repair mode, its packets held), and sets it back as it was: the two
 * SIOCINQ (one of them the caller's, with the program's setting) give the mark's offset and
 * the queue's length, the two peeks the queue with the urgent byte in its place,
 * MSG_OOB | MSG_PEEK (with SO_OOBINLINE off) whether the byte was read already.
 *
 * The kernel takes a mark from a segment with URG only: the restore writes the queue up to
 * the mark, then feeds the socket a segment with the urgent byte from the peer's address
 * (tcp_segment.c; its urgent pointer as net.ipv4.tcp_stdurg reads it), which sets the mark
 * as it was, writes the rest, and reads the byte with MSG_OOB if the program had. The socket
 * has no owner yet at that point (files/owner.c comes later): nobody gets a SIGURG.
 *
 * Not seen, not saved: the urgent pointer of our own send queue (snd_up), for bytes written
 * with MSG_OOB and not acknowledged yet; docs/design.md says so. */
#include "net/tcp_urg.h"

#include <errno.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "net/tcp_err.h"
#include "net/tcp_repair.h"
#include "net/tcp_segment.h"

static int get_inline(int sk, int *on)
{
	socklen_t len = sizeof(*on);
	return getsockopt(sk, SOL_SOCKET, SO_OOBINLINE, on, &len) < 0 ? -errno : 0;
}

static int set_inline(int sk, int on)
{
	return setsockopt(sk, SOL_SOCKET, SO_OOBINLINE, &on, sizeof(on)) < 0 ? -errno : 0;
}

int tcp_urg_read(int sk, struct tcp_repair_state *st, int *inq, char *err, size_t size)
{
	int was = 0, inq_off = -1, inq_on = -1, r, e = 0;
	char c = 0;

	st->urg = TCP_URG_NONE;
	st->urg_off = 0;
	if (get_inline(sk, &was) < 0)
		return tcp_errf(err, size, errno, "cannot read SO_OOBINLINE");
	/* *inq is the caller's SIOCINQ with the program's setting, just before: the queue has
	 * not moved since (the tree frozen, the peer's packets dropped by the network lock;
	 * without the lock, the peek of the queue finds a longer one), so only the other
	 * setting's count is read */
	if (was)
		inq_on = *inq;
	else
		inq_off = *inq;
	if (was && (set_inline(sk, 0) < 0 || ioctl(sk, SIOCINQ, &inq_off) < 0)) {
		e = errno;
		set_inline(sk, was);
		return tcp_errf(err, size, e,
				"cannot read the receive queue's length up to the mark");
	}
	r = (int)recv(sk, &c, 1, MSG_OOB | MSG_PEEK | MSG_DONTWAIT);
	int oob_errno = r < 0 ? errno : 0;
	if (!was && (set_inline(sk, 1) < 0 || ioctl(sk, SIOCINQ, &inq_on) < 0))
		e = errno;
	/* as the program had it, whatever failed */
	if (set_inline(sk, was) < 0)
		return tcp_errf(err, size, errno, "cannot set SO_OOBINLINE back");
	if (e)
		return tcp_errf(err, size, e, "cannot read the receive queue's length");
	if (inq_off < 0 || inq_on < 0 || inq_off > inq_on || (was ? inq_on : inq_off) != *inq)
		return tcp_errf(err, size, -EIO, "receive queue lengths %d/%d/%d make no sense",
				*inq, inq_off, inq_on);
	if (r == 1) {
		if (inq_off >= inq_on)
			return tcp_errf(err, size, -EIO,
					"an urgent byte outside the receive queue (%d of %d)",
					inq_off, inq_on);
		st->urg = TCP_URG_PENDING;
	} else if (r < 0 && oob_errno == EINVAL) {
		/* no mark, or its byte read: a mark in the queue stops SIOCINQ */
		if (inq_off < inq_on)
			st->urg = TCP_URG_TAKEN;
	} else if (r == 0 || oob_errno == EAGAIN) {
		return tcp_errf(err, size, -ENOTSUP,
				"urgent data (MSG_OOB) announced by the peer and not received yet: "
				"not supported");
	} else {
		return tcp_errf(err, size, r < 0 ? oob_errno : -EIO, "cannot read the urgent data");
	}
	if (st->urg) {
		st->urg_off = (uint32_t)inq_off;
		*inq = inq_on;
	}
	return 0;
}

/* One peek of exactly want bytes at offset off of the receive queue (one more asked: a queue
 * longer than counted shows) */
static int peek_at(int sk, uint32_t off, uint8_t *buf, uint32_t want, char *err, size_t size)
{
	int po = (int)off;
	ssize_t got;

	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &po, sizeof(po)) < 0)
		return tcp_errf(err, size, errno, "cannot peek past the urgent mark (SO_PEEK_OFF)");
	got = recv(sk, buf, (size_t)want + 1, MSG_PEEK | MSG_DONTWAIT);
	int e = errno;
	po = -1;
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &po, sizeof(po));
	if (got < 0)
		return tcp_errf(err, size, e, "cannot read the receive queue at %u", off);
	if ((size_t)got != want)
		return tcp_errf(err, size, -EIO, "the receive queue held %zd bytes at %u, not %u",
				got, off, want);
	return 0;
}

int tcp_urg_peek(int sk, const struct tcp_repair_state *st, uint8_t *buf, uint32_t len, char *err,
		 size_t size)
{
	int was = 0, ret = 0;
	uint8_t *tmp = buf;

	if (st->urg_off >= len)
		return tcp_errf(err, size, -EIO, "the urgent mark at %u is outside the queue (%u)",
				st->urg_off, len);
	if (get_inline(sk, &was) < 0 || (!was && set_inline(sk, 1) < 0))
		return tcp_errf(err, size, errno, "cannot turn SO_OOBINLINE on to read the queue");
	/* the peek asks one byte more than it wants: the second part's extra byte lands in
	 * buf[len], which the caller allocated (queue_read: len + 1) */
	if (st->urg_off)
		ret = peek_at(sk, 0, tmp, st->urg_off, err, size);
	if (!ret)
		ret = peek_at(sk, st->urg_off, tmp + st->urg_off, len - st->urg_off, err, size);
	if (!was && set_inline(sk, 0) < 0 && !ret)
		ret = tcp_errf(err, size, errno, "cannot set SO_OOBINLINE back");
	return ret;
}

static int recvq_seq(int sk, uint32_t *seq)
{
	int q = TCP_RECV_QUEUE, none = TCP_NO_QUEUE, r = 0;
	socklen_t len = sizeof(*seq);

	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0 ||
	    getsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &len) < 0)
		r = -errno;
	setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &none, sizeof(none));
	return r;
}

/* net.ipv4.tcp_stdurg of this network namespace: whether the urgent pointer points at the
 * urgent byte (1) or after it (0, the default, as BSD) */
static int stdurg(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_stdurg", "re");
	int v = 0;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

int tcp_urg_restore(int sk, const struct tcp_repair_state *st, uint32_t seq, uint32_t ack,
		    char *err, size_t size)
{
	uint8_t byte = st->recvq[st->urg_off];
	uint32_t win = st->wscale ? st->snd_wnd >> st->snd_wscale : st->snd_wnd;
	uint32_t now = 0;
	int ret, was = 0;
	char c = 0;

	ret = tcp_segment_send_data(
	    &st->remote, &st->local, seq, ack, TCP_SEG_URG | TCP_SEG_ACK | TCP_SEG_PSH,
	    (uint16_t)(win > 65535 ? 65535 : win), stdurg() ? 0 : 1, &byte, 1);
	if (ret)
		return tcp_errf(err, size, -ret, "cannot send the urgent byte again (raw socket)");
	for (int i = 0; i < 1000; i++) {
		if ((ret = recvq_seq(sk, &now)) < 0 || now == seq + 1)
			break;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	if (ret < 0)
		return tcp_errf(err, size, -ret, "cannot read the receive queue's sequence");
	if (now != seq + 1)
		return tcp_errf(err, size, -EIO,
				"the urgent byte was not taken (receive queue at %u, not %u: a "
				"firewall dropped it?)",
				now, seq + 1);
	/* the mark as it was: the byte there to be read, or read already */
	if (get_inline(sk, &was) < 0 || (was && set_inline(sk, 0) < 0))
		return tcp_errf(err, size, errno, "cannot turn SO_OOBINLINE off");
	ssize_t r =
	    recv(sk, &c, 1, MSG_OOB | MSG_DONTWAIT | (st->urg == TCP_URG_PENDING ? MSG_PEEK : 0));
	int e = errno;
	if (was && set_inline(sk, 1) < 0)
		return tcp_errf(err, size, errno, "cannot set SO_OOBINLINE back");
	if (r != 1 || (uint8_t)c != byte)
		return tcp_errf(err, size, r < 0 ? e : -EIO,
				"the urgent byte did not come back as urgent data");
	return 0;
}

int tcp_urg_check(const struct tcp_repair_state *st, char *err, size_t size)
{
	if (st->urg > TCP_URG_TAKEN)
		return tcp_errf(err, size, -EINVAL, "urgent state %u unknown", st->urg);
	if (st->urg == TCP_URG_NONE && st->urg_off)
		return tcp_errf(err, size, -EINVAL, "an urgent mark offset without a mark");
	if (st->urg && st->urg_off >= st->recvq_len)
		return tcp_errf(err, size, -EINVAL,
				"the urgent mark at %u is outside the queue (%u)", st->urg_off,
				st->recvq_len);
	return 0;
}
