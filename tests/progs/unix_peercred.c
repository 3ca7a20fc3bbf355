/* Peer credentials of unix sockets a server made while it ran with the ids of a service
 * user, the way a daemon started as root takes other effective ids for some of its work (as
 * postgres' postmaster, started by setpriv as the postgres user, holds its listener with
 * postgres' ids, which every client reads with SO_PEERCRED):
 *
 *   lp: a stream socket bound to srv.sock (as root), listening as uid 4242, gid 4343,
 *       groups 4444 17: what every client of it reads
 *   pr: a socket pair made as uid 5151, gid 5252, no groups
 *   c, a: a client connected to lp as uid 6161, gid 6262, group 6363, and the connection
 *       lp accepted (as root): a holds the client's ids, c the listener's
 *   then the test takes its own ids (root) back.
 *
 * After the check: SO_PEERCRED (pid: the test itself, uid, gid) and SO_PEERGROUPS of each
 * socket are as they were made; bytes go both ways on pr and on c/a; a new client of lp
 * reads lp's ids and lp accepts it, the accepted socket holding the test's own (root) ids;
 * and the test's own ids are root's. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

struct ids {
	uid_t uid;
	gid_t gid;
	size_t n;
	gid_t groups[4];
};

static const struct ids L_IDS = {4242, 4343, 2, {4444, 17}}, P_IDS = {5151, 5252, 0, {0}},
			C_IDS = {6161, 6262, 1, {6363}}, ROOT = {0, 0, 0, {0}};
static int lp, pr[2], c, a;
static gid_t own_groups[256];
static int own_n;

/* Effective ids of this thread only (nothing else runs here), as a daemon switches them. */
static void take(const struct ids *i)
{
	zt_check_sys(syscall(SYS_setgroups, i->n, i->groups) == 0 &&
			 syscall(SYS_setresgid, -1, i->gid, -1) == 0 &&
			 syscall(SYS_setresuid, -1, i->uid, -1) == 0,
		     "take the service ids");
}

static void back(void)
{
	zt_check_sys(syscall(SYS_setresuid, -1, 0, -1) == 0 &&
			 syscall(SYS_setresgid, -1, 0, -1) == 0 &&
			 syscall(SYS_setgroups, own_n, own_groups) == 0,
		     "take root's ids back");
}

static socklen_t srv_addr(struct sockaddr_un *s)
{
	memset(s, 0, sizeof(*s));
	s->sun_family = AF_UNIX;
	strcpy(s->sun_path, "srv.sock");
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof("srv.sock"));
}

static int cmp_gid(const void *x, const void *y)
{
	gid_t p = *(const gid_t *)x, q = *(const gid_t *)y;
	return p < q ? -1 : p > q;
}

static void expect_ids(const char *what, int fd, const struct ids *want)
{
	struct ucred uc = {0};
	socklen_t len = sizeof(uc);
	gid_t got[64], w[4];

	if (!zt_expect(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0,
		       "%s: SO_PEERCRED: %s", what, strerror(errno)))
		return;
	zt_expect(uc.pid == getpid() && uc.uid == want->uid && uc.gid == want->gid,
		  "%s: SO_PEERCRED pid %d uid %u gid %u, not pid %d uid %u gid %u", what, uc.pid,
		  uc.uid, uc.gid, getpid(), want->uid, want->gid);
	len = sizeof(got);
	if (!zt_expect(getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, got, &len) == 0,
		       "%s: SO_PEERGROUPS: %s", what, strerror(errno)))
		return;
	memcpy(w, want->groups, sizeof(w));
	qsort(w, want->n, sizeof(*w), cmp_gid);
	if (want == &ROOT) {
		zt_expect(len == own_n * sizeof(gid_t) && !memcmp(got, own_groups, len),
			  "%s: SO_PEERGROUPS has %zu groups, not the test's own %d", what,
			  len / sizeof(gid_t), own_n);
		return;
	}
	zt_expect(len == want->n * sizeof(gid_t) && !memcmp(got, w, len),
		  "%s: SO_PEERGROUPS has %zu groups (first %u), not %zu (first %u)", what,
		  len / sizeof(gid_t), len ? got[0] : 0, want->n, want->n ? w[0] : 0);
}

