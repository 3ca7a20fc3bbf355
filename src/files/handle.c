/* A file whose opened name was removed (or now leads elsewhere) while other names of it
 * remain (hard links): saved as its file handle (name_to_handle_at), reopened at restore with
 * open_by_handle_at on a mount of its file system, and checked to be the same device and
 * inode. The descriptor then is the very same file, reachable by its remaining names. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"

#define HANDLE_MAX 128 /* MAX_HANDLE_SZ */

int handle_dump(struct dump_ctx *ctx, const struct fd_info *fi, FdEntry *e)
{
	char path[64];
	struct {
		struct file_handle fh;
		unsigned char bytes[HANDLE_MAX];
	} h;
	int mnt_id;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", fi->pid, fi->fd);
	h.fh.handle_bytes = HANDLE_MAX;
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mnt_id, AT_SYMLINK_FOLLOW) < 0) {
		int err = errno;
		pr_errno(err,
			 "task %d: fd %d: the name %s no longer leads to its file, and the file "
			 "has no handle to reopen it by",
			 fi->pid, fi->fd, fi->link);
		return -ENOTSUP;
	}
	e->has_handle = e->has_handle_type = e->has_dev = e->has_ino = true;
	e->handle.len = h.fh.handle_bytes;
	e->handle.data = arena_alloc(&ctx->arena, h.fh.handle_bytes);
	if (!e->handle.data)
		return -ENOMEM;
	memcpy(e->handle.data, h.fh.f_handle, h.fh.handle_bytes);
	e->handle_type = h.fh.handle_type;
	e->dev = fi->st.st_dev;
	e->ino = fi->st.st_ino;
	pr_info("task %d: fd %d: %s is gone but the file has %lu other name(s): saved by handle",
		fi->pid, fi->fd, fi->link, (unsigned long)fi->st.st_nlink);
	return 0;
}

/* A mount point of the file system on device dev (from /proc/self/mountinfo), opened. */
int handle_mount_fd(dev_t dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];
	int fd = -1;

	if (!f)
		return -1;
	while (fd < 0 && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		char mnt[4096], *o, *p;
		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &min, mnt) != 3 ||
		    makedev(maj, min) != dev)
			continue;
		/* mountinfo escapes blanks and backslashes as \ooo */
		for (o = p = mnt; *p; o++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
				*o = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 4;
			} else {
				*o = *p++;
			}
		}
		*o = 0;
		fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	fclose(f);
	return fd;
}

int handle_open(struct restore_task *t, const FdEntry *e, int flags)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[HANDLE_MAX];
	} h;
	struct stat st;
	int mfd, fd, err;

	mfd = handle_mount_fd(e->dev);
	if (mfd < 0) {
		child_fail(t, ENOENT, "fd %d (%s): no mount of device %u:%u to reopen it on", e->fd,
			   e->path, major(e->dev), minor(e->dev));
		return -1;
	}
	h.fh.handle_bytes = e->handle.len;
	h.fh.handle_type = e->handle_type;
	memcpy(h.fh.f_handle, e->handle.data, e->handle.len);
	fd = open_by_handle_at(mfd, &h.fh, flags);
	err = errno;
	close(mfd);
	if (fd < 0) {
		child_fail(t, err, "cannot reopen %s (a file with other names) for fd %d", e->path,
			   e->fd);
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_dev != e->dev || st.st_ino != e->ino) {
		close(fd);
		child_fail(t, ESTALE, "fd %d: the handle of %s leads to another file", e->fd,
			   e->path);
		return -1;
	}
	return fd;
}
