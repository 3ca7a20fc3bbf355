/* Established TCP connections of inet sockets (--tcp-established, --tcp-close), the part of
 * inet_sk.c that libcryotcp (src/net/tcp_repair.h) and the network lock (src/net/netlock.h)
 * do.
 *
 * Dump (the tree frozen): the connection's packets are dropped first (the lock), then cryo's
 * copy of the socket goes into repair mode (the socket is one: the task's is in repair mode
 * too) and its state is read. The copy is kept open in the dump ctx until the dump ends:
 * - the dump failed, or -R: repair mode off on each, then the lock removed; the tree goes on;
 * - the tree was killed: the copies are closed (a socket closed in repair mode goes without a
 *   packet), the lock stays until the restore has made the connections again.
 *
 * Restore (in the child, at the fd's place): a socket with the options inet_opts.c applies,
 * then libcryotcp makes the connection (bind, sequences, connect without a handshake,
 * queues, windows, repair off). Once the whole tree is restored, the parent removes the
 * lock's tables the images name.
 *
 * Half-closed connections (FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, CLOSING, LAST_ACK) are saved the
 * same way, with their state and whether our FIN was sent (tcp_conn.state, fin_unsent);
 * libcryotcp gives the FINs back at the restore, the peer's by a segment from a raw socket
 * marked TCP_REPAIR_MARK that the lock lets through to the local end (netlock.c). A socket of
 * the tree marked with that very mark (SO_MARK) is refused: the lock would let its packets
 * pass.
 *
 * --tcp-close: the connection is not saved (the dump logs each); the restore makes a TCP
 * socket whose connection ended: connected in repair mode, then disconnected (AF_UNSPEC),
 * which in repair mode sends nothing and leaves the error ECONNABORTED, state CLOSE. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/fault.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "files/inet.h"
#include "files/kind.h"
#include "files/tcp_md5.h"
#include "net/netlock.h"
#include "net/tcp_repair.h"
#include "net/tcp_urg.h"

/* The image's connection as libcryotcp takes it (queues pointing into the image) */
static void state_of(const InetSk *s, struct tcp_repair_state *st)
{
	const TcpConn *c = s->tcp;

	memset(st, 0, sizeof(*st));
	st->family = (int)s->family;
	inet_sa_make(s->family, s->src_addr.data, s->src_port,
		     s->has_src_scope_id ? s->src_scope_id : 0, 0, &st->local);
	inet_sa_make(s->family, s->dst_addr.data, s->dst_port,
		     s->has_dst_scope_id ? s->dst_scope_id : 0,
		     s->has_dst_flowinfo ? s->dst_flowinfo : 0, &st->remote);
	st->state = c->has_state ? (int)c->state : 1;
	st->fin_unsent = c->has_fin_unsent && c->fin_unsent;
	st->snd_seq = c->snd_seq;
	st->rcv_seq = c->rcv_seq;
	st->sendq = c->sendq.data;
	st->sendq_len = (uint32_t)c->sendq.len;
	st->unsent = c->unsent;
	st->recvq = c->recvq.data;
	st->recvq_len = (uint32_t)c->recvq.len;
	st->urg = c->has_urg ? (uint8_t)c->urg : 0;
	st->urg_off = c->has_urg_off ? c->urg_off : 0;
	st->mss = c->mss;
	st->advmss = c->has_advmss ? c->advmss : 0;
	st->wscale = c->wscale;
	st->snd_wscale = (uint8_t)c->snd_wscale;
	st->rcv_wscale = (uint8_t)c->rcv_wscale;
	st->sack = c->sack;
	st->timestamps = c->timestamps;
	st->timestamp = c->timestamp;
	st->has_window = c->has_snd_wl1;
	st->snd_wl1 = c->snd_wl1;
	st->snd_wnd = c->snd_wnd;
	st->max_window = c->max_window;
	st->rcv_wnd = c->rcv_wnd;
	st->rcv_wup = c->rcv_wup;
	st->sndbuf = c->sndbuf;
	st->rcvbuf = c->rcvbuf;
}

