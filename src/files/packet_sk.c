/* AF_PACKET sockets (SOCK_RAW, SOCK_DGRAM): the protocol it was made with and the one it
 * receives (bind may change it), the interface it is bound to (by index: the restore checks
 * that the index still has the name it had, and refuses otherwise), its fanout group
 * (PACKET_FANOUT: id, type, flags), its memberships (PACKET_ADD_MEMBERSHIP: multicast,
 * promiscuous, all-multicast, unicast; from sock_diag, each as often as it was added), its
 * options (sockopt_tab.c: PACKET_VERSION, PACKET_RESERVE, PACKET_AUXDATA, PACKET_ORIGDEV,
 * PACKET_VNET_HDR, PACKET_TIMESTAMP, PACKET_QDISC_BYPASS, PACKET_LOSS...; sockopt.c: buffers
 * and timeouts) and a classic BPF filter. Read from cryo's copy of the socket and from
 * sock_diag (packet_diag).
 *
 * Refused by name: a ring (PACKET_RX_RING, PACKET_TX_RING: a mapping of the socket in the
 * task's memory, not rebuilt yet), packets queued to be read or being sent, a pending error, a
 * socket that stopped receiving (its interface went down or away), a fanout group with a
 * member no task of the tree holds (the restore makes the group of the tree's only), one whose
 * program cannot be read back (PACKET_FANOUT_CBPF, PACKET_FANOUT_EBPF), an eBPF filter, a
 * socket of another network namespace. Not seen: the counters of PACKET_STATISTICS (reading
 * them resets them: a restored socket counts from 0) and a fanout group's maximum of members
 * (set with struct fanout_args; the restore joins with the default). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "files/kind.h"
#include "files/sk_diag.h"
#include "files/sockopt.h"
#include "files/sockopt_tab.h"

#ifndef SOL_PACKET
#define SOL_PACKET 263
#endif
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif

#define MCLIST_MAX 1024
#define MC_ADDR_MAX 32 /* MAX_ADDR_LEN */
#define FANOUT_FLAGS                                                                               \
	(PACKET_FANOUT_FLAG_ROLLOVER | PACKET_FANOUT_FLAG_IGNORE_OUTGOING |                        \
	 PACKET_FANOUT_FLAG_DEFRAG)

/* struct packet_mreq with room for any hardware address */
struct mreq_max {
	int mr_ifindex;
	unsigned short mr_type, mr_alen;
	unsigned char mr_address[MC_ADDR_MAX];
};

static bool packet_sk_recognise(const struct fd_info *fi)
{
	return fi->sk_family == AF_PACKET;
}

/* "lo" of ifindex, in cryo's network namespace; NULL (logged) if there is none */
static char *ifname_dump(struct dump_ctx *ctx, uint32_t ifindex, const char *who)
{
	char name[IF_NAMESIZE];
	if (!if_indextoname(ifindex, name)) {
		pr_errno(errno, "%s: the packet socket's interface %u has no name", who, ifindex);
		return NULL;
	}
	return arena_strdup(&ctx->arena, name);
}

/* Does a task of the tree hold the socket of inode ino? (its tasks are frozen) */
static bool tree_holds(struct dump_ctx *ctx, uint64_t ino)
{
	char want[40], path[64], link[64];
	snprintf(want, sizeof(want), "socket:[%lu]", (unsigned long)ino);
	for (int i = 0; i < ctx->nr_tasks; i++) {
		const struct dump_task *o = &ctx->tasks[i];
		struct dirent *de;
		DIR *d;
		bool found = false;
		if (o->zombie)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", o->pid);
		if (!(d = opendir(path)))
			continue;
		while (!found && (de = readdir(d))) {
			ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
			if (n > 0) {
				link[n] = 0;
				found = !strcmp(link, want);
			}
		}
		closedir(d);
		if (found)
			return true;
	}
	return false;
}

