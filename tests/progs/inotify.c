/* A file watcher (tail -f, an editor's reload, a build tool): one inotify watching a
 * directory for entries coming and going and a file in it for writes, with different masks;
 * a few watches were added and removed before, so the descriptors are not 1, 2; a second
 * inotify, nonblocking, with a one-shot watch. The test is blocked in read() of the first
 * when dumped. After the restore its fdinfo lists the same watches (descriptor, inode,
 * device, mask, handle) and a change to each watched thing gives the event with the same
 * watch descriptor and mask. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_MASK (IN_CREATE | IN_DELETE | IN_MOVED_TO)
#define FILE_MASK (IN_MODIFY | IN_CLOSE_WRITE)

/* the "inotify wd:" lines of fd's fdinfo, sorted, into out */
static void watches(int fd, char *out, size_t size)
{
	char path[64], buf[8192], *lines[64];
	int n = 0;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	out[0] = 0;
	if (zt_read_file(path, buf, sizeof(buf)) < 0)
		return;
	for (char *l = strtok(buf, "\n"); l && n < 64; l = strtok(NULL, "\n"))
		if (!strncmp(l, "inotify wd:", 11))
			lines[n++] = l;
	for (int i = 0; i < n; i++) /* a few lines: insertion sort */
		for (int j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			char *t = lines[j];
			lines[j] = lines[j - 1], lines[j - 1] = t;
		}
	for (int i = 0; i < n && len < size; i++)
		len += snprintf(out + len, size - len, "%s\n", lines[i]);
}

/* the next event of fd within 2 s into ev (name in name); false if none */
static bool next_event(int fd, struct inotify_event *ev, char *name, size_t size)
{
	char buf[4096] __attribute__((aligned(8)));
	struct pollfd p = {.fd = fd, .events = POLLIN};
	static char pending[4096] __attribute__((aligned(8)));
	static ssize_t have, at;
	static int of = -1; /* the fd the pending events are of */

	if (of != fd)
		have = at = 0, of = fd;
	if (at >= have) {
		if (poll(&p, 1, 2000) != 1)
			return false;
		have = read(fd, buf, sizeof(buf));
		if (have <= 0)
			return false;
		memcpy(pending, buf, (size_t)have);
		at = 0;
	}
	memcpy(ev, pending + at, sizeof(*ev));
	snprintf(name, size, "%s", ev->len ? pending + at + sizeof(*ev) : "");
	at += (ssize_t)sizeof(*ev) + ev->len;
	return true;
}

int main(int argc, char **argv)
{
	char before[4096], before2[4096], after[4096], name[256] = "";
	struct inotify_event ev = {0};
	int in, in2, dwd, fwd, owd, fd;

	zt_init(argc, argv);
	zt_check_sys(mkdir("watched", 0755) == 0, "mkdir");
	fd = open("watched/log", O_WRONLY | O_CREAT | O_APPEND, 0644);
	zt_check_sys(fd >= 0, "create the file");
	zt_check_sys(open("other", O_WRONLY | O_CREAT, 0644) >= 0, "create another file");

	in = inotify_init();
	zt_check_sys(in >= 0, "inotify_init");
	/* watches come and go before the ones that stay */
	for (int i = 0; i < 3; i++) {
		int w = inotify_add_watch(in, "other", IN_ATTRIB);
		zt_check_sys(w > 0 && inotify_rm_watch(in, w) == 0, "add and remove a watch");
	}
	dwd = inotify_add_watch(in, "watched", DIR_MASK | IN_ONLYDIR);
	int w = inotify_add_watch(in, "other", IN_ATTRIB);
	zt_check_sys(w > 0 && inotify_rm_watch(in, w) == 0, "add and remove a watch");
	fwd = inotify_add_watch(in, "watched/log", FILE_MASK);
	zt_check_sys(dwd > 0 && fwd > 0, "inotify_add_watch");
	/* the removals queued IN_IGNORED events: a watcher reads them */
	char drain[4096];
	int q = 0;
	zt_check_sys(ioctl(in, FIONREAD, &q) == 0, "FIONREAD");
	zt_check_sys(q == 0 || read(in, drain, sizeof(drain)) == q, "read the IN_IGNORED events");

	in2 = inotify_init1(IN_NONBLOCK);
	zt_check_sys(in2 >= 0, "inotify_init1");
	owd = inotify_add_watch(in2, "other", IN_ATTRIB | IN_ONESHOT);
	zt_check_sys(owd > 0, "inotify_add_watch other");

	watches(in, before, sizeof(before));
	watches(in2, before2, sizeof(before2));
	zt_log("watch descriptors: dir %d, file %d, other %d", dwd, fwd, owd);

	zt_ready();
	/* the watcher's loop: blocked here at dump; nothing changes until SIGTERM */
	char buf[4096] __attribute__((aligned(8)));
	while (!zt_check_requested()) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		zt_expect(0, "an event came while nothing changed (%zd bytes)", n);
		break;
	}

	watches(in, after, sizeof(after));
	zt_expect_same_text("the first inotify's watches", before, after);
	watches(in2, after, sizeof(after));
	zt_expect_same_text("the second inotify's watches", before2, after);
	zt_expect((fcntl(in, F_GETFL) & O_NONBLOCK) == 0, "the first inotify became nonblocking");
	zt_expect((fcntl(in2, F_GETFL) & O_NONBLOCK) != 0, "the second inotify lost O_NONBLOCK");
	zt_expect(ioctl(in, FIONREAD, &q) == 0 && q == 0, "%d bytes of events queued", q);

	/* a write to the file: IN_MODIFY on its watch */
	zt_check_sys(write(fd, "line\n", 5) == 5, "write");
	zt_expect(next_event(in, &ev, name, sizeof(name)) && ev.wd == fwd && ev.mask == IN_MODIFY,
		  "after a write: event wd %d mask %#x, expected wd %d IN_MODIFY", ev.wd, ev.mask,
		  fwd);
	/* a new entry in the directory: IN_CREATE with its name on the directory's watch */
	int nf = open("watched/new", O_WRONLY | O_CREAT, 0644);
	zt_check_sys(nf >= 0, "create a file in the directory");
	zt_expect(next_event(in, &ev, name, sizeof(name)) && ev.wd == dwd && ev.mask == IN_CREATE &&
		      !strcmp(name, "new"),
		  "after a create: event wd %d mask %#x name %s, expected wd %d IN_CREATE new",
		  ev.wd, ev.mask, name, dwd);
	close(nf); /* closing it: not in the directory's mask, and the file is not watched */
	close(fd);
	zt_expect(next_event(in, &ev, name, sizeof(name)) && ev.wd == fwd &&
		      ev.mask == IN_CLOSE_WRITE,
		  "after close: event wd %d mask %#x, expected wd %d IN_CLOSE_WRITE", ev.wd,
		  ev.mask, fwd);
	/* the one-shot watch fires once, then is gone (IN_IGNORED) */
	zt_check_sys(chmod("other", 0600) == 0, "chmod");
	zt_expect(next_event(in2, &ev, name, sizeof(name)) && ev.wd == owd && ev.mask == IN_ATTRIB,
		  "after chmod: event wd %d mask %#x, expected wd %d IN_ATTRIB", ev.wd, ev.mask,
		  owd);
	zt_expect(next_event(in2, &ev, name, sizeof(name)) && ev.wd == owd && ev.mask == IN_IGNORED,
		  "the one-shot watch: then wd %d mask %#x, expected IN_IGNORED", ev.wd, ev.mask);
	zt_pass();
}
