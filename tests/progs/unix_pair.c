/* Socket pairs between a process and its worker, the way programs talk to helpers:
 *
 *   R: the test, W: its worker (a child); each pair has one end in R and one in W.
 *   st: stream, 60000 bytes R -> W and 5000 bytes W -> R in flight (nobody read them yet);
 *       R's end has SO_SNDBUF 65536, SO_RCVTIMEO 2.5 s and SO_PEEK_OFF 0
 *   dg: datagrams, 3 in flight R -> W (1, 300, 4000 bytes) and 2 W -> R; W's end is
 *       O_NONBLOCK
 *   sp: seqpacket, 2 messages R -> W, 1 W -> R
 *   sh: stream, R sent "last" and shut its sending side down (SHUT_WR)
 *   op: an idle stream pair, R's end with SO_PASSCRED and SO_SNDTIMEO 1.5 s
 *   gone: R's end of a stream pair whose other end was closed after it sent "bye"
 *   bs: a stream pair whose end 0 both R and W hold (one description, inherited), end 1 R
 *       alone; R sent "to-both" on end 1
 *
 * After the check, every message is read and compared byte for byte, each datagram and
 * seqpacket message with its own length (boundaries kept), the queues are then empty, the
 * options and flags are as set, shutdown states show (EOF after "last", EPIPE writing into
 * sh from R, "bye" then EOF on gone), and each pair still works: W answers on st. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kcmp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

enum { S_R, S_W, NS };

#define ST_RW 60000
#define ST_WR 5000

static int st[2], dg[2], sp[2], sh[2], op[2], gone[2], bs[2];
static char buf[ST_RW], want[ST_RW];
static const size_t dg_rw[] = {1, 300, 4000}, dg_wr[] = {17, 2222};
static const size_t sp_rw[] = {100, 7}, sp_wr[] = {999};

/* Read exactly len bytes of a stream, waiting at most 5 s for each part. */
/* Each message of sizes[] with its own length and pattern seed base + i. */
static int check_msgs(int slot, int fd, const char *what, const size_t *sizes, int n, int base)
{
	for (int i = 0; i < n; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t got =
		    poll(&p, 1, 5000) == 1 ? recv(fd, buf, sizeof(buf), MSG_DONTWAIT) : -1;
		zt_fill_pattern(want, sizes[i], base + i);
		if (!zt_tree_expect(slot, got == (ssize_t)sizes[i] && !memcmp(buf, want, sizes[i]),
				    "%s: message %d is %zd bytes, not %zu (or differs)", what, i,
				    got, sizes[i]))
			return -1;
	}
	return zt_tree_expect(slot, zt_queue_empty(fd), "%s: more messages than sent", what) ? 0 : -1;
}

static void send_msgs(int fd, const size_t *sizes, int n, int base)
{
	for (int i = 0; i < n; i++) {
		zt_fill_pattern(want, sizes[i], base + i);
		zt_check_sys(send(fd, want, sizes[i], 0) == (ssize_t)sizes[i], "send");
	}
}

