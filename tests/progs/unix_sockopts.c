/* Socket options a program sets on a unix socket, beyond buffers and timeouts: SO_PRIORITY,
 * SO_RCVLOWAT and SO_TIMESTAMP (the receiver then gets each datagram's arrival time) on one
 * end with nothing queued (a queued datagram's arrival time cannot be given back: such a
 * queue is refused), each read back after the restore, and SO_TIMESTAMP still working.
 * And a classic BPF filter on a unix socket, as a program that caps what a peer may hand it: a
 * datagram socket pair whose receiving end keeps only the first 4 bytes of each datagram
 * (the filter returns 4), locked (SO_LOCK_FILTER), with one datagram already queued (cut by
 * the filter when it arrived). After the restore: the queued datagram is still the 4 bytes,
 * a new 10-byte datagram arrives cut to 4, the socket reads back the same program and the
 * lock, and a new filter cannot be attached. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

static struct sock_filter keep4[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
    BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 4, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 4),
    BPF_STMT(BPF_RET | BPF_A, 0),
};

int main(int argc, char **argv)
{
	int sv[2], one = 1;
	char buf[64];

	zt_init(argc, argv);
	zt_check_sys(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "socketpair");
	struct sock_fprog prog = {.len = sizeof(keep4) / sizeof(keep4[0]), .filter = keep4};
	zt_check_sys(setsockopt(sv[1], SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0,
		     "SO_ATTACH_FILTER");
	zt_check_sys(setsockopt(sv[1], SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)) == 0,
		     "SO_LOCK_FILTER");
	int prio = 5, lowat = 3;
	zt_check_sys(setsockopt(sv[0], SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio)) == 0,
		     "SO_PRIORITY");
	zt_check_sys(setsockopt(sv[0], SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) == 0,
		     "SO_RCVLOWAT");
	zt_check_sys(setsockopt(sv[0], SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one)) == 0,
		     "SO_TIMESTAMP");
	zt_check_sys(send(sv[0], "before-the-dump", 15, 0) == 15, "send");
	zt_ready();
	zt_wait_for_check();

	int v = 0;
	socklen_t vl = sizeof(v);
	zt_expect(getsockopt(sv[0], SOL_SOCKET, SO_PRIORITY, &v, &vl) == 0 && v == 5,
		  "SO_PRIORITY is %d, not 5", v);
	vl = sizeof(v);
	zt_expect(getsockopt(sv[0], SOL_SOCKET, SO_RCVLOWAT, &v, &vl) == 0 && v == 3,
		  "SO_RCVLOWAT is %d, not 3", v);
	vl = sizeof(v);
	zt_expect(getsockopt(sv[0], SOL_SOCKET, SO_TIMESTAMP, &v, &vl) == 0 && v == 1,
		  "SO_TIMESTAMP is %d, not 1", v);

	ssize_t n = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
	zt_expect(n == 4 && !memcmp(buf, "befo", 4), "the queued datagram: %zd bytes '%.*s'", n,
		  n > 0 ? (int)n : 0, buf);
	zt_expect(send(sv[0], "0123456789", 10, 0) == 10, "send after: %m");
	n = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
	zt_expect(n == 4 && !memcmp(buf, "0123", 4),
		  "the new datagram: %zd bytes (the filter lost?)", n);
	/* the other way, with its arrival time, as SO_TIMESTAMP asks */
	char cbuf[CMSG_SPACE(sizeof(struct timeval))];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	zt_expect(send(sv[1], "back", 4, 0) == 4, "send back: %m");
	n = recvmsg(sv[0], &mh, MSG_DONTWAIT);
	struct cmsghdr *c = n == 4 ? CMSG_FIRSTHDR(&mh) : NULL;
	zt_expect(c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMP,
		  "the datagram back came without its SO_TIMESTAMP time (%zd bytes)", n);
	struct sock_filter got[8];
	socklen_t len = 8;
	zt_expect(getsockopt(sv[1], SOL_SOCKET, SO_GET_FILTER, got, &len) == 0 && len == prog.len &&
		      !memcmp(got, keep4, sizeof(keep4)),
		  "SO_GET_FILTER: %u instructions", len);
	int lock = 0;
	socklen_t ll = sizeof(lock);
	zt_expect(getsockopt(sv[1], SOL_SOCKET, SO_LOCK_FILTER, &lock, &ll) == 0 && lock == 1,
		  "SO_LOCK_FILTER is %d", lock);
	zt_expect(setsockopt(sv[1], SOL_SOCKET, SO_DETACH_FILTER, &one, sizeof(one)) < 0 &&
		      errno == EPERM,
		  "the locked filter could be detached");
	len = 8;
	zt_expect(getsockopt(sv[0], SOL_SOCKET, SO_GET_FILTER, got, &len) == 0 && len == 0,
		  "the sending end has a filter of %u instructions", len);
	zt_pass();
}
