/* The buffers of a stream unix socket's receive queue (unix_skb.h), read through the BPF
 * iterator of unix sockets with the program of src/bpf/unix_skb.bpf.c, which cryo carries
 * (unix_skb_obj.S). A peek cannot tell them: it runs on across buffers, and one at a buffer
 * that precedes one with descriptors reports those too, so where that one starts is known
 * only from here.
 *
 * libbpf (libbpf.so.1) is opened when first needed, not linked: a machine without it only
 * loses what needs it (the dump refuses those queues, naming why). It relocates the
 * program's field offsets to the running kernel's from its BTF (/sys/kernel/btf/vmlinux).
 * The program is loaded once per cryo and told the inode to show before each run (its .bss),
 * so a run writes one socket's buffers only. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "files/unix_skb.h"

#define UNIX_SKB_MAGIC 0x756e736bu /* as the program writes it */
#define UNIX_SKB_MAX 2000u	   /* buffers of one socket: one run's output fits 32 KiB */

extern const char cryo_unix_skb_obj[], cryo_unix_skb_obj_end[];

/* the few libbpf calls used, by their 1.x ABI (opaque objects, NULL with errno on failure) */
struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;
typedef int (*print_fn)(int level, const char *fmt, va_list ap);
static struct {
	bool tried;
	int err; /* why it cannot be used: 0 (it can), -ENOTSUP */
	struct bpf_object *obj;
	struct bpf_link *link;
	int bss_fd;
	int (*iter_create)(int link_fd);
	int (*map_update)(int fd, const void *key, const void *value, unsigned long long flags);
} L;

static char last_msg[256];

/* libbpf's messages: the last warning kept for the error cryo reports, the rest dropped */
static int quiet(int level, const char *fmt, va_list ap)
{
	if (level == 0 /* LIBBPF_WARN */) {
		vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
		last_msg[strcspn(last_msg, "\n")] = 0;
	}
	return 0;
}

static int load(void)
{
	/* (CRYO_TEST_LIBBPF: another library, for the test suite's machine without one) */
	const char *lib = getenv("CRYO_TEST_LIBBPF");
	void *h = dlopen(lib && *lib ? lib : "libbpf.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		pr_err("cannot open libbpf (libbpf.so.1), which shows the buffers of a unix "
		       "socket's queue: %s",
		       dlerror());
		return -ENOTSUP;
	}
	print_fn (*set_print)(print_fn) = (print_fn(*)(print_fn))dlsym(h, "libbpf_set_print");
	struct bpf_object *(*open_mem)(const void *, size_t, const void *) =
	    (struct bpf_object * (*)(const void *, size_t, const void *))
		dlsym(h, "bpf_object__open_mem");
	int (*obj_load)(struct bpf_object *) =
	    (int (*)(struct bpf_object *))dlsym(h, "bpf_object__load");
	struct bpf_program *(*find_prog)(const struct bpf_object *, const char *) =
	    (struct bpf_program * (*)(const struct bpf_object *, const char *))
		dlsym(h, "bpf_object__find_program_by_name");
	struct bpf_map *(*next_map)(const struct bpf_object *, const struct bpf_map *) =
	    (struct bpf_map * (*)(const struct bpf_object *, const struct bpf_map *))
		dlsym(h, "bpf_object__next_map");
	const char *(*map_name)(const struct bpf_map *) =
	    (const char *(*)(const struct bpf_map *))dlsym(h, "bpf_map__name");
	int (*map_fd)(const struct bpf_map *) =
	    (int (*)(const struct bpf_map *))dlsym(h, "bpf_map__fd");
	struct bpf_link *(*attach)(const struct bpf_program *, const void *) =
	    (struct bpf_link * (*)(const struct bpf_program *, const void *))
		dlsym(h, "bpf_program__attach_iter");
	int (*link_fd)(const struct bpf_link *) =
	    (int (*)(const struct bpf_link *))dlsym(h, "bpf_link__fd");
	L.iter_create = (int (*)(int))dlsym(h, "bpf_iter_create");
	L.map_update = (int (*)(int, const void *, const void *, unsigned long long))dlsym(
	    h, "bpf_map_update_elem");
	if (!set_print || !open_mem || !obj_load || !find_prog || !next_map || !map_name ||
	    !map_fd || !attach || !link_fd || !L.iter_create || !L.map_update) {
		pr_err("libbpf (libbpf.so.1) lacks the calls that show the buffers of a unix "
		       "socket's queue (a version before 1.0?)");
		return -ENOTSUP;
	}
	set_print(quiet);

	struct bpf_object *obj =
	    open_mem(cryo_unix_skb_obj, (size_t)(cryo_unix_skb_obj_end - cryo_unix_skb_obj), NULL);
	int err = obj ? 0 : errno;
	if (!err && obj_load(obj) < 0)
		err = errno;
	struct bpf_program *prog = err ? NULL : find_prog(obj, "unix_skb");
	struct bpf_link *link = prog ? attach(prog, NULL) : NULL;
	if (!err && !link)
		err = errno ? errno : ENOENT;
	int bss = -1;
	for (const struct bpf_map *m = err ? NULL : next_map(obj, NULL); m; m = next_map(obj, m)) {
		const char *name = map_name(m);
		size_t l = name ? strlen(name) : 0;
		if (l >= 4 && !strcmp(name + l - 4, ".bss"))
			bss = map_fd(m);
	}
	if (!err && bss < 0)
		err = ENOENT;
	if (err) {
		/* (obj and link stay: nothing else runs them, and cryo ends soon) */
		pr_err("cannot load the BPF iterator that shows the buffers of a unix socket's "
		       "queue (it needs CAP_BPF or root, the kernel's BTF, and its iterator of "
		       "unix sockets): %s%s%s",
		       strerror(err), last_msg[0] ? "; libbpf: " : "", last_msg);
		return -ENOTSUP;
	}
	L.obj = obj, L.link = link, L.bss_fd = bss;
	return link_fd(link);
}