static int w_main(void)
{
	int s = S_W;
	char b[16];

	zt_tree_child();
	close(st[0]), close(dg[0]), close(sp[0]), close(sh[0]), close(op[0]), close(gone[0]);
	close(bs[1]);
	zt_fill_pattern(want, ST_WR, 2);
	if (write(st[1], want, ST_WR) != ST_WR)
		zt_tree_fail(s, "write st: %m");
	send_msgs(dg[1], dg_wr, 2, 20);
	send_msgs(sp[1], sp_wr, 1, 40);
	if (fcntl(dg[1], F_SETFL, O_NONBLOCK) < 0)
		zt_tree_fail(s, "O_NONBLOCK: %m");
	zt_tree_ready(s, "W");
	zt_tree_wait_go();

	zt_fill_pattern(want, ST_RW, 1);
	zt_tree_expect(s, (size_t)zt_read_full(st[1], buf, ST_RW) == ST_RW && !memcmp(buf, want, ST_RW),
		       "st: the %d bytes from R differ", ST_RW);
	zt_tree_expect(s, zt_queue_empty(st[1]), "st: more bytes than R sent");
	check_msgs(s, dg[1], "dg R->W", dg_rw, 3, 10);
	check_msgs(s, sp[1], "sp R->W", sp_rw, 2, 30);
	zt_tree_expect(s, fcntl(dg[1], F_GETFL) & O_NONBLOCK, "dg: W's end lost O_NONBLOCK");
	zt_tree_expect(s, (size_t)zt_read_full(sh[1], b, 4) == 4 && !memcmp(b, "last", 4), "sh: no last");
	zt_tree_expect(s, recv(sh[1], b, 1, 0) == 0, "sh: no end of file after R's SHUT_WR");
	zt_tree_expect(s, send(sh[1], "up", 2, MSG_NOSIGNAL) == 2, "sh: W cannot send: %m");
	/* and the pair still works */
	zt_tree_expect(s, send(st[1], "done", 4, MSG_NOSIGNAL) == 4, "st: answer: %m");
	zt_tree_expect(s, send(dg[1], "dgok", 4, 0) == 4, "dg: answer: %m");
	zt_tree_expect(s, (size_t)zt_read_full(bs[0], b, 7) == 7 && !memcmp(b, "to-both", 7),
		       "bs: W did not get R's to-both");
	zt_tree_expect(s, syscall(SYS_kcmp, getpid(), getppid(), KCMP_FILE, bs[0], bs[0]) == 0,
		       "bs: end 0 of W and R are not one description");
	zt_tree_expect(s, send(bs[0], "fromW", 5, 0) == 5, "bs: W cannot send: %m");
	zt_tree_done(s);
	return 0;
}

static int get_int(int fd, int opt)
{
	int v = -100;
	socklen_t len = sizeof(v);
	getsockopt(fd, SOL_SOCKET, opt, &v, &len);
	return v;
}

