/* AF_NETLINK sockets: protocol, type, the port id it is bound to (chosen by the program or by
 * the kernel's automatic bind: the restore binds to the same one, and a port taken by then
 * fails the restore naming it), every multicast group it is a member of (NETLINK_LIST_
 * MEMBERSHIPS: all of them, above 32 too), the destination it is connected to, its options
 * (sockopt.c: buffers, timeouts, SO_PASSCRED; sockopt_tab.c: NETLINK_PKTINFO, NETLINK_NO_
 * ENOBUFS, NETLINK_CAP_ACK, NETLINK_EXT_ACK...) and a classic filter. Read from cryo's copy of
 * the socket (pidfd_getfd) and from sock_diag (netlink_diag), which alone tells whether it is
 * connected and whether a dump of the kernel's is being answered.
 *
 * Refused by name: messages queued to be read (the kernel's answers and notifications cannot
 * be sent again as they were: they come from the kernel's port), a dump answer in progress, a
 * pending error (ENOBUFS after an overrun), a socket of another network namespace, and the
 * protocols whose kernel side keeps state of its own for the port (generic netlink families'
 * registrations, netfilter queues, the audit daemon's registration, the process connector's
 * listeners...): only protocols whose whole state for a socket is what is saved here are
 * taken. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "files/kind.h"
#include "files/sk_diag.h"
#include "files/sockopt.h"
#include "files/sockopt_tab.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* groups a socket can be a member of: far more than any protocol has */
#define NL_GROUPS_MAX 65536

static const struct {
	int protocol;
	const char *name;
	bool ok; /* no state of the kernel's for the port beyond what is saved */
} protocols[] = {
    {NETLINK_ROUTE, "NETLINK_ROUTE", true},
    {NETLINK_USERSOCK, "NETLINK_USERSOCK", false},
    {NETLINK_FIREWALL, "NETLINK_FIREWALL", false},
    {NETLINK_SOCK_DIAG, "NETLINK_SOCK_DIAG", true},
    {NETLINK_NFLOG, "NETLINK_NFLOG", false},
    {NETLINK_XFRM, "NETLINK_XFRM", true},
    {NETLINK_SELINUX, "NETLINK_SELINUX", true},
    {NETLINK_ISCSI, "NETLINK_ISCSI", false},
    {NETLINK_AUDIT, "NETLINK_AUDIT", true}, /* but the audit daemon's: audit_daemon_pid() */
    {NETLINK_FIB_LOOKUP, "NETLINK_FIB_LOOKUP", true},
    {NETLINK_CONNECTOR, "NETLINK_CONNECTOR", false},
    {NETLINK_NETFILTER, "NETLINK_NETFILTER", false},
    {NETLINK_IP6_FW, "NETLINK_IP6_FW", false},
    {NETLINK_DNRTMSG, "NETLINK_DNRTMSG", false},
    {NETLINK_KOBJECT_UEVENT, "NETLINK_KOBJECT_UEVENT", true},
    {NETLINK_GENERIC, "NETLINK_GENERIC", false},
    {NETLINK_SCSITRANSPORT, "NETLINK_SCSITRANSPORT", false},
    {NETLINK_ECRYPTFS, "NETLINK_ECRYPTFS", false},
    {NETLINK_RDMA, "NETLINK_RDMA", false},
    {NETLINK_CRYPTO, "NETLINK_CRYPTO", true},
    {NETLINK_SMC, "NETLINK_SMC", false},
};

static bool protocol_ok(uint32_t p, const char **name)
{
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if ((uint32_t)protocols[i].protocol == p) {
			*name = protocols[i].name;
			return protocols[i].ok;
		}
	*name = NULL;
	return false;
}

/* The pid of the audit daemon the kernel sends its records to (AUDIT_GET's status.pid), 0
 * for none, or -errno. A NETLINK_AUDIT socket of another process (dbus-daemon, sshd, login:
 * libaudit's audit_open, to send AUDIT_USER_* messages) is a socket like a route one; the
 * daemon's port is the kernel's record of where audit goes, and is refused. */
static bool has_audit_control(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	return syscall(SYS_capget, &h, d) == 0 &&
	       (d[CAP_AUDIT_CONTROL / 32].effective & (1u << (CAP_AUDIT_CONTROL % 32)));
}

