/* A two-process tree with two owners, for the non-root case of run.sh: the parent runs as
 * nobody (65534) and may be traced by nobody; its child stays root, which nobody may not
 * trace. Each answers SIGUSR1 by creating DIR/alive.PID, proof that it still runs.
 *
 *   mixed_owner DIR     writes "PARENT CHILD" to DIR/pids once both are set up */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char *dir;
static volatile sig_atomic_t asked;

static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

static void idle(void)
{
	for (;;) {
		pause();
		if (asked) {
			char path[4096];
			asked = 0;
			snprintf(path, sizeof(path), "%s/alive.%d", dir, getpid());
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
			if (fd >= 0)
				close(fd);
		}
	}
}

int main(int argc, char **argv)
{
	char path[4096], buf[64];
	pid_t child;
	int fd, n;

	if (argc != 2) {
		fprintf(stderr, "usage: mixed_owner DIR\n");
		return 2;
	}
	dir = argv[1];
	signal(SIGUSR1, on_usr1);
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0)
		idle();
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534)) {
		fprintf(stderr, "mixed_owner: cannot become nobody: %s\n", strerror(errno));
		kill(child, SIGKILL);
		return 1;
	}
	/* a change of uid makes a process undumpable, hence untraceable even by its own user */
	prctl(PR_SET_DUMPABLE, 1);
	snprintf(path, sizeof(path), "%s/pids.tmp", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	n = snprintf(buf, sizeof(buf), "%d %d\n", getpid(), child);
	if (fd < 0 || write(fd, buf, n) != n) {
		kill(child, SIGKILL);
		return 1;
	}
	close(fd);
	char final[4096];
	snprintf(final, sizeof(final), "%s/pids", dir);
	rename(path, final);
	idle();
}
