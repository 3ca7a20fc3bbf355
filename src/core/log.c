#include "core/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "core/safeopen.h"

static struct {
	int fd;
	int level;
	struct timespec start;
	char path[4096]; /* the log file as given (empty: stderr), for log_open_for_pid */
} g_log = {.fd = 2, .level = LOG_WARN};

int log_init(const char *dir, const char *path, int level)
{
	g_log.level = level;
	clock_gettime(CLOCK_MONOTONIC, &g_log.start);
	if (path && path[0] && strcmp(path, "-") != 0) {
		int fd;
		if (path[0] == '/') {
			fd = user_create(path, O_WRONLY | O_APPEND, 0644);
		} else {
			/* beneath the images directory, like every file there: no symlink */
			int dirfd = dir_open_root(dir ? dir : ".");
			if (dirfd < 0) {
				fprintf(stderr,
					"Error: cannot open images directory %s for the log file "
					"%s: %s\n",
					dir ? dir : ".", path, strerror(-dirfd));
				return dirfd;
			}
			fd = dir_create(dirfd, path, O_WRONLY | O_APPEND, 0644);
			close(dirfd);
		}
		if (fd < 0) {
			fprintf(stderr, "Error: cannot create log file %s: %s\n", path,
				strerror(-fd));
			return fd;
		}
		g_log.fd = fd;
		snprintf(g_log.path, sizeof(g_log.path), "%s", path);
	}
	return 0;
}

int log_open_for_pid(int dirfd, pid_t pid)
{
	char name[sizeof(g_log.path) + 16];
	int fd;

	if (!g_log.path[0])
		return 0; /* stderr is everyone's */
	snprintf(name, sizeof(name), "%s.%d", g_log.path, (int)pid);
	fd = name[0] == '/' ? user_create(name, O_WRONLY | O_APPEND, 0644)
			    : dir_create(dirfd, name, O_WRONLY | O_APPEND, 0644);
	if (fd < 0) {
		pr_errno(-fd, "cannot create log file %s", name);
		return fd;
	}
	if (fd != g_log.fd && dup2(fd, g_log.fd) < 0) {
		int err = errno;
		close(fd);
		pr_errno(err, "cannot move log file %s to fd %d", name, g_log.fd);
		return -err;
	}
	close(fd);
	pr_info("the log of process %d (--log-pid)", (int)pid);
	return 0;
}

void log_close(void)
{
	if (g_log.fd > 2)
		close(g_log.fd);
	g_log.fd = 2;
}

int log_get_level(void)
{
	return g_log.level;
}

void log_printf(int level, const char *fmt, ...)
{
	char buf[4096];
	int n = 0;
	va_list ap;
	int saved = errno;

	if (level > g_log.level && level != LOG_MSG)
		return;
	if (g_log.level >= LOG_INFO) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double t =
		    (now.tv_sec - g_log.start.tv_sec) + (now.tv_nsec - g_log.start.tv_nsec) / 1e9;
		n = snprintf(buf, sizeof(buf), "(%.6f) ", t);
	}
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (write(g_log.fd, buf, n) < 0) {
		/* nowhere left to report it */
	}
	/* errors also reach the terminal when the log goes to a file */
	if (level <= LOG_ERROR && g_log.fd != 2 && write(2, buf, n) < 0) {
	}
	errno = saved;
}

int log_move_fd(int fd)
{
	if (dup2(g_log.fd, fd) < 0)
		return -errno;
	if (g_log.fd > 2)
		close(g_log.fd);
	g_log.fd = fd;
	return 0;
}
