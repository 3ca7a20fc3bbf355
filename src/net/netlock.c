/* The network lock with nftables (see netlock.h). */
#include "net/netlock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "net/netlock_elems.h"
#include "net/sk_guard.h"
#include "net/tcp_repair.h"

void netlock_init(struct netlock *l, struct sk_guard *guard)
{
	l->table[0] = 0;
	l->guard = guard;
	l->nft = NULL;
	l->n_conns = 0;
}

/* Run nft commands in ctx (a new one when NULL); 0 or -EIO with nft's message in err */
static int nft_run_in(struct nft_ctx *ctx, const char *cmds, char *err, size_t size)
{
	struct nft_ctx *nft = ctx ? ctx : nft_ctx_new(NFT_CTX_DEFAULT);
	int ret;

	if (!nft) {
		snprintf(err, size, "cannot start libnftables");
		return -ENOMEM;
	}
	if (!ctx) {
		nft_ctx_buffer_output(nft);
		nft_ctx_buffer_error(nft);
	}
	ret = nft_run_cmd_from_buffer(nft, cmds);
	if (ret) {
		const char *e = nft_ctx_get_error_buffer(nft);
		snprintf(err, size, "%s", e && *e ? e : "nft failed");
		size_t n = strlen(err);
		while (n && err[n - 1] == '\n')
			err[--n] = 0;
	}
	if (!ctx)
		nft_ctx_free(nft);
	return ret ? -EIO : 0;
}

static int nft_run(const char *cmds, char *err, size_t size)
{
	return nft_run_in(NULL, cmds, err, size);
}

static int table_delete(const char *name, char *err, size_t size)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "delete table inet %s\n", name);
	return nft_run(cmd, err, size);
}

/* "1.2.3.4 . 5" of one end (an element's half), v6 set for an IPv6 address */
static bool end_text(const struct sockaddr_storage *ss, char *buf, size_t size, bool *v6)
{
	char a[INET6_ADDRSTRLEN];
	unsigned port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		port = ntohs(s->sin_port);
		*v6 = false;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
			inet_ntop(AF_INET, &s->sin6_addr.s6_addr[12], a, sizeof(a));
			*v6 = false;
		} else {
			inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
			*v6 = true;
		}
		port = ntohs(s->sin6_port);
	} else {
		return false;
	}
	snprintf(buf, size, "%s . %u", a, port);
	return true;
}

/* The table: a set of connections per IP version (local address . port . remote address .
 * port), and in each direction one rule that drops what matches: adding a connection is
 * adding an element, which costs the same with 1 or 10,000 of them (a rule each would make
 * every addition read all the rules before it).
 *
 * First in each chain, the one exception: the segments libcryotcp makes at the restore of a
 * half-closed connection (the peer's FIN, its acknowledgement of ours), sent from a raw socket
 * marked TCP_REPAIR_MARK, from the peer's address to the local end. They come in (input), and
 * go out (output: when both ends are in the tree their reverse is in the set too) only to a
 * local address: nothing marked so reaches a peer elsewhere, and the dump refuses a socket of
 * the tree that carries the mark. */
static const char table_fmt[] =
    "add table inet %1$s\n"
    "add set inet %1$s conns4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n"
    "add set inet %1$s conns6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }\n"
    "add chain inet %1$s in { type filter hook input priority -400; }\n"
    "add chain inet %1$s out { type filter hook output priority -400; }\n"
    "add rule inet %1$s out meta mark %2$#x fib daddr type local accept\n"
    "add rule inet %1$s in meta mark %2$#x accept\n"
    "add rule inet %1$s out ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop\n"
    "add rule inet %1$s in ip daddr . tcp dport . ip saddr . tcp sport @conns4 drop\n"
    "add rule inet %1$s out ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop\n"
    "add rule inet %1$s in ip6 daddr . tcp dport . ip6 saddr . tcp sport @conns6 drop\n";

/* Hand n sockets to the guard, with what it puts back if cryo dies */
static int guard_hand(struct netlock *l, const struct netlock_conn *c, size_t n)
{
	int *sks = calloc(n, sizeof(*sks));
	bool *reuse = calloc(n, sizeof(*reuse));
	uint32_t first;
	int ret = -ENOMEM;

	if (sks && reuse) {
		for (size_t i = 0; i < n; i++) {
			sks[i] = c[i].sk;
			reuse[i] = c[i].reuse;
		}
		/* urgent data and a peek offset are turned over by the reads (tcp_urg.c) */
		ret = sk_guard_hold(l->guard, sks, n,
				    SKG_REPAIR | SKG_REUSEADDR | SKG_OOBINLINE | SKG_PEEK_OFF,
				    reuse, &first);
	}
	free(sks);
	free(reuse);
	return ret;
}

