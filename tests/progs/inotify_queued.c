/* A watcher that has not read its events yet: an inotify watching a file, with an IN_MODIFY
 * and an IN_CLOSE_WRITE queued. cryo cannot put queued events back, so the case
 * inotify-queued (tests/cases/files_refused.sh) dumps it: the dump must fail naming the fd
 * and the bytes queued, and leave the test running with its events still there to read. */
// zt-run: no-cryo
#include "zt.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8)));
	int in, wd, fd, q = 0, q2 = 0;

	zt_init(argc, argv);
	fd = open("watched", O_WRONLY | O_CREAT, 0644);
	zt_check_sys(fd >= 0, "create the file");
	in = inotify_init1(IN_NONBLOCK);
	zt_check_sys(in >= 0, "inotify_init1");
	wd = inotify_add_watch(in, "watched", IN_MODIFY | IN_CLOSE_WRITE);
	zt_check_sys(wd > 0, "inotify_add_watch");
	zt_check_sys(write(fd, "x", 1) == 1 && close(fd) == 0, "write and close the file");
	zt_check_sys(ioctl(in, FIONREAD, &q) == 0 && q > 0, "events queued");
	zt_log("fd %d: %d bytes queued", in, q);

	zt_ready();
	zt_wait_for_check();
	/* the failed dump read nothing: both events are still there, in order */
	zt_expect(ioctl(in, FIONREAD, &q2) == 0 && q2 == q, "%d bytes queued after, %d before", q2,
		  q);
	ssize_t n = read(in, buf, sizeof(buf));
	const struct inotify_event *a = (const void *)buf;
	const struct inotify_event *b = (const void *)(buf + sizeof(*a) + a->len);
	zt_expect(n == q && a->wd == wd && a->mask == IN_MODIFY && b->wd == wd &&
		      b->mask == IN_CLOSE_WRITE,
		  "read %zd bytes: events %#x, %#x", n, a->mask, b->mask);
	zt_pass();
}
