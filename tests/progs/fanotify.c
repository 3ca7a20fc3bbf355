/* A file-watching daemon on fanotify (root): one group reporting file ids (FAN_REPORT_FID)
 * with a mark on a directory for entries created in it (FAN_ONDIR, FAN_EVENT_ON_CHILD) and
 * a mark on a file for writes with an ignore mask that survives modification; a second
 * group, nonblocking, reporting descriptors, with an evictable mark, a mark that only
 * ignores (FAN_MARK_IGNORE), and marks on a mount and on a whole file system that only
 * ignore, kept through modifications (so nothing of the rest of the machine comes to it). Blocked
 * in read() of the first when dumped. After the restore both groups show the same flags and marks
 * in fdinfo and a write or a create gives the event, with the file id of the object. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* the "fanotify " lines of fd's fdinfo, sorted, into out */
static void marks(int fd, char *out, size_t size)
{
	char path[64], buf[8192], *lines[64];
	int n = 0;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	out[0] = 0;
	if (zt_read_file(path, buf, sizeof(buf)) < 0)
		return;
	for (char *l = strtok(buf, "\n"); l && n < 64; l = strtok(NULL, "\n"))
		if (!strncmp(l, "fanotify ", 9))
			lines[n++] = l;
	for (int i = 0; i < n; i++)
		for (int j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			char *t = lines[j];
			lines[j] = lines[j - 1], lines[j - 1] = t;
		}
	for (int i = 0; i < n && len < size; i++)
		len += snprintf(out + len, size - len, "%s\n", lines[i]);
}

struct fh {
	struct file_handle fh;
	unsigned char bytes[128];
};

static bool handle_of(const char *path, struct fh *h)
{
	int mnt;
	h->fh.handle_bytes = sizeof(h->bytes);
	return name_to_handle_at(AT_FDCWD, path, &h->fh, &mnt, 0) == 0;
}

/* the next event of the FID group within 2 s: its mask, and whether its file id is h's */
static bool next_event(int fd, uint64_t *mask, const struct fh *h, bool *same)
{
	char buf[4096] __attribute__((aligned(8)));
	struct pollfd p = {.fd = fd, .events = POLLIN};
	const struct fanotify_event_metadata *md = (const void *)buf;

	if (poll(&p, 1, 2000) != 1)
		return false;
	/* one event at a time: the buffer holds just over one */
	ssize_t n = read(fd, buf, sizeof(struct fanotify_event_metadata) + 256);
	if (n < (ssize_t)sizeof(*md) || md->event_len > n)
		return false;
	*mask = md->mask;
	*same = false;
	const struct fanotify_event_info_fid *fid = (const void *)(md + 1);
	if (md->event_len >= sizeof(*md) + sizeof(*fid) &&
	    fid->hdr.info_type == FAN_EVENT_INFO_TYPE_FID) {
		const struct file_handle *got = (const void *)fid->handle;
		*same = got->handle_bytes == h->fh.handle_bytes &&
			got->handle_type == h->fh.handle_type &&
			!memcmp(got->f_handle, h->fh.f_handle, h->fh.handle_bytes);
	}
	return true;
}

