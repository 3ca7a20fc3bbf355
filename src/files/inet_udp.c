/* The datagrams queued in a UDP socket: the dump reads each, with its sender, without taking
 * it (MSG_PEEK at a moving SO_PEEK_OFF, put back after); the restore sends each again to the
 * new socket from a socket bound to its sender's address and port, and waits until it has
 * arrived; the image checks bound each datagram. Apart from inet_sk.c since the queue is a
 * resource of its own (InetSkDgram records) with its own refusals (ancillary data of
 * arrival, a sender the restore cannot send from). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/log.h"
#include "files/inet.h"
#include "files/kind.h"

/* Options that make the kernel hand each datagram over with ancillary data of its arrival
 * (a time, its IP options...), which a datagram sent again at restore would not carry the
 * same. Not among them: the TTL (hop limit) and TOS (traffic class), which the peek reads and
 * the restore sends each datagram with again, and the address it was sent to and the
 * interface it came in on (IP_PKTINFO, IPV6_RECVPKTINFO), kept when that interface is the
 * loopback, where a datagram sent again arrives too (kept_cmsg). */
static const struct {
	int level, name;
	const char *label;
} ancillary_opts[] = {
    {SOL_SOCKET, SO_TIMESTAMP, "SO_TIMESTAMP"},
    {SOL_SOCKET, SO_TIMESTAMPNS, "SO_TIMESTAMPNS"},
    {SOL_SOCKET, SO_TIMESTAMPING, "SO_TIMESTAMPING"},
    {SOL_SOCKET, SO_RXQ_OVFL, "SO_RXQ_OVFL"},
    {SOL_SOCKET, SO_RCVMARK, "SO_RCVMARK"},
    {SOL_SOCKET, SO_PASSCRED, "SO_PASSCRED"},
    {SOL_SOCKET, SO_PASSSEC, "SO_PASSSEC"},

    {IPPROTO_IP, IP_RECVOPTS, "IP_RECVOPTS"},
    {IPPROTO_IP, IP_RETOPTS, "IP_RETOPTS"},
    {IPPROTO_IP, IP_RECVORIGDSTADDR, "IP_RECVORIGDSTADDR"},
    {IPPROTO_IP, IP_RECVFRAGSIZE, "IP_RECVFRAGSIZE"},
    {IPPROTO_IP, IP_CHECKSUM, "IP_CHECKSUM"},
    {IPPROTO_IP, IP_PASSSEC, "IP_PASSSEC"},

    {IPPROTO_IPV6, IPV6_RECVRTHDR, "IPV6_RECVRTHDR"},
    {IPPROTO_IPV6, IPV6_RECVHOPOPTS, "IPV6_RECVHOPOPTS"},
    {IPPROTO_IPV6, IPV6_RECVDSTOPTS, "IPV6_RECVDSTOPTS"},
    {IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, "IPV6_RECVORIGDSTADDR"},
    {IPPROTO_IPV6, IPV6_RECVPATHMTU, "IPV6_RECVPATHMTU"},
    {IPPROTO_IPV6, IPV6_RECVFRAGSIZE, "IPV6_RECVFRAGSIZE"},
    {IPPROTO_IPV6, 11 /* IPV6_FLOWINFO */, "IPV6_FLOWINFO"},
    {IPPROTO_UDP, 104 /* UDP_GRO */, "UDP_GRO"},
};

/* The TTL or hop limit and TOS or traffic class a peeked datagram came with (mh's control
 * messages, there when the socket asked for them) into d, and the address it was sent to
 * (IP_PKTINFO, IPV6_PKTINFO). 0, or -ENOTSUP (logged) for an arrival the restore cannot give
 * again: on another interface than the loopback (lo_index), or with a local address for the
 * reply (spec_dst) other than the one it was sent to. */
