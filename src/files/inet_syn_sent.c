/* TCP connections being set up (SYN_SENT: a connect() the peer has not answered yet, its SYN
 * dropped by a firewall or by a listener whose accept queue is full), with --tcp-established:
 * dump and restore side by side. inet_sk.c saves such a socket as any TCP socket (address,
 * options, owner) and calls here for the rest.
 *
 * Dump: the peer, which getpeername does not give before the handshake (ENOTCONN), from the
 * socket's line of /proc/PID/net/tcp{,6}, as the walk meets it; then it is one of the
 * connections inet_tcp.c notes: at the walk's end its packets are dropped by the network
 * lock (a SYN-ACK arriving while the tree is frozen would make a connection that the dump
 * then resets) and cryo's copy goes to the socket guard, which turns repair mode off if
 * cryo dies, before it is read in repair mode (inet_syn_sent_read): the first sequence
 * number (TCP_QUEUE_SEQ of the send queue is write_seq, one past the SYN's), the MSS the
 * program asked for (in repair mode TCP_MAXSEG reads mss_clamp: TCP_MSS_DEFAULT unless
 * TCP_MAXSEG was set before connect), and the send queue, which must hold no byte (data in
 * the SYN, TCP fast open, is refused). Leaving repair mode clears SO_REUSEADDR: it is set
 * back.
 *
 * Restore: the socket made at its fd with its options (inet_sk.c), then in repair mode the
 * dumped address bound (repair mode binds over anything left on that port) and the sequence
 * set (TCP_QUEUE_SEQ before connect), the MSS asked for, repair mode off, the options again
 * (SO_REUSEADDR), and a connect() that does not wait (O_NONBLOCK for the call): the kernel
 * sends the SYN with the dumped sequence number, so that a peer that got the first SYN (a
 * listener that answered, its SYN-ACK lost) takes this one as the same connection. The
 * program's poll/getsockopt(SO_ERROR) then sees what it would have seen: in progress, then
 * connected or failed. Not kept: how many times the SYN was sent already, so the connect
 * timeout (net.ipv4.tcp_syn_retries) starts again from the restore. */
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/restore_ctx.h"
#include "files/inet.h"
#include "files/kind.h"
#include "net/netlock.h"
#include "net/tcp_repair.h"

#define SYN_MSS_DEFAULT 536 /* TCP_MSS_DEFAULT: mss_clamp when no MSS was asked for */
#define SYN_MSS_MIN 88	    /* TCP_MIN_MSS */

static int get_int(int sk, int level, int name, int *v)
{
	socklen_t len = sizeof(*v);
	return getsockopt(sk, level, name, v, &len) < 0 ? -errno : 0;
}

static int set_int(int sk, int level, int name, int v)
{
	return setsockopt(sk, level, name, &v, sizeof(v)) < 0 ? -errno : 0;
}

/* The peer of socket inode ino from /proc/PID/net/tcp{,6} (its state 02, SYN_SENT) */
static int peer_of(struct arena *a, int pid, unsigned long ino, InetSk *s, const char *who)
{
	bool v6 = s->family == AF_INET6;
	struct inet_proc_line l;
	int ret = inet_proc_peer(pid, v6 ? "tcp6" : "tcp", ino, inet_addr_len(s->family), &l, who);

	if (ret)
		return ret;
	if (l.state != 2 || !l.port) {
		pr_err("%s: the TCP socket (inode %lu) is not a connect in progress in "
		       "/proc/%d/net (state %x, peer port %u)",
		       who, ino, pid, l.state, l.port);
		return -EIO;
	}
	return inet_set_peer(a, s, l.addr, l.port, who, "TCP connect in progress (SYN_SENT)");
}

