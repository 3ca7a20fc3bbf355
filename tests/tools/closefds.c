/* closefds CMD [ARG...]: close every descriptor above 2, then exec CMD.
 *
 * run.sh starts tests and cryo through this, so that they hold nothing the runner (or what
 * started the runner) had open. Doing it in the shell instead would also close bash's own
 * descriptor of the script, and bash then rewinds that shared descriptor under its parent.
 * CLOSEFDS_KEEP="7 8" keeps those too (descriptors a case hands to cryo on purpose). */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	DIR *d;
	struct dirent *de;
	int self;

	if (argc < 2) {
		fprintf(stderr, "usage: closefds CMD [ARG...]\n");
		return 2;
	}
	d = opendir("/proc/self/fd");
	if (!d) {
		perror("closefds: /proc/self/fd");
		return 2;
	}
	self = dirfd(d);
	const char *keep = getenv("CLOSEFDS_KEEP");
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		bool kept = false;
		/* numbers, separated by anything else */
		for (const char *k = keep; k && *k;) {
			size_t n = strspn(k, "0123456789");
			if (n)
				kept |= atoi(k) == fd;
			k += n ? n : 1;
		}
		if (fd > 2 && fd != self && !kept)
			close(fd);
	}
	closedir(d);
	execvp(argv[1], argv + 1);
	fprintf(stderr, "closefds: exec %s: %m\n", argv[1]);
	return 127;
}
