/* Netlink sockets as a network monitor and a udev-like listener hold them:
 *   mon: NETLINK_ROUTE, bound to a port id of its own choosing, subscribed to RTMGRP_LINK at
 *        bind, to RTNLGRP_IPV4_IFADDR and to RTNLGRP_BRVLAN (group 33: above the 32 that bind
 *        can name) with NETLINK_ADD_MEMBERSHIP; NETLINK_EXT_ACK, NETLINK_NO_ENOBUFS,
 *        NETLINK_PKTINFO, NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK, NETLINK_BROADCAST_ERROR,
 *        SO_RCVBUF, SO_PRIORITY and a classic filter that takes every message;
 *   req: NETLINK_ROUTE SOCK_DGRAM, never bound (port id 0);
 *   aut: NETLINK_ROUTE bound by the kernel (nl_pid 0: the port id is the kernel's choice);
 *   con: NETLINK_ROUTE connected to mon's port;
 *   ue:  NETLINK_KOBJECT_UEVENT, nonblocking, member of group 1 (the kernel's uevents).
 * After the restore each has its port id (getsockname), groups (NETLINK_LIST_MEMBERSHIPS),
 * destination (getpeername) and options; req still answers an RTM_GETLINK dump (lo is in
 * it, and req's port id is still 0 until it sends); a message con sends reaches mon from con's
 * port; a veth pair the test makes (and removes) brings RTM_NEWLINK to mon, and a "change"
 * written to lo's uevent file brings that uevent to ue. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#define GROUP_HIGH 33 /* RTNLGRP_BRVLAN */

static const int mon_opts[] = {NETLINK_EXT_ACK, NETLINK_NO_ENOBUFS,	NETLINK_PKTINFO,
			       NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK, NETLINK_BROADCAST_ERROR};

static int opt(int fd, int level, int name)
{
	int v = -100;
	socklen_t len = sizeof(v);
	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -200;
	return v;
}

static uint32_t port_of(int fd)
{
	struct sockaddr_nl a = {0};
	socklen_t len = sizeof(a);
	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return 0xdeadbeef;
	return a.nl_pid;
}

/* the groups as a text "1 5 33" */
static void groups_of(int fd, char *out, size_t size)
{
	uint32_t bits[8] = {0};
	socklen_t len = sizeof(bits);
	size_t n = 0;
	out[0] = 0;
	if (getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, bits, &len) < 0) {
		snprintf(out, size, "error %d", errno);
		return;
	}
	for (unsigned g = 0; g < len * 8 && g < 256; g++)
		if (bits[g / 32] & (1u << (g % 32)))
			n += snprintf(out + n, size - n, "%s%u", n ? " " : "", g + 1);
}

/* one message of type `type` within ms, on fd; its sender's port in *from. 1: found */
static int wait_msg(int fd, int type, const char *ifname, int ms, uint32_t *from)
{
	char buf[16384];
	for (int i = 0; i < ms / 50; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 50) != 1)
			continue;
		struct sockaddr_nl a = {0};
		socklen_t alen = sizeof(a);
		ssize_t n =
		    recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&a, &alen);
		if (n < 0)
			continue;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != type)
				continue;
			if (ifname) {
				/* an RTM_NEWLINK of the interface named so */
				struct ifinfomsg *ifi = NLMSG_DATA(h);
				int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
				for (struct rtattr *ra = IFLA_RTA(ifi); RTA_OK(ra, len);
				     ra = RTA_NEXT(ra, len))
					if (ra->rta_type == IFLA_IFNAME &&
					    !strcmp(RTA_DATA(ra), ifname)) {
						if (from)
							*from = a.nl_pid;
						return 1;
					}
				continue;
			}
			if (from)
				*from = a.nl_pid;
			return 1;
		}
	}
	return 0;
}

/* An RTM_GETLINK dump on fd: is lo among the links? */
static bool getlink_has_lo(int fd)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {.h = {.nlmsg_len = sizeof(req),
		       .nlmsg_type = RTM_GETLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		       .nlmsg_seq = 77}};
	struct sockaddr_nl k = {.nl_family = AF_NETLINK};
	char buf[32768];
	bool lo = false;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&k, sizeof(k)) < 0)
		return false;
	for (int rounds = 0; rounds < 100; rounds++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 2000) != 1)
			return false;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return false;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return lo;
			if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_seq != 77)
				continue;
			struct ifinfomsg *ifi = NLMSG_DATA(h);
			if (ifi->ifi_index == (int)if_nametoindex("lo"))
				lo = true;
		}
	}
	return false;
}

