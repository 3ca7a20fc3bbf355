/* What sock_diag (NETLINK_SOCK_DIAG) says of netlink sockets (netlink_diag: port ids, the
 * connected destination, flags, memory) and packet sockets (packet_diag: protocol, interface,
 * memberships, rings, fanout, memory): what getsockopt cannot tell (whether a netlink socket is
 * connected, the memberships of a packet socket, its rings). One dump request per socket asked
 * for, of the sockets of cryo's network namespace; the one with the inode asked for is kept. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"
#include "files/sk_diag.h"

#ifndef SK_MEMINFO_RMEM_ALLOC
#define SK_MEMINFO_RMEM_ALLOC 0
#define SK_MEMINFO_WMEM_ALLOC 2
#endif

struct find {
	uint64_t ino;
	bool found;
	int err;
	void *out;
};

int sock_diag_run(const void *req, size_t reqlen, mnl_cb_t cb, void *data, const int *cb_err,
		  const char *what)
{
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	unsigned seq = (unsigned)time(NULL), portid;
	struct nlmsghdr *nlh;
	int ret = 0;
	ssize_t n;

	if (!buf || !nl) {
		ret = buf ? -errno : -ENOMEM;
		pr_errno(-ret, "cannot open a sock_diag netlink socket");
		goto out;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot bind a sock_diag netlink socket");
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	memcpy(mnl_nlmsg_put_extra_header(nlh, reqlen), req, reqlen);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot ask sock_diag for the %s", what);
		goto out;
	}
	while ((n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE)) > 0) {
		int r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (r == MNL_CB_STOP && !*cb_err)
			break; /* NLMSG_DONE */
		if (r <= MNL_CB_STOP) {
			/* an error of the callback's was logged where it happened */
			ret = *cb_err ? *cb_err : errno ? -errno : -EIO;
			if (!*cb_err)
				pr_errno(-ret, "cannot read sock_diag's answer on the %s", what);
			goto out;
		}
	}
	if (n < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot read sock_diag's answer on the %s", what);
	}
out:
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	return ret;
}

/* One dump of the family that looks for one socket: 0 found, 1 not there, -errno */
static int diag_dump(const void *req, size_t reqlen, mnl_cb_t cb, struct find *f, const char *what)
{
	int ret = sock_diag_run(req, reqlen, cb, f, &f->err, what);
	return ret ? ret : f->found ? 0 : 1;
}

struct attrs {
	const struct nlattr *tb[16];
	int max;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct attrs *at = data;
	int type = mnl_attr_get_type(a);
	if (type >= 0 && type <= at->max && type < 16)
		at->tb[type] = a;
	return MNL_CB_OK;
}

static void meminfo(const struct nlattr *a, uint32_t *rmem, uint32_t *wmem, bool *has)
{
	const uint32_t *m;
	if (!a || mnl_attr_get_payload_len(a) < (SK_MEMINFO_WMEM_ALLOC + 1) * sizeof(uint32_t))
		return;
	m = mnl_attr_get_payload(a);
	*rmem = m[SK_MEMINFO_RMEM_ALLOC];
	*wmem = m[SK_MEMINFO_WMEM_ALLOC];
	*has = true;
}

static int netlink_cb(const struct nlmsghdr *nlh, void *data)
{
	struct find *f = data;
	const struct netlink_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct netlink_diag_sk *o = f->out;
	struct attrs at = {.max = NETLINK_DIAG_MAX};

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return MNL_CB_ERROR;
	if (m->ndiag_ino != f->ino || f->found)
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*m), attr_cb, &at) < 0)
		return MNL_CB_ERROR;
	f->found = true;
	o->portid = m->ndiag_portid;
	o->dst_portid = m->ndiag_dst_portid;
	o->dst_group = m->ndiag_dst_group;
	o->state = m->ndiag_state;
	if (at.tb[NETLINK_DIAG_FLAGS] && mnl_attr_get_payload_len(at.tb[NETLINK_DIAG_FLAGS]) >= 4)
		o->flags = mnl_attr_get_u32(at.tb[NETLINK_DIAG_FLAGS]);
	meminfo(at.tb[NETLINK_DIAG_MEMINFO], &o->rmem, &o->wmem, &o->has_mem);
	return MNL_CB_OK;
}

int netlink_diag_find(uint64_t ino, int protocol, struct netlink_diag_sk *out)
{
	struct netlink_diag_req req = {.sdiag_family = AF_NETLINK,
				       .sdiag_protocol = (uint8_t)protocol,
				       .ndiag_show = NDIAG_SHOW_MEMINFO | NDIAG_SHOW_FLAGS};
	struct find f = {.ino = ino, .out = out};
	memset(out, 0, sizeof(*out));
	return diag_dump(&req, sizeof(req), netlink_cb, &f, "netlink sockets");
}

