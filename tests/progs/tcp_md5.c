/* TCP_MD5SIG keys (RFC 2385), over loopback, every end in the tree: a listener with a key for
 * 127.0.0.0/8 (TCP_MD5SIG_EXT with a prefix) and one for 10.1.2.3, a client with the key for
 * 127.0.0.1 connected to it, and the connection it accepted (which took the listener's key
 * for its peer). The kernel drops every segment whose signature is wrong or missing, so a key
 * lost on either end of the connection stops its data, and one lost on the listener lets a
 * client without the key in. Beside them, a connection with the key to an echo server outside
 * the tree (forked before zt_init), whose end keeps its key whatever the restore does. After
 * the restore: data both ways on both connections, a new client with the key is accepted and
 * carries data, one without it is not accepted.
 * ZT_TCP6 (tcp6_md5): the same over ::1, the listener's second key an IPv4 one (a v4-mapped
 * address), without the accepted pair (accepted IPv6 sockets of the tree carry
 * IPV6_MULTICAST_IF/HOPS from their SYN, which the restore of options does not take yet). */
// zt-run: gen2 tcp-established
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char KEY[] = "the-listeners-key";

#ifdef ZT_TCP6
#define FAMILY AF_INET6
typedef struct sockaddr_in6 addr_t;
static const addr_t lo = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
#define LOOP "::1"
#define NET "::"
#define NET_PREFIX 64
#else
#define FAMILY AF_INET
typedef struct sockaddr_in addr_t;
static const addr_t lo = {.sin_family = AF_INET}; /* 127.0.0.1 set in main */
#define LOOP "127.0.0.1"
#define NET "127.0.0.0"
#define NET_PREFIX 8
#endif

/* a key for ip/prefix: an IPv6 address, or an IPv4 one (v4-mapped on an IPv6 socket) */
static int set_key(int sk, const char *ip, int prefix, const char *key)
{
	struct tcp_md5sig m;
	bool v6 = strchr(ip, ':');
	memset(&m, 0, sizeof(m));
	if (FAMILY == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&m.tcpm_addr;
		a->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &a->sin_addr);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&m.tcpm_addr;
		a->sin6_family = AF_INET6;
		if (v6) {
			inet_pton(AF_INET6, ip, &a->sin6_addr);
		} else {
			a->sin6_addr.s6_addr[10] = a->sin6_addr.s6_addr[11] = 0xff;
			inet_pton(AF_INET, ip, &a->sin6_addr.s6_addr[12]);
		}
	}
	if (prefix != (v6 ? 128 : 32)) {
		m.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
		m.tcpm_prefixlen = (uint8_t)prefix;
	}
	m.tcpm_keylen = (uint16_t)strlen(key);
	memcpy(m.tcpm_key, key, strlen(key));
	return setsockopt(sk, IPPROTO_TCP, TCP_MD5SIG_EXT, &m, sizeof(m));
}

static bool carries(int from, int to, const char *msg)
{
	char buf[64] = {0};
	size_t n = strlen(msg);
	struct pollfd pf = {.fd = to, .events = POLLIN};
	return send(from, msg, n, MSG_NOSIGNAL) == (ssize_t)n && poll(&pf, 1, 3000) == 1 &&
	       recv(to, buf, sizeof(buf), MSG_DONTWAIT) == (ssize_t)n && !memcmp(buf, msg, n);
}

/* a client to a, with key (or none): connected within 1.5 s? */
static int client(const addr_t *a, const char *key, bool *connected)
{
	int c = socket(FAMILY, SOCK_STREAM | SOCK_NONBLOCK, 0);
	*connected = false;
	if (c < 0 || (key && set_key(c, LOOP, FAMILY == AF_INET ? 32 : 128, key) < 0))
		return -1;
	if (connect(c, (const struct sockaddr *)a, sizeof(*a)) < 0 && errno != EINPROGRESS)
		return c;
	struct pollfd pf = {.fd = c, .events = POLLOUT};
	int err = -1;
	socklen_t el = sizeof(err);
	if (poll(&pf, 1, 1500) == 1 && getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
	    err == 0)
		*connected = true;
	fcntl(c, F_SETFL, 0);
	return c;
}

