/* The network lock with nftables (see netlock.h). */
#include "net/netlock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "net/netlock_elems.h"
#include "net/tcp_repair.h"

void netlock_init(struct netlock *l)
{
	l->table[0] = 0;
	l->wd_fd = -1;
	l->wd_pid = -1;
	l->nft = NULL;
	l->n_conns = 0;
}

/* Run nft commands in ctx (a new one when NULL); 0 or -EIO with nft's message in err */
static int nft_run_in(struct nft_ctx *ctx, const char *cmds, char *err, size_t size)
{
	struct nft_ctx *nft = ctx ? ctx : nft_ctx_new(NFT_CTX_DEFAULT);
	int ret;

	if (!nft) {
		snprintf(err, size, "cannot start libnftables");
		return -ENOMEM;
	}
	if (!ctx) {
		nft_ctx_buffer_output(nft);
		nft_ctx_buffer_error(nft);
	}
	ret = nft_run_cmd_from_buffer(nft, cmds);
	if (ret) {
		const char *e = nft_ctx_get_error_buffer(nft);
		snprintf(err, size, "%s", e && *e ? e : "nft failed");
		size_t n = strlen(err);
		while (n && err[n - 1] == '\n')
			err[--n] = 0;
	}
	if (!ctx)
		nft_ctx_free(nft);
	return ret ? -EIO : 0;
}

static int nft_run(const char *cmds, char *err, size_t size)
{
	return nft_run_in(NULL, cmds, err, size);
}

static int table_delete(const char *name, char *err, size_t size)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "delete table inet %s\n", name);
	return nft_run(cmd, err, size);
}

/* Most descriptors one SCM_RIGHTS message carries (the kernel's SCM_MAX_FD is 253) */
#define WD_FDS_PER_MSG 250

/* The watchdog: sockets come in over fd 3 (SCM_RIGHTS, up to WD_FDS_PER_MSG a message,
 * the byte 'F' and one byte a socket: its SO_REUSEADDR), then a verdict byte, or EOF */
static void __attribute__((noreturn)) watchdog(const char *table)
{
	int *fds = NULL, n = 0, cap = 0;
	char verdict = 0, err[256], *reuse = NULL;

	for (;;) {
		char msg[1 + WD_FDS_PER_MSG];
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(WD_FDS_PER_MSG * sizeof(int))];
		} c;
		struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = c.buf,
				    .msg_controllen = sizeof(c.buf)};
		ssize_t got = recvmsg(3, &mh, MSG_CMSG_CLOEXEC);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		char byte = msg[0];
		struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
		if (byte == 'F' && h && h->cmsg_type == SCM_RIGHTS) {
			int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			if (n + k > cap) {
				int *v = realloc(fds, (size_t)(n + k + 256) * sizeof(*v));
				char *r = v ? realloc(reuse, (size_t)(n + k + 256)) : NULL;
				if (!r) /* it can do nothing for them: cryo is told (EOF) */
					_exit(2);
				fds = v;
				reuse = r;
				cap = n + k + 256;
			}
			memcpy(fds + n, CMSG_DATA(h), (size_t)k * sizeof(int));
			/* cryo read each SO_REUSEADDR before repair mode, in which it reads 2; a
			 * message without them (never sent so) is read from the sockets, not yet
			 * in repair mode: cryo waits for the word below */
			for (int i = n; i < n + k; i++) {
				int v = 0;
				socklen_t vl = sizeof(v);
				reuse[i] = got == 1 + k ? msg[1 + i - n] == 1
							: getsockopt(fds[i], SOL_SOCKET,
								     SO_REUSEADDR, &v, &vl) == 0 &&
							      v == 1;
			}
			n += k;
			if (write(3, "", 1) != 1) /* each batch acknowledged */
				break;
			continue;
		}
		verdict = byte;
		break;
	}
	if (verdict == 'K' || verdict == 'D')
		_exit(0);
	/* cryo is gone without a word: the connections go on as they were, SO_REUSEADDR
	 * too (leaving repair mode clears it; read as each socket came, before repair mode,
	 * in which it reads 2) */
	for (int i = 0; i < n; i++) {
		int one = 1;
		tcp_repair_off(fds[i]);
		if (reuse[i])
			setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	table_delete(table, err, sizeof(err));
	_exit(1);
}

