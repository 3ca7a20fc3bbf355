/* Datagrams waiting to be read, as a UDP service has them when it is busy: a server socket on
 * 127.0.0.1 with four datagrams queued (from a client connected to it, from another client's
 * sendto, an empty one, and a larger one of 9000 bytes), and a dual-stack IPv6 socket on [::]
 * with one datagram from an IPv4 sender (a v4-mapped address) and one from [::1]; the senders'
 * ports chosen by the kernel at setup. After the restore each datagram is read in its order
 * with its length, content and sender address and port, nothing more is queued, and a new
 * datagram from the connected client arrives after them. */
// zt-run: gen2
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned char big[9000];

static struct sockaddr_in lo4(unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static unsigned short port4(int sk)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	return getsockname(sk, (struct sockaddr *)&a, &len) == 0 ? ntohs(a.sin_port) : 0;
}

static unsigned short port6(int sk)
{
	struct sockaddr_in6 a;
	socklen_t len = sizeof(a);
	return getsockname(sk, (struct sockaddr *)&a, &len) == 0 ? ntohs(a.sin6_port) : 0;
}

static void expect4(int s, const void *data, size_t len, unsigned short from, const char *what)
{
	static unsigned char buf[10000];
	struct sockaddr_in a = {0};
	socklen_t alen = sizeof(a);
	ssize_t n = recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&a, &alen);
	zt_expect(n == (ssize_t)len && !memcmp(buf, data, len), "%s: %zd bytes (%zu expected): %m",
		  what, n, len);
	zt_expect(n < 0 || (a.sin_family == AF_INET && ntohs(a.sin_port) == from &&
			    a.sin_addr.s_addr == htonl(INADDR_LOOPBACK)),
		  "%s: from port %u, not %u", what, ntohs(a.sin_port), from);
}

static void expect6(int s, const char *data, const char *from, unsigned short port,
		    const char *what)
{
	char buf[64] = {0}, addr[64] = "?";
	struct sockaddr_in6 a = {0};
	socklen_t alen = sizeof(a);
	ssize_t n = recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&a, &alen);
	inet_ntop(AF_INET6, &a.sin6_addr, addr, sizeof(addr));
	zt_expect(n == (ssize_t)strlen(data) && !strcmp(buf, data), "%s: '%s' (%m)", what, buf);
	zt_expect(n < 0 || (!strcmp(addr, from) && ntohs(a.sin6_port) == port),
		  "%s: from [%s]:%u, not [%s]:%u", what, addr, ntohs(a.sin6_port), from, port);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	int s, u6, c1, c2, c4, c6, off = 0;

	zt_init(argc, argv);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7 + 3);
	/* the receivers first: they are made again before their senders rebind */
	s = socket(AF_INET, SOCK_DGRAM, 0);
	u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	zt_check_sys(s >= 0 && u6 >= 0, "socket");
	a = lo4(0);
	zt_check_sys(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0, "bind");
	zt_check_sys(setsockopt(u6, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0, "v6only");
	zt_check_sys(bind(u6, (struct sockaddr *)&a6, sizeof(a6)) == 0, "bind6");

	c1 = socket(AF_INET, SOCK_DGRAM, 0);
	c2 = socket(AF_INET, SOCK_DGRAM, 0);
	c4 = socket(AF_INET, SOCK_DGRAM, 0);
	c6 = socket(AF_INET6, SOCK_DGRAM, 0);
	a = lo4(port4(s));
	zt_check_sys(connect(c1, (struct sockaddr *)&a, sizeof(a)) == 0, "connect");
	zt_check_sys(send(c1, "first", 5, 0) == 5, "send");
	zt_check_sys(sendto(c2, "second", 6, 0, (struct sockaddr *)&a, sizeof(a)) == 6, "sendto");
	zt_check_sys(send(c1, "", 0, 0) == 0, "send empty");
	zt_check_sys(send(c1, big, sizeof(big), 0) == sizeof(big), "send big");
	a = lo4(port6(u6));
	zt_check_sys(sendto(c4, "four", 4, 0, (struct sockaddr *)&a, sizeof(a)) == 4, "sendto4");
	a6.sin6_addr = in6addr_loopback;
	a6.sin6_port = htons(port6(u6));
	zt_check_sys(sendto(c6, "six", 3, 0, (struct sockaddr *)&a6, sizeof(a6)) == 3, "sendto6");

	zt_ready();
	zt_wait_for_check();

	expect4(s, "first", 5, port4(c1), "datagram 1");
	expect4(s, "second", 6, port4(c2), "datagram 2");
	expect4(s, "", 0, port4(c1), "the empty datagram");
	expect4(s, big, sizeof(big), port4(c1), "the 9000-byte datagram");
	char c;
	zt_expect(recv(s, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN, "more datagrams queued");
	zt_expect(send(c1, "after", 5, 0) == 5, "send after: %m");
	expect4(s, "after", 5, port4(c1), "the datagram sent after the restore");
	expect6(u6, "four", "::ffff:127.0.0.1", port4(c4), "the IPv4 sender's datagram");
	expect6(u6, "six", "::1", port6(c6), "the IPv6 sender's datagram");
	zt_expect(recv(u6, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN, "more datagrams in u6");
	zt_pass();
}