/* In repair mode: the first sequence, the MSS asked for, and the send queue's length */
static int read_repair(int sk, uint32_t *isn, int *mss, ssize_t *queued)
{
	int seq = 0, ret;
	char c;

	if ((ret = set_int(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)) ||
	    (ret = get_int(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq)) ||
	    (ret = get_int(sk, IPPROTO_TCP, TCP_MAXSEG, mss)))
		return ret;
	*queued = recv(sk, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (*queued < 0)
		*queued = errno == EAGAIN ? 0 : -errno;
	*isn = (uint32_t)seq - 1; /* write_seq counts the SYN */
	return set_int(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
}

int inet_syn_sent_dump(struct arena *a, int pid, unsigned long ino, InetSk *s, const char *who)
{
	return peer_of(a, pid, ino, s, who);
}

int inet_syn_sent_read(int sk, InetSk *s, const char *who, const char *local)
{
	int mss = 0, ret;
	uint32_t isn = 0;
	ssize_t queued = 0;

	/* the walk saw SYN_SENT before the lock held: an answer (SYN-ACK, reset) may have come
	 * since, and the socket is then no connect in progress to make again */
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0) {
		ret = -errno;
		pr_errno(-ret, "%s: TCP connect in progress %s: cannot read its state", who, local);
		return ret;
	}
	if (ti.tcpi_state != 2) { /* TCP_SYN_SENT (the kernel's number) */
		pr_err("%s: TCP connect in progress %s was answered while the dump ran (state %u "
		       "now): not saved, dump again",
		       who, local, ti.tcpi_state);
		return -EAGAIN;
	}
	if ((ret = read_repair(sk, &isn, &mss, &queued))) {
		pr_errno(-ret, "%s: TCP connect in progress %s: cannot read it in repair mode", who,
			 local);
		return ret;
	}
	if (queued) {
		pr_err("%s: TCP connect in progress (SYN_SENT) %s with data in its SYN (TCP fast "
		       "open): not supported yet",
		       who, local);
		return queued < 0 ? (int)queued : -ENOTSUP;
	}
	if (mss < SYN_MSS_MIN || mss > 65535) {
		pr_err("%s: TCP connect in progress %s: MSS %d read in repair mode", who, local,
		       mss);
		return -EIO;
	}
	s->has_sockmisc_syn_sent = s->sockmisc_syn_sent = true;
	s->has_sockmisc_syn_isn = true;
	s->sockmisc_syn_isn = isn;
	if (mss != SYN_MSS_DEFAULT) {
		s->has_sockmisc_syn_mss = true;
		s->sockmisc_syn_mss = (uint32_t)mss;
	}
	pr_info("%s: TCP connect in progress (SYN_SENT) %s saved, first sequence %u", who, local,
		isn);
	return 0;
}

int inet_syn_sent_restore(struct restore_task *t, const FdEntry *e, int sk)
{
	const InetSk *s = e->inet;
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256], where[80];
	int ret;

	struct sockaddr_storage peer;
	socklen_t plen = inet_sa_make(s->family, s->dst_addr.data, s->dst_port,
				      s->has_dst_scope_id ? s->dst_scope_id : 0,
				      s->has_dst_flowinfo ? s->dst_flowinfo : 0, &peer);
	inet_addr_text(s->family, s->dst_addr.data, s->dst_port, where, sizeof(where));
	inet_sa_make(s->family, s->src_addr.data, s->src_port,
		     s->has_src_scope_id ? s->src_scope_id : 0, 0, &ss);
	/* the port alone where binding the address would turn IPV6_V6ONLY on (libcryotcp) */
	if ((ret = tcp_repair_on(sk)) || (ret = tcp_repair_bind(sk, &ss, &peer)) ||
	    (ret = set_int(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)) ||
	    (ret = set_int(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, (int)s->sockmisc_syn_isn)) ||
	    (ret = set_int(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_NO_QUEUE)) ||
	    (s->has_sockmisc_syn_mss &&
	     (ret = set_int(sk, IPPROTO_TCP, TCP_MAXSEG, (int)s->sockmisc_syn_mss))) ||
	    (ret = tcp_repair_off(sk))) {
		child_fail(t, -ret, "fd %d: cannot make the TCP connect in progress to %s again",
			   e->fd, where);
		return -1;
	}
	/* leaving repair mode cleared SO_REUSEADDR: the options again, all read back */
	if (inet_opts_apply_again(sk, s, err, sizeof(err))) {
		child_fail(t, errno ? errno : EINVAL, "fd %d: TCP connect in progress, options: %s",
			   e->fd, err);
		return -1;
	}
	int fl = fcntl(sk, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(sk, F_SETFL, fl | O_NONBLOCK) < 0)) {
		child_fail(t, errno, "fd %d: cannot make the socket nonblocking for its connect",
			   e->fd);
		return -1;
	}
	int c = connect(sk, (struct sockaddr *)&peer, plen), cerr = errno;
	if (!(fl & O_NONBLOCK) && fcntl(sk, F_SETFL, fl) < 0) {
		child_fail(t, errno, "fd %d: cannot give the socket its flags back", e->fd);
		return -1;
	}
	if (c < 0 && cerr != EINPROGRESS) {
		child_fail(t, cerr, "fd %d: cannot connect again to %s (a connect in progress)",
			   e->fd, where);
		return -1;
	}
	/* a port bound alone: the route chose the address, which must be the dumped one */
	uint8_t a[16];
	uint32_t port, scope, flow;
	len = sizeof(ss);
	if (getsockname(sk, (struct sockaddr *)&ss, &len) < 0 ||
	    !inet_sa_split(s->family, &ss, a, &port, &scope, &flow) || port != s->src_port ||
	    memcmp(a, s->src_addr.data, inet_addr_len(s->family))) {
		child_fail(t, EADDRNOTAVAIL,
			   "fd %d: the connect in progress to %s came back with another local "
			   "address",
			   e->fd, where);
		return -1;
	}
	return 0;
}

int inet_syn_sent_validate(const char *img, const FdEntry *e)
{
	const InetSk *s = e->inet;

	if (!s->has_sockmisc_syn_sent && !s->has_sockmisc_syn_isn && !s->has_sockmisc_syn_mss &&
	    !s->sockmisc_syn_lock_table)
		return 0;
	if (!s->sockmisc_syn_sent || !s->has_sockmisc_syn_isn || !inet_is_tcp(s) || s->state != 2 ||
	    s->tcp || s->has_tcp_closed || !s->has_src_port || !s->src_port || !s->has_dst_port ||
	    !s->dst_port || s->has_backlog)
		return files_refuse(img, "fd %d: a TCP connect in progress (SYN_SENT) invalid",
				    e->fd);
	if (s->has_sockmisc_syn_mss &&
	    (s->sockmisc_syn_mss < SYN_MSS_MIN || s->sockmisc_syn_mss > 65535))
		return files_refuse(img, "fd %d: a TCP connect in progress with MSS %u", e->fd,
				    s->sockmisc_syn_mss);
	if (s->sockmisc_syn_lock_table && !netlock_table_name_ok(s->sockmisc_syn_lock_table))
		return files_refuse(img, "fd %d: network lock table name invalid", e->fd);
	return 0;
}
