/* Packet sockets as a capture tool and a load-balanced L2 service hold them, on lo, with
 * ethertypes of their own (0x88b5-0x88b7, the IEEE local experimental range):
 *   cap: SOCK_RAW for 0x88b5 bound to lo, a classic filter that takes only frames whose first
 *        payload byte is 'Z' (locked with SO_LOCK_FILTER), PACKET_AUXDATA, PACKET_ORIGDEV,
 *        PACKET_VNET_HDR, PACKET_VERSION TPACKET_V2, PACKET_RESERVE, PACKET_TIMESTAMP,
 *        PACKET_QDISC_BYPASS, PACKET_LOSS, SO_TIMESTAMP, SO_RCVBUF, SO_MARK; memberships on lo:
 *        a multicast address added twice and all-multicast;
 *   any: SOCK_DGRAM made for no protocol, then bound to 0x88b7 on every interface;
 *   fa, fb: SOCK_RAW for 0x88b6 bound to lo, in one fanout group (PACKET_FANOUT_LB with the
 *        rollover flag).
 * After the restore every option reads back the same, the filter is the same program and
 * locked, SO_PROTOCOL and the bound protocol and interface are as before, the memberships are
 * listed by sock_diag as before (count 2 for the one added twice); a frame sent on lo with
 * payload "Y..." is dropped by cap's filter and one with "Z..." arrives with its vnet header,
 * PACKET_AUXDATA and a timestamp; any receives a 0x88b7 frame from lo; four 0x88b6 frames are
 * shared two and two by fa and fb. */
// zt-run: gen2
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define P_CAP 0x88b5
#define P_FAN 0x88b6
#define P_ANY 0x88b7
#define VNET_HDR_LEN 10

static const int cap_opts[][2] = {
    {PACKET_AUXDATA, 1},	  {PACKET_ORIGDEV, 1},	{PACKET_VNET_HDR, 1},
    {PACKET_VERSION, TPACKET_V2}, {PACKET_RESERVE, 64}, {PACKET_TIMESTAMP, 1},
    {PACKET_QDISC_BYPASS, 1},	  {PACKET_LOSS, 1},
};
static const unsigned char mc_addr[6] = {0x01, 0x00, 0x5e, 0x7a, 0x7a, 0x01};

static int opt(int fd, int level, int name)
{
	int v = -100;
	socklen_t len = sizeof(v);
	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -200;
	return v;
}

/* "type:count:addr" of every membership of the socket of inode ino, as sock_diag lists them */
static int memberships(ino_t ino, char *out, size_t size)
{
	int nl = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
	struct {
		struct nlmsghdr h;
		struct packet_diag_req r;
	} req = {.h = {.nlmsg_len = sizeof(req),
		       .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
		 .r = {.sdiag_family = AF_PACKET, .pdiag_show = PACKET_SHOW_MCLIST}};
	static char buf[65536];
	size_t n = 0;
	out[0] = 0;
	if (nl < 0 || send(nl, &req, sizeof(req), 0) < 0)
		return -1;
	for (;;) {
		ssize_t len = recv(nl, buf, sizeof(buf), 0);
		if (len <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				close(nl);
				return 0;
			}
			struct packet_diag_msg *m = NLMSG_DATA(h);
			if (m->pdiag_ino != ino)
				continue;
			int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
			for (struct nlattr *a = (struct nlattr *)(m + 1);
			     alen >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) &&
			     a->nla_len <= alen;
			     alen -= NLA_ALIGN(a->nla_len),
					   a = (struct nlattr *)((char *)a +
								 NLA_ALIGN(a->nla_len))) {
				if (a->nla_type != PACKET_DIAG_MCLIST)
					continue;
				struct packet_diag_mclist *mc = (void *)(a + 1);
				size_t k = (a->nla_len - sizeof(*a)) / sizeof(*mc);
				for (size_t i = 0; i < k; i++) {
					n += snprintf(out + n, size - n,
						      "%s%u:%u:%u:", n ? " " : "", mc[i].pdmc_index,
						      mc[i].pdmc_type, mc[i].pdmc_count);
					for (int j = 0; j < mc[i].pdmc_alen && j < 32; j++)
						n += snprintf(out + n, size - n, "%02x",
							      mc[i].pdmc_addr[j]);
				}
			}
		}
	}
	close(nl);
	return 0;
}

/* a frame of ethertype proto with payload p, sent on lo */
static bool send_frame(int tx, int lo, uint16_t proto, const char *p)
{
	unsigned char f[64] = {0};
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = lo, .sll_halen = 6};
	uint16_t be = htons(proto);
	memcpy(f + 12, &be, 2);
	memcpy(f + 14, p, strlen(p));
	return sendto(tx, f, sizeof(f), 0, (struct sockaddr *)&to, sizeof(to)) == sizeof(f);
}

static int wait_in(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1;
}

