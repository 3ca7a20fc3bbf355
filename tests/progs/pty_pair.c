/* A pseudo-terminal made inside the tree, the way a terminal emulator or `script` runs a
 * shell on it:
 *
 *   P: holds the master (posix_openpt, grantpt, unlockpt), a 37x101 window, packet mode
 *   +-- C: the "shell": setsid, opens the slave by its name, TIOCSCTTY, starts a job and
 *       |  waits for it
 *       +-- G: the job, in its own process group, the terminal's foreground; raw mode
 *              (cfmakeraw, VMIN 1); reads lines and answers each in upper case
 *
 * After the check P finds the same /dev/pts/N, window, packet mode, lock off, the node's
 * owner and mode, the slave's termios as G set them, C's session and G's group as session
 * and foreground of the terminal; then P types "hello\r" and reads G's answer "HELLO\r\n"
 * (a packet-mode read: a 0 byte first); C and G check that the slave is their controlling
 * terminal (/dev/tty is it), and G that it is in the foreground. "quit\r" ends G, then C. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* results of the children's own checks, after the restore: 1 good, 2 bad */
struct shared {
	volatile int c_ok, g_ok;
	char why[256];
};
static struct shared *sh;
static int master;
static char name[64];

static ssize_t read_wait(int fd, void *buf, size_t len, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;
	if (poll(&p, 1, ms) != 1)
		return -2;
	while ((n = read(fd, buf, len)) < 0 && errno == EINTR)
		;
	return n;
}

/* fd is the caller's controlling terminal: TIOCGSID answers only then, and /dev/tty opens */
static bool is_ctty(int fd)
{
	int t = open("/dev/tty", O_RDWR | O_NOCTTY);
	bool ok = t >= 0 && tcgetsid(fd) > 0;
	if (t >= 0)
		close(t);
	return ok;
}

static void g_main(int s)
{
	struct termios tio;
	char line[128];
	size_t len = 0;
	bool checked = false;

	setpgid(0, 0);
	/* C makes this group the foreground: until then a tcsetattr would stop it */
	for (int i = 0; i < 1000 && tcgetpgrp(s) != getpid(); i++)
		usleep(5000);
	tcgetattr(s, &tio);
	cfmakeraw(&tio);
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(s, TCSANOW, &tio) < 0 || write(s, "R", 1) != 1)
		_exit(2);
	for (;;) {
		char c;
		ssize_t n = read(s, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1)
			_exit(3);
		if (c != '\r') {
			if (len < sizeof(line) - 1)
				line[len++] = c;
			continue;
		}
		line[len] = 0;
		if (!checked) {
			/* the first line comes after the restore */
			checked = true;
			if (!is_ctty(s))
				snprintf(sh->why, sizeof(sh->why), "G: the slave is not its terminal");
			else if (tcgetpgrp(s) != getpid())
				snprintf(sh->why, sizeof(sh->why), "G: foreground %d, not %d",
					 tcgetpgrp(s), getpid());
			sh->g_ok = sh->why[0] ? 2 : 1;
		}
		if (!strcmp(line, "quit"))
			_exit(0);
		for (size_t i = 0; i < len; i++)
			line[i] = (char)(line[i] >= 'a' && line[i] <= 'z' ? line[i] - 32 : line[i]);
		memcpy(line + len, "\r\n", 2);
		if (write(s, line, len + 2) != (ssize_t)len + 2)
			_exit(4);
		len = 0;
	}
}

static void c_main(void)
{
	int status, s;
	pid_t g;

	close(master);
	if (setsid() < 0 || (s = open(name, O_RDWR | O_NOCTTY)) < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
		_exit(10);
	g = fork();
	if (g == 0)
		g_main(s);
	setpgid(g, g);
	if (tcsetpgrp(s, g) < 0)
		_exit(11);
	while (waitpid(g, &status, 0) < 0 && errno == EINTR)
		;
	/* after the restore: still the leader with its terminal */
	sh->c_ok = is_ctty(s) && tcgetsid(s) == getpid() ? 1 : 2;
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 20);
}

