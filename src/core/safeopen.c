#include "core/safeopen.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/util.h"

/* no symlink anywhere, no "..", no absolute path, no /proc magic link */
#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

int dir_open_root(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (unsigned)(flags | O_CLOEXEC),
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = BENEATH,
	};
	int fd = -1;
	/* EAGAIN: a rename elsewhere raced with the lookup; a few more tries, not forever */
	for (int i = 0; i < 64; i++) {
		fd = sys_openat2(dirfd, name, &how);
		if (fd >= 0 || (errno != EINTR && errno != EAGAIN))
			break;
	}
	return fd < 0 ? -errno : fd;
}

int dir_open(int dirfd, const char *name, int flags)
{
	/* (O_TMPFILE holds O_DIRECTORY's bit: only the whole of it means a new file) */
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return -EINVAL;
	return open_beneath(dirfd, name, flags, 0);
}

bool dir_sibling_name_ok(const char *rel)
{
	if (strncmp(rel, "../", 3) || !rel[3] || rel[3] == '/')
		return false;
	for (const char *p = rel + 3; *p;) {
		const char *e = strchrnul(p, '/');
		if ((e - p == 2 && !strncmp(p, "..", 2)) || (e - p == 1 && *p == '.'))
			return false;
		p = *e ? e + 1 : e;
	}
	return true;
}

int dir_open_sibling(int dirfd, const char *rel)
{
	int up, fd;

	if (!dir_sibling_name_ok(rel))
		return -EINVAL;
	up = openat(dirfd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (up < 0)
		return -errno;
	/* no symbolic link is followed beneath the directory that holds both */
	fd = dir_open(up, rel + 3, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(up);
	return fd;
}

/* An old file in the way of a new one: only a regular file is removed. */
static int remove_old(int dirfd, const char *base)
{
	struct stat st;
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EEXIST;
	/* swapped for something else since? unlinking never follows it either */
	if (unlinkat(dirfd, base, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int dir_unlink(int dirfd, const char *name)
{
	if (strchr(name, '/'))
		return -EINVAL;
	return remove_old(dirfd, name);
}

int dir_create(int dirfd, const char *name, int flags, mode_t mode)
{
	const char *slash = strrchr(name, '/'), *base = slash ? slash + 1 : name;
	int pfd = dirfd, fd;

	if (name[0] == '/')
		return -EXDEV;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EISDIR;
	if (slash) {
		/* the directory it goes in, itself reached without any link */
		char parent[PATH_MAX];
		size_t len = (size_t)(slash - name);
		if (len >= sizeof(parent))
			return -ENAMETOOLONG;
		memcpy(parent, name, len);
		parent[len] = 0;
		pfd = open_beneath(dirfd, parent, O_PATH | O_DIRECTORY, 0);
		if (pfd < 0)
			return pfd;
	}
	fd = remove_old(pfd, base);
	/* O_EXCL: whatever appeared under this name since, cryo does not open it */
	if (fd == 0)
		fd = open_beneath(pfd, base, flags | O_CREAT | O_EXCL, mode);
	if (pfd != dirfd)
		close(pfd);
	return fd;
}

int user_create(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd < 0 ? -errno : fd;
}

int sync_fd(int fd)
{
	while (fsync(fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int pidfile_write(int dirfd, const char *path, pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", pid), ret;
	int fd = path[0] == '/' ? user_create(path, O_WRONLY, 0644)
				: dir_create(dirfd, path, O_WRONLY, 0644);
	if (fd < 0) {
		pr_errno(-fd, "cannot create pid file %s", path);
		return fd;
	}
	ret = write_all(fd, buf, (size_t)n);
	if (ret)
		pr_errno(-ret, "cannot write pid file %s", path);
	close(fd);
	return ret;
}
