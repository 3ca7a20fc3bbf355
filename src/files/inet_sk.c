/* AF_INET and AF_INET6 sockets that are no connection: TCP sockets not connected (made, bound,
 * listening) and UDP sockets (bound, connected to a peer), with their options (inet_opts.c),
 * owner, multicast groups (inet_mcast.c) and queued datagrams (inet_udp.c); the addresses are
 * inet_addr.c's. Everything is read from cryo's own copy of the socket
 * (pidfd_getfd): its name, its peer, TCP_INFO (state, listen backlog, connections queued,
 * segments ever sent or received), SO_MEMINFO (bytes queued), and for UDP the groups of the
 * network namespace's /proc/net/igmp{,6}, each asked of the socket (MCAST_MSFILTER answers
 * for a group it joined and EADDRNOTAVAIL for one it did not). Reading changes nothing.
 *
 * A TCP connection, ESTABLISHED or half closed (FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, CLOSING,
 * LAST_ACK), is inet_tcp.c's with --tcp-established (or --tcp-close); the peer's FIN leaves it
 * shut down for reading, which is not refused then.
 *
 * Refused by name, since the restore could not give them back as they were: a TCP connection
 * without --tcp-established, or being set up (SYN_SENT), a TCP socket shut down for reading
 * by the program (no FIN received), a
 * TCP socket whose connection ended (it answers reads with 0, a new one with ENOTCONN), a
 * listener with connections queued but not accepted or being set up (SYN_RECV), data queued
 * in a socket, a multicast source filter.
 *
 * The restore makes the socket again in the child phase: socket(), the options (before bind:
 * IPV6_V6ONLY, SO_REUSEADDR, SO_REUSEPORT, IP_FREEBIND, SO_BINDTODEVICE...), bind to the
 * dumped address and port, the groups, connect (UDP), listen with the dumped backlog, owner.
 * A port taken meanwhile fails the restore naming it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/util.h"
#include "files/inet.h"
#include "files/tcp_md5.h"
#include "files/kind.h"

/* the kernel's TCP states (include/net/tcp_states.h) */
enum {
	ST_ESTABLISHED = 1,
	ST_SYN_SENT,
	ST_SYN_RECV,
	ST_FIN_WAIT1,
	ST_FIN_WAIT2,
	ST_TIME_WAIT,
	ST_CLOSE,
	ST_CLOSE_WAIT,
	ST_LAST_ACK,
	ST_LISTEN,
	ST_CLOSING,
};

static const char *const tcp_state_names[] = {
    [ST_ESTABLISHED] = "ESTABLISHED",
    [ST_SYN_SENT] = "SYN_SENT",
    [ST_SYN_RECV] = "SYN_RECV",
    [ST_FIN_WAIT1] = "FIN_WAIT1",
    [ST_FIN_WAIT2] = "FIN_WAIT2",
    [ST_TIME_WAIT] = "TIME_WAIT",
    [ST_CLOSE] = "CLOSE",
    [ST_CLOSE_WAIT] = "CLOSE_WAIT",
    [ST_LAST_ACK] = "LAST_ACK",
    [ST_LISTEN] = "LISTEN",
    [ST_CLOSING] = "CLOSING",
};

static bool inet_sk_recognise(const struct fd_info *fi)
{
	if (fi->sk_family != AF_INET && fi->sk_family != AF_INET6)
		return false;
	if (fi->sk_type == SOCK_STREAM)
		return fi->sk_protocol == IPPROTO_TCP;
	if (inet_raw_recognise(fi->sk_family, fi->sk_type, fi->sk_protocol))
		return true;
	return fi->sk_type == SOCK_DGRAM &&
	       (fi->sk_protocol == IPPROTO_UDP || fi->sk_protocol == IPPROTO_UDPLITE);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Connections being set up on port `port` (SYN_RECV requests, which /proc/net/tcp{,6} lists
 * apart from their listener): their count, or -errno. */
static int syn_recv_count(pid_t pid, uint32_t family, uint32_t port)
{
	char path[64], *text = NULL, *line, *save = NULL;
	int n = 0;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, family == AF_INET6 ? "tcp6" : "tcp");
	len = read_file_alloc(path, &text);
	if (len < 0)
		return (int)len;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char local[64];
		unsigned st, lport;
		char *colon;
		/* "  0: 0100007F:1F90 00000000:0000 0A ..." */
		if (sscanf(line, " %*u: %63s %*s %x", local, &st) != 2)
			continue;
		colon = strchr(local, ':');
		if (!colon || sscanf(colon + 1, "%x", &lport) != 1)
			continue;
		if (st == ST_SYN_RECV && lport == port)
			n++;
	}
	free(text);
	return n;
}

