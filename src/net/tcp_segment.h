/* Part of libcryotcp: one TCP segment without data, made by hand (IPv4 or IPv6 header, TCP
 * header, checksums) and sent from a raw socket, as if the peer of a connection had sent it to
 * the connection's local end. The restore of a half-closed connection feeds the restored
 * socket the peer's FIN (and the peer's acknowledgement of our FIN) this way: the kernel has
 * no other way to put a FIN in a receive queue. The raw socket is marked TCP_REPAIR_MARK, so
 * that a network lock lets the segment in; its destination is always a local address. */
#ifndef CRYO_TCP_SEGMENT_H
#define CRYO_TCP_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { TCP_SEG_FIN = 0x01, TCP_SEG_PSH = 0x08, TCP_SEG_ACK = 0x10, TCP_SEG_URG = 0x20 };

/* the most data a segment made here carries (the restore of urgent data sends one byte) */
#define TCP_SEG_DATA_MAX 64

/* A segment from `from` to `to` (both AF_INET, or both AF_INET6, v4-mapped ones sent as
 * IPv4) with sequence seq, acknowledgement ack, these flags and this window field. 0 or
 * -errno. */
int tcp_segment_send(const struct sockaddr_storage *from, const struct sockaddr_storage *to,
		     uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window);
/* ... the same with an urgent pointer field and data_len (at most TCP_SEG_DATA_MAX) bytes
 * of data */
int tcp_segment_send_data(const struct sockaddr_storage *from, const struct sockaddr_storage *to,
			  uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window,
			  uint16_t urg_ptr, const void *data, size_t data_len);

#endif
