/* A thousand pipes, each with bytes of its own queued (one of them full), as a server with
 * many connections to its workers has: every byte back in the right pipe after a restore,
 * then each pipe still a pipe (a write and a read through it). Also times the restore of
 * many descriptors (see the log's timestamps). */
// zt-run: gen2
#include "zt.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define N 1000

static int fds[N][2];
static char buf[65536], want[65536];

static void fill(char *buf, int i, size_t len)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = (char)(i * 31 + k * 7);
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	int bad = 0;

	zt_init(argc, argv);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * N) {
		rl.rlim_cur = rl.rlim_max < 4 * N ? rl.rlim_max : 4 * N;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int i = 0; i < N; i++) {
		size_t len = i == 7 ? 65536 : 1 + i % 200;
		zt_check_sys(pipe(fds[i]) == 0, "pipe");
		fill(buf, i, len);
		zt_check_sys(write(fds[i][1], buf, len) == (ssize_t)len, "write");
	}
	zt_ready();
	zt_wait_for_check();

	for (int i = 0; i < N; i++) {
		size_t len = i == 7 ? 65536 : 1 + i % 200;
		fill(want, i, len);
		ssize_t n = read(fds[i][0], buf, len);
		if (n != (ssize_t)len || memcmp(buf, want, len) ||
		    write(fds[i][1], "x", 1) != 1 || read(fds[i][0], buf, 2) != 1 || buf[0] != 'x') {
			if (bad++ < 5)
				zt_expect(false, "pipe %d: %zd bytes back of %zu, or not a pipe", i, n, len);
		}
	}
	zt_expect(!bad, "%d pipes wrong", bad);
	zt_pass();
}