/* A connection met in the walk, read once the lock holds every connection of the tree */
struct inet_tcp_pending {
	InetSk *s;
	const char *who, *conn; /* arena copies */
	int copy;		/* cryo's copy of the socket (ctx->tcp_copies holds it too) */
	struct sockaddr_storage local, remote;
	bool syn_sent; /* a connect in progress: its peer is s's dst (inet_syn_sent.c) */
	bool reuse;    /* SO_REUSEADDR, before repair mode */
	int ci;	       /* copy's index in ctx->tcp_copies */
};

static int note_conn(struct dump_ctx *ctx, int sk, InetSk *s, const char *who, const char *conn,
		     bool syn_sent);

int inet_tcp_dump(struct dump_ctx *ctx, int sk, InetSk *s, const char *who, const char *conn)
{
	return note_conn(ctx, sk, s, who, conn, false);
}

int inet_tcp_dump_syn_sent(struct dump_ctx *ctx, int sk, InetSk *s, const char *who,
			   const char *local)
{
	return note_conn(ctx, sk, s, who, local, true);
}

static int note_conn(struct dump_ctx *ctx, int sk, InetSk *s, const char *who, const char *conn,
		     bool syn_sent)
{
	struct inet_tcp_pending *p;
	int copy, ret, *v;

	if (ctx->opts->tcp_close && !syn_sent) {
		/* not saved: the tree killed, the kernel ends the connection as on any exit */
		s->state = 7;
		s->has_tcp_closed = s->tcp_closed = true;
		struct tcp_info ti;
		socklen_t tl = sizeof(ti);
		memset(&ti, 0, sizeof(ti));
		getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &tl);
		pr_info("%s: TCP connection %s (%s) not saved (--tcp-close): it is restored "
			"closed",
			who, conn, tcp_state_name(ti.tcpi_state));
		return 0;
	}
	/* the options were read a moment ago from this socket of a frozen tree: the values
	 * are the same now */
	int64_t saved = 0;
	int mark = 0;
	socklen_t ml = sizeof(mark);
	if (inet_opt_saved(s, SOL_SOCKET, SO_MARK, &saved))
		mark = (int)saved;
	else
		getsockopt(sk, SOL_SOCKET, SO_MARK, &mark, &ml);
	if ((unsigned)mark == TCP_REPAIR_MARK) {
		pr_err("%s: TCP connection %s is marked 0x%x (SO_MARK), the network lock's own "
		       "mark: not supported (the lock would let its packets through)",
		       who, conn, (unsigned)mark);
		return -ENOTSUP;
	}
	copy = fcntl(sk, F_DUPFD_CLOEXEC, 0);
	v = copy < 0 ? NULL : realloc(ctx->tcp_copies, (ctx->nr_tcp_copies + 1) * sizeof(*v));
	if (!v) {
		ret = copy < 0 ? -errno : -ENOMEM;
		if (copy >= 0)
			close(copy);
		pr_errno(-ret, "%s: cannot keep a copy of the connection's socket", who);
		return ret;
	}
	ctx->tcp_copies = v;
	v[ctx->nr_tcp_copies] = copy;
	unsigned char *r = realloc(ctx->tcp_reuse, (size_t)ctx->nr_tcp_copies + 1);
	if (!r) {
		close(copy);
		return -ENOMEM;
	}
	ctx->tcp_reuse = r;
	int reuse = 0;
	socklen_t rl = sizeof(reuse);
	if (inet_opt_saved(s, SOL_SOCKET, SO_REUSEADDR, &saved))
		reuse = (int)saved;
	else
		getsockopt(copy, SOL_SOCKET, SO_REUSEADDR, &reuse, &rl);
	r[ctx->nr_tcp_copies++] = reuse == 1;
	p = realloc(ctx->tcp_pending, (ctx->nr_tcp_pending + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	ctx->tcp_pending = p;
	p += ctx->nr_tcp_pending;
	memset(p, 0, sizeof(*p));
	p->s = s;
	p->copy = copy;
	p->who = arena_strdup(&ctx->arena, who);
	p->conn = arena_strdup(&ctx->arena, conn);
	if (!p->who || !p->conn)
		return -ENOMEM;
	/* the names inet_sk.c read from this socket (a connection's do not change) */
	socklen_t len = sizeof(p->local);
	if (s->has_src_port)
		inet_sa_make(s->family, s->src_addr.data, s->src_port,
			     s->has_src_scope_id ? s->src_scope_id : 0, 0, &p->local);
	else
		getsockname(copy, (struct sockaddr *)&p->local, &len);
	len = sizeof(p->remote);
	p->syn_sent = syn_sent;
	p->reuse = reuse == 1;
	p->ci = ctx->nr_tcp_copies - 1;
	if (syn_sent) /* no peer name before the handshake (ENOTCONN) */
		inet_sa_make(s->family, s->dst_addr.data, s->dst_port, 0, 0, &p->remote);
	else if (s->has_dst_port)
		inet_sa_make(s->family, s->dst_addr.data, s->dst_port,
			     s->has_dst_scope_id ? s->dst_scope_id : 0,
			     s->has_dst_flowinfo ? s->dst_flowinfo : 0, &p->remote);
	else
		getpeername(copy, (struct sockaddr *)&p->remote, &len);
	ctx->nr_tcp_pending++;
	return 0;
}

/* Repair mode off on cryo's copy i, and SO_REUSEADDR back: the kernel clears it (sk_reuse)
 * whenever repair mode goes off, on the task's socket too (the copy is the same socket) */
static int repair_off(struct dump_ctx *ctx, int i)
{
	int ret = tcp_repair_off(ctx->tcp_copies[i]), one = 1;
	if (!ret && ctx->tcp_reuse[i] &&
	    setsockopt(ctx->tcp_copies[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		ret = -errno;
	return ret;
}

/* What the reading of one connection found (conn_fetch), kept until conn_save */
struct conn_job {
	struct tcp_repair_state st;
	int on, ret, off; /* repair on, the read, repair off: 0 or -errno */
	char err[256];
};

/* The kernel's side of reading one established connection: repair on, libcryotcp's read,
 * repair off. Only system calls on p's own socket and malloc: safe beside another
 * connection's on another thread. */
static void conn_fetch(struct dump_ctx *ctx, const struct inet_tcp_pending *p, struct conn_job *j)
{
	memset(j, 0, sizeof(*j));
	if ((j->on = tcp_repair_on(p->copy)))
		return;
	fault_point("TCP connection: in repair mode for its read", 0);
	j->ret = tcp_repair_read(p->copy, &j->st, j->err, sizeof(j->err));
	/* repair mode only while it is read: if cryo died now, its tracees would run on at
	 * once, before the guard could turn it off. The lock keeps the connection silent
	 * meanwhile; the queues cannot change (no packet comes in, the task is stopped). */
	j->off = p->ci < 0 ? tcp_repair_off(p->copy) : repair_off(ctx, p->ci);
}

/* The read of one connection into p->s->tcp (the arena), logged */
static int conn_save(struct dump_ctx *ctx, const struct inet_tcp_pending *p, struct conn_job *j)
{
	const char *who = p->who, *conn = p->conn;
	struct tcp_repair_state st = j->st;

	if (j->on) {
		pr_errno(-j->on, "%s: connection %s: cannot turn TCP_REPAIR on", who, conn);
		return j->on;
	}
	if (j->ret) {
		if (j->ret == -ENOTSUP)
			pr_err("%s: TCP connection %s: %s", who, conn, j->err);
		else
			pr_errno(-j->ret, "%s: cannot read TCP connection %s (%s)", who, conn,
				 j->err);
		return j->ret;
	}
	if (j->off) {
		pr_errno(-j->off, "%s: connection %s: cannot turn TCP_REPAIR off", who, conn);
		tcp_repair_state_free(&st);
		return j->off;
	}
	TcpConn *c = A_NEW(&ctx->arena, TcpConn, TCP_CONN);
	if (!c) {
		tcp_repair_state_free(&st);
		return -ENOMEM;
	}
	if (st.state != 1) {
		c->has_state = true;
		c->state = (uint32_t)st.state;
		c->has_fin_unsent = st.fin_unsent;
		c->fin_unsent = st.fin_unsent;
	}
	c->snd_seq = st.snd_seq;
	c->rcv_seq = st.rcv_seq;
	c->sendq.len = st.sendq_len;
	c->sendq.data = st.sendq_len ? arena_memdup(&ctx->arena, st.sendq, st.sendq_len) : NULL;
	c->unsent = st.unsent;
	c->recvq.len = st.recvq_len;
	c->recvq.data = st.recvq_len ? arena_memdup(&ctx->arena, st.recvq, st.recvq_len) : NULL;
	if (st.urg) {
		c->has_urg = c->has_urg_off = true;
		c->urg = st.urg;
		c->urg_off = st.urg_off;
	}
	c->mss = st.mss;
	c->has_advmss = st.advmss != 0;
	c->advmss = st.advmss;
	c->wscale = st.wscale;
	c->snd_wscale = st.snd_wscale;
	c->rcv_wscale = st.rcv_wscale;
	c->sack = st.sack;
	c->timestamps = st.timestamps;
	c->timestamp = st.timestamp;
	if (st.has_window) {
		c->has_snd_wl1 = c->has_snd_wnd = c->has_max_window = c->has_rcv_wnd =
		    c->has_rcv_wup = true;
		c->snd_wl1 = st.snd_wl1;
		c->snd_wnd = st.snd_wnd;
		c->max_window = st.max_window;
		c->rcv_wnd = st.rcv_wnd;
		c->rcv_wup = st.rcv_wup;
	}
	c->sndbuf = st.sndbuf;
	c->rcvbuf = st.rcvbuf;
	if (ctx->netlock.table[0] && !ctx->opts->network_unlocked)
		c->lock_table = arena_strdup(&ctx->arena, ctx->netlock.table);
	tcp_repair_state_free(&st);
	if ((c->sendq.len && !c->sendq.data) || (c->recvq.len && !c->recvq.data))
		return -ENOMEM;
	p->s->tcp = c;
	pr_info("%s: TCP connection %s (%s) saved: %u bytes to send (%u never sent), "
		"%u to read%s%s",
		who, conn, tcp_state_name(c->has_state ? (int)c->state : 1), (unsigned)c->sendq.len,
		c->unsent, (unsigned)c->recvq.len, c->fin_unsent ? ", our FIN never sent" : "",
		!c->has_urg		    ? ""
		: c->urg == TCP_URG_PENDING ? ", an urgent byte (MSG_OOB) to read"
					    : ", an urgent byte (MSG_OOB) read");
	return 0;
}

/* A connect in progress, read in repair mode (inet_syn_sent.c) */
static int syn_sent_read(struct dump_ctx *ctx, const struct inet_tcp_pending *p)
{
	const char *who = p->who, *conn = p->conn;
	int ret;

	if ((ret = tcp_repair_on(p->copy))) {
		pr_errno(-ret, "%s: connection %s: cannot turn TCP_REPAIR on", who, conn);
		return ret;
	}
	ret = inet_syn_sent_read(p->copy, p->s, who, conn);
	if (!ret && ctx->netlock.table[0] && !ctx->opts->network_unlocked &&
	    !(p->s->sockmisc_syn_lock_table = arena_strdup(&ctx->arena, ctx->netlock.table)))
		ret = -ENOMEM;
	int off = p->ci < 0 ? tcp_repair_off(p->copy) : repair_off(ctx, p->ci);
	if (!ret && off)
		pr_errno(-off, "%s: connect in progress %s: cannot turn TCP_REPAIR off", who, conn);
	return ret ? ret : off;
}

/* The other half of the connections' reads, on the second core */
struct fetch_half {
	struct dump_ctx *ctx;
	struct conn_job *jobs;
	int from, to;
};

static void *fetch_half(void *arg)
{
	struct fetch_half *h = arg;
	for (int i = h->from; i < h->to; i++)
		if (!h->ctx->tcp_pending[i].syn_sent)
			conn_fetch(h->ctx, &h->ctx->tcp_pending[i], &h->jobs[i]);
	return NULL;
}

/* Every pending connection read, the kernel's part of a tree's many connections on two
 * threads (each connection is a socket of its own; the tree is frozen and the lock holds
 * every one already, so reading one before another changes nothing), then each saved and
 * logged in order; the first failure is the answer. */
static int conns_read(struct dump_ctx *ctx)
{
	int n = ctx->nr_tcp_pending, ret = 0;
	struct conn_job *jobs = calloc((size_t)n, sizeof(*jobs));
	struct fetch_half h = {ctx, jobs, n / 2, n};
	pthread_t th;
	bool two = false;

	if (!jobs)
		return -ENOMEM;
	if (n >= 64) {
		/* signals stay the main thread's */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		two = pthread_create(&th, NULL, fetch_half, &h) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!two)
		h.from = 0;
	for (int i = 0; i < h.from; i++)
		if (!ctx->tcp_pending[i].syn_sent)
			conn_fetch(ctx, &ctx->tcp_pending[i], &jobs[i]);
	if (two)
		pthread_join(th, NULL);
	else
		fetch_half(&h);
	for (int i = 0; i < n; i++) {
		const struct inet_tcp_pending *p = &ctx->tcp_pending[i];
		if (ret)
			tcp_repair_state_free(&jobs[i].st);
		else if (p->syn_sent)
			ret = syn_sent_read(ctx, p);
		else
			ret = conn_save(ctx, p, &jobs[i]);
	}
	free(jobs);
	return ret;
}

/* Once every task was walked: the lock on every connection of the tree at once, then each
 * read. Until the lock holds, a connection's queues may still move (the tree is frozen, the
 * kernel is not): nothing of them is read before. */
int inet_tcp_dump_finish(struct dump_ctx *ctx)
{
	int n = ctx->nr_tcp_pending, ret = 0;
	struct netlock_conn *lc;

	if (!n)
		return 0;
	if (!ctx->opts->network_unlocked) {
		if (!(lc = calloc((size_t)n, sizeof(*lc))))
			return -ENOMEM;
		for (int i = 0; i < n; i++) {
			lc[i].local = ctx->tcp_pending[i].local;
			lc[i].remote = ctx->tcp_pending[i].remote;
			lc[i].sk = ctx->tcp_pending[i].copy;
			lc[i].reuse = ctx->tcp_pending[i].reuse;
			lc[i].who = ctx->tcp_pending[i].who;
		}
		ret = netlock_add(&ctx->netlock, lc, (size_t)n);
		free(lc);
	} else {
		/* no lock, but repair mode (and what the reads turn over) put back if cryo dies */
		int *sks = calloc((size_t)n, sizeof(*sks));
		bool *reuse = calloc((size_t)n, sizeof(*reuse));
		uint32_t first;
		ret = sks && reuse ? 0 : -ENOMEM;
		for (int i = 0; !ret && i < n; i++) {
			sks[i] = ctx->tcp_pending[i].copy;
			reuse[i] = ctx->tcp_pending[i].reuse;
		}
		if (!ret)
			ret =
			    sk_guard_hold(&ctx->sk_guard, sks, (size_t)n,
					  SKG_REPAIR | SKG_REUSEADDR | SKG_OOBINLINE | SKG_PEEK_OFF,
					  reuse, &first);
		if (ret)
			pr_errno(-ret,
				 "cannot hand the tree's TCP connections to the socket guard");
		free(sks);
		free(reuse);
	}
	if (!ret)
		ret = conns_read(ctx);
	free(ctx->tcp_pending);
	ctx->tcp_pending = NULL;
	ctx->nr_tcp_pending = 0;
	return ret;
}

int inet_tcp_before_kill(struct dump_ctx *ctx)
{
	for (int i = 0; i < ctx->nr_tcp_copies; i++) {
		int ret = tcp_repair_on(ctx->tcp_copies[i]);
		if (ret) {
			pr_errno(-ret, "cannot turn TCP_REPAIR on again before the tree is killed");
			return ret;
		}
	}
	return 0;
}

void inet_tcp_dump_end(struct dump_ctx *ctx, bool resumed)
{
	/* the tree is gone for good: its connections stay in repair mode for the restore, and
	 * the guard's copies must go with cryo's, silently */
	if (!resumed)
		sk_guard_end(&ctx->sk_guard);
	for (int i = 0; i < ctx->nr_tcp_copies; i++) {
		int ret;
		if (resumed && (ret = repair_off(ctx, i)))
			pr_errno(-ret, "cannot turn TCP_REPAIR off on a connection of the tree");
		close(ctx->tcp_copies[i]);
	}
	free(ctx->tcp_copies);
	free(ctx->tcp_reuse);
	ctx->tcp_copies = NULL;
	ctx->tcp_reuse = NULL;
	ctx->nr_tcp_copies = 0;
	free(ctx->tcp_pending); /* a dump that failed before its finish */
	ctx->tcp_pending = NULL;
	ctx->nr_tcp_pending = 0;
	netlock_finish(&ctx->netlock, !resumed);
}

/* tcp_repair_state.before_live: the connection's TCP_MD5SIG keys */
static int md5_before_live(int sk, void *arg, char *err, size_t size)
{
	return tcp_md5_apply(sk, arg, err, size);
}

/* Restore of an established connection on sk (options applied, owner set); -1 after
 * child_fail */
int inet_tcp_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int sk)
{
	const InetSk *s = e->inet;
	struct tcp_repair_state st;
	char err[256];

	if (s->tcp_closed) {
		/* any peer does: in repair mode nothing is sent to it */
		static const uint8_t lo[16] = {127, 0, 0, 1}, lo6[16] = {[15] = 1};
		struct sockaddr_storage ss;
		socklen_t len =
		    s->has_dst_port
			? inet_sa_make(s->family, s->dst_addr.data, s->dst_port,
				       s->has_dst_scope_id ? s->dst_scope_id : 0, 0, &ss)
			: inet_sa_make(s->family, s->family == AF_INET6 ? lo6 : lo, 9, 0, 0, &ss);
		struct sockaddr un = {.sa_family = AF_UNSPEC};
		if (tcp_repair_on(sk) || connect(sk, (struct sockaddr *)&ss, len) < 0 ||
		    connect(sk, &un, sizeof(un)) < 0 || tcp_repair_off(sk)) {
			child_fail(t, errno,
				   "fd %d: cannot make the closed TCP socket (--tcp-close)", e->fd);
			return -1;
		}
		return 0;
	}
	if (!ctx->opts->tcp_established) {
		child_fail(t, ENOTSUP,
			   "fd %d: the images hold an established TCP connection: restore it with "
			   "--tcp-established",
			   e->fd);
		return -1;
	}
	state_of(s, &st);
	if (s->n_md5) {
		st.before_live = md5_before_live;
		st.before_live_arg = (void *)s;
	}
	if (tcp_repair_restore(sk, &st, false, err, sizeof(err))) {
		child_fail(t, errno ? errno : EINVAL,
			   "fd %d: cannot make the TCP connection again: %s", e->fd, err);
		return -1;
	}
	/* leaving repair mode cleared SO_REUSEADDR (the kernel's sk_reuse): the options
	 * again, all read back */
	if (inet_opts_apply_again(sk, s, err, sizeof(err))) {
		child_fail(t, errno ? errno : EINVAL,
			   "fd %d: TCP connection made again, its options: %s", e->fd, err);
		return -1;
	}
	return 0;
}

int inet_tcp_restore_check(struct restore_ctx *ctx)
{
	int n = 0;

	for (int i = 0; i < ctx->nr_tasks; i++) {
		const Files *f = ctx->tasks[i].files;
		for (size_t k = 0; f && k < f->n_fds; k++)
			if (f->fds[k]->inet &&
			    (f->fds[k]->inet->tcp || f->fds[k]->inet->sockmisc_syn_sent))
				n++;
	}
	if (n && !ctx->opts->tcp_established) {
		pr_err("the images hold %d established TCP connection%s (or connects in progress): "
		       "restore them with "
		       "--tcp-established",
		       n, n > 1 ? "s" : "");
		return -ENOTSUP;
	}
	ctx->tcp_conns = n;
	return 0;
}

int inet_tcp_restore_finish(struct restore_ctx *ctx)
{
	if (!ctx->tcp_taken)
		return 0;
	const char *done[64];
	int nr = 0, ret = 0;

	for (int i = 0; i < ctx->nr_tasks; i++) {
		const Files *f = ctx->tasks[i].files;
		for (size_t k = 0; f && k < f->n_fds; k++) {
			const InetSk *s = f->fds[k]->inet;
			const char *name = !s	    ? NULL
					   : s->tcp ? s->tcp->lock_table
						    : s->sockmisc_syn_lock_table;
			bool seen = false;
			if (!name)
				continue;
			for (int j = 0; j < nr; j++)
				seen |= !strcmp(done[j], name);
			if (seen)
				continue;
			if (nr < 64)
				done[nr++] = name;
			if (netlock_delete(name))
				ret = -EIO;
		}
	}
	return ret;
}

int inet_tcp_validate(const char *img, const FdEntry *e)
{
	const InetSk *s = e->inet;
	struct tcp_repair_state st;
	char err[256];
	const TcpConn *c = s->tcp;

	if (!c)
		return 0;
	if (!s->has_src_port || !s->has_dst_port || s->has_tcp_closed)
		return files_refuse(img, "fd %d: a TCP connection without its two ends", e->fd);
	if (c->sendq.len > UINT32_MAX || c->recvq.len > UINT32_MAX)
		return files_refuse(img, "fd %d: a TCP queue too long", e->fd);
	bool w = c->has_snd_wl1;
	if (c->has_snd_wnd != w || c->has_max_window != w || c->has_rcv_wnd != w ||
	    c->has_rcv_wup != w)
		return files_refuse(img, "fd %d: TCP windows incomplete", e->fd);
	if (c->snd_wscale > 255 || c->rcv_wscale > 255)
		return files_refuse(img, "fd %d: TCP window scales out of range", e->fd);
	/* a state says ESTABLISHED by its absence; a FIN never sent needs a state that has
	 * our FIN (tcp_repair_check tells which) */
	if (c->has_state &&
	    (c->state == 1 || c->state > 255 || !tcp_repair_state_ok((int)c->state)))
		return files_refuse(img, "fd %d: TCP state %u is not a half-closed one", e->fd,
				    c->state);
	if (c->has_urg != c->has_urg_off ||
	    (c->has_urg && (c->urg < TCP_URG_PENDING || c->urg > TCP_URG_TAKEN)))
		return files_refuse(img, "fd %d: TCP urgent mark invalid", e->fd);
	if (c->has_fin_unsent && (!c->has_state || !c->fin_unsent))
		return files_refuse(img, "fd %d: TCP fin_unsent without a half-closed state",
				    e->fd);
	if (c->lock_table && !netlock_table_name_ok(c->lock_table))
		return files_refuse(img, "fd %d: network lock table name invalid", e->fd);
	state_of(s, &st);
	if (tcp_repair_check(&st, err, sizeof(err)))
		return files_refuse(img, "fd %d: TCP connection: %s", e->fd, err);
	return 0;
}