static int watchdog_start(struct netlock *l)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	l->wd_pid = fork();
	if (l->wd_pid < 0) {
		int err = errno;
		close(sp[0]);
		close(sp[1]);
		return -err;
	}
	if (l->wd_pid == 0) {
		/* nothing of cryo's but its end of the pair: not the images, not the log, not the
		 * tree's sockets copied so far (those come over the pair) */
		if (sp[1] != 3) {
			dup2(sp[1], 3);
			close(sp[1]);
		}
		syscall(__NR_close_range, 4, ~0u, 0);
		for (int fd = 0; fd < 3; fd++)
			close(fd);
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		prctl(PR_SET_NAME, "cryo-netlock");
		watchdog(l->table);
	}
	close(sp[1]);
	l->wd_fd = sp[0];
	return 0;
}

static void watchdog_tell(struct netlock *l, char verdict)
{
	if (l->wd_fd >= 0) {
		if (write(l->wd_fd, &verdict, 1) != 1)
			pr_warn("cannot tell the network lock's watchdog that the dump ended");
		close(l->wd_fd);
		l->wd_fd = -1;
	}
	if (l->wd_pid > 0)
		while (waitpid(l->wd_pid, NULL, 0) < 0 && errno == EINTR)
			;
	l->wd_pid = -1;
}

/* "1.2.3.4 . 5" of one end (an element's half), v6 set for an IPv6 address */
static bool end_text(const struct sockaddr_storage *ss, char *buf, size_t size, bool *v6)
{
	char a[INET6_ADDRSTRLEN];
	unsigned port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		port = ntohs(s->sin_port);
		*v6 = false;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
			inet_ntop(AF_INET, &s->sin6_addr.s6_addr[12], a, sizeof(a));
			*v6 = false;
		} else {
			inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
			*v6 = true;
		}
		port = ntohs(s->sin6_port);
	} else {
		return false;
	}
	snprintf(buf, size, "%s . %u", a, port);
	return true;
}

/* The table: a set of connections per IP version (local address . port . remote address .
 * port), and in each direction one rule that drops what matches: adding a connection is
 * adding an element, which costs the same with 1 or 10,000 of them (a rule each would make
 * every addition read all the rules before it).
 *
 * First in each chain, the one exception: the segments libcryotcp makes at the restore of a
 * half-closed connection (the peer's FIN, its acknowledgement of ours), sent from a raw socket
 * marked TCP_REPAIR_MARK, from the peer's address to the local end. They come in (input), and
 * go out (output: when both ends are in the tree their reverse is in the set too) only to a
 * local address: nothing marked so reaches a peer elsewhere, and the dump refuses a socket of
 * the tree that carries the mark. */
static const char table_fmt[] =
    "add table inet %1$s\n"
    "add set inet %1$s conns4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n"
    "add set inet %1$s conns6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }\n"
    "add chain inet %1$s in { type filter hook input priority -400; }\n"
    "add chain inet %1$s out { type filter hook output priority -400; }\n"
    "add rule inet %1$s out meta mark %2$#x fib daddr type local accept\n"
    "add rule inet %1$s in meta mark %2$#x accept\n"
    "add rule inet %1$s out ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop\n"
    "add rule inet %1$s in ip daddr . tcp dport . ip saddr . tcp sport @conns4 drop\n"
    "add rule inet %1$s out ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop\n"
    "add rule inet %1$s in ip6 daddr . tcp dport . ip6 saddr . tcp sport @conns6 drop\n";

/* Hand n sockets to the watchdog, waiting for its word that it holds each batch */
static int watchdog_hand(struct netlock *l, const struct netlock_conn *c, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = n - i < WD_FDS_PER_MSG ? n - i : WD_FDS_PER_MSG;
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(WD_FDS_PER_MSG * sizeof(int))];
		} u;
		memset(&u, 0, sizeof(u));
		char msg[1 + WD_FDS_PER_MSG], byte;
		msg[0] = 'F';
		for (size_t j = 0; j < k; j++)
			msg[1 + j] = c[i + j].reuse;
		struct iovec iov = {.iov_base = msg, .iov_len = 1 + k};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = u.buf,
				    .msg_controllen = CMSG_SPACE(k * sizeof(int))};
		struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(k * sizeof(int));
		for (size_t j = 0; j < k; j++)
			memcpy(CMSG_DATA(h) + j * sizeof(int), &c[i + j].sk, sizeof(int));
		ssize_t sent = sendmsg(l->wd_fd, &mh, MSG_NOSIGNAL);
		if (sent != (ssize_t)(1 + k))
			return sent < 0 ? -errno : -EPIPE;
		ssize_t got;
		while ((got = read(l->wd_fd, &byte, 1)) < 0 && errno == EINTR)
			;
		if (got != 1)
			return got < 0 ? -errno : -EPIPE;
		i += k;
	}
	return 0;
}