int main(int argc, char **argv)
{
	int cap, any, fa, fb, tx, lo, one = 1;
	char before[512], after[512];
	struct sock_filter prog[] = {
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'Z', 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, 0xffff),
	    BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog fp = {.len = 4, .filter = prog};
	struct stat st;

	zt_init(argc, argv);
	lo = (int)if_nametoindex("lo");
	zt_check_sys(lo > 0, "lo");
	cap = socket(AF_PACKET, SOCK_RAW, htons(P_CAP));
	zt_check_sys(cap >= 0, "packet socket");
	for (size_t i = 0; i < sizeof(cap_opts) / sizeof(cap_opts[0]); i++)
		zt_check_sys(
		    setsockopt(cap, SOL_PACKET, cap_opts[i][0], &cap_opts[i][1], sizeof(int)) == 0,
		    "packet option");
	int rcv = 200000, mark = 77;
	zt_check_sys(setsockopt(cap, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one)) == 0 &&
			 setsockopt(cap, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) == 0 &&
			 setsockopt(cap, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0,
		     "socket options");
	zt_check_sys(setsockopt(cap, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) == 0 &&
			 setsockopt(cap, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)) == 0,
		     "filter");
	struct packet_mreq mr = {.mr_ifindex = lo, .mr_type = PACKET_MR_MULTICAST, .mr_alen = 6};
	memcpy(mr.mr_address, mc_addr, 6);
	zt_check_sys(setsockopt(cap, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) == 0 &&
			 setsockopt(cap, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) == 0,
		     "multicast membership");
	struct packet_mreq am = {.mr_ifindex = lo, .mr_type = PACKET_MR_ALLMULTI};
	zt_check_sys(setsockopt(cap, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &am, sizeof(am)) == 0,
		     "allmulti membership");
	struct sockaddr_ll ll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(P_CAP), .sll_ifindex = lo};
	zt_check_sys(bind(cap, (struct sockaddr *)&ll, sizeof(ll)) == 0, "bind cap");
	int rcvbuf = opt(cap, SOL_SOCKET, SO_RCVBUF);

	any = socket(AF_PACKET, SOCK_DGRAM, 0);
	struct sockaddr_ll la = {.sll_family = AF_PACKET, .sll_protocol = htons(P_ANY)};
	zt_check_sys(any >= 0 && bind(any, (struct sockaddr *)&la, sizeof(la)) == 0, "bind any");

	int fanout = (getpid() & 0xffff) | ((PACKET_FANOUT_LB | PACKET_FANOUT_FLAG_ROLLOVER) << 16);
	struct sockaddr_ll lf = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(P_FAN), .sll_ifindex = lo};
	fa = socket(AF_PACKET, SOCK_RAW, htons(P_FAN));
	fb = socket(AF_PACKET, SOCK_RAW, htons(P_FAN));
	zt_check_sys(fa >= 0 && fb >= 0 && bind(fa, (struct sockaddr *)&lf, sizeof(lf)) == 0 &&
			 bind(fb, (struct sockaddr *)&lf, sizeof(lf)) == 0,
		     "bind fa, fb");
	zt_check_sys(setsockopt(fa, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof(fanout)) == 0 &&
			 setsockopt(fb, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof(fanout)) == 0,
		     "fanout");
	tx = socket(AF_PACKET, SOCK_RAW, 0);
	zt_check_sys(tx >= 0, "sender");
	zt_check_sys(fstat(cap, &st) == 0, "fstat");
	zt_check_sys(memberships(st.st_ino, before, sizeof(before)) == 0, "sock_diag");
	zt_log("cap memberships %s", before);
	char want[512];
	/* sock_diag lists them newest first */
	snprintf(want, sizeof(want), "%d:2:1: %d:0:2:01005e7a7a01", lo, lo);
	zt_check_sys(!strcmp(before, want), "memberships as made");

	zt_ready();
	zt_wait_for_check();

	for (size_t i = 0; i < sizeof(cap_opts) / sizeof(cap_opts[0]); i++)
		zt_expect(opt(cap, SOL_PACKET, cap_opts[i][0]) == cap_opts[i][1],
			  "packet option %d of cap is %d, not %d", cap_opts[i][0],
			  opt(cap, SOL_PACKET, cap_opts[i][0]), cap_opts[i][1]);
	zt_expect(opt(cap, SOL_PACKET, PACKET_IGNORE_OUTGOING) == 0 &&
		      opt(cap, SOL_PACKET, PACKET_FANOUT) == 0,
		  "cap's PACKET_IGNORE_OUTGOING or PACKET_FANOUT changed");
	zt_expect(opt(cap, SOL_SOCKET, SO_TIMESTAMP) == 1, "cap's SO_TIMESTAMP is off");
	zt_expect(opt(cap, SOL_SOCKET, SO_RCVBUF) == rcvbuf, "cap's SO_RCVBUF is %d, not %d",
		  opt(cap, SOL_SOCKET, SO_RCVBUF), rcvbuf);
	zt_expect(opt(cap, SOL_SOCKET, SO_MARK) == mark, "cap's SO_MARK is %d",
		  opt(cap, SOL_SOCKET, SO_MARK));
	zt_expect(opt(cap, SOL_SOCKET, SO_LOCK_FILTER) == 1, "cap's filter is not locked");
	struct sock_filter back[8];
	socklen_t flen = 8;
	zt_expect(getsockopt(cap, SOL_SOCKET, SO_GET_FILTER, back, &flen) == 0 && flen == 4 &&
		      !memcmp(back, prog, sizeof(prog)),
		  "cap's filter is not the one attached (%u instructions)", flen);
	zt_check_sys(fstat(cap, &st) == 0, "fstat");
	memberships(st.st_ino, after, sizeof(after));
	zt_expect(!strcmp(after, before), "cap's memberships are \"%s\", not \"%s\"", after,
		  before);
	struct sockaddr_ll got;
	socklen_t glen = sizeof(got);
	zt_expect(getsockname(cap, (struct sockaddr *)&got, &glen) == 0 && got.sll_ifindex == lo &&
		      got.sll_protocol == htons(P_CAP),
		  "cap is bound to interface %d protocol %#x", got.sll_ifindex,
		  ntohs(got.sll_protocol));
	glen = sizeof(got);
	zt_expect(getsockname(any, (struct sockaddr *)&got, &glen) == 0 && got.sll_ifindex == 0 &&
		      got.sll_protocol == htons(P_ANY),
		  "any is bound to interface %d protocol %#x", got.sll_ifindex,
		  ntohs(got.sll_protocol));
	zt_expect(opt(any, SOL_SOCKET, SO_PROTOCOL) == 0 &&
		      opt(any, SOL_SOCKET, SO_TYPE) == SOCK_DGRAM,
		  "any's SO_PROTOCOL %d, SO_TYPE %d", opt(any, SOL_SOCKET, SO_PROTOCOL),
		  opt(any, SOL_SOCKET, SO_TYPE));
	zt_expect(opt(fa, SOL_PACKET, PACKET_FANOUT) == fanout &&
		      opt(fb, SOL_PACKET, PACKET_FANOUT) == fanout,
		  "fanout is %#x and %#x, not %#x", opt(fa, SOL_PACKET, PACKET_FANOUT),
		  opt(fb, SOL_PACKET, PACKET_FANOUT), fanout);

	/* the filter, the vnet header, the ancillary data */
	zt_expect(send_frame(tx, lo, P_CAP, "Yno") && send_frame(tx, lo, P_CAP, "Zyes"),
		  "send on lo: %m");
	unsigned char buf[256], cbuf[512];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	ssize_t n = wait_in(cap, 2000) ? recvmsg(cap, &mh, MSG_DONTWAIT) : -1;
	zt_expect(n == VNET_HDR_LEN + 64 && !memcmp(buf + VNET_HDR_LEN + 14, "Zyes", 4),
		  "cap received %zd bytes, \"%.4s\"", n,
		  n > 28 ? (char *)buf + VNET_HDR_LEN + 14 : "");
	bool aux = false, ts = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); n > 0 && c; c = CMSG_NXTHDR(&mh, c)) {
		aux |= c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA;
		ts |= c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMP;
	}
	zt_expect(aux && ts, "cap's frame came without PACKET_AUXDATA (%d) or a timestamp (%d)",
		  aux, ts);
	zt_expect(!wait_in(cap, 100), "cap received a second frame (the filter let \"Y\" pass)");

	zt_expect(send_frame(tx, lo, P_ANY, "any"), "send on lo: %m");
	struct sockaddr_ll from;
	socklen_t flen2 = sizeof(from);
	n = wait_in(any, 2000)
		? recvfrom(any, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen2)
		: -1;
	zt_expect(n == 50 && !memcmp(buf, "any", 3) && from.sll_ifindex == lo &&
		      from.sll_protocol == htons(P_ANY),
		  "any received %zd bytes from interface %d", n, from.sll_ifindex);

	int ca = 0, cb = 0;
	for (int i = 0; i < 4; i++)
		zt_expect(send_frame(tx, lo, P_FAN, "fan"), "send on lo: %m");
	for (int i = 0; i < 40 && ca + cb < 4; i++) {
		struct pollfd p[2] = {{.fd = fa, .events = POLLIN}, {.fd = fb, .events = POLLIN}};
		if (poll(p, 2, 50) <= 0)
			continue;
		while (recv(fa, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			ca++;
		while (recv(fb, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			cb++;
	}
	zt_expect(ca == 2 && cb == 2, "the fanout group shared 4 frames as %d and %d", ca, cb);
	zt_pass();
}
