/* FIFOs: R makes the FIFO "f" and opens it for reading (O_NONBLOCK, so that it does not wait
 * for a writer); its child W opens it for writing and queues 5000 bytes. R also holds the
 * FIFO "g" opened read-write, with 10 bytes queued in it.
 *
 * After the check: the descriptors still name the FIFOs (same inode), have their access
 * modes and flags, the bytes in flight are all there; then W writes more and closes, and R
 * reads it and then end of file (no writer left behind by the restore). */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { S_R, S_W, NS };
enum { V_STEP = 0, V_ACK = 1 };

static int fr, fg, fw;
static char buf[8192], data[5000];

static bool same_file(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino && S_ISFIFO(a.st_mode);
}

static int w_main(void)
{
	zt_tree_child();
	close(fr), close(fg);
	fw = open("f", O_WRONLY);
	zt_fill_pattern(data, sizeof(data), 5);
	if (fw < 0 || write(fw, data, sizeof(data)) != sizeof(data))
		zt_tree_fail(S_W, "write f: %m");
	zt_tree_ready(S_W, "W");
	zt_tree_wait_go();
	zt_tree_expect(S_W, same_file(fw, "f"), "fd %d is not the FIFO f", fw);
	zt_tree_expect(S_W, (fcntl(fw, F_GETFL) & O_ACCMODE) == O_WRONLY, "f not write-only");
	if (zt_tree_wait_var(V_STEP, 1, 15000))
		zt_tree_expect(S_W, write(fw, "more", 4) == 4, "write more: %m");
	close(fw);
	zt_tree_set(V_ACK + S_W, 1);
	zt_tree_done(S_W);
	return 0;
}

int main(int argc, char **argv)
{
	pid_t w;

	zt_init(argc, argv);
	zt_tree_init(NS);
	zt_check_sys(mkfifo("f", 0600) == 0 && mkfifo("g", 0600) == 0, "mkfifo");
	fr = open("f", O_RDONLY | O_NONBLOCK);
	fg = open("g", O_RDWR);
	zt_check_sys(fr >= 0 && fg >= 0 && write(fg, "0123456789", 10) == 10, "open");
	fflush(NULL);
	w = fork();
	if (w == 0)
		_exit(w_main());
	zt_check_sys(w > 0, "fork");
	zt_tree_ready(S_R, "R");
	zt_tree_wait_ready();
	zt_ready();
	zt_wait_for_check();

	zt_expect(same_file(fr, "f") && same_file(fg, "g"), "the fds are not the FIFOs");
	zt_expect((fcntl(fr, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDONLY | O_NONBLOCK),
		  "f's flags %#o", fcntl(fr, F_GETFL));
	zt_expect((fcntl(fg, F_GETFL) & O_ACCMODE) == O_RDWR, "g not read-write");
	zt_fill_pattern(data, sizeof(data), 5);
	zt_expect(zt_read_full(fr, buf, sizeof(data)) == sizeof(data) &&
			  !memcmp(buf, data, sizeof(data)),
		  "the 5000 bytes in f differ");
	zt_expect(zt_read_full(fg, buf, 10) == 10 && !memcmp(buf, "0123456789", 10),
		  "the 10 bytes in g differ");
	errno = 0;
	zt_expect(read(fr, buf, 1) < 0 && errno == EAGAIN, "f not empty (or at EOF): %m");
	zt_tree_go();
	zt_tree_set(V_STEP, 1);
	zt_expect(zt_tree_wait_var(V_ACK + S_W, 1, 15000), "W did not write");
	zt_expect(zt_read_full(fr, buf, 4) == 4 && !memcmp(buf, "more", 4), "no 'more' in f");
	struct pollfd q = { .fd = fr, .events = POLLIN };
	zt_expect(poll(&q, 1, 5000) == 1 && read(fr, buf, 1) == 0,
		  "f: no end of file once W closed it");
	zt_tree_collect();
	zt_tree_expect_exit0(S_W, w, "W");
	zt_pass();
}
