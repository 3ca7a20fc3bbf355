/* reaper CMD [ARG...]: run CMD as a child subreaper and reap every orphan below it.
 *
 * Test programs daemonize, and a restored process is orphaned when `cryo restore -d` exits.
 * Orphans go to the nearest subreaper, or to PID 1, and a PID 1 that does not reap (as in
 * some containers and VMs) keeps them as zombies: a dumped test would then still hold its
 * PID and could never be restored. run.sh therefore runs itself under this program. When CMD
 * exits, whatever is still running below us is killed, so no test outlives the suite. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t main_pid;
static FILE *deaths;	/* $ZT_REAPER_LOG: how each reaped orphan ended, for run.sh */

static void log_death(pid_t pid, int st)
{
	if (!deaths)
		return;
	if (WIFSIGNALED(st))
		fprintf(deaths, "%d killed by signal %d%s\n", pid, WTERMSIG(st),
			WCOREDUMP(st) ? " (core dumped)" : "");
	else
		fprintf(deaths, "%d exited with status %d\n", pid, WEXITSTATUS(st));
	fflush(deaths);
}

static void forward(int sig)
{
	if (main_pid > 0)
		kill(main_pid, sig);
}

/* Kill our direct children; return how many were found. */
static int kill_children(void)
{
	char path[64], buf[512];
	struct dirent *de;
	int found = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		int pid = atoi(de->d_name), ppid;
		FILE *f;
		char *rp;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f)) {
			fclose(f);
			continue;
		}
		fclose(f);
		/* comm may hold spaces and parens: the fields after it follow the last ')'. */
		rp = strrchr(buf, ')');
		if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1 || ppid != getpid())
			continue;
		*rp = '\0';
		fprintf(stderr, "reaper: killing leftover process %d (%s)\n", pid,
			strchr(buf, '(') ? strchr(buf, '(') + 1 : "?");
		kill(pid, SIGKILL);
		found++;
	}
	closedir(d);
	return found;
}

int main(int argc, char **argv)
{
	int status = 0, st;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: reaper CMD [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
		perror("reaper: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("reaper: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "reaper: exec %s: %m\n", argv[1]);
		_exit(127);
	}
	main_pid = pid;
	if (getenv("ZT_REAPER_LOG"))
		deaths = fopen(getenv("ZT_REAPER_LOG"), "a");
	signal(SIGTERM, forward);
	signal(SIGHUP, forward);
	/* Ctrl-C reaches the whole foreground group; we stay to clean up after CMD. */
	signal(SIGINT, SIG_IGN);

	for (;;) {
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			break;
		if (p == pid) {
			status = st;
			break;
		}
		log_death(p, st);
	}
	main_pid = 0;

	/* Leftovers: kill, reap, and look again, since their children come to us too. */
	for (int round = 0; round < 100; round++) {
		int n = kill_children();
		if (n)
			usleep(20000);
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			log_death(p, st);
		if (!n)
			break;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
