/* The socket options of AF_INET and AF_INET6 sockets: one table of every option cryo knows,
 * with the family and protocols it applies to and the range of its value. The dump reads every
 * one (getsockopt on cryo's copy of the socket: reading changes nothing); the restore sets on
 * the new socket those that differ from what a new socket has, then reads every one back and
 * compares, so a value the kernel took differently fails the restore instead of passing
 * unnoticed. Saving every value, not only those that differ from a new socket's at dump, keeps
 * a value the dumped machine had by default where another machine's default differs.
 *
 * Options a program can set but nobody can read back are refused, or named in README as not
 * seen (TCP_MD5SIG keys, SO_ATTACH_REUSEPORT_*BPF programs). The SOL_SOCKET part of the table
 * applies to any family; a kind of another family could take it from here. */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "compat.h"
#include "core/log.h"
#include "files/inet.h"
#include "files/kind.h"

#ifndef UDPLITE_SEND_CSCOV
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11
#endif
#ifndef UDP_ENCAP
#define UDP_ENCAP 100
#endif
#ifndef UDP_NO_CHECK6_TX
#define UDP_NO_CHECK6_TX 101
#define UDP_NO_CHECK6_RX 102
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#ifndef SOL_RAW
#define SOL_RAW 255
#endif
#ifndef ICMP_FILTER
#define ICMP_FILTER 1 /* linux/icmp.h: the ICMP types a raw ICMP socket drops */
#endif
#ifndef ICMP6_FILTER
#define ICMP6_FILTER 1
#endif
#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif

#ifndef IPV6_FLOWINFO
#define IPV6_FLOWINFO 11 /* linux/in6.h, which glibc's netinet/in.h does not carry */
#endif

enum opt_kind {
	OK_INT,	    /* an int */
	OK_U32,	    /* an int the kernel keeps unsigned */
	OK_BUF,	    /* SO_SNDBUF/SO_RCVBUF: read doubled, set halved (with ...FORCE) */
	OK_TIMEVAL, /* struct timeval */
	OK_LINGER,  /* struct linger */
	OK_STR,	    /* a name: device, congestion control */
	OK_RAW,	    /* a structure of `max` bytes, set as read */
};

enum { F4 = 1, F6 = 2, F46 = 3 };
#define P_ALL (INET_P_TCP | INET_P_UDP | INET_P_UDPLITE | INET_P_RAW | INET_P_PING)
#define P_UDP (INET_P_UDP | INET_P_UDPLITE)

struct opt_def {
	int level, name;
	const char *label;
	unsigned char fam, protos;
	enum opt_kind kind;
	int64_t min, max; /* the value's range; OK_STR, OK_RAW: max is the length */
	int set_name;	  /* OK_BUF: the option that sets it */
};

#define B(l, n, f, p)                                                                              \
	{                                                                                          \
		l, n, #n, f, p, OK_INT, 0, 1, 0                                                    \
	}
#define I(l, n, f, p, lo, hi)                                                                      \
	{                                                                                          \
		l, n, #n, f, p, OK_INT, lo, hi, 0                                                  \
	}
#define U(l, n, f, p)                                                                              \
	{                                                                                          \
		l, n, #n, f, p, OK_U32, 0, UINT32_MAX, 0                                           \
	}

