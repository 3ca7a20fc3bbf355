/* Urgent data (MSG_OOB) in established TCP connections, both ends in the tree over loopback.
 * Four connections, each receiving end holding an urgent byte with normal data around it:
 * - "AAAA" + urgent 'X' + "BBBB": the byte not read yet, the mark 4 bytes ahead;
 * - "CC" + urgent 'Y' + "DD": the byte read already with recv(MSG_OOB), the mark 2 ahead;
 * - "EE" + urgent 'Z' + "FF" with SO_OOBINLINE: the byte in the stream, the mark 2 ahead;
 * - "GG" read, then urgent 'W' + "HH": the reader at the mark (SIOCINQ says 0);
 * - "II" + urgent 'V' + "JJ", then the writer's FIN: the reader in CLOSE_WAIT, its end of
 *   file after the data.
 * After the restore each must read the same: the data before the mark and no more, SIOCATMARK
 * at the mark and not before, recv(MSG_OOB) the byte (EINVAL once read or inline), the data
 * after, then data both ways. A restore that lost the mark, or the bytes after it (SIOCINQ
 * stops at the mark), or put the urgent byte in the stream, fails.
 * ZT_OOB_OUTSIDE (tcp6_oob): the writing ends are outside the tree, in a server the test
 * forks before zt_init, which answers "back" with "more" on each connection. */
// zt-run: gen2 tcp-established
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef ZT_TCP6
#define FAMILY AF_INET6
typedef struct sockaddr_in6 addr_t;
static addr_t lo = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
#else
#define FAMILY AF_INET
typedef struct sockaddr_in addr_t;
static addr_t lo = {.sin_family = AF_INET}; /* 127.0.0.1 set in main */
#endif

struct conn {
	int w, r; /* the writing end, the reading end */
	const char *before, *after;
	char urg;
	bool taken, inline_; /* the urgent byte read with MSG_OOB; SO_OOBINLINE on r */
	bool at_mark;	     /* `before` was read before the dump */
	bool fin;	     /* the writer shut down for writing after the data */
};

static struct conn conns[] = {
    {.before = "AAAA", .urg = 'X', .after = "BBBB"},
    {.before = "CC", .urg = 'Y', .after = "DD", .taken = true},
    {.before = "EE", .urg = 'Z', .after = "FF", .inline_ = true},
    {.before = "GG", .urg = 'W', .after = "HH", .at_mark = true},
    {.before = "II", .urg = 'V', .after = "JJ", .fin = true},
};
#define N_CONNS (sizeof(conns) / sizeof(conns[0]))

static int atmark(int fd)
{
	int v = -1;
	return ioctl(fd, SIOCATMARK, &v) < 0 ? -1 : v;
}

static bool read_is(int fd, const char *want)
{
	char buf[64];
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	poll(&pf, 1, 2000);
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	size_t len = strlen(want);
	if (n != (ssize_t)len || memcmp(buf, want, len)) {
		zt_log("read %zd bytes \"%.*s\", not \"%s\": %m", n, n > 0 ? (int)n : 0, buf, want);
		return false;
	}
	return true;
}

static void check(int i, struct conn *c)
{
	char b = 0;
	ssize_t n;

	if (!c->at_mark) {
		zt_expect(atmark(c->r) == 0, "conn %d: at the mark before its data was read", i);
		zt_expect(read_is(c->r, c->before), "conn %d: the data before the mark differs", i);
	}
	zt_expect(atmark(c->r) == 1, "conn %d: not at the mark after the data before it", i);
	n = recv(c->r, &b, 1, MSG_OOB | MSG_DONTWAIT);
	if (c->taken || c->inline_)
		zt_expect(n < 0 && errno == EINVAL,
			  "conn %d: recv(MSG_OOB) gave %zd '%c' (%m), not EINVAL", i, n, b);
	else
		zt_expect(n == 1 && b == c->urg,
			  "conn %d: recv(MSG_OOB) gave %zd '%c' (%m), not the urgent '%c'", i, n, b,
			  c->urg);
	char inl[16];
	snprintf(inl, sizeof(inl), "%c%s", c->urg, c->after);
	zt_expect(read_is(c->r, c->inline_ ? inl : c->after),
		  "conn %d: the data after the mark differs", i);
	zt_expect(atmark(c->r) == 0, "conn %d: still at the mark after the data", i);
	zt_expect(send(c->r, "back", 4, 0) == 4, "conn %d: cannot answer: %m", i);
#ifndef ZT_OOB_OUTSIDE
	zt_expect(read_is(c->w, "back"), "conn %d: the stream back does not go on", i);
	zt_expect(c->fin || send(c->w, "more", 4, 0) == 4, "conn %d: cannot send more: %m", i);
#endif
	if (c->fin) {
		struct pollfd pf = {.fd = c->r, .events = POLLIN};
		n = poll(&pf, 1, 2000) == 1 ? recv(c->r, &b, 1, MSG_DONTWAIT) : -1;
		zt_expect(n == 0, "conn %d: no end of file after the data (%zd: %m)", i, n);
	} else {
		zt_expect(read_is(c->r, "more"), "conn %d: the stream does not go on", i);
	}
}