static int fanout_dump(struct dump_ctx *ctx, int sk, const struct packet_diag_sk *d, PacketSk *s,
		       const char *who)
{
	int v = 0;
	socklen_t len = sizeof(v);
	unsigned type;

	if (getsockopt(sk, SOL_PACKET, PACKET_FANOUT, &v, &len) < 0) {
		pr_errno(errno, "%s: cannot read PACKET_FANOUT", who);
		return -EIO;
	}
	(void)d;
	if (!v)
		return 0;
	/* id in the low 16 bits, type and flags above, as setsockopt takes them */
	type = ((uint32_t)v >> 16) & 0xff;
	if (type == PACKET_FANOUT_CBPF || type == PACKET_FANOUT_EBPF) {
		pr_err("%s: packet socket in fanout group %u of type %s, whose program cannot be "
		       "read back: not supported",
		       who, (uint32_t)v & 0xffff,
		       type == PACKET_FANOUT_CBPF ? "PACKET_FANOUT_CBPF" : "PACKET_FANOUT_EBPF");
		return -ENOTSUP;
	}
	/* the restore makes the group of the tree's members only: one shared with a socket
	 * outside the tree would be split */
	uint64_t *inos = NULL;
	unsigned n = 0;
	int ret = packet_diag_fanout_members((uint32_t)v & 0xffff, &inos, &n);
	if (ret)
		return ret;
	for (unsigned i = 0; i < n && !ret; i++)
		if (!tree_holds(ctx, inos[i])) {
			pr_err(
			    "%s: packet socket in fanout group %u with packet socket %lu, which no "
			    "task of the dumped tree holds: not supported",
			    who, (uint32_t)v & 0xffff, (unsigned long)inos[i]);
			ret = -ENOTSUP;
		}
	free(inos);
	if (ret)
		return ret;
	s->has_fanout = true;
	s->fanout = (uint32_t)v;
	return 0;
}

static int mclist_dump(struct dump_ctx *ctx, const struct packet_diag_sk *d, PacketSk *s,
		       const char *who)
{
	if (d->n_mc > MCLIST_MAX) {
		pr_err("%s: a packet socket with %u memberships: not supported", who, d->n_mc);
		return -ENOTSUP;
	}
	s->mclist = arena_alloc(&ctx->arena, (d->n_mc + 1) * sizeof(*s->mclist));
	if (!s->mclist)
		return -ENOMEM;
	for (unsigned i = 0; i < d->n_mc; i++) {
		const struct packet_diag_mclist *m = &d->mc[i];
		PacketSkMclist *x = A_NEW(&ctx->arena, PacketSkMclist, PACKET_SK_MCLIST);
		if (!x)
			return -ENOMEM;
		if (m->pdmc_alen > MC_ADDR_MAX) {
			pr_err("%s: a membership with an address of %u bytes", who, m->pdmc_alen);
			return -EIO;
		}
		x->ifindex = m->pdmc_index;
		x->type = m->pdmc_type;
		x->count = m->pdmc_count;
		if (!(x->ifname = ifname_dump(ctx, m->pdmc_index, who)))
			return -ENOTSUP;
		if (m->pdmc_alen) {
			x->has_addr = true;
			x->addr.len = m->pdmc_alen;
			if (!(x->addr.data = arena_memdup(&ctx->arena, m->pdmc_addr, m->pdmc_alen)))
				return -ENOMEM;
		}
		s->mclist[s->n_mclist++] = x;
	}
	return 0;
}

