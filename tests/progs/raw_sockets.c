/* Raw and ping sockets as ping, traceroute and routing daemons hold them:
 *  - a raw ICMP socket (what ping run by root holds) with an ICMP_FILTER dropping echo
 *    requests, and a classic BPF filter that passes only echo replies carrying this test's
 *    identifier, locked (SO_LOCK_FILTER);
 *  - a raw socket of protocol 253 (experimental) building its own IP header (IP_HDRINCL),
 *    bound to 127.0.0.1 and connected to 127.0.0.2;
 *  - a raw ICMPv6 socket with an ICMP6_FILTER, and a raw IPv6 socket of protocol 253 with
 *    IPV6_CHECKSUM at offset 2;
 *  - a ping socket (SOCK_DGRAM, IPPROTO_ICMP) whose identifier the kernel chose at its first
 *    echo request.
 * After the restore each has its name (address, protocol or identifier), its peer, its
 * options and its filter; an echo request sent from each ICMP socket brings its reply back
 * to it (and only the reply through the filter); a packet sent by the connected raw socket
 * arrives at a second one.
 *
 * A ping socket needs the caller's group in net.ipv4.ping_group_range; when root's is not,
 * the test widens it to "0 0" for its own run and puts the old range back at the end. */
// zt-run: gen2
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef ICMP6_FILTER
#define ICMP6_FILTER 1
#endif

#define ECHO_ID 0x5a17
#define RANGE "/proc/sys/net/ipv4/ping_group_range"

static char old_range[64];

static struct sockaddr_in in4(const char *addr)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, addr, &a.sin_addr);
	return a;
}

static uint16_t csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)(b[len - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

/* an ICMP echo request with this id and seq (ping sockets put their own id in) */
static void send_echo(int sk, uint16_t id, uint16_t seq)
{
	unsigned char pkt[16] = {ICMP_ECHO, 0};
	struct sockaddr_in to = in4("127.0.0.1");
	uint16_t nid = htons(id), nseq = htons(seq), c;
	memcpy(pkt + 4, &nid, 2);
	memcpy(pkt + 6, &nseq, 2);
	memcpy(pkt + 8, "cryo-raw", 8);
	c = csum(pkt, sizeof(pkt));
	memcpy(pkt + 2, &c, 2);
	zt_expect(sendto(sk, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) ==
		      (ssize_t)sizeof(pkt),
		  "send an echo request: %m");
}

/* the next datagram within 2 s: length, or -1 */
static ssize_t recv_wait(int sk, unsigned char *buf, size_t size)
{
	struct pollfd p = {.fd = sk, .events = POLLIN};
	if (poll(&p, 1, 2000) != 1)
		return -1;
	return recv(sk, buf, size, MSG_DONTWAIT);
}

static struct sock_filter echo_reply_prog[] = {
    /* X = the IP header's length, A = the ICMP type */
    BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
    BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP_ECHOREPLY, 0, 3),
    BPF_STMT(BPF_LD | BPF_H | BPF_IND, 4),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ECHO_ID, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0xffff),
    BPF_STMT(BPF_RET | BPF_K, 0),
};

static void expect_name(int sk, int family, const char *addr, unsigned port, const char *what)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char got[64] = "?";
	unsigned gport = 0;
	zt_expect(getsockname(sk, (struct sockaddr *)&ss, &len) == 0, "%s: getsockname: %m", what);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, got, sizeof(got));
		gport = ntohs(a->sin_port);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, got, sizeof(got));
		gport = ntohs(a->sin6_port);
	}
	zt_expect(!strcmp(got, addr) && gport == port, "%s: named %s:%u, not %s:%u", what, got,
		  gport, addr, port);
}

static int intopt(int sk, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);
	if (getsockopt(sk, level, name, &v, &len) < 0)
		return -12345;
	return v;
}

/* this socket's line of /proc/self/net/raw: its state (1: connected) and remote address */
static bool raw_line(int sk, unsigned *state, char *remote, size_t size)
{
	struct stat st;
	char line[512];
	FILE *f = fopen("/proc/self/net/raw", "r");
	bool found = false;
	if (!f || fstat(sk, &st) < 0)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char loc[40], rem[40];
		unsigned lp, rp, s;
		unsigned long ino;
		if (sscanf(line,
			   " %*u: %39[0-9A-F]:%x %39[0-9A-F]:%x %x %*x:%*x %*x:%*x %*x %*u %*u %lu",
			   loc, &lp, rem, &rp, &s, &ino) == 6 &&
		    ino == st.st_ino) {
			*state = s;
			snprintf(remote, size, "%s", rem);
			found = true;
		}
	}
	fclose(f);
	return found;
}

