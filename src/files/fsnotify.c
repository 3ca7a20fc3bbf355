/* What inotify.c and fanotify.c share: their fdinfo read whole (it grows with the watches),
 * the device numbers it prints, the file handles of watched inodes, and the count of events
 * queued, asked of a copy of the descriptor (which reads none of them). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "files/kind.h"

uint64_t fsnotify_dev(unsigned long sdev)
{
	return makedev((unsigned)(sdev >> 20), (unsigned)(sdev & 0xfffff));
}

int fsnotify_open_inode(uint64_t dev, uint64_t ino, const ProtobufCBinaryData *handle, int32_t type)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[FSNOTIFY_HANDLE_MAX];
	} h;
	struct stat st;
	int mfd, fd, err;

	if (!handle->len || handle->len > FSNOTIFY_HANDLE_MAX) {
		errno = EINVAL;
		return -1;
	}
	mfd = handle_mount_fd((dev_t)dev);
	if (mfd < 0) {
		errno = ENOENT;
		return -1;
	}
	h.fh.handle_bytes = (unsigned)handle->len;
	h.fh.handle_type = type;
	memcpy(h.fh.f_handle, handle->data, handle->len);
	fd = open_by_handle_at(mfd, &h.fh, O_PATH | O_CLOEXEC);
	err = errno;
	close(mfd);
	if (fd < 0) {
		errno = err;
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_dev != (dev_t)dev || st.st_ino != ino) {
		close(fd);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

int fsnotify_hex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

int fsnotify_queued(struct dump_task *t, int fd, const char *what)
{
	int pidfd = sys_pidfd_open(t->pid), copy = -1, n = 0, err = 0;

	if (pidfd >= 0)
		copy = sys_pidfd_getfd(pidfd, fd);
	if (copy < 0 || ioctl(copy, FIONREAD, &n) < 0)
		err = errno;
	if (copy >= 0)
		close(copy);
	if (pidfd >= 0)
		close(pidfd);
	if (err) {
		pr_errno(err, "task %d: fd %d: cannot ask its %s what it holds", t->pid, fd, what);
		return -err;
	}
	return n;
}

void fsnotify_describe_dev(uint64_t dev, char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];

	snprintf(buf, size, "device %u:%u", major((dev_t)dev), minor((dev_t)dev));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		char mnt[1024], *sep, type[64];
		if (sscanf(line, "%*d %*d %u:%u %*s %1023s", &maj, &min, mnt) != 3 ||
		    makedev(maj, min) != (dev_t)dev)
			continue;
		/* the file system type follows the " - " separator */
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep + 3, "%63s", type) != 1)
			snprintf(type, sizeof(type), "?");
		snprintf(buf, size, "device %u:%u (%s, mounted at %s)", maj, min, type, mnt);
		break;
	}
	fclose(f);
}
