/* Urgent data (MSG_OOB) in the receive queues of unix stream pairs, restored where it was.
 * One pair per form (R: the test's reading end, W: its peer):
 *   pending  "head", the urgent byte '!', "tail", all sent by the test itself
 *   other    the same, the urgent byte sent by a child of the test (gone at the dump), W's
 *            end with SO_PASSCRED so that each byte carries its sender
 *   inline   as other, R's end with SO_OOBINLINE (the byte is read in line, reads stop
 *            before it)
 *   mark     the urgent byte and "head" read already: R's end is at the mark (SIOCATMARK)
 *   stop     "head" from the test, then '!' and "tail" from a child; the urgent byte read
 *            already: a read stops after "head", where it was
 *   first    the urgent byte '!' first in the queue (a peek from the start steps over it),
 *            then "tail"
 *   twice    "a", '1' urgent and read already, "b", '2' urgent and pending, "c" (a read
 *            runs on across the empty buffer of '1' while '2' is pending, and stops at '2')
 * The check reads each queue as a program would: where reads stop, SIOCATMARK on the way,
 * the urgent byte (recv(MSG_OOB), or EINVAL in line), every byte in order, and nothing
 * after. A restore that gave the byte back in line, lost a stop, or moved the mark by a byte
 * fails one of these reads. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PENDING, OTHER, INLINE, MARK, STOP, FIRST, TWICE, NK };
static const char *const kinds[NK] = {"pending", "other", "inline", "mark",
				      "stop",	 "first", "twice"};

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

static void snd(int fd, const char *b, int flags)
{
	zt_check_sys(send(fd, b, strlen(b), flags) == (ssize_t)strlen(b), b);
}

static ssize_t rd(int fd, char *b, size_t n, int flags)
{
	memset(b, 0, n);
	return recv(fd, b, n, flags | MSG_DONTWAIT);
}

/* a normal read of at most 32 bytes is exactly want */
static void expect_read(const char *k, int r, const char *want)
{
	char b[33];
	ssize_t n = rd(r, b, 32, 0);
	zt_expect(n == (ssize_t)strlen(want) && !memcmp(b, want, strlen(want)),
		  "%s: read %zd bytes '%s', not '%s'", k, n, b, want);
}

static void expect_mark(const char *k, int r, int want, const char *where)
{
	int m = atmark(r);
	zt_expect(m == want, "%s: SIOCATMARK %d %s, not %d", k, m, where, want);
}

static void expect_urgent(const char *k, int r, char want)
{
	char b[2];
	ssize_t n = rd(r, b, 1, MSG_OOB);
	zt_expect(n == 1 && b[0] == want, "%s: recv(MSG_OOB) %zd '%c', not '%c' (%m)", k, n,
		  n == 1 ? b[0] : '?', want);
}

static void expect_empty(const char *k, int r)
{
	char b[2];
	errno = 0;
	zt_expect(rd(r, b, 1, 0) < 0 && errno == EAGAIN, "%s: more bytes than sent", k);
}

int main(int argc, char **argv)
{
	int sv[NK][2], one = 1;
	char b[32];

	zt_init(argc, argv);
	for (int k = 0; k < NK; k++)
		zt_check_sys(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[k]) == 0, "socketpair");
	zt_check_sys(setsockopt(sv[INLINE][0], SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) == 0,
		     "SO_OOBINLINE");
	for (int k = OTHER; k <= STOP; k++)
		if (k != MARK)
			zt_check_sys(
			    setsockopt(sv[k][1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == 0,
			    "SO_PASSCRED");
	for (int k = PENDING; k <= STOP; k++) {
		snd(sv[k][1], "head", 0);
		if (k == PENDING || k == MARK)
			snd(sv[k][1], "!", MSG_OOB);
		else
			send_as_child(sv[k][1], "!", 1, MSG_OOB);
		if (k == STOP)
			send_as_child(sv[k][1], "tail", 4, 0);
		else
			snd(sv[k][1], "tail", 0);
	}
	zt_check_sys(rd(sv[MARK][0], b, sizeof(b), 0) == 4 && rd(sv[MARK][0], b, 1, MSG_OOB) == 1 &&
			 b[0] == '!' && atmark(sv[MARK][0]) == 1,
		     "mark: read up to the mark");
	zt_check_sys(rd(sv[STOP][0], b, 1, MSG_OOB) == 1 && b[0] == '!', "stop: urgent byte");
	snd(sv[FIRST][1], "!", MSG_OOB);
	snd(sv[FIRST][1], "tail", 0);
	snd(sv[TWICE][1], "a", 0);
	snd(sv[TWICE][1], "1", MSG_OOB);
	zt_check_sys(rd(sv[TWICE][0], b, 1, MSG_OOB) == 1 && b[0] == '1', "twice: urgent byte 1");
	snd(sv[TWICE][1], "b", 0);
	snd(sv[TWICE][1], "2", MSG_OOB);
	snd(sv[TWICE][1], "c", 0);

	zt_ready();
	zt_wait_for_check();

	for (int k = PENDING; k <= INLINE; k++) {
		const char *n = kinds[k];
		int r = sv[k][0];
		expect_mark(n, r, 0, "before head");
		expect_read(n, r, "head");
		expect_mark(n, r, 1, "after head");
		if (k == INLINE) {
			errno = 0;
			zt_expect(rd(r, b, 1, MSG_OOB) < 0 && errno == EINVAL,
				  "inline: recv(MSG_OOB) of an inline socket: %m");
			expect_read(n, r, "!tail");
		} else {
			expect_urgent(n, r, '!');
			expect_read(n, r, "tail");
		}
		expect_empty(n, r);
	}
	expect_mark("mark", sv[MARK][0], 1, "at first");
	expect_read("mark", sv[MARK][0], "tail");
	expect_mark("mark", sv[MARK][0], 0, "after tail");
	expect_empty("mark", sv[MARK][0]);

	expect_mark("stop", sv[STOP][0], 0, "before head");
	expect_read("stop", sv[STOP][0], "head");
	expect_mark("stop", sv[STOP][0], 1, "after head");
	expect_read("stop", sv[STOP][0], "tail");
	expect_empty("stop", sv[STOP][0]);

	expect_mark("first", sv[FIRST][0], 1, "at first");
	expect_urgent("first", sv[FIRST][0], '!');
	expect_read("first", sv[FIRST][0], "tail");
	expect_empty("first", sv[FIRST][0]);

	int r = sv[TWICE][0];
	/* the empty buffer of '1' stops no read while '2' is pending */
	expect_mark("twice", r, 0, "before a");
	expect_read("twice", r, "ab");
	expect_mark("twice", r, 1, "after b");
	expect_urgent("twice", r, '2');
	expect_read("twice", r, "c");
	expect_empty("twice", r);
	zt_pass();
}