static int audit_daemon_pid(void)
{
	struct {
		struct nlmsghdr h;
		struct audit_status st;
	} req = {.h = {.nlmsg_len = NLMSG_LENGTH(0),
		       .nlmsg_type = AUDIT_GET,
		       .nlmsg_flags = NLM_F_REQUEST,
		       .nlmsg_seq = 1}};
	union {
		struct nlmsghdr h;
		char buf[512];
	} ans;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT), ret = -EIO;
	struct timeval tv = {.tv_sec = 2};

	if (sk < 0)
		return -errno;
	setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(sk, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		ret = -errno;
		goto out;
	}
	for (int i = 0; i < 4; i++) {
		ssize_t n = recv(sk, &ans, sizeof(ans), 0);
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (!NLMSG_OK(&ans.h, (size_t)n))
			break;
		if (ans.h.nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(&ans.h);
			if (ans.h.nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error) {
				ret = e->error;
				break;
			}
			continue; /* an ack */
		}
		if (ans.h.nlmsg_type == AUDIT_GET &&
		    ans.h.nlmsg_len >=
			NLMSG_LENGTH(offsetof(struct audit_status, pid) + sizeof(uint32_t))) {
			struct audit_status *st = NLMSG_DATA(&ans.h);
			ret = (int)st->pid;
			break;
		}
	}
out:
	close(sk);
	/* The kernel answers audit requests of its initial user and pid namespaces only, and
	 * takes its audit daemon from there only (kernel/audit.c): ECONNREFUSED (another user
	 * namespace, or no audit at all), or EPERM to a caller with CAP_AUDIT_CONTROL (another
	 * pid namespace), say that no task of cryo's namespaces can be the daemon. */
	if (ret == -ECONNREFUSED || (ret == -EPERM && has_audit_control()))
		ret = 0;
	return ret;
}

static bool netlink_sk_recognise(const struct fd_info *fi)
{
	return fi->sk_family == AF_NETLINK;
}

/* Every group the socket is a member of, ascending */
static int groups_dump(struct dump_ctx *ctx, int sk, NetlinkSk *s, const char *who)
{
	socklen_t len = 0;
	uint32_t *bits;

	if (getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, NULL, &len) < 0) {
		pr_errno(errno, "%s: cannot list the netlink socket's groups", who);
		return -EIO;
	}
	if (!len)
		return 0;
	if (len > NL_GROUPS_MAX / 8) {
		pr_err("%s: a netlink socket with %u bytes of groups", who, len);
		return -EIO;
	}
	bits = calloc(1, len);
	if (!bits)
		return -ENOMEM;
	socklen_t got = len;
	if (getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, bits, &got) < 0 || got > len) {
		pr_errno(errno, "%s: cannot list the netlink socket's groups", who);
		free(bits);
		return -EIO;
	}
	s->groups = arena_alloc(&ctx->arena, (size_t)got * 8 * sizeof(*s->groups));
	if (!s->groups) {
		free(bits);
		return -ENOMEM;
	}
	for (uint32_t g = 0; g < got * 8; g++)
		if (bits[g / 32] & (1u << (g % 32)))
			s->groups[s->n_groups++] = g + 1;
	free(bits);
	return 0;
}

