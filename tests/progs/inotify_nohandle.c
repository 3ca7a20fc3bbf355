/* An inotify watching a file of /proc (a file system without file handles cryo can open
 * again) besides a file it could rebuild. The case inotify-nohandle
 * (tests/cases/files_refused.sh) dumps it: the dump must fail naming the fd, the watch and
 * the file system, and leave the test running with both watches. */
// zt-run: no-cryo
#include "zt.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8)));
	int in, fwd, pwd, fd;

	zt_init(argc, argv);
	fd = open("watched", O_WRONLY | O_CREAT, 0644);
	zt_check_sys(fd >= 0, "create the file");
	in = inotify_init1(IN_NONBLOCK);
	zt_check_sys(in >= 0, "inotify_init1");
	fwd = inotify_add_watch(in, "watched", IN_MODIFY);
	pwd = inotify_add_watch(in, "/proc/uptime", IN_OPEN);
	zt_check_sys(fwd > 0 && pwd > 0, "inotify_add_watch");
	zt_log("fd %d: watch %d on /proc", in, pwd);

	zt_ready();
	zt_wait_for_check();
	struct pollfd p = {.fd = in, .events = POLLIN};
	const struct inotify_event *ev = (const void *)buf;
	zt_check_sys(write(fd, "x", 1) == 1, "write");
	zt_expect(poll(&p, 1, 2000) == 1 && read(in, buf, sizeof(buf)) >= (ssize_t)sizeof(*ev) &&
		      ev->wd == fwd && ev->mask == IN_MODIFY,
		  "the file's watch gave no IN_MODIFY after the failed dump");
	zt_expect(inotify_rm_watch(in, pwd) == 0, "the /proc watch is gone");
	zt_pass();
}
