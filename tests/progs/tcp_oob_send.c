/* Urgent data (MSG_OOB) in our own send queue, not sent yet: both ends in the tree over
 * loopback, the reader's window closed (small receive buffer, nothing read), the writer wrote
 * 200000 bytes of a pattern, then the urgent byte 'U' with MSG_OOB, then 1000 bytes more, all
 * held in its send queue. After the restore the reader reads everything: it must stop at the
 * mark after exactly 200000 bytes, recv(MSG_OOB) gives 'U', then the 1000 bytes follow.
 *
 * xfail=restore: the kernel shows the send queue's urgent pointer (snd_up) nowhere (not in
 * TCP_INFO, sock_diag, /proc/net/tcp, nor a peek of the queue in repair mode), so the dump
 * cannot see it nor refuse it, and the restore sends the byte as normal data (docs/design.md,
 * "TCP urgent data"). dump -R leaves it untouched. */
// zt-run: tcp-established xfail=restore
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define BEFORE 200000u
#define AFTER 1000u

static uint8_t pat(uint32_t i)
{
	return (uint8_t)('a' + i % 26);
}

static int write_pat(int w, uint32_t from, uint32_t n)
{
	static uint8_t buf[BEFORE];
	for (uint32_t i = 0; i < n; i++)
		buf[i] = pat(from + i);
	for (uint32_t done = 0; done < n;) {
		ssize_t k = send(w, buf + done, n - done, 0);
		if (k <= 0)
			return -1;
		done += (uint32_t)k;
	}
	return 0;
}

static int atmark(int fd)
{
	int v = -1;
	return ioctl(fd, SIOCATMARK, &v) < 0 ? -1 : v;
}

/* reads n bytes, or until the mark (stop); how many came, -1 on a wrong byte or a failure */
static int64_t read_to_mark(int r, uint32_t from, uint32_t n, bool stop)
{
	static uint8_t buf[65536];
	uint32_t got = 0;
	while (got < n && !(stop && atmark(r) == 1)) {
		struct pollfd pf = {.fd = r, .events = POLLIN};
		if (poll(&pf, 1, 5000) <= 0)
			break;
		ssize_t k = recv(r, buf, sizeof(buf), MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return -1;
		for (ssize_t i = 0; i < k; i++)
			if (buf[i] != pat(from + got + (uint32_t)i)) {
				zt_log("byte %u is '%c', not '%c'", got + (uint32_t)i, buf[i],
				       pat(from + got + (uint32_t)i));
				return -1;
			}
		got += (uint32_t)k;
	}
	return got;
}

int main(int argc, char **argv)
{

	zt_init(argc, argv);
	int l, w, r;
	/* the accepted socket inherits a small receive buffer: the writer's window closes */
	zt_tcp_pair_small(&l, &w, &r);
	zt_check_sys(write_pat(w, 0, BEFORE) == 0 && send(w, "U", 1, MSG_OOB) == 1 &&
			 write_pat(w, BEFORE, AFTER) == 0,
		     "write");
	usleep(100000);
	int nsd = 0;
	zt_check_sys(ioctl(w, SIOCOUTQNSD, &nsd) == 0 && nsd > (int)AFTER + 1,
		     "the urgent byte was sent already (window not closed)");
	zt_ready();
	zt_wait_for_check();

	int64_t got = read_to_mark(r, 0, BEFORE + 1 + AFTER, true);
	zt_expect(got == BEFORE, "read %lld bytes before the mark, not %u", (long long)got, BEFORE);
	char b = 0;
	ssize_t n = -1;
	for (int i = 0; i < 500 && n < 0 && got == BEFORE; i++) {
		n = recv(r, &b, 1, MSG_OOB | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			usleep(10000);
		else
			break;
	}
	zt_expect(n == 1 && b == 'U', "recv(MSG_OOB) gave %zd '%c': %m, not 'U'", n, b);
	if (got == BEFORE)
		zt_expect(read_to_mark(r, BEFORE, AFTER, false) == AFTER,
			  "the %u bytes after the urgent byte differ", AFTER);
	zt_pass();
}