int main(int argc, char **argv)
{
	char before[4096], before2[4096], after[4096], head[256], head2[256];
	struct fh dirh, fileh;
	int fa, fb, fd;

	zt_init(argc, argv);
	zt_check_sys(mkdir("watched", 0755) == 0, "mkdir");
	fd = open("watched/log", O_WRONLY | O_CREAT | O_APPEND, 0644);
	zt_check_sys(fd >= 0, "create the file");
	zt_check_sys(open("evictable", O_RDONLY | O_CREAT, 0644) >= 0 &&
			 open("quiet", O_RDONLY | O_CREAT, 0644) >= 0,
		     "create more files");
	zt_check_sys(handle_of("watched", &dirh) && handle_of("watched/log", &fileh),
		     "name_to_handle_at");

	fa = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_REPORT_FID, O_RDONLY);
	zt_check_sys(fa >= 0, "fanotify_init");
	zt_check_sys(fanotify_mark(fa, FAN_MARK_ADD, FAN_CREATE | FAN_ONDIR | FAN_EVENT_ON_CHILD,
				   AT_FDCWD, "watched") == 0,
		     "mark the directory");
	zt_check_sys(
	    fanotify_mark(fa, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, "watched/log") == 0 &&
		fanotify_mark(fa,
			      FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
			      FAN_CLOSE_WRITE, AT_FDCWD, "watched/log") == 0,
	    "mark the file");

	fb = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
	zt_check_sys(fb >= 0, "fanotify_init 2");
	zt_check_sys(fanotify_mark(fb, FAN_MARK_ADD | FAN_MARK_EVICTABLE, FAN_MODIFY, AT_FDCWD,
				   "evictable") == 0,
		     "an evictable mark");
	zt_check_sys(fanotify_mark(fb, FAN_MARK_ADD | FAN_MARK_IGNORE_SURV, FAN_OPEN, AT_FDCWD,
				   "quiet") == 0,
		     "an ignoring mark");
	zt_check_sys(fanotify_mark(fb,
				   FAN_MARK_ADD | FAN_MARK_MOUNT | FAN_MARK_IGNORED_MASK |
				       FAN_MARK_IGNORED_SURV_MODIFY,
				   FAN_OPEN, AT_FDCWD, ".") == 0,
		     "a mount mark");
	zt_check_sys(fanotify_mark(fb,
				   FAN_MARK_ADD | FAN_MARK_FILESYSTEM | FAN_MARK_IGNORED_MASK |
				       FAN_MARK_IGNORED_SURV_MODIFY,
				   FAN_CLOSE_WRITE, AT_FDCWD, ".") == 0,
		     "a file system mark");

	marks(fa, before, sizeof(before));
	marks(fb, before2, sizeof(before2));
	zt_log("marks of the second group:\n%s", before2);

	zt_ready();
	/* the daemon's loop: blocked here at dump; nothing changes until SIGTERM */
	char buf[4096] __attribute__((aligned(8)));
	while (!zt_check_requested()) {
		ssize_t n = read(fa, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		zt_expect(0, "an event came while nothing changed (%zd bytes)", n);
		break;
	}

	marks(fa, after, sizeof(after));
	zt_expect_same_text("the first group's marks", before, after);
	marks(fb, after, sizeof(after));
	zt_expect_same_text("the second group's marks", before2, after);
	/* flags and event flags: the first fdinfo line of each */
	char path[64], info[4096], *p;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fa);
	p = zt_read_file(path, info, sizeof(info)) > 0 ? strstr(info, "fanotify flags:") : NULL;
	snprintf(head, sizeof(head), "%.*s", p ? (int)strcspn(p, "\n") : 0, p ? p : "");
	zt_expect(!strcmp(head, "fanotify flags:201 event-flags:8000"), "first group: %s", head);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fb);
	p = zt_read_file(path, info, sizeof(info)) > 0 ? strstr(info, "fanotify flags:") : NULL;
	snprintf(head2, sizeof(head2), "%.*s", p ? (int)strcspn(p, "\n") : 0, p ? p : "");
	zt_expect(!strcmp(head2, "fanotify flags:2 event-flags:8000"), "second group: %s", head2);
	zt_expect((fcntl(fa, F_GETFL) & O_NONBLOCK) == 0, "the first group became nonblocking");
	zt_expect((fcntl(fb, F_GETFL) & O_NONBLOCK) != 0, "the second group lost O_NONBLOCK");

	uint64_t mask = 0;
	bool same = false;
	zt_check_sys(write(fd, "line\n", 5) == 5, "write");
	zt_expect(next_event(fa, &mask, &fileh, &same) && mask == FAN_MODIFY && same,
		  "after a write: mask %#llx, %s file id", (unsigned long long)mask,
		  same ? "its" : "another");
	/* closing it is ignored (the ignore mask survived the write) */
	close(fd);
	int nf = open("watched/new", O_WRONLY | O_CREAT, 0644);
	zt_check_sys(nf >= 0, "create a file in the directory");
	close(nf);
	zt_expect(next_event(fa, &mask, &dirh, &same) && mask == FAN_CREATE && same,
		  "after a create: mask %#llx (expected FAN_CREATE, not FAN_CLOSE_WRITE), %s "
		  "file id",
		  (unsigned long long)mask, same ? "the directory's" : "another");
	zt_check_sys(mkdir("watched/sub", 0755) == 0, "mkdir in the directory");
	zt_expect(next_event(fa, &mask, &dirh, &same) && mask == (FAN_CREATE | FAN_ONDIR) && same,
		  "after a mkdir: mask %#llx", (unsigned long long)mask);
	zt_pass();
}
