/* vfork_hold DIR SECONDS: a process that cannot be frozen for SECONDS. It writes its pid to
 * DIR/pid, then vforks a child that sleeps SECONDS and exits: meanwhile the parent waits for
 * it in the kernel, where a ptrace interrupt does not stop it. When the child is gone the
 * parent writes DIR/done and exits. The --timeout case dumps the parent. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[4096];
	FILE *f;

	if (argc != 3)
		return 2;
	snprintf(path, sizeof(path), "%s/pid.tmp", argv[1]);
	f = fopen(path, "w");
	if (!f)
		return 1;
	fprintf(f, "%d\n", getpid());
	fclose(f);
	char final[4096];
	snprintf(final, sizeof(final), "%s/pid", argv[1]);
	if (rename(path, final))
		return 1;
	pid_t pid = vfork();
	if (pid == 0) {
		struct timespec ts = {atoi(argv[2]), 0};
		nanosleep(&ts, NULL);
		_exit(0);
	}
	if (pid < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/done", argv[1]);
	f = fopen(path, "w");
	if (!f)
		return 1;
	fclose(f);
	return 0;
}