static bool pending_error(int sk)
{
	struct pollfd pf = {.fd = sk, .events = POLLIN};
	return poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR);
}

/* The TCP state and its refusals; fills backlog for a listener. */
static int tcp_state_dump(pid_t pid, int sk, InetSk *s, const char *who, const char *local,
			  bool skip, bool established_ok, bool close_ok, char *remote_out,
			  size_t remote_size)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	char remote[80] = "?";

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) {
		int err = errno;
		pr_errno(err, "%s: cannot read TCP_INFO", who);
		return -err;
	}
	s->state = ti.tcpi_state;
	if (getpeername(sk, (struct sockaddr *)&peer, &plen) == 0) {
		uint8_t a[16];
		uint32_t port, scope, flow;
		if (inet_sa_split(s->family, &peer, a, &port, &scope, &flow))
			inet_addr_text(s->family, a, port, remote, sizeof(remote));
	}
	snprintf(remote_out, remote_size, "%s", remote);
	switch (ti.tcpi_state) {
	case ST_LISTEN: {
		/* for a listener TCP_INFO tells the accept queue: unacked is its length, sacked
		 * the backlog listen() was given (capped by somaxconn) */
		/* an IPv6 listener's IPv4 clients are set up as IPv4 requests */
		int syn = syn_recv_count(pid, AF_INET, s->src_port);
		if (s->family == AF_INET6 && syn >= 0) {
			int syn6 = syn_recv_count(pid, AF_INET6, s->src_port);
			syn = syn6 < 0 ? syn6 : syn + syn6;
		}
		s->has_backlog = true;
		s->backlog = ti.tcpi_sacked;
		if (ti.tcpi_unacked && skip) {
			pr_warn(
			    "%s: listening TCP socket %s: %u connection%s not accepted yet left "
			    "out (--skip-in-flight): their clients will see a reset",
			    who, local, ti.tcpi_unacked, ti.tcpi_unacked > 1 ? "s" : "");
		} else if (ti.tcpi_unacked) {
			pr_err(
			    "%s: listening TCP socket %s has %u connection%s not accepted yet: "
			    "not supported yet (they would be lost; --skip-in-flight leaves them "
			    "out)",
			    who, local, ti.tcpi_unacked, ti.tcpi_unacked > 1 ? "s" : "");
			return -ENOTSUP;
		}
		if (syn < 0) {
			pr_errno(-syn,
				 "%s: cannot read the connections being set up (/proc/%d/net/tcp)",
				 who, pid);
			return syn;
		}
		if (syn > 0 && skip) {
			pr_warn(
			    "%s: listening TCP socket %s: %d connection%s being set up (SYN_RECV) "
			    "left out (--skip-in-flight)",
			    who, local, syn, syn > 1 ? "s" : "");
		} else if (syn > 0) {
			pr_err(
			    "%s: listening TCP socket %s has %d connection%s being set up "
			    "(SYN_RECV): not supported yet (they would be lost; --skip-in-flight "
			    "leaves them out)",
			    who, local, syn, syn > 1 ? "s" : "");
			return -ENOTSUP;
		}
		return 0;
	}
	case ST_CLOSE:
		/* a new socket has never sent or received a segment; one whose connection
		 * ended (or failed) has, and behaves otherwise (EOF, a pending error) */
		if (ti.tcpi_segs_out || ti.tcpi_segs_in || pending_error(sk)) {
			if (close_ok) {
				/* --tcp-close: given back as one whose connection ended */
				pr_info("%s: TCP socket %s whose connection ended: restored as "
					"such (--tcp-close)",
					who, local);
				return 2;
			}
			pr_err("%s: TCP socket %s whose connection ended: not supported yet", who,
			       local);
			return -ENOTSUP;
		}
		return 0;
	case ST_ESTABLISHED:
		if (established_ok)
			return 1; /* inet_tcp.c's */
		pr_err("%s: established TCP connection %s -> %s: not supported yet "
		       "(--tcp-established)",
		       who, local, remote);
		return -ENOTSUP;
	case ST_FIN_WAIT1:
	case ST_FIN_WAIT2:
	case ST_CLOSE_WAIT:
	case ST_CLOSING:
	case ST_LAST_ACK:
		/* half closed: libcryotcp gives the FINs back (inet_tcp.c) */
		if (established_ok)
			return 1;
		pr_err("%s: TCP connection %s -> %s in state %s: not supported yet "
		       "(--tcp-established)",
		       who, local, remote, tcp_state_names[ti.tcpi_state]);
		return -ENOTSUP;
	case ST_SYN_SENT:
		/* a connect in progress: made again (inet_syn_sent.c); --tcp-close saves none */
		if (established_ok && !close_ok)
			return 3;
		if (close_ok) {
			pr_err("%s: TCP connect in progress (SYN_SENT) from %s: not supported with "
			       "--tcp-close",
			       who, local);
			return -ENOTSUP;
		}
		/* fall through */
	default:
		/* a connection being set up, or a state no descriptor holds */
		pr_err("%s: TCP connection %s -> %s in state %s: not supported yet%s", who, local,
		       remote,
		       ti.tcpi_state < sizeof(tcp_state_names) / sizeof(tcp_state_names[0]) &&
			       tcp_state_names[ti.tcpi_state]
			   ? tcp_state_names[ti.tcpi_state]
			   : "unknown",
		       established_ok ? " (--tcp-established saves ESTABLISHED and half-closed "
					"ones only)"
				      : " (--tcp-established)");
		return -ENOTSUP;
	}
}