static int link_fd_get(void)
{
	static int fd = -1;
	if (!L.tried) {
		int r = load();
		L.tried = true;
		if (r < 0)
			L.err = r;
		else
			fd = r;
	}
	return L.err ? L.err : fd;
}

/* one run of the iterator: its whole output into *buf (the caller's), *len bytes */
static int run(int lfd, char **buf, size_t *len)
{
	int fd = L.iter_create(lfd);
	size_t cap = 1 << 15, n = 0;
	char *b = malloc(cap);

	if (fd < 0 || !b) {
		int err = fd < 0 ? errno : ENOMEM;
		if (fd >= 0)
			close(fd);
		free(b);
		return -err;
	}
	for (;;) {
		if (n == cap) {
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				close(fd), free(b);
				return -ENOMEM;
			}
			b = nb, cap *= 2;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;
			close(fd), free(b);
			return -err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*buf = b, *len = n;
	return 0;
}

int unix_skb_layout(ino_t ino, struct unix_skb **out, size_t *n)
{
	int lfd = link_fd_get(), ret;
	uint32_t key = 0;
	uint64_t target = (uint64_t)ino;
	char *buf = NULL;
	size_t len = 0;

	*out = NULL, *n = 0;
	if (lfd < 0)
		return lfd;
	if (L.map_update(L.bss_fd, &key, &target, 0) < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot tell the BPF iterator of unix sockets which to show");
		return ret;
	}
	if ((ret = run(lfd, &buf, &len))) {
		if (ret == -E2BIG)
			pr_err("unix socket (inode %lu) with more than %u buffers queued: not "
			       "supported",
			       (unsigned long)ino, UNIX_SKB_MAX);
		else
			pr_errno(-ret, "cannot run the BPF iterator of unix sockets");
		return ret == -E2BIG ? -ENOTSUP : ret;
	}
	/* what the kernel wrote, checked all the same: a header for ino, then its buffers */
	const uint32_t *r = (const uint32_t *)buf;
	size_t recs = len / 16;
	ret = 0;
	if (!recs || len % 16 || r[3] != UNIX_SKB_MAGIC ||
	    ((uint64_t)r[1] << 32 | r[0]) != (uint64_t)ino || r[2] != recs - 1 ||
	    recs - 1 > UNIX_SKB_MAX) {
		/* none: the queue emptied (the tree is frozen: never), or ino is no stream */
		pr_err("the BPF iterator of unix sockets shows no buffers as queued on inode %lu "
		       "(%zu bytes out)",
		       (unsigned long)ino, len);
		ret = -EIO;
	}
	struct unix_skb *v = ret ? NULL : calloc(recs - 1 ? recs - 1 : 1, sizeof(*v));
	if (!ret && !v)
		ret = -ENOMEM;
	for (size_t i = 1; !ret && i < recs; i++) {
		const uint32_t *e = r + 4 * i;
		if (e[1] > e[0] || e[3] > 253) {
			pr_err(
			    "unix socket (inode %lu): buffer %zu of its queue shows %u of %u bytes "
			    "consumed, %u descriptors",
			    (unsigned long)ino, i - 1, e[1], e[0], e[3]);
			ret = -EIO;
			break;
		}
		v[i - 1] = (struct unix_skb){
		    .len = e[0] - e[1], .consumed = e[1], .flags = e[2], .nfds = e[3]};
	}
	free(buf);
	if (ret) {
		free(v);
		return ret;
	}
	*out = v, *n = recs - 1;
	return 0;
}
