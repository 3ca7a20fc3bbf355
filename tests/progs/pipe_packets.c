/* A pipe in packet mode (O_DIRECT), the way a worker sends messages to its parent: W, the
 * child, made the pipe with O_DIRECT and writes five messages of 100, 1, 3000, 50 and 7
 * bytes, which stay queued while both wait (W for a word on a control pipe).
 *
 * After the check R reads them one by one with room for 8 KiB: each read returns one
 * message, whole, its bytes as written; the fourth is read with room for 2 bytes only, and
 * the kernel drops the rest of it (a packet, not plain bytes). Then W, told to go on, writes
 * one more message and exits: R reads it alone, then end of file. The write end still has
 * O_DIRECT in W, the read end none.
 *
 * The same through a FIFO "q": R opens it for reading, W for writing and sets O_DIRECT on its
 * end, then writes three messages of 20, 1 and 700 bytes, and R removes the name (both hold
 * it: a rendezvous point no longer needed): after the check R reads them one by one. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const size_t sizes[] = {100, 1, 3000, 50, 7};
#define NMSG (sizeof(sizes) / sizeof(sizes[0]))
static const size_t qsizes[] = {20, 1, 700};
#define NQ (sizeof(qsizes) / sizeof(qsizes[0]))

static int pk[2], ctl[2], qr, qw;

/* message i's bytes: a pattern of its own, so that a message read in another's place shows */
static char msg_byte(size_t i, size_t j)
{
	return (char)(i * 71 + j * 13 + (j >> 8));
}

static bool msg_ok(const char *p, size_t n, size_t i)
{
	for (size_t j = 0; j < n; j++)
		if (p[j] != msg_byte(i, j))
			return false;
	return true;
}

static ssize_t read_wait(int fd, void *buf, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;
	if (poll(&p, 1, 5000) != 1)
		return -2;
	while ((n = read(fd, buf, len)) < 0 && errno == EINTR)
		;
	return n;
}

static int w_main(void)
{
	char msg[3000], c;

	close(pk[0]), close(ctl[1]), close(qr);
	for (size_t i = 0; i < NMSG; i++) {
		for (size_t j = 0; j < sizes[i]; j++)
			msg[j] = msg_byte(i, j);
		if (write(pk[1], msg, sizes[i]) != (ssize_t)sizes[i])
			_exit(2);
	}
	qw = open("q", O_WRONLY);
	if (qw < 0 || fcntl(qw, F_SETFL, O_DIRECT) < 0)
		_exit(6);
	for (size_t i = 0; i < NQ; i++) {
		for (size_t j = 0; j < qsizes[i]; j++)
			msg[j] = msg_byte(i + 10, j);
		if (write(qw, msg, qsizes[i]) != (ssize_t)qsizes[i])
			_exit(7);
	}
	/* the parent's go: then one more message, and the write end is closed */
	if (read_wait(ctl[0], &c, 1) != 1 && read_wait(ctl[0], &c, 1) != 1)
		_exit(3);
	if (!(fcntl(pk[1], F_GETFL) & O_DIRECT))
		_exit(4);
	if (write(pk[1], "end", 3) != 3)
		_exit(5);
	_exit(0);
}

int main(int argc, char **argv)
{
	char buf[8192];
	int queued = 0, status;
	pid_t w;

	zt_init(argc, argv);
	zt_check_sys(pipe2(pk, O_DIRECT) == 0 && pipe(ctl) == 0, "pipe2");
	zt_check_sys(mkfifo("q", 0600) == 0 && (qr = open("q", O_RDONLY | O_NONBLOCK)) >= 0,
		     "the FIFO q");
	w = fork();
	zt_check_sys(w >= 0, "fork");
	if (w == 0)
		w_main();
	close(pk[1]), close(ctl[0]);
	int qq = 0;
	for (int i = 0; i < 500 && (queued != 3158 || qq != 721); i++) {
		ioctl(pk[0], FIONREAD, &queued);
		ioctl(qr, FIONREAD, &qq);
		usleep(10000);
	}
	zt_check_sys(queued == 3158 && qq == 721 && unlink("q") == 0, "W's messages");
	zt_ready();
	zt_wait_for_check();

	zt_expect(!(fcntl(pk[0], F_GETFL) & O_DIRECT), "the read end has O_DIRECT");
	zt_expect(ioctl(pk[0], FIONREAD, &queued) == 0 && queued == 3158, "%d bytes queued",
		  queued);
	for (size_t i = 0; i < NMSG; i++) {
		size_t room = i == 3 ? 2 : sizeof(buf);
		size_t want = sizes[i] < room ? sizes[i] : room;
		ssize_t n = read_wait(pk[0], buf, room);
		if (!zt_expect(n == (ssize_t)want, "message %zu: read %zd bytes, not %zu", i, n,
			       want))
			continue;
		zt_expect(msg_ok(buf, (size_t)n, i), "message %zu: its bytes differ", i);
	}
	zt_expect(ioctl(pk[0], FIONREAD, &queued) == 0 && queued == 0,
		  "%d bytes left after the messages", queued);
	for (size_t i = 0; i < NQ; i++) {
		ssize_t n = read_wait(qr, buf, sizeof(buf));
		zt_expect(n == (ssize_t)qsizes[i] && msg_ok(buf, (size_t)n, i + 10),
			  "FIFO message %zu: %zd bytes, not %zu (or its bytes differ)", i, n,
			  qsizes[i]);
	}
	zt_expect(ioctl(qr, FIONREAD, &queued) == 0 && queued == 0, "%d bytes left in the FIFO",
		  queued);
	zt_expect(write(ctl[1], "g", 1) == 1, "write ctl: %m");
	ssize_t n = read_wait(pk[0], buf, sizeof(buf));
	zt_expect(n == 3 && !memcmp(buf, "end", 3), "the last message: %zd bytes", n);
	n = read_wait(pk[0], buf, sizeof(buf));
	zt_expect(n == 0, "no end of file after the last message (%zd)", n);
	zt_expect(waitpid(w, &status, 0) == w && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "W ended with status %#x", status);
	zt_pass();
}
