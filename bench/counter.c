/* counter LOG: append "counter N (pid P)" to LOG five times a second, forever. The demo's
 * process to checkpoint: after a restore the count goes on from where it stopped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec tick = { 0, 200 * 1000 * 1000 };
	char line[128];
	long n = 0;
	int fd, len;

	/* descriptors inherited from whoever started us (a pipe of a CI runner...) are not ours:
	 * close them, or the dump would have to deal with them */
	closefrom(3);
	if (argc != 2) {
		fprintf(stderr, "usage: counter LOGFILE\n");
		return 1;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "counter: cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		len = snprintf(line, sizeof(line), "counter %ld (pid %d)\n", ++n, getpid());
		if (write(fd, line, len) != len)
			return 1;
		nanosleep(&tick, NULL);
	}
}
