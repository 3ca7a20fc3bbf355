/* Peer credentials the restore cannot give back: the target of the refuse-unix-peercred case
 * (no-cryo). The test (root) listens on srv.sock as root, connects a client to it with the
 * effective ids uid 6161, gid 6262 (as a daemon's helper code might), accepts it, and closes
 * the listener: the client holds root's ids as its peer credentials, the accepted socket
 * 6161's. Made again, the two ends would be one socketpair, with one set of ids for both:
 * the dump must refuse, naming the ids. After the refused dump, both ends still hold their
 * ids and carry bytes both ways. */
// zt-run: no-cryo
#include "zt.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static int c, a;

static bool ids_are(int fd, uid_t uid, gid_t gid)
{
	struct ucred uc = {0};
	socklen_t len = sizeof(uc);
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && uc.pid == getpid() &&
	       uc.uid == uid && uc.gid == gid;
}

static void expect_talk(int from, int to, const char *msg)
{
	char buf[32] = "";
	struct pollfd p = {.fd = to, .events = POLLIN};
	size_t n = strlen(msg);
	zt_expect(write(from, msg, n) == (ssize_t)n && poll(&p, 1, 5000) == 1 &&
		      read(to, buf, sizeof(buf)) == (ssize_t)n && !memcmp(buf, msg, n),
		  "'%s' came back as '%s'", msg, buf);
}

int main(int argc, char **argv)
{
	struct sockaddr_un s = {.sun_family = AF_UNIX, .sun_path = "srv.sock"};
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof("srv.sock"));
	int lp;
	gid_t own[64];
	int n;

	zt_init(argc, argv);
	n = getgroups(64, own);
	zt_check_sys(n >= 0, "getgroups");
	unlink("srv.sock");
	lp = socket(AF_UNIX, SOCK_STREAM, 0);
	zt_check_sys(lp >= 0 && bind(lp, (struct sockaddr *)&s, len) == 0 &&
			 chmod("srv.sock", 0777) == 0 && listen(lp, 4) == 0,
		     "listen on srv.sock");
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	zt_check_sys(c >= 0, "socket");
	zt_check_sys(syscall(SYS_setgroups, 0, NULL) == 0 &&
			 syscall(SYS_setresgid, -1, 6262, -1) == 0 &&
			 syscall(SYS_setresuid, -1, 6161, -1) == 0,
		     "take uid 6161");
	zt_check_sys(connect(c, (struct sockaddr *)&s, len) == 0, "connect");
	zt_check_sys(syscall(SYS_setresuid, -1, 0, -1) == 0 &&
			 syscall(SYS_setresgid, -1, 0, -1) == 0 &&
			 syscall(SYS_setgroups, n, own) == 0,
		     "take root's ids back");
	a = accept(lp, NULL, NULL);
	zt_check_sys(a >= 0, "accept");
	close(lp); /* its socket file stays, as a server's often does */
	zt_check_sys(ids_are(c, 0, 0) && ids_are(a, 6161, 6262), "the ids as made");

	zt_ready();
	zt_wait_for_check();

	zt_expect(ids_are(c, 0, 0), "the client's peer credentials changed");
	zt_expect(ids_are(a, 6161, 6262), "the accepted socket's peer credentials changed");
	expect_talk(c, a, "to the server");
	expect_talk(a, c, "to the client");
	zt_pass();
}
