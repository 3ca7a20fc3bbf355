/* Netlink and packet socket state cryo cannot restore: the target of netpkt-refused
 * (tests/cases/netpkt_refused.sh). It holds
 *   a NETLINK_ROUTE socket with a message of another socket queued to be read,
 *   a NETLINK_GENERIC socket (its families may keep state of their own for its port),
 *   a packet socket with a PACKET_RX_RING mapped in its memory,
 *   a packet socket on lo with two frames queued (ethertype 0x88b8),
 *   a packet socket in a fanout group with a socket of a process outside the tree (a
 *   grandchild whose parent exited: it belongs to the reaper above the test now),
 * and says their fd numbers. In nodump mode (and after a refused dump) the queued message
 * and frames are still there, in order, and the ring is still mapped. */
// zt-run: no-cryo
#include "zt.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define P_Q 0x88b8

static bool send_frame(int tx, int lo, const char *p)
{
	unsigned char f[60] = {0};
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = lo, .sll_halen = 6};
	uint16_t be = htons(P_Q);
	memcpy(f + 12, &be, 2);
	memcpy(f + 14, p, strlen(p));
	return sendto(tx, f, sizeof(f), 0, (struct sockaddr *)&to, sizeof(to)) == sizeof(f);
}

int main(int argc, char **argv)
{
	int q, snd, gen, ring, pq, tx, lo;
	struct sockaddr_nl a = {.nl_family = AF_NETLINK,
				.nl_pid = 0x50000000u | (uint32_t)getpid()};
	static const char msg[] = "queued for q";
	struct {
		struct nlmsghdr h;
		char text[sizeof(msg)];
	} m = {.h = {.nlmsg_len = sizeof(m), .nlmsg_type = NLMSG_MIN_TYPE + 3}};
	char buf[256];

	zt_init(argc, argv);
	lo = (int)if_nametoindex("lo");
	q = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	zt_check_sys(q >= 0 && bind(q, (struct sockaddr *)&a, sizeof(a)) == 0, "bind q");
	snd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	memcpy(m.text, msg, sizeof(msg));
	zt_check_sys(snd >= 0 && sendto(snd, &m, sizeof(m), 0, (struct sockaddr *)&a, sizeof(a)) ==
				     (ssize_t)sizeof(m),
		     "send to q");
	close(snd);
	gen = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	zt_check_sys(gen >= 0, "generic netlink socket");

	ring = socket(AF_PACKET, SOCK_RAW, htons(0x88b9));
	int v2 = TPACKET_V2;
	struct tpacket_req tr = {
	    .tp_block_size = 4096, .tp_block_nr = 2, .tp_frame_size = 2048, .tp_frame_nr = 4};
	zt_check_sys(ring >= 0 &&
			 setsockopt(ring, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2)) == 0 &&
			 setsockopt(ring, SOL_PACKET, PACKET_RX_RING, &tr, sizeof(tr)) == 0,
		     "rx ring");
	void *map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, ring, 0);
	zt_check_sys(map != MAP_FAILED, "mmap the ring");

	pq = socket(AF_PACKET, SOCK_DGRAM, htons(P_Q));
	struct sockaddr_ll ll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(P_Q), .sll_ifindex = lo};
	zt_check_sys(pq >= 0 && bind(pq, (struct sockaddr *)&ll, sizeof(ll)) == 0, "bind pq");
	tx = socket(AF_PACKET, SOCK_RAW, 0);
	zt_check_sys(tx >= 0 && send_frame(tx, lo, "first") && send_frame(tx, lo, "second"),
		     "send frames");
	struct pollfd p = {.fd = pq, .events = POLLIN};
	zt_check_sys(poll(&p, 1, 2000) == 1, "frames queued");
	usleep(100000);
	/* the outsider joins the group first, then says so */
	int fan_id = (getpid() & 0xffff) ^ 0x5a5a, c2p[2], fo;
	int fanout = fan_id | (PACKET_FANOUT_HASH << 16);
	pid_t outsider, mid;
	struct sockaddr_ll lf = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(0x88bb), .sll_ifindex = lo};
	zt_check_sys(pipe(c2p) == 0, "pipe");
	mid = fork();
	zt_check_sys(mid >= 0, "fork");
	if (mid == 0) {
		if (fork() != 0)
			_exit(0);
		for (int fd = 3; fd < 1024; fd++)
			if (zt_own_fd(fd) || (fd != c2p[1]))
				close(fd);
		int s = socket(AF_PACKET, SOCK_RAW, htons(0x88bb));
		pid_t me = getpid();
		if (s < 0 || bind(s, (struct sockaddr *)&lf, sizeof(lf)) < 0 ||
		    setsockopt(s, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof(fanout)) < 0 ||
		    write(c2p[1], &me, sizeof(me)) != sizeof(me))
			_exit(1);
		close(c2p[1]);
		pause();
		_exit(0);
	}
	close(c2p[1]);
	waitpid(mid, NULL, 0);
	zt_check_sys(read(c2p[0], &outsider, sizeof(outsider)) == sizeof(outsider), "the outsider");
	close(c2p[0]);
	fo = socket(AF_PACKET, SOCK_RAW, htons(0x88bb));
	zt_check_sys(fo >= 0 && bind(fo, (struct sockaddr *)&lf, sizeof(lf)) == 0 &&
			 setsockopt(fo, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof(fanout)) == 0,
		     "join the outsider's group");
	zt_log("queued fd %d, generic fd %d, ring fd %d, packets fd %d, fanout fd %d group %d", q,
	       gen, ring, pq, fo, fan_id);

	zt_ready();
	zt_wait_for_check();
	ssize_t n = recv(q, buf, sizeof(buf), MSG_DONTWAIT);
	zt_expect(n == (ssize_t)sizeof(m) &&
		      !memcmp(buf + sizeof(struct nlmsghdr), msg, sizeof(msg)),
		  "q's message is gone (%zd bytes)", n);
	n = recv(pq, buf, sizeof(buf), MSG_DONTWAIT);
	zt_expect(n == 46 && !memcmp(buf, "first", 5), "pq's first frame is gone (%zd bytes)", n);
	n = recv(pq, buf, sizeof(buf), MSG_DONTWAIT);
	zt_expect(n == 46 && !memcmp(buf, "second", 6), "pq's second frame is gone (%zd bytes)", n);
	zt_expect(((volatile struct tpacket2_hdr *)map)->tp_status == TP_STATUS_KERNEL,
		  "the ring's first frame is not the kernel's");
	zt_expect(kill(outsider, 0) == 0, "the outsider is gone");
	int now = 0;
	socklen_t len = sizeof(now);
	zt_expect(getsockopt(fo, SOL_PACKET, PACKET_FANOUT, &now, &len) == 0 && now == fanout,
		  "fo's fanout is %#x", now);
	kill(outsider, SIGKILL);
	zt_pass();
}
