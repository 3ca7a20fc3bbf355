/* `cryo migrate-target -D DIR --port P`: the receiving end of `cryo migrate` (source.c).
 *
 * It listens as a page server does (pages/server.h: --address, -d, --pidfile, --status-fd,
 * --tls) and takes the sessions of one migration, one connection each, in order:
 *   - a pre-dump or dump session per iteration, whose hello names the subdirectory of DIR it
 *     fills ("1", "2"..., then "final"): made new here, then served as a page server serves a
 *     dump (pages, pagemaps, inventory, the parent link "../N" from the hello);
 *   - last, a files session for "final": the dump's other images (core, mm, files, pstree,
 *     ghost and memfd contents...), then DONE, upon which DIR/final is restored (detached:
 *     the tree stays when this process exits) and the answer is the restore's status.
 * Then it exits. Nothing received is trusted: a session name is digits or "final", a file
 * name is a plain image name (letters, digits, '-', ".img"), every file is new and opened
 * beneath its directory (core/safeopen.c), every size is bounded, and the first break of a
 * rule ends the migration here with a message naming it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/safeopen.h"
#include "core/util.h"
#include "img/image.h"
#include "pages/server.h"

#define SESSIONS_MAX 64 /* pre-dumps of one migration */

/* "1".."999" or "final" */
static bool session_ok(const char *name)
{
	size_t n = strlen(name);
	if (!strcmp(name, "final"))
		return true;
	if (!n || n > 3 || name[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return true;
}

/* letters, digits and '-', then ".img"; not an image that comes by its own message */
static bool file_name_ok(const char *name, size_t len)
{
	if (len < 5 || len > PS_NAME_MAX || strcmp(name + len - 4, ".img"))
		return false;
	for (size_t i = 0; i < len - 4; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return false;
	return strncmp(name, "pages-", 6) && strncmp(name, "pagemap-", 8) &&
	       strcmp(name, "inventory.img");
}

struct files_session {
	struct ps_conn *conn;
	int dirfd;
	int fd; /* the file being written, -1 */
	char name[PS_NAME_MAX + 1];
	uint64_t bytes;
	uint8_t *buf;
};

#define bad(s, fmt, ...)                                                                           \
	(pr_err("migrate-target: the source (%s) " fmt ": ending the migration", (s)->conn->peer,  \
		##__VA_ARGS__),                                                                    \
	 -EPROTO)

static int end_file(struct files_session *s)
{
	int ret = 0;
	if (s->fd >= 0) {
		ret = sync_fd(s->fd);
		if (close(s->fd) < 0 && !ret)
			ret = -errno;
		if (ret)
			pr_errno(-ret, "migrate-target: cannot write %s", s->name);
		s->fd = -1;
	}
	return ret;
}

static int on_file(struct files_session *s, const struct ps_hdr *h)
{
	uint16_t nlen, flags;
	char name[PS_NAME_MAX + 1];
	int ret;

	if (h->id || h->len < 4)
		return bad(s, "sent a file message of %lu bytes", h->len);
	memcpy(&nlen, s->buf, 2);
	memcpy(&flags, s->buf + 2, 2);
	if (flags & ~PS_FILE_MORE || !nlen || nlen > PS_NAME_MAX || 4u + nlen > h->len)
		return bad(s, "sent a file message with flags %#x and a name of %u bytes", flags,
			   nlen);
	memcpy(name, s->buf + 4, nlen);
	name[nlen] = 0;
	if (strlen(name) != nlen || !file_name_ok(name, nlen))
		return bad(s, "sent a file named '%.*s': not an image name", (int)nlen, name);
	size_t dlen = h->len - 4 - nlen;
	if (flags & PS_FILE_MORE) {
		if (s->fd < 0 || strcmp(name, s->name))
			return bad(s, "sent more of %s, which is not the file being written", name);
	} else {
		if ((ret = end_file(s)))
			return ret;
		/* every file is new: one already there means a second copy was sent */
		struct stat st;
		if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return bad(s, "sent %s, which is there already", name);
		s->fd = dir_create(s->dirfd, name, O_WRONLY | O_CLOEXEC, 0600);
		if (s->fd < 0) {
			pr_errno(-s->fd, "migrate-target: cannot create %s", name);
			return s->fd;
		}
		snprintf(s->name, sizeof(s->name), "%s", name);
		s->bytes = 0;
	}
	if (s->bytes + dlen > PS_IMAGE_MAX)
		return bad(s, "sent more than %llu bytes of %s", PS_IMAGE_MAX, name);
	if (dlen && (ret = write_all(s->fd, s->buf + 4 + nlen, dlen))) {
		pr_errno(-ret, "migrate-target: cannot write %s", name);
		return ret;
	}
	s->bytes += dlen;
	return 0;
}

/* The files of "final", until DONE: 0 then, or -errno */
static int receive_files(struct ps_conn *c, int dirfd)
{
	struct files_session s = {.conn = c, .dirfd = dirfd, .fd = -1};
	int ret = 0, n = 0;

	if (!(s.buf = malloc(PS_DATA_MAX)))
		return -ENOMEM;
	for (;;) {
		struct ps_hdr h;
		int eof;
		if ((ret = conn_recv(c, &h, sizeof(h), &eof))) {
			pr_err(
			    "migrate-target: the source (%s) %s before the images were all there",
			    c->peer, eof ? "went away" : "broke the connection");
			break;
		}
		if (h.len > PS_DATA_MAX || (h.type != PS_FILE && h.type != PS_DONE)) {
			ret = bad(&s, "sent message %u of %lu bytes in a files session", h.type,
				  h.len);
			break;
		}
		if (h.len && (ret = conn_recv(c, s.buf, h.len, NULL))) {
			pr_err("migrate-target: the source (%s) went away in the middle of a file",
			       c->peer);
			break;
		}
		if (h.type == PS_DONE) {
			ret = h.len || h.id ? bad(&s, "sent a bad end of the files") : end_file(&s);
			if (!ret)
				ret = sync_fd(dirfd);
			break;
		}
		if ((ret = on_file(&s, &h)))
			break;
		n += !(s.buf[2] & PS_FILE_MORE);
	}
	if (s.fd >= 0)
		close(s.fd);
	free(s.buf);
	if (!ret)
		pr_info("migrate-target: %d image files received", n);
	return ret;
}

/* Its end: 0 when every page came in, else -EIO (its reason is logged) */
static int finish_lazy(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st) && !WEXITSTATUS(st))
		return 0;
	pr_err("migrate-target: the lazy-pages daemon ended with %s %d",
	       WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -EIO;
}

/* The lazy-pages daemon for DIR/final, a child of migrate-target: its pid once it listens,
 * or -errno (logged) */
static pid_t start_lazy(const char *path)
{
	int p[2];
	char byte;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		close(p[0]);
		close(p[1]);
		pr_errno(err, "migrate-target: cannot start the lazy-pages daemon");
		return -err;
	}
	if (pid == 0) {
		close(p[0]);
		struct cryo_lazy_pages_opts l = {.images_dir = path, .status_fd = p[1]};
		_exit(cryo_lazy_pages(&l) ? 1 : 0);
	}
	close(p[1]);
	ssize_t n;
	while ((n = read(p[0], &byte, 1)) < 0 && errno == EINTR)
		;
	close(p[0]);
	if (n != 1) {
		pr_err("migrate-target: the lazy-pages daemon did not start (see above)");
		finish_lazy(pid);
		return -EIO;
	}
	return pid;
}

static int answer(struct ps_conn *c, int status)
{
	struct ps_hdr ack = {PS_ACK, (uint32_t)-status, 0};
	return conn_send(c, &ack, sizeof(ack));
}

/* One connection: 1 once the migration is restored, 0 for the next session, -errno */
static int one_session(const struct cryo_migrate_target_opts *o, int dirfd, struct ps_conn *c,
		       int *nr_sessions)
{
	struct ps_hdr h;
	uint8_t hello[PS_HELLO_MAX];
	PageServerHello *m;
	int sub = -1, ret;

	if ((ret = ps_recv_hello(c, hello, &h)))
		return ret;
	if (!(m = page_server_hello__unpack(NULL, h.len, hello))) {
		pr_err("migrate-target: the source (%s) sent a hello that does not decode",
		       c->peer);
		return -EPROTO;
	}
	bool files = m->has_files && m->files, tcp = m->has_restore_tcp && m->restore_tcp;
	bool lazy = m->has_lazy && m->lazy;
	char name[8] = "";
	if (!m->session || !session_ok(m->session)) {
		pr_err("migrate-target: the source (%s) names no session, or a bad one ('%s'): "
		       "is it a dump for a page server?",
		       c->peer, m->session ? m->session : "");
		ret = -EPROTO;
	} else if (++*nr_sessions > SESSIONS_MAX) {
		pr_err("migrate-target: more than %d sessions in one migration", SESSIONS_MAX);
		ret = -EPROTO;
	} else if (files && strcmp(m->session, "final")) {
		pr_err("migrate-target: the source (%s) sends files for session %s: only the final "
		       "dump's are taken",
		       c->peer, m->session);
		ret = -EPROTO;
	} else {
		snprintf(name, sizeof(name), "%s", m->session);
	}
	page_server_hello__free_unpacked(m, NULL);
	if (ret) {
		answer(c, ret);
		return ret;
	}
	if (!files) {
		/* a new directory for each session: never one of an earlier migration */
		if (mkdirat(dirfd, name, 0700) < 0) {
			ret = -errno;
			pr_errno(-ret, "migrate-target: cannot make %s/%s", o->server.images_dir,
				 name);
		} else if ((sub = dir_open(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			ret = sub;
			pr_errno(-ret, "migrate-target: cannot open %s/%s", o->server.images_dir,
				 name);
		}
		if (ret) {
			answer(c, ret);
			return ret;
		}
		ret = ps_serve_dump(sub, c, &h, hello, true, NULL);
		close(sub);
		if (!ret)
			pr_info("migrate-target: session %s complete", name);
		return ret;
	}
	sub = dir_open(dirfd, "final", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sub < 0 || faccessat(sub, "inventory.img", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		pr_err("migrate-target: the final dump's pages are not here: files refused");
		if (sub >= 0)
			close(sub);
		answer(c, -ENOENT);
		return -ENOENT;
	}
	if ((ret = answer(c, 0)) || (ret = receive_files(c, sub))) {
		close(sub);
		answer(c, ret);
		return ret;
	}
	close(sub);
	/* the restore, detached: the tree stays when migrate-target exits */
	char path[4096];
	snprintf(path, sizeof(path), "%s/final", o->server.images_dir);
	struct cryo_restore_opts r = {
	    .images_dir = path, .detach = true, .tcp_established = tcp, .lazy_pages = lazy};
	pr_info("migrate-target: restoring %s%s", path, lazy ? " lazily" : "");
	pid_t daemon = lazy ? start_lazy(path) : 0;
	ret = daemon < 0 ? (int)daemon : cryo_restore(&r, NULL);
	if (ret)
		pr_err("migrate-target: the restore of %s failed; its images stay there", path);
	int sent = answer(c, ret);
	if (sent)
		pr_errno(-sent, "migrate-target: cannot tell the source the restore's result");
	if (daemon > 0) {
		/* the tree runs; its memory comes in meanwhile */
		uint64_t t0 = now_ns();
		int st = finish_lazy(daemon);
		if (!ret && st)
			ret = st;
		if (!st)
			pr_info("migrate-target: every page in place %.1f ms after the restore",
				(now_ns() - t0) / 1e6);
	}
	return ret ? ret : 1;
}

int cryo_migrate_target(const struct cryo_migrate_target_opts *o)
{
	int dirfd, lfd, ret, nr = 0;

	dirfd = dir_open_root(o->server.images_dir);
	if (dirfd < 0) {
		pr_errno(-dirfd, "migrate-target: cannot open images directory %s",
			 o->server.images_dir);
		return dirfd;
	}
	lfd = ps_listen_start(&o->server, dirfd, "migrate-target");
	if (lfd < 0) {
		close(dirfd);
		return lfd;
	}
	do {
		struct ps_conn c = {.fd = -1};
		ret = ps_accept(lfd, &c, &o->server.tls, "migrate-target");
		if (!ret)
			ret = one_session(o, dirfd, &c, &nr);
		conn_close(&c);
	} while (!ret);
	close(lfd);
	close(dirfd);
	if (ret > 0)
		pr_info("migrate-target: the migration is restored");
	return ret > 0 ? 0 : ret;
}
