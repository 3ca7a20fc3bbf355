/* A packet socket bound to the interface named in the file ./ifname (lo without it), with a
 * multicast membership on it: the target of packet-iface (tests/cases/netpkt_refused.sh), which
 * renames that interface between dump and restore. After a restore its socket is bound to the
 * same interface, by index and name, with the membership. */
// zt-run: no-cryo
#include "zt.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	char name[IF_NAMESIZE] = "lo", now[IF_NAMESIZE];
	FILE *f;
	int sk, idx;

	zt_init(argc, argv);
	if ((f = fopen("ifname", "r"))) {
		zt_check_sys(fscanf(f, "%15s", name) == 1, "read ifname");
		fclose(f);
	}
	idx = (int)if_nametoindex(name);
	zt_check_sys(idx > 0, "the interface");
	sk = socket(AF_PACKET, SOCK_RAW, htons(0x88ba));
	struct sockaddr_ll ll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(0x88ba), .sll_ifindex = idx};
	zt_check_sys(sk >= 0 && bind(sk, (struct sockaddr *)&ll, sizeof(ll)) == 0, "bind");
	struct packet_mreq mr = {.mr_ifindex = idx,
				 .mr_type = PACKET_MR_MULTICAST,
				 .mr_alen = 6,
				 .mr_address = {0x01, 0x00, 0x5e, 0x7a, 0x7a, 0x02}};
	zt_check_sys(setsockopt(sk, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) == 0,
		     "membership");
	zt_log("fd %d bound to %s (%d)", sk, name, idx);

	zt_ready();
	zt_wait_for_check();
	struct sockaddr_ll got;
	socklen_t len = sizeof(got);
	zt_expect(getsockname(sk, (struct sockaddr *)&got, &len) == 0 && got.sll_ifindex == idx &&
		      if_indextoname(idx, now) && !strcmp(now, name),
		  "the socket is bound to interface %d, not %s (%d)", got.sll_ifindex, name, idx);
	/* the membership is there: dropping it works once, then fails */
	zt_expect(setsockopt(sk, SOL_PACKET, PACKET_DROP_MEMBERSHIP, &mr, sizeof(mr)) == 0,
		  "the membership is gone");
	zt_pass();
}