/* The socket read from sk, cryo's copy of it, into e (fd_dump_copy) */
static int netlink_sk_dump_copy(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
				int sk, FdEntry *e, const char *who)
{
	NetlinkSk *s = A_NEW(&ctx->arena, NetlinkSk, NETLINK_SK);
	struct netlink_diag_sk d;
	const char *pname;
	int ret;

	if (!s)
		return -ENOMEM;
	if (fi->sk_type != SOCK_RAW && fi->sk_type != SOCK_DGRAM) {
		pr_err("%s: a netlink socket of type %d: not supported", who, fi->sk_type);
		return -ENOTSUP;
	}
	s->protocol = (uint32_t)fi->sk_protocol;
	s->type = (uint32_t)fi->sk_type;
	if (!protocol_ok(s->protocol, &pname)) {
		if (pname)
			pr_err("%s: a %s netlink socket: not supported yet (the kernel may keep "
			       "state of its own for its port)",
			       who, pname);
		else
			pr_err("%s: a netlink socket of protocol %u: not supported yet", who,
			       s->protocol);
		return -ENOTSUP;
	}
	if (s->protocol == NETLINK_AUDIT) {
		int daemon = audit_daemon_pid();
		if (daemon < 0) {
			pr_errno(-daemon,
				 "%s: a NETLINK_AUDIT socket, and the kernel does not say which "
				 "process is the audit daemon (AUDIT_GET)",
				 who);
			return -ENOTSUP;
		}
		if (daemon && daemon == t->pid) {
			pr_err("%s: the audit daemon's NETLINK_AUDIT socket (the kernel sends its "
			       "records to it): not supported",
			       who);
			return -ENOTSUP;
		}
	}
	ret = netlink_diag_find(fi->st.st_ino, fi->sk_protocol, &d);
	if (ret < 0)
		return ret;
	if (ret) {
		/* netlink_diag lists bound sockets only: one never bound has no port, no group,
		 * no destination and receives nothing */
		struct sockaddr_nl a = {0};
		socklen_t len = sizeof(a);
		if (getsockname(sk, (struct sockaddr *)&a, &len) < 0 || a.nl_pid) {
			pr_err(
			    "%s: %s socket %lu is not in cryo's network namespace: not supported "
			    "yet",
			    who, pname, (unsigned long)fi->st.st_ino);
			return -ENOTSUP;
		}
		d.has_mem = true; /* nothing can be queued on it */
	}
	if (d.flags & NDIAG_FLAG_CB_RUNNING) {
		pr_err("%s: %s socket: the kernel is still answering a dump request on it: not "
		       "supported",
		       who, pname);
		return -ENOTSUP;
	}
	if (!d.has_mem) {
		pr_err("%s: sock_diag did not tell the memory of %s socket %lu", who, pname,
		       (unsigned long)fi->st.st_ino);
		return -EIO;
	}
	if (d.rmem) {
		pr_err("%s: %s socket has messages queued to be read (%u bytes with overhead): "
		       "not supported (the kernel's messages cannot be queued again as they were)",
		       who, pname, d.rmem);
		return -ENOTSUP;
	}
	struct pollfd pf = {.fd = sk, .events = POLLIN};
	if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR)) {
		pr_err("%s: %s socket has an error pending (an overrun: ENOBUFS): not supported "
		       "yet",
		       who, pname);
		return -ENOTSUP;
	}
	if (d.portid) {
		s->has_portid = true;
		s->portid = d.portid;
	}
	if (d.state == 1) {
		s->has_connected = s->connected = true;
		s->has_dst_portid = s->has_dst_group = true;
		s->dst_portid = d.dst_portid;
		s->dst_group = d.dst_group;
	}
	if ((ret = groups_dump(ctx, sk, s, who)))
		return ret;
	if ((ret = sockopt_tab_dump_all(ctx, t->pid, fi->fd, sk, TAB_NETLINK, &s->opts, &s->sopts,
					&s->n_sopts, who)))
		return ret;
	s->uid = fi->st.st_uid;
	s->gid = fi->st.st_gid;
	pr_info("%s: %s socket, port id %u, %zu groups%s", who, pname, s->portid, s->n_groups,
		s->connected ? ", connected" : "");
	e->netlink_sk = s;
	return 0;
}

static int netlink_sk_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			   FdEntry *e)
{
	return fd_dump_copy(ctx, t, fi, e, "the netlink socket", netlink_sk_dump_copy);
}

/* ---- restore ---- */

static int groups_check(struct restore_task *t, const FdEntry *e, int sk)
{
	const NetlinkSk *s = e->netlink_sk;
	uint32_t bits[NL_GROUPS_MAX / 32];
	socklen_t len = sizeof(bits);
	size_t n = 0;

	memset(bits, 0, sizeof(bits));
	if (getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, bits, &len) < 0) {
		child_fail(t, errno, "fd %d: cannot list the netlink socket's groups", e->fd);
		return -1;
	}
	if (len > sizeof(bits))
		len = sizeof(bits);
	for (uint32_t g = 0; g < len * 8; g++) {
		if (!(bits[g / 32] & (1u << (g % 32))))
			continue;
		if (n >= s->n_groups || s->groups[n] != g + 1) {
			child_fail(t, EINVAL,
				   "fd %d: the netlink socket is a member of group %u, "
				   "which it was not at dump",
				   e->fd, g + 1);
			return -1;
		}
		n++;
	}
	if (n != s->n_groups) {
		child_fail(t, EINVAL,
			   "fd %d: the netlink socket is a member of %zu groups, not %zu", e->fd, n,
			   s->n_groups);
		return -1;
	}
	return 0;
}

