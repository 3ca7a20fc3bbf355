/* zt: start-up, readiness and verdict of a self-checking test program (see zt.h). */
#include "zt.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

volatile sig_atomic_t zt_check_flag;

/* Kept only between zt_init and zt_ready: a test that holds a pipe or a directory fd it did
 * not ask for would be dumped with state that is not its own. */
static int ready_fd = -1;  /* write end of the pipe to the starting process */
static int pid_dirfd = -1; /* directory of the pidfile: works after chdir() or chroot() */
static char pid_name[256];
static bool is_ready;

/* Failed expectations, for the final FAIL line. Static so that reporting needs no heap. */
static char fail_list[8192];
static size_t fail_len;
static int fail_count;

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static void out_line(const char *prefix, const char *msg)
{
	char line[16384];
	int n = snprintf(line, sizeof(line), "%s%s\n", prefix, msg);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	write_all(STDERR_FILENO, line, n);
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s --pidfile FILE --outfile FILE\n", prog);
	exit(2);
}

/* the thread that waits in zt_wait_for_check() */
static pid_t waiter_tid;

/* The kernel may hand the process-directed SIGTERM to any thread that does not block it: to
 * a worker while the waiting thread has it blocked (between its checks, or just restored and
 * not back in sigsuspend yet). The waiter then sleeps on; so a worker passes it on to the
 * waiter, where it stays pending until sigsuspend takes it. */
static void on_sigterm(int sig)
{
	int err = errno;
	zt_check_flag = 1;
	if (waiter_tid && (pid_t)syscall(SYS_gettid) != waiter_tid)
		syscall(SYS_tgkill, getpid(), waiter_tid, sig);
	errno = err;
}

/* Starting process: wait for 'R' (ready) or 'F'+reason (setup failed) from the daemon. */
static __attribute__((noreturn)) void wait_for_daemon(int rfd, pid_t child)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int status;

	while (len < sizeof(buf) - 1) {
		n = read(rfd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		if (buf[0] == 'R') {
			/* ready once the test has closed its end too: a dump must not find it (a
			 * child the test forked earlier may hold it for good: 2 s at most) */
			struct pollfd pfd = {.fd = rfd, .events = POLLIN};
			for (int waited = 0; waited < 2000; waited += 10) {
				if (poll(&pfd, 1, 10) > 0 && read(rfd, buf, sizeof(buf)) == 0)
					break;
			}
			_exit(0);
		}
	}
	buf[len] = '\0';
	if (len > 0 && buf[0] == 'F') {
		fprintf(stderr, "test setup failed: %s\n", buf + 1);
		_exit(1);
	}
	/* EOF without a word: the daemon died, or exec'd something. */
	if (waitpid(child, &status, WNOHANG) == child) {
		if (WIFSIGNALED(status))
			fprintf(stderr, "test died during setup: signal %d\n", WTERMSIG(status));
		else
			fprintf(stderr, "test exited during setup: status %d\n",
				WEXITSTATUS(status));
	} else {
		fprintf(stderr, "test closed its ready pipe without a word\n");
	}
	_exit(1);
}

static void split_pidfile(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
		snprintf(pid_name, sizeof(pid_name), "%s", path);
	} else {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		if (!dir[0])
			snprintf(dir, sizeof(dir), "/");
		snprintf(pid_name, sizeof(pid_name), "%s", slash + 1);
	}
	pid_dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pid_dirfd < 0) {
		fprintf(stderr, "cannot open the pidfile's directory %s: %m\n", dir);
		exit(1);
	}
}