static long get_timeo_ms(int fd, int opt)
{
	struct timeval tv = {0};
	socklen_t len = sizeof(tv);
	getsockopt(fd, SOL_SOCKET, opt, &tv, &len);
	return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int main(int argc, char **argv)
{
	struct timeval tv = {2, 500000}, tv2 = {1, 500000};
	int one = 1, zero = 0, v = 65536;
	pid_t w;
	char b[16];

	zt_init(argc, argv);
	zt_tree_init(NS);
	signal(SIGPIPE, SIG_IGN);
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, st) == 0 &&
			 socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) == 0 &&
			 socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0 &&
			 socketpair(AF_UNIX, SOCK_STREAM, 0, sh) == 0 &&
			 socketpair(AF_UNIX, SOCK_STREAM, 0, op) == 0 &&
			 socketpair(AF_UNIX, SOCK_STREAM, 0, gone) == 0 &&
			 socketpair(AF_UNIX, SOCK_STREAM, 0, bs) == 0,
		     "socketpair");
	zt_check_sys(setsockopt(st[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) == 0 &&
			 setsockopt(st[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
			 setsockopt(st[0], SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) == 0 &&
			 setsockopt(op[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == 0 &&
			 setsockopt(op[0], SOL_SOCKET, SO_SNDTIMEO, &tv2, sizeof(tv2)) == 0,
		     "setsockopt");
	zt_check_sys(send(gone[1], "bye", 3, 0) == 3, "send gone");
	close(gone[1]);
	fflush(NULL);
	w = fork();
	if (w == 0)
		_exit(w_main());
	zt_check_sys(w > 0, "fork");
	close(st[1]), close(dg[1]), close(sp[1]), close(sh[1]), close(op[1]);
	zt_fill_pattern(want, ST_RW, 1);
	zt_check_sys(write(st[0], want, ST_RW) == ST_RW, "write st");
	send_msgs(dg[0], dg_rw, 3, 10);
	send_msgs(sp[0], sp_rw, 2, 30);
	zt_check_sys(send(sh[0], "last", 4, 0) == 4 && shutdown(sh[0], SHUT_WR) == 0, "sh");
	zt_check_sys(send(bs[1], "to-both", 7, 0) == 7, "bs");
	zt_tree_ready(S_R, "R");
	zt_tree_wait_ready();
	/* W's messages are in flight too before the dump may come */
	for (int i = 0; i < 500; i++) {
		int q = 0;
		if (recv(sp[0], b, 1, MSG_PEEK | MSG_DONTWAIT) == 1 &&
		    ioctl(st[0], FIONREAD, &q) == 0 && q == ST_WR)
			break;
		usleep(10000);
	}
	zt_ready();
	zt_wait_for_check();

	zt_expect(get_int(st[0], SO_SNDBUF) == 2 * v, "st: SO_SNDBUF %d",
		  get_int(st[0], SO_SNDBUF));
	zt_expect(get_timeo_ms(st[0], SO_RCVTIMEO) == 2500, "st: SO_RCVTIMEO %ld ms",
		  get_timeo_ms(st[0], SO_RCVTIMEO));
	zt_expect(get_int(st[0], SO_PEEK_OFF) == 0, "st: SO_PEEK_OFF %d",
		  get_int(st[0], SO_PEEK_OFF));
	zt_expect(get_int(dg[0], SO_PEEK_OFF) == -1, "dg: SO_PEEK_OFF %d",
		  get_int(dg[0], SO_PEEK_OFF));
	zt_expect(get_int(op[0], SO_PASSCRED) == 1, "op: SO_PASSCRED lost");
	zt_expect(get_int(st[0], SO_PASSCRED) == 0, "st: SO_PASSCRED set");
	zt_expect(get_timeo_ms(op[0], SO_SNDTIMEO) == 1500, "op: SO_SNDTIMEO %ld ms",
		  get_timeo_ms(op[0], SO_SNDTIMEO));
	zt_expect(!(fcntl(dg[0], F_GETFL) & O_NONBLOCK), "dg: R's end became O_NONBLOCK");
	struct sockaddr_un a;
	socklen_t alen = sizeof(a);
	zt_expect(getsockname(st[0], (struct sockaddr *)&a, &alen) == 0 &&
		      alen == sizeof(sa_family_t),
		  "st: R's end has a name (%u bytes)", alen);
	zt_expect(get_int(dg[0], SO_TYPE) == SOCK_DGRAM &&
		      get_int(sp[0], SO_TYPE) == SOCK_SEQPACKET,
		  "types");

	/* with SO_PEEK_OFF 0, a peek steps through the bytes */
	zt_fill_pattern(want, ST_WR, 2);
	zt_expect(recv(st[0], buf, 100, MSG_PEEK) == 100 && !memcmp(buf, want, 100) &&
		      recv(st[0], buf, 100, MSG_PEEK) == 100 && !memcmp(buf, want + 100, 100),
		  "st: peeks do not step");
	zt_expect((size_t)zt_read_full(st[0], buf, ST_WR) == ST_WR && !memcmp(buf, want, ST_WR),
		  "st: the %d bytes from W differ", ST_WR);
	zt_expect(zt_queue_empty(st[0]), "st: more bytes than W sent");
	check_msgs(S_R, dg[0], "dg W->R", dg_wr, 2, 20);
	check_msgs(S_R, sp[0], "sp W->R", sp_wr, 1, 40);
	errno = 0;
	zt_expect(send(sh[0], "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE,
		  "sh: R can send after SHUT_WR (%m)");
	zt_expect((size_t)zt_read_full(gone[0], b, 3) == 3 && !memcmp(b, "bye", 3), "gone: no bye");
	zt_expect(recv(gone[0], b, 1, 0) == 0, "gone: no end of file");

	zt_tree_go();
	zt_expect((size_t)zt_read_full(st[0], b, 4) == 4 && !memcmp(b, "done", 4), "st: no answer from W");
	zt_expect((size_t)zt_read_full(sh[0], b, 2) == 2 && !memcmp(b, "up", 2), "sh: nothing from W");
	struct pollfd p = {.fd = dg[0], .events = POLLIN};
	zt_expect(poll(&p, 1, 5000) == 1 && recv(dg[0], b, sizeof(b), 0) == 4 &&
		      !memcmp(b, "dgok", 4),
		  "dg: no answer from W");
	zt_expect((size_t)zt_read_full(bs[1], b, 5) == 5 && !memcmp(b, "fromW", 5), "bs: nothing from W");
	zt_tree_collect();
	zt_tree_expect_exit0(S_W, w, "W");
	zt_pass();
}
