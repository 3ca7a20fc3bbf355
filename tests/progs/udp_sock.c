/* UDP sockets as a small service and its client hold them: a server socket bound to
 * 127.0.0.1 on a port the kernel chose, with SO_RCVBUF, SO_BROADCAST, IP_PKTINFO and
 * IP_MULTICAST_TTL set and the multicast group 239.7.7.7 joined on lo, a worker child blocked
 * in recvfrom() on it; a client socket connected to the server (its own port chosen by the
 * kernel at connect); an IPv6 socket bound to [::1] that joined ff05::4242 on lo. After the restore
 * each has its address, peer and options, and the groups are still joined (MCAST_MSFILTER answers
 * for it); a datagram the client sends reaches the worker from the client's very address, and the
 * worker's answer comes back to the client; the IPv6 socket receives a datagram sent to its
 * port. */
// zt-run: gen2
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int opt(int fd, int level, int name)
{
	int v = -100;
	socklen_t len = sizeof(v);
	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -200;
	return v;
}

static bool member(int fd, unsigned ifindex, const char *group)
{
	struct group_filter gf = {.gf_interface = ifindex};
	struct sockaddr_in *g = (struct sockaddr_in *)&gf.gf_group;
	socklen_t len = sizeof(gf);
	g->sin_family = AF_INET;
	inet_pton(AF_INET, group, &g->sin_addr);
	return getsockopt(fd, IPPROTO_IP, MCAST_MSFILTER, &gf, &len) == 0 &&
	       gf.gf_fmode == MCAST_EXCLUDE && gf.gf_numsrc == 0;
}

static bool member6(int fd, unsigned ifindex, const char *group)
{
	struct group_filter gf = {.gf_interface = ifindex};
	struct sockaddr_in6 *g = (struct sockaddr_in6 *)&gf.gf_group;
	socklen_t len = sizeof(gf);
	g->sin6_family = AF_INET6;
	inet_pton(AF_INET6, group, &g->sin6_addr);
	return getsockopt(fd, IPPROTO_IPV6, MCAST_MSFILTER, &gf, &len) == 0 &&
	       gf.gf_fmode == MCAST_EXCLUDE && gf.gf_numsrc == 0;
}

