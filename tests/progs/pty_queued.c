/* Pseudo-terminals of the tree with bytes queued both ways at the dump, the way a terminal
 * emulator (or tmux, script) that stopped reading meets programs that stopped reading too:
 *
 *   P: holds three masters, reads nothing until the check
 *   +-- A: on pair A (default settings: OPOST ONLCR, canonical, echo), printed 6600 bytes of
 *   |      lines P has not read (the kernel made each "\n" "\r\n")
 *   +-- B: on pair B (canonical, echo, VEOL ';'); P typed a whole line, a line ended by VEOL,
 *   |      a line ended by VEOF, a lone VEOF, and "partiX<DEL>al", a partial line with an
 *   |      erase done (FIONREAD does not count it); their echo is queued for P
 *   +-- C: on pair C (raw: cfmakeraw, VMIN 10, VTIME 5); P typed 7 bytes (a CR, ^C, ^D, NUL,
 *          0xff among them), fewer than VMIN
 *
 * The children are busy elsewhere (they wait on a pipe) while the bytes wait. After the check
 * P reads A's output and B's echo, byte for byte, exactly once (no echo made again, no output
 * processed twice); A prints "z\n" again (P reads "z\r\n": OPOST still on); B reads its lines
 * one a read, the EOF as a read of 0, then P types "ly\n" and B reads "partially\n"; C finds 7
 * bytes queued, reads them raw; every child checks its termios is what it set. */
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
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define A_LINES 200

struct shared {
	volatile int ok[3];
	char why[3][256];
};
static struct shared *sh;

static const char B_TYPED[] = "full line one\neol;second\004\004partiX\177al";
static const char B_ECHO[] = "full line one\r\neol;secondpartiX\b \bal";
static const char C_TYPED[] = "ab\r\003\004\000\377";
#define C_LEN 7

static size_t a_text(char *buf, bool crlf)
{
	size_t n = 0;
	for (int i = 0; i < A_LINES; i++)
		n += (size_t)sprintf(buf + n, "line %03d of the output: %.*s%s", i, i % 23,
				     "abcdefghijklmnopqrstuvw", crlf ? "\r\n" : "\n");
	return n;
}

static bool same(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
	       a->c_lflag == b->c_lflag && !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) &&
	       cfgetospeed(a) == cfgetospeed(b);
}