static int inet_sk_dump_copy(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			     int sk, InetSk *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint8_t a[16];
	uint32_t port, scope, flow;
	char who[64], local[80], remote[80] = "?", conn[170];
	uint32_t mem[SK_MEMINFO_VARS] = {0};
	socklen_t mlen = sizeof(mem);
	bool established = false, syn_sent = false;
	uint32_t tcp_st = 0; /* the TCP state as TCP_INFO read it */
	int ret;
	const char *proto = inet_proto_label(s);

	snprintf(who, sizeof(who), "task %d: fd %d", t->pid, fi->fd);
	if (getsockname(sk, (struct sockaddr *)&ss, &len) < 0 ||
	    !inet_sa_split(s->family, &ss, a, &port, &scope, &flow)) {
		pr_errno(errno, "%s: cannot read the address of the %s socket", who, proto);
		return -EIO;
	}
	inet_addr_text(s->family, a, port, local, sizeof(local));
	if (port || !all_zero(a, inet_addr_len(s->family))) {
		s->has_src_addr = s->has_src_port = true;
		s->src_addr.data = arena_memdup(&ctx->arena, a, inet_addr_len(s->family));
		s->src_addr.len = inet_addr_len(s->family);
		s->src_port = port;
		if (s->family == AF_INET6 && scope) {
			s->has_src_scope_id = true;
			s->src_scope_id = scope;
		}
		if (!s->src_addr.data)
			return -ENOMEM;
	}
	if (inet_is_tcp(s)) {
		ret = tcp_state_dump(t->pid, sk, s, who, local, ctx->opts->skip_in_flight,
				     ctx->opts->tcp_established || ctx->opts->tcp_close,
				     ctx->opts->tcp_close, remote, sizeof(remote));
		if (ret < 0)
			return ret;
		established = ret == 1;
		syn_sent = ret == 3;
		tcp_st = s->state; /* tcp_state_dump set it */
		if (ret == 2) {
			/* no address, no options, no queue: a socket that only fails */
			s->state = ST_CLOSE;
			s->has_tcp_closed = s->tcp_closed = true;
			s->has_src_addr = s->has_src_port = s->has_src_scope_id = false;
			s->has_uid = s->has_gid = true;
			s->uid = fi->st.st_uid;
			s->gid = fi->st.st_gid;
			return 0;
		}
	} else if (inet_is_raw_or_ping(s)) {
		if ((ret = inet_raw_dump_peer(&ctx->arena, t->pid, fi->st.st_ino, s, who)))
			return ret;
	}
	snprintf(conn, sizeof(conn), "%s -> %s", local, remote);
	if (established || (!inet_is_tcp(s) && !inet_is_raw_or_ping(s))) {
		len = sizeof(ss);
		s->state = ST_CLOSE;
		if (getpeername(sk, (struct sockaddr *)&ss, &len) == 0 &&
		    inet_sa_split(s->family, &ss, a, &port, &scope, &flow)) {
			s->state = ST_ESTABLISHED;
			s->has_dst_addr = s->has_dst_port = true;
			s->dst_addr.data = arena_memdup(&ctx->arena, a, inet_addr_len(s->family));
			s->dst_addr.len = inet_addr_len(s->family);
			s->dst_port = port;
			if (s->family == AF_INET6) {
				s->has_dst_scope_id = s->has_dst_flowinfo = true;
				s->dst_scope_id = scope;
				s->dst_flowinfo = flow;
			}
			if (!s->dst_addr.data)
				return -ENOMEM;
		}
	}
	/* bytes queued: received and not read (or errors queued, which count there too),
	 * corked and not sent */
	if (getsockopt(sk, SOL_SOCKET, SO_MEMINFO, mem, &mlen) < 0) {
		pr_errno(errno, "%s: cannot read SO_MEMINFO", who);
		return -EIO;
	}
	/* a UDP socket's datagrams are read below, a connection's queues by inet_tcp.c;
	 * anything else queued is refused */
	if (mem[SK_MEMINFO_RMEM_ALLOC] && !(inet_is_udp(s) && s->protocol == IPPROTO_UDP) &&
	    !established) {
		pr_err("%s: %s socket %s has data queued to be read (%u bytes with overhead): "
		       "not supported yet",
		       who, proto, local, mem[SK_MEMINFO_RMEM_ALLOC]);
		return -ENOTSUP;
	}
	/* a connect in progress holds its SYN: inet_syn_sent.c refuses any byte with it */
	if ((mem[SK_MEMINFO_WMEM_ALLOC] || mem[SK_MEMINFO_WMEM_QUEUED]) && !established &&
	    !syn_sent) {
		pr_err("%s: %s socket %s has data waiting to be sent (corked): not supported yet",
		       who, proto, local);
		return -ENOTSUP;
	}
	/* what only poll tells (it reads, changes nothing): an error the socket will report at
	 * its next call (an ICMP error on a connected UDP socket, a refused connect), and a
	 * shutdown() for reading, which even a socket that is no connection keeps */
	struct pollfd pf = {.fd = sk, .events = POLLIN | POLLRDHUP};
	if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR)) {
		pr_err("%s: %s socket %s has an error pending (as SO_ERROR would tell): "
		       "not supported yet",
		       who, proto, local);
		return -ENOTSUP;
	}
	/* a connection that received the peer's FIN is shut down for reading by it (a
	 * shutdown(SHUT_RD) of the program's on top changes nothing there: both only make reads
	 * end once the queue is read) */
	bool fin_in = established &&
		      (tcp_st == ST_CLOSE_WAIT || tcp_st == ST_CLOSING || tcp_st == ST_LAST_ACK);
	if ((pf.revents & POLLRDHUP) && !fin_in) {
		pr_err("%s: %s socket %s was shut down for reading (shutdown): not supported yet",
		       who, proto, local);
		return -ENOTSUP;
	}
	if ((ret = inet_opts_dump(&ctx->arena, sk, s, who, fi->opts_pre)))
		return ret;
	if (established && (ret = inet_tcp_dump(ctx, sk, s, who, conn)))
		return ret;
	if (syn_sent && ((ret = inet_syn_sent_dump(&ctx->arena, t->pid, fi->st.st_ino, s, who)) ||
			 (ret = inet_tcp_dump_syn_sent(ctx, sk, s, who, local))))
		return ret;
	if ((ret = sk_filter_dump(&ctx->arena, sk, &s->filter, who)))
		return ret;
	s->has_filter = s->filter.len > 0;
	if (inet_is_tcp(s) &&
	    (ret = tcp_md5_dump(&ctx->arena, sk, s, tcp_st, mem[SK_MEMINFO_OPTMEM], who)))
		return ret;
	if (!inet_is_tcp(s) && (ret = inet_mcast_dump(&ctx->arena, t->pid, sk, s, who)))
		return ret;
	if (mem[SK_MEMINFO_RMEM_ALLOC] && inet_is_udp(s) && s->protocol == IPPROTO_UDP) {
		/* the peeks walk the queue with SO_PEEK_OFF: put back even if cryo dies */
		uint32_t id;
		if ((ret = sk_guard_hold(&ctx->sk_guard, &sk, 1, SKG_PEEK_OFF, NULL, &id))) {
			pr_errno(-ret, "%s: cannot hand UDP socket %s to the socket guard", who,
				 local);
			return ret;
		}
		ret =
		    inet_udp_queue_dump(&ctx->arena, sk, s, who, local, mem[SK_MEMINFO_RMEM_ALLOC]);
		if (!ret && (ret = sk_guard_release(&ctx->sk_guard, id)))
			pr_errno(-ret, "%s: cannot tell the socket guard UDP socket %s is back",
				 who, local);
		if (ret)
			return ret;
	}
	s->has_uid = s->has_gid = true;
	s->uid = fi->st.st_uid;
	s->gid = fi->st.st_gid;
	pr_info("%s: %s socket %s%s, state %u, %zu options", who, proto, local,
		s->has_backlog ? " listening" : "", s->state, s->n_opts);
	return 0;
}