/* The socket read from sk, cryo's copy of it, into e (fd_dump_copy) */
static int packet_sk_dump_copy(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			       int sk, FdEntry *e, const char *who)
{
	PacketSk *s = A_NEW(&ctx->arena, PacketSk, PACKET_SK);
	struct packet_diag_sk d;
	int ret;

	if (!s)
		return -ENOMEM;
	if (fi->sk_type != SOCK_RAW && fi->sk_type != SOCK_DGRAM) {
		pr_err("%s: a packet socket of type %d (SOCK_PACKET): not supported", who,
		       fi->sk_type);
		return -ENOTSUP;
	}
	ret = packet_diag_find(fi->st.st_ino, &d);
	if (ret < 0)
		return ret;
	if (ret) {
		pr_err("%s: packet socket %lu is not in cryo's network namespace: not supported "
		       "yet",
		       who, (unsigned long)fi->st.st_ino);
		return -ENOTSUP;
	}
	s->type = (uint32_t)fi->sk_type;
	s->protocol = d.num; /* host order: sock_diag turned it */
	s->has_sk_protocol = true;
	s->sk_protocol = ntohs((uint16_t)fi->sk_protocol);
	ret = -ENOTSUP;
	if (!d.has_info || !d.has_mem) {
		pr_err("%s: sock_diag did not tell the state of packet socket %lu", who,
		       (unsigned long)fi->st.st_ino);
		ret = -EIO;
	} else if (d.rx_ring || d.tx_ring) {
		pr_err("%s: packet socket with a %s%s%s ring (mapped in the task's memory): not "
		       "supported yet",
		       who, d.rx_ring ? "PACKET_RX_RING" : "",
		       d.rx_ring && d.tx_ring ? " and a " : "", d.tx_ring ? "PACKET_TX_RING" : "");
	} else if (d.rmem) {
		pr_err("%s: packet socket has packets queued to be read (%u bytes with overhead): "
		       "not supported yet",
		       who, d.rmem);
	} else if (d.wmem) {
		pr_err("%s: packet socket has packets being sent (%u bytes): not supported yet",
		       who, d.wmem);
	} else if ((int32_t)d.info.pdi_index < 0 ||
		   (s->protocol && !(d.info.pdi_flags & PDI_RUNNING))) {
		pr_err("%s: packet socket no longer receives (its interface went down or away): "
		       "not supported",
		       who);
	} else {
		ret = 0;
	}
	if (!ret) {
		struct pollfd pf = {.fd = sk, .events = POLLIN};
		if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR)) {
			pr_err("%s: packet socket has an error pending: not supported yet", who);
			ret = -ENOTSUP;
		}
	}
	if (!ret) {
		s->ifindex = d.info.pdi_index;
		if (s->ifindex && !(s->ifname = ifname_dump(ctx, s->ifindex, who)))
			ret = -ENOTSUP;
	}
	if (!ret)
		ret = fanout_dump(ctx, sk, &d, s, who);
	if (!ret)
		ret = mclist_dump(ctx, &d, s, who);
	free(d.mc);
	if (ret)
		return ret;
	if ((ret = sockopt_tab_dump_all(ctx, t->pid, fi->fd, sk, TAB_PACKET, &s->opts, &s->sopts,
					&s->n_sopts, who)))
		return ret;
	s->uid = fi->st.st_uid;
	s->gid = fi->st.st_gid;
	pr_info("%s: packet socket, protocol %#x, interface %u%s%s, %zu memberships, fanout %#x",
		who, s->protocol, s->ifindex, s->ifname ? " " : "", s->ifname ? s->ifname : "",
		s->n_mclist, s->fanout);
	e->packet_sk = s;
	return 0;
}

static int packet_sk_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			  FdEntry *e)
{
	return fd_dump_copy(ctx, t, fi, e, "the packet socket", packet_sk_dump_copy);
}

/* ---- restore ---- */

/* the interface must still be what it was: the same index with the same name */
static int iface_check(struct restore_task *t, int fd, uint32_t ifindex, const char *want)
{
	char name[IF_NAMESIZE];
	if (!if_indextoname(ifindex, name)) {
		child_fail(t, errno,
			   "fd %d: interface %u (%s at dump) of the packet socket is "
			   "not here",
			   fd, ifindex, want);
		return -1;
	}
	if (strcmp(name, want)) {
		child_fail(t, EINVAL,
			   "fd %d: interface %u of the packet socket is %s here, %s at "
			   "dump",
			   fd, ifindex, name, want);
		return -1;
	}
	return 0;
}