/* one message from -> to, read back whole */
static void expect_talk(const char *what, int from, int to, const char *msg)
{
	char buf[64] = "";
	struct pollfd p = {.fd = to, .events = POLLIN};
	size_t n = strlen(msg);
	zt_expect(write(from, msg, n) == (ssize_t)n && poll(&p, 1, 5000) == 1 &&
		      read(to, buf, sizeof(buf)) == (ssize_t)n && !memcmp(buf, msg, n),
		  "%s: '%s' came back as '%s'", what, msg, buf);
}

int main(int argc, char **argv)
{
	struct sockaddr_un s;
	socklen_t len;

	zt_init(argc, argv);
	if (geteuid() != 0) {
		zt_log("not root: nothing to switch");
		zt_ready();
		zt_wait_for_check();
		zt_pass();
	}
	own_n = getgroups(256, own_groups);
	zt_check_sys(own_n >= 0, "getgroups");
	qsort(own_groups, own_n, sizeof(*own_groups), cmp_gid);
	len = srv_addr(&s);
	unlink("srv.sock");
	lp = socket(AF_UNIX, SOCK_STREAM, 0);
	zt_check_sys(lp >= 0 && bind(lp, (struct sockaddr *)&s, len) == 0 &&
			 chmod("srv.sock", 0777) == 0,
		     "bind srv.sock");
	take(&L_IDS);
	zt_check_sys(listen(lp, 8) == 0, "listen");
	back();
	take(&P_IDS);
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, pr) == 0, "socketpair");
	back();
	take(&C_IDS);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	zt_check_sys(c >= 0 && connect(c, (struct sockaddr *)&s, len) == 0, "connect");
	back();
	a = accept(lp, NULL, NULL);
	zt_check_sys(a >= 0, "accept");
	/* the test's own view before any dump: the kernel does what this test says */
	expect_ids("lp before", lp, &L_IDS);
	expect_ids("c before", c, &L_IDS);
	expect_ids("a before", a, &C_IDS);
	if (zt_failures())
		zt_pass();

	zt_ready();
	zt_wait_for_check();

	uid_t r, e, sv;
	expect_ids("lp (the listener)", lp, &L_IDS);
	expect_ids("pr[0]", pr[0], &P_IDS);
	expect_ids("pr[1]", pr[1], &P_IDS);
	expect_ids("c (the client)", c, &L_IDS);
	expect_ids("a (accepted)", a, &C_IDS);
	expect_talk("pr 0 -> 1", pr[0], pr[1], "to one");
	expect_talk("pr 1 -> 0", pr[1], pr[0], "to zero");
	expect_talk("c -> a", c, a, "hello server");
	expect_talk("a -> c", a, c, "hello client");
	int n = socket(AF_UNIX, SOCK_STREAM, 0), na = -1;
	if (zt_expect(n >= 0 && connect(n, (struct sockaddr *)&s, len) == 0,
		      "a new client cannot connect to srv.sock: %s", strerror(errno))) {
		struct pollfd p = {.fd = lp, .events = POLLIN};
		na = poll(&p, 1, 5000) == 1 ? accept(lp, NULL, NULL) : -1;
		zt_expect(na >= 0, "lp does not accept a new client: %s", strerror(errno));
		expect_ids("a new client", n, &L_IDS);
		if (na >= 0) {
			expect_ids("the new accepted socket", na, &ROOT);
			expect_talk("new client -> accepted", n, na, "new");
		}
	}
	zt_expect(getresuid(&r, &e, &sv) == 0 && r == 0 && e == 0 && sv == 0,
		  "the test's own uids are %u %u %u, not root's", r, e, sv);
	zt_pass();
}