static int inet_sk_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			FdEntry *e)
{
	InetSk *s = A_NEW(&ctx->arena, InetSk, INET_SK);
	int sk, ret;

	if (!s)
		return -ENOMEM;
	if ((sk = fd_take_copy(fi, "the socket")) < 0)
		return sk;
	s->family = (uint32_t)fi->sk_family;
	s->type = (uint32_t)fi->sk_type;
	s->protocol = (uint32_t)fi->sk_protocol;
	ret = inet_sk_dump_copy(ctx, t, fi, sk, s);
	close(sk);
	if (!ret)
		e->inet = s;
	return ret;
}

/* ---- restore ---- */

static int inet_sk_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
			   int flags)
{
	const InetSk *s = e->inet;
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256], where[80] = "";
	int sk;

	sk = socket((int)s->family,
		    (int)s->type | SOCK_CLOEXEC | (flags & O_NONBLOCK ? SOCK_NONBLOCK : 0),
		    (int)s->protocol);
	if (sk < 0) {
		child_fail(t, errno, "fd %d: cannot make a socket of family %u type %u protocol %u",
			   e->fd, s->family, s->type, s->protocol);
		return -1;
	}
	/* before the options: SO_LOCK_FILTER, once set, refuses a filter */
	if (s->has_filter && sk_filter_restore(sk, &s->filter) < 0) {
		child_fail(t, errno, "fd %d: cannot attach the socket filter (%zu instructions)",
			   e->fd, s->filter.len / 8);
		goto fail;
	}
	if (inet_opts_apply(sk, s, &t->inet_fresh, err, sizeof(err))) {
		child_fail(t, errno ? errno : EINVAL, "fd %d: %s", e->fd, err);
		goto fail;
	}
	/* the owner, which the kernel also keeps as the socket's uid (routing by uid, and
	 * SO_REUSEPORT groups only take sockets of one uid): before bind, as it was made */
	if (fchown(sk, s->uid, s->gid) < 0) {
		child_fail(t, errno, "fd %d: cannot give the socket to %u:%u", e->fd, s->uid,
			   s->gid);
		goto fail;
	}
	/* a connection's keys go in with it, in repair mode (inet_tcp.c) */
	if (s->n_md5 && !s->tcp && tcp_md5_apply(sk, s, err, sizeof(err))) {
		child_fail(t, errno, "fd %d: %s", e->fd, err);
		goto fail;
	}
	if (s->tcp || s->tcp_closed) {
		if (inet_tcp_restore(ctx, t, e, sk))
			goto fail;
		return sk;
	}
	if (s->sockmisc_syn_sent) {
		if (inet_syn_sent_restore(t, e, sk))
			goto fail;
		return sk;
	}
	if (s->has_src_port) {
		inet_addr_text(s->family, s->src_addr.data, s->src_port, where, sizeof(where));
		len = inet_sa_make(s->family, s->src_addr.data, s->src_port,
				   s->has_src_scope_id ? s->src_scope_id : 0, 0, &ss);
		if (bind(sk, (struct sockaddr *)&ss, len) < 0) {
			child_fail(t, errno, "fd %d: cannot bind the %s socket to %s%s", e->fd,
				   inet_proto_label(s), where,
				   errno == EADDRINUSE ? " (the port is taken: by the dumped "
							 "process left running, or another)"
						       : "");
			goto fail;
		}
		struct sockaddr_storage got;
		socklen_t glen = sizeof(got);
		uint8_t ga[16];
		uint32_t gport, gscope, gflow;
		if (getsockname(sk, (struct sockaddr *)&got, &glen) < 0 ||
		    !inet_sa_split(s->family, &got, ga, &gport, &gscope, &gflow) ||
		    gport != s->src_port ||
		    memcmp(ga, s->src_addr.data, inet_addr_len(s->family))) {
			child_fail(t, EINVAL, "fd %d: the socket was not bound to %s", e->fd,
				   where);
			goto fail;
		}
	}
	if (inet_mcast_restore(t, e, sk))
		goto fail;
	if (s->has_dst_port) {
		len = inet_sa_make(s->family, s->dst_addr.data, s->dst_port, s->dst_scope_id,
				   s->dst_flowinfo, &ss);
		if (connect(sk, (struct sockaddr *)&ss, len) < 0) {
			inet_addr_text(s->family, s->dst_addr.data, s->dst_port, where,
				       sizeof(where));
			child_fail(t, errno, "fd %d: cannot connect the %s socket to %s", e->fd,
				   inet_proto_label(s), where);
			goto fail;
		}
	}
	if (s->n_queue && inet_udp_queue_restore(t, e, sk))
		goto fail;
	if (s->state == ST_LISTEN) {
		struct tcp_info ti;
		len = sizeof(ti);
		memset(&ti, 0, sizeof(ti));
		if (listen(sk, (int)s->backlog) < 0) {
			child_fail(t, errno, "fd %d: cannot listen on %s", e->fd, where);
			goto fail;
		}
		if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
		    ti.tcpi_sacked != s->backlog) {
			child_fail(t, EINVAL,
				   "fd %d: the backlog of %s is %u, not %u as dumped "
				   "(net.core.somaxconn is lower here?)",
				   e->fd, where, ti.tcpi_sacked, s->backlog);
			goto fail;
		}
	}
	return sk;
