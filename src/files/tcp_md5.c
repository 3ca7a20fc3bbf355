/* TCP_MD5SIG keys (RFC 2385) of a TCP socket: a listener's (which each connection it accepts
 * copies for its peer), a connection's, a socket's made before connect or listen.
 *
 * The kernel gives no key back through getsockopt; sock_diag does, for a listening or
 * connected socket and to CAP_NET_ADMIN only: inet_diag with INET_DIAG_INFO asked answers
 * INET_DIAG_MD5SIG, an array of struct tcp_diag_md5sig (family, prefix length, address, key),
 * newest first. The request goes to the socket's own network namespace (SIOCGSKNS: the
 * netlink socket is made there), by the socket's addresses and cookie, or, if that finds it
 * not, as a dump of that state matched by inode.
 *
 * What it does not show, measured on 6.18:
 * - the interface a key is bound to (TCP_MD5SIG_EXT with TCP_MD5SIG_FLAG_IFINDEX, an L3
 *   master device or none): the dump sets each key again as it reads it, unbound, on the
 *   socket itself, which changes nothing for a key that is so (the kernel updates a key of
 *   the same address, prefix and binding in place with the same bytes) and adds a second for
 *   a bound one; sock_diag then lists one more, which is taken away again at once and the
 *   dump refused naming it;
 * - the keys of a socket neither listening nor connected (made, bound): refused when the
 *   socket holds option memory (SO_MEMINFO's optmem, where keys are charged: 0 on a TCP
 *   socket without keys or a filter) without a socket filter to explain it; the same for a
 *   listener or a connection whose option memory sock_diag shows no key for (it shows keys
 *   to CAP_NET_ADMIN only). A socket without option memory has no key: sock_diag is asked
 *   only for one that has;
 * - TCP-AO keys (RFC 5925): TCP_AO_INFO answers for a socket that has some; refused.
 *
 * The restore sets the keys oldest first: on a listener or a new socket before bind, on a
 * connection inside repair mode once the segments the restore feeds it are in (they carry no
 * signature, the kernel would drop them with a key set) and before it leaves repair mode. */
#include "files/tcp_md5.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "files/inet.h"
#include "files/kind.h"

enum { ST_LISTEN = 10, ST_CLOSE = 7 };

struct keys {
	struct tcp_diag_md5sig *k;
	size_t n;
	bool found;
};

/* A NETLINK_SOCK_DIAG socket in sk's network namespace */
static int diag_socket(int sk)
{
	int ns = ioctl(sk, SIOCGSKNS), self = -1, nl = -1, e = 0;
	struct stat a, b;

	if (ns < 0)
		return -errno;
	if (fstat(ns, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev) {
		close(ns);
		nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		return nl < 0 ? -errno : nl;
	}
	/* made there, the socket stays of that namespace */
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(ns, CLONE_NEWNET) < 0) {
		e = errno;
	} else {
		nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (nl < 0)
			e = errno;
		if (setns(self, CLONE_NEWNET) < 0) {
			/* cryo in another namespace than its own: nothing after this is right */
			pr_errno(errno, "cannot go back to cryo's network namespace");
			abort();
		}
	}
	if (self >= 0)
		close(self);
	close(ns);
	return e ? -e : nl;
}

/* One inet_diag request (exact: by req's id; else a dump), the keys of the socket of inode
 * ino into *out. 0 (out->found tells whether it answered), or -errno. */