static const struct opt_def defs[] = {
    /* SOL_SOCKET */
    B(SOL_SOCKET, SO_REUSEADDR, F46, P_ALL),
    B(SOL_SOCKET, SO_REUSEPORT, F46, P_ALL),
    B(SOL_SOCKET, SO_KEEPALIVE, F46, P_ALL),
    B(SOL_SOCKET, SO_BROADCAST, F46, P_ALL),
    B(SOL_SOCKET, SO_DONTROUTE, F46, P_ALL),
    B(SOL_SOCKET, SO_OOBINLINE, F46, P_ALL),
    B(SOL_SOCKET, SO_NO_CHECK, F46, P_ALL),
    U(SOL_SOCKET, SO_PRIORITY, F46, P_ALL),
    U(SOL_SOCKET, SO_MARK, F46, P_ALL),
    B(SOL_SOCKET, SO_RCVMARK, F46, P_ALL),
    I(SOL_SOCKET, SO_RCVLOWAT, F46, P_ALL, 0, INT_MAX),
    {SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", F46, P_ALL, OK_BUF, 0, INT_MAX, SO_SNDBUFFORCE},
    {SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", F46, P_ALL, OK_BUF, 0, INT_MAX, SO_RCVBUFFORCE},
    {SOL_SOCKET, SO_RCVTIMEO, "SO_RCVTIMEO", F46, P_ALL, OK_TIMEVAL, 0, 0, 0},
    {SOL_SOCKET, SO_SNDTIMEO, "SO_SNDTIMEO", F46, P_ALL, OK_TIMEVAL, 0, 0, 0},
    {SOL_SOCKET, SO_LINGER, "SO_LINGER", F46, P_ALL, OK_LINGER, 0, 0, 0},
    {SOL_SOCKET, SO_BINDTODEVICE, "SO_BINDTODEVICE", F46, P_ALL, OK_STR, 0, IFNAMSIZ - 1, 0},
    B(SOL_SOCKET, SO_TIMESTAMP, F46, P_ALL),
    B(SOL_SOCKET, SO_TIMESTAMPNS, F46, P_ALL),
    I(SOL_SOCKET, SO_TIMESTAMPING, F46, P_ALL, 0, INT_MAX),
    {SOL_SOCKET, SO_TXTIME, "SO_TXTIME", F46, P_ALL, OK_RAW, 0, 8, 0},
    B(SOL_SOCKET, SO_PASSCRED, F46, P_ALL),
    B(SOL_SOCKET, SO_PASSSEC, F46, P_ALL),
    B(SOL_SOCKET, SO_PASSPIDFD, F46, P_ALL),
    B(SOL_SOCKET, SO_RXQ_OVFL, F46, P_ALL),
    B(SOL_SOCKET, SO_WIFI_STATUS, F46, P_ALL),
    B(SOL_SOCKET, SO_SELECT_ERR_QUEUE, F46, P_ALL),
    B(SOL_SOCKET, SO_LOCK_FILTER, F46, P_ALL),
    I(SOL_SOCKET, SO_BUSY_POLL, F46, P_ALL, 0, INT_MAX),
    B(SOL_SOCKET, SO_PREFER_BUSY_POLL, F46, P_ALL),
    I(SOL_SOCKET, SO_BUSY_POLL_BUDGET, F46, P_ALL, 0, UINT16_MAX),
    B(SOL_SOCKET, SO_ZEROCOPY, F46, P_ALL),
    I(SOL_SOCKET, SO_PEEK_OFF, F46, P_ALL, -1, INT_MAX),
    U(SOL_SOCKET, SO_MAX_PACING_RATE, F46, P_ALL),
    B(SOL_SOCKET, SO_TXREHASH, F46, P_ALL),
    I(SOL_SOCKET, SO_RESERVE_MEM, F46, P_ALL, 0, INT_MAX),
    /* IPPROTO_IP: an AF_INET6 socket takes them too (for its v4-mapped traffic) */
    I(IPPROTO_IP, IP_TOS, F46, P_ALL, 0, 255),
    I(IPPROTO_IP, IP_TTL, F46, P_ALL, 1, 255),
    B(IPPROTO_IP, IP_RECVOPTS, F46, P_ALL),
    B(IPPROTO_IP, IP_RETOPTS, F46, P_ALL),
    B(IPPROTO_IP, IP_PKTINFO, F46, P_ALL),
    I(IPPROTO_IP, IP_MTU_DISCOVER, F46, P_ALL, 0, 5),
    B(IPPROTO_IP, IP_RECVERR, F46, P_ALL),
    B(IPPROTO_IP, IP_RECVTTL, F46, P_ALL),
    B(IPPROTO_IP, IP_RECVTOS, F46, P_ALL),
    B(IPPROTO_IP, IP_FREEBIND, F46, P_ALL),
    B(IPPROTO_IP, IP_PASSSEC, F46, P_ALL),
    B(IPPROTO_IP, IP_TRANSPARENT, F46, P_ALL),
    B(IPPROTO_IP, IP_RECVORIGDSTADDR, F46, P_ALL),
    I(IPPROTO_IP, IP_MINTTL, F46, P_ALL, 0, 255),
    B(IPPROTO_IP, IP_CHECKSUM, F46, P_ALL),
    B(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, F46, P_ALL),
    B(IPPROTO_IP, IP_RECVFRAGSIZE, F46, P_ALL),
    B(IPPROTO_IP, IP_RECVERR_RFC4884, F46, P_ALL),
    I(IPPROTO_IP, IP_MULTICAST_TTL, F46, P_ALL, 0, 255),
    B(IPPROTO_IP, IP_MULTICAST_LOOP, F46, P_ALL),
    B(IPPROTO_IP, IP_MULTICAST_ALL, F46, P_ALL),
    {IPPROTO_IP, IP_MULTICAST_IF, "IP_MULTICAST_IF", F46, P_ALL, OK_RAW, 0, 4, 0},
    U(IPPROTO_IP, IP_UNICAST_IF, F46, P_ALL),
    U(IPPROTO_IP, IP_LOCAL_PORT_RANGE, F46, P_ALL),
    /* IPPROTO_IPV6 */
    B(IPPROTO_IPV6, IPV6_V6ONLY, F6, P_ALL),
    I(IPPROTO_IPV6, IPV6_UNICAST_HOPS, F6, P_ALL, -1, 255),
    I(IPPROTO_IPV6, IPV6_MULTICAST_IF, F6, P_ALL, 0, INT_MAX),
    I(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, F6, P_ALL, -1, 255),
    B(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_MULTICAST_ALL, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_RECVPKTINFO, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_RECVRTHDR, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_RECVHOPOPTS, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_RECVDSTOPTS, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_RECVTCLASS, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_RECVPATHMTU, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_RECVFRAGSIZE, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_RECVERR, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_RECVERR_RFC4884, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_FLOWINFO, F6, P_ALL),
    I(IPPROTO_IPV6, IPV6_TCLASS, F6, P_ALL, -1, 255),
    I(IPPROTO_IPV6, IPV6_MTU_DISCOVER, F6, P_ALL, 0, 5),
    B(IPPROTO_IPV6, IPV6_FREEBIND, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_TRANSPARENT, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_AUTOFLOWLABEL, F6, P_ALL),
    B(IPPROTO_IPV6, IPV6_DONTFRAG, F6, P_ALL),
    U(IPPROTO_IPV6, IPV6_ADDR_PREFERENCES, F6, P_ALL),
    I(IPPROTO_IPV6, IPV6_MINHOPCOUNT, F6, P_ALL, 0, 255),
    /* IPPROTO_TCP */
    B(IPPROTO_TCP, TCP_NODELAY, F46, INET_P_TCP),
    B(IPPROTO_TCP, TCP_CORK, F46, INET_P_TCP),
    I(IPPROTO_TCP, TCP_MAXSEG, F46, INET_P_TCP, 0, 65535),
    I(IPPROTO_TCP, TCP_KEEPIDLE, F46, INET_P_TCP, 1, 32767),
    I(IPPROTO_TCP, TCP_KEEPINTVL, F46, INET_P_TCP, 1, 32767),
    I(IPPROTO_TCP, TCP_KEEPCNT, F46, INET_P_TCP, 1, 127),
    I(IPPROTO_TCP, TCP_SYNCNT, F46, INET_P_TCP, 1, 127),
    I(IPPROTO_TCP, TCP_LINGER2, F46, INET_P_TCP, -1, INT_MAX),
    I(IPPROTO_TCP, TCP_DEFER_ACCEPT, F46, INET_P_TCP, 0, INT_MAX),
    I(IPPROTO_TCP, TCP_WINDOW_CLAMP, F46, INET_P_TCP, 0, INT_MAX),
    I(IPPROTO_TCP, TCP_USER_TIMEOUT, F46, INET_P_TCP, 0, INT_MAX),
    I(IPPROTO_TCP, TCP_FASTOPEN, F46, INET_P_TCP, 0, INT_MAX),
    B(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, F46, INET_P_TCP),
    B(IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, F46, INET_P_TCP),
    U(IPPROTO_TCP, TCP_NOTSENT_LOWAT, F46, INET_P_TCP),
    B(IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS, F46, INET_P_TCP),
    I(IPPROTO_TCP, TCP_SAVE_SYN, F46, INET_P_TCP, 0, 2),
    I(IPPROTO_TCP, TCP_TX_DELAY, F46, INET_P_TCP, 0, INT_MAX),
    B(IPPROTO_TCP, TCP_INQ, F46, INET_P_TCP),
    {IPPROTO_TCP, TCP_CONGESTION, "TCP_CONGESTION", F46, INET_P_TCP, OK_STR, 0, 15, 0},
    /* UDP and UDP-Lite */
    B(IPPROTO_UDP, UDP_CORK, F46, P_UDP),
    B(IPPROTO_UDP, UDP_NO_CHECK6_TX, F6, P_UDP),
    B(IPPROTO_UDP, UDP_NO_CHECK6_RX, F6, P_UDP),
    I(IPPROTO_UDP, UDP_SEGMENT, F46, P_UDP, 0, 65535),
    B(IPPROTO_UDP, UDP_GRO, F46, P_UDP),
    I(IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, F46, INET_P_UDPLITE, 0, 65535),
    I(IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV, F46, INET_P_UDPLITE, 0, 65535),
    /* raw sockets: the program builds the IP header itself; the ICMP types a raw ICMP
     * socket drops (read only from an IPPROTO_ICMP / IPPROTO_ICMPV6 one, left out for
     * others); the offset of the checksum the kernel computes (IPv6) */
    B(IPPROTO_IP, IP_HDRINCL, F4, INET_P_RAW),
    {SOL_RAW, ICMP_FILTER, "ICMP_FILTER", F4, INET_P_RAW, OK_RAW, 0, 4, 0},
    I(IPPROTO_IPV6, IPV6_CHECKSUM, F6, INET_P_RAW, -1, 65535),
    B(IPPROTO_IPV6, IPV6_HDRINCL, F6, INET_P_RAW),
    {IPPROTO_ICMPV6, ICMP6_FILTER, "ICMP6_FILTER", F6, INET_P_RAW, OK_RAW, 0, 32, 0},
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

unsigned inet_proto_mask(int type, int protocol)
{
	if (type == SOCK_RAW)
		return protocol > 0 && protocol < 256 ? INET_P_RAW : 0;
	if (type == SOCK_DGRAM && (protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6))
		return INET_P_PING;
	if (type != (protocol == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM))
		return 0;
	switch (protocol) {
	case IPPROTO_TCP:
		return INET_P_TCP;
	case IPPROTO_UDP:
		return INET_P_UDP;
	case IPPROTO_UDPLITE:
		return INET_P_UDPLITE;
	}
	return 0;
}

const char *inet_proto_label(const InetSk *s)
{
	switch (inet_proto_mask((int)s->type, (int)s->protocol)) {
	case INET_P_TCP:
		return "TCP";
	case INET_P_UDP:
		return "UDP";
	case INET_P_UDPLITE:
		return "UDP-Lite";
	case INET_P_RAW:
		return "raw";
	case INET_P_PING:
		return "ICMP (ping)";
	}
	return "inet";
}

static bool applies(const struct opt_def *d, int family, unsigned protos)
{
	return (d->fam & (family == AF_INET6 ? F6 : F4)) && (d->protos & protos);
}

static const struct opt_def *def_of(uint32_t level, uint32_t name)
{
	for (size_t i = 0; i < NDEFS; i++)
		if ((uint32_t)defs[i].level == level && (uint32_t)defs[i].name == name)
			return &defs[i];
	return NULL;
}

/* What one option holds: an integer, or bytes */
struct opt_val {
	int64_t v;
	unsigned char data[32];
	size_t len;
};

/* 0 and the value; 1: the kernel has no such option for this socket; -errno */
static int opt_read(int sk, const struct opt_def *d, struct opt_val *o)
{
	socklen_t len;
	int v = 0;

	memset(o, 0, sizeof(*o));
	switch (d->kind) {
	case OK_INT:
	case OK_U32:
	case OK_BUF:
		len = sizeof(v);
		if (getsockopt(sk, d->level, d->name, &v, &len) < 0)
			break;
		o->v = d->kind == OK_U32 ? (int64_t)(uint32_t)v : v;
		return 0;
	case OK_TIMEVAL:
	case OK_LINGER:
	case OK_STR:
	case OK_RAW:
		len = d->kind == OK_TIMEVAL  ? sizeof(struct timeval)
		      : d->kind == OK_LINGER ? sizeof(struct linger)
		      : d->kind == OK_STR    ? (socklen_t)sizeof(o->data)
					     : (socklen_t)d->max;
		if (getsockopt(sk, d->level, d->name, o->data, &len) < 0)
			break;
		o->len = len;
		if (d->kind == OK_STR)
			o->len = strnlen((char *)o->data, len);
		return 0;
	}
	return errno == ENOPROTOOPT || errno == EOPNOTSUPP || errno == EINVAL ? 1 : -errno;
}

static bool opt_equal(const struct opt_def *d, const struct opt_val *a, const struct opt_val *b)
{
	if (d->kind == OK_INT || d->kind == OK_U32 || d->kind == OK_BUF)
		return a->v == b->v;
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

static void opt_text(const struct opt_def *d, const struct opt_val *o, char *buf, size_t size)
{
	if (d->kind == OK_INT || d->kind == OK_U32 || d->kind == OK_BUF)
		snprintf(buf, size, "%lld", (long long)o->v);
	else if (d->kind == OK_STR)
		snprintf(buf, size, "\"%.*s\"", (int)o->len, (const char *)o->data);
	else {
		size_t n = 0;
		buf[0] = 0;
		for (size_t i = 0; i < o->len && n + 3 < size; i++)
			n += snprintf(buf + n, size - n, "%02x", o->data[i]);
	}
}

static int opt_write(int sk, const struct opt_def *d, const struct opt_val *o)
{
	int v = (int)o->v;
	switch (d->kind) {
	case OK_INT:
	case OK_U32:
		return setsockopt(sk, d->level, d->name, &v, sizeof(v));
	case OK_BUF:
		/* the kernel doubles what it is given (room for its own bookkeeping) */
		v = (int)(o->v / 2);
		return setsockopt(sk, d->level, d->set_name, &v, sizeof(v));
	default:
		return setsockopt(sk, d->level, d->name, o->data, (socklen_t)o->len);
	}
}

/* State a program can give a socket that the table cannot carry: refused by name. */
static int refuse_unreadable(int sk, const InetSk *s, const char *who)
{
	unsigned char buf[64];
	socklen_t len = 0;
	int ret = 0;

	/* a socket filter is saved by sk_filter.c (a classic one) or refused there (eBPF) */
	len = sizeof(buf);
	if (inet_is_tcp(s) && getsockopt(sk, IPPROTO_TCP, TCP_ULP, buf, &len) == 0 && len &&
	    buf[0]) {
		pr_err("%s: TCP upper-layer protocol \"%.*s\" (TCP_ULP): not supported", who,
		       (int)strnlen((char *)buf, len), buf);
		ret = -ENOTSUP;
	}
	len = sizeof(buf);
	if (getsockopt(sk, IPPROTO_IP, IP_OPTIONS, buf, &len) == 0 && len) {
		pr_err("%s: IP options (IP_OPTIONS, %u bytes): not supported yet", who, len);
		ret = -ENOTSUP;
	}
	if (inet_is_udp(s)) {
		int encap = 0;
		len = sizeof(encap);
		if (getsockopt(sk, IPPROTO_UDP, UDP_ENCAP, &encap, &len) == 0 && encap) {
			pr_err("%s: UDP encapsulation %d (UDP_ENCAP): not supported", who, encap);
			ret = -ENOTSUP;
		}
	}
	if (s->family == AF_INET6) {
		static const struct {
			int name;
			const char *label;
		} sticky[] = {{IPV6_HOPOPTS, "IPV6_HOPOPTS"},
			      {IPV6_RTHDRDSTOPTS, "IPV6_RTHDRDSTOPTS"},
			      {IPV6_RTHDR, "IPV6_RTHDR"},
			      {IPV6_DSTOPTS, "IPV6_DSTOPTS"}};
		for (size_t i = 0; i < sizeof(sticky) / sizeof(sticky[0]); i++) {
			len = sizeof(buf);
			if (getsockopt(sk, IPPROTO_IPV6, sticky[i].name, buf, &len) == 0 && len) {
				pr_err("%s: IPv6 extension header option %s: not supported yet",
				       who, sticky[i].label);
				ret = -ENOTSUP;
			}
		}
	}
	return ret;
}

/* Which options of the table a socket takes: an inet socket's by family and protocol; for a
 * socket of another family (unix), the SOL_SOCKET ones that sockopt.c does not carry itself
 * (buffers, timeouts, credential flags, peek offset, filter lock: those have their own order
 * there) */
struct opt_sel {
	int family;
	unsigned protos;
	bool other_family;
	bool tcp_established; /* an established TCP connection (inet_tcp.c's) */
};

static bool sol_generic(const struct opt_def *d)
{
	if (d->level != SOL_SOCKET)
		return false;
	switch (d->name) {
	case SO_SNDBUF:
	case SO_RCVBUF:
	case SO_RCVTIMEO:
	case SO_SNDTIMEO:
	case SO_PASSCRED:
	case SO_PASSSEC:
	case SO_PASSPIDFD:
	case SO_PEEK_OFF:
	case SO_LOCK_FILTER:
		return false;
	}
	return true;
}

static bool selected(const struct opt_def *d, const struct opt_sel *sel)
{
	return sel->other_family ? sol_generic(d) : applies(d, sel->family, sel->protos);
}

/* Every option of the table a socket of this kind has, read ahead of the walk (fd_read.c) */
struct inet_opts_pre {
	bool read[NDEFS];
	int err[NDEFS]; /* opt_read's answer */
	struct opt_val v[NDEFS];
};

struct inet_opts_pre *inet_opts_prefetch(int sk, int family, int type, int protocol)
{
	struct opt_sel sel = {family, inet_proto_mask(type, protocol),
			      family != AF_INET && family != AF_INET6};
	struct inet_opts_pre *p = malloc(sizeof(*p));

	if (!p)
		return NULL;
	for (size_t i = 0; i < NDEFS; i++) {
		/* the selection of opts_dump, but for the state of a TCP socket's (not known
		 * here: its two options more are read, and left out there) */
		p->read[i] = selected(&defs[i], &sel);
		if (p->read[i])
			p->err[i] = opt_read(sk, &defs[i], &p->v[i]);
	}
	return p;
}

static int opts_dump(struct arena *a, int sk, const struct opt_sel *sel, InetSkOpt ***out,
		     size_t *n, const char *who, const struct inet_opts_pre *pre)
{
	InetSkOpt **opts = arena_alloc(a, NDEFS * sizeof(*opts));
	int ret;

	*n = 0;
	if (!opts)
		return -ENOMEM;
	*out = opts;
	for (size_t i = 0; i < NDEFS; i++) {
		const struct opt_def *d = &defs[i];
		struct opt_val o;
		if (!selected(d, sel))
			continue;
		/* an established connection's MSS is the peer's (TCP_REPAIR_OPTIONS carries
		 * it); a new socket's TCP_MAXSEG is the one a program asks for; a connect in
		 * progress (SYN_SENT) reads the MSS of its route there, the one it asked for is
		 * inet_syn_sent.c's */
		if (sel->tcp_established && d->level == IPPROTO_TCP && d->name == TCP_MAXSEG)
			continue;
		/* a TCP socket refuses IP_MULTICAST_TTL (EINVAL), and a connected one reads
		 * its unicast TTL there: nothing to save */
		if (sel->tcp_established && d->level == IPPROTO_IP && d->name == IP_MULTICAST_TTL)
			continue;
		/* a TCP socket takes no IPv6 multicast interface or hop limit (setsockopt
		 * fails ENOPROTOOPT on SOCK_STREAM) and sends no multicast; an accepted one
		 * reads the interface and hop limit its SYN came with there (the kernel copies
		 * them at accept), which nothing can set again: not saved */
		if ((sel->protos & INET_P_TCP) && d->level == IPPROTO_IPV6 &&
		    (d->name == IPV6_MULTICAST_IF || d->name == IPV6_MULTICAST_HOPS))
			continue;
		if (pre && pre->read[i]) {
			ret = pre->err[i];
			o = pre->v[i];
		} else {
			ret = opt_read(sk, d, &o);
		}
		if (ret == 1)
			continue;
		if (ret < 0) {
			pr_errno(-ret, "%s: cannot read socket option %s", who, d->label);
			return ret;
		}
		InetSkOpt *x = A_NEW(a, InetSkOpt, INET_SK_OPT);
		if (!x)
			return -ENOMEM;
		x->level = d->level;
		x->name = d->name;
		if (d->kind == OK_INT || d->kind == OK_U32 || d->kind == OK_BUF) {
			x->has_val = true;
			x->val = o.v;
		} else {
			x->has_data = true;
			x->data.len = o.len;
			x->data.data = o.len ? arena_memdup(a, o.data, o.len) : NULL;
			if (o.len && !x->data.data)
				return -ENOMEM;
		}
		opts[(*n)++] = x;
	}
	return 0;
}

int inet_opts_dump(struct arena *a, int sk, InetSk *s, const char *who,
		   const struct inet_opts_pre *pre)
{
	struct opt_sel sel = {(int)s->family, inet_proto_mask((int)s->type, (int)s->protocol),
			      false,
			      s->type == SOCK_STREAM && s->protocol == IPPROTO_TCP &&
				  (s->state == 1 || s->state == 2)};
	int ret = refuse_unreadable(sk, s, who);

	if (ret)
		return ret;
	return opts_dump(a, sk, &sel, &s->opts, &s->n_opts, who, pre);
}

int sol_opts_dump(struct arena *a, int sk, InetSkOpt ***opts, size_t *n, const char *who,
		  const struct inet_opts_pre *pre)
{
	struct opt_sel sel = {0, 0, true};
	return opts_dump(a, sk, &sel, opts, n, who, pre);
}

static void image_val(const struct opt_def *d, const InetSkOpt *x, struct opt_val *o)
{
	memset(o, 0, sizeof(*o));
	if (d->kind == OK_INT || d->kind == OK_U32 || d->kind == OK_BUF) {
		o->v = x->val;
		/* a buffer the kernel grew itself (an established connection's) can be odd; one
		 * set is always doubled: the nearest value the restore can give */
		if (d->kind == OK_BUF)
			o->v &= ~(int64_t)1;
	} else {
		o->len = x->data.len; /* validated: fits */
		if (o->len)
			memcpy(o->data, x->data.data, o->len);
	}
}

/* What every option reads on a socket just made, for one kind of socket (family, type,
 * protocol): the same for each of them, so read once a restore (a server's 1,000 sockets
 * would read each option of each twice). Only a guess of what needs setting: the check
 * pass reads the socket itself. */
struct inet_opts_fresh {
	int family, type, protocol;
	int err[NDEFS]; /* opt_read's answer */
	struct opt_val v[NDEFS];
	struct inet_opts_fresh *next;
};

/* sk was made by socket(family, type, protocol) (flags aside): sockets made by the same
 * call are of one kind, whatever the kernel reads the protocol as */
static const struct inet_opts_fresh *fresh_of(struct inet_opts_fresh **cache, int sk, int family,
					      int type, int protocol)
{
	if (!cache)
		return NULL;
	for (struct inet_opts_fresh *f = *cache; f; f = f->next)
		if (f->family == family && f->type == type && f->protocol == protocol)
			return f;
	struct inet_opts_fresh *f = malloc(sizeof(*f));
	if (!f)
		return NULL;
	f->family = family, f->type = type, f->protocol = protocol;
	/* before anything is set on this one */
	for (size_t i = 0; i < NDEFS; i++)
		f->err[i] = opt_read(sk, &defs[i], &f->v[i]);
	f->next = *cache;
	*cache = f;
	return f;
}

/* Pass 0 sets what differs from the fresh values (read from sk when there is no cache);
 * each later pass reads every option of sk, sets what still differs (setting one may
 * change another), and the first that sets nothing ends it. guess_only: pass 0 alone, for
 * a socket whose every option inet_opts_apply_again reads back later anyway. */
#define OPT_PASSES 4
static int opts_apply(int sk, const InetSk *s, InetSkOpt *const *opts, size_t n,
		      struct inet_opts_fresh **cache, bool guess_only, char *err, size_t size)
{
	const struct inet_opts_fresh *fresh =
	    s ? fresh_of(cache, sk, (int)s->family, (int)s->type, (int)s->protocol) : NULL;
	char want[80], got[80];
	bool wrote = true;

	for (int pass = 0; pass < (guess_only ? 1 : OPT_PASSES) && wrote; pass++) {
		/* a pass that read sk itself and set nothing is the check */
		bool real = pass > 0 || !fresh;
		wrote = false;
		for (size_t i = 0; i < n; i++) {
			const InetSkOpt *x = opts[i];
			const struct opt_def *d = def_of(x->level, x->name); /* validated */
			struct opt_val o, now;
			int ret;
			if (!d)
				continue;
			image_val(d, x, &o);
			if (real) {
				ret = opt_read(sk, d, &now);
			} else {
				ret = fresh->err[d - defs];
				now = fresh->v[d - defs];
			}
			if (ret) {
				snprintf(err, size, "cannot read socket option %s: %s", d->label,
					 ret == 1 ? "not known to this kernel" : strerror(-ret));
				return -1;
			}
			if (opt_equal(d, &o, &now))
				continue;
			opt_text(d, &o, want, sizeof(want));
			opt_text(d, &now, got, sizeof(got));
			if (pass == OPT_PASSES - 1) {
				/* the last pass only checks */
				snprintf(err, size, "socket option %s is %s, not %s as dumped",
					 d->label, got, want);
				return -1;
			}
			if (opt_write(sk, d, &o) < 0) {
				snprintf(err, size, "cannot set socket option %s to %s: %s",
					 d->label, want, strerror(errno));
				return -1;
			}
			wrote = true;
		}
		if (!real)
			wrote = true; /* a guess is never the check */
	}
	return 0;
}

int inet_opts_apply(int sk, const InetSk *s, struct inet_opts_fresh **cache, char *err, size_t size)
{
	/* A connection (or a connect in progress) gets its options read back and set again
	 * once out of repair mode (inet_opts_apply_again), where the check that counts is:
	 * its connect and repair steps may change some (leaving repair mode clears
	 * SO_REUSEADDR; the connect may trim TCP_WINDOW_CLAMP and grow buffers a program did
	 * not set). A check here as well would read every option one more time for nothing
	 * the restore keeps: what the repair steps take from the options (the bind's
	 * SO_REUSEADDR, IP_FREEBIND, IP_TRANSPARENT, SO_BINDTODEVICE: flags and a name that a
	 * successful setsockopt takes as given; the route, which SO_MARK, IP_TOS and
	 * SO_BINDTODEVICE set again drop for a new lookup) is right after this pass or put
	 * right by the later one; no packet leaves in repair mode. */
	bool later = (s->tcp && !s->tcp_closed) || s->sockmisc_syn_sent;
	if (opts_apply(sk, s, s->opts, s->n_opts, cache, later, err, size))
		return -1;
	/* but IPV6_V6ONLY, which matters to the bind and is not read after it: checked here */
	for (size_t i = 0; later && i < s->n_opts; i++)
		if (s->opts[i]->level == IPPROTO_IPV6 && s->opts[i]->name == IPV6_V6ONLY)
			return opts_apply(sk, NULL, &s->opts[i], 1, NULL, false, err, size);
	return 0;
}

int sol_opts_apply(int sk, InetSkOpt *const *opts, size_t n, char *err, size_t size)
{
	return opts_apply(sk, NULL, opts, n, NULL, false, err, size);
}

int inet_opts_apply_again(int sk, const InetSk *s, char *err, size_t size)
{
	/* IPV6_V6ONLY: an accepted socket or a client that never bound reads 0, a bind to
	 * its address (where the route would give another) turned it on; it only matters to
	 * a bind, and this one is done */
	InetSkOpt **o = malloc((s->n_opts + 1) * sizeof(*o));
	size_t n = 0;
	if (!o) {
		snprintf(err, size, "no memory for the options");
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < s->n_opts; i++)
		if (s->opts[i]->level != IPPROTO_IPV6 || s->opts[i]->name != IPV6_V6ONLY)
			o[n++] = s->opts[i];
	int ret = opts_apply(sk, s, o, n, NULL, false, err, size);
	free(o);
	return ret;
}

bool inet_opt_saved(const InetSk *s, int level, int name, int64_t *val)
{
	for (size_t i = 0; i < s->n_opts; i++) {
		const InetSkOpt *x = s->opts[i];
		if (x->level == (uint32_t)level && x->name == (uint32_t)name && x->has_val) {
			*val = x->val;
			return true;
		}
	}
	return false;
}

void inet_opts_fresh_free(struct inet_opts_fresh **cache)
{
	while (*cache) {
		struct inet_opts_fresh *f = *cache;
		*cache = f->next;
		free(f);
	}
}

static int opts_validate(const char *img, int fd, const struct opt_sel *sel, InetSkOpt *const *opts,
			 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const InetSkOpt *x = opts[i];
		const struct opt_def *d = def_of(x->level, x->name);
		if (!d || !selected(d, sel))
			return files_refuse(img,
					    "fd %d: socket option %u/%u is not one cryo knows "
					    "for this socket",
					    fd, x->level, x->name);
		for (size_t j = 0; j < i; j++)
			if (opts[j]->level == x->level && opts[j]->name == x->name)
				return files_refuse(img, "fd %d: socket option %s appears twice",
						    fd, d->label);
		switch (d->kind) {
		case OK_INT:
		case OK_U32:
		case OK_BUF:
			if (!x->has_val || x->has_data || x->val < d->min || x->val > d->max)
				return files_refuse(img,
						    "fd %d: socket option %s: value %lld is "
						    "out of range",
						    fd, d->label, (long long)x->val);
			break;
		case OK_TIMEVAL: {
			struct timeval tv;
			if (!x->has_data || x->has_val || x->data.len != sizeof(tv))
				return files_refuse(img, "fd %d: socket option %s is no timeval",
						    fd, d->label);
			memcpy(&tv, x->data.data, sizeof(tv));
			if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000)
				return files_refuse(img, "fd %d: socket option %s: bad time", fd,
						    d->label);
			break;
		}
		case OK_LINGER: {
			struct linger l;
			if (!x->has_data || x->has_val || x->data.len != sizeof(l))
				return files_refuse(img, "fd %d: socket option %s is no linger", fd,
						    d->label);
			memcpy(&l, x->data.data, sizeof(l));
			if (l.l_onoff < 0 || l.l_onoff > 1 || l.l_linger < 0)
				return files_refuse(img, "fd %d: socket option %s: bad linger", fd,
						    d->label);
			break;
		}
		case OK_STR:
			if (!x->has_data || x->has_val || x->data.len > (size_t)d->max ||
			    (x->data.len && memchr(x->data.data, 0, x->data.len)))
				return files_refuse(img, "fd %d: socket option %s: bad name", fd,
						    d->label);
			break;
		case OK_RAW:
			if (!x->has_data || x->has_val || x->data.len != (size_t)d->max)
				return files_refuse(img, "fd %d: socket option %s: bad length", fd,
						    d->label);
			break;
		}
	}
	return 0;
}

int inet_opts_validate(const char *img, int fd, const InetSk *s)
{
	struct opt_sel sel = {(int)s->family, inet_proto_mask((int)s->type, (int)s->protocol),
			      false};
	return opts_validate(img, fd, &sel, s->opts, s->n_opts);
}

int sol_opts_validate(const char *img, int fd, InetSkOpt *const *opts, size_t n)
{
	struct opt_sel sel = {0, 0, true};
	return opts_validate(img, fd, &sel, opts, n);
}
