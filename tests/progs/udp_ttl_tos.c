/* Datagrams queued on UDP sockets that hand each one over with the TTL and TOS it came with
 * (IP_RECVTTL, IP_RECVTOS), as coturn's relays ask, and with the hop limit and traffic class
 * on IPv6 (IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS): on 127.0.0.1, datagrams sent with TTL 7 and
 * TOS 0x28, TTL 200 and TOS 0x10, and the defaults; on [::1], hop limit 9 and class 0x48, and
 * 255 and 0x20. After the restore each datagram is read in order with its bytes and the
 * TTL/hop limit and TOS/class it was sent with, and nothing more is queued. */
// zt-run: gen2
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sent {
	const char *data;
	int ttl, tos;
};

static const struct sent v4[] = {{"seven", 7, 0x28}, {"two hundred", 200, 0x10}, {"plain", 64, 0}};
static const struct sent v6[] = {{"nine", 9, 0x48}, {"max", 255, 0x20}};

static void send_all(int family, const struct sockaddr *to, socklen_t len, const struct sent *d,
		     int n)
{
	int lvl = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	int ttl_opt = family == AF_INET ? IP_TTL : IPV6_UNICAST_HOPS;
	int tos_opt = family == AF_INET ? IP_TOS : IPV6_TCLASS;
	for (int i = 0; i < n; i++) {
		int s = socket(family, SOCK_DGRAM, 0);
		zt_check_sys(s >= 0 && setsockopt(s, lvl, ttl_opt, &d[i].ttl, sizeof(int)) == 0 &&
				 setsockopt(s, lvl, tos_opt, &d[i].tos, sizeof(int)) == 0,
			     "a sender");
		zt_check_sys(sendto(s, d[i].data, strlen(d[i].data), 0, to, len) ==
				 (ssize_t)strlen(d[i].data),
			     "sendto");
		close(s);
	}
}

static void check_all(int sk, const char *what, const struct sent *d, int n)
{
	for (int i = 0; i < n; i++) {
		char buf[64];
		union {
			char b[256];
			struct cmsghdr align;
		} cb;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {
		    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb.b)};
		int ttl = -1, tos = -1;
		ssize_t got = recvmsg(sk, &mh, MSG_DONTWAIT);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); got >= 0 && c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
				tos = *(unsigned char *)CMSG_DATA(c);
			else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
				 (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT))
				memcpy(&ttl, CMSG_DATA(c), sizeof(int));
			else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS)
				memcpy(&tos, CMSG_DATA(c), sizeof(int));
		}
		zt_expect(got == (ssize_t)strlen(d[i].data) && !memcmp(buf, d[i].data, (size_t)got),
			  "%s: datagram %d is %zd bytes, not '%s'", what, i, got, d[i].data);
		zt_expect(ttl == d[i].ttl && tos == d[i].tos,
			  "%s: datagram %d came with TTL %d and TOS %#x, not %d and %#x", what, i,
			  ttl, tos, d[i].ttl, d[i].tos);
	}
	char c;
	errno = 0;
	zt_expect(recv(sk, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
		  "%s: more datagrams than were sent", what);
}

int main(int argc, char **argv)
{
	int one = 1;
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	socklen_t l4 = sizeof(a4), l6 = sizeof(a6);

	zt_init(argc, argv);
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s4 = socket(AF_INET, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	zt_check_sys(s4 >= 0 && s6 >= 0, "socket");
	zt_check_sys(bind(s4, (struct sockaddr *)&a4, l4) == 0 &&
			 getsockname(s4, (struct sockaddr *)&a4, &l4) == 0 &&
			 setsockopt(s4, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one)) == 0 &&
			 setsockopt(s4, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one)) == 0,
		     "the IPv4 socket");
	zt_check_sys(bind(s6, (struct sockaddr *)&a6, l6) == 0 &&
			 getsockname(s6, (struct sockaddr *)&a6, &l6) == 0 &&
			 setsockopt(s6, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) == 0 &&
			 setsockopt(s6, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one)) == 0,
		     "the IPv6 socket");
	send_all(AF_INET, (struct sockaddr *)&a4, l4, v4, 3);
	send_all(AF_INET6, (struct sockaddr *)&a6, l6, v6, 2);
	zt_ready();
	zt_wait_for_check();
	check_all(s4, "127.0.0.1", v4, 3);
	check_all(s6, "[::1]", v6, 2);
	zt_pass();
}