static int diag_keys(int nl, const struct inet_diag_req_v2 *req, bool dump, uint64_t ino,
		     struct keys *out)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} q = {.h = {.nlmsg_len = sizeof(q),
		     .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		     .nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0),
		     .nlmsg_seq = 1},
	       .r = *req};
	static char buf[65536];
	bool done = false;

	out->found = false;
	if (send(nl, &q, sizeof(q), 0) != (ssize_t)sizeof(q))
		return -errno;
	while (!done) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		int len = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EIO;
				return e->error == -ENOENT || e->error == -ESTALE ? 0 : e->error;
			}
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				return -EIO;
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			if (!dump)
				done = true;
			if (m->idiag_inode != ino || out->found)
				continue;
			out->found = true;
			int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
			for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen);
			     a = RTA_NEXT(a, alen)) {
				if (a->rta_type != INET_DIAG_MD5SIG)
					continue;
				size_t k = RTA_PAYLOAD(a) / sizeof(struct tcp_diag_md5sig);
				free(out->k);
				out->k = malloc(k ? k * sizeof(*out->k) : 1);
				if (!out->k)
					return -ENOMEM;
				memcpy(out->k, RTA_DATA(a), k * sizeof(*out->k));
				out->n = k;
			}
		}
	}
	return 0;
}

/* The keys of sk as sock_diag tells them. 0 or -errno. */
static int read_keys(int nl, int sk, int family, uint32_t state, uint64_t ino, struct keys *out)
{
	struct inet_diag_req_v2 r = {
	    .sdiag_family = (uint8_t)family,
	    .sdiag_protocol = IPPROTO_TCP,
	    .idiag_ext = 1 << (INET_DIAG_INFO - 1),
	    .idiag_states = 1u << state,
	};
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);
	uint64_t cookie = 0;
	socklen_t cl = sizeof(cookie);
	int ret;

	free(out->k);
	out->k = NULL;
	out->n = 0;
	memset(&p, 0, sizeof(p));
	if (getsockname(sk, (struct sockaddr *)&l, &ll) == 0 &&
	    (state == ST_LISTEN || getpeername(sk, (struct sockaddr *)&p, &pl) == 0) &&
	    getsockopt(sk, SOL_SOCKET, SO_COOKIE, &cookie, &cl) == 0) {
		if (family == AF_INET) {
			const struct sockaddr_in *a = (void *)&l, *b = (void *)&p;
			r.id.idiag_sport = a->sin_port;
			r.id.idiag_dport = b->sin_port;
			memcpy(r.id.idiag_src, &a->sin_addr, 4);
			memcpy(r.id.idiag_dst, &b->sin_addr, 4);
		} else {
			const struct sockaddr_in6 *a = (void *)&l, *b = (void *)&p;
			r.id.idiag_sport = a->sin6_port;
			r.id.idiag_dport = b->sin6_port;
			memcpy(r.id.idiag_src, &a->sin6_addr, 16);
			memcpy(r.id.idiag_dst, &b->sin6_addr, 16);
		}
		r.id.idiag_cookie[0] = (uint32_t)cookie;
		r.id.idiag_cookie[1] = (uint32_t)(cookie >> 32);
		/* an error of the exact request (an address it does not take) leaves the dump */
		if (diag_keys(nl, &r, false, ino, out) == 0 && out->found)
			return 0;
	}
	/* not found by its name (a listener among others on its port...): all of its state */
	memset(&r.id, 0, sizeof(r.id));
	if ((ret = diag_keys(nl, &r, true, ino, out)))
		return ret;
	return out->found ? 0 : -ENOENT;
}

/* setsockopt(TCP_MD5SIG_EXT) of key k (unbound) on sk of family, or its removal (del) */
static int set_key(int sk, int family, uint8_t kfamily, const uint8_t *addr, uint8_t prefixlen,
		   const uint8_t *key, uint16_t keylen, bool del)
{
	struct tcp_md5sig m;
	unsigned full = kfamily == AF_INET ? 32 : 128;

	memset(&m, 0, sizeof(m));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&m.tcpm_addr;
		a->sin_family = AF_INET;
		memcpy(&a->sin_addr, addr, 4);
	} else {
		/* an IPv4 key of an IPv6 socket is given as a v4-mapped address */
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&m.tcpm_addr;
		a->sin6_family = AF_INET6;
		if (kfamily == AF_INET) {
			a->sin6_addr.s6_addr[10] = a->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&a->sin6_addr.s6_addr[12], addr, 4);
		} else {
			memcpy(&a->sin6_addr, addr, 16);
		}
	}
	if (prefixlen != full) {
		m.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
		m.tcpm_prefixlen = prefixlen;
	}
	m.tcpm_keylen = del ? 0 : keylen;
	if (!del)
		memcpy(m.tcpm_key, key, keylen);
	int r = setsockopt(sk, IPPROTO_TCP, TCP_MD5SIG_EXT, &m, sizeof(m)) < 0 ? -errno : 0;
	memset(&m, 0, sizeof(m));
	return r;
}

