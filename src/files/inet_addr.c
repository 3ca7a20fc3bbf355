/* The addresses of AF_INET and AF_INET6 sockets, for every part of the inet kind (inet_sk.c,
 * inet_mcast.c, inet_udp.c, inet_tcp.c): a sockaddr taken apart into the image's
 * family-independent fields and made again from them, and the text of an address for
 * messages. Apart so that each of those files uses one way of doing it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "files/inet.h"

size_t inet_addr_len(uint32_t family)
{
	return family == AF_INET6 ? 16 : 4;
}

void inet_addr_text(uint32_t family, const void *addr, uint32_t port, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";
	inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	snprintf(buf, size, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

void inet_group_text(uint32_t family, const void *addr, char *buf, size_t size)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

bool inet_sa_split(uint32_t family, const struct sockaddr_storage *ss, uint8_t *addr,
		   uint32_t *port, uint32_t *scope, uint32_t *flow)
{
	if (family == AF_INET && ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		memcpy(addr, &s->sin_addr, 4);
		*port = ntohs(s->sin_port);
		*scope = *flow = 0;
		return true;
	}
	if (family == AF_INET6 && ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		memcpy(addr, &s->sin6_addr, 16);
		*port = ntohs(s->sin6_port);
		*scope = s->sin6_scope_id;
		*flow = ntohl(s->sin6_flowinfo);
		return true;
	}
	return false;
}

socklen_t inet_sa_make(uint32_t family, const uint8_t *addr, uint32_t port, uint32_t scope,
		       uint32_t flow, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		memcpy(&s->sin_addr, addr, 4);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
	s->sin6_family = AF_INET6;
	s->sin6_port = htons((uint16_t)port);
	s->sin6_scope_id = scope;
	s->sin6_flowinfo = htonl(flow);
	memcpy(&s->sin6_addr, addr, 16);
	return sizeof(*s);
}
