/* pty_run DIR CMD [ARG...]: a small terminal emulator for the terminal tests. It makes a
 * pseudo-terminal, starts CMD as the leader of a new session with the terminal's slave as
 * its controlling terminal and standard descriptors, and stays (outside the job, like a tmux
 * server or `script`) after the job is gone, keeping the terminal alive for a restore.
 *   DIR/pts  the slave's path       DIR/pid  CMD's pid
 *   DIR/out  everything the job wrote to the terminal (appended)
 *   DIR/in   a FIFO: what is written to it is typed on the terminal
 * The terminal starts at 24x80. It runs until SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int put_file(const char *dir, const char *name, const char *text)
{
	char path[4096], tmp[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) ||
	    rename(tmp, path))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	struct sigaction sa = {.sa_handler = on_term};
	char path[4096], buf[4096], *pts;
	int master, in, out;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: pty_run DIR CMD [ARG...]\n");
		return 2;
	}
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) || unlockpt(master) || !(pts = ptsname(master)) ||
	    ioctl(master, TIOCSWINSZ, &ws) < 0) {
		perror("pty_run: pseudo-terminal");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/in", argv[1]);
	unlink(path);
	if (mkfifo(path, 0600) || (in = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		perror("pty_run: fifo");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/out", argv[1]);
	out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0 || put_file(argv[1], "pts", pts)) {
		perror("pty_run: files");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGCHLD, SIG_IGN); /* the job is reaped at once: its pid is free for a restore */
	signal(SIGHUP, SIG_IGN);
	pid = fork();
	if (pid == 0) {
		int s;
		signal(SIGCHLD, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (setsid() < 0 || (s = open(pts, O_RDWR)) < 0) /* it becomes the ctty */
			_exit(127);
		dup2(s, 0), dup2(s, 1), dup2(s, 2);
		syscall(SYS_close_range, 3, ~0u, 0);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	snprintf(buf, sizeof(buf), "%d\n", pid);
	if (pid < 0 || put_file(argv[1], "pid", buf)) {
		perror("pty_run: job");
		return 1;
	}
	while (!stop) {
		struct pollfd p[2] = {{.fd = in, .events = POLLIN},
				      {.fd = master, .events = POLLIN}};
		int n = poll(p, 2, 50);
		if (n < 0)
			continue;
		if (p[0].revents & POLLIN) {
			ssize_t k = read(in, buf, sizeof(buf));
			if (k > 0 && write(master, buf, k) != k)
				fprintf(stderr, "pty_run: typing: %s\n", strerror(errno));
		}
		if (p[1].revents & POLLIN) {
			ssize_t k = read(master, buf, sizeof(buf));
			if (k > 0 && write(out, buf, k) != k)
				return 1;
		} else if (p[1].revents & (POLLHUP | POLLERR)) {
			usleep(50000); /* no slave open now (between dump and restore) */
		}
	}
	return 0;
}
