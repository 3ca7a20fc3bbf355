/* `cryo migrate -t PID --to HOST:PORT [-D WORK]`: live migration to a `cryo migrate-target`
 * (target.c), the part the original leaves to a separate tool.
 *
 *   1. Pre-dumps through the target's page server, each into a session of its own ("1",
 *      "2"...) with the one before as its parent: the first sends all memory while the tree
 *      runs on, each next one what was written since (res/track.c). They go on while the
 *      pages sent shrink by a fifth or more each time, until few are left (256) or after
 *      max_iterations.
 *   2. The final dump (--track-mem, parent the last pre-dump) into session "final": the
 *      tree is frozen, what changed since goes to the page server, the tree is killed (its
 *      PIDs free for a restore on this same machine).
 *   3. A files session brings the final dump's other images, which the dump wrote into
 *      WORK/final, and asks for the restore; its answer is the restore's status.
 * Each iteration's pages and time are printed, and the downtime: from the final dump's start
 * to the target's answer that the tree runs there. With --lazy-pages (post-copy) the target
 * restores lazily: the tree runs there once its other state is back, and a lazy-pages daemon
 * of the target's brings its memory in from the images there.
 *
 * If anything fails before the final dump has killed the tree, the tree keeps running here.
 * A restore that fails on the target leaves its images there (DIR/final) for another try
 * with `cryo restore`: the tree is gone from here by then, as after any dump. */
#include <dirent.h>
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

#define MIN_PAGES 256 /* fewer pages written than this: no pre-dump more */
#define DEFAULT_ITERATIONS 8

/* One dump in a child process of its own: when the child exits, the kernel lets go of the
 * tasks it traced (a killed tracee stays its tracer's zombie until then, holding its PID,
 * which the restore on this same machine needs), and whatever a dump leaves in its process
 * (threads it made, a semaphore undo list with them) never meets the next one. */
static int run_dump(const struct cryo_dump_opts *d)
{
	int st;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		int ret = -errno;
		pr_errno(-ret, "migrate: cannot fork for a dump");
		return ret;
	}
	if (pid == 0) {
		int ret = cryo_dump(d);
		_exit(ret ? (-ret > 0 && -ret < 256 ? -ret : EIO) : 0);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st))
		return -WEXITSTATUS(st);
	pr_err("migrate: the dump's process was killed by signal %d", WTERMSIG(st));
	return -EIO;
}

