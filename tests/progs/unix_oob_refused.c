/* A unix stream pair with urgent data (MSG_OOB) in the receive queue of R's end, which cryo
 * cannot restore exactly yet; $ZT_OOB_KIND picks the state:
 *   pending  "head", the urgent byte '!', "tail", all sent by the test itself
 *   other    the same, the urgent byte sent by a child of the test, W's end with
 *            SO_PASSCRED so that each byte carries its sender (a peek's stop there looks
 *            like a change of sender)
 *   inline   as other, R's end with SO_OOBINLINE (the byte is read in line, reads stop
 *            before it)
 *   mark     the urgent byte and "head" read already: R's end is at the mark (SIOCATMARK)
 *   stop     "head" from the test, then '!' and "tail" from a child; the urgent byte read
 *            already: a read stops after "head", where it was
 * R's fd number goes to the file "fd" of the work directory. The case unix-oob-refused
 * (tests/cases/unix_oob_refused.sh) expects the dump to refuse, naming the task, the fd and
 * urgent data, and this program to run on unharmed; its check reads the queue as a program
 * would: where reads stop, SIOCATMARK on the way, the urgent byte, every byte in order. */
// zt-run: no-cryo
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int atmark(int fd)
{
	int m = -1;
	return ioctl(fd, SIOCATMARK, &m) < 0 ? -1 : m;
}

/* send from a child: another sender's credentials on those bytes */
static void send_as_child(int fd, const char *b, size_t n, int flags)
{
	pid_t c = fork();
	if (c == 0)
		_exit(send(fd, b, n, flags) == (ssize_t)n ? 0 : 1);
	int st = 0;
	zt_check_sys(c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && !WEXITSTATUS(st),
		     "send from a child");
}

static ssize_t rd(int fd, char *b, size_t n, int flags)
{
	memset(b, 0, n);
	return recv(fd, b, n, flags | MSG_DONTWAIT);
}

int main(int argc, char **argv)
{
	const char *kind = getenv("ZT_OOB_KIND");
	int sv[2], one = 1, n;
	char b[32], line[32];

	zt_init(argc, argv);
	if (!kind)
		kind = "pending";
	zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	int r = sv[0], w = sv[1];
	bool inl = !strcmp(kind, "inline");
	if (inl)
		zt_check_sys(setsockopt(r, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) == 0,
			     "SO_OOBINLINE");
	/* the sender's SO_PASSCRED: each byte carries its sender, which a reader without it
	 * does not see (its reads run on across a change of sender) */
	if (strcmp(kind, "pending") && strcmp(kind, "mark"))
		zt_check_sys(setsockopt(w, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == 0,
			     "SO_PASSCRED");
	zt_check_sys(send(w, "head", 4, 0) == 4, "send head");
	if (!strcmp(kind, "pending") || !strcmp(kind, "mark"))
		zt_check_sys(send(w, "!", 1, MSG_OOB) == 1, "send urgent");
	else
		send_as_child(w, "!", 1, MSG_OOB);
	if (!strcmp(kind, "stop"))
		send_as_child(w, "tail", 4, 0);
	else
		zt_check_sys(send(w, "tail", 4, 0) == 4, "send tail");
	if (!strcmp(kind, "mark"))
		zt_check_sys(rd(r, b, sizeof(b), 0) == 4 && rd(r, b, 1, MSG_OOB) == 1 &&
				 b[0] == '!' && atmark(r) == 1,
			     "read up to the mark");
	if (!strcmp(kind, "stop"))
		zt_check_sys(rd(r, b, 1, MSG_OOB) == 1 && b[0] == '!', "read the urgent byte");
	n = snprintf(line, sizeof(line), "%d\n", r);
	int f = open("fd", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	zt_check_sys(f >= 0 && write(f, line, (size_t)n) == n, "fd file");
	close(f);

	zt_ready();
	zt_wait_for_check();

	if (!strcmp(kind, "mark")) {
		zt_expect(atmark(r) == 1, "not at the mark any more");
		zt_expect(rd(r, b, sizeof(b), 0) == 4 && !memcmp(b, "tail", 4), "tail: '%s'", b);
		zt_expect(atmark(r) == 0, "still at the mark after tail");
		zt_pass();
	}
	if (!strcmp(kind, "stop")) {
		zt_expect(atmark(r) == 0, "at a mark before head");
		zt_expect(rd(r, b, sizeof(b), 0) == 4 && !memcmp(b, "head", 4),
			  "the first read is '%s', not head (it stops where the urgent byte was)",
			  b);
		zt_expect(atmark(r) == 1, "not at the mark after head");
		zt_expect(rd(r, b, sizeof(b), 0) == 4 && !memcmp(b, "tail", 4), "tail: '%s'", b);
		zt_pass();
	}
	/* pending, other, inline: a read stops before the urgent byte */
	zt_expect(atmark(r) == 0, "at the mark before head");
	zt_expect(rd(r, b, sizeof(b), 0) == 4 && !memcmp(b, "head", 4),
		  "the first read is '%s', not head", b);
	zt_expect(atmark(r) == 1, "not at the mark after head");
	if (inl) {
		errno = 0;
		zt_expect(rd(r, b, 1, MSG_OOB) < 0 && errno == EINVAL,
			  "recv(MSG_OOB) of an inline socket: %m");
		zt_expect(rd(r, b, sizeof(b), 0) == 5 && !memcmp(b, "!tail", 5),
			  "in line: '%s', not !tail", b);
	} else {
		zt_expect(rd(r, b, 1, MSG_OOB) == 1 && b[0] == '!', "urgent byte '%c'", b[0]);
		zt_expect(rd(r, b, sizeof(b), 0) == 4 && !memcmp(b, "tail", 4), "tail: '%s'", b);
	}
	zt_expect(rd(r, b, 1, 0) < 0 && errno == EAGAIN, "more bytes than sent");
	zt_pass();
}