int main(int argc, char **argv)
{
	struct winsize ws = {37, 101, 0, 0}, ws2;
	struct termios before, after;
	struct stat nb, na;
	int on = 1, pkt = -1, lock = -1, n_before, n_after = -1, status;
	pid_t sid = 0, pgrp = 0;
	char buf[256];

	zt_init(argc, argv);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	zt_check_sys(sh != MAP_FAILED, "mmap");
	master = posix_openpt(O_RDWR | O_NOCTTY);
	zt_check_sys(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0, "openpt");
	snprintf(name, sizeof(name), "%s", ptsname(master));
	zt_check_sys(ioctl(master, TIOCSWINSZ, &ws) == 0 && ioctl(master, TIOCPKT, &on) == 0,
		     "window, packet mode");
	fflush(NULL);
	pid_t c = fork();
	zt_check_sys(c >= 0, "fork");
	if (c == 0)
		c_main();
	/* G's "R": it is in raw mode and reading (status packets first: raw mode turned
	 * IXON off, TIOCPKT_NOSTOP) */
	ssize_t n;
	while ((n = read_wait(master, buf, sizeof(buf), 10000)) == 1 && buf[0] != 0)
		;
	zt_check_sys(n == 2 && buf[0] == 0 && buf[1] == 'R', "G's ready");
	for (int i = 0; i < 500; i++) {
		if (ioctl(master, TIOCGPGRP, &pgrp) == 0 && pgrp != c)
			break;
		usleep(10000);
	}
	zt_check_sys(tcgetattr(master, &before) == 0 && stat(name, &nb) == 0 &&
			 ioctl(master, TIOCGPTN, &n_before) == 0 &&
			 ioctl(master, TIOCGPGRP, &pgrp) == 0,
		     "state before");
	zt_ready();
	zt_wait_for_check();

	zt_expect(ioctl(master, TIOCGPTN, &n_after) == 0 && n_after == n_before,
		  "the pty is number %d, not %d", n_after, n_before);
	zt_expect(!strcmp(ptsname(master) ? ptsname(master) : "", name), "ptsname %s, not %s",
		  ptsname(master), name);
	zt_expect(ioctl(master, TIOCGWINSZ, &ws2) == 0 && ws2.ws_row == 37 && ws2.ws_col == 101,
		  "window %dx%d", ws2.ws_row, ws2.ws_col);
	zt_expect(ioctl(master, TIOCGPKT, &pkt) == 0 && pkt == 1, "packet mode %d", pkt);
	zt_expect(ioctl(master, TIOCGPTLCK, &lock) == 0 && lock == 0, "lock %d", lock);
	zt_expect(stat(name, &na) == 0 && na.st_uid == nb.st_uid && na.st_gid == nb.st_gid &&
			  na.st_mode == nb.st_mode,
		  "the node %s is %u:%u %o, not %u:%u %o", name, na.st_uid, na.st_gid,
		  na.st_mode, nb.st_uid, nb.st_gid, nb.st_mode);
	zt_expect(tcgetattr(master, &after) == 0 && after.c_iflag == before.c_iflag &&
			  after.c_oflag == before.c_oflag && after.c_cflag == before.c_cflag &&
			  after.c_lflag == before.c_lflag &&
			  !memcmp(after.c_cc, before.c_cc, sizeof(after.c_cc)) &&
			  cfgetospeed(&after) == cfgetospeed(&before),
		  "the slave's termios changed (lflag %#x, was %#x)", after.c_lflag, before.c_lflag);
	zt_expect(ioctl(master, TIOCGSID, &sid) == 0 && sid == c, "session %d, not C's %d", sid,
		  c);
	pid_t fg = 0;
	zt_expect(ioctl(master, TIOCGPGRP, &fg) == 0 && fg == pgrp && fg != c,
		  "foreground %d, not G's %d", fg, pgrp);
	zt_expect(write(master, "hello\r", 6) == 6, "write: %m");
	n = read_wait(master, buf, sizeof(buf), 5000);
	zt_expect(n == 8 && buf[0] == 0 && !memcmp(buf + 1, "HELLO\r\n", 7),
		  "the answer: %zd bytes '%.*s'", n, n > 1 ? (int)n - 1 : 0, buf + 1);
	zt_expect(write(master, "quit\r", 5) == 5, "write quit: %m");
	zt_expect(waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "C ended with %#x", status);
	zt_expect(sh->g_ok == 1, "G: %s", sh->why[0] ? sh->why : "no check");
	zt_expect(sh->c_ok == 1, "C: the slave is no longer its controlling terminal");
	zt_pass();
}
