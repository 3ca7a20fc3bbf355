/* Files of /proc/N/ of processes and threads of the tree, as a supervisor that watches its
 * worker through /proc/CHILD/stat and status: the test (R) holds /proc/C/status with 6 bytes
 * read ("Name:\t"), /proc/C/stat, the directory /proc/C, its own /proc/R/status (opened as
 * /proc/self/status) and /proc/R/task/T/stat of a thread T of its own.
 *
 * After the dump every fd reads the same link text as before and is the file of the same
 * process or thread: status goes on after "Name:\t" with C's name, stat starts with
 * "C (name)", the directory leads to C's comm, R's own status says Pid: R, the thread's stat
 * starts with T's tid; the positions are kept. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ST, STAT, DIRFD, SELF, TSTAT, NR };
static int fds[NR];
static char links[NR][128];
static volatile pid_t tid;

static void *thread_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "procthread");
	tid = (pid_t)syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

static int must(const char *path, int flags)
{
	int fd = open(path, flags);
	if (fd < 0)
		zt_fail("open %s: %m", path);
	return fd;
}

int main(int argc, char **argv)
{
	char path[128], buf[512];
	pthread_t th;
	pid_t c;
	int status;

	zt_init(argc, argv);
	if ((c = fork()) == 0) {
		prctl(PR_SET_NAME, "procchild");
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	if (c < 0 || pthread_create(&th, NULL, thread_main, NULL))
		zt_fail("fork or thread: %m");
	while (!tid)
		usleep(1000);
	/* the child has its name */
	for (int i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "/proc/%d/comm", c);
		if (zt_read_file(path, buf, sizeof(buf)) > 0 && !strcmp(buf, "procchild\n"))
			break;
		usleep(1000);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", c);
	fds[ST] = must(path, O_RDONLY);
	if (read(fds[ST], buf, 6) != 6 || memcmp(buf, "Name:\t", 6))
		zt_fail("status: %m");
	snprintf(path, sizeof(path), "/proc/%d/stat", c);
	fds[STAT] = must(path, O_RDONLY);
	snprintf(path, sizeof(path), "/proc/%d", c);
	fds[DIRFD] = must(path, O_RDONLY | O_DIRECTORY);
	fds[SELF] = must("/proc/self/status", O_RDONLY);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", getpid(), tid);
	fds[TSTAT] = must(path, O_RDONLY);
	for (int i = 0; i < NR; i++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
		ssize_t n = readlink(path, links[i], sizeof(links[i]) - 1);
		links[i][n > 0 ? n : 0] = 0;
	}

	zt_ready();
	zt_wait_for_check();

	for (int i = 0; i < NR; i++) {
		char now[128];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
		ssize_t n = readlink(path, now, sizeof(now) - 1);
		now[n > 0 ? n : 0] = 0;
		zt_expect(!strcmp(now, links[i]), "fd %d reads '%s', was '%s'", fds[i], now,
			  links[i]);
	}
	zt_expect(lseek(fds[ST], 0, SEEK_CUR) == 6, "status: position %ld, was 6",
		  (long)lseek(fds[ST], 0, SEEK_CUR));
	ssize_t n = read(fds[ST], buf, 10);
	zt_expect(n == 10 && !memcmp(buf, "procchild\n", 10), "status goes on with '%.*s'",
		  (int)(n > 0 ? n : 0), buf);
	char want[64];
	int wl = snprintf(want, sizeof(want), "%d (procchild) ", c);
	n = read(fds[STAT], buf, sizeof(buf) - 1);
	zt_expect(n > wl && !memcmp(buf, want, wl), "stat starts '%.*s', want '%s'",
		  (int)(n > 0 ? (n < 40 ? n : 40) : 0), buf, want);
	int comm = openat(fds[DIRFD], "comm", O_RDONLY);
	n = comm < 0 ? -1 : read(comm, buf, sizeof(buf) - 1);
	zt_expect(n == 10 && !memcmp(buf, "procchild\n", 10), "the /proc/C directory: comm '%.*s'",
		  (int)(n > 0 ? n : 0), buf);
	n = read(fds[SELF], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "\nPid:\t%d\n", getpid());
	zt_expect(strstr(buf, want) != NULL, "own status has no '%s'", want + 1);
	wl = snprintf(want, sizeof(want), "%d (procthread) ", tid);
	n = read(fds[TSTAT], buf, sizeof(buf) - 1);
	zt_expect(n > wl && !memcmp(buf, want, wl), "thread stat starts '%.*s', want '%s'",
		  (int)(n > 0 ? (n < 40 ? n : 40) : 0), buf, want);
	kill(c, SIGKILL);
	zt_expect(waitpid(c, &status, 0) == c, "child lost");
	zt_pass();
}
