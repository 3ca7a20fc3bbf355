/* A TCP segment made by hand and sent from a raw socket (see tcp_segment.h).
 *
 * IPv4: a socket(AF_INET, SOCK_RAW, IPPROTO_RAW) takes the whole IP header (IP_HDRINCL is
 * implied); the kernel fills the header checksum and the id, the TCP checksum is ours. IPv6:
 * socket(AF_INET6, SOCK_RAW, IPPROTO_RAW) takes the whole IPv6 header likewise (Linux 4.5+).
 * A source address that is not local is no obstacle: the route is the destination's, a local
 * one, and a segment looped back keeps its route and its mark. */
#include "net/tcp_segment.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "net/tcp_repair.h"

struct tcp_hdr {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t off;   /* header length in 32-bit words, in the high nibble */
	uint8_t flags; /* FIN 0x01 ... ACK 0x10 */
	uint16_t window, sum, urg;
};

/* The one's complement sum of len bytes (the Internet checksum, RFC 1071), not folded */
static uint32_t sum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t sum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* The address of an end as IPv4 (4 bytes) or IPv6 (16), its port; v4-mapped as IPv4 */
static int end_of(const struct sockaddr_storage *ss, uint8_t *a, uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		memcpy(a, &s->sin_addr, 4);
		*port = s->sin_port;
		return 4;
	}
	if (ss->ss_family != AF_INET6)
		return -1;
	const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
	*port = s->sin6_port;
	if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
		memcpy(a, &s->sin6_addr.s6_addr[12], 4);
		return 4;
	}
	memcpy(a, &s->sin6_addr, 16);
	return 16;
}

int tcp_segment_send(const struct sockaddr_storage *from, const struct sockaddr_storage *to,
		     uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window)
{
	return tcp_segment_send_data(from, to, seq, ack, flags, window, 0, NULL, 0);
}

int tcp_segment_send_data(const struct sockaddr_storage *from, const struct sockaddr_storage *to,
			  uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window,
			  uint16_t urg_ptr, const void *data, size_t data_len)
{
	uint8_t src[16], dst[16], pkt[60 + TCP_SEG_DATA_MAX];
	uint16_t sport = 0, dport = 0;
	int sl = end_of(from, src, &sport), dl = end_of(to, dst, &dport);
	struct tcp_hdr th = {
	    .sport = sport,
	    .dport = dport,
	    .seq = htonl(seq),
	    .ack = htonl(ack),
	    .off = 5 << 4,
	    .flags = flags,
	    .window = htons(window),
	    .urg = htons(urg_ptr),
	};
	struct sockaddr_storage dest;
	socklen_t dlen;
	size_t hl, len;
	uint32_t sum;
	int family, ret = 0;

	if (sl < 0 || sl != dl)
		return -EAFNOSUPPORT;
	if (data_len > TCP_SEG_DATA_MAX || (data_len && !data))
		return -EINVAL;
	/* the pseudo-header: both addresses, the protocol, the TCP length; then the header and
	 * the data (the header's length is even: the data's odd byte is padded alone) */
	sum = sum_add(0, src, (size_t)sl);
	sum = sum_add(sum, dst, (size_t)dl);
	sum += IPPROTO_TCP + (uint32_t)(sizeof(th) + data_len);
	sum = sum_add(sum, &th, sizeof(th));
	sum = sum_add(sum, data, data_len);
	th.sum = sum_fold(sum);

	memset(pkt, 0, sizeof(pkt));
	memset(&dest, 0, sizeof(dest));
	if (sl == 4) {
		family = AF_INET;
		hl = 20;
		pkt[0] = 0x45;						    /* version 4, 5 words */
		pkt[2] = 0, pkt[3] = (uint8_t)(hl + sizeof(th) + data_len); /* total length */
		pkt[8] = 64;						    /* TTL */
		pkt[9] = IPPROTO_TCP;
		memcpy(pkt + 12, src, 4);
		memcpy(pkt + 16, dst, 4);
		struct sockaddr_in *d = (struct sockaddr_in *)&dest;
		d->sin_family = AF_INET;
		memcpy(&d->sin_addr, dst, 4);
		dlen = sizeof(*d);
	} else {
		family = AF_INET6;
		hl = 40;
		pkt[0] = 0x60;				   /* version 6 */
		pkt[5] = (uint8_t)(sizeof(th) + data_len); /* payload length */
		pkt[6] = IPPROTO_TCP;			   /* next header */
		pkt[7] = 64;				   /* hop limit */
		memcpy(pkt + 8, src, 16);
		memcpy(pkt + 24, dst, 16);
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&dest;
		d->sin6_family = AF_INET6;
		memcpy(&d->sin6_addr, dst, 16);
		if (to->ss_family == AF_INET6)
			d->sin6_scope_id = ((const struct sockaddr_in6 *)to)->sin6_scope_id;
		dlen = sizeof(*d);
	}
	memcpy(pkt + hl, &th, sizeof(th));
	if (data_len)
		memcpy(pkt + hl + sizeof(th), data, data_len);
	len = hl + sizeof(th) + data_len;

	int rs = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (rs < 0)
		return -errno;
	unsigned mark = TCP_REPAIR_MARK;
	if (setsockopt(rs, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ||
	    sendto(rs, pkt, len, 0, (struct sockaddr *)&dest, dlen) != (ssize_t)len)
		ret = -errno;
	close(rs);
	return ret;
}
