/* Socket pairs a child makes for its own worker, the way a server's child process sets up
 * its helpers (nsd's server children, socat's relays): the pairs' peer credentials
 * (SO_PEERCRED) name the child that made them, not the tree's root.
 *
 *   R: the test; M: its child, which makes the pairs; G: M's child, its worker.
 *   st: stream, 3000 bytes M -> G and 500 G -> M in flight
 *   dg: datagrams, 2 M -> G; 1 G -> M sent with SCM_CREDENTIALS (G's pid), which M's end
 *       (SO_PASSCRED) reads with them
 *   ids: stream, made while M had the effective ids 65534/65534 (then its own back): the
 *        credentials of both ends name those ids
 *   gone: M's end of a seqpacket pair whose other end sent "bye" and was closed
 *   bs: a stream pair whose end 0 M and G both hold (one description, inherited), end 1 M
 *   an epoll of G's registering M's end of gone, which G then closed (only M holds it)
 *
 * After the check: SO_PEERCRED of every end names M's pid with the ids it had when it made
 * the pair (SO_PEERGROUPS too), every byte and message arrives as sent, G's datagram with G's
 * pid, "bye" then end of file on gone, and each pair still works both ways.
 *
 * With UNIX_PAIR_CHILD_GIVE=1, M also sends one end of a pair it made to R over a pair R made
 * (SCM_RIGHTS), which R keeps: R holds a pair it did not make and is not below its maker,
 * which cryo cannot make again, so the dump must refuse it (the refuse-unix-maker case). */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <grp.h>
#include <stdio.h>
#include <unistd.h>

enum { S_R, S_M, S_G, NS };

#define ST_MG 3000
#define ST_GM 500
#define NOBODY 65534

static int st[2], dg[2], ids[2], gone[2], bs[2], ctl[2], given = -1;
static char buf[ST_MG], want[ST_MG];
static pid_t m_pid, g_pid;

/* SO_PEERCRED of fd names pid with uid and gid, and SO_PEERGROUPS has no group but gid's
 * own set as M had it (none: M dropped its groups before it made the pairs). */
static void expect_peer(int slot, int fd, const char *what, pid_t pid, uid_t uid, gid_t gid)
{
	struct ucred uc = {0};
	socklen_t len = sizeof(uc);
	gid_t groups[8];
	socklen_t glen = sizeof(groups);
	zt_tree_expect(slot, getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0,
		       "%s: SO_PEERCRED: %m", what);
	zt_tree_expect(slot, uc.pid == pid && uc.uid == uid && uc.gid == gid,
		       "%s: SO_PEERCRED pid %d uid %u gid %u, not pid %d uid %u gid %u", what,
		       uc.pid, uc.uid, uc.gid, pid, uid, gid);
	zt_tree_expect(slot, getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0,
		       "%s: SO_PEERGROUPS: %m", what);
	zt_tree_expect(slot, glen == 0, "%s: SO_PEERGROUPS has %u bytes, not none", what, glen);
}