static const char *key_text(const struct tcp_diag_md5sig *k, char *buf, size_t size)
{
	char a[64];
	inet_group_text(k->tcpm_family, k->tcpm_addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, k->tcpm_prefixlen);
	return buf;
}

int tcp_md5_dump(struct arena *a, int sk, InetSk *s, uint32_t state, uint32_t optmem,
		 const char *who)
{
	char ao[CRYO_TCP_AO_INFO_SIZE] = {0}, kt[80];
	socklen_t aol = sizeof(ao);
	struct keys keys = {0}, again = {0};
	struct stat st;
	int nl, ret = 0;

	if (getsockopt(sk, IPPROTO_TCP, TCP_AO_INFO, ao, &aol) == 0) {
		pr_err("%s: TCP socket with TCP-AO keys (RFC 5925): not supported yet", who);
		return -ENOTSUP;
	}
	/* keys are charged to the socket's option memory, which nothing else of a TCP socket
	 * cryo saves uses but a socket filter: without either, no key */
	if (!optmem)
		return 0;
	/* LISTEN, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING */
	bool shown = state == ST_LISTEN || state == 1 || state == 4 || state == 5 || state == 8 ||
		     state == 9 || state == 11;
	if (!shown) {
		/* made or bound: sock_diag shows no keys */
		if (!s->has_filter) {
			pr_err("%s: TCP socket neither listening nor connected holds %u bytes of "
			       "option memory (TCP_MD5SIG keys?), which cannot be read there: not "
			       "supported",
			       who, optmem);
			return -ENOTSUP;
		}
		return 0;
	}
	if (fstat(sk, &st) < 0)
		return -errno;
	if ((nl = diag_socket(sk)) < 0) {
		pr_errno(-nl, "%s: cannot ask sock_diag for the socket's TCP_MD5SIG keys", who);
		return nl;
	}
	if ((ret = read_keys(nl, sk, (int)s->family, state, st.st_ino, &keys))) {
		pr_errno(-ret, "%s: cannot read the socket's TCP_MD5SIG keys (sock_diag)", who);
		goto out;
	}
	/* sock_diag shows keys to CAP_NET_ADMIN only, and says nothing otherwise */
	if (!keys.n && !s->has_filter) {
		pr_err("%s: TCP socket holds %u bytes of option memory that sock_diag shows no "
		       "TCP_MD5SIG key for (cryo without CAP_NET_ADMIN?): not supported",
		       who, optmem);
		ret = -ENOTSUP;
		goto out;
	}
	for (size_t i = 0; i < keys.n; i++) {
		const struct tcp_diag_md5sig *k = &keys.k[i];
		if ((k->tcpm_family != AF_INET && k->tcpm_family != AF_INET6) ||
		    k->tcpm_keylen > TCP_MD5SIG_MAXKEYLEN || !k->tcpm_keylen ||
		    k->tcpm_prefixlen > (k->tcpm_family == AF_INET ? 32 : 128)) {
			pr_err("%s: sock_diag gave a TCP_MD5SIG key that makes no sense", who);
			ret = -EIO;
			goto out;
		}
		/* the same key again, unbound: a no-op unless the one read is bound */
		if ((ret =
			 set_key(sk, (int)s->family, k->tcpm_family, (const uint8_t *)k->tcpm_addr,
				 k->tcpm_prefixlen, k->tcpm_key, k->tcpm_keylen, false)) ||
		    (ret = read_keys(nl, sk, (int)s->family, state, st.st_ino, &again))) {
			pr_errno(-ret, "%s: cannot check TCP_MD5SIG key %s", who,
				 key_text(k, kt, sizeof(kt)));
			goto out;
		}
		if (again.n != keys.n) {
			int d = set_key(sk, (int)s->family, k->tcpm_family,
					(const uint8_t *)k->tcpm_addr, k->tcpm_prefixlen, NULL, 0,
					true);
			if (d)
				pr_errno(-d,
					 "%s: cannot take the checking copy of TCP_MD5SIG key "
					 "%s away again",
					 who, key_text(k, kt, sizeof(kt)));
			pr_err("%s: TCP_MD5SIG key %s is bound to an interface (TCP_MD5SIG_EXT "
			       "ifindex), which cannot be read: not supported",
			       who, key_text(k, kt, sizeof(kt)));
			ret = -ENOTSUP;
			goto out;
		}
	}
	TcpMd5Key **v = keys.n ? arena_alloc(a, keys.n * sizeof(*v)) : NULL;
	if (keys.n && !v) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < keys.n; i++) {
		const struct tcp_diag_md5sig *k = &keys.k[i];
		TcpMd5Key *m = A_NEW(a, TcpMd5Key, TCP_MD5_KEY);
		size_t alen = k->tcpm_family == AF_INET ? 4 : 16;
		if (!m || !(m->addr.data = arena_memdup(a, k->tcpm_addr, alen)) ||
		    !(m->key.data = arena_memdup(a, k->tcpm_key, k->tcpm_keylen))) {
			ret = -ENOMEM;
			goto out;
		}
		m->family = k->tcpm_family;
		m->addr.len = alen;
		m->prefixlen = k->tcpm_prefixlen;
		m->key.len = k->tcpm_keylen;
		v[i] = m;
	}
	s->md5 = v;
	s->n_md5 = keys.n;
	if (keys.n)
		pr_info("%s: %zu TCP_MD5SIG key%s saved", who, keys.n, keys.n > 1 ? "s" : "");
