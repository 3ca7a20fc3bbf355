/* tty_state OUTFILE PIDFILE MODE: a job for the terminal tests (tests/cases/terminal.sh),
 * started by pty_run as the leader of its session on a pseudo-terminal.
 *
 * It sets its terminal as a full-screen program does: no echo, no line mode, VMIN 1, ^G as
 * the interrupt character, a 37x101 window; then blocks reading the terminal until SIGTERM
 * and checks that its standard descriptors are still that terminal with those settings,
 * that it can open its controlling terminal (/dev/tty) and that its group is the terminal's
 * foreground; that a read-only descriptor it opened on its terminal (by its /dev/pts name)
 * is still read-only and its own description while fds 0-2 still share theirs, and that a
 * descriptor it opened as /dev/tty (as less does) is still that and a terminal. MODE "own":
 * restored on its own terminal again (cryo had none): also the same terminal device as before, the
 * window size, and the session's leadership. MODE "cryo": restored on cryo's terminal: it has its
 * own size. "ptmx": it also holds a pty master. "fgchild": as "own", but a child in a process group
 * of its own is the terminal's foreground, and does the checks (the leader forwards SIGTERM to it).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t term;

static void on_term(int sig)
{
	(void)sig;
	term = 1;
}

#define ADD(...) snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), __VA_ARGS__)

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: read() gives EINTR */
	struct winsize ws = {.ws_row = 37, .ws_col = 101};
	char tmp[4200], msg[1024] = "";
	struct termios tio;
	struct stat before, now;
	int out, fd, own, ro, dt;
	pid_t self = getpid();

	if (argc != 4)
		return 2;
	own = !strcmp(argv[3], "own") || !strcmp(argv[3], "fgchild");
	out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0)
		return 2;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	if (tcgetattr(0, &tio) < 0 || fstat(0, &before) < 0) {
		dprintf(out, "FAIL: setup: fd 0 is not a terminal\n");
		return 1;
	}
	tio.c_lflag &= ~(ECHO | ICANON);
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	tio.c_cc[VINTR] = 7;
	if (tcsetattr(0, TCSANOW, &tio) < 0 || ioctl(0, TIOCSWINSZ, &ws) < 0) {
		dprintf(out, "FAIL: setup: cannot set the terminal (%s)\n", strerror(errno));
		return 1;
	}
	ro = ttyname(0) ? open(ttyname(0), O_RDONLY | O_NOCTTY) : -1;
	dt = open("/dev/tty", O_RDONLY | O_NOCTTY);
	if (ro < 0 || dt < 0) {
		dprintf(out, "FAIL: setup: cannot open the terminal again: %s\n", strerror(errno));
		return 1;
	}
	if (!strcmp(argv[3], "ptmx") && open("/dev/ptmx", O_RDWR | O_NOCTTY) < 0) {
		dprintf(out, "FAIL: setup: no pty master (%s)\n", strerror(errno));
		return 1;
	}
	if (!strcmp(argv[3], "fgchild")) {
		pid_t child = fork();
		if (child < 0)
			return 2;
		if (child == 0) {
			setpgid(0, 0);
			self = getpid();
			while (tcgetpgrp(0) != getpgrp())
				usleep(1000);
			goto wait;
		}
		int status;
		setpgid(child, child);
		if (tcsetpgrp(0, child) < 0) {
			dprintf(out, "FAIL: setup: tcsetpgrp: %s\n", strerror(errno));
			return 1;
		}
		snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dprintf(fd, "%d\n", getpid()) < 0 || close(fd) ||
		    rename(tmp, argv[2]))
			return 2;
		while (waitpid(child, &status, 0) < 0)
			if (errno == EINTR && term)
				kill(child, SIGTERM);
			else if (errno != EINTR)
				return 2;
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || dprintf(fd, "%d\n", getpid()) < 0 || close(fd) || rename(tmp, argv[2]))
		return 2;
wait:
	while (!term) {
		char c;
		ssize_t n = read(0, &c, 1);
		if (n <= 0 && !(n < 0 && errno == EINTR))
			pause(); /* the terminal went away: wait for the check all the same */
	}

	for (int i = 0; i < 3; i++)
		if (!isatty(i))
			ADD(" fd %d is no terminal;", i);
	if (tcgetattr(0, &tio) < 0) {
		ADD(" tcgetattr: %s;", strerror(errno));
	} else {
		if (tio.c_lflag & (ECHO | ICANON))
			ADD(" the terminal is back in line mode or echoes (lflag %#x);",
			    tio.c_lflag);
		if (tio.c_cc[VINTR] != 7 || tio.c_cc[VMIN] != 1)
			ADD(" control characters lost (VINTR %d, VMIN %d);", tio.c_cc[VINTR],
			    tio.c_cc[VMIN]);
	}
	if (!isatty(ro) || (fcntl(ro, F_GETFL) & O_ACCMODE) != O_RDONLY)
		ADD(" its read-only descriptor of the terminal is not one any more;");
	if (syscall(SYS_kcmp, self, self, KCMP_FILE, 0, 1) != 0 ||
	    syscall(SYS_kcmp, self, self, KCMP_FILE, 0, 2) != 0)
		ADD(" fds 0, 1, 2 no longer share one description;");
	if (syscall(SYS_kcmp, self, self, KCMP_FILE, 0, ro) == 0)
		ADD(" its read-only descriptor is now fd 0's description;");
	if (!isatty(dt) || fstat(dt, &now) < 0 || now.st_rdev != makedev(5, 0))
		ADD(" its /dev/tty descriptor is not /dev/tty any more;");
	fd = open("/dev/tty", O_RDWR | O_NOCTTY);
	if (fd < 0)
		ADD(" no controlling terminal (/dev/tty: %s);", strerror(errno));
	if (tcgetpgrp(0) != getpgrp())
		ADD(" the foreground group is %d, not its group %d;", tcgetpgrp(0), getpgrp());
	if (own) {
		if (fstat(0, &now) < 0 || now.st_rdev != before.st_rdev)
			ADD(" fd 0 is another terminal;");
		if (ioctl(0, TIOCGWINSZ, &ws) < 0 || ws.ws_row != 37 || ws.ws_col != 101)
			ADD(" the window is %dx%d, not 37x101;", ws.ws_row, ws.ws_col);
		if (strcmp(argv[3], "fgchild") && getsid(0) != getpid())
			ADD(" no longer the leader of its session (%d);", getsid(0));
	}
	if (write(1, "tty_state: still here\r\n", 23) != 23)
		ADD(" cannot write to the terminal;");
	if (msg[0]) {
		dprintf(out, "FAIL:%s\n", msg);
		return 1;
	}
	dprintf(out, "PASS\n");
	return 0;
}