static int g_main(void)
{
	int s = S_G;
	struct ucred uc = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
	char cb[CMSG_SPACE(sizeof(uc))] = {0}, b[16];
	struct iovec iov = {.iov_base = "g-hello", .iov_len = 7};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof(cb)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	/* M closed zt's descriptors already (zt_tree_child): their numbers are the pairs' now */
	close(st[0]), close(dg[0]), close(ids[0]), close(bs[1]);
	/* an epoll of G's watching M's end of gone, which only M holds then */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x60e};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, gone[0], &ev) < 0 || close(gone[0]) < 0)
		zt_tree_fail(s, "G's epoll: %m");
	c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_CREDENTIALS, c->cmsg_len = CMSG_LEN(sizeof(uc));
	memcpy(CMSG_DATA(c), &uc, sizeof(uc));
	zt_fill_pattern(want, ST_GM, 2);
	if (write(st[1], want, ST_GM) != ST_GM || sendmsg(dg[1], &mh, 0) != 7)
		zt_tree_fail(s, "G's sends: %m");
	zt_tree_ready(s, "G");
	zt_tree_wait_go();

	zt_fill_pattern(want, ST_MG, 1);
	zt_tree_expect(s, (size_t)zt_read_full(st[1], buf, ST_MG) == ST_MG && !memcmp(buf, want, ST_MG),
		       "st: the %d bytes from M differ", ST_MG);
	zt_tree_expect(s, zt_queue_empty(st[1]), "st: more bytes than M sent");
	for (int i = 0; i < 2; i++) {
		char w[8];
		snprintf(w, sizeof(w), "dg-%d", i);
		zt_tree_expect(s, recv(dg[1], b, sizeof(b), MSG_DONTWAIT) == 4 && !memcmp(b, w, 4),
			       "dg: datagram %d from M is not %s", i, w);
	}
	zt_tree_expect(s, zt_queue_empty(dg[1]), "dg: more datagrams than M sent");
	ev.data.u64 = 0;
	zt_tree_expect(s, epoll_wait(ep, &ev, 1, 2000) == 1 && ev.data.u64 == 0x60e,
		       "G's epoll does not report M's end of gone (data %#llx)",
		       (unsigned long long)ev.data.u64);
	expect_peer(s, st[1], "G's st", m_pid, 0, 0);
	expect_peer(s, dg[1], "G's dg", m_pid, 0, 0);
	expect_peer(s, ids[1], "G's ids", m_pid, NOBODY, NOBODY);
	expect_peer(s, bs[0], "G's bs", m_pid, 0, 0);
	zt_tree_expect(s, syscall(SYS_kcmp, getpid(), getppid(), KCMP_FILE, bs[0], bs[0]) == 0,
		       "bs: end 0 of G and M are not one description");
	zt_tree_expect(s, send(st[1], "g-st", 4, MSG_NOSIGNAL) == 4, "st: G cannot send: %m");
	zt_tree_expect(s, send(ids[1], "g-ids", 5, MSG_NOSIGNAL) == 5, "ids: G cannot send: %m");
	zt_tree_expect(s, send(bs[0], "g-bs", 4, MSG_NOSIGNAL) == 4, "bs: G cannot send: %m");
	zt_tree_expect(s, (size_t)zt_read_full(st[1], b, 4) == 4 && !memcmp(b, "m-st", 4),
		       "st: no answer from M");
	zt_tree_done(s);
	return 0;
}

