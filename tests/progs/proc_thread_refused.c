/* A file of /proc/PID/task/TID/ of a thread of the test's child (a thread that is not a
 * leader: the restore makes it in the child's remote phase, after the parent's descriptors),
 * held by the parent, as a monitor of a worker's threads may. The target of the refuse-proc
 * case (tests/cases/refusals.sh): the dump must be refused naming the fd, the file and the
 * thread; the check after it: the file still reads that thread's stat. */
// zt-run: no-cryo
#include "zt.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t *tid;

static void *idle(void *arg)
{
	(void)arg;
	*tid = (pid_t)syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	char path[96], buf[256], want[32];
	pthread_t th;
	pid_t c;
	int fd, status, wl;

	zt_init(argc, argv);
	tid = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tid == MAP_FAILED)
		zt_fail("mmap: %m");
	if ((c = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (pthread_create(&th, NULL, idle, NULL))
			_exit(2);
		for (;;)
			pause();
	}
	if (c < 0)
		zt_fail("fork: %m");
	while (!*tid)
		usleep(1000);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", c, *tid);
	if ((fd = open(path, O_RDONLY)) < 0)
		zt_fail("open %s: %m", path);
	wl = snprintf(want, sizeof(want), "%d (", *tid);

	zt_ready();
	zt_wait_for_check();

	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	zt_expect(n > wl && !memcmp(buf, want, wl), "%s reads '%.*s'", path,
		  (int)(n > 0 ? (n < 30 ? n : 30) : 0), buf);
	kill(c, SIGKILL);
	zt_expect(waitpid(c, &status, 0) == c, "child lost");
	zt_pass();
}
