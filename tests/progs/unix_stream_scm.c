/* Descriptors in flight (SCM_RIGHTS) on unix stream sockets, not received before the dump.
 * The kernel keeps a stream's bytes in the buffers they were sent in, and the descriptors of
 * a send with its first buffer: a read stops at the end of that buffer, and the read that
 * takes any byte of it gets the descriptors. So where each such buffer starts and ends must
 * come back, not only the bytes and the files.
 *
 *   st: a stream pair, the test holds both ends; sent on st[1], in this order:
 *       "xxhead-"   plain (the test read "xx" of it before the dump: a buffer half read)
 *       "PIPE"      the read end of a pipe (O_NONBLOCK), which only the queue holds (the
 *                   test keeps the write end), with "pipe-bytes" in the pipe
 *       "mid", "dle" plain, two sends
 *       "FILE!"     a regular file opened O_RDWR | O_APPEND at offset 7, only in flight
 *       "X"         an eventfd with count 9 only in flight, and a file the test holds too
 *       "tail"      plain
 *   ss: a stream pair whose end ss[0] is in its own queue: "pre" plain, then "self" with
 *       ss[0] (sent on ss[1]).
 *   bg: a stream pair with one send of 100000 bytes carrying the test's pipe write end: the
 *       kernel cuts it into buffers, the descriptor goes with the first (its length, the
 *       first read's, measured with a peek before the dump: 36544 here).
 *
 * After the check every read is a recvmsg with room for descriptors, and must return:
 * "head-" (5 asked: no descriptors, so their buffer starts after it), "P" with one (the
 * first byte of their buffer brings them), "IPEmiddleFILE!" with one (100 asked: the read
 * runs on across plain buffers into the next one with descriptors and stops at its end),
 * "X" with two although "tail" follows, then "tail" alone; on ss "pre" (3 asked: none) and
 * "self" with ss[0]'s own description; on bg a read of 200000 returns the first buffer's
 * bytes with the pipe's write end (the test's own), the next reads the rest without any. A buffer
 * with descriptors that came back starting or ending one byte off changes one of these reads. Each
 * file is checked: the pipe reads "pipe-bytes" and then what the test writes into its write end
 * now, and keeps O_NONBLOCK; the file only in flight is the same path, at offset 7, with O_APPEND;
 * the eventfd counts 9; the file the test holds and the socket are the test's own (kcmp). */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <linux/kcmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void send_fds(int fd, const char *d, const int *fds, int n)
{
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct iovec iov = {(void *)d, strlen(d)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.b, mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	zt_check_sys(sendmsg(fd, &mh, 0) == (ssize_t)strlen(d), d);
}

/* One read of at most room bytes: exactly want, with exactly n descriptors into fds. */
static void recv_fds(const char *what, int fd, size_t room, const char *want, int *fds, int n)
{
	char buf[128] = "";
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct iovec iov = {buf, room < sizeof(buf) ? room : sizeof(buf)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb)};
	int got = 0;
	ssize_t len = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	for (int i = 0; i < n; i++)
		fds[i] = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); len >= 0 && c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(c), (got < n ? got : n) * sizeof(int));
		}
	zt_expect(len == (ssize_t)strlen(want) && !memcmp(buf, want, strlen(want)),
		  "%s: read %zd bytes \"%.*s\", not \"%s\"", what, len, len > 0 ? (int)len : 0, buf,
		  want);
	zt_expect(got == n && !(mh.msg_flags & MSG_CTRUNC), "%s: %d descriptors, not %d", what, got,
		  n);
}

static char big[200000];

/* bytes of a stream until none is left: their count, every one 'b' */
static size_t drain(int fd)
{
	size_t total = 0;
	ssize_t n;
	while ((n = recv(fd, big, sizeof(big), MSG_DONTWAIT)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (big[i] != 'b')
				return 0;
		total += (size_t)n;
	}
	return total;
}

/* one read of up to 200000 bytes, all 'b': its length, its descriptors into fds (at most 1) */
static ssize_t read_big(int fd, int flags, int *nfds, int *fdout)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct iovec iov = {big, sizeof(big)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb)};
	memset(big, 0, sizeof(big));
	ssize_t n = recvmsg(fd, &mh, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	*nfds = 0, *fdout = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); n >= 0 && c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			*nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fdout, CMSG_DATA(c), sizeof(int));
		}
	for (ssize_t i = 0; i < n; i++)
		if (big[i] != 'b')
			return -2;
	return n;
}

static bool same(int a, int b)
{
	pid_t p = getpid();
	return a >= 0 && b >= 0 && syscall(SYS_kcmp, p, p, KCMP_FILE, a, b) == 0;
}

