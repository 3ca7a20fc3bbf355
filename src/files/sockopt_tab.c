/* Integer socket options of netlink and packet sockets, in one table: each family's own
 * (SOL_NETLINK, SOL_PACKET). The SOL_SOCKET ones, and the socket filter, are sockopt.c's for
 * every family. The dump reads every one from cryo's copy of the socket (reading changes
 * nothing); the restore sets those that differ from a new socket's, then reads every one back:
 * a value the kernel took otherwise fails the restore instead of passing unnoticed.
 */
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "files/kind.h"
#include "files/sockopt.h"
#include "files/sockopt_tab.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef SOL_PACKET
#define SOL_PACKET 263
#endif

struct tab_def {
	int level, name;
	const char *label;
	unsigned fam;
	int64_t min, max;
	bool u32; /* kept unsigned by the kernel */
};

#define B(l, n, f)                                                                                 \
	{                                                                                          \
		l, n, #n, f, 0, 1, false                                                           \
	}
#define I(l, n, f, lo, hi)                                                                         \
	{                                                                                          \
		l, n, #n, f, lo, hi, false                                                         \
	}
#define U(l, n, f)                                                                                 \
	{                                                                                          \
		l, n, #n, f, 0, UINT32_MAX, true                                                   \
	}

/* in the order they are set: PACKET_VNET_HDR before PACKET_VNET_HDR_SZ (the first sets a size
 * of its own) */
static const struct tab_def defs[] = {
    B(SOL_NETLINK, NETLINK_PKTINFO, TAB_NETLINK),
    B(SOL_NETLINK, NETLINK_BROADCAST_ERROR, TAB_NETLINK),
    B(SOL_NETLINK, NETLINK_NO_ENOBUFS, TAB_NETLINK),
    B(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, TAB_NETLINK),
    B(SOL_NETLINK, NETLINK_CAP_ACK, TAB_NETLINK),
    B(SOL_NETLINK, NETLINK_EXT_ACK, TAB_NETLINK),
    B(SOL_NETLINK, NETLINK_GET_STRICT_CHK, TAB_NETLINK),
    I(SOL_PACKET, PACKET_COPY_THRESH, TAB_PACKET, 0, INT_MAX),
    B(SOL_PACKET, PACKET_AUXDATA, TAB_PACKET),
    B(SOL_PACKET, PACKET_ORIGDEV, TAB_PACKET),
    I(SOL_PACKET, PACKET_VERSION, TAB_PACKET, TPACKET_V1, TPACKET_V3),
    I(SOL_PACKET, PACKET_RESERVE, TAB_PACKET, 0, INT_MAX),
    B(SOL_PACKET, PACKET_LOSS, TAB_PACKET),
    B(SOL_PACKET, PACKET_VNET_HDR, TAB_PACKET),
    I(SOL_PACKET, PACKET_VNET_HDR_SZ, TAB_PACKET, 0, 64),
    I(SOL_PACKET, PACKET_TIMESTAMP, TAB_PACKET, 0, INT_MAX),
    B(SOL_PACKET, PACKET_TX_HAS_OFF, TAB_PACKET),
    B(SOL_PACKET, PACKET_QDISC_BYPASS, TAB_PACKET),
    B(SOL_PACKET, PACKET_IGNORE_OUTGOING, TAB_PACKET),
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static const struct tab_def *def_of(uint32_t level, uint32_t name)
{
	for (size_t i = 0; i < NDEFS; i++)
		if ((uint32_t)defs[i].level == level && (uint32_t)defs[i].name == name)
			return &defs[i];
	return NULL;
}

/* 0 and the value; 1: this kernel has no such option for the socket; -1 with errno */
static int tab_read(int sk, const struct tab_def *d, int64_t *v)
{
	int x = 0;
	socklen_t len = sizeof(x);
	if (getsockopt(sk, d->level, d->name, &x, &len) < 0)
		return errno == ENOPROTOOPT || errno == EOPNOTSUPP ? 1 : -1;
	*v = d->u32 ? (int64_t)(uint32_t)x : x;
	return 0;
}

int sockopt_tab_dump(struct arena *a, int sk, unsigned fam, InetSkOpt ***opts, size_t *n,
		     const char *who)
{
	int ifindex = 0;
	socklen_t len = sizeof(ifindex);

	/* a device binding is not used by these families, but a program could read it back */
	if (getsockopt(sk, SOL_SOCKET, SO_BINDTOIFINDEX, &ifindex, &len) == 0 && ifindex) {
		pr_err("%s: the socket is bound to interface %d (SO_BINDTODEVICE): not supported "
		       "yet",
		       who, ifindex);
		return -ENOTSUP;
	}
	*n = 0;
	*opts = arena_alloc(a, NDEFS * sizeof(**opts));
	if (!*opts)
		return -ENOMEM;
	for (size_t i = 0; i < NDEFS; i++) {
		const struct tab_def *d = &defs[i];
		int64_t v;
		int r;
		if (!(d->fam & fam))
			continue;
		r = tab_read(sk, d, &v);
		if (r == 1)
			continue;
		if (r < 0) {
			r = -errno;
			pr_errno(-r, "%s: cannot read socket option %s", who, d->label);
			return r;
		}
		InetSkOpt *x = A_NEW(a, InetSkOpt, INET_SK_OPT);
		if (!x)
			return -ENOMEM;
		x->level = (uint32_t)d->level;
		x->name = (uint32_t)d->name;
		x->has_val = true;
		x->val = v;
		(*opts)[(*n)++] = x;
	}
	return 0;
}

int sockopt_tab_apply(struct restore_task *t, int fd, int sk, InetSkOpt *const *opts, size_t n)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			const struct tab_def *d = def_of(opts[i]->level, opts[i]->name);
			int64_t now = 0;
			int r;
			if (!d)
				continue; /* validated */
			r = tab_read(sk, d, &now);
			if (r) {
				child_fail(t, r == 1 ? ENOPROTOOPT : errno,
					   "fd %d: cannot read socket option %s", fd, d->label);
				return -1;
			}
			if (now == opts[i]->val)
				continue;
			if (pass) {
				child_fail(t, EINVAL,
					   "fd %d: socket option %s is %lld, not %lld as "
					   "dumped",
					   fd, d->label, (long long)now, (long long)opts[i]->val);
				return -1;
			}
			int v = (int)opts[i]->val;
			if (setsockopt(sk, d->level, d->name, &v, sizeof(v)) < 0) {
				child_fail(t, errno, "fd %d: cannot set socket option %s to %lld",
					   fd, d->label, (long long)opts[i]->val);
				return -1;
			}
		}
	}
	return 0;
}

