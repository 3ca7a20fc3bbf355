/* An established TCP connection with both ends in the tree, over loopback: the test listens,
 * a child connects and writes 4 MiB of a pattern in a blocking loop, the test does not read
 * (its receive buffer small: the child's window is full, its send queue holds bytes never
 * sent), and the test wrote 20000 bytes the child does not read yet. Before the child writes,
 * the test drops every packet of its own end to the child (an nftables table of its own,
 * removed at the check), so that the child sees no acknowledgement: its send queue also holds
 * bytes sent and not acknowledged, which the restored socket must send again. The listener
 * stays open beside the connection (on the same port) and takes a new one after the restore. After
 * the restore the test reads every byte of the 4 MiB and checks each, the child reads the test's
 * 20000 and checks them, then both exchange more (the test writes 5000 more, the child answers with
 * a checksum of everything it read) and the child exits 0 only if all was exact. */
// zt-run: gen2 tcp-established
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_BYTES (4u << 20)
#define TEST_BYTES 20000u
#define MORE_BYTES 5000u

static uint8_t pat(uint32_t i, uint32_t seed)
{
	return (uint8_t)((i * 2654435761u + seed) >> 13);
}

static int write_all(int fd, uint32_t n, uint32_t seed, uint32_t off)
{
	static uint8_t buf[65536];
	uint32_t done = 0;
	while (done < n) {
		uint32_t k = n - done < sizeof(buf) ? n - done : sizeof(buf);
		for (uint32_t i = 0; i < k; i++)
			buf[i] = pat(off + done + i, seed);
		ssize_t w = write(fd, buf, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (uint32_t)w;
	}
	return 0;
}

/* reads n bytes; the index of the first wrong byte, n if all were right, -1 on a failure */
static int64_t read_check(int fd, uint32_t n, uint32_t seed, uint32_t off)
{
	static uint8_t buf[65536];
	uint32_t done = 0;
	int64_t bad = n;
	while (done < n) {
		uint32_t k = n - done < sizeof(buf) ? n - done : sizeof(buf);
		ssize_t r = read(fd, buf, k);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		for (ssize_t i = 0; i < r && bad == n; i++)
			if (buf[i] != pat(off + done + (uint32_t)i, seed))
				bad = done + i;
		done += (uint32_t)r;
	}
	return bad;
}

static int child_main(int c, int go)
{
	uint32_t sum = 0;
	char b;
	if (read(go, &b, 1) != 1)
		return 14;
	if (write_all(c, CHILD_BYTES, 7, 0))
		return 10;
	if (read_check(c, TEST_BYTES, 9, 0) != TEST_BYTES)
		return 11;
	if (read_check(c, MORE_BYTES, 9, TEST_BYTES) != MORE_BYTES)
		return 12;
	for (uint32_t i = 0; i < TEST_BYTES + MORE_BYTES; i++)
		sum += pat(i, 9);
	if (write(c, &sum, sizeof(sum)) != sizeof(sum))
		return 13;
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int l, s, c, small = 16384, inq = 0, outq = 0, st;
	pid_t child;
	int go[2];
	char nft[400];

	zt_init(argc, argv);
	zt_check_sys(pipe(go) == 0, "pipe");
	l = socket(AF_INET, SOCK_STREAM, 0);
	zt_check_sys(l >= 0, "socket");
	/* the accepted socket inherits a small receive buffer: the child's window fills */
	zt_check_sys(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0, "RCVBUF");
	zt_check_sys(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0, "bind");
	zt_check_sys(listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&a, &alen) == 0,
		     "listen");
	child = fork();
	zt_check_sys(child >= 0, "fork");
	if (child == 0) {
		close(l);
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(20);
		_exit(child_main(c, go[0]));
	}
	s = accept(l, NULL, NULL);
	zt_check_sys(s >= 0, "accept");
	/* the listener stays, as a server's does: the connection shares its port */
	zt_check_sys(write_all(s, TEST_BYTES, 9, 0) == 0, "write");
	usleep(50000); /* taken in and acknowledged */
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	zt_check_sys(getpeername(s, (struct sockaddr *)&peer, &plen) == 0, "getpeername");
	snprintf(nft, sizeof(nft),
		 "nft 'add table inet zt-unacked-%d; add chain inet zt-unacked-%d out { type "
		 "filter hook output priority 0; }; add rule inet zt-unacked-%d out tcp sport %u "
		 "tcp dport %u drop'",
		 getpid(), getpid(), getpid(), ntohs(a.sin_port), ntohs(peer.sin_port));
	zt_check_sys(system(nft) == 0, "nft add (no acknowledgement for the child)");
	zt_check_sys(write(go[1], "g", 1) == 1, "go");
	/* until the child's window is full and bytes wait in its queue */
	for (int i = 0; i < 200; i++) {
		usleep(10000);
		ioctl(s, SIOCINQ, &inq);
		if (inq > 8000 && i > 30)
			break;
	}
	ioctl(s, SIOCOUTQ, &outq);
	zt_log("queued: %d to read here, %d not acknowledged by the child", inq, outq);
	zt_ready();
	zt_wait_for_check();
	snprintf(nft, sizeof(nft), "nft delete table inet zt-unacked-%d", getpid());
	zt_expect(system(nft) == 0, "cannot remove the test's own table");

	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	zt_expect(getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == 1,
		  "the connection is not ESTABLISHED (state %u)", ti.tcpi_state);
	len = sizeof(ti);
	zt_expect(getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == 10,
		  "the listener is not listening (state %u)", ti.tcpi_state);
	int c2 = socket(AF_INET, SOCK_STREAM, 0), s2 = -1;
	zt_expect(c2 >= 0 && connect(c2, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		      (s2 = accept(l, NULL, NULL)) >= 0 && write(c2, "n", 1) == 1 &&
		      read(s2, &ti, 1) == 1,
		  "the listener beside the connection takes no new one: %m");
	int64_t r = read_check(s, CHILD_BYTES, 7, 0);
	zt_expect(r == CHILD_BYTES, "the child's bytes: %s at %lld",
		  r < 0 ? "read failed" : "wrong", (long long)r);
	zt_expect(write_all(s, MORE_BYTES, 9, TEST_BYTES) == 0, "write after the restore: %m");
	uint32_t sum = 0, want = 0;
	for (uint32_t i = 0; i < TEST_BYTES + MORE_BYTES; i++)
		want += pat(i, 9);
	zt_expect(read(s, &sum, sizeof(sum)) == sizeof(sum) && sum == want,
		  "the child's checksum %#x, want %#x", sum, want);
	zt_expect(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the child ended with status %#x", st);
	char b;
	zt_expect(read(s, &b, 1) == 0, "no end of the connection after the child exited");
	zt_pass();
}
