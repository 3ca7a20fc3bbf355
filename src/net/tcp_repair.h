/* libcryotcp: read the whole state of a connected TCP socket and make the same connection
 * again in another socket, with the kernel's TCP_REPAIR mode (CAP_NET_ADMIN). A library of its
 * own (build/libcryotcp.a): it knows nothing of cryo, logs nothing, allocates with malloc, and
 * reports failures as a negative errno plus a sentence in the caller's buffer.
 *
 * Use, on the side that saves:
 *
 *	struct tcp_repair_state st;
 *	char err[160];
 *	if (tcp_repair_on(sk) == 0 && tcp_repair_read(sk, &st, err, sizeof(err)) == 0) {
 *		... save st (the socket stays in repair mode: silent, frozen) ...
 *		tcp_repair_state_free(&st);
 *	}
 *	tcp_repair_off(sk);  // the connection goes on, or close(sk) drops it without a packet
 *
 * and on the side that makes it again:
 *
 *	int sk = socket(family, SOCK_STREAM, IPPROTO_TCP);
 *	... socket options that must come before bind ...
 *	tcp_repair_restore(sk, &st, 0, err, sizeof(err));
 *
 * The connection's packets must not reach either end while it is saved (a peer that sends
 * to a socket that is gone gets a reset): that is the caller's business (a firewall rule).
 *
 * The states read: ESTABLISHED and the half-closed ones, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT,
 * CLOSING and LAST_ACK; any other is refused with -ENOTSUP and its name in err
 * (tcp_state_name). A FIN takes one sequence number: snd_seq and rcv_seq are the kernel's,
 * FINs included, the queues and their lengths hold data only. The restore gives each FIN back
 * as it was: ours with shutdown(SHUT_WR) (in repair mode, as sent, when it had been sent;
 * queued behind the bytes never sent otherwise), the peer's (and the peer's acknowledgement
 * of ours, in FIN_WAIT2) as a segment from the peer's address, made by hand and sent from a
 * raw socket marked TCP_REPAIR_MARK to the local end. The caller's firewall must let those
 * segments in (and out, for a local destination) while it holds everything else. */
#ifndef CRYO_TCP_REPAIR_H
#define CRYO_TCP_REPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* SO_MARK of the segments the restore of a half-closed connection makes ("cryo"): a network
 * lock accepts them, they only ever go to a local address */
#define TCP_REPAIR_MARK 0x6372796fu

struct tcp_repair_state {
	int family;			/* AF_INET or AF_INET6 */
	struct sockaddr_storage local;	/* getsockname */
	struct sockaddr_storage remote; /* getpeername */
	int state;			/* ESTABLISHED (1), FIN_WAIT1 (4), FIN_WAIT2 (5),
					 * CLOSE_WAIT (8), LAST_ACK (9), CLOSING (11) */

	/* TCP_QUEUE_SEQ of each queue: the sequence number after its last byte (the send
	 * queue's write_seq, the receive queue's rcv_nxt), each FIN included */
	uint32_t snd_seq, rcv_seq;
	/* our FIN (FIN_WAIT1, CLOSING, LAST_ACK) is queued and was never sent: the window or
	 * bytes never sent before it held it back */
	bool fin_unsent;
	/* the send queue: the bytes written and not acknowledged by the peer yet, in order;
	 * the last `unsent` of them were not even sent (SIOCOUTQNSD) */
	uint8_t *sendq;
	uint32_t sendq_len, unsent;
	/* the receive queue: the bytes received and not read yet */
	uint8_t *recvq;
	uint32_t recvq_len;
	/* its urgent mark (tcp_urg.h): TCP_URG_NONE, or the urgent byte recvq[urg_off] not
	 * read yet (TCP_URG_PENDING) or read with MSG_OOB (TCP_URG_TAKEN) */
	uint8_t urg;
	uint32_t urg_off;

