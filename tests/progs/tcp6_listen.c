/* IPv6 listeners as dual-stack servers make them: one on [::1] with IPV6_V6ONLY, one on [::]
 * without it (takes IPv4 clients too, as v4-mapped addresses), one bound to the v4-mapped
 * ::ffff:127.0.0.1, and one with SO_REUSEPORT and IPV6_TCLASS, IPV6_UNICAST_HOPS set, with a
 * second listener in its reuseport group (same address and port); ports
 * chosen by the kernel at setup. After the restore each has its address, port and options,
 * and clients reach each over the protocol it accepts: the test connects, accepts and
 * exchanges data through every one. */
// zt-run: gen2
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct lsn {
	const char *what, *addr;
	int v6only, reuseport, tclass, hops;
	int fd;
	struct sockaddr_in6 name;
};

static struct lsn lsns[] = {
    {"[::1] v6only", "::1", 1, 0, 0, 0, -1, {0}},
    {"[::] dual-stack", "::", 0, 0, 0, 0, -1, {0}},
    {"v4-mapped", "::ffff:127.0.0.1", 0, 0, 0, 0, -1, {0}},
    {"[::1] reuseport", "::1", 1, 1, 0x48, 17, -1, {0}},
};
#define N (sizeof(lsns) / sizeof(lsns[0]))

static int opt(int fd, int level, int name)
{
	int v = -100;
	socklen_t len = sizeof(v);
	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -200;
	return v;
}

