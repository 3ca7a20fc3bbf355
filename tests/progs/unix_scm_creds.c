/* Credentials queued with unix socket messages (SCM_CREDENTIALS), as a receiver with
 * SO_PASSCRED gets them:
 *
 *   R: the test (the tree's root), W: its worker (a child), O: a child of R that sends and
 *   ends before the dump (a process outside the tree, whose pid nobody holds at restore).
 *   dg: datagrams into R's end, which has SO_PASSCRED: "o" from O, "r" from R, "w" from W,
 *       "p" from W claiming pid 1 (outside the tree, there at restore), uid 1234, gid 5678
 *   sq: seqpacket into R's end (SO_PASSCRED): "w" from W, "p" claiming pid 1
 *   st: stream into R's end (SO_PASSCRED): "o1" "o2" from O, "w1" from W, "p1" claiming pid 1
 *       uid 1234 gid 5678, "w2" from W: four reads, o1o2 w1 p1 w2 (the kernel stops a read
 *       where the credentials change)
 *   nc: a datagram "n" sent while neither end had SO_PASSCRED, R's end turned it on after:
 *       no credentials (pid 0, the overflow uid and gid)
 *   ns: a stream, "n1" "n2" sent without SO_PASSCRED anywhere, then "c1" from W after W's
 *       end turned SO_PASSCRED on (credentials attached); R's end turns it on only after the
 *       check: n1n2 without credentials, then c1 with W's
 *   lt: a datagram "l" from W's end, which has SO_PASSCRED (so it carries W's credentials);
 *       R's end has none until after the check (the dump must leave it off)
 *
 * After the check each message is received and its bytes, length and credentials compared.
 */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

enum { S_R, S_W, NS };

static int dg[2], sq[2], st[2], nc[2], ns[2], lt[2];
static pid_t opid;
static unsigned ovuid, ovgid;

static void sendc(int fd, const char *d, pid_t pid, uid_t uid, gid_t gid)
{
	char cb[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {(void *)d, strlen(d)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (pid) {
		struct ucred uc = {pid, uid, gid};
		memset(cb, 0, sizeof(cb));
		mh.msg_control = cb, mh.msg_controllen = sizeof(cb);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(uc));
		memcpy(CMSG_DATA(c), &uc, sizeof(uc));
	}
	if (sendmsg(fd, &mh, 0) != (ssize_t)strlen(d))
		zt_fail("send %s: %m", d);
}

/* One read of up to 64 bytes: exactly want, with these credentials (pid 0 with the
 * overflow ids: none). */
static void expect_msg(const char *what, int fd, const char *want, pid_t pid, uid_t uid, gid_t gid)
{
	char buf[64], cb[256];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof(cb)};
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct ucred uc = {-1, (uid_t)-1, (gid_t)-1};
	ssize_t n = poll(&p, 1, 5000) == 1 ? recvmsg(fd, &mh, MSG_DONTWAIT) : -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); n >= 0 && c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
	zt_expect(n == (ssize_t)strlen(want) && !memcmp(buf, want, strlen(want)),
		  "%s: read %zd bytes \"%.*s\", not \"%s\"", what, n, n > 0 ? (int)n : 0, buf,
		  want);
	zt_expect(uc.pid == pid && uc.uid == uid && uc.gid == gid,
		  "%s \"%s\": credentials pid %d uid %d gid %d, not pid %d uid %d gid %d", what,
		  want, uc.pid, (int)uc.uid, (int)uc.gid, pid, (int)uid, (int)gid);
}

static void expect_empty(const char *what, int fd)
{
	char c;
	errno = 0;
	zt_expect(recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) < 0 && errno == EAGAIN,
		  "%s: more queued than was sent", what);
}

static int get_int(int fd, int opt)
{
	int v = -100;
	socklen_t len = sizeof(v);
	getsockopt(fd, SOL_SOCKET, opt, &v, &len);
	return v;
}

static void set_cred(int fd, int on)
{
	zt_check_sys(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == 0, "SO_PASSCRED");
}

static unsigned read_id(const char *path)
{
	char b[32];
	return zt_read_file(path, b, sizeof(b)) > 0 ? (unsigned)strtoul(b, NULL, 10) : 65534;
}

