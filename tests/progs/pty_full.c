/* A program printing while its terminal emulator is frozen: the pair's output queue is full
 * at the dump and the writer is blocked in write().
 *
 *   P: the "emulator", holds the master in packet mode (as tmux-like servers do), a 50x132
 *   |  window; reads nothing until the check
 *   +-- W: a session on the slave, prints 500 numbered lines (about 40 KiB with the "\r"
 *          ONLCR adds: twice what the pair holds), one write a line, retrying short writes
 *
 * After the check P reads everything in packet mode (each read: a TIOCPKT_DATA 0 byte, then
 * data) and checks the stream byte for byte: no byte lost, doubled or reordered, every "\n"
 * made "\r\n" exactly once; then W's exit status, the window and packet mode. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define LINES 500

static size_t line(char *buf, int i, bool crlf)
{
	return (size_t)sprintf(buf, "%04d: the quick brown fox jumps over the lazy dog %.*s%s", i,
			       i % 17, "0123456789abcdefg", crlf ? "\r\n" : "\n");
}

static void w_main(const char *name)
{
	int s;
	char buf[128];

	if (setsid() < 0 || (s = open(name, O_RDWR | O_NOCTTY)) < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
		_exit(10);
	for (int i = 0; i < LINES; i++) {
		size_t n = line(buf, i, false), off = 0;
		while (off < n) {
			ssize_t w = write(s, buf + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				_exit(11);
			off += (size_t)w;
		}
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	struct winsize ws = {50, 132, 0, 0}, ws2;
	int m, on = 1, pkt = -1, status;
	char name[64];
	static char want[LINES * 128], got[LINES * 128], buf[8192];
	size_t wn = 0, gn = 0;

	zt_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	zt_check_sys(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0, "openpt");
	snprintf(name, sizeof(name), "%s", ptsname(m));
	zt_check_sys(ioctl(m, TIOCSWINSZ, &ws) == 0 && ioctl(m, TIOCPKT, &on) == 0,
		     "window, packet mode");
	for (int i = 0; i < LINES; i++)
		wn += line(want + wn, i, true);
	fflush(NULL);
	pid_t w = fork();
	zt_check_sys(w >= 0, "fork");
	if (w == 0) {
		close(m);
		w_main(name);
	}
	/* W is blocked once the queue stops growing (its writes wait for room) */
	int before = -1, now;
	for (int i = 0; i < 400; i++) {
		usleep(10000);
		zt_check_sys(ioctl(m, FIONREAD, &now) == 0, "FIONREAD");
		if (now == before && now == 4095 && i > 20)
			break;
		before = now;
	}
	zt_check_sys(waitpid(w, &status, WNOHANG) == 0, "W is still writing");
	zt_ready();
	zt_wait_for_check();

	while (gn < wn) {
		struct pollfd p = {.fd = m, .events = POLLIN};
		if (poll(&p, 1, 5000) != 1)
			break;
		ssize_t n = read(m, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf[0] != 0) {
			zt_expect(0, "a packet-mode status %#x, not data", buf[0]);
			continue;
		}
		if (gn + (size_t)n - 1 > sizeof(got))
			break;
		memcpy(got + gn, buf + 1, (size_t)n - 1);
		gn += (size_t)n - 1;
	}
	size_t same = 0;
	while (same < gn && same < wn && got[same] == want[same])
		same++;
	zt_expect(gn == wn && same == wn, "read %zu bytes of %zu, the same for the first %zu", gn,
		  wn, same);
	zt_expect(waitpid(w, &status, 0) == w && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "W ended with %#x", status);
	zt_expect(ioctl(m, TIOCGWINSZ, &ws2) == 0 && ws2.ws_row == 50 && ws2.ws_col == 132,
		  "window %dx%d", ws2.ws_row, ws2.ws_col);
	zt_expect(ioctl(m, TIOCGPKT, &pkt) == 0 && pkt == 1, "packet mode %d", pkt);
	zt_pass();
}
