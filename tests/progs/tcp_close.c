/* --tcp-close: an established connection of the tree (the test connected to its own listener,
 * both ends in this process, 300 bytes queued each way) is not saved. After a restore both ends
 * are TCP sockets whose connection ended: TCP_INFO state CLOSE, a read gives 0 or an error
 * (never the queued bytes), a write fails. After a dump -R (the tree was never stopped for
 * good) the connection is still established and carries the queued bytes both ways. A mix
 * (one end closed, the other established) fails. */
// zt-run: gen2 tcp-close
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int state_of(int sk)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -1;
	return ti.tcpi_state;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	char m1[300], m2[300], buf[400];
	int l, c, s;

	zt_init(argc, argv);
	memset(m1, 'a', sizeof(m1));
	memset(m2, 'b', sizeof(m2));
	l = socket(AF_INET, SOCK_STREAM, 0);
	zt_check_sys(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 &&
			 listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&a, &alen) == 0,
		     "listen");
	c = socket(AF_INET, SOCK_STREAM, 0);
	zt_check_sys(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0, "connect");
	s = accept(l, NULL, NULL);
	zt_check_sys(s >= 0, "accept");
	close(l);
	zt_check_sys(write(c, m1, sizeof(m1)) == sizeof(m1) &&
			 write(s, m2, sizeof(m2)) == sizeof(m2),
		     "write");
	usleep(20000);
	zt_ready();
	zt_wait_for_check();

	int sc = state_of(c), ss = state_of(s);
	zt_log("states after: %d %d", sc, ss);
	if (sc == 1 && ss == 1) {
		/* dump -R: the connection went on */
		zt_expect(recv(s, buf, sizeof(buf), MSG_DONTWAIT) == sizeof(m1) &&
			      !memcmp(buf, m1, 300),
			  "the listener's end lost its queued bytes");
		zt_expect(recv(c, buf, sizeof(buf), MSG_DONTWAIT) == sizeof(m2) &&
			      !memcmp(buf, m2, 300),
			  "the client's end lost its queued bytes");
	} else {
		zt_expect(sc == 7 && ss == 7, "the ends are in states %d and %d, not both CLOSE",
			  sc, ss);
		for (int k = 0; k < 2; k++) {
			int fd = k ? s : c;
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			zt_expect(n <= 0, "end %d read %zd bytes of a closed connection", k, n);
			n = send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			zt_expect(n < 0, "end %d could write to a closed connection", k);
		}
	}
	zt_pass();
}