static int kept_cmsg(struct arena *arena, struct msghdr *mh, InetSkDgram *d, unsigned lo_index,
		     const char *who, const char *local)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		const void *dst = NULL;
		struct in_pktinfo p4;
		struct in6_pktinfo p6;
		size_t dlen = 0;
		unsigned ifindex = 0;
		bool spec_ok = true;
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			memcpy(&p4, CMSG_DATA(c), sizeof(p4));
			dst = &p4.ipi_addr, dlen = 4, ifindex = (unsigned)p4.ipi_ifindex;
			spec_ok = p4.ipi_spec_dst.s_addr == p4.ipi_addr.s_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			memcpy(&p6, CMSG_DATA(c), sizeof(p6));
			dst = &p6.ipi6_addr, dlen = 16, ifindex = p6.ipi6_ifindex;
		}
		if (dst) {
			if (ifindex != lo_index || !spec_ok) {
				pr_err("%s: UDP socket %s has a datagram queued that came in on "
				       "interface %u%s (it hands the arrival over: IP_PKTINFO or "
				       "IPV6_RECVPKTINFO), which a datagram sent again would not: "
				       "not supported yet",
				       who, local, ifindex,
				       spec_ok ? "" : " with another local address to reply from");
				return -ENOTSUP;
			}
			d->dst.data = arena_memdup(arena, dst, dlen);
			if (!d->dst.data)
				return -ENOMEM;
			d->dst.len = dlen;
			d->has_dst = true;
			continue;
		}
		int v = -1;
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS &&
		    c->cmsg_len >= CMSG_LEN(1))
			v = *(uint8_t *)CMSG_DATA(c);
		else if (c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(&v, CMSG_DATA(c), sizeof(int));
		if (v < 0 || v > 255)
			continue;
		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT))
			d->has_ttl = true, d->ttl = (uint32_t)v;
		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS))
			d->has_tos = true, d->tos = (uint32_t)v;
	}
	return 0;
}

/* The datagrams queued in a UDP socket, with their senders, read without being consumed:
 * MSG_PEEK at a peek offset (SO_PEEK_OFF) that moves on by each datagram, put back as it was
 * once done. Refused: datagrams the restore could not give back the same (ancillary data,
 * a sender it could not send from). */
int inet_udp_queue_dump(struct arena *arena, int sk, InetSk *s, const char *who, const char *local,
			uint32_t rmem)
{
	int old = -1, zero = 0, ret = 0;
	socklen_t len = sizeof(old);
	unsigned char *buf;
	/* every datagram costs more than 256 bytes of the receive memory: a bound on the loop */
	uint32_t max = rmem / 256 + 2;
	unsigned lo_index = if_nametoindex("lo");

	for (size_t i = 0; i < s->n_opts; i++)
		for (size_t k = 0; k < sizeof(ancillary_opts) / sizeof(ancillary_opts[0]); k++)
			if (s->opts[i]->level == (uint32_t)ancillary_opts[k].level &&
			    s->opts[i]->name == (uint32_t)ancillary_opts[k].name &&
			    s->opts[i]->has_val && s->opts[i]->val) {
				pr_err("%s: UDP socket %s has datagrams queued and %s set (each "
				       "datagram comes with ancillary data of its arrival): not "
				       "supported yet",
				       who, local, ancillary_opts[k].label);
				return -ENOTSUP;
			}
	if (getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, &len) < 0 ||
	    setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0) {
		ret = -errno;
		pr_errno(-ret, "%s: cannot peek at the datagrams queued in UDP socket %s", who,
			 local);
		return ret;
	}
	fault_point("UDP socket: SO_PEEK_OFF changed for the peeks", 0);
	buf = malloc(65536);
	if (!buf)
		ret = -ENOMEM;
	for (uint32_t n = 0; !ret; n++) {
		struct sockaddr_storage from;
		struct iovec iov = {.iov_base = buf, .iov_len = 65536};
		union {
			char b[256];
			struct cmsghdr align;
		} cb;
		struct msghdr mh = {.msg_name = &from,
				    .msg_namelen = sizeof(from),
				    .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cb.b,
				    .msg_controllen = sizeof(cb.b)};
		uint8_t a[16];
		uint32_t port, scope, flow;
		ssize_t got;
		if (n == max) {
			pr_err("%s: UDP socket %s: more datagrams than its queue can hold", who,
			       local);
			ret = -EIO;
			break;
		}
		got = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		if (got < 0) {
			if (errno != EAGAIN)
				ret = -errno,
				pr_errno(-ret, "%s: cannot peek at UDP socket %s", who, local);
			break;
		}
		if (got > 65535) {
			pr_err("%s: UDP socket %s: a queued datagram of %zd bytes", who, local,
			       got);
			ret = -ENOTSUP;
			break;
		}
		if (!inet_sa_split(s->family, &from, a, &port, &scope, &flow) || !port ||
		    (s->family == AF_INET6 && scope)) {
			pr_err("%s: UDP socket %s has a datagram queued from a sender the restore "
			       "cannot send from again: not supported yet",
			       who, local);
			ret = -ENOTSUP;
			break;
		}
		InetSkDgram *d = A_NEW(arena, InetSkDgram, INET_SK_DGRAM);
		InetSkDgram **v = arena_alloc(arena, (s->n_queue + 1) * sizeof(*v));
		if (!d || !v ||
		    !(d->addr.data = arena_memdup(arena, a, inet_addr_len(s->family))) ||
		    (got && !(d->data.data = arena_memdup(arena, buf, (size_t)got)))) {
			ret = -ENOMEM;
			break;
		}
		d->addr.len = inet_addr_len(s->family);
		d->data.len = (size_t)got;
		if ((ret = kept_cmsg(arena, &mh, d, lo_index, who, local)))
			break;
		d->port = port;
		if (s->n_queue)
			memcpy(v, s->queue, s->n_queue * sizeof(*v));
		v[s->n_queue++] = d;
		s->queue = v;
	}
	free(buf);
	/* the socket's own peek offset back, whatever happened */
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old)) < 0 && !ret) {
		ret = -errno;
		pr_errno(-ret, "%s: cannot set the peek offset of UDP socket %s back", who, local);
	}
	if (!ret)
		pr_info("%s: UDP socket %s: %zu datagrams queued", who, local, s->n_queue);
	return ret;
}