int main(int argc, char **argv)
{
	int st[2], ss[2], bg[2], pp[2], fds[2], nf, bf;
	char b[64] = "", path[PATH_MAX], want_path[PATH_MAX];

	zt_init(argc, argv);
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, st) == 0 &&
			 socketpair(AF_UNIX, SOCK_STREAM, 0, ss) == 0 &&
			 socketpair(AF_UNIX, SOCK_STREAM, 0, bg) == 0 && pipe(pp) == 0,
		     "socketpair, pipe");
	int rf = open("inflight-file", O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
	int held = open("held-file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int ev = eventfd(9, 0);
	zt_check_sys(rf >= 0 && held >= 0 && ev >= 0, "open, eventfd");
	zt_check_sys(write(rf, "0123456789abc", 13) == 13 && lseek(rf, 7, SEEK_SET) == 7,
		     "inflight-file");
	zt_check_sys(write(pp[1], "pipe-bytes", 10) == 10, "pipe");
	zt_check_sys(fcntl(pp[0], F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
	zt_check_sys(realpath("inflight-file", want_path) != NULL, "realpath");

	send_fds(st[1], "xxhead-", NULL, 0);
	zt_check_sys(recv(st[0], b, 2, 0) == 2 && !memcmp(b, "xx", 2), "read xx");
	send_fds(st[1], "PIPE", (int[]){pp[0]}, 1);
	send_fds(st[1], "mid", NULL, 0);
	send_fds(st[1], "dle", NULL, 0);
	send_fds(st[1], "FILE!", (int[]){rf}, 1);
	send_fds(st[1], "X", (int[]){ev, held}, 2);
	send_fds(st[1], "tail", NULL, 0);
	close(pp[0]), close(rf), close(ev);
	send_fds(ss[1], "pre", NULL, 0);
	send_fds(ss[1], "self", (int[]){ss[0]}, 1);
	memset(big, 'b', 100000);
	big[100000] = 0;
	send_fds(bg[1], big, (int[]){pp[1]}, 1);
	ssize_t first = read_big(bg[0], MSG_PEEK, &nf, &bf);
	zt_check_sys(first > 0 && first < 100000 && nf == 1, "bg: peek");
	close(bf);
	zt_ready();
	zt_wait_for_check();

	recv_fds("st 1", st[0], 5, "head-", fds, 0);
	recv_fds("st 2", st[0], 1, "P", fds, 1);
	int p0 = fds[0];
	recv_fds("st 3", st[0], 100, "IPEmiddleFILE!", fds, 1);
	int f = fds[0];
	recv_fds("st 4", st[0], 100, "X", fds, 2);
	int e = fds[0], h = fds[1];
	recv_fds("st 5", st[0], 100, "tail", fds, 0);
	int inq = -1;
	zt_expect(ioctl(st[0], SIOCINQ, &inq) == 0 && inq == 0, "st: %d bytes left", inq);

	memset(b, 0, sizeof(b));
	zt_expect(p0 >= 0 && read(p0, b, sizeof(b)) == 10 && !memcmp(b, "pipe-bytes", 10),
		  "pipe: read \"%s\"", b);
	zt_expect(write(pp[1], "now", 3) == 3 && read(p0, b, sizeof(b)) == 3 &&
		      !memcmp(b, "now", 3),
		  "pipe: not the test's pipe any more");
	zt_expect(p0 >= 0 && (fcntl(p0, F_GETFL) & O_NONBLOCK), "pipe: O_NONBLOCK lost");

	snprintf(b, sizeof(b), "/proc/self/fd/%d", f);
	ssize_t l = f >= 0 ? readlink(b, path, sizeof(path) - 1) : -1;
	path[l > 0 ? l : 0] = 0;
	zt_expect(!strcmp(path, want_path), "file: %s, not %s", path, want_path);
	zt_expect(f >= 0 && lseek(f, 0, SEEK_CUR) == 7, "file: offset %ld, not 7",
		  f >= 0 ? (long)lseek(f, 0, SEEK_CUR) : -1L);
	zt_expect(f >= 0 && (fcntl(f, F_GETFL) & O_ACCMODE) == O_RDWR &&
		      (fcntl(f, F_GETFL) & O_APPEND),
		  "file: flags %#x", f >= 0 ? fcntl(f, F_GETFL) : 0);
	memset(b, 0, sizeof(b));
	zt_expect(f >= 0 && read(f, b, sizeof(b)) == 6 && !memcmp(b, "789abc", 6),
		  "file: read \"%s\" from offset 7", b);

	uint64_t cnt = 0;
	zt_expect(e >= 0 && read(e, &cnt, 8) == 8 && cnt == 9, "eventfd: count %lu, not 9",
		  (unsigned long)cnt);
	zt_expect(same(h, held), "held-file: not the test's own description");

	recv_fds("ss 1", ss[0], 3, "pre", fds, 0);
	recv_fds("ss 2", ss[0], 100, "self", fds, 1);
	zt_expect(same(fds[0], ss[0]), "ss: the socket in its own queue is another one");

	ssize_t n = read_big(bg[0], 0, &nf, &bf);
	zt_expect(n == first && nf == 1,
		  "bg: first read %zd bytes with %d descriptors, not %zd with 1", n, nf, first);
	zt_expect(same(bf, pp[1]), "bg: not the test's pipe write end");
	size_t rest = drain(bg[0]);
	zt_expect(n > 0 && rest == (size_t)(100000 - n),
		  "bg: %zu bytes after the first read, not %zd", rest, 100000 - n);
	zt_pass();
}
