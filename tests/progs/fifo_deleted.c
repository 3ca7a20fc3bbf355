/* A FIFO removed while open, the way a program uses a private rendezvous point: R makes the
 * FIFO "f" (mode 0640), opens it for reading (O_NONBLOCK), its child W opens it for writing
 * and queues 3000 bytes, and R removes the name once both hold it.
 *
 * After the check: R's fd is still a FIFO with no name left ("f" does not exist; the fd
 * reads "PATH/f (deleted)"), mode 0640, the same owner and modification time as before the
 * dump; the 3000 bytes are there; then W writes more and closes, and R reads it and then end
 * of file (R and W hold one FIFO, and the restore left no writer of its own on it). */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { S_R, S_W, NS };
enum { V_STEP = 0, V_ACK = 1 };

static int fr, fw;
static char buf[8192], data[3000];

static int w_main(void)
{
	zt_tree_child();
	close(fr);
	fw = open("f", O_WRONLY);
	zt_fill_pattern(data, sizeof(data), 7);
	if (fw < 0 || write(fw, data, sizeof(data)) != sizeof(data))
		zt_tree_fail(S_W, "write f: %m");
	zt_tree_ready(S_W, "W");
	zt_tree_wait_go();
	struct stat st;
	zt_tree_expect(S_W, fstat(fw, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_nlink == 0,
		       "W's fd is not a deleted FIFO");
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
	char cwd[PATH_MAX], want[PATH_MAX + 32], link[PATH_MAX + 32];
	struct stat before, after, gone;
	pid_t w;

	zt_init(argc, argv);
	zt_tree_init(NS);
	zt_check_sys(getcwd(cwd, sizeof(cwd)) != NULL, "getcwd");
	umask(0);
	zt_check_sys(mkfifo("f", 0640) == 0, "mkfifo");
	fr = open("f", O_RDONLY | O_NONBLOCK);
	zt_check_sys(fr >= 0, "open f");
	fflush(NULL);
	w = fork();
	if (w == 0)
		_exit(w_main());
	zt_check_sys(w > 0, "fork");
	zt_tree_ready(S_R, "R");
	zt_tree_wait_ready();
	zt_check_sys(unlink("f") == 0 && fstat(fr, &before) == 0, "unlink f");
	zt_ready();
	zt_wait_for_check();

	snprintf(want, sizeof(want), "%s/f (deleted)", cwd);
	ssize_t n = readlink("/proc/self/fd/3", link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	zt_expect(fr == 3 && !strcmp(link, want), "fd %d reads '%s', not '%s'", fr, link, want);
	zt_expect(stat("f", &gone) < 0 && errno == ENOENT, "the name f is back");
	zt_expect(fstat(fr, &after) == 0 && S_ISFIFO(after.st_mode) && after.st_nlink == 0,
		  "fd is not a deleted FIFO");
	zt_expect((after.st_mode & 07777) == 0640, "mode %o", after.st_mode & 07777);
	zt_expect(after.st_uid == before.st_uid && after.st_gid == before.st_gid, "owner %u:%u",
		  after.st_uid, after.st_gid);
	zt_expect(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
		      after.st_mtim.tv_nsec == before.st_mtim.tv_nsec,
		  "modification time changed");
	zt_expect((fcntl(fr, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDONLY | O_NONBLOCK),
		  "f's flags %#o", fcntl(fr, F_GETFL));
	zt_fill_pattern(data, sizeof(data), 7);
	zt_expect(zt_read_full(fr, buf, sizeof(data)) == sizeof(data) &&
		      !memcmp(buf, data, sizeof(data)),
		  "the 3000 bytes in f differ");
	errno = 0;
	zt_expect(read(fr, buf, 1) < 0 && errno == EAGAIN, "f not empty (or at EOF): %m");
	zt_tree_go();
	zt_tree_set(V_STEP, 1);
	zt_expect(zt_tree_wait_var(V_ACK + S_W, 1, 15000), "W did not write");
	zt_expect(zt_read_full(fr, buf, 4) == 4 && !memcmp(buf, "more", 4), "no 'more' in f");
	struct pollfd q = {.fd = fr, .events = POLLIN};
	zt_expect(poll(&q, 1, 5000) == 1 && read(fr, buf, 1) == 0,
		  "f: no end of file once W closed it");
	zt_tree_collect();
	zt_tree_expect_exit0(S_W, w, "W");
	zt_pass();
}