/* The pages and frozen time of the dump in WORK/name (its stats image) */
static int dump_figures(int workfd, const char *name, uint64_t *pages, uint64_t *frozen_ns)
{
	ProtobufCMessage *msg = NULL;
	int dirfd = dir_open(workfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (dirfd < 0)
		return dirfd;
	ret = img_read(dirfd, IMG_STATS, 0, &msg);
	close(dirfd);
	if (ret)
		return ret;
	DumpStats *s = (DumpStats *)msg;
	*pages = s->pages_written;
	*frozen_ns = s->frozen_ns;
	img_free(msg);
	return 0;
}

static int send_msg(struct ps_conn *c, uint32_t type, const void *a, size_t alen, const void *b,
		    size_t blen)
{
	struct ps_hdr h = {type, 0, alen + blen};
	int ret = conn_send(c, &h, sizeof(h));
	if (!ret && alen)
		ret = conn_send(c, a, alen);
	if (!ret && blen)
		ret = conn_send(c, b, blen);
	return ret;
}

/* The target's answer: 0 or minus the errno it sends */
static int wait_answer(struct ps_conn *c, const char *what)
{
	struct ps_hdr h;
	int ret = conn_recv(c, &h, sizeof(h), NULL);
	if (ret) {
		pr_errno(-ret, "migrate: no answer from the target to %s", what);
		return ret;
	}
	if (h.type != PS_ACK || h.len) {
		pr_err("migrate: the target answered %s with message %u", what, h.type);
		return -EPROTO;
	}
	if (h.id) {
		pr_errno((int)h.id, "migrate: the target refused %s", what);
		return -(int)h.id;
	}
	return 0;
}

/* One image file of WORK/final, in messages of at most PS_DATA_MAX bytes */
static int send_file(struct ps_conn *c, int dirfd, const char *name, uint8_t *buf)
{
	uint16_t nlen = (uint16_t)strlen(name), flags = 0;
	size_t room = PS_DATA_MAX - 4 - nlen;
	int fd = dir_open(dirfd, name, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0) {
		pr_errno(-fd, "migrate: cannot open %s of the final dump", name);
		return fd;
	}
	for (;;) {
		ssize_t n = read(fd, buf + 4 + nlen, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			pr_errno(-ret, "migrate: cannot read %s", name);
			break;
		}
		if (n == 0 && flags)
			break;
		memcpy(buf, &nlen, 2);
		memcpy(buf + 2, &flags, 2);
		memcpy(buf + 4, name, nlen);
		if ((ret = send_msg(c, PS_FILE, buf, 4 + nlen + (size_t)n, NULL, 0))) {
			pr_errno(-ret, "migrate: cannot send %s to the target", name);
			break;
		}
		flags = PS_FILE_MORE;
		if (n == 0)
			break;
	}
	close(fd);
	return ret;
}

/* What the page server has already, or is no image */
static bool sent_otherwise(const char *name)
{
	size_t n = strlen(name);
	return n < 5 || strcmp(name + n - 4, ".img") || !strncmp(name, "pages-", 6) ||
	       !strncmp(name, "pagemap-", 8) || !strcmp(name, "inventory.img");
}

/* Step 3: the final dump's other images, then the restore's answer */
static int send_final(const struct cryo_migrate_opts *m, int workfd)
{
	PageServerHello hello = PAGE_SERVER_HELLO__INIT;
	struct ps_conn c = {.fd = -1};
	uint8_t *buf = malloc(PS_DATA_MAX), hb[PS_HELLO_MAX];
	int dirfd = -1, ret, files = 0;
	DIR *d = NULL;

	if (!buf)
		return -ENOMEM;
	if ((ret = conn_connect(&c, m->to_address, m->to_port, &m->dump.tls)))
		goto out;
	hello.version = PS_VERSION;
	hello.session = "final";
	hello.has_files = hello.files = true;
	hello.has_restore_tcp = true;
	hello.restore_tcp = m->dump.tcp_established;
	hello.has_lazy = true;
	hello.lazy = m->lazy;
	size_t len = page_server_hello__pack(&hello, hb);
	if ((ret = send_msg(&c, PS_HELLO, hb, len, NULL, 0)) ||
	    (ret = wait_answer(&c, "the images of the final dump")))
		goto out;
	dirfd = dir_open(workfd, "final", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || !(d = fdopendir(dup(dirfd)))) {
		ret = dirfd < 0 ? dirfd : -errno;
		pr_errno(-ret, "migrate: cannot list the final dump's images");
		goto out;
	}
	for (struct dirent *e; !ret && (e = readdir(d));) {
		if (e->d_type != DT_REG || sent_otherwise(e->d_name))
			continue;
		ret = send_file(&c, dirfd, e->d_name, buf);
		files++;
	}
	if (!ret && !(ret = send_msg(&c, PS_DONE, NULL, 0, NULL, 0))) {
		pr_info("migrate: %d image files sent; the target restores", files);
		ret = wait_answer(&c, "the restore");
	}
out:
	if (d)
		closedir(d);
	if (dirfd >= 0)
		close(dirfd);
	conn_close(&c);
	free(buf);
	return ret;
}

int cryo_migrate(const struct cryo_migrate_opts *m)
{
	char work[4096], name[16], parent[24];
	uint64_t pages = 0, last = 0, frozen = 0;
	int max = m->max_iterations > 0 ? m->max_iterations : DEFAULT_ITERATIONS;
	int workfd, ret = 0, k;

	if (!m->to_address || m->to_port <= 0 || m->to_port > 65535) {
		pr_err(
		    "migrate needs --to HOST:PORT (the address and port of cryo migrate-target)");
		return -EINVAL;
	}
	if (m->dump.page_server || m->dump.pre_dump || m->dump.track_mem ||
	    m->dump.prev_images_dir || m->dump.leave_running || m->dump.leave_stopped) {
		pr_err("migrate makes its own pre-dumps and final dump: --page-server, "
		       "--track-mem, --prev-images-dir, -R and -s are not taken with it");
		return -EINVAL;
	}
	if (m->dump.images_dir) {
		snprintf(work, sizeof(work), "%s", m->dump.images_dir);
	} else {
		snprintf(work, sizeof(work), "/tmp/cryo-migrate-XXXXXX");
		if (!mkdtemp(work)) {
			ret = -errno;
			pr_errno(-ret, "migrate: cannot make a work directory in /tmp");
			return ret;
		}
	}
	workfd = dir_open_root(work);
	if (workfd < 0) {
		pr_errno(-workfd, "migrate: cannot open the work directory %s", work);
		return workfd;
	}
	pr_info("migrate: process %d to %s port %d, work directory %s", m->dump.pid, m->to_address,
		m->to_port, work);
	char path[4200];
	struct cryo_dump_opts d;
	for (k = 1; k <= max; k++) {
		snprintf(name, sizeof(name), "%d", k);
		snprintf(parent, sizeof(parent), "../%d", k - 1);
		snprintf(path, sizeof(path), "%s/%s", work, name);
		if (mkdirat(workfd, name, 0700) < 0) {
			ret = -errno;
			pr_errno(-ret, "migrate: cannot make %s (the work directory must be new)",
				 path);
			goto out;
		}
		d = m->dump;
		d.images_dir = path;
		d.pre_dump = true;
		d.prev_images_dir = k > 1 ? parent : NULL;
		d.page_server = true;
		d.address = m->to_address;
		d.port = m->to_port;
		d.ps_session = name;
		uint64_t t0 = now_ns();
		if ((ret = run_dump(&d)))
			goto out;
		uint64_t took = now_ns() - t0;
		if ((ret = dump_figures(workfd, name, &pages, &frozen)))
			goto out;
		printf("migrate: pre-dump %d: %llu pages (%.1f MiB) in %.1f ms, frozen %.1f ms\n",
		       k, (unsigned long long)pages, pages * 4096.0 / (1 << 20), took / 1e6,
		       frozen / 1e6);
		fflush(stdout);
		/* stop when it no longer shrinks, or little is left */
		if (pages < MIN_PAGES || (k > 1 && pages * 5 > last * 4))
			break;
		last = pages;
	}
	if (k > max)
		k = max;
	snprintf(parent, sizeof(parent), "../%d", k);
	snprintf(path, sizeof(path), "%s/final", work);
	if (mkdirat(workfd, "final", 0700) < 0) {
		ret = -errno;
		pr_errno(-ret, "migrate: cannot make %s", path);
		goto out;
	}
	d = m->dump;
	d.images_dir = path;
	d.track_mem = true;
	d.prev_images_dir = parent;
	d.page_server = true;
	d.address = m->to_address;
	d.port = m->to_port;
	d.ps_session = "final";
	uint64_t t_down = now_ns();
	if ((ret = run_dump(&d)))
		goto out; /* the tree runs on here */
	uint64_t t_dumped = now_ns();
	dump_figures(workfd, "final", &pages, &frozen);
	printf("migrate: final dump: %llu pages (%.1f MiB) in %.1f ms, frozen %.1f ms\n",
	       (unsigned long long)pages, pages * 4096.0 / (1 << 20), (t_dumped - t_down) / 1e6,
	       frozen / 1e6);
	fflush(stdout);
	if ((ret = send_final(m, workfd))) {
		pr_err("migrate: process %d was dumped, but is not running on the target: its "
		       "images are in %s here, and in the target's directory (final)",
		       m->dump.pid, path);
		goto out;
	}
	uint64_t t_up = now_ns();
	printf("migrate: process %d runs on the target; downtime %.1f ms (final dump %.1f ms, "
	       "images and restore %.1f ms)\n",
	       m->dump.pid, (t_up - t_down) / 1e6, (t_dumped - t_down) / 1e6,
	       (t_up - t_dumped) / 1e6);
	fflush(stdout);
out:
	close(workfd);
	return ret;
}
