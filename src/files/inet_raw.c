/* Raw sockets (SOCK_RAW of AF_INET or AF_INET6, any protocol 1..255: ping run by root, DHCP
 * and routing daemons, traceroute) and ping sockets (SOCK_DGRAM with IPPROTO_ICMP or
 * IPPROTO_ICMPV6: ping run by a user of net.ipv4.ping_group_range). inet_sk.c saves and
 * rebuilds them as it does UDP sockets: options (inet_opts.c, with the raw ones: IP_HDRINCL,
 * ICMP_FILTER, IPV6_CHECKSUM, ICMP6_FILTER), socket filter (sk_filter.c), bound address,
 * multicast groups, owner. What differs is here.
 *
 * A raw or ping socket's name is its address and its protocol (raw) or ICMP identifier
 * (ping): getsockname gives both, and bind takes them back (a raw socket's port is ignored
 * by bind; a ping socket's is its identifier, which the kernel gives it at its first send if
 * the program did not bind one: bound again, the restored ping socket matches the same echo
 * replies). Their peer, set by connect() without a port, is kept by the kernel with a port
 * of 0, so getpeername answers ENOTCONN: it is read from the socket's line of the task's
 * /proc/PID/net/{raw,raw6,icmp,icmp6} (its state 01 and remote address).
 *
 * Data queued to be read is refused by inet_sk.c as for every socket but UDP (a datagram
 * from the network cannot be sent again as its sender). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "files/inet.h"

bool inet_raw_recognise(int family, int type, int protocol)
{
	if (family != AF_INET && family != AF_INET6)
		return false;
	return inet_proto_mask(type, protocol) & (INET_P_RAW | INET_P_PING);
}

/* An address as /proc/net/{raw,icmp}{,6} print it: each 32-bit word of the address as the
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

int inet_raw_dump_peer(struct arena *a, int pid, unsigned long ino, InetSk *s, const char *who)
{
	bool v6 = s->family == AF_INET6;
	size_t alen = v6 ? 16 : 4;
	const char *table = inet_proto_mask((int)s->type, (int)s->protocol) == INET_P_RAW
				? (v6 ? "raw6" : "raw")
				: (v6 ? "icmp6" : "icmp");
	char path[64], line[512];
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, table);
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		pr_errno(-ret, "%s: cannot read %s to find the %s socket's peer", who, path,
			 inet_proto_label(s));
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
		if (strlen(remote) != alen * 2) {
			pr_err("%s: %s: the line of socket inode %lu is not understood", who, path,
			       ino);
			ret = -EIO;
			break;
		}
		s->state = 7; /* TCP_CLOSE: not connected */
		ret = 0;
		if (st != 1) /* TCP_ESTABLISHED: connected */
			break;
		uint8_t addr[16];
		if (!inet_proc_addr(remote, alen, addr)) {
			pr_err("%s: %s: the peer of socket inode %lu is not understood", who, path,
			       ino);
			ret = -EIO;
			break;
		}
		s->state = 1;
		s->has_dst_addr = s->has_dst_port = true;
		s->dst_addr.data = arena_memdup(a, addr, alen);
		s->dst_addr.len = alen;
		s->dst_port = rport;
		if (v6) {
			/* neither is shown for these sockets: a connect() with a scope or a
			 * flow label is not told apart (a link-local peer would need its scope) */
			s->has_dst_scope_id = s->has_dst_flowinfo = true;
			s->dst_scope_id = 0;
			s->dst_flowinfo = 0;
			if (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80) {
				pr_err("%s: %s socket connected to a link-local IPv6 address (its "
				       "interface cannot be read): not supported yet",
				       who, inet_proto_label(s));
				ret = -ENOTSUP;
				break;
			}
		}
		if (!s->dst_addr.data)
			ret = -ENOMEM;
		break;
	}
	fclose(f);
	if (ret == -ENOENT)
		pr_err("%s: the %s socket (inode %lu) is not in %s", who, inet_proto_label(s), ino,
		       path);
	return ret;
}
