/* Descriptors in flight (SCM_RIGHTS) in a unix socket's queue, sent by W (a child) to R (the
 * test) on a datagram pair, not received before the dump:
 *
 *   message "m0": the write end of a pipe W holds too, with "pipedata" in the pipe; a
 *        regular file at offset 5 that only the queue holds (W closed it); a memfd W holds,
 *        with "memfd!" in it; an eventfd with count 7 that only the queue holds
 *   message "m1": the same regular file again (one description: one offset), the read end
 *        of the pipe (W holds it too), a regular file W holds too, at offset 3, a memfd only
 *        the queue holds, with "only-in-flight" in it
 *   message "self": R's own receiving socket (W holds a copy), in its own queue
 *   seqpacket "sp": a socket of another pair of the tree (W holds it), whose peer R holds
 *   a cycle: R's ends ca[0] and cb[0] each in the other's queue ("ca", "cb", sent by W)
 *   "pq": the write end of a pipe whose read end W holds, with "before" in it, W closed its
 *        own write end (only the queue holds it)
 *   "tw": from R to W (W's socket: the file in flight is in W's image), an eventfd with
 *        count 3 that only the queue holds
 *
 * After the check R receives them all and checks: the pipe's bytes through the read end,
 * that both pipe ends, the memfd, the file W holds and the sockets are the very descriptions
 * W (or R) holds (kcmp), the offsets (both copies of the file only in flight are one
 * description, at 5; reading W's file moves W's offset), the eventfd's count, the memfd's
 * bytes; then W reads what R wrote into the pipe, and checks its file's offset moved. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { S_R, S_W, NS };

static int dg[2], sq[2], pr2[2], pp[2], ca[2], cb[2], tw[2], pq[2];
/* W's memfd and file, at numbers R knows */
static const int mfd = 100, rs = 101;

static void send_fds(int fd, const char *d, const int *fds, int n)
{
	char cb[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = {(void *)d, strlen(d)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cb,
			    .msg_controllen = CMSG_SPACE(n * sizeof(int))};
	memset(cb, 0, sizeof(cb));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	if (sendmsg(fd, &mh, 0) != (ssize_t)strlen(d))
		zt_fail("sendmsg %s: %m", d);
}

/* One message: exactly want, with n descriptors into fds (-1 for those missing). */
static void recv_fds(const char *what, int fd, const char *want, int *fds, int n)
{
	char buf[64];
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb)};
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int got = 0;
	ssize_t len =
	    poll(&p, 1, 5000) == 1 ? recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) : -1;
	for (int i = 0; i < n; i++)
		fds[i] = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); len >= 0 && c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(c), (got < n ? got : n) * sizeof(int));
		}
	zt_expect(len == (ssize_t)strlen(want) && !memcmp(buf, want, strlen(want)),
		  "%s: read %zd bytes, not \"%s\"", what, len, want);
	zt_expect(got == n && !(mh.msg_flags & MSG_CTRUNC), "%s: %d descriptors, not %d", what, got,
		  n);
}

static bool same(pid_t a, int fa, pid_t b, int fb)
{
	return fa >= 0 && fb >= 0 && syscall(SYS_kcmp, a, b, KCMP_FILE, fa, fb) == 0;
}

