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

int inet_raw_dump_peer(struct arena *a, int pid, unsigned long ino, InetSk *s, const char *who)
{
	bool v6 = s->family == AF_INET6;
	const char *table = inet_proto_mask((int)s->type, (int)s->protocol) == INET_P_RAW
				? (v6 ? "raw6" : "raw")
				: (v6 ? "icmp6" : "icmp");
	struct inet_proc_line l;
	char what[64];
	int ret = inet_proc_peer(pid, table, ino, inet_addr_len(s->family), &l, who);

	if (ret)
		return ret;
	s->state = 7;	  /* TCP_CLOSE: not connected */
	if (l.state != 1) /* TCP_ESTABLISHED: connected */
		return 0;
	s->state = 1;
	snprintf(what, sizeof(what), "%s socket connected", inet_proto_label(s));
	return inet_set_peer(a, s, l.addr, l.port, who, what);
}