static uint32_t rmem_of(int sk)
{
	uint32_t mem[SK_MEMINFO_VARS] = {0};
	socklen_t len = sizeof(mem);
	getsockopt(sk, SOL_SOCKET, SO_MEMINFO, mem, &len);
	return mem[SK_MEMINFO_RMEM_ALLOC];
}

/* A datagram from a sender whose port is taken here (the sender still runs and holds it, or
 * a socket of the tree has it already): sent through a raw socket, which binds the address
 * only, with its UDP header made here (sender's port, the socket's port; the checksum left
 * to the kernel on IPv6, none on IPv4, which loopback accepts). v4: an IPv4 datagram (also
 * one a dual-stack socket got), addresses of 4 bytes. 0 or -errno. */
static int send_raw(bool v4, const uint8_t *src, uint32_t sport, const struct sockaddr_storage *to,
		    const InetSkDgram *d)
{
	int family = v4 ? AF_INET : AF_INET6, one = 1, six = 6, ret = 0;
	struct sockaddr_storage from = {0}, dst = {0};
	socklen_t len;
	uint16_t dport;

	if (to->ss_family == AF_INET6) {
		const struct sockaddr_in6 *t6 = (const struct sockaddr_in6 *)to;
		dport = t6->sin6_port;
		if (v4) {
			struct sockaddr_in *d4 = (struct sockaddr_in *)&dst;
			d4->sin_family = AF_INET;
			memcpy(&d4->sin_addr, &t6->sin6_addr.s6_addr[12], 4);
		} else {
			struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&dst;
			d6->sin6_family = AF_INET6, d6->sin6_addr = t6->sin6_addr;
			d6->sin6_scope_id = t6->sin6_scope_id;
		}
	} else {
		dport = ((const struct sockaddr_in *)to)->sin_port;
		dst = *to;
		((struct sockaddr_in *)&dst)->sin_port = 0;
	}
	if (v4) {
		struct sockaddr_in *f4 = (struct sockaddr_in *)&from;
		f4->sin_family = AF_INET;
		memcpy(&f4->sin_addr, src, 4);
		len = sizeof(*f4);
	} else {
		struct sockaddr_in6 *f6 = (struct sockaddr_in6 *)&from;
		f6->sin6_family = AF_INET6;
		memcpy(&f6->sin6_addr, src, 16);
		len = sizeof(*f6);
	}
	int sk = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
	if (sk < 0)
		return -errno;
	int lvl = v4 ? IPPROTO_IP : IPPROTO_IPV6;
	int ttl = (int)d->ttl, tos = (int)d->tos;
	if (bind(sk, (struct sockaddr *)&from, len) < 0) {
		setsockopt(sk, lvl, v4 ? IP_TRANSPARENT : IPV6_TRANSPARENT, &one, sizeof(one));
		if (bind(sk, (struct sockaddr *)&from, len) < 0)
			ret = -errno;
	}
	if (!ret && !v4 && setsockopt(sk, IPPROTO_IPV6, IPV6_CHECKSUM, &six, sizeof(six)) < 0)
		ret = -errno;
	if (!ret &&
	    ((d->has_ttl &&
	      setsockopt(sk, lvl, v4 ? IP_TTL : IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) < 0) ||
	     (d->has_tos && setsockopt(sk, lvl, v4 ? IP_TOS : IPV6_TCLASS, &tos, sizeof(tos)) < 0)))
		ret = -errno;
	uint8_t *pkt = ret ? NULL : malloc(8 + d->data.len);
	if (!ret && !pkt)
		ret = -ENOMEM;
	if (!ret) {
		uint16_t hdr[4] = {htons((uint16_t)sport), dport,
				   htons((uint16_t)(8 + d->data.len)), 0};
		memcpy(pkt, hdr, 8);
		if (d->data.len)
			memcpy(pkt + 8, d->data.data, d->data.len);
		if (sendto(sk, pkt, 8 + d->data.len, 0, (struct sockaddr *)&dst,
			   v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) !=
		    (ssize_t)(8 + d->data.len))
			ret = -errno;
	}
	free(pkt);
	close(sk);
	return ret;
}

