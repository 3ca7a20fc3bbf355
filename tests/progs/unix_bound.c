/* Named unix sockets, the way a small server and its clients use them:
 *
 *   R: the test (the client side), S: a server (a child) that holds
 *     lp: a stream socket listening on DIR/srv.sock (mode 0640, backlog 7)
 *     la: a seqpacket socket listening on an abstract name (backlog 3)
 *     ac: a connection S accepted from lp before the dump: R's end is rc; 3000 bytes
 *         R -> S and 11 bytes S -> R in flight
 *     dg: a datagram socket bound to DIR/dg.sock with 3 datagrams queued: 2 from R's
 *         unnamed socket cd, connected to it, and 1 from R's socket nd, bound to DIR/nd.sock
 *         and not connected
 *     rel: a datagram socket bound to the relative name "rel.sock" from DIR, S's working
 *         directory
 *   and R a client pc connected to lp that S did not accept yet (nothing sent on it)
 *
 * After the check: names (getsockname, getpeername), the socket files (mode), backlogs (a
 * listener's SO_ACCEPTCONN), the bytes and datagrams in flight byte for byte with their
 * boundaries and senders; S accepts pc's connection (first in lp's queue), on which R sends
 * now; then R connects anew to lp and la after the restore, S accepts
 * and answers on both, R sends a datagram to rel by its path. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum { S_R, S_S, NS };
enum { V_STEP = 0 };

static char dir[64], abs_name[64];
static int lp, la, ac, dg, rel, rc, cd, nd, pc;
static char buf[8192], want[8192];

static socklen_t path_addr(struct sockaddr_un *a, const char *file)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s/%s", dir, file);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1);
}

static socklen_t abs_addr(struct sockaddr_un *a)
{
	size_t n = strlen(abs_name + 1) + 1;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, abs_name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

static int bound(int type, struct sockaddr_un *a, socklen_t len)
{
	int fd = socket(AF_UNIX, type, 0);
	zt_check_sys(fd >= 0 && bind(fd, (struct sockaddr *)a, len) == 0, "bind");
	return fd;
}

static bool name_is(int fd, bool peer, const struct sockaddr_un *a, socklen_t len)
{
	struct sockaddr_un got;
	socklen_t glen = sizeof(got);
	int r = peer ? getpeername(fd, (struct sockaddr *)&got, &glen)
		     : getsockname(fd, (struct sockaddr *)&got, &glen);
	return r == 0 && glen == len && !memcmp(&got, a, len);
}

static ssize_t recv_wait(int fd, void *b, size_t len, struct sockaddr_un *from, socklen_t *flen)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 5000) != 1)
		return -1;
	return recvfrom(fd, b, len, MSG_DONTWAIT, (struct sockaddr *)from, flen);
}

static size_t read_full(int fd, void *b, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = recv_wait(fd, (char *)b + done, len - done, NULL, NULL);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

static int get_int(int fd, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);
	getsockopt(fd, SOL_SOCKET, opt, &v, &l);
	return v;
}

static int s_main(void)
{
	int s = S_S;
	struct sockaddr_un a, from;
	socklen_t len, flen;

	zt_tree_child();
	close(rc), close(cd), close(nd), close(pc);
	/* a relative name, bound from S's working directory */
	struct sockaddr_un ra = {.sun_family = AF_UNIX, .sun_path = "rel.sock"};
	if (chdir(dir) < 0)
		zt_tree_fail(s, "chdir: %m");
	rel = bound(SOCK_DGRAM, &ra, offsetof(struct sockaddr_un, sun_path) + 9);
	zt_tree_expect(s, name_is(rel, false, &ra, offsetof(struct sockaddr_un, sun_path) + 9),
		       "rel: its name before");
	zt_fill_pattern(want, 11, 5);
	if (send(ac, want, 11, 0) != 11)
		zt_tree_fail(s, "send ac: %m");
	zt_tree_ready(s, "S");
	zt_tree_wait_go();

	/* what it holds */
	len = path_addr(&a, "srv.sock");
	zt_tree_expect(s, name_is(lp, false, &a, len), "lp: its name");
	zt_tree_expect(s, name_is(ac, false, &a, len), "ac: not named after its listener");
	zt_tree_expect(s, get_int(lp, SO_ACCEPTCONN) == 1, "lp: not listening");
	len = abs_addr(&a);
	zt_tree_expect(s, name_is(la, false, &a, len), "la: its abstract name");
	zt_tree_expect(s, get_int(la, SO_ACCEPTCONN) == 1 && get_int(la, SO_TYPE) == SOCK_SEQPACKET,
		       "la: not a seqpacket listener");
	zt_fill_pattern(want, 3000, 4);
	zt_tree_expect(s, read_full(ac, buf, 3000) == 3000 && !memcmp(buf, want, 3000),
		       "ac: the 3000 bytes from R differ");
	/* the datagrams, each with its length and sender */
	static const size_t sizes[] = {10, 2000, 33};
	struct sockaddr_un nda;
	socklen_t ndlen = path_addr(&nda, "nd.sock");
	for (int i = 0; i < 3; i++) {
		flen = sizeof(from);
		ssize_t n = recv_wait(dg, buf, sizeof(buf), &from, &flen);
		zt_fill_pattern(want, sizes[i], 60 + i);
		zt_tree_expect(s, n == (ssize_t)sizes[i] && !memcmp(buf, want, sizes[i]),
			       "dg: datagram %d is %zd bytes, not %zu (or differs)", i, n,
			       sizes[i]);
		if (i < 2)
			zt_tree_expect(s, flen == 0,
				       "dg: datagram %d not from an unnamed socket (%u)", i, flen);
		else
			zt_tree_expect(s, flen == ndlen && !memcmp(&from, &nda, ndlen),
				       "dg: datagram 2 not from nd.sock");
	}
	/* the connection waiting since before the dump, then new clients */
	int c = -1;
	struct pollfd p = {.fd = lp, .events = POLLIN};
	if (zt_tree_expect(s, poll(&p, 1, 5000) == 1 && (c = accept(lp, NULL, NULL)) >= 0,
			   "lp: the waiting connection is gone: %m")) {
		zt_tree_expect(s, read_full(c, buf, 4) == 4 && !memcmp(buf, "late", 4),
			       "lp: the waiting client's late bytes");
		zt_tree_expect(s, send(c, "seen", 4, 0) == 4, "lp: answer: %m");
		close(c);
	}
	if (zt_tree_expect(s, poll(&p, 1, 5000) == 1 && (c = accept(lp, NULL, NULL)) >= 0,
			   "lp: no new client: %m")) {
		zt_tree_expect(s, read_full(c, buf, 5) == 5 && !memcmp(buf, "hello", 5),
			       "lp: the new client's hello");
		zt_tree_expect(s, send(c, "world", 5, 0) == 5, "lp: answer: %m");
		close(c);
	}
	p.fd = la;
	if (zt_tree_expect(s, poll(&p, 1, 5000) == 1 && (c = accept(la, NULL, NULL)) >= 0,
			   "la: no new client: %m")) {
		zt_tree_expect(
		    s, recv_wait(c, buf, sizeof(buf), NULL, NULL) == 3 && !memcmp(buf, "abs", 3),
		    "la: the new client's message");
		zt_tree_expect(s, send(c, "ok", 2, 0) == 2, "la: answer: %m");
		close(c);
	}
	zt_tree_expect(s, name_is(rel, false, &ra, offsetof(struct sockaddr_un, sun_path) + 9),
		       "rel: not named rel.sock");
	zt_tree_expect(s,
		       recv_wait(rel, buf, sizeof(buf), NULL, NULL) == 3 && !memcmp(buf, "rel", 3),
		       "rel: nothing reached it by its path");
	zt_tree_done(s);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	struct stat st;
	socklen_t len;
	pid_t srv;
	int status;

	zt_init(argc, argv);
	zt_tree_init(NS);
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/zt-unix-bound-%d", getpid());
	zt_check_sys(mkdir(dir, 0755) == 0, "mkdir");
	abs_name[0] = 0;
	snprintf(abs_name + 1, sizeof(abs_name) - 1, "zt-unix-abs-%d", getpid());

	len = path_addr(&a, "srv.sock");
	lp = bound(SOCK_STREAM, &a, len);
	zt_check_sys(chmod(a.sun_path, 0640) == 0 && listen(lp, 7) == 0, "lp");
	len = abs_addr(&a);
	la = bound(SOCK_SEQPACKET, &a, len);
	zt_check_sys(listen(la, 3) == 0, "la");
	len = path_addr(&a, "srv.sock");
	rc = socket(AF_UNIX, SOCK_STREAM, 0);
	zt_check_sys(rc >= 0 && connect(rc, (struct sockaddr *)&a, len) == 0, "connect rc");
	ac = accept(lp, NULL, NULL);
	zt_check_sys(ac >= 0, "accept");
	pc = socket(AF_UNIX, SOCK_STREAM, 0);
	zt_check_sys(pc >= 0 && connect(pc, (struct sockaddr *)&a, len) == 0, "connect pc");
	len = path_addr(&a, "dg.sock");
	dg = bound(SOCK_DGRAM, &a, len);
	cd = socket(AF_UNIX, SOCK_DGRAM, 0);
	zt_check_sys(cd >= 0 && connect(cd, (struct sockaddr *)&a, len) == 0, "connect cd");
	struct sockaddr_un nda;
	socklen_t ndlen = path_addr(&nda, "nd.sock");
	nd = bound(SOCK_DGRAM, &nda, ndlen);
	zt_fill_pattern(want, 10, 60);
	zt_check_sys(send(cd, want, 10, 0) == 10, "send cd");
	zt_fill_pattern(want, 2000, 61);
	zt_check_sys(send(cd, want, 2000, 0) == 2000, "send cd");
	zt_fill_pattern(want, 33, 62);
	zt_check_sys(sendto(nd, want, 33, 0, (struct sockaddr *)&a, len) == 33, "send nd");
	zt_fill_pattern(want, 3000, 4);
	zt_check_sys(send(rc, want, 3000, 0) == 3000, "send rc");

	fflush(NULL);
	srv = fork();
	if (srv == 0)
		_exit(s_main());
	zt_check_sys(srv > 0, "fork");
	close(lp), close(la), close(ac), close(dg);
	zt_tree_ready(S_R, "R");
	zt_tree_wait_ready();
	/* S's 11 bytes are in flight before the dump may come */
	for (int i = 0; i < 500 && recv(rc, buf, 11, MSG_PEEK | MSG_DONTWAIT) != 11; i++)
		usleep(10000);
	zt_ready();
	zt_wait_for_check();

	len = path_addr(&a, "srv.sock");
	zt_expect(name_is(rc, true, &a, len), "rc: its peer is not named srv.sock");
	zt_expect(stat(a.sun_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		      (st.st_mode & 07777) == 0640,
		  "srv.sock: mode %o", st.st_mode);
	zt_fill_pattern(want, 11, 5);
	zt_expect(read_full(rc, buf, 11) == 11 && !memcmp(buf, want, 11), "rc: S's 11 bytes");
	len = path_addr(&a, "dg.sock");
	zt_expect(name_is(cd, true, &a, len), "cd: not connected to dg.sock");
	zt_expect(name_is(nd, false, &nda, ndlen), "nd: its name");
	struct sockaddr_un rela;
	socklen_t rlen = path_addr(&rela, "rel.sock");

	zt_tree_go();
	zt_expect(send(pc, "late", 4, 0) == 4, "pc: send: %m");
	zt_expect(read_full(pc, buf, 4) == 4 && !memcmp(buf, "seen", 4), "pc: not accepted");
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	len = path_addr(&a, "srv.sock");
	if (zt_expect(c >= 0 && connect(c, (struct sockaddr *)&a, len) == 0,
		      "connect to srv.sock after the restore: %m")) {
		zt_expect(send(c, "hello", 5, 0) == 5, "send hello: %m");
		zt_expect(read_full(c, buf, 5) == 5 && !memcmp(buf, "world", 5), "no world");
	}
	close(c);
	c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	len = abs_addr(&a);
	if (zt_expect(c >= 0 && connect(c, (struct sockaddr *)&a, len) == 0,
		      "connect to the abstract name after the restore: %m")) {
		zt_expect(send(c, "abs", 3, 0) == 3, "send abs: %m");
		zt_expect(recv_wait(c, buf, sizeof(buf), NULL, NULL) == 2 && !memcmp(buf, "ok", 2),
			  "no ok");
	}
	close(c);
	zt_expect(sendto(nd, "rel", 3, 0, (struct sockaddr *)&rela, rlen) == 3,
		  "send to rel.sock: %m");
	zt_tree_collect();
	if (zt_tree_wait_done(S_S, 0)) {
		status = 0;
		zt_expect(zt_waitpid(srv, &status, 0) == srv && WIFEXITED(status) &&
			      !WEXITSTATUS(status),
			  "S: exit status %#x", status);
	}
	for (const char *f = "srv.sock\0dg.sock\0nd.sock\0rel.sock\0"; *f; f += strlen(f) + 1) {
		snprintf(buf, sizeof(buf), "%s/%s", dir, f);
		unlink(buf);
	}
	rmdir(dir);
	zt_pass();
}