int main(int argc, char **argv)
{
	int mon, req, aut, con, ue, one = 1, g;
	uint32_t mon_port, aut_port, con_port, ue_port, from = 0;
	char before[64], after[64];
	struct sock_filter all[] = {BPF_STMT(BPF_RET | BPF_K, 0xffffffff)};
	struct sock_fprog fp = {.len = 1, .filter = all};

	zt_init(argc, argv);
	/* a port id nobody else takes: the kernel's automatic ones are pids and negatives */
	mon_port = 0x40000000u | (uint32_t)getpid();
	mon = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	zt_check_sys(mon >= 0, "netlink socket");
	struct sockaddr_nl a = {
	    .nl_family = AF_NETLINK, .nl_pid = mon_port, .nl_groups = RTMGRP_LINK};
	zt_check_sys(bind(mon, (struct sockaddr *)&a, sizeof(a)) == 0, "bind mon");
	g = RTNLGRP_IPV4_IFADDR;
	zt_check_sys(setsockopt(mon, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) == 0,
		     "add group 5");
	g = GROUP_HIGH;
	zt_check_sys(setsockopt(mon, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) == 0,
		     "add group 33");
	for (size_t i = 0; i < sizeof(mon_opts) / sizeof(mon_opts[0]); i++)
		zt_check_sys(setsockopt(mon, SOL_NETLINK, mon_opts[i], &one, sizeof(one)) == 0,
			     "netlink option");
	int rcv = 300000, prio = 5;
	zt_check_sys(setsockopt(mon, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) == 0 &&
			 setsockopt(mon, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio)) == 0 &&
			 setsockopt(mon, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) == 0,
		     "mon's socket options");
	int rcvbuf = opt(mon, SOL_SOCKET, SO_RCVBUF);

	req = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
	zt_check_sys(req >= 0, "netlink socket");
	aut = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	struct sockaddr_nl z = {.nl_family = AF_NETLINK};
	zt_check_sys(aut >= 0 && bind(aut, (struct sockaddr *)&z, sizeof(z)) == 0, "bind aut");
	aut_port = port_of(aut);
	con = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	struct sockaddr_nl d = {.nl_family = AF_NETLINK, .nl_pid = mon_port};
	zt_check_sys(con >= 0 && connect(con, (struct sockaddr *)&d, sizeof(d)) == 0, "connect");
	con_port = port_of(con);
	ue = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	struct sockaddr_nl u = {.nl_family = AF_NETLINK, .nl_groups = 1};
	zt_check_sys(ue >= 0 && bind(ue, (struct sockaddr *)&u, sizeof(u)) == 0, "bind ue");
	ue_port = port_of(ue);
	groups_of(mon, before, sizeof(before));
	zt_log("mon port %#x groups %s, aut %u, con %u, ue %u", mon_port, before, aut_port,
	       con_port, ue_port);
	zt_check_sys(!strcmp(before, "1 5 33"), "mon's groups");

	zt_ready();
	zt_wait_for_check();

	/* state */
	zt_expect(port_of(mon) == mon_port, "mon's port id is %#x, not %#x", port_of(mon),
		  mon_port);
	groups_of(mon, after, sizeof(after));
	zt_expect(!strcmp(after, before), "mon's groups are \"%s\", not \"%s\"", after, before);
	for (size_t i = 0; i < sizeof(mon_opts) / sizeof(mon_opts[0]); i++)
		zt_expect(opt(mon, SOL_NETLINK, mon_opts[i]) == 1, "netlink option %d of mon is %d",
			  mon_opts[i], opt(mon, SOL_NETLINK, mon_opts[i]));
	zt_expect(opt(mon, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID) == 0, "LISTEN_ALL_NSID set");
	zt_expect(opt(mon, SOL_SOCKET, SO_RCVBUF) == rcvbuf, "mon's SO_RCVBUF is %d, not %d",
		  opt(mon, SOL_SOCKET, SO_RCVBUF), rcvbuf);
	zt_expect(opt(mon, SOL_SOCKET, SO_PRIORITY) == prio, "mon's SO_PRIORITY is %d",
		  opt(mon, SOL_SOCKET, SO_PRIORITY));
	struct sock_filter back[4];
	socklen_t flen = 4;
	zt_expect(getsockopt(mon, SOL_SOCKET, SO_GET_FILTER, back, &flen) == 0 && flen == 1 &&
		      !memcmp(back, all, sizeof(all)),
		  "mon's filter is not the one attached (%u instructions)", flen);
	zt_expect(opt(mon, SOL_SOCKET, SO_TYPE) == SOCK_RAW &&
		      opt(req, SOL_SOCKET, SO_TYPE) == SOCK_DGRAM,
		  "socket types changed");
	zt_expect(opt(ue, SOL_SOCKET, SO_PROTOCOL) == NETLINK_KOBJECT_UEVENT, "ue's protocol is %d",
		  opt(ue, SOL_SOCKET, SO_PROTOCOL));
	zt_expect((fcntl(ue, F_GETFL) & O_NONBLOCK) && !(fcntl(mon, F_GETFL) & O_NONBLOCK),
		  "O_NONBLOCK changed");
	zt_expect(port_of(req) == 0, "req was bound: port id %u", port_of(req));
	zt_expect(port_of(aut) == aut_port, "aut's port id is %u, not %u", port_of(aut), aut_port);
	zt_expect(port_of(con) == con_port, "con's port id is %u, not %u", port_of(con), con_port);
	zt_expect(port_of(ue) == ue_port, "ue's port id is %u, not %u", port_of(ue), ue_port);
	groups_of(ue, after, sizeof(after));
	zt_expect(!strcmp(after, "1"), "ue's groups are \"%s\"", after);
	groups_of(aut, after, sizeof(after));
	zt_expect(!strcmp(after, ""), "aut's groups are \"%s\"", after);
	struct sockaddr_nl peer = {0};
	socklen_t plen = sizeof(peer);
	zt_expect(getpeername(con, (struct sockaddr *)&peer, &plen) == 0 && peer.nl_pid == mon_port,
		  "con's peer is %u, not %u", peer.nl_pid, mon_port);

	/* use: a request, a message from con, events */
	zt_expect(getlink_has_lo(req), "req's RTM_GETLINK dump does not list lo");
	static const char hello[] = "hello mon";
	struct {
		struct nlmsghdr h;
		char text[sizeof(hello)];
	} m = {.h = {.nlmsg_len = sizeof(m), .nlmsg_type = NLMSG_MIN_TYPE + 7}};
	memcpy(m.text, hello, sizeof(hello));
	zt_expect(send(con, &m, sizeof(m), 0) == (ssize_t)sizeof(m), "con's send: %m");
	zt_expect(wait_msg(mon, NLMSG_MIN_TYPE + 7, NULL, 2000, &from) && from == con_port,
		  "mon did not get con's message from port %u (from %u)", con_port, from);

	char veth[16], cmd[128];
	snprintf(veth, sizeof(veth), "ztnl%d", getpid() % 100000);
	snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name %sp 2>&1", veth, veth);
	zt_expect(system(cmd) == 0, "%s failed", cmd);
	zt_expect(wait_msg(mon, RTM_NEWLINK, veth, 3000, &from) && from == 0,
		  "mon got no RTM_NEWLINK of %s from the kernel", veth);
	snprintf(cmd, sizeof(cmd), "ip link del %s 2>&1", veth);
	zt_expect(system(cmd) == 0, "%s failed", cmd);

	int uf = open("/sys/class/net/lo/uevent", O_WRONLY);
	zt_expect(uf >= 0 && write(uf, "change", 6) == 6, "cannot write lo's uevent: %m");
	if (uf >= 0)
		close(uf);
	bool got = false;
	for (int i = 0; i < 60 && !got; i++) {
		char buf[8192];
		struct pollfd p = {.fd = ue, .events = POLLIN};
		if (poll(&p, 1, 50) != 1)
			continue;
		ssize_t n;
		while ((n = recv(ue, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = 0;
			if (!strcmp(buf, "change@/devices/virtual/net/lo"))
				got = true;
		}
	}
	zt_expect(got, "ue got no change uevent of lo");
	zt_pass();
}
