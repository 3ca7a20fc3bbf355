/* What the kernel says of every unix socket of cryo's network namespace (NETLINK_SOCK_DIAG,
 * unix_diag): its inode, type, state, bound name, the inode of its peer, queue lengths (for a
 * listener: connections waiting and its backlog), the connections waiting (their clients'
 * inodes), its shutdown state and, for a socket bound to a path, the inode of its socket
 * file. One dump request answers for all of them; used at dump (unix_sk.c: pairs, peers
 * outside the tree) and at restore (is a socket file at a path still in use?). */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "files/sk_diag.h"
#include "files/unix_diag.h"

struct walk {
	unix_diag_fn fn;
	void *arg;
	int err;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, UNIX_DIAG_MAX) > 0)
		tb[type] = a;
	return MNL_CB_OK;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct walk *w = data;
	const struct nlattr *tb[UNIX_DIAG_MAX + 1] = {0};
	const struct unix_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct unix_diag_sk s = {0};

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return MNL_CB_ERROR;
	if (mnl_attr_parse(nlh, sizeof(*m), attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	s.ino = m->udiag_ino;
	s.type = m->udiag_type;
	s.state = m->udiag_state;
	if (tb[UNIX_DIAG_NAME]) {
		size_t len = mnl_attr_get_payload_len(tb[UNIX_DIAG_NAME]);
		if (len > sizeof(s.name))
			len = sizeof(s.name);
		memcpy(s.name, mnl_attr_get_payload(tb[UNIX_DIAG_NAME]), len);
		s.namelen = (uint16_t)len;
	}
	if (tb[UNIX_DIAG_VFS] &&
	    mnl_attr_get_payload_len(tb[UNIX_DIAG_VFS]) >= sizeof(struct unix_diag_vfs)) {
		const struct unix_diag_vfs *v = mnl_attr_get_payload(tb[UNIX_DIAG_VFS]);
		/* the kernel's own encoding of dev_t: 12 bits of major above 20 of minor */
		s.vfs_dev = makedev(v->udiag_vfs_dev >> 20, v->udiag_vfs_dev & 0xfffff);
		s.vfs_ino = v->udiag_vfs_ino;
		s.has_vfs = true;
	}
	if (tb[UNIX_DIAG_PEER] && mnl_attr_get_payload_len(tb[UNIX_DIAG_PEER]) >= 4) {
		/* present with inode 0: the peer was closed (the socket still points to it) */
		s.peer = mnl_attr_get_u32(tb[UNIX_DIAG_PEER]);
		s.has_peer = true;
	}
	if (tb[UNIX_DIAG_ICONS]) {
		s.nr_icons = mnl_attr_get_payload_len(tb[UNIX_DIAG_ICONS]) / sizeof(uint32_t);
		s.icons = mnl_attr_get_payload(tb[UNIX_DIAG_ICONS]);
	}
	if (tb[UNIX_DIAG_RQLEN] &&
	    mnl_attr_get_payload_len(tb[UNIX_DIAG_RQLEN]) >= sizeof(struct unix_diag_rqlen)) {
		const struct unix_diag_rqlen *q = mnl_attr_get_payload(tb[UNIX_DIAG_RQLEN]);
		s.rqueue = q->udiag_rqueue;
		s.wqueue = q->udiag_wqueue;
	}
	if (tb[UNIX_DIAG_SHUTDOWN])
		s.shutdown = mnl_attr_get_u8(tb[UNIX_DIAG_SHUTDOWN]);
	if ((w->err = w->fn(&s, w->arg)))
		return MNL_CB_STOP;
	return MNL_CB_OK;
}

int unix_diag_each(unix_diag_fn fn, void *arg)
{
	struct walk w = {.fn = fn, .arg = arg};
	struct unix_diag_req req = {
	    .sdiag_family = AF_UNIX,
	    .udiag_states = ~0u,
	    .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS |
			  UDIAG_SHOW_RQLEN,
	};
	return sock_diag_run(&req, sizeof(req), msg_cb, &w, &w.err, "unix sockets");
}
