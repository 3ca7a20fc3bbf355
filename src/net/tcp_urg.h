/* Part of libcryotcp: urgent data (MSG_OOB) in the receive queue of a connection saved and
 * made again through TCP_REPAIR (tcp_repair.h). The kernel keeps one urgent mark per socket:
 * the sequence of the last urgent byte the peer announced and whether that byte is there to be
 * read with recv(MSG_OOB) or was read already; a socket without SO_OOBINLINE skips the byte in
 * its stream either way, and stops a read at the mark (SIOCATMARK tells a reader it is there).
 * The mark belongs with the receive queue: tcp_urg_read finds it while the queue is read,
 * tcp_urg_restore gives it back while the queue is written. */
#ifndef CRYO_TCP_URG_H
#define CRYO_TCP_URG_H

#include <stddef.h>
#include <stdint.h>

struct tcp_repair_state;

/* tcp_repair_state.urg */
enum {
	TCP_URG_NONE = 0,    /* no mark in the receive queue */
	TCP_URG_PENDING = 1, /* the urgent byte is recvq[urg_off], not read yet */
	TCP_URG_TAKEN = 2,   /* ... read already with recv(MSG_OOB): still skipped by reads */
};

/* Dump, on sk in repair mode: the mark in st->urg, st->urg_off; *inq (SIOCINQ as read, which
 * stops at a mark) made the whole queue's length. 0, -ENOTSUP for urgent data that cannot be
 * made again (a mark announced whose byte has not come yet), -errno; why in err. */
int tcp_urg_read(int sk, struct tcp_repair_state *st, int *inq, char *err, size_t size);

/* Dump: the receive queue (picked, peek offset off) with a mark, len bytes into buf, the
 * urgent byte in its place. 0 or -errno, why in err. */
int tcp_urg_peek(int sk, const struct tcp_repair_state *st, uint8_t *buf, uint32_t len, char *err,
		 size_t size);

/* Restore, on sk in repair mode, connected, its receive queue written up to the mark (the
 * urgent byte's sequence is seq), the windows set: the urgent byte fed to sk as the peer sent
 * it (a segment with URG from the peer's address, ack its acknowledgement), then read with
 * MSG_OOB if it was taken. The caller writes the rest of the queue after it. 0 or -errno. */
int tcp_urg_restore(int sk, const struct tcp_repair_state *st, uint32_t seq, uint32_t ack,
		    char *err, size_t size);

/* Checks of a state read from a file. 0 or -EINVAL, why in err. */
int tcp_urg_check(const struct tcp_repair_state *st, char *err, size_t size);

#endif
