/* A NETLINK_AUDIT socket as libaudit's audit_open() leaves one in dbus-daemon, sshd or login:
 * a client of the kernel's audit (not the audit daemon), bound to a port of the kernel's
 * choice, which asked AUDIT_GET once. After the restore it has the same port id, and
 * AUDIT_GET on it is answered as before: with the kernel's audit status, to that port (or, in
 * a pid namespace of its own, where the kernel answers no audit request, refused the same
 * way). */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* AUDIT_GET on sk: 0 with the status's pid field read, or -errno */
static int audit_get(int sk, unsigned seq, unsigned *portid_to)
{
	struct {
		struct nlmsghdr h;
	} req = {{.nlmsg_len = NLMSG_LENGTH(0),
		  .nlmsg_type = AUDIT_GET,
		  .nlmsg_flags = NLM_F_REQUEST,
		  .nlmsg_seq = seq}};
	union {
		struct nlmsghdr h;
		char buf[1024];
	} ans;
	struct sockaddr_nl k = {.nl_family = AF_NETLINK};
	if (sendto(sk, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&k, sizeof(k)) < 0)
		return -errno;
	for (int i = 0; i < 4; i++) {
		ssize_t n = recv(sk, &ans, sizeof(ans), 0);
		if (n < 0)
			return -errno;
		if (ans.h.nlmsg_seq != seq)
			continue;
		*portid_to = ans.h.nlmsg_pid;
		if (ans.h.nlmsg_type == AUDIT_GET)
			return 0;
		if (ans.h.nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(&ans.h);
			if (e->error)
				return e->error;
		}
	}
	return -EIO;
}

static unsigned portid(int sk)
{
	struct sockaddr_nl a = {0};
	socklen_t len = sizeof(a);
	return getsockname(sk, (struct sockaddr *)&a, &len) == 0 ? a.nl_pid : 0;
}

int main(int argc, char **argv)
{
	unsigned to;
	struct timeval tv = {.tv_sec = 3};

	zt_init(argc, argv);
	int sk = socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
	zt_check_sys(sk >= 0, "NETLINK_AUDIT socket");
	zt_check_sys(setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0, "timeout");
	struct sockaddr_nl any = {.nl_family = AF_NETLINK};
	zt_check_sys(bind(sk, (struct sockaddr *)&any, sizeof(any)) == 0, "bind");
	int before = audit_get(sk, 1, &to);
	if (before && before != -EPERM && before != -ECONNREFUSED)
		zt_fail("AUDIT_GET before the dump: %s", strerror(-before));
	if (before)
		zt_log("AUDIT_GET is refused here (%s): a pid namespace of its own?",
		       strerror(-before));
	unsigned port = portid(sk);
	zt_check_sys(port != 0, "the kernel's port for the socket");
	zt_ready();
	zt_wait_for_check();

	zt_expect(portid(sk) == port, "port id %u, not %u", portid(sk), port);
	to = 0;
	int after = audit_get(sk, 2, &to);
	zt_expect(after == before, "AUDIT_GET after the restore: %s (before: %s)",
		  after ? strerror(-after) : "answered", before ? strerror(-before) : "answered");
	zt_pass();
}