static bool ping_range_allows_root(void)
{
	unsigned lo = 1, hi = 0;
	FILE *f = fopen(RANGE, "r");
	if (!f)
		return false;
	if (fscanf(f, "%u %u", &lo, &hi) != 2)
		lo = 1, hi = 0;
	fclose(f);
	return lo == 0;
}

static void write_range(const char *text)
{
	int fd = open(RANGE, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			zt_log("cannot write %s: %m", RANGE);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);

	/* the raw ICMP socket of a ping run by root */
	int icmp = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	zt_check_sys(icmp >= 0, "raw ICMP socket");
	struct icmp_filter drop = {.data = 1u << ICMP_ECHO};
	zt_check_sys(setsockopt(icmp, SOL_RAW, ICMP_FILTER, &drop, sizeof(drop)) == 0,
		     "ICMP_FILTER");
	struct sock_fprog prog = {.len = sizeof(echo_reply_prog) / sizeof(echo_reply_prog[0]),
				  .filter = echo_reply_prog};
	zt_check_sys(setsockopt(icmp, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0,
		     "SO_ATTACH_FILTER");
	int one = 1;
	zt_check_sys(setsockopt(icmp, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)) == 0,
		     "SO_LOCK_FILTER");

	/* protocol 253, its own IP headers, bound and connected */
	int exp = socket(AF_INET, SOCK_RAW, 253);
	zt_check_sys(exp >= 0, "raw socket of protocol 253");
	zt_check_sys(setsockopt(exp, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) == 0, "IP_HDRINCL");
	struct sockaddr_in a = in4("127.0.0.1");
	zt_check_sys(bind(exp, (struct sockaddr *)&a, sizeof(a)) == 0, "bind the raw socket");
	a = in4("127.0.0.2");
	zt_check_sys(connect(exp, (struct sockaddr *)&a, sizeof(a)) == 0, "connect the raw socket");
	/* its receiver: protocol 253 packets to 127.0.0.2 */
	int sink = socket(AF_INET, SOCK_RAW, 253);
	zt_check_sys(sink >= 0, "second raw socket");
	zt_check_sys(bind(sink, (struct sockaddr *)&a, sizeof(a)) == 0, "bind the second one");

	/* IPv6 raw sockets */
	int icmp6 = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	zt_check_sys(icmp6 >= 0, "raw ICMPv6 socket");
	uint32_t f6[8];
	memset(f6, 0xff, sizeof(f6));
	f6[129 / 32] &= ~(1u << (129 % 32)); /* pass echo replies only */
	zt_check_sys(setsockopt(icmp6, IPPROTO_ICMPV6, ICMP6_FILTER, f6, sizeof(f6)) == 0,
		     "ICMP6_FILTER");
	int exp6 = socket(AF_INET6, SOCK_RAW, 253);
	zt_check_sys(exp6 >= 0, "raw IPv6 socket of protocol 253");
	int two = 2;
	zt_check_sys(setsockopt(exp6, IPPROTO_IPV6, IPV6_CHECKSUM, &two, sizeof(two)) == 0,
		     "IPV6_CHECKSUM");

	/* a ping socket */
	if (!ping_range_allows_root()) {
		zt_read_file(RANGE, old_range, sizeof(old_range));
		write_range("0 0");
	}
	int ping = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	zt_check_sys(ping >= 0, "ping socket");
	send_echo(ping, 0, 1);
	unsigned char buf[256];
	zt_check_sys(recv_wait(ping, buf, sizeof(buf)) > 0, "the ping socket's first reply");
	struct sockaddr_in pn;
	socklen_t pl = sizeof(pn);
	zt_check_sys(getsockname(ping, (struct sockaddr *)&pn, &pl) == 0, "ping getsockname");
	unsigned ident = ntohs(pn.sin_port);
	zt_check_sys(ident != 0, "the ping socket's identifier");

	zt_ready();
	zt_wait_for_check();

	/* names and peers */
	expect_name(icmp, AF_INET, "0.0.0.0", IPPROTO_ICMP, "raw ICMP");
	expect_name(exp, AF_INET, "127.0.0.1", 253, "raw 253");
	expect_name(sink, AF_INET, "127.0.0.2", 253, "raw sink");
	expect_name(icmp6, AF_INET6, "::", IPPROTO_ICMPV6, "raw ICMPv6");
	expect_name(exp6, AF_INET6, "::", 253, "raw6 253");
	expect_name(ping, AF_INET, "0.0.0.0", ident, "ping");
	unsigned st = 0;
	char rem[40] = "";
	zt_expect(raw_line(exp, &st, rem, sizeof(rem)) && st == 1 && !strcmp(rem, "0200007F"),
		  "raw 253: state %u, peer %s (not connected to 127.0.0.2)", st, rem);
	zt_expect(raw_line(icmp, &st, rem, sizeof(rem)) && st == 7,
		  "raw ICMP: state %u (connected?)", st);

	/* options */
	struct icmp_filter gf = {0};
	socklen_t gl = sizeof(gf);
	zt_expect(getsockopt(icmp, SOL_RAW, ICMP_FILTER, &gf, &gl) == 0 && gf.data == drop.data,
		  "ICMP_FILTER %#x, not %#x", gf.data, drop.data);
	zt_expect(intopt(icmp, SOL_SOCKET, SO_LOCK_FILTER) == 1, "SO_LOCK_FILTER lost");
	zt_expect(intopt(exp, IPPROTO_IP, IP_HDRINCL) == 1, "IP_HDRINCL lost");
	zt_expect(intopt(exp6, IPPROTO_IPV6, IPV6_CHECKSUM) == 2, "IPV6_CHECKSUM %d, not 2",
		  intopt(exp6, IPPROTO_IPV6, IPV6_CHECKSUM));
	uint32_t g6[8] = {0};
	gl = sizeof(g6);
	zt_expect(getsockopt(icmp6, IPPROTO_ICMPV6, ICMP6_FILTER, g6, &gl) == 0 &&
		      !memcmp(g6, f6, sizeof(f6)),
		  "ICMP6_FILTER changed");

	/* the BPF filter: the same program, and it works */
	struct sock_filter got[16];
	socklen_t n = 16;
	zt_expect(getsockopt(icmp, SOL_SOCKET, SO_GET_FILTER, got, &n) == 0 && n == prog.len &&
		      !memcmp(got, echo_reply_prog, sizeof(echo_reply_prog)),
		  "the socket filter came back as %u instructions (%u expected)", n, prog.len);
	/* another id's reply is dropped by the filter, ours passes; the request itself (which
	 * a raw ICMP socket also sees on loopback) by ICMP_FILTER */
	send_echo(icmp, ECHO_ID + 1, 7);
	send_echo(icmp, ECHO_ID, 8);
	ssize_t len = recv_wait(icmp, buf, sizeof(buf));
	size_t ihl = len > 0 ? (size_t)(buf[0] & 0xf) * 4 : 0;
	zt_expect(len >= (ssize_t)(ihl + 8) && buf[ihl] == ICMP_ECHOREPLY &&
		      buf[ihl + 4] == (ECHO_ID >> 8) && buf[ihl + 5] == (ECHO_ID & 0xff) &&
		      buf[ihl + 7] == 8,
		  "raw ICMP: not our echo reply (%zd bytes, type %d, seq %d)", len,
		  len > 0 ? buf[ihl] : -1, len > 0 ? buf[ihl + 7] : -1);
	zt_expect(recv(icmp, buf, sizeof(buf), MSG_DONTWAIT) < 0,
		  "raw ICMP: a packet the filters should have dropped");

	/* the connected raw socket: an IP header of its own to 127.0.0.2 */
	unsigned char pkt[28] = {0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 253};
	struct in_addr s4, d4;
	inet_pton(AF_INET, "127.0.0.1", &s4);
	inet_pton(AF_INET, "127.0.0.2", &d4);
	memcpy(pkt + 12, &s4, 4);
	memcpy(pkt + 16, &d4, 4);
	memcpy(pkt + 20, "cryo-253", 8);
	zt_expect(send(exp, pkt, sizeof(pkt), 0) == (ssize_t)sizeof(pkt),
		  "send on the connected raw socket: %m");
	len = recv_wait(sink, buf, sizeof(buf));
	zt_expect(len == 28 && !memcmp(buf + 20, "cryo-253", 8),
		  "the second raw socket got %zd bytes, not the packet", len);

	/* the ping socket: its identifier, and the kernel's matching of replies by it */
	send_echo(ping, 0, 2);
	len = recv_wait(ping, buf, sizeof(buf));
	zt_expect(len >= 8 && buf[0] == ICMP_ECHOREPLY && (buf[4] << 8 | buf[5]) == (int)ident &&
		      buf[7] == 2,
		  "ping: no echo reply with identifier %u (%zd bytes)", ident, len);

	if (old_range[0])
		write_range(old_range);
	zt_pass();
}