int main(int argc, char **argv)
{
	pid_t w, me;
	int status;

	zt_init(argc, argv);
	zt_tree_init(NS);
	me = getpid();
	ovuid = read_id("/proc/sys/kernel/overflowuid");
	ovgid = read_id("/proc/sys/kernel/overflowgid");
	zt_check_sys(socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) == 0 &&
			 socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq) == 0 &&
			 socketpair(AF_UNIX, SOCK_STREAM, 0, st) == 0 &&
			 socketpair(AF_UNIX, SOCK_DGRAM, 0, nc) == 0 &&
			 socketpair(AF_UNIX, SOCK_STREAM, 0, ns) == 0 &&
			 socketpair(AF_UNIX, SOCK_DGRAM, 0, lt) == 0,
		     "socketpair");
	set_cred(dg[0], 1), set_cred(sq[0], 1), set_cred(st[0], 1);
	fflush(NULL);
	opid = fork();
	if (opid == 0) {
		sendc(dg[1], "o", 0, 0, 0);
		sendc(st[1], "o1", 0, 0, 0);
		sendc(st[1], "o2", 0, 0, 0);
		_exit(0);
	}
	zt_check_sys(opid > 0 && waitpid(opid, &status, 0) == opid && status == 0, "O");
	sendc(dg[1], "r", 0, 0, 0);
	w = fork();
	if (w == 0) {
		zt_tree_child();
		close(dg[0]), close(sq[0]), close(st[0]), close(nc[0]), close(ns[0]), close(lt[0]);
		pid_t self = getpid();
		sendc(dg[1], "w", 0, 0, 0);
		sendc(dg[1], "p", 1, 1234, 5678);
		sendc(sq[1], "w", 0, 0, 0);
		sendc(sq[1], "p", 1, 0, 0);
		sendc(st[1], "w1", 0, 0, 0);
		sendc(st[1], "p1", 1, 1234, 5678);
		sendc(st[1], "w2", self, 0, 0);
		sendc(nc[1], "n", 0, 0, 0);
		sendc(ns[1], "n1", 0, 0, 0);
		sendc(ns[1], "n2", 0, 0, 0);
		set_cred(ns[1], 1);
		sendc(ns[1], "c1", 0, 0, 0);
		set_cred(lt[1], 1);
		sendc(lt[1], "l", 0, 0, 0);
		zt_tree_ready(S_W, "W");
		zt_tree_wait_go();
		zt_tree_done(S_W);
		_exit(0);
	}
	zt_check_sys(w > 0, "fork");
	close(dg[1]), close(sq[1]), close(st[1]), close(nc[1]), close(ns[1]), close(lt[1]);
	zt_tree_wait_ready();
	set_cred(nc[0], 1);
	zt_ready();
	zt_wait_for_check();

	zt_expect(get_int(lt[0], SO_PASSCRED) == 0, "lt: R's end has SO_PASSCRED");
	zt_expect(get_int(ns[0], SO_PASSCRED) == 0, "ns: R's end has SO_PASSCRED");
	zt_expect(get_int(dg[0], SO_PASSCRED) == 1 && get_int(nc[0], SO_PASSCRED) == 1,
		  "dg, nc: R's end lost SO_PASSCRED");
	expect_msg("dg", dg[0], "o", opid, 0, 0);
	expect_msg("dg", dg[0], "r", me, 0, 0);
	expect_msg("dg", dg[0], "w", w, 0, 0);
	expect_msg("dg", dg[0], "p", 1, 1234, 5678);
	expect_empty("dg", dg[0]);
	expect_msg("sq", sq[0], "w", w, 0, 0);
	expect_msg("sq", sq[0], "p", 1, 0, 0);
	expect_empty("sq", sq[0]);
	expect_msg("st", st[0], "o1o2", opid, 0, 0);
	expect_msg("st", st[0], "w1", w, 0, 0);
	expect_msg("st", st[0], "p1", 1, 1234, 5678);
	expect_msg("st", st[0], "w2", w, 0, 0);
	expect_empty("st", st[0]);
	expect_msg("nc", nc[0], "n", 0, ovuid, ovgid);
	expect_empty("nc", nc[0]);
	set_cred(ns[0], 1), set_cred(lt[0], 1);
	expect_msg("ns", ns[0], "n1n2", 0, ovuid, ovgid);
	expect_msg("ns", ns[0], "c1", w, 0, 0);
	expect_empty("ns", ns[0]);
	expect_msg("lt", lt[0], "l", w, 0, 0);
	expect_empty("lt", lt[0]);

	zt_tree_go();
	zt_tree_collect();
	zt_tree_expect_exit0(S_W, w, "W");
	zt_pass();
}