static int m_main(void)
{
	int s = S_M, pair[2];
	char b[16];

	zt_tree_child();
	m_pid = getpid();
	close(ctl[0]);
	if (setgroups(0, NULL) < 0)
		zt_tree_fail(s, "setgroups: %m");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) || socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, gone) || socketpair(AF_UNIX, SOCK_STREAM, 0, bs))
		zt_tree_fail(s, "socketpair: %m");
	/* ids: made with other effective ids, then M's own back */
	if (setresgid(-1, NOBODY, -1) || setresuid(-1, NOBODY, -1) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ids) || setresuid(-1, 0, -1) ||
	    setresgid(-1, 0, -1))
		zt_tree_fail(s, "the ids pair: %m");
	int one = 1;
	if (setsockopt(dg[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)))
		zt_tree_fail(s, "SO_PASSCRED: %m");
	if (send(gone[1], "bye", 3, 0) != 3)
		zt_tree_fail(s, "send bye: %m");
	close(gone[1]);
	if (getenv("UNIX_PAIR_CHILD_GIVE")) {
		/* one end to R, which keeps it */
		char cb[CMSG_SPACE(sizeof(int))] = {0};
		struct iovec iov = {.iov_base = "fd", .iov_len = 2};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cb,
				    .msg_controllen = sizeof(cb)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair))
			zt_tree_fail(s, "socketpair: %m");
		c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pair[0], sizeof(int));
		if (sendmsg(ctl[1], &mh, 0) != 2)
			zt_tree_fail(s, "sendmsg: %m");
		close(pair[0]);
		given = pair[1];
	}
	g_pid = fork();
	if (g_pid == 0)
		_exit(g_main());
	if (g_pid < 0)
		zt_tree_fail(s, "fork: %m");
	close(st[1]), close(dg[1]), close(ids[1]);
	zt_fill_pattern(want, ST_MG, 1);
	if (write(st[0], want, ST_MG) != ST_MG || send(dg[0], "dg-0", 4, 0) != 4 ||
	    send(dg[0], "dg-1", 4, 0) != 4)
		zt_tree_fail(s, "M's sends: %m");
	zt_tree_ready(s, "M");
	zt_tree_wait_go();

	zt_fill_pattern(want, ST_GM, 2);
	zt_tree_expect(s, (size_t)zt_read_full(st[0], buf, ST_GM) == ST_GM && !memcmp(buf, want, ST_GM),
		       "st: the %d bytes from G differ", ST_GM);
	zt_tree_expect(s, (size_t)zt_read_full(st[0], b, 4) == 4 && !memcmp(b, "g-st", 4),
		       "st: no answer from G");
	zt_tree_expect(s, send(st[0], "m-st", 4, MSG_NOSIGNAL) == 4, "st: M cannot send: %m");
	/* G's datagram, with G's pid */
	struct ucred uc = {0};
	char cb[CMSG_SPACE(sizeof(uc))] = {0};
	struct iovec iov = {.iov_base = b, .iov_len = sizeof(b)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof(cb)};
	ssize_t n = recvmsg(dg[0], &mh, MSG_DONTWAIT);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_type == SCM_CREDENTIALS)
		memcpy(&uc, CMSG_DATA(c), sizeof(uc));
	zt_tree_expect(s, n == 7 && !memcmp(b, "g-hello", 7), "dg: G's datagram is %zd bytes", n);
	zt_tree_expect(s, uc.pid == g_pid && uc.uid == 0 && uc.gid == 0,
		       "dg: G's datagram came with pid %d uid %u gid %u, not pid %d", uc.pid,
		       uc.uid, uc.gid, g_pid);
	zt_tree_expect(s, zt_queue_empty(dg[0]), "dg: more datagrams than G sent");
	zt_tree_expect(s, recv(gone[0], b, sizeof(b), 0) == 3 && !memcmp(b, "bye", 3),
		       "gone: no bye");
	zt_tree_expect(s, recv(gone[0], b, sizeof(b), MSG_DONTWAIT) == 0,
		       "gone: no end of file after bye");
	zt_tree_expect(s, (size_t)zt_read_full(ids[0], b, 5) == 5 && !memcmp(b, "g-ids", 5),
		       "ids: no answer from G");
	zt_tree_expect(s, (size_t)zt_read_full(bs[1], b, 4) == 4 && !memcmp(b, "g-bs", 4),
		       "bs: no answer from G");
	expect_peer(s, st[0], "M's st", m_pid, 0, 0);
	expect_peer(s, dg[0], "M's dg", m_pid, 0, 0);
	expect_peer(s, ids[0], "M's ids", m_pid, NOBODY, NOBODY);
	expect_peer(s, gone[0], "M's gone", m_pid, 0, 0);
	expect_peer(s, bs[1], "M's bs", m_pid, 0, 0);
	zt_tree_expect_exit0(s, g_pid, "G");
	zt_tree_done(s);
	return 0;
}

int main(int argc, char **argv)
{
	pid_t m;

	zt_init(argc, argv);
	zt_tree_init(NS);
	zt_check_sys(socketpair(AF_UNIX, SOCK_DGRAM, 0, ctl) == 0, "socketpair ctl");
	fflush(NULL);
	m = fork();
	if (m == 0)
		_exit(m_main());
	zt_check_sys(m > 0, "fork");
	close(ctl[1]);
	if (getenv("UNIX_PAIR_CHILD_GIVE")) {
		char cb[CMSG_SPACE(sizeof(int))] = {0}, b[4];
		struct iovec iov = {.iov_base = b, .iov_len = sizeof(b)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cb,
				    .msg_controllen = sizeof(cb)};
		zt_check_sys(recvmsg(ctl[0], &mh, 0) == 2 && CMSG_FIRSTHDR(&mh), "recvmsg");
		memcpy(&given, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
		zt_log("given fd %d", given);
	}
	zt_tree_ready(S_R, "R");
	zt_tree_wait_ready();
	zt_ready();
	zt_wait_for_check();
	zt_tree_go();
	if (given >= 0) {
		struct ucred uc = {0};
		socklen_t len = sizeof(uc);
		zt_expect(getsockopt(given, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && uc.pid == m,
			  "the given end's SO_PEERCRED pid is %d, not M's %d", uc.pid, m);
	}
	zt_tree_collect();
	zt_tree_expect_exit0(S_M, m, "M");
	zt_pass();
}
