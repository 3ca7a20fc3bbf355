/* The addresses of AF_INET and AF_INET6 sockets, for every part of the inet kind (inet_sk.c,
 * inet_mcast.c, inet_udp.c, inet_tcp.c): a sockaddr taken apart into the image's
 * family-independent fields and made again from them, and the text of an address for
 * messages. Apart so that each of those files uses one way of doing it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
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

/* An address as /proc/net/{tcp,raw,icmp}{,6} print it: each 32-bit word of the address as the
 * machine holds it, in hex (8 digits for IPv4, 32 for IPv6). */
bool inet_proc_addr(const char *hex, size_t addr_len, uint8_t *out)
{
	for (size_t w = 0; w < addr_len / 4; w++) {
		char word[9];
		char *end;
		memcpy(word, hex + w * 8, 8);
		word[8] = 0;
		unsigned long v = strtoul(word, &end, 16);
		if (*end)
			return false;
		uint32_t x = (uint32_t)v;
		memcpy(out + w * 4, &x, 4);
	}
	return true;
}

int inet_proc_peer(int pid, const char *table, unsigned long ino, size_t alen,
		   struct inet_proc_line *out, const char *who)
{
	char path[64], line[512];
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, table);
	FILE *f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		pr_errno(-ret, "%s: cannot read %s to find the socket's peer", who, path);
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		char local[40], remote[40];
		unsigned lport, rport, st;
		unsigned long inode;
		/* sl local:port remote:port st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line,
			   " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %*u "
			   "%*u %lu",
			   local, &lport, remote, &rport, &st, &inode) != 6 ||
		    inode != ino)
			continue;
		if (strlen(remote) != alen * 2 || !inet_proc_addr(remote, alen, out->addr) ||
		    rport > 65535) {
			pr_err("%s: %s: the line of socket inode %lu is not understood", who, path,
			       ino);
			ret = -EIO;
			break;
		}
		out->state = st;
		out->port = rport;
		ret = 0;
		break;
	}
	fclose(f);
	if (ret == -ENOENT)
		pr_err("%s: the socket (inode %lu) is not in %s", who, ino, path);
	return ret;
}

int inet_set_peer(struct arena *a, InetSk *s, const uint8_t *addr, unsigned port, const char *who,
		  const char *what)
{
	size_t alen = inet_addr_len(s->family);

	if (s->family == AF_INET6 && addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80) {
		pr_err("%s: %s to a link-local IPv6 address (its interface cannot be read): not "
		       "supported yet",
		       who, what);
		return -ENOTSUP;
	}
	s->has_dst_addr = s->has_dst_port = true;
	s->dst_addr.data = arena_memdup(a, addr, alen);
	s->dst_addr.len = alen;
	s->dst_port = port;
	if (s->family == AF_INET6) {
		/* neither is shown in /proc/net: a connect() with a scope or a flow label is
		 * not told apart (a link-local peer would need its scope: refused above) */
		s->has_dst_scope_id = s->has_dst_flowinfo = true;
		s->dst_scope_id = s->dst_flowinfo = 0;
	}
	return s->dst_addr.data ? 0 : -ENOMEM;
}
