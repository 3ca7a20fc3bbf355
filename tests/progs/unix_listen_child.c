/* Listening unix sockets a child of the tree made, the way a service run under a wrapper or
 * a supervisor listens (the listener's peer credentials, SO_PEERCRED, name the process that
 * called listen(): the child).
 *
 *   R: the test; M: its child, which binds and listens:
 *   lp: a stream listener bound to a path (its socket file mode 0640), backlog 7
 *   la: a seqpacket listener bound to an abstract name
 *
 * After the check: both names are bound again, the file's mode kept; SO_PEERCRED of each
 * listener names M; R connects to each (a new connection): R's client socket holds M's
 * credentials, the connection M accepts holds R's, and a message goes both ways.
 *
 * With UNIX_LISTEN_CHILD_CONNECTED=1, R also connects to lp before the check and M accepts
 * (the connection stays open): a socket of the tree accepted from a listener a child made,
 * which the restore cannot make (the root makes its client before the child exists), so the
 * dump must refuse it (the refuse-unix-maker-listener case). */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum { S_R, S_M, NS };

static struct sockaddr_un ap = {.sun_family = AF_UNIX}, aa = {.sun_family = AF_UNIX};
static socklen_t aa_len;
static pid_t r_pid, m_pid;

static pid_t peer_pid(int fd)
{
	struct ucred uc = {0};
	socklen_t len = sizeof(uc);
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 ? uc.pid : -1;
}

/* M: accept one connection on l, check its credentials name R, echo one message */
static void serve(int s, int l, const char *what)
{
	struct pollfd p = {.fd = l, .events = POLLIN};
	int c = poll(&p, 1, 5000) == 1 ? accept(l, NULL, NULL) : -1;
	char b[16];
	if (!zt_tree_expect(s, c >= 0, "%s: no connection to accept: %m", what))
		return;
	zt_tree_expect(s, peer_pid(c) == r_pid, "%s: the accepted connection names pid %d, not R",
		       what, peer_pid(c));
	ssize_t n = zt_read_full(c, b, 5);
	zt_tree_expect(s, n == 5 && !memcmp(b, "hello", 5), "%s: no hello from R", what);
	zt_tree_expect(s, send(c, "olleh", 5, 0) == 5, "%s: cannot answer: %m", what);
	close(c);
}

static int m_main(void)
{
	int s = S_M, lp, la;
	struct stat st;

	zt_tree_child();
	m_pid = getpid();
	lp = socket(AF_UNIX, SOCK_STREAM, 0);
	la = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (lp < 0 || la < 0 || bind(lp, (struct sockaddr *)&ap, sizeof(ap)) < 0 ||
	    chmod(ap.sun_path, 0640) < 0 || listen(lp, 7) < 0 ||
	    bind(la, (struct sockaddr *)&aa, aa_len) < 0 || listen(la, 3) < 0)
		zt_tree_fail(s, "the listeners: %m");
	int held = -1;
	zt_tree_set(0, 1); /* listening */
	if (getenv("UNIX_LISTEN_CHILD_CONNECTED") && (held = accept(lp, NULL, NULL)) < 0)
		zt_tree_fail(s, "accept: %m");
	zt_tree_ready(s, "M");
	zt_tree_wait_go();
	if (held >= 0)
		close(held);

	zt_tree_expect(s, peer_pid(lp) == m_pid && peer_pid(la) == m_pid,
		       "the listeners' credentials name %d and %d, not M %d", peer_pid(lp),
		       peer_pid(la), m_pid);
	zt_tree_expect(s, stat(ap.sun_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
			      (st.st_mode & 07777) == 0640,
		       "the path's socket file: mode %o", st.st_mode);
	serve(s, lp, "lp");
	serve(s, la, "la");
	unlink(ap.sun_path);
	zt_tree_done(s);
	return 0;
}

/* R: connect to a listener of M's, check the client's credentials name M, talk */
static void client(struct sockaddr_un *a, socklen_t len, int type, const char *what)
{
	int c = socket(AF_UNIX, type, 0);
	char b[8];
	if (!zt_expect(c >= 0 && connect(c, (struct sockaddr *)a, len) == 0,
		       "%s: cannot connect: %m", what))
		return;
	zt_expect(peer_pid(c) == m_pid, "%s: the client's credentials name %d, not M %d", what,
		  peer_pid(c), m_pid);
	zt_expect(send(c, "hello", 5, 0) == 5, "%s: cannot send: %m", what);
	zt_expect(zt_read_full(c, b, 5) == 5 && !memcmp(b, "olleh", 5), "%s: no answer", what);
	close(c);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	zt_tree_init(NS);
	r_pid = getpid();
	snprintf(ap.sun_path, sizeof(ap.sun_path), "/tmp/zt-unix-listen-child-%d.sock", r_pid);
	unlink(ap.sun_path);
	int n = snprintf(aa.sun_path + 1, sizeof(aa.sun_path) - 1, "zt-unix-listen-child-%d", r_pid);
	aa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	fflush(NULL);
	pid_t m = fork();
	if (m == 0)
		_exit(m_main());
	zt_check_sys(m > 0, "fork");
	m_pid = m;
	int early = -1;
	if (getenv("UNIX_LISTEN_CHILD_CONNECTED")) {
		zt_check_sys(zt_tree_wait_var(0, 1, 5000), "M does not listen");
		early = socket(AF_UNIX, SOCK_STREAM, 0);
		zt_check_sys(early >= 0 && connect(early, (struct sockaddr *)&ap, sizeof(ap)) == 0,
			     "connect early");
	}
	zt_tree_ready(S_R, "R");
	zt_tree_wait_ready();
	zt_ready();
	zt_wait_for_check();
	zt_tree_go();
	client(&ap, sizeof(ap), SOCK_STREAM, "lp");
	client(&aa, aa_len, SOCK_SEQPACKET, "la");
	zt_tree_collect();
	zt_tree_expect_exit0(S_M, m, "M");
	zt_pass();
}