static int packet_cb(const struct nlmsghdr *nlh, void *data)
{
	struct find *f = data;
	const struct packet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct packet_diag_sk *o = f->out;
	struct attrs at = {.max = PACKET_DIAG_MAX};
	const struct nlattr *a;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return MNL_CB_ERROR;
	if (m->pdiag_ino != f->ino || f->found)
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*m), attr_cb, &at) < 0)
		return MNL_CB_ERROR;
	f->found = true;
	o->type = m->pdiag_type;
	o->num = m->pdiag_num;
	if ((a = at.tb[PACKET_DIAG_INFO]) && mnl_attr_get_payload_len(a) >= sizeof(o->info)) {
		memcpy(&o->info, mnl_attr_get_payload(a), sizeof(o->info));
		o->has_info = true;
	}
	if ((a = at.tb[PACKET_DIAG_MCLIST])) {
		size_t len = mnl_attr_get_payload_len(a);
		o->n_mc = (unsigned)(len / sizeof(*o->mc));
		if (o->n_mc) {
			o->mc = malloc(o->n_mc * sizeof(*o->mc));
			if (!o->mc) {
				pr_err("no memory for %u packet socket memberships", o->n_mc);
				f->err = -ENOMEM;
				return MNL_CB_ERROR;
			}
			memcpy(o->mc, mnl_attr_get_payload(a), o->n_mc * sizeof(*o->mc));
		}
	}
	o->rx_ring = at.tb[PACKET_DIAG_RX_RING] != NULL;
	o->tx_ring = at.tb[PACKET_DIAG_TX_RING] != NULL;
	if ((a = at.tb[PACKET_DIAG_FANOUT]) && mnl_attr_get_payload_len(a) >= 4) {
		o->fanout = mnl_attr_get_u32(a);
		o->has_fanout = true;
	}
	meminfo(at.tb[PACKET_DIAG_MEMINFO], &o->rmem, &o->wmem, &o->has_mem);
	return MNL_CB_OK;
}

int packet_diag_find(uint64_t ino, struct packet_diag_sk *out)
{
	struct packet_diag_req req = {.sdiag_family = AF_PACKET,
				      .pdiag_show = PACKET_SHOW_INFO | PACKET_SHOW_MCLIST |
						    PACKET_SHOW_RING_CFG | PACKET_SHOW_FANOUT |
						    PACKET_SHOW_MEMINFO};
	struct find f = {.ino = ino, .out = out};
	int ret;
	memset(out, 0, sizeof(*out));
	ret = diag_dump(&req, sizeof(req), packet_cb, &f, "packet sockets");
	if (ret) {
		free(out->mc);
		out->mc = NULL;
		out->n_mc = 0;
	}
	return ret;
}

struct members {
	uint32_t id;
	uint64_t *inos;
	unsigned n;
	int err;
};

static int fanout_cb(const struct nlmsghdr *nlh, void *data)
{
	struct find *f = data;
	struct members *m = f->out;
	const struct packet_diag_msg *p = mnl_nlmsg_get_payload(nlh);
	struct attrs at = {.max = PACKET_DIAG_MAX};
	const struct nlattr *a;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*p)))
		return MNL_CB_ERROR;
	if (mnl_attr_parse(nlh, sizeof(*p), attr_cb, &at) < 0)
		return MNL_CB_ERROR;
	if (!(a = at.tb[PACKET_DIAG_FANOUT]) || mnl_attr_get_payload_len(a) < 4 ||
	    (mnl_attr_get_u32(a) & 0xffff) != m->id)
		return MNL_CB_OK;
	uint64_t *v = realloc(m->inos, (m->n + 1) * sizeof(*v));
	if (!v) {
		pr_err("no memory for the members of a fanout group");
		f->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	v[m->n++] = p->pdiag_ino;
	m->inos = v;
	f->found = true;
	return MNL_CB_OK;
}

int packet_diag_fanout_members(uint32_t id, uint64_t **inos, unsigned *n)
{
	struct packet_diag_req req = {.sdiag_family = AF_PACKET, .pdiag_show = PACKET_SHOW_FANOUT};
	struct members m = {.id = id};
	struct find f = {.out = &m};
	int ret = diag_dump(&req, sizeof(req), fanout_cb, &f, "packet sockets");
	if (ret < 0) {
		free(m.inos);
		return ret;
	}
	*inos = m.inos;
	*n = m.n;
	return 0;
}
