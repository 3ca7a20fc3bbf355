#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <unistd.h>

ssize_t read_all(int fd, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

int write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += n;
	}
	return 0;
}

ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t cap)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return -errno;
	n = read_all(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return n;
	buf[n] = 0;
	return n;
}

static ssize_t read_alloc_at(int dirfd, const char *path, char **out, bool short_is_end);

ssize_t read_file_alloc(const char *path, char **out)
{
	return read_file_alloc_at(AT_FDCWD, path, out);
}

ssize_t read_file_alloc_at(int dirfd, const char *path, char **out)
{
	return read_alloc_at(dirfd, path, out, false);
}

/* A /proc file made by one show() of a seq_file (fdinfo, stat...) is handed out whole by the
 * first read when the buffer is large enough: a short read is its end, and the read of 0
 * that would confirm it is saved (one syscall per descriptor of a walk). */
ssize_t read_proc_record_at(int dirfd, const char *path, char **out)
{
	return read_alloc_at(dirfd, path, out, true);
}

static ssize_t read_alloc_at(int dirfd, const char *path, char **out, bool short_is_end)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, len = 0;
	char *buf;
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			free(buf);
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += n;
		if (short_is_end && len + 1 < cap)
			break;
	}
	close(fd);
	buf[len] = 0;
	*out = buf;
	return len;
}

int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int ret;
	if (fd < 0)
		return -errno;
	ret = write_all(fd, text, strlen(text));
	close(fd);
	return ret;
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int send_all(int fd, const void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

void watchdog_child_setup(int fd, const char *name)
{
	if (fd != 3) {
		dup2(fd, 3);
		close(fd);
	}
	syscall(__NR_close_range, 4, ~0u, 0);
	for (int i = 0; i < 3; i++)
		close(i);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, name);
}

void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}