static int packet_sk_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
			     int flags)
{
	const PacketSk *s = e->packet_sk;
	int sk;

	(void)ctx;
	if (s->ifindex && iface_check(t, e->fd, s->ifindex, s->ifname))
		return -1;
	for (size_t i = 0; i < s->n_mclist; i++)
		if (iface_check(t, e->fd, s->mclist[i]->ifindex, s->mclist[i]->ifname))
			return -1;
	sk = socket(AF_PACKET,
		    (int)s->type | SOCK_CLOEXEC | (flags & O_NONBLOCK ? SOCK_NONBLOCK : 0),
		    htons((uint16_t)s->sk_protocol));
	if (sk < 0) {
		child_fail(t, errno, "fd %d: cannot make a packet socket of protocol %#x", e->fd,
			   s->sk_protocol);
		return -1;
	}
	/* options first: PACKET_VERSION and the like are refused once the socket runs a ring,
	 * and a filter is best in place before packets come */
	if (sockopt_tab_restore_all(t, e->fd, sk, s->uid, s->gid, s->opts, s->sopts, s->n_sopts))
		goto fail;
	if (s->ifindex || s->protocol != s->sk_protocol) {
		struct sockaddr_ll ll = {.sll_family = AF_PACKET,
					 .sll_protocol = htons((uint16_t)s->protocol),
					 .sll_ifindex = (int)s->ifindex};
		if (bind(sk, (struct sockaddr *)&ll, sizeof(ll)) < 0) {
			child_fail(t, errno,
				   "fd %d: cannot bind the packet socket to interface %u "
				   "(%s), protocol %#x",
				   e->fd, s->ifindex, s->ifname ? s->ifname : "any", s->protocol);
			goto fail;
		}
	}
	if (s->has_fanout) {
		int v = (int)s->fanout, now = 0;
		socklen_t len = sizeof(now);
		if (setsockopt(sk, SOL_PACKET, PACKET_FANOUT, &v, sizeof(v)) < 0 ||
		    getsockopt(sk, SOL_PACKET, PACKET_FANOUT, &now, &len) < 0 || now != v) {
			child_fail(t, errno,
				   "fd %d: cannot join fanout group %u (type and flags "
				   "%#x)%s",
				   e->fd, s->fanout & 0xffff, s->fanout >> 16,
				   errno == EINVAL ? ": a group of that id with another type "
						     "exists"
						   : "");
			goto fail;
		}
	}
	/* newest first in the image, as sock_diag lists them: added oldest first */
	for (size_t i = s->n_mclist; i-- > 0;) {
		const PacketSkMclist *m = s->mclist[i];
		struct mreq_max mr = {.mr_ifindex = (int)m->ifindex,
				      .mr_type = (unsigned short)m->type,
				      .mr_alen = (unsigned short)m->addr.len};
		if (m->addr.len)
			memcpy(mr.mr_address, m->addr.data, m->addr.len);
		for (uint32_t c = 0; c < m->count; c++)
			if (setsockopt(sk, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) <
			    0) {
				child_fail(t, errno,
					   "fd %d: cannot add membership %zu (type %u) on "
					   "interface %s",
					   e->fd, i, m->type, m->ifname);
				goto fail;
			}
	}
	if (sockopt_restore_late(t, e->fd, sk, s->opts))
		goto fail;
	return sk;
fail:
	close(sk);
	return -1;
}

static bool ifname_valid(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	return len && len < IF_NAMESIZE && !strchr(n, '/') && !strchr(n, ' ');
}

static int packet_sk_validate(const char *img, const Files *f, const FdEntry *e)
{
	const PacketSk *s = e->packet_sk;
	int ret;
	(void)f;

	if ((ret = files_sock_state(img, e, s, "a packet socket")))
		return ret < 0 ? ret : 0;
	if (s->type != SOCK_RAW && s->type != SOCK_DGRAM)
		return files_refuse(img, "fd %d: packet socket type %u is invalid", e->fd, s->type);
	if (s->protocol > 0xffff || !s->has_sk_protocol || s->sk_protocol > 0xffff)
		return files_refuse(img, "fd %d: packet socket protocol %#x is invalid", e->fd,
				    s->protocol);
	if (s->ifindex > INT32_MAX || (s->ifindex ? !ifname_valid(s->ifname) : !!s->ifname))
		return files_refuse(img, "fd %d: the packet socket's interface is invalid", e->fd);
	if (s->has_fanout) {
		unsigned type = (s->fanout >> 16) & 0xff, fl = (s->fanout >> 16) & 0xff00;
		if (!s->protocol || type > PACKET_FANOUT_QM || (fl & ~FANOUT_FLAGS))
			return files_refuse(img, "fd %d: fanout %#x is invalid", e->fd, s->fanout);
	}
	if (s->n_mclist > MCLIST_MAX)
		return files_refuse(img, "fd %d: %zu memberships", e->fd, s->n_mclist);
	for (size_t i = 0; i < s->n_mclist; i++) {
		const PacketSkMclist *m = s->mclist[i];
		if (!m->ifindex || m->ifindex > INT32_MAX || !ifname_valid(m->ifname) ||
		    m->type > PACKET_MR_UNICAST || m->addr.len > MC_ADDR_MAX ||
		    m->has_addr != (m->addr.len > 0) || !m->count || m->count > 65535)
			return files_refuse(img, "fd %d: membership %zu is invalid", e->fd, i);
	}
	return sockopt_tab_validate_all(img, e->fd, TAB_PACKET, s->uid, s->gid, s->opts, s->sopts,
					s->n_sopts);
}

const struct fd_ops fd_packet_sk_ops = {
    .name = "a packet socket",
    .names = "packet sockets",
    .kind = FD_KIND__FD_PACKET_SK,
    .recognise = packet_sk_recognise,
    .dump = packet_sk_dump,
    .restore = packet_sk_restore,
    .validate = packet_sk_validate,
};