/* Restore: the datagrams, each sent again from a socket bound to its sender's address and
 * port, to the new socket; then counted there. -1 after child_fail. */
int inet_udp_queue_restore(struct restore_task *t, const FdEntry *e, int sk)
{
	const InetSk *s = e->inet;
	struct sockaddr_storage self, to, from;
	socklen_t tolen = sizeof(self), fromlen;
	char who[80];

	if (getsockname(sk, (struct sockaddr *)&self, &tolen) < 0) {
		child_fail(t, errno, "fd %d: cannot read the socket's address", e->fd);
		return -1;
	}
	for (size_t i = 0; i < s->n_queue; i++) {
		const InetSkDgram *d = s->queue[i];
		bool mapped = s->family == AF_INET6 &&
			      IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)d->addr.data);
		int one = 1, r, tmp;

		/* a socket bound to any address is reached at the loopback address of the
		 * sender's kind */
		to = self;
		if (s->family == AF_INET) {
			struct in_addr *a4 = &((struct sockaddr_in *)&to)->sin_addr;
			if (a4->s_addr == htonl(INADDR_ANY))
				a4->s_addr = htonl(INADDR_LOOPBACK);
		} else {
			struct in6_addr *a6 = &((struct sockaddr_in6 *)&to)->sin6_addr;
			if (IN6_IS_ADDR_UNSPECIFIED(a6) && mapped)
				inet_pton(AF_INET6, "::ffff:127.0.0.1", a6);
			else if (IN6_IS_ADDR_UNSPECIFIED(a6))
				*a6 = in6addr_loopback;
		}
		/* sent to an address of its own: there again (it arrives on the loopback) */
		if (d->has_dst && s->family == AF_INET)
			memcpy(&((struct sockaddr_in *)&to)->sin_addr, d->dst.data, 4);
		else if (d->has_dst && d->dst.len == 16)
			memcpy(&((struct sockaddr_in6 *)&to)->sin6_addr, d->dst.data, 16);
		else if (d->has_dst) {
			struct in6_addr *a6 = &((struct sockaddr_in6 *)&to)->sin6_addr;
			inet_pton(AF_INET6, "::ffff:0.0.0.0", a6);
			memcpy(&a6->s6_addr[12], d->dst.data, 4);
		}
		inet_addr_text(s->family, d->addr.data, d->port, who, sizeof(who));
		fromlen = inet_sa_make(s->family, d->addr.data, d->port, 0, 0, &from);
		tmp = socket((int)s->family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
		if (tmp < 0) {
			child_fail(t, errno, "fd %d: cannot make a socket to send from", e->fd);
			return -1;
		}
		r = bind(tmp, (struct sockaddr *)&from, fromlen);
		if (r < 0 && errno == EADDRNOTAVAIL) {
			/* a sender of another machine: bound as a transparent proxy binds */
			setsockopt(tmp, s->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
				   s->family == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one,
				   sizeof(one));
			r = bind(tmp, (struct sockaddr *)&from, fromlen);
		}
		bool v4 = s->family == AF_INET || mapped;
		uint32_t before = rmem_of(sk);
		if (r < 0 && errno == EADDRINUSE) {
			/* the sender's port is taken: a raw socket sends it as from there */
			close(tmp);
			int err = send_raw(v4, d->addr.data + (mapped ? 12 : 0), d->port, &to, d);
			if (err) {
				child_fail(
				    t, -err,
				    "fd %d: cannot send its queued datagram %zu again from %s "
				    "(its sender's port is taken here, and a raw socket failed)",
				    e->fd, i, who);
				return -1;
			}
			goto sent;
		}
		if (r < 0) {
			child_fail(t, errno,
				   "fd %d: cannot send its queued datagram %zu again from %s (its "
				   "sender's address)",
				   e->fd, i, who);
			close(tmp);
			return -1;
		}
		/* the TTL (hop limit) and TOS (traffic class) it came with: loopback keeps them */
		int ttl = (int)d->ttl, tos = (int)d->tos;
		if ((d->has_ttl &&
		     setsockopt(tmp, v4 ? IPPROTO_IP : IPPROTO_IPV6,
				v4 ? IP_TTL : IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) < 0) ||
		    (d->has_tos && setsockopt(tmp, v4 ? IPPROTO_IP : IPPROTO_IPV6,
					      v4 ? IP_TOS : IPV6_TCLASS, &tos, sizeof(tos)) < 0)) {
			child_fail(t, errno,
				   "fd %d: cannot give its queued datagram %zu its TTL %u or TOS "
				   "%u again",
				   e->fd, i, d->ttl, d->tos);
			close(tmp);
			return -1;
		}
		if (sendto(tmp, d->data.data, d->data.len, 0, (struct sockaddr *)&to, tolen) !=
		    (ssize_t)d->data.len) {
			child_fail(t, errno, "fd %d: cannot send its queued datagram %zu from %s",
				   e->fd, i, who);
			close(tmp);
			return -1;
		}
		close(tmp);
	sent:
		/* it arrived: the socket's receive memory grew (loopback delivers at once; a
		 * connected socket drops a datagram of another sender). Not counted by peeking:
		 * a peek at an offset marks an empty datagram, and later peeks skip it. */
		for (int k = 0; rmem_of(sk) <= before; k++) {
			if (k == 100) {
				child_fail(t, EIO,
					   "fd %d: its queued datagram %zu from %s did not "
					   "arrive again",
					   e->fd, i, who);
				return -1;
			}
			usleep(1000);
		}
	}
	return 0;
}

int inet_udp_queue_validate(const char *img, const FdEntry *e)
{
	const InetSk *s = e->inet;

	if (s->n_queue && !(inet_is_udp(s) && s->protocol == IPPROTO_UDP))
		return files_refuse(img, "fd %d: datagrams queued on a socket that is not UDP",
				    e->fd);
	for (size_t i = 0; i < s->n_queue; i++) {
		const InetSkDgram *d = s->queue[i];
		if (d->addr.len != inet_addr_len(s->family) || !d->port || d->port > 65535 ||
		    d->data.len > 65535 || (d->has_ttl && (!d->ttl || d->ttl > 255)) ||
		    (d->has_tos && d->tos > 255) ||
		    (d->has_dst && d->dst.len != inet_addr_len(s->family) &&
		     !(s->family == AF_INET6 && d->dst.len == 4)))
			return files_refuse(img, "fd %d: queued datagram %zu is invalid", e->fd, i);
	}
	return 0;
}