static ssize_t read_all(int fd, char *buf, size_t want, int ms)
{
	size_t got = 0;
	while (got < want) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, ms) != 1)
			break;
		ssize_t n = read(fd, buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* nothing more comes within ms */
static bool quiet(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 0;
}

#define WHY(i, ...) (snprintf(sh->why[i], sizeof(sh->why[i]), __VA_ARGS__), sh->ok[i] = 2)

/* a session on the terminal, as a shell on a terminal emulator's pty starts */
static int child_open(const char *name)
{
	int s;
	if (setsid() < 0 || (s = open(name, O_RDWR | O_NOCTTY)) < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
		_exit(10);
	return s;
}

static void wait_go(int go)
{
	char c;
	while (read(go, &c, 1) < 0 && errno == EINTR)
		;
}

static void a_main(const char *name, int go, int ready)
{
	int s = child_open(name);
	static char text[A_LINES * 64];
	struct termios before, after;
	size_t n = a_text(text, false);

	tcgetattr(s, &before);
	if (write(s, text, n) != (ssize_t)n || write(ready, "A", 1) != 1)
		_exit(11);
	wait_go(go);
	if (tcgetattr(s, &after) < 0 || !same(&before, &after))
		WHY(0, "A: termios changed (oflag %#x, was %#x)", after.c_oflag, before.c_oflag);
	else if (write(s, "z\n", 2) != 2)
		WHY(0, "A: write after the restore: %m");
	else
		sh->ok[0] = 1;
	_exit(0);
}

static void b_main(const char *name, int go, int ready)
{
	int s = child_open(name), inq = -1;
	struct termios before, after;
	char buf[256];
	static const char *const want[] = {"full line one\n", "eol;", "second", "", "partially\n"};

	tcgetattr(s, &before);
	before.c_cc[VEOL] = ';';
	if (tcsetattr(s, TCSANOW, &before) < 0 || tcgetattr(s, &before) < 0 ||
	    write(ready, "B", 1) != 1)
		_exit(12);
	wait_go(go);
	if (tcgetattr(s, &after) < 0 || !same(&before, &after)) {
		WHY(1, "B: termios changed (lflag %#x, was %#x)", after.c_lflag, before.c_lflag);
		_exit(0);
	}
	/* whole lines only, the EOFs not counted */
	if (ioctl(s, FIONREAD, &inq) < 0 || inq != 24) {
		WHY(1, "B: FIONREAD %d, not 24", inq);
		_exit(0);
	}
	if (write(ready, "b", 1) != 1) /* P types the rest of the partial line now */
		_exit(15);
	for (int i = 0; i < 5; i++) {
		ssize_t n;
		while ((n = read(s, buf, sizeof(buf))) < 0 && errno == EINTR)
			;
		if (n != (ssize_t)strlen(want[i]) || memcmp(buf, want[i], (size_t)n)) {
			WHY(1, "B: read %d gave %zd bytes '%.*s', not '%s'", i, n,
			    n > 0 ? (int)n : 0, buf, want[i]);
			_exit(0);
		}
	}
	sh->ok[1] = 1;
	_exit(0);
}

static void c_main(const char *name, int go, int ready)
{
	int s = child_open(name), inq = -1;
	struct termios before, after;
	char buf[64];

	tcgetattr(s, &before);
	cfmakeraw(&before);
	before.c_cc[VMIN] = 10, before.c_cc[VTIME] = 5;
	if (tcsetattr(s, TCSANOW, &before) < 0 || tcgetattr(s, &before) < 0 ||
	    write(ready, "c", 1) != 1)
		_exit(13);
	/* P types; the bytes are there once FIONREAD says so */
	for (int i = 0; i < 1000 && (ioctl(s, FIONREAD, &inq) < 0 || inq < C_LEN); i++)
		usleep(5000);
	if (inq != C_LEN || write(ready, "C", 1) != 1)
		_exit(14);
	wait_go(go);
	if (tcgetattr(s, &after) < 0 || !same(&before, &after)) {
		WHY(2, "C: termios changed (lflag %#x VMIN %d VTIME %d)", after.c_lflag,
		    after.c_cc[VMIN], after.c_cc[VTIME]);
		_exit(0);
	}
	if (ioctl(s, FIONREAD, &inq) < 0 || inq != C_LEN) {
		WHY(2, "C: FIONREAD %d, not %d", inq, C_LEN);
		_exit(0);
	}
	/* VMIN 10 not reached: the read ends VTIME after the last byte, with the 7 */
	ssize_t n = read(s, buf, sizeof(buf));
	if (n != C_LEN || memcmp(buf, C_TYPED, C_LEN))
		WHY(2, "C: read %zd bytes, not the %d typed", n, C_LEN);
	else
		sh->ok[2] = 1;
	_exit(0);
}

int main(int argc, char **argv)
{
	int m[3], go[2], ready[2], status, inq = -1;
	char name[3][64], c;
	pid_t kids[3];
	void (*mains[3])(const char *, int, int) = {a_main, b_main, c_main};
	static char want[A_LINES * 64], got[A_LINES * 64 + 64];

	zt_init(argc, argv);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	zt_check_sys(sh != MAP_FAILED && pipe(go) == 0 && pipe(ready) == 0, "mmap, pipes");
	for (int i = 0; i < 3; i++) {
		m[i] = posix_openpt(O_RDWR | O_NOCTTY);
		zt_check_sys(m[i] >= 0 && grantpt(m[i]) == 0 && unlockpt(m[i]) == 0, "openpt");
		snprintf(name[i], sizeof(name[i]), "%s", ptsname(m[i]));
	}
	fflush(NULL);
	for (int i = 0; i < 3; i++) {
		kids[i] = fork();
		zt_check_sys(kids[i] >= 0, "fork");
		if (kids[i] == 0) {
			close(go[1]), close(ready[0]);
			for (int k = 0; k < 3; k++)
				close(m[k]);
			mains[i](name[i], go[0], ready[1]);
		}
	}
	close(go[0]), close(ready[1]);
	/* A printed; B and C set their terminals: then P types */
	for (int i = 0; i < 3; i++)
		zt_check_sys(read(ready[0], &c, 1) == 1, "a child is ready");
	zt_check_sys(write(m[1], B_TYPED, sizeof(B_TYPED) - 1) == sizeof(B_TYPED) - 1 &&
			 write(m[2], C_TYPED, C_LEN) == C_LEN,
		     "typing");
	zt_check_sys(read(ready[0], &c, 1) == 1 && c == 'C', "C has its bytes");
	/* B's echo is all there: its input was all processed */
	for (int i = 0;
	     i < 1000 && (ioctl(m[1], FIONREAD, &inq) < 0 || inq < (int)sizeof(B_ECHO) - 1); i++)
		usleep(5000);
	zt_check_sys(inq == sizeof(B_ECHO) - 1, "B's echo");
	zt_ready();
	zt_wait_for_check();

	/* A's output, once, as the kernel processed it at the time */
	size_t wn = a_text(want, true);
	ssize_t n = read_all(m[0], got, wn, 2000);
	zt_expect(n == (ssize_t)wn && !memcmp(got, want, wn), "A's output: %zd bytes of %zu%s", n,
		  wn, n == (ssize_t)wn ? ", different" : "");
	zt_expect(quiet(m[0], 100), "A's output goes on after its %zu bytes", wn);
	n = read_all(m[1], got, sizeof(B_ECHO) - 1, 2000);
	zt_expect(n == sizeof(B_ECHO) - 1 && !memcmp(got, B_ECHO, sizeof(B_ECHO) - 1),
		  "B's echo: %zd bytes '%.*s'", n, n > 0 ? (int)n : 0, got);
	zt_expect(quiet(m[1], 100), "B's echo comes again");
	zt_expect(quiet(m[2], 50), "C has output");
	zt_check_sys(write(go[1], "ggg", 3) == 3, "go");
	n = read_all(m[0], got, 3, 5000);
	zt_expect(n == 3 && !memcmp(got, "z\r\n", 3), "A's last line: %zd bytes '%.*s'", n,
		  n > 0 ? (int)n : 0, got);
	zt_expect(read_all(ready[0], &c, 1, 5000) == 1 && c == 'b', "B counted its lines");
	zt_expect(write(m[1], "ly\n", 3) == 3, "typing ly: %m");
	for (int i = 0; i < 3; i++) {
		zt_expect(waitpid(kids[i], &status, 0) == kids[i] && WIFEXITED(status) &&
			      WEXITSTATUS(status) == 0,
			  "child %c ended with %#x", 'A' + i, status);
		zt_expect(sh->ok[i] == 1, "%s",
			  sh->why[i][0] ? sh->why[i] : "a child did not check");
	}
	zt_pass();
}
