/* Two fanotify groups cryo cannot save: one of the content class (permission events, which
 * another process may wait on once read), and a notification group with an event queued and
 * not read yet. The case fanotify-refused (tests/cases/files_refused.sh) dumps it: the dump
 * must fail naming both fds and why, and leave the test running with its event to read. */
// zt-run: no-cryo
#include "zt.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8)));
	int perm, notif, fd, q = 0;

	zt_init(argc, argv);
	fd = open("watched", O_WRONLY | O_CREAT, 0644);
	zt_check_sys(fd >= 0, "create the file");
	perm = fanotify_init(FAN_CLASS_CONTENT, O_RDONLY);
	zt_check_sys(perm >= 0, "fanotify_init content");
	/* a permission mark on a file nobody opens: nothing waits on it */
	zt_check_sys(fanotify_mark(perm, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, "watched") == 0,
		     "a permission mark");
	notif = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	zt_check_sys(notif >= 0, "fanotify_init notif");
	zt_check_sys(fanotify_mark(notif, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, "watched") == 0,
		     "a mark");
	zt_check_sys(write(fd, "x", 1) == 1, "write");
	zt_check_sys(ioctl(notif, FIONREAD, &q) == 0 && q > 0, "an event queued");
	zt_log("content fd %d, queued fd %d: %d bytes", perm, notif, q);

	zt_ready();
	zt_wait_for_check();
	const struct fanotify_event_metadata *md = (const void *)buf;
	ssize_t n = read(notif, buf, sizeof(buf));
	zt_expect(n == q && md->mask == FAN_MODIFY, "read %zd bytes (%d queued), mask %#llx", n, q,
		  n > 0 ? (unsigned long long)md->mask : 0ull);
	if (n > 0 && md->fd >= 0)
		close(md->fd);
	zt_pass();
}