	/* what was agreed at the handshake (TCP_INFO options, TCP_MAXSEG in repair mode) */
	uint32_t mss;	     /* the maximum segment size the peer takes (mss_clamp) */
	uint32_t advmss;     /* the one this end announces (TCP_INFO), 0 if not known */
	bool wscale;	     /* window scaling, with these shifts */
	uint8_t snd_wscale;  /* ... of the peer's window */
	uint8_t rcv_wscale;  /* ... of ours */
	bool sack;	     /* selective acknowledgements */
	bool timestamps;     /* RFC 7323 timestamps */
	uint32_t timestamp;  /* TCP_TIMESTAMP: the socket's clock as the peer sees it */
	bool has_window;     /* TCP_REPAIR_WINDOW read (Linux 4.8+) */
	uint32_t snd_wl1;    /* the sequence of the segment that last updated snd_wnd */
	uint32_t snd_wnd;    /* the peer's window */
	uint32_t max_window; /* the largest window the peer ever offered */
	uint32_t rcv_wnd;    /* our window */
	uint32_t rcv_wup;    /* rcv_nxt when our window was last announced */
	/* SO_SNDBUF, SO_RCVBUF as read (the kernel's doubled values): the restore makes the
	 * new socket's buffers at least as large (SO_*BUFFORCE), or the queues would not fit
	 * in a socket whose buffers the kernel had grown meanwhile */
	uint32_t sndbuf, rcvbuf;

	/* restore only, may be NULL: called on sk in repair mode once the connection is whole
	 * (the segments the restore feeds it are in) and before it leaves repair mode, for what
	 * must be set before the connection goes live and after those segments (TCP_MD5SIG
	 * keys: the segments carry no signature). 0 or -errno, why in err. */
	int (*before_live)(int sk, void *arg, char *err, size_t size);
	void *before_live_arg;
};

/* TCP_REPAIR on (1) or off, on a connected socket or a new one (the kernel refuses any other
 * state, a listener too: -EPERM; CAP_NET_ADMIN needed). 0 or -errno. */
int tcp_repair_on(int sk);
/* Off without the window probe the kernel sends otherwise when a socket leaves repair mode
 * (nothing goes out while the caller's firewall still holds the connection either way). */
int tcp_repair_off(int sk);
/* Bind sk, in repair mode (or before a plain connect), to local before its connect to
 * remote; 0 or -errno. The kernel turns IPV6_V6ONLY on at any bind to a plain IPv6 address,
 * where the dumped socket may have had it off (a client that never bound, a socket accepted
 * by a dual-stack listener): for an IPv6 socket with IPV6_V6ONLY off, when the route to
 * remote picks local's address as its source anyway (a UDP socket's connect asks, sending
 * nothing), only the port is bound and the connect takes that source. The caller checks
 * the address after the connect (tcp_repair_restore does). */
int tcp_repair_bind(int sk, const struct sockaddr_storage *local,
		    const struct sockaddr_storage *remote);

/* The state of sk (in repair mode) into *st, queues malloc'ed. Reads only: the queues are
 * peeked at, the socket is as it was. 0, -ENOTSUP for a state other than ESTABLISHED or a
 * half-closed one, or -errno; why in err. */
int tcp_repair_read(int sk, struct tcp_repair_state *st, char *err, size_t size);

/* sk: a new TCP socket of st->family, not bound, with whatever options the caller set. It
 * becomes the connection of st: repair mode on, bound to st->local, the sequence numbers,
 * connected to st->remote (no handshake in repair mode), the handshake's options, the
 * queues, the clock, the windows, the FINs of a half-closed state (see above), repair mode
 * off (unless keep_repair), then the bytes never sent are written (and our FIN after them
 * when it had not been sent). 0 or -errno, why in err; on a failure sk is left in repair
 * mode (a close drops it without a packet). keep_repair cannot leave a connection with bytes
 * or a FIN never sent in repair mode: -EINVAL. */
int tcp_repair_restore(int sk, const struct tcp_repair_state *st, bool keep_repair, char *err,
		       size_t size);

/* Checks a state read from somewhere else (a file) before tcp_repair_restore: family,
 * addresses, state, lengths, scales, windows. 0 or -EINVAL, why in err. */
int tcp_repair_check(const struct tcp_repair_state *st, char *err, size_t size);

/* The queues of st freed, the pointers cleared. */
void tcp_repair_state_free(struct tcp_repair_state *st);

/* Whether libcryotcp saves and restores a connection in this TCP state */
bool tcp_repair_state_ok(int state);

/* "ESTABLISHED", "FIN_WAIT1"..., or "unknown" */
const char *tcp_state_name(int state);

#endif