static int w_main(void)
{
	char b[16];
	zt_tree_child();
	close(sq[0]), close(pr2[1]), close(tw[1]);
	int rf = open("file", O_RDWR);
	int ev = eventfd(7, EFD_NONBLOCK);
	if (dup2(open("file2", O_RDONLY), rs) != rs ||
	    dup2(memfd_create("zt-inflight", 0), mfd) != mfd)
		zt_tree_fail(S_W, "setup: %m");
	if (rf < 0 || ev < 0 || lseek(rf, 5, SEEK_SET) != 5 || lseek(rs, 3, SEEK_SET) != 3 ||
	    write(mfd, "memfd!", 6) != 6 || write(pp[1], "pipedata", 8) != 8)
		zt_tree_fail(S_W, "setup: %m");
	send_fds(dg[1], "m0", (int[]){pp[1], rf, mfd, ev}, 4);
	int om = memfd_create("zt-only", 0);
	if (om < 0 || write(om, "only-in-flight", 14) != 14)
		zt_tree_fail(S_W, "memfd: %m");
	send_fds(dg[1], "m1", (int[]){rf, pp[0], rs, om}, 4);
	close(om);
	send_fds(dg[1], "self", (int[]){dg[0]}, 1);
	send_fds(sq[1], "sp", (int[]){pr2[0]}, 1);
	if (write(pq[1], "before", 6) != 6)
		zt_tree_fail(S_W, "pq: %m");
	send_fds(dg[1], "pq", (int[]){pq[1]}, 1);
	close(pq[1]);
	send_fds(ca[1], "ca", (int[]){cb[0]}, 1);
	send_fds(cb[1], "cb", (int[]){ca[0]}, 1);
	close(ca[0]), close(cb[0]);
	close(rf), close(ev);
	zt_tree_ready(S_W, "W");
	zt_tree_wait_go();
	int got[1];
	uint64_t cnt = 0;
	{
		char mb[8];
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} cbuf;
		struct iovec iov = {mb, sizeof(mb)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf.b,
				    .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *c;
		got[0] = -1;
		if (recvmsg(tw[0], &mh, MSG_DONTWAIT) == 2 && (c = CMSG_FIRSTHDR(&mh)) &&
		    c->cmsg_type == SCM_RIGHTS)
			memcpy(got, CMSG_DATA(c), sizeof(int));
		zt_tree_expect(S_W, got[0] >= 0 && read(got[0], &cnt, 8) == 8 && cnt == 3,
			       "W: tw: no eventfd with count 3 (%lu)", (unsigned long)cnt);
	}
	char pb[16] = "";
	zt_tree_expect(S_W, read(pq[0], pb, sizeof(pb)) == 8 && !memcmp(pb, "beforezz", 8),
		       "W: pq: read \"%.8s\", not beforezz", pb);
	zt_tree_expect(S_W, read(pq[0], pb, 1) == 0,
		       "W: pq: no end of file once R closed the end it received");
	struct pollfd p = {.fd = pp[0], .events = POLLIN};
	zt_tree_expect(S_W,
		       poll(&p, 1, 5000) == 1 && read(pp[0], b, 4) == 4 && !memcmp(b, "back", 4),
		       "W: the pipe does not bring R's bytes");
	zt_tree_expect(S_W, lseek(rs, 0, SEEK_CUR) == 5,
		       "W: its file's offset is %ld, not 5 (R read 2 bytes of it)",
		       (long)lseek(rs, 0, SEEK_CUR));
	zt_tree_done(S_W);
	return 0;
}