void zt_init_flags(int argc, char **argv, unsigned int flags)
{
	const char *pidfile = NULL, *outfile = NULL;
	struct sigaction sa;
	int pfd[2], outfd, nullfd;
	pid_t child;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pidfile") && i + 1 < argc)
			pidfile = argv[++i];
		else if (!strcmp(argv[i], "--outfile") && i + 1 < argc)
			outfile = argv[++i];
		else
			usage(argv[0]);
	}
	if (!pidfile || !outfile)
		usage(argv[0]);

	/* O_APPEND: the runner and any stdio buffers of the test may write to it as well, and
	 * its position then never matters, whatever the restorer does to it. */
	outfd = open(outfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (outfd < 0) {
		fprintf(stderr, "cannot open %s: %m\n", outfile);
		exit(1);
	}
	split_pidfile(pidfile);
	if (pipe2(pfd, O_CLOEXEC)) {
		fprintf(stderr, "pipe: %m\n");
		exit(1);
	}

	child = fork();
	if (child < 0) {
		fprintf(stderr, "fork: %m\n");
		exit(1);
	}
	if (child > 0) {
		close(pfd[1]);
		wait_for_daemon(pfd[0], child);
	}

	close(pfd[0]);
	ready_fd = pfd[1];
	if (!(flags & ZT_NO_SETSID) && setsid() < 0)
		zt_fail("setsid: %m");

	nullfd = open("/dev/null", O_RDONLY);
	if (nullfd < 0)
		zt_fail("open /dev/null: %m");
	if (nullfd != STDIN_FILENO) {
		dup2(nullfd, STDIN_FILENO);
		close(nullfd);
	}
	fflush(stdout);
	fflush(stderr);
	if (dup2(outfd, STDOUT_FILENO) < 0 || dup2(outfd, STDERR_FILENO) < 0)
		zt_fail("dup2 outfile: %m");
	if (outfd > STDERR_FILENO)
		close(outfd);
	/* Lines, not blocks: output must be in the outfile before a dump happens. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigterm;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: SIGTERM is meant to interrupt whatever the test blocks in. */
	if (sigaction(SIGTERM, &sa, NULL))
		zt_fail("sigaction SIGTERM: %m");
}

void zt_ready(void)
{
	char tmp[300], buf[32];
	int fd, len;

	if (is_ready)
		zt_fail("zt_ready called twice");
	snprintf(tmp, sizeof(tmp), ".%s.tmp", pid_name);
	len = snprintf(buf, sizeof(buf), "%d\n", getpid());
	fd = openat(pid_dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		zt_fail("create pidfile %s: %m", tmp);
	if (write(fd, buf, len) != len)
		zt_fail("write pidfile: %m");
	close(fd);
	/* rename: the runner sees either no pidfile or a complete one. */
	if (renameat(pid_dirfd, tmp, pid_dirfd, pid_name))
		zt_fail("rename pidfile: %m");
	close(pid_dirfd);
	pid_dirfd = -1;

	is_ready = true;
	write_all(ready_fd, "R", 1);
	close(ready_fd);
	ready_fd = -1;
}

bool zt_own_fd(int fd)
{
	return fd >= 0 && (fd == ready_fd || fd == pid_dirfd);
}

void zt_wait_for_check(void)
{
	sigset_t term, old, wait;

	/* Blocked between the test and sigsuspend(), so that a SIGTERM arriving just before
	 * the call cannot be missed. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	waiter_tid = (pid_t)syscall(SYS_gettid);
	wait = old;
	sigdelset(&wait, SIGTERM);
	while (!zt_check_flag)
		sigsuspend(&wait);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void verdict(const char *line)
{
	/* Output of the test through stdio first, so the verdict is the last line. */
	fflush(stdout);
	fflush(stderr);
	out_line("", line);
}

void zt_pass(void)
{
	char line[sizeof(fail_list) + 64];

	if (fail_count) {
		snprintf(line, sizeof(line), "FAIL: %d expectation(s) failed: %s", fail_count,
			 fail_list);
		verdict(line);
		_exit(1);
	}
	verdict("PASS");
	_exit(0);
}

void zt_fail(const char *fmt, ...)
{
	char msg[4096], line[sizeof(msg) + sizeof(fail_list) + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fail_count)
		snprintf(line, sizeof(line), "FAIL: %s; and %d expectation(s) failed: %s", msg,
			 fail_count, fail_list);
	else
		snprintf(line, sizeof(line), "FAIL: %s", msg);
	verdict(line);
	if (!is_ready && ready_fd >= 0) {
		write_all(ready_fd, "F", 1);
		write_all(ready_fd, msg, strlen(msg));
	}
	_exit(1);
}

void zt_log(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stdout);
	out_line("zt: ", msg);
}

bool zt_expect_at(bool cond, const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	const char *base = strrchr(file, '/');
	va_list ap;
	int n;

	if (cond)
		return true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	zt_log("expectation failed at %s:%d: %s", base ? base + 1 : file, line, msg);
	fail_count++;
	if (fail_len < sizeof(fail_list)) {
		n = snprintf(fail_list + fail_len, sizeof(fail_list) - fail_len, "%s%s",
			     fail_count > 1 ? "; " : "", msg);
		if (n > 0)
			fail_len += n;
	}
	return false;
}

int zt_failures(void)
{
	return fail_count;
}
