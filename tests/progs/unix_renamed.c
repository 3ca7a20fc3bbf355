/* Unix sockets whose socket file was renamed after bind, in the same directory, as haproxy
 * does for its stats socket (bind to NAME.PID.tmp, then rename to NAME, so that NAME always
 * names a live socket):
 *
 *   lp: a stream socket bound to WORK/srv.sock.tmp (absolute), file mode 0640, listening
 *       (backlog 5), its file then renamed to srv.sock; ac, cc: a connection made through
 *       srv.sock and accepted before the dump, "hello" in flight cc -> ac
 *   dg: a datagram socket bound to the relative name rel.tmp, renamed to rel.sock, with one
 *       datagram queued
 *
 * After the check: getsockname still says the names bound (the .tmp ones), the .tmp files
 * are not there, srv.sock and rel.sock are these sockets' files (mode kept): a new client
 * connects through srv.sock and lp accepts it, a datagram sent to rel.sock reaches dg, and
 * what was in flight comes back byte for byte. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char cwd[80];

static socklen_t addr(struct sockaddr_un *a, const char *dir, const char *file)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s%s%s", dir, *dir ? "/" : "", file);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1);
}

static bool name_is(int fd, const struct sockaddr_un *a, socklen_t len)
{
	struct sockaddr_un got;
	socklen_t glen = sizeof(got);
	return getsockname(fd, (struct sockaddr *)&got, &glen) == 0 && glen == len &&
	       !memcmp(&got, a, len);
}

static ssize_t recv_wait(int fd, void *b, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 5000) != 1)
		return -1;
	return recv(fd, b, len, MSG_DONTWAIT);
}

/* path is a socket file with mode (that it reaches the socket is checked by using it) */
static bool file_is(const char *path, mode_t mode)
{
	struct stat b;
	return lstat(path, &b) == 0 && S_ISSOCK(b.st_mode) && (b.st_mode & 07777) == mode;
}

int main(int argc, char **argv)
{
	struct sockaddr_un la, ra, a;
	socklen_t llen, rlen, len;
	int lp, ac, cc, dg, s;
	char buf[64];
	struct stat st;
	mode_t rel_mode;

	zt_init(argc, argv);
	zt_check_sys(getcwd(cwd, sizeof(cwd)), "getcwd");
	llen = addr(&la, cwd, "srv.sock.tmp");
	lp = socket(AF_UNIX, SOCK_STREAM, 0);
	zt_check_sys(lp >= 0 && bind(lp, (struct sockaddr *)&la, llen) == 0, "bind lp");
	zt_check_sys(chmod("srv.sock.tmp", 0640) == 0 && listen(lp, 5) == 0, "listen lp");
	zt_check_sys(rename("srv.sock.tmp", "srv.sock") == 0, "rename srv.sock.tmp");
	len = addr(&a, cwd, "srv.sock");
	cc = socket(AF_UNIX, SOCK_STREAM, 0);
	zt_check_sys(cc >= 0 && connect(cc, (struct sockaddr *)&a, len) == 0, "connect cc");
	zt_check_sys((ac = accept(lp, NULL, NULL)) >= 0, "accept");
	zt_check_sys(send(cc, "hello", 5, 0) == 5, "send cc");
	rlen = addr(&ra, "", "rel.tmp");
	dg = socket(AF_UNIX, SOCK_DGRAM, 0);
	zt_check_sys(dg >= 0 && bind(dg, (struct sockaddr *)&ra, rlen) == 0, "bind dg");
	zt_check_sys(rename("rel.tmp", "rel.sock") == 0, "rename rel.tmp");
	zt_check_sys(lstat("rel.sock", &st) == 0, "lstat rel.sock");
	rel_mode = st.st_mode & 07777;
	len = addr(&a, "", "rel.sock");
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	zt_check_sys(s >= 0 && sendto(s, "queued", 6, 0, (struct sockaddr *)&a, len) == 6,
		     "sendto rel.sock");
	close(s);
	zt_ready();
	zt_wait_for_check();

	zt_expect(name_is(lp, &la, llen), "lp: getsockname is not srv.sock.tmp");
	zt_expect(name_is(dg, &ra, rlen), "dg: getsockname is not rel.tmp");
	zt_expect(access("srv.sock.tmp", F_OK) < 0 && errno == ENOENT,
		  "srv.sock.tmp is there after the restore");
	zt_expect(access("rel.tmp", F_OK) < 0 && errno == ENOENT,
		  "rel.tmp is there after the restore");
	zt_expect(file_is("srv.sock", 0640), "srv.sock is not a socket file of mode 0640");
	zt_expect(file_is("rel.sock", rel_mode), "rel.sock is not a socket file of mode %#o",
		  rel_mode);
	zt_expect(recv_wait(ac, buf, sizeof(buf)) == 5 && !memcmp(buf, "hello", 5),
		  "ac: the bytes in flight");
	zt_expect(recv_wait(dg, buf, sizeof(buf)) == 6 && !memcmp(buf, "queued", 6),
		  "dg: the datagram queued");
	/* the names in use now reach these very sockets */
	len = addr(&a, cwd, "srv.sock");
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (zt_expect(s >= 0 && connect(s, (struct sockaddr *)&a, len) == 0,
		      "connect through srv.sock: %m")) {
		int n = accept(lp, NULL, NULL);
		zt_expect(n >= 0 && send(s, "new", 3, 0) == 3 && recv_wait(n, buf, 8) == 3 &&
			      !memcmp(buf, "new", 3),
			  "lp did not accept the new client");
	}
	len = addr(&a, "", "rel.sock");
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	zt_expect(sendto(s, "after", 5, 0, (struct sockaddr *)&a, len) == 5 &&
		      recv_wait(dg, buf, sizeof(buf)) == 5 && !memcmp(buf, "after", 5),
		  "a datagram to rel.sock did not reach dg");
	zt_pass();
}
