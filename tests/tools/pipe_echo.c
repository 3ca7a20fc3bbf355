/* pipe_echo: a filter between two pipes held outside the tree (tests/cases/ext_pipe.sh).
 * It writes its pid to ./pid, forks a child that holds the same descriptions of stdin and
 * stdout (and a dup of stdout at fd 5), then echoes each line of stdin to stdout as
 * "echo:LINE" (and a line that begins with 'e' to stderr too, as "err:LINE") until the line
 * "quit", when it kills the child and exits 0. A read or write
 * error exits 1 (a restored end that is not the pipe it was). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	char line[256], out[300];
	size_t len = 0;
	pid_t child;
	FILE *f;

	if (dup2(1, 5) != 5)
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		for (;;)
			pause();
	}
	if (!(f = fopen("pid.tmp", "w")) || fprintf(f, "%d %d\n", getpid(), child) < 0 ||
	    fclose(f) || rename("pid.tmp", "pid"))
		return 1;
	for (;;) {
		char c;
		ssize_t n = read(0, &c, 1);
		if (n <= 0)
			return 1;
		if (c != '\n') {
			if (len < sizeof(line) - 1)
				line[len++] = c;
			continue;
		}
		line[len] = 0;
		len = 0;
		if (!strcmp(line, "quit"))
			break;
		int m = snprintf(out, sizeof(out), "echo:%s\n", line);
		if (write(5, out, (size_t)m) != m)
			return 1;
		m = snprintf(out, sizeof(out), "err:%s\n", line);
		if (line[0] == 'e' && write(2, out, (size_t)m) != m)
			return 1;
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}