static void __attribute__((noreturn)) echo(int l)
{
	char buf[256];
	alarm(120); /* never outlives a run that forgot it */
	int c = accept(l, NULL, NULL);
	if (c < 0)
		_exit(1);
	close(l);
	for (;;) {
		ssize_t n = recv(c, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || send(c, buf, (size_t)n, 0) != n)
			break;
	}
	_exit(0);
}

static bool echoes(int c, const char *msg)
{
	char buf[64] = {0};
	size_t n = strlen(msg);
	struct pollfd pf = {.fd = c, .events = POLLIN};
	return send(c, msg, n, MSG_NOSIGNAL) == (ssize_t)n && poll(&pf, 1, 3000) == 1 &&
	       recv(c, buf, n, MSG_WAITALL) == (ssize_t)n && !memcmp(buf, msg, n);
}

int main(int argc, char **argv)
{
	addr_t a = lo, e;
	socklen_t alen = sizeof(a);
	bool ok;

#ifndef ZT_TCP6
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
#endif
	e = a;

	int el = socket(FAMILY, SOCK_STREAM, 0);
	if (el < 0 || set_key(el, LOOP, FAMILY == AF_INET ? 32 : 128, KEY) < 0 ||
	    bind(el, (struct sockaddr *)&e, sizeof(e)) < 0 || listen(el, 1) < 0 ||
	    getsockname(el, (struct sockaddr *)&e, &alen) < 0) {
		perror("echo server");
		return 1;
	}
	pid_t server = fork();
	if (server < 0)
		return 1;
	if (server == 0)
		echo(el);
	close(el);
	alen = sizeof(a);
	zt_init(argc, argv);
	int ec = client(&e, KEY, &ok);
	zt_check_sys(ec >= 0 && ok && echoes(ec, "echo before"), "the echo server");
	int l = socket(FAMILY, SOCK_STREAM, 0);
	zt_check_sys(l >= 0 && set_key(l, NET, NET_PREFIX, KEY) == 0 &&
			 set_key(l, "10.1.2.3", 32, "another-key") == 0 &&
			 bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 4) == 0 &&
			 getsockname(l, (struct sockaddr *)&a, &alen) == 0,
		     "listener with keys");
#ifndef ZT_TCP6
	int c = client(&a, KEY, &ok);
	zt_check_sys(c >= 0 && ok, "connect with the key");
	int s = accept(l, NULL, NULL);
	zt_check_sys(s >= 0 && carries(c, s, "before") && carries(s, c, "before back"),
		     "the connection");
#endif
	/* the keys matter: without one the listener takes no connection */
	int x = client(&a, NULL, &ok);
	zt_check_sys(x >= 0 && !ok, "a client without the key was accepted");
	close(x);
	zt_ready();
	zt_wait_for_check();

#ifndef ZT_TCP6
	zt_expect(carries(c, s, "client to server"), "the connection lost client to server");
	zt_expect(carries(s, c, "server to client"), "the connection lost server to client");
#endif
	int n = client(&a, KEY, &ok);
	zt_expect(n >= 0 && ok, "a new client with the key was not accepted");
	int ns = ok ? accept(l, NULL, NULL) : -1;
	zt_expect(ns >= 0 && carries(n, ns, "new") && carries(ns, n, "new back"),
		  "the new connection carries nothing");
	x = client(&a, NULL, &ok);
	zt_expect(x >= 0 && !ok, "a client without the key was accepted: the listener lost it");
#ifndef ZT_TCP6
	zt_expect(carries(c, s, "after"), "the connection does not go on");
#endif
	zt_expect(echoes(ec, "echo after"), "the connection to the echo server lost its key");
	zt_pass();
}
