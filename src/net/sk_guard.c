/* The socket guard (see sk_guard.h). */
#include "net/sk_guard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"
#include "net/tcp_repair.h"

/* Most sockets one message carries (the kernel's SCM_MAX_FD is 253) */
#define GUARD_FDS_PER_MSG 250
#define GUARD_TABLE_MAX 64

/* One socket as it travels: its id and what to put back */
struct guard_rec {
	uint32_t id;
	uint8_t what;
	uint8_t reuse, oobinline, passcred;
	int32_t peek_off;
};

struct guard_held {
	struct guard_rec r;
	int fd; /* -1: released */
};

void sk_guard_init(struct sk_guard *g, int (*drop_table)(const char *name))
{
	g->fd = -1;
	g->pid = -1;
	g->next_id = 0;
	g->drop_table = drop_table;
}

static void set_int(int sk, int opt, int v)
{
	setsockopt(sk, SOL_SOCKET, opt, &v, sizeof(v));
}

/* cryo is gone without its word: every socket not released as it was, the table gone */
static void put_back(struct guard_held *h, uint32_t n, const char *table,
		     int (*drop_table)(const char *name))
{
	for (uint32_t i = 0; i < n; i++) {
		const struct guard_rec *r = &h[i].r;
		int sk = h[i].fd;
		if (sk < 0)
			continue;
		if (r->what & SKG_REPAIR)
			tcp_repair_off(sk);
		/* leaving repair mode cleared SO_REUSEADDR (the kernel's sk_reuse) */
		if (r->what & SKG_REUSEADDR)
			set_int(sk, SO_REUSEADDR, r->reuse);
		if (r->what & SKG_OOBINLINE)
			set_int(sk, SO_OOBINLINE, r->oobinline);
		if (r->what & SKG_PASSCRED)
			set_int(sk, SO_PASSCRED, r->passcred);
		if (r->what & SKG_PEEK_OFF)
			set_int(sk, SO_PEEK_OFF, r->peek_off);
	}
	if (table[0] && drop_table)
		drop_table(table);
}

/* Take one 'H' message's sockets into h (grown as needed); false when it makes no sense or
 * memory is out (cryo sees the guard gone: its next send fails) */
static bool take(struct guard_held **h, uint32_t *n, uint32_t *cap, const char *msg, size_t len,
		 struct msghdr *mh)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(mh);
	size_t k = (len - 1) / sizeof(struct guard_rec);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) != k || (len - 1) % sizeof(struct guard_rec))
		return false;
	if (*n + k > *cap) {
		uint32_t want = (uint32_t)(*n + k + 256);
		struct guard_held *v = realloc(*h, want * sizeof(*v));
		if (!v)
			return false;
		*h = v;
		*cap = want;
	}
	for (size_t i = 0; i < k; i++) {
		struct guard_held *e = &(*h)[*n];
		memcpy(&e->r, msg + 1 + i * sizeof(struct guard_rec), sizeof(e->r));
		memcpy(&e->fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		if (e->r.id != *n) /* ids come in order from 0 */
			return false;
		(*n)++;
	}
	return true;
}

static void __attribute__((noreturn)) guard_main(int sp, int (*drop_table)(const char *name))
{
	struct guard_held *h = NULL;
	uint32_t n = 0, cap = 0;
	char table[GUARD_TABLE_MAX] = "";

	for (;;) {
		char msg[1 + GUARD_FDS_PER_MSG * sizeof(struct guard_rec)];
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(GUARD_FDS_PER_MSG * sizeof(int))];
		} c;
		struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = c.buf,
				    .msg_controllen = sizeof(c.buf)};
		ssize_t got = recvmsg(sp, &mh, MSG_CMSG_CLOEXEC);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (msg[0] == 'E')
			_exit(0);
		if (msg[0] == 'H' && take(&h, &n, &cap, msg, (size_t)got, &mh))
			continue;
		if (msg[0] == 'R' && got == 1 + (ssize_t)sizeof(uint32_t)) {
			uint32_t id;
			memcpy(&id, msg + 1, sizeof(id));
			if (id < n && h[id].fd >= 0) {
				close(h[id].fd);
				h[id].fd = -1;
			}
			continue;
		}
		if (msg[0] == 'T' && got > 1 && got <= GUARD_TABLE_MAX) {
			memcpy(table, msg + 1, (size_t)got - 1);
			table[got - 1] = 0;
			continue;
		}
		break; /* nonsense: act as if cryo were gone, which it must be */
	}
	put_back(h, n, table, drop_table);
	_exit(1);
}