fail:
	close(sk);
	return -1;
}

static int inet_sk_validate(const char *img, const Files *f, const FdEntry *e)
{
	const InetSk *s = e->inet;
	int ret;
	(void)f;

	if ((ret = files_sock_state(img, e, s, "a socket")))
		return ret < 0 ? ret : 0;
	if (s->family != AF_INET && s->family != AF_INET6)
		return files_refuse(img, "fd %d: socket family %u is not AF_INET or AF_INET6",
				    e->fd, s->family);
	bool tcp = inet_is_tcp(s);
	bool raw = inet_is_raw_or_ping(s);
	/* udp: any socket of datagrams, also raw and ping ones */
	bool udp = inet_is_udp(s) || raw;
	if (!tcp && !udp)
		return files_refuse(img,
				    "fd %d: socket type %u protocol %u is not TCP, UDP, raw or "
				    "ping",
				    e->fd, s->type, s->protocol);
	if (s->tcp && (!tcp || s->state != ST_ESTABLISHED))
		return files_refuse(img, "fd %d: a TCP connection on a socket in state %u", e->fd,
				    s->state);
	if (s->has_tcp_closed && (!tcp || s->state != ST_CLOSE))
		return files_refuse(img, "fd %d: a closed TCP connection (--tcp-close) invalid",
				    e->fd);
	if (raw && s->type == SOCK_DGRAM &&
	    s->protocol != (s->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP))
		return files_refuse(img, "fd %d: a ping socket of the other family's ICMP", e->fd);
	if (s->has_filter && !sk_filter_valid(&s->filter))
		return files_refuse(img, "fd %d: the socket filter is not whole instructions",
				    e->fd);
	if ((tcp && s->state != ST_CLOSE && s->state != ST_LISTEN && !s->tcp &&
	     !(s->state == ST_SYN_SENT && s->sockmisc_syn_sent)) ||
	    (udp && s->state != ST_CLOSE && s->state != ST_ESTABLISHED))
		return files_refuse(img, "fd %d: socket state %u is invalid", e->fd, s->state);
	if (s->has_src_addr != s->has_src_port ||
	    (s->has_src_addr && s->src_addr.len != inet_addr_len(s->family)) || s->src_port > 65535)
		return files_refuse(img, "fd %d: the socket's address is invalid", e->fd);
	/* a raw or ping socket's peer has no port (raw: ports are not theirs; ping: the
	 * identifier is the local one); a TCP socket closed by --tcp-close may keep its
	 * peer's */
	if (s->has_dst_addr != s->has_dst_port ||
	    (s->has_dst_addr && s->state != ST_ESTABLISHED && !s->has_tcp_closed &&
	     !s->sockmisc_syn_sent) ||
	    (!s->has_dst_addr && s->state == ST_ESTABLISHED) ||
	    (s->has_dst_addr && (s->dst_addr.len != inet_addr_len(s->family) ||
				 (raw ? s->dst_port != 0 : !s->dst_port) || s->dst_port > 65535)))
		return files_refuse(img, "fd %d: the socket's peer address is invalid", e->fd);
	if (s->family == AF_INET &&
	    (s->has_src_scope_id || s->has_dst_scope_id || s->has_dst_flowinfo))
		return files_refuse(img, "fd %d: IPv6 fields on an IPv4 socket", e->fd);
	if (s->has_dst_flowinfo && s->dst_flowinfo > 0xfffffff)
		return files_refuse(img, "fd %d: flow information %#x is invalid", e->fd,
				    s->dst_flowinfo);
	if (s->has_backlog != (s->state == ST_LISTEN) || (s->has_backlog && s->backlog > INT32_MAX))
		return files_refuse(img, "fd %d: listen backlog invalid for state %u", e->fd,
				    s->state);
	/* bound without a port only with IP_BIND_ADDRESS_NO_PORT (TCP): a bind to port 0
	 * would take a port of the kernel's choice */
	/* a raw socket's name carries its protocol in place of a port */
	if (raw && inet_proto_mask((int)s->type, (int)s->protocol) == INET_P_RAW &&
	    s->has_src_port && s->src_port != s->protocol)
		return files_refuse(img, "fd %d: a raw socket of protocol %u named with %u", e->fd,
				    s->protocol, s->src_port);
	if (s->has_src_port && !s->src_port && !raw) {
		bool no_port = false;
		for (size_t i = 0; i < s->n_opts; i++)
			if (s->opts[i]->level == IPPROTO_IP &&
			    s->opts[i]->name == IP_BIND_ADDRESS_NO_PORT && s->opts[i]->val == 1)
				no_port = true;
		if (!tcp || !no_port)
			return files_refuse(img, "fd %d: bound to an address without a port",
					    e->fd);
	}
	/* a listener is bound: listen() binds a port of its own, the dump saw that one */
	if (s->state == ST_LISTEN && (!s->has_src_port || !s->src_port))
		return files_refuse(img, "fd %d: a listening socket without a port", e->fd);
	if (!s->has_uid || !s->has_gid || s->uid == UINT32_MAX || s->gid == UINT32_MAX)
		return files_refuse(img, "fd %d: the socket's owner is invalid", e->fd);
	if (s->n_mcast && !udp)
		return files_refuse(img, "fd %d: multicast groups on a TCP socket", e->fd);
	if (inet_mcast_validate(img, e) || inet_udp_queue_validate(img, e))
		return -EINVAL;
	if ((s->tcp || s->has_tcp_closed) && (s->n_queue || s->has_backlog))
		return files_refuse(img, "fd %d: a TCP connection with a UDP queue or a backlog",
				    e->fd);
	if (inet_tcp_validate(img, e) || tcp_md5_validate(img, e) || inet_syn_sent_validate(img, e))
		return -EINVAL;
	return inet_opts_validate(img, e->fd, s);
}

/* every socket of the task made: the option values of new sockets are not needed again */
static int inet_sk_restore_finish(struct restore_ctx *ctx, struct restore_task *t)
{
	inet_opts_fresh_free(&t->inet_fresh);
	return 0;
}

const struct fd_ops fd_inet_sk_ops = {
    .name = "an inet socket",
    .names = "inet sockets",
    .kind = FD_KIND__FD_INET_SK,
    .recognise = inet_sk_recognise,
    .dump = inet_sk_dump,
    .restore = inet_sk_restore,
    .restore_finish = inet_sk_restore_finish,
    .validate = inet_sk_validate,
};