static int netlink_sk_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
			      int flags)
{
	const NetlinkSk *s = e->netlink_sk;
	struct sockaddr_nl a = {.nl_family = AF_NETLINK};
	socklen_t len = sizeof(a);
	int sk;

	(void)ctx;
	sk = socket(AF_NETLINK,
		    (int)s->type | SOCK_CLOEXEC | (flags & O_NONBLOCK ? SOCK_NONBLOCK : 0),
		    (int)s->protocol);
	if (sk < 0) {
		child_fail(t, errno, "fd %d: cannot make a netlink socket of protocol %u", e->fd,
			   s->protocol);
		return -1;
	}
	if (sockopt_tab_restore_all(t, e->fd, sk, s->uid, s->gid, s->opts, s->sopts, s->n_sopts))
		goto fail;
	if (s->has_portid) {
		a.nl_pid = s->portid;
		if (bind(sk, (struct sockaddr *)&a, sizeof(a)) < 0) {
			child_fail(t, errno,
				   "fd %d: cannot bind the netlink socket (protocol %u) to "
				   "port id %u%s",
				   e->fd, s->protocol, s->portid,
				   errno == EADDRINUSE ? ": another socket has it" : "");
			goto fail;
		}
		memset(&a, 0, sizeof(a));
		if (getsockname(sk, (struct sockaddr *)&a, &len) < 0 || a.nl_pid != s->portid) {
			child_fail(t, EINVAL, "fd %d: the netlink socket did not get port id %u",
				   e->fd, s->portid);
			goto fail;
		}
	}
	for (size_t i = 0; i < s->n_groups; i++) {
		int g = (int)s->groups[i];
		if (setsockopt(sk, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0) {
			child_fail(t, errno, "fd %d: cannot join netlink group %d (protocol %u)",
				   e->fd, g, s->protocol);
			goto fail;
		}
	}
	if (s->n_groups && groups_check(t, e, sk))
		goto fail;
	if (s->connected) {
		struct sockaddr_nl d = {.nl_family = AF_NETLINK, .nl_pid = s->dst_portid};
		d.nl_groups = s->dst_group ? 1u << (s->dst_group - 1) : 0;
		if (connect(sk, (struct sockaddr *)&d, sizeof(d)) < 0) {
			child_fail(t, errno,
				   "fd %d: cannot connect the netlink socket to port %u "
				   "group %u",
				   e->fd, s->dst_portid, s->dst_group);
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

static int netlink_sk_validate(const char *img, const Files *f, const FdEntry *e)
{
	const NetlinkSk *s = e->netlink_sk;
	int ret;
	const char *pname;
	(void)f;

	if ((ret = files_sock_state(img, e, s, "a netlink socket")))
		return ret < 0 ? ret : 0;
	if (!protocol_ok(s->protocol, &pname))
		return files_refuse(img, "fd %d: netlink protocol %u is not one cryo restores",
				    e->fd, s->protocol);
	if (s->type != SOCK_RAW && s->type != SOCK_DGRAM)
		return files_refuse(img, "fd %d: netlink socket type %u is invalid", e->fd,
				    s->type);
	/* a socket with groups or a destination was bound by the kernel if not by the program */
	if (s->has_portid ? !s->portid : s->n_groups || s->connected)
		return files_refuse(img, "fd %d: the netlink socket's port id is invalid", e->fd);
	if (s->n_groups > NL_GROUPS_MAX)
		return files_refuse(img, "fd %d: %zu netlink groups", e->fd, s->n_groups);
	for (size_t i = 0; i < s->n_groups; i++)
		if (!s->groups[i] || s->groups[i] > NL_GROUPS_MAX ||
		    (i && s->groups[i] <= s->groups[i - 1]))
			return files_refuse(img,
					    "fd %d: netlink group %u is invalid or not in order",
					    e->fd, s->groups[i]);
	if (s->has_dst_portid != s->connected || s->has_dst_group != s->connected ||
	    (s->has_connected && !s->connected) || s->dst_group > 32)
		return files_refuse(img, "fd %d: the netlink socket's destination is invalid",
				    e->fd);
	return sockopt_tab_validate_all(img, e->fd, TAB_NETLINK, s->uid, s->gid, s->opts, s->sopts,
					s->n_sopts);
}

const struct fd_ops fd_netlink_sk_ops = {
    .name = "a netlink socket",
    .names = "netlink sockets",
    .kind = FD_KIND__FD_NETLINK_SK,
    .recognise = netlink_sk_recognise,
    .dump = netlink_sk_dump,
    .restore = netlink_sk_restore,
    .validate = netlink_sk_validate,
};