int sockopt_tab_validate(const char *img, int fd, unsigned fam, InetSkOpt *const *opts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const InetSkOpt *x = opts[i];
		const struct tab_def *d = def_of(x->level, x->name);
		if (!d || !(d->fam & fam))
			return files_refuse(img,
					    "fd %d: socket option %u/%u is not one cryo knows "
					    "for this socket",
					    fd, x->level, x->name);
		for (size_t j = 0; j < i; j++)
			if (opts[j]->level == x->level && opts[j]->name == x->name)
				return files_refuse(img, "fd %d: socket option %s appears twice",
						    fd, d->label);
		if (!x->has_val || x->has_data || x->val < d->min || x->val > d->max)
			return files_refuse(img,
					    "fd %d: socket option %s: value %lld is out of "
					    "range",
					    fd, d->label, (long long)x->val);
	}
	return 0;
}

int sockopt_tab_dump_all(struct dump_ctx *ctx, pid_t pid, int fd, int sk, unsigned fam, SkOpts **so,
			 InetSkOpt ***opts, size_t *n, const char *who)
{
	if (!(*so = sockopt_dump(ctx, pid, fd, sk, NULL)))
		return -EIO;
	return sockopt_tab_dump(&ctx->arena, sk, fam, opts, n, who);
}

int sockopt_tab_restore_all(struct restore_task *t, int fd, int sk, uint32_t uid, uint32_t gid,
			    const SkOpts *so, InetSkOpt *const *opts, size_t n)
{
	if (fchown(sk, uid, gid) < 0) {
		child_fail(t, errno, "fd %d: cannot give the socket to %u:%u", fd, uid, gid);
		return -1;
	}
	if (sockopt_restore_early(t, fd, sk, so) || sockopt_tab_apply(t, fd, sk, opts, n) ||
	    sockopt_restore_filter(t, fd, sk, so))
		return -1;
	return 0;
}

int sockopt_tab_validate_all(const char *img, int fd, unsigned fam, uint32_t uid, uint32_t gid,
			     const SkOpts *so, InetSkOpt *const *opts, size_t n)
{
	if (uid == UINT32_MAX || gid == UINT32_MAX)
		return files_refuse(img, "fd %d: the socket's owner is invalid", fd);
	int ret = sockopt_validate(img, fd, so);
	return ret ? ret : sockopt_tab_validate(img, fd, fam, opts, n);
}