out:
	if (keys.k)
		memset(keys.k, 0, keys.n * sizeof(*keys.k));
	if (again.k)
		memset(again.k, 0, again.n * sizeof(*again.k));
	free(keys.k);
	free(again.k);
	close(nl);
	return ret;
}

int tcp_md5_apply(int sk, const InetSk *s, char *err, size_t size)
{
	/* sock_diag lists them newest first */
	for (size_t i = s->n_md5; i-- > 0;) {
		const TcpMd5Key *k = s->md5[i];
		int r = set_key(sk, (int)s->family, (uint8_t)k->family, k->addr.data,
				(uint8_t)k->prefixlen, k->key.data, (uint16_t)k->key.len, false);
		if (r) {
			char a[64];
			inet_group_text(k->family, k->addr.data, a, sizeof(a));
			snprintf(err, size, "cannot set TCP_MD5SIG key %s/%u again: %s", a,
				 k->prefixlen, strerror(-r));
			errno = -r;
			return r;
		}
	}
	return 0;
}

int tcp_md5_validate(const char *img, const FdEntry *e)
{
	const InetSk *s = e->inet;

	if (s->n_md5 && !inet_is_tcp(s))
		return files_refuse(img, "fd %d: TCP_MD5SIG keys on a socket that is not TCP",
				    e->fd);
	for (size_t i = 0; i < s->n_md5; i++) {
		const TcpMd5Key *k = s->md5[i];
		if ((k->family != AF_INET && k->family != AF_INET6) ||
		    (k->family == AF_INET6 && s->family != AF_INET6) ||
		    k->addr.len != inet_addr_len(k->family) ||
		    k->prefixlen > (k->family == AF_INET ? 32u : 128u) || !k->key.len ||
		    k->key.len > TCP_MD5SIG_MAXKEYLEN)
			return files_refuse(img, "fd %d: TCP_MD5SIG key %zu invalid", e->fd, i);
	}
	return 0;
}