/* The nftables context, the table and the watchdog, once per dump; who for messages */
static int table_make(struct netlock *l, const char *who)
{
	char err[512];
	char *cmds = NULL;
	size_t len = 0;
	int ret = 0;

	if (l->table[0])
		return 0;
	if (!l->nft) {
		l->nft = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!l->nft) {
			pr_err("%s: cannot start libnftables for the network lock", who);
			return -ENOMEM;
		}
		nft_ctx_buffer_output(l->nft);
		nft_ctx_buffer_error(l->nft);
	}
	FILE *f = open_memstream(&cmds, &len);
	if (!f)
		return -ENOMEM;
	snprintf(l->table, sizeof(l->table), "cryo-lock-%d", getpid());
	/* a table of the same name left by a cryo of this pid that was killed */
	table_delete(l->table, err, sizeof(err));
	/* priority -400: before conntrack and every other filter */
	fprintf(f, table_fmt, l->table, TCP_REPAIR_MARK);
	if (fclose(f) || !cmds) {
		free(cmds);
		l->table[0] = 0;
		return -ENOMEM;
	}
	/* the watchdog first: from the table's first moment, a cryo killed leaves nothing */
	if ((ret = watchdog_start(l)))
		pr_errno(-ret, "cannot start the network lock's watchdog");
	if (!ret && (ret = nft_run_in(l->nft, cmds, err, sizeof(err))))
		pr_err("%s: cannot make the network lock (nftables table inet %s): %s", who,
		       l->table, err);
	free(cmds);
	if (ret) {
		if (l->wd_fd >= 0) /* nothing to undo: it only exits */
			watchdog_tell(l, 'D');
		l->table[0] = 0;
	}
	return ret;
}

int netlock_prepare(struct netlock *l, const char *who)
{
	int ret = table_make(l, who);
	if (!ret)
		pr_debug("network lock: table inet %s made before the freeze", l->table);
	return ret;
}

int netlock_add(struct netlock *l, const struct netlock_conn *c, size_t n)
{
	char err[512];
	int ret;

	if (!n)
		return 0;
	if ((ret = table_make(l, c[0].who)))
		return ret;
	/* the connections, one transaction for them all */
	if ((ret = netlock_elems_add(l->table, c, n, err, sizeof(err)))) {
		pr_err("%s: cannot block the packets of %s (nftables table inet %s): %s", c[0].who,
		       n == 1 ? "its connection" : "the tree's connections", l->table, err);
		return ret;
	}
	/* the watchdog's copies, to turn repair mode off if cryo dies */
	l->n_conns += n;
	if ((ret = watchdog_hand(l, c, n))) {
		pr_errno(-ret, "cannot hand %zu sockets to the network lock's watchdog", n);
		return ret;
	}
	for (size_t i = 0; i < n; i++) {
		char ls[80], rs[80];
		bool v6;
		end_text(&c[i].local, ls, sizeof(ls), &v6);
		end_text(&c[i].remote, rs, sizeof(rs), &v6);
		pr_debug("%s: packets of %s <-> %s dropped (nftables table inet %s)", c[i].who, ls,
			 rs, l->table);
	}
	pr_info("network lock: %zu connection(s) blocked (nftables table inet %s)", n, l->table);
	return 0;
}

void netlock_finish(struct netlock *l, bool keep)
{
	char err[512];

	if (l->nft) {
		nft_ctx_free(l->nft);
		l->nft = NULL;
	}
	if (!l->table[0])
		return;
	if (keep && l->n_conns) {
		watchdog_tell(l, 'K');
		pr_info("network lock: table inet %s stays until the restore", l->table);
		return;
	}
	if (table_delete(l->table, err, sizeof(err)))
		pr_err("cannot remove the network lock (nftables table inet %s): %s", l->table,
		       err);
	else
		pr_info("network lock: table inet %s removed", l->table);
	watchdog_tell(l, 'D');
	l->table[0] = 0;
}

bool netlock_table_name_ok(const char *name)
{
	size_t n = strlen(name);
	return n && n < sizeof(((struct netlock *)0)->table) &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int netlock_delete(const char *name)
{
	char err[512];
	if (table_delete(name, err, sizeof(err))) {
		if (strstr(err, "No such file")) {
			pr_info("network lock: table inet %s was gone already", name);
			return 0;
		}
		pr_err("cannot remove the network lock (nftables table inet %s): %s", name, err);
		return -EIO;
	}
	pr_info("network lock: table inet %s removed", name);
	return 0;
}