/* The worker: one datagram, answered to its sender with its text and the sender's port */
static void worker(int s)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	char buf[64], out[96];
	ssize_t n = recvfrom(s, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &len);
	if (n <= 0)
		_exit(10);
	buf[n] = 0;
	snprintf(out, sizeof(out), "%s from %u", buf, ntohs(from.sin_port));
	if (sendto(s, out, strlen(out), 0, (struct sockaddr *)&from, len) < 0)
		_exit(11);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in srv = {.sin_family = AF_INET}, cli, peer;
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6}, s6now;
	socklen_t len;
	int s, c, u6, one = 1, rcv = 100000, ttl = 9, rcv_before, st;
	unsigned lo = if_nametoindex("lo");
	pid_t child;

	zt_init(argc, argv);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	zt_check_sys(s >= 0 && c >= 0 && u6 >= 0 && lo, "socket");
	zt_check_sys(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) == 0 &&
			 setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) == 0 &&
			 setsockopt(s, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) == 0 &&
			 setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) == 0,
		     "setsockopt");
	rcv_before = opt(s, SOL_SOCKET, SO_RCVBUF);
	srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	zt_check_sys(bind(s, (struct sockaddr *)&srv, sizeof(srv)) == 0, "bind");
	len = sizeof(srv);
	zt_check_sys(getsockname(s, (struct sockaddr *)&srv, &len) == 0, "getsockname");
	struct group_req gr = {.gr_interface = lo};
	struct sockaddr_in *g = (struct sockaddr_in *)&gr.gr_group;
	g->sin_family = AF_INET;
	inet_pton(AF_INET, "239.7.7.7", &g->sin_addr);
	zt_check_sys(setsockopt(s, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, sizeof(gr)) == 0, "join");
	zt_check_sys(member(s, lo, "239.7.7.7") && !member(s, lo, "239.7.7.8"), "MCAST_MSFILTER");

	zt_check_sys(connect(c, (struct sockaddr *)&srv, sizeof(srv)) == 0, "connect");
	len = sizeof(cli);
	zt_check_sys(getsockname(c, (struct sockaddr *)&cli, &len) == 0, "getsockname");

	struct ipv6_mreq m6 = {.ipv6mr_interface = lo};
	inet_pton(AF_INET6, "ff05::4242", &m6.ipv6mr_multiaddr);
	zt_check_sys(setsockopt(u6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof(m6)) == 0, "join6");
	zt_check_sys(member6(u6, lo, "ff05::4242") && !member6(u6, lo, "ff05::4243"), "member6");
	s6.sin6_addr = in6addr_loopback;
	zt_check_sys(bind(u6, (struct sockaddr *)&s6, sizeof(s6)) == 0, "bind6");
	len = sizeof(s6);
	zt_check_sys(getsockname(u6, (struct sockaddr *)&s6, &len) == 0, "getsockname6");

	child = fork();
	zt_check_sys(child >= 0, "fork");
	if (child == 0)
		worker(s);

	zt_ready();
	zt_wait_for_check();

	struct sockaddr_in now;
	len = sizeof(now);
	zt_expect(getsockname(s, (struct sockaddr *)&now, &len) == 0 &&
		      now.sin_port == srv.sin_port && now.sin_addr.s_addr == srv.sin_addr.s_addr,
		  "the server socket moved to port %u (was %u)", ntohs(now.sin_port),
		  ntohs(srv.sin_port));
	zt_expect(opt(s, SOL_SOCKET, SO_RCVBUF) == rcv_before, "SO_RCVBUF %d, was %d",
		  opt(s, SOL_SOCKET, SO_RCVBUF), rcv_before);
	zt_expect(opt(s, SOL_SOCKET, SO_BROADCAST) == 1, "SO_BROADCAST");
	zt_expect(opt(s, IPPROTO_IP, IP_PKTINFO) == 1, "IP_PKTINFO");
	zt_expect(opt(s, IPPROTO_IP, IP_MULTICAST_TTL) == ttl, "IP_MULTICAST_TTL %d",
		  opt(s, IPPROTO_IP, IP_MULTICAST_TTL));
	zt_expect(member(s, lo, "239.7.7.7"), "the group 239.7.7.7 is no longer joined");
	zt_expect(!member(s, lo, "239.7.7.8") && !member(c, lo, "239.7.7.7"),
		  "a group joined that was not");
	len = sizeof(now);
	zt_expect(getsockname(c, (struct sockaddr *)&now, &len) == 0 &&
		      now.sin_port == cli.sin_port,
		  "the client moved to port %u (was %u)", ntohs(now.sin_port), ntohs(cli.sin_port));
	len = sizeof(peer);
	zt_expect(getpeername(c, (struct sockaddr *)&peer, &len) == 0 &&
		      peer.sin_port == srv.sin_port && peer.sin_addr.s_addr == srv.sin_addr.s_addr,
		  "the client's peer is port %u (server %u)", ntohs(peer.sin_port),
		  ntohs(srv.sin_port));

	/* the worker, blocked in recvfrom since before the dump, answers the client */
	char buf[96] = {0}, want[96];
	zt_expect(send(c, "query", 5, 0) == 5, "send: %m");
	struct timeval tv = {5, 0};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(c, buf, sizeof(buf) - 1, 0);
	snprintf(want, sizeof(want), "query from %u", ntohs(cli.sin_port));
	zt_expect(n > 0 && !strcmp(buf, want), "the worker answered '%s', not '%s' (%m)", buf,
		  want);
	zt_expect(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the worker ended with %#x", st);

	/* the IPv6 socket */
	len = sizeof(s6now);
	zt_expect(getsockname(u6, (struct sockaddr *)&s6now, &len) == 0 &&
		      !memcmp(&s6now, &s6, sizeof(s6)),
		  "the IPv6 socket moved to port %u (was %u)", ntohs(s6now.sin6_port),
		  ntohs(s6.sin6_port));
	zt_expect(member6(u6, lo, "ff05::4242"), "the group ff05::4242 is no longer joined");
	zt_expect(!member6(u6, lo, "ff05::4243"), "an IPv6 group joined that was not");
	int snd6 = socket(AF_INET6, SOCK_DGRAM, 0);
	zt_expect(sendto(snd6, "six", 3, 0, (struct sockaddr *)&s6, sizeof(s6)) == 3,
		  "sendto6: %m");
	setsockopt(u6, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(buf, 0, sizeof(buf));
	zt_expect(recv(u6, buf, sizeof(buf), 0) == 3 && !strcmp(buf, "six"),
		  "the IPv6 socket received '%s' (%m)", buf);
	zt_pass();
}
