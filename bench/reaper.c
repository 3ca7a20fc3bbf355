/* reaper CMD [ARGS...]: run CMD as a child subreaper and reap every orphan that lands here.
 *
 * The benchmark's workloads are detached (setsid -f), so they are orphans, and so is a process
 * that `cryo restore -d` leaves running. Orphans go to the nearest subreaper, else to PID 1;
 * on these machines PID 1 reaps only every two seconds or so, and until then the zombie of a
 * dumped workload keeps the PID its restore needs. Under this program orphans are reaped at
 * once. When CMD exits, what is left below us is killed. Exits with CMD's status. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t cmd_pid;

static void pass_on(int sig)
{
	if (cmd_pid > 0)
		kill(cmd_pid, sig);
}

/* SIGKILL every process whose parent is us; returns how many there were. */
static int kill_our_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[64], line[256];
		int pid = atoi(de->d_name), ppid = -1;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "PPid: %d", &ppid) == 1)
				break;
		fclose(f);
		if (ppid == getpid()) {
			kill(pid, SIGKILL);
			n++;
		}
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	int status = 0, cmd_status = 0;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: reaper CMD [ARGS...]\n");
		return 127;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
		perror("reaper: PR_SET_CHILD_SUBREAPER");
		return 127;
	}
	cmd_pid = fork();
	if (cmd_pid < 0) {
		perror("reaper: fork");
		return 127;
	}
	if (cmd_pid == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "reaper: cannot run %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	signal(SIGINT, pass_on);
	signal(SIGTERM, pass_on);
	signal(SIGHUP, pass_on);
	for (;;) {
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: nobody left */
		}
		if (pid == cmd_pid) {
			cmd_status = status;
			cmd_pid = 0;
			break;
		}
	}
	/* CMD is done: kill and reap whatever is left, including orphans still arriving */
	for (int tries = 0; tries < 1000; tries++) {
		kill_our_children();
		while (waitpid(-1, &status, WNOHANG) > 0)
			;
		if (waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD)
			break;
		usleep(10000);
	}
	if (WIFSIGNALED(cmd_status))
		return 128 + WTERMSIG(cmd_status);
	return WEXITSTATUS(cmd_status);
}
