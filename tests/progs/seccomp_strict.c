/* Seccomp modes per thread: a thread in strict mode (only read, write, _exit and sigreturn
 * allowed), another thread with a filter of its own (getppid fails with EPERM), the main
 * thread with none. Before the dump the strict thread waits in read() on a pipe. After the
 * check: /proc/self/task/TID/status shows each thread's own Seccomp mode and filter count;
 * the main thread's getppid works, the filtered thread's fails with EPERM; the strict thread,
 * poked through the pipe, answers through another and then calls getpid, which must kill it
 * (had strict mode been lost, it would answer a second time). Also run in the gen2 mode. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct sock_filter deny_getppid[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static int answer_fd;
static volatile int poke;
static volatile pid_t strict_tid, filter_tid;
static volatile int filter_go, filter_err = -1, filter_ready;

static void *strict_main(void *arg)
{
	sigset_t all;
	(void)arg;
	/* a signal handler run here would be killed by strict mode: the others take them */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	strict_tid = (pid_t)syscall(SYS_gettid);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0))
		return NULL;
	/* from here on only raw read/write/exit */
	for (;;) {
		while (!poke)
			__builtin_ia32_pause();
		poke = 0;
		syscall(SYS_write, answer_fd, "y", 1);
		syscall(SYS_getpid); /* kills this thread in strict mode */
	}
	return NULL;
}

static void *filter_main(void *arg)
{
	struct sock_fprog prog = { .len = sizeof(deny_getppid) / sizeof(deny_getppid[0]),
				   .filter = deny_getppid };
	(void)arg;
	filter_tid = (pid_t)syscall(SYS_gettid);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return NULL;
	filter_ready = 1;
	while (!filter_go)
		usleep(1000);
	errno = 0;
	filter_err = syscall(SYS_getppid) < 0 ? errno : 0;
	return NULL;
}

static void status_of(pid_t tid, char *mode, char *count)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	mode[0] = count[0] = '\0';
	if (zt_read_file(path, buf, sizeof(buf)) > 0) {
		zt_status_field(buf, "Seccomp", mode, 16);
		zt_status_field(buf, "Seccomp_filters", count, 16);
	}
}

int main(int argc, char **argv)
{
	char mode[16], count[16], buf[8];
	pthread_t ts, tf;
	char path[64];

	zt_init(argc, argv);
	answer_fd = open("answer", O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (answer_fd < 0)
		zt_fail("setup: open: %m");
	if (pthread_create(&ts, NULL, strict_main, NULL) ||
	    pthread_create(&tf, NULL, filter_main, NULL))
		zt_fail("setup: pthread_create");
	for (int i = 0; i < 5000 && !filter_ready; i++)
		usleep(1000);
	for (int i = 0; i < 5000; i++) {
		status_of(strict_tid, mode, count);
		if (!strcmp(mode, "1"))
			break;
		usleep(1000);
	}
	if (!filter_ready || strcmp(mode, "1"))
		zt_fail("setup: the threads did not enter their modes (strict: %s)", mode);

	zt_ready();
	zt_wait_for_check();

	status_of(getpid(), mode, count);
	zt_expect(!strcmp(mode, "0"), "main: Seccomp %s", mode);
	status_of(filter_tid, mode, count);
	zt_expect(!strcmp(mode, "2") && !strcmp(count, "1"), "filter thread: Seccomp %s, %s filters",
		  mode, count);
	status_of(strict_tid, mode, count);
	zt_expect(!strcmp(mode, "1"), "strict thread: Seccomp %s", mode);
	errno = 0;
	zt_expect(syscall(SYS_getppid) > 0, "main: getppid failed: %m");
	filter_go = 1;
	pthread_join(tf, NULL);
	zt_expect(filter_err == EPERM, "filter thread: getppid errno %d, expected EPERM",
		  filter_err);

	poke = 1;
	/* it writes its answer and makes getpid: strict mode kills it */
	snprintf(path, sizeof(path), "/proc/self/task/%d", strict_tid);
	for (int i = 0; i < 2000 && access(path, F_OK) == 0; i++)
		usleep(1000);
	zt_expect(access(path, F_OK) != 0, "the strict thread survived getpid");
	poke = 1;
	usleep(100000);
	memset(buf, 0, sizeof(buf));
	zt_expect(pread(answer_fd, buf, sizeof(buf) - 1, 0) == 1 && buf[0] == 'y',
		  "the strict thread answered '%s', expected 'y' once", buf);
	zt_pass();
}