/* The nftables context, the table (named to the guard first), once per dump; who for messages */
static int table_make(struct netlock *l, const char *who)
{
	char err[512];
	char *cmds = NULL;
	size_t len = 0;
	int ret = 0;

	if (l->table[0])
		return 0;
	if (!l->nft) {
		l->nft = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!l->nft) {
			pr_err("%s: cannot start libnftables for the network lock", who);
			return -ENOMEM;
		}
		nft_ctx_buffer_output(l->nft);
		nft_ctx_buffer_error(l->nft);
	}
	FILE *f = open_memstream(&cmds, &len);
	if (!f)
		return -ENOMEM;
	snprintf(l->table, sizeof(l->table), "cryo-lock-%d", getpid());
	/* a table of the same name left by a cryo of this pid that was killed */
	table_delete(l->table, err, sizeof(err));
	/* priority -400: before conntrack and every other filter */
	fprintf(f, table_fmt, l->table, TCP_REPAIR_MARK);
	if (fclose(f) || !cmds) {
		free(cmds);
		l->table[0] = 0;
		return -ENOMEM;
	}
	/* the guard first: from the table's first moment, a cryo killed leaves nothing */
	if ((ret = sk_guard_table(l->guard, l->table)))
		pr_errno(-ret, "cannot start the guard of the network lock");
	if (!ret && (ret = nft_run_in(l->nft, cmds, err, sizeof(err))))
		pr_err("%s: cannot make the network lock (nftables table inet %s): %s", who,
		       l->table, err);
	free(cmds);
	if (ret)
		l->table[0] = 0; /* the guard would delete a table that is not there */
	return ret;
}

int netlock_prepare(struct netlock *l, const char *who)
{
	int ret = table_make(l, who);
	if (!ret)
		pr_debug("network lock: table inet %s made before the freeze", l->table);
	return ret;
}

int netlock_add(struct netlock *l, const struct netlock_conn *c, size_t n)
{
	char err[512];
	int ret;

	if (!n)
		return 0;
	if ((ret = table_make(l, c[0].who)))
		return ret;
	/* the connections, one transaction for them all */
	if ((ret = netlock_elems_add(l->table, c, n, err, sizeof(err)))) {
		pr_err("%s: cannot block the packets of %s (nftables table inet %s): %s", c[0].who,
		       n == 1 ? "its connection" : "the tree's connections", l->table, err);
		return ret;
	}
	/* the guard's copies, to turn repair mode off if cryo dies */
	l->n_conns += n;
	if ((ret = guard_hand(l, c, n))) {
		pr_errno(-ret, "cannot hand %zu sockets to the guard of the network lock", n);
		return ret;
	}
	for (size_t i = 0; i < n; i++) {
		char ls[80], rs[80];
		bool v6;
		end_text(&c[i].local, ls, sizeof(ls), &v6);
		end_text(&c[i].remote, rs, sizeof(rs), &v6);
		pr_debug("%s: packets of %s <-> %s dropped (nftables table inet %s)", c[i].who, ls,
			 rs, l->table);
	}
	pr_info("network lock: %zu connection(s) blocked (nftables table inet %s)", n, l->table);
	return 0;
}

void netlock_finish(struct netlock *l, bool keep)
{
	char err[512];

	if (l->nft) {
		nft_ctx_free(l->nft);
		l->nft = NULL;
	}
	if (!l->table[0])
		return;
	if (keep && l->n_conns) {
		/* the guard must not turn repair mode off on sockets of a tree gone for good */
		sk_guard_end(l->guard);
		pr_info("network lock: table inet %s stays until the restore", l->table);
		return;
	}
	if (table_delete(l->table, err, sizeof(err)))
		pr_err("cannot remove the network lock (nftables table inet %s): %s", l->table,
		       err);
	else
		pr_info("network lock: table inet %s removed", l->table);
	sk_guard_end(l->guard);
	l->table[0] = 0;
}

bool netlock_table_name_ok(const char *name)
{
	size_t n = strlen(name);
	return n && n < sizeof(((struct netlock *)0)->table) &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int netlock_delete(const char *name)
{
	char err[512];
	if (table_delete(name, err, sizeof(err))) {
		if (strstr(err, "No such file")) {
			pr_info("network lock: table inet %s was gone already", name);
			return 0;
		}
		pr_err("cannot remove the network lock (nftables table inet %s): %s", name, err);
		return -EIO;
	}
	pr_info("network lock: table inet %s removed", name);
	return 0;
}