int main(int argc, char **argv)
{
	int f[8];
	char b[16];
	uint64_t cnt = 0;
	pid_t w;

	zt_init(argc, argv);
	zt_tree_init(NS);
	int fd = open("file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	zt_check_sys(fd >= 0 && write(fd, "0123456789", 10) == 10, "file");
	close(fd);
	fd = open("file2", O_RDWR | O_CREAT | O_TRUNC, 0600);
	zt_check_sys(fd >= 0 && write(fd, "abcdefghij", 10) == 10, "file2");
	close(fd);
	zt_check_sys(socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) == 0 &&
			 socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq) == 0 &&
			 socketpair(AF_UNIX, SOCK_STREAM, 0, pr2) == 0 && pipe(pp) == 0 &&
			 socketpair(AF_UNIX, SOCK_DGRAM, 0, ca) == 0 &&
			 socketpair(AF_UNIX, SOCK_DGRAM, 0, cb) == 0 &&
			 socketpair(AF_UNIX, SOCK_DGRAM, 0, tw) == 0 && pipe(pq) == 0,
		     "socketpair, pipe");
	int ev3 = eventfd(3, 0);
	zt_check_sys(ev3 >= 0, "eventfd");
	send_fds(tw[1], "tw", &ev3, 1);
	close(ev3);
	fflush(NULL);
	w = fork();
	if (w == 0)
		_exit(w_main());
	zt_check_sys(w > 0, "fork");
	close(dg[1]), close(sq[1]), close(pp[0]), close(pp[1]), close(pr2[0]), close(ca[1]),
	    close(cb[1]), close(tw[0]), close(pq[0]), close(pq[1]);
	zt_tree_wait_ready();
	zt_ready();
	zt_wait_for_check();

	/* W's descriptors, by their numbers there: the same as before the fork */
	recv_fds("m0", dg[0], "m0", f, 4);
	int pw = f[0], rf = f[1], mf = f[2], ev = f[3];
	recv_fds("m1", dg[0], "m1", f, 4);
	int rf2 = f[0], prd = f[1], rs2 = f[2], om = f[3];
	char link[64], path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", om);
	ssize_t ll = readlink(path, link, sizeof(link) - 1);
	link[ll > 0 ? ll : 0] = 0;
	zt_expect(!strncmp(link, "/memfd:zt-only", 14), "the memfd only in flight is %s", link);
	zt_expect(lseek(om, 0, SEEK_CUR) == 14, "the memfd only in flight is at %ld, not 14",
		  (long)lseek(om, 0, SEEK_CUR));
	zt_expect(pread(om, b, 14, 0) == 14 && !memcmp(b, "only-in-flight", 14) &&
		      lseek(om, 0, SEEK_END) == 14,
		  "the memfd only in flight lost its bytes");
	zt_expect(same(getpid(), pw, w, pp[1]), "the pipe's write end is not W's");
	zt_expect(same(getpid(), prd, w, pp[0]), "the pipe's read end is not W's");
	zt_expect(same(getpid(), rf, getpid(), rf2), "the file in flight twice is two files");
	zt_expect(lseek(rf, 0, SEEK_CUR) == 5, "the file in flight is at %ld, not 5",
		  (long)lseek(rf, 0, SEEK_CUR));
	zt_expect(read(rf2, b, 5) == 5 && !memcmp(b, "56789", 5) && lseek(rf, 0, SEEK_CUR) == 10,
		  "the file in flight does not read 56789, or its copies are not one");
	zt_expect((fcntl(rf, F_GETFL) & O_ACCMODE) == O_RDWR, "the file in flight is not O_RDWR");
	zt_expect(same(getpid(), mf, w, mfd), "the memfd is not W's");
	zt_expect(pread(mf, b, 6, 0) == 6 && !memcmp(b, "memfd!", 6), "the memfd lost its bytes");
	zt_expect(read(ev, &cnt, sizeof(cnt)) == sizeof(cnt) && cnt == 7,
		  "the eventfd's count is %lu, not 7", (unsigned long)cnt);
	zt_expect(fcntl(ev, F_GETFL) & O_NONBLOCK, "the eventfd lost O_NONBLOCK");
	zt_expect(same(getpid(), rs2, w, rs), "the file W holds is not W's");
	zt_expect(read(rs2, b, 2) == 2 && !memcmp(b, "de", 2), "W's file is not at its offset 3");
	zt_expect(read(prd, b, 8) == 8 && !memcmp(b, "pipedata", 8), "the pipe lost its bytes");
	zt_expect(write(pw, "back", 4) == 4, "cannot write into the pipe: %m");
	recv_fds("self", dg[0], "self", f, 1);
	zt_expect(same(getpid(), f[0], getpid(), dg[0]), "the socket in its own queue is another");
	recv_fds("sp", sq[0], "sp", f, 1);
	zt_expect(same(getpid(), f[0], w, pr2[0]), "the socket of the seqpacket is not W's");
	zt_expect(f[0] >= 0 && send(f[0], "x", 1, 0) == 1 && recv(pr2[1], b, 1, MSG_DONTWAIT) == 1,
		  "the socket received is not connected to its peer");
	recv_fds("pq", dg[0], "pq", f, 1);
	zt_expect(f[0] >= 0 && write(f[0], "zz", 2) == 2, "pq: cannot write into the pipe: %m");
	zt_expect((fcntl(f[0], F_GETFL) & O_ACCMODE) == O_WRONLY, "pq: not the write end");
	close(f[0]);
	recv_fds("ca", ca[0], "ca", f, 1);
	zt_expect(same(getpid(), f[0], getpid(), cb[0]), "ca: the socket in flight is not cb");
	recv_fds("cb", cb[0], "cb", f, 1);
	zt_expect(same(getpid(), f[0], getpid(), ca[0]), "cb: the socket in flight is not ca");
	errno = 0;
	zt_expect(recv(dg[0], b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN, "dg: more queued");

	zt_tree_go();
	zt_tree_collect();
	zt_tree_expect_exit0(S_W, w, "W");
	zt_pass();
}