static int guard_start(struct sk_guard *g)
{
	int sp[2];

	if (g->fd >= 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		close(sp[0]);
		close(sp[1]);
		return -err;
	}
	if (pid == 0) {
		/* its end of the pair only: the tree's descriptors it must hold come over it */
		watchdog_child_setup(sp[1], "cryo-guard");
		guard_main(3, g->drop_table);
	}
	close(sp[1]);
	g->fd = sp[0];
	g->pid = pid;
	return 0;
}

static int get_int(int sk, int opt, uint8_t *v8, int32_t *v32)
{
	int v = 0;
	socklen_t len = sizeof(v);
	if (getsockopt(sk, SOL_SOCKET, opt, &v, &len) < 0)
		return -errno;
	if (v8)
		*v8 = (uint8_t)(v != 0);
	if (v32)
		*v32 = v;
	return 0;
}

static int guard_send(struct sk_guard *g, const void *msg, size_t len, struct msghdr *mh)
{
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	struct msghdr plain = {0};
	if (!mh)
		mh = &plain;
	mh->msg_iov = &iov;
	mh->msg_iovlen = 1;
	ssize_t sent;
	while ((sent = sendmsg(g->fd, mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (sent != (ssize_t)len)
		return sent < 0 ? -errno : -EPIPE;
	return 0;
}

int sk_guard_hold(struct sk_guard *g, const int *sks, size_t n, unsigned what, const bool *reuse,
		  uint32_t *first_id)
{
	int ret;

	if ((ret = guard_start(g)))
		return ret;
	*first_id = g->next_id;
	for (size_t i = 0; i < n;) {
		size_t k = n - i < GUARD_FDS_PER_MSG ? n - i : GUARD_FDS_PER_MSG;
		char msg[1 + GUARD_FDS_PER_MSG * sizeof(struct guard_rec)];
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(GUARD_FDS_PER_MSG * sizeof(int))];
		} u;
		memset(&u, 0, sizeof(u));
		msg[0] = 'H';
		for (size_t j = 0; j < k; j++) {
			int sk = sks[i + j];
			struct guard_rec r = {.id = g->next_id + (uint32_t)j,
					      .what = (uint8_t)what};
			if (what & SKG_REUSEADDR)
				r.reuse = reuse && reuse[i + j];
			if (((what & SKG_OOBINLINE) &&
			     (ret = get_int(sk, SO_OOBINLINE, &r.oobinline, NULL))) ||
			    ((what & SKG_PASSCRED) &&
			     (ret = get_int(sk, SO_PASSCRED, &r.passcred, NULL))) ||
			    ((what & SKG_PEEK_OFF) &&
			     (ret = get_int(sk, SO_PEEK_OFF, NULL, &r.peek_off))))
				return ret;
			memcpy(msg + 1 + j * sizeof(r), &r, sizeof(r));
		}
		struct msghdr mh = {.msg_control = u.buf,
				    .msg_controllen = CMSG_SPACE(k * sizeof(int))};
		struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(k * sizeof(int));
		memcpy(CMSG_DATA(h), sks + i, k * sizeof(int));
		if ((ret = guard_send(g, msg, 1 + k * sizeof(struct guard_rec), &mh)))
			return ret;
		g->next_id += (uint32_t)k;
		i += k;
	}
	return 0;
}

int sk_guard_release(struct sk_guard *g, uint32_t id)
{
	char msg[1 + sizeof(id)] = {'R'};

	if (g->fd < 0)
		return -EBADF;
	memcpy(msg + 1, &id, sizeof(id));
	return guard_send(g, msg, sizeof(msg), NULL);
}

int sk_guard_table(struct sk_guard *g, const char *name)
{
	char msg[GUARD_TABLE_MAX] = {'T'};
	size_t len = strlen(name);
	int ret;

	if (!len || len + 1 > sizeof(msg))
		return -EINVAL;
	if ((ret = guard_start(g)))
		return ret;
	memcpy(msg + 1, name, len);
	return guard_send(g, msg, 1 + len, NULL);
}

void sk_guard_end(struct sk_guard *g)
{
	if (g->fd >= 0) {
		char e = 'E';
		/* a guard already gone (it ran out of memory) has nothing to do either */
		ssize_t r = send(g->fd, &e, 1, MSG_NOSIGNAL);
		(void)r;
		close(g->fd);
		g->fd = -1;
	}
	if (g->pid > 0)
		while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
			;
	g->pid = -1;
}
