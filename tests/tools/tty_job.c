/* tty_job OUTFILE PIDFILE: a shell job for the --shell-job test (tests/shell_job.sh).
 *
 * Started on a pseudo-terminal, it blocks reading its terminal until SIGTERM. Then it checks
 * that its standard descriptors are still terminals and that it still has a controlling
 * terminal, and writes PASS or FAIL to OUTFILE (a descriptor it holds across the dump). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t term;

static void on_term(int sig)
{
	(void)sig;
	term = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term }; /* no SA_RESTART: read() gives EINTR */
	char tmp[4200], msg[512] = "";
	int out, fd;

	if (argc != 3)
		return 2;
	out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0)
		return 2;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGHUP, SIG_IGN); /* the dump ends the terminal session it was started in */
	for (int i = 0; i < 3; i++)
		if (!isatty(i)) {
			dprintf(out, "FAIL: setup: fd %d is not a terminal\n", i);
			return 1;
		}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || dprintf(fd, "%d\n", getpid()) < 0 || close(fd) || rename(tmp, argv[2]))
		return 2;

	while (!term) {
		char c;
		ssize_t n = read(0, &c, 1);
		if (n <= 0 && !(n < 0 && errno == EINTR))
			pause(); /* the terminal went away: wait for the check all the same */
	}

	for (int i = 0; i < 3; i++)
		if (!isatty(i))
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
				 " fd %d is no terminal;", i);
	fd = open("/dev/tty", O_RDWR | O_NOCTTY);
	if (fd < 0)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
			 " no controlling terminal (%s);", strerror(errno));
	if (write(1, "tty_job: still here\r\n", 21) != 21)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " cannot write to the terminal;");
	if (msg[0]) {
		dprintf(out, "FAIL:%s\n", msg);
		return 1;
	}
	dprintf(out, "PASS\n");
	return 0;
}
