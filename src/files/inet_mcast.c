/* The multicast groups of an inet socket of datagrams (UDP, raw, ping): the dump asks the
 * socket about every group of its network namespace (/proc/PID/net/igmp{,6}: MCAST_MSFILTER
 * answers for a group it joined, EADDRNOTAVAIL for one it did not), the restore joins each
 * again after bind, the image checks hold each to a multicast address. Apart from inet_sk.c
 * since it is one resource of its own, with its own record (InetSkMcast) and refusals (a
 * group joined with a source filter). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/util.h"
#include "files/inet.h"
#include "files/kind.h"

int inet_mcast_dump(struct arena *a, int pid, int sk, InetSk *s, const char *who)
{
	static const char *const files[] = {"igmp", "igmp6"};
	int ret = 0;

	for (int f = 0; f < 2; f++) {
		char path[64], *text = NULL, *line, *save = NULL;
		uint32_t family = f ? AF_INET6 : AF_INET;
		unsigned ifindex = 0;
		if (f && s->family != AF_INET6)
			break; /* an AF_INET socket cannot join an IPv6 group */
		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[f]);
		if (read_file_alloc(path, &text) < 0) {
			free(text);
			continue; /* no IPv6 (or no multicast) in this kernel */
		}
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			struct group_filter gf = {0};
			socklen_t len = sizeof(gf);
			uint8_t group[16];
			if (!f) {
				/* "1\tlo        :     1      V3" then "\t\t\t\t010000E0     1 ..."
				 */
				unsigned g;
				if (line[0] >= '0' && line[0] <= '9') {
					ifindex = (unsigned)strtoul(line, NULL, 10);
					continue;
				}
				if (sscanf(line, " %x", &g) != 1 || !ifindex)
					continue;
				memcpy(group, &g, 4); /* printed as the u32 in memory order */
			} else {
				/* "1    lo              ff020000000000000000000000000001     1 ..."
				 */
				char hex[33];
				if (sscanf(line, "%u %*s %32s", &ifindex, hex) != 2 ||
				    strlen(hex) != 32)
					continue;
				for (int i = 0; i < 16; i++) {
					unsigned b;
					sscanf(hex + 2 * i, "%2x", &b);
					group[i] = (uint8_t)b;
				}
			}
			gf.gf_interface = ifindex;
			inet_sa_make(family, group, 0, 0, 0, &gf.gf_group);
			if (getsockopt(sk, f ? IPPROTO_IPV6 : IPPROTO_IP, MCAST_MSFILTER, &gf,
				       &len) < 0)
				continue; /* EADDRNOTAVAIL: not a member */
			char g[64];
			inet_group_text(family, group, g, sizeof(g));
			if (gf.gf_fmode != MCAST_EXCLUDE || gf.gf_numsrc) {
				pr_err(
				    "%s: multicast group %s on interface %u with a source filter "
				    "(%s, %u sources): not supported yet",
				    who, g, ifindex,
				    gf.gf_fmode == MCAST_INCLUDE ? "include" : "exclude",
				    gf.gf_numsrc);
				ret = -ENOTSUP;
				continue;
			}
			InetSkMcast *m = A_NEW(a, InetSkMcast, INET_SK_MCAST);
			InetSkMcast **v = arena_alloc(a, (s->n_mcast + 1) * sizeof(*v));
			if (!m || !v || !(m->group.data = arena_memdup(a, group, 16))) {
				free(text);
				return -ENOMEM;
			}
			if (s->n_mcast)
				memcpy(v, s->mcast, s->n_mcast * sizeof(*v));
			m->family = family;
			m->group.len = inet_addr_len(family);
			m->ifindex = ifindex;
			v[s->n_mcast++] = m;
			s->mcast = v;
			pr_info("%s: member of multicast group %s on interface %u", who, g,
				ifindex);
		}
		free(text);
	}
	return ret;
}

int inet_mcast_restore(struct restore_task *t, const FdEntry *e, int sk)
{
	const InetSk *s = e->inet;

	for (size_t i = 0; i < s->n_mcast; i++) {
		const InetSkMcast *m = s->mcast[i];
		struct group_req gr = {.gr_interface = m->ifindex};
		inet_sa_make(m->family, m->group.data, 0, 0, 0, &gr.gr_group);
		if (setsockopt(sk, m->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
			       MCAST_JOIN_GROUP, &gr, sizeof(gr)) < 0) {
			char g[80];
			inet_group_text(m->family, m->group.data, g, sizeof(g));
			child_fail(t, errno,
				   "fd %d: cannot join multicast group %s on interface %u", e->fd,
				   g, m->ifindex);
			return -1;
		}
	}
	return 0;
}

int inet_mcast_validate(const char *img, const FdEntry *e)
{
	const InetSk *s = e->inet;

	for (size_t i = 0; i < s->n_mcast; i++) {
		const InetSkMcast *m = s->mcast[i];
		const uint8_t *g = m->group.data;
		if ((m->family != AF_INET && m->family != AF_INET6) ||
		    (m->family == AF_INET6 && s->family != AF_INET6) ||
		    m->group.len != inet_addr_len(m->family) || !m->ifindex ||
		    m->ifindex > INT32_MAX ||
		    (m->family == AF_INET ? (g[0] & 0xf0) != 0xe0 : g[0] != 0xff))
			return files_refuse(img, "fd %d: multicast group %zu is invalid", e->fd, i);
	}
	return 0;
}