/* connect to the listener from family fam (AF_INET: 127.0.0.1), accept, exchange */
static void exchange(struct lsn *l, int fam)
{
	int c = socket(fam, SOCK_STREAM, 0), a;
	char buf[16] = {0};
	int port = ntohs(l->name.sin6_port);

	if (fam == AF_INET) {
		struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port)};
		s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		zt_expect(connect(c, (struct sockaddr *)&s, sizeof(s)) == 0,
			  "%s: IPv4 connect to port %d: %m", l->what, port);
	} else {
		struct sockaddr_in6 s = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
		s.sin6_addr = in6addr_loopback;
		zt_expect(connect(c, (struct sockaddr *)&s, sizeof(s)) == 0,
			  "%s: IPv6 connect to port %d: %m", l->what, port);
	}
	a = accept(l->fd, NULL, NULL);
	zt_expect(a >= 0, "%s: accept: %m", l->what);
	if (a < 0) {
		close(c);
		return;
	}
	zt_expect(write(c, "hello", 5) == 5 && read(a, buf, sizeof(buf)) == 5 &&
		      !memcmp(buf, "hello", 5),
		  "%s: data did not pass", l->what);
	close(a);
	close(c);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	for (size_t i = 0; i < N; i++) {
		struct lsn *l = &lsns[i];
		struct sockaddr_in6 s = {.sin6_family = AF_INET6};
		socklen_t len = sizeof(l->name);
		l->fd = socket(AF_INET6, SOCK_STREAM, 0);
		zt_check_sys(l->fd >= 0, "socket");
		zt_check_sys(inet_pton(AF_INET6, l->addr, &s.sin6_addr) == 1, "inet_pton");
		zt_check_sys(
		    setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &l->v6only, sizeof(int)) == 0,
		    "V6ONLY");
		if (l->reuseport) {
			zt_check_sys(setsockopt(l->fd, SOL_SOCKET, SO_REUSEPORT, &l->reuseport,
						sizeof(int)) == 0,
				     "REUSEPORT");
			zt_check_sys(setsockopt(l->fd, IPPROTO_IPV6, IPV6_TCLASS, &l->tclass,
						sizeof(int)) == 0,
				     "TCLASS");
			zt_check_sys(setsockopt(l->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &l->hops,
						sizeof(int)) == 0,
				     "HOPS");
		}
		zt_check_sys(bind(l->fd, (struct sockaddr *)&s, sizeof(s)) == 0, "bind");
		zt_check_sys(listen(l->fd, 16) == 0, "listen");
		zt_check_sys(getsockname(l->fd, (struct sockaddr *)&l->name, &len) == 0,
			     "getsockname");
	}

	/* a second listener in the reuseport group: the same address and port */
	int one = 1, twin = socket(AF_INET6, SOCK_STREAM, 0);
	zt_check_sys(twin >= 0 &&
			 setsockopt(twin, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0 &&
			 setsockopt(twin, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0 &&
			 bind(twin, (struct sockaddr *)&lsns[3].name, sizeof(lsns[3].name)) == 0 &&
			 listen(twin, 16) == 0,
		     "reuseport twin");

	zt_ready();
	zt_wait_for_check();

	/* both in the group again: eight clients, each accepted by one of them */
	struct sockaddr_in6 tn = {0};
	socklen_t tl = sizeof(tn);
	zt_expect(getsockname(twin, (struct sockaddr *)&tn, &tl) == 0 &&
		      !memcmp(&tn, &lsns[3].name, sizeof(tn)),
		  "the reuseport twin is on port %d, not %d", ntohs(tn.sin6_port),
		  ntohs(lsns[3].name.sin6_port));
	int clients[8], accepted = 0;
	for (int i = 0; i < 8; i++) {
		clients[i] = socket(AF_INET6, SOCK_STREAM, 0);
		zt_expect(connect(clients[i], (struct sockaddr *)&lsns[3].name,
				  sizeof(lsns[3].name)) == 0,
			  "reuseport client %d: %m", i);
	}
	for (int round = 0; round < 50 && accepted < 8; round++) {
		struct pollfd pf[2] = {{.fd = lsns[3].fd, .events = POLLIN},
				       {.fd = twin, .events = POLLIN}};
		if (poll(pf, 2, 100) <= 0)
			continue;
		for (int k = 0; k < 2; k++)
			if (pf[k].revents & POLLIN) {
				int a = accept(pf[k].fd, NULL, NULL);
				if (a >= 0)
					accepted++, close(a);
			}
	}
	zt_expect(accepted == 8, "the reuseport group accepted %d of 8 clients", accepted);
	for (int i = 0; i < 8; i++)
		close(clients[i]);

	for (size_t i = 0; i < N; i++) {
		struct lsn *l = &lsns[i];
		struct sockaddr_in6 now = {0};
		socklen_t len = sizeof(now);
		zt_expect(getsockname(l->fd, (struct sockaddr *)&now, &len) == 0 &&
			      len == sizeof(now) && !memcmp(&now, &l->name, sizeof(now)),
			  "%s: the address changed (port %d, was %d)", l->what,
			  ntohs(now.sin6_port), ntohs(l->name.sin6_port));
		zt_expect(opt(l->fd, SOL_SOCKET, SO_DOMAIN) == AF_INET6, "%s: not AF_INET6",
			  l->what);
		zt_expect(opt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY) == l->v6only, "%s: V6ONLY %d",
			  l->what, opt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY));
		zt_expect(opt(l->fd, SOL_SOCKET, SO_ACCEPTCONN) == 1, "%s: not listening", l->what);
		if (l->reuseport) {
			zt_expect(opt(l->fd, SOL_SOCKET, SO_REUSEPORT) == 1, "%s: REUSEPORT",
				  l->what);
			zt_expect(opt(l->fd, IPPROTO_IPV6, IPV6_TCLASS) == l->tclass,
				  "%s: TCLASS %d", l->what, opt(l->fd, IPPROTO_IPV6, IPV6_TCLASS));
			zt_expect(opt(l->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS) == l->hops,
				  "%s: hops %d", l->what,
				  opt(l->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS));
		}
	}
	exchange(&lsns[0], AF_INET6);
	exchange(&lsns[1], AF_INET6);
	exchange(&lsns[1], AF_INET);
	exchange(&lsns[2], AF_INET);
	zt_pass();
}