/* one connection's writing end: the data around the urgent byte, in three writes (the urgent
 * byte alone is the last byte of its segment) */
static bool send_oob(int w, const struct conn *c)
{
	return send(w, c->before, strlen(c->before), 0) > 0 && send(w, &c->urg, 1, MSG_OOB) == 1 &&
	       send(w, c->after, strlen(c->after), 0) > 0 && (!c->fin || shutdown(w, SHUT_WR) == 0);
}

#ifdef ZT_OOB_OUTSIDE
static void __attribute__((noreturn)) serve(int l)
{
	int w[N_CONNS];
	char b[4];

	alarm(120); /* never outlives a run that forgot it */
	for (size_t i = 0; i < N_CONNS; i++)
		if ((w[i] = accept(l, NULL, NULL)) < 0 || !send_oob(w[i], &conns[i]))
			_exit(1);
	for (size_t i = 0; i < N_CONNS; i++)
		if (recv(w[i], b, 4, MSG_WAITALL) != 4 || memcmp(b, "back", 4) ||
		    (!conns[i].fin && send(w[i], "more", 4, 0) != 4))
			_exit(2);
	for (size_t i = 0; i < N_CONNS; i++)
		if (recv(w[i], b, 1, 0) != 0)
			_exit(3);
	_exit(0);
}
#endif

int main(int argc, char **argv)
{
	addr_t a = lo;
	socklen_t alen = sizeof(a);
	int one = 1;
#ifndef ZT_TCP6
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
#endif

	int l = socket(FAMILY, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 8) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
		perror("listen");
		return 1;
	}
#ifdef ZT_OOB_OUTSIDE
	pid_t server = fork();
	if (server < 0)
		return 1;
	if (server == 0)
		serve(l);
	close(l);
	zt_init(argc, argv);
	for (size_t i = 0; i < N_CONNS; i++) {
		struct conn *c = &conns[i];
		c->w = -1;
		c->r = socket(FAMILY, SOCK_STREAM, 0);
		zt_check_sys(c->r >= 0 && connect(c->r, (struct sockaddr *)&a, sizeof(a)) == 0,
			     "connect");
		if (c->inline_)
			zt_check_sys(
			    setsockopt(c->r, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) == 0,
			    "SO_OOBINLINE");
	}
#else
	zt_init(argc, argv);
	for (size_t i = 0; i < N_CONNS; i++) {
		struct conn *c = &conns[i];
		c->w = socket(FAMILY, SOCK_STREAM, 0);
		zt_check_sys(c->w >= 0 && connect(c->w, (struct sockaddr *)&a, sizeof(a)) == 0,
			     "connect");
		c->r = accept(l, NULL, NULL);
		zt_check_sys(c->r >= 0, "accept");
		if (c->inline_)
			zt_check_sys(
			    setsockopt(c->r, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) == 0,
			    "SO_OOBINLINE");
		zt_check_sys(send_oob(c->w, c), "send");
	}
#endif
	usleep(100000);
	for (size_t i = 0; i < N_CONNS; i++) {
		struct conn *c = &conns[i];
		char b;
		if (c->taken)
			zt_check_sys(recv(c->r, &b, 1, MSG_OOB) == 1 && b == c->urg,
				     "recv MSG_OOB");
		if (c->at_mark)
			zt_check_sys(read_is(c->r, c->before) && atmark(c->r) == 1, "read to mark");
	}
	zt_ready();
	zt_wait_for_check();

	for (size_t i = 0; i < N_CONNS; i++)
		check((int)i, &conns[i]);
	zt_pass();
}
