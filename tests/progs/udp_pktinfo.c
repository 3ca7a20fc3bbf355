/* Datagrams queued on UDP sockets that hand each one over with the address it was sent to
 * and the interface it came in on (IP_PKTINFO, IPV6_RECVPKTINFO), as a DNS server or a TURN
 * relay bound to the wildcard address asks, to answer from the right address: an IPv4 socket
 * on 0.0.0.0 with datagrams sent to 127.0.0.1, 127.0.0.7 and 127.1.2.3, an IPv6 socket on
 * [::] with one to [::1] and one to ::ffff:127.0.0.9 (IPv4 on a dual-stack socket). Before
 * the dump a first datagram on each is read to learn what the kernel reports for it. After
 * the restore each datagram is read in order with its bytes, its sender, and the address,
 * interface (the loopback's) and local reply address it was sent to, and nothing more is
 * queued. (One that came in on another interface is refused: sent again, it would arrive on
 * the loopback.) */
// zt-run: gen2
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct dgram {
	const char *data, *to; /* bytes, the address sent to */
};

static const struct dgram v4[] = {
    {"first", "127.0.0.1"}, {"seven", "127.0.0.7"}, {"far", "127.1.2.3"}, {"one", "127.0.0.1"}};
static const struct dgram v6[] = {{"six", "::1"}, {"mapped", "::ffff:127.0.0.9"}};

static struct sockaddr_storage senders[8];
static socklen_t sender_len[8];

static void send_one(int family, int port, const struct dgram *d, int i)
{
	struct sockaddr_storage to = {0};
	socklen_t len;
	int fam = family;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&to;
		a->sin_family = AF_INET, a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, d->to, &a->sin_addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&to;
		a->sin6_family = AF_INET6, a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, d->to, &a->sin6_addr);
		len = sizeof(*a);
	}
	int s = socket(fam, SOCK_DGRAM, 0);
	zt_check_sys(s >= 0, "a sender");
	zt_check_sys(sendto(s, d->data, strlen(d->data), 0, (struct sockaddr *)&to, len) ==
			 (ssize_t)strlen(d->data),
		     "sendto");
	sender_len[i] = sizeof(senders[i]);
	zt_check_sys(getsockname(s, (struct sockaddr *)&senders[i], &sender_len[i]) == 0,
		     "getsockname");
	close(s);
}

/* one datagram read, with what the kernel says of its arrival */
static uint16_t port_of(const struct sockaddr_storage *a)
{
	return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
					     : ((const struct sockaddr_in6 *)a)->sin6_port);
}

static bool read_one(int sk, const char *what, const struct dgram *d, int i, bool v6sock)
{
	char buf[64], want[INET6_ADDRSTRLEN], got_to[INET6_ADDRSTRLEN] = "?",
				       got_spec[INET6_ADDRSTRLEN] = "-";
	union {
		char b[256];
		struct cmsghdr align;
	} cb;
	struct sockaddr_storage from;
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh = {.msg_name = &from,
			    .msg_namelen = sizeof(from),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cb.b,
			    .msg_controllen = sizeof(cb.b)};
	int ifindex = -1;
	ssize_t got = recvmsg(sk, &mh, MSG_DONTWAIT);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); got >= 0 && c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			inet_ntop(AF_INET, &pi.ipi_addr, got_to, sizeof(got_to));
			inet_ntop(AF_INET, &pi.ipi_spec_dst, got_spec, sizeof(got_spec));
			ifindex = pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			inet_ntop(AF_INET6, &pi.ipi6_addr, got_to, sizeof(got_to));
			ifindex = (int)pi.ipi6_ifindex;
		}
	}
	snprintf(want, sizeof(want), "%s", d->to);
	bool ok = zt_expect(got == (ssize_t)strlen(d->data) && !memcmp(buf, d->data, (size_t)got),
			    "%s: datagram is %zd bytes, not '%s'", what, got, d->data);
	ok &= zt_expect(!strcmp(got_to, want) && ifindex == (int)if_nametoindex("lo"),
			"%s: '%s' came to %s on interface %d, not to %s on lo", what, d->data,
			got_to, ifindex, want);
	ok &= zt_expect(got >= 0 && port_of(&from) == port_of(&senders[i]),
			"%s: '%s' came from port %u, not %u", what, d->data, port_of(&from),
			port_of(&senders[i]));
	if (!v6sock)
		ok &= zt_expect(!strcmp(got_spec, want), "%s: '%s' to be answered from %s, not %s",
				what, d->data, got_spec, want);
	return ok;
}

int main(int argc, char **argv)
{
	int one = 1, zero = 0;
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	socklen_t l4 = sizeof(a4), l6 = sizeof(a6);

	zt_init(argc, argv);
	int s4 = socket(AF_INET, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	zt_check_sys(s4 >= 0 && s6 >= 0, "socket");
	zt_check_sys(bind(s4, (struct sockaddr *)&a4, l4) == 0 &&
			 getsockname(s4, (struct sockaddr *)&a4, &l4) == 0 &&
			 setsockopt(s4, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) == 0,
		     "the IPv4 socket");
	zt_check_sys(setsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == 0 &&
			 bind(s6, (struct sockaddr *)&a6, l6) == 0 &&
			 getsockname(s6, (struct sockaddr *)&a6, &l6) == 0 &&
			 setsockopt(s6, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) == 0,
		     "the IPv6 socket");
	int p4 = ntohs(a4.sin_port), p6 = ntohs(a6.sin6_port);
	for (int i = 0; i < 4; i++)
		send_one(AF_INET, p4, &v4[i], i);
	for (int i = 0; i < 2; i++)
		send_one(AF_INET6, p6, &v6[i], 4 + i);
	/* what the kernel reports without any checkpoint, for the first of each */
	if (!read_one(s4, "before the dump, 0.0.0.0", &v4[0], 0, false))
		zt_fail("the kernel reports IPv4 arrivals otherwise than this test expects");
	zt_ready();
	zt_wait_for_check();
	for (int i = 1; i < 4; i++)
		read_one(s4, "0.0.0.0", &v4[i], i, false);
	for (int i = 0; i < 2; i++)
		read_one(s6, "[::]", &v6[i], 4 + i, true);
	char c;
	errno = 0;
	zt_expect(recv(s4, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN &&
		      recv(s6, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
		  "more datagrams than were sent");
	zt_pass();
}
