/* Loading and running the BPF iterators cryo carries (bpf_iter.h). libbpf relocates each
 * program's field offsets to the running kernel's from its BTF (/sys/kernel/btf/vmlinux);
 * a program is loaded once per cryo and attached as an iterator, and each run creates one
 * iterator file from its link and reads it to the end. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bpf_iter.h"
#include "core/log.h"

/* the few libbpf calls used, by their 1.x ABI (opaque objects, NULL with errno on failure) */
struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;
typedef int (*print_fn)(int level, const char *fmt, va_list ap);

struct libbpf {
	bool tried;
	int err; /* 0 (usable) or -ENOTSUP */
	print_fn (*set_print)(print_fn);
	struct bpf_object *(*open_mem)(const void *, size_t, const void *);
	int (*obj_load)(struct bpf_object *);
	struct bpf_program *(*find_prog)(const struct bpf_object *, const char *);
	struct bpf_map *(*next_map)(const struct bpf_object *, const struct bpf_map *);
	const char *(*map_name)(const struct bpf_map *);
	int (*map_fd)(const struct bpf_map *);
	unsigned int (*value_size)(const struct bpf_map *);
	struct bpf_link *(*attach)(const struct bpf_program *, const void *);
	int (*link_fd)(const struct bpf_link *);
	int (*link_destroy)(struct bpf_link *);
	int (*iter_create)(int link_fd);
	int (*map_update)(int fd, const void *key, const void *value, unsigned long long flags);
};

/* libbpf's last warning, kept for the error cryo reports (the rest are dropped); one cryo
 * process has one libbpf, opened once */
static char last_msg[256];
static struct libbpf lib;

static int quiet(int level, const char *fmt, va_list ap)
{
	/* (CRYO_BPF_LOG=1: all of libbpf's messages, the verifier's log among them, to stderr) */
	static int all = -1;
	if (all < 0)
		all = getenv("CRYO_BPF_LOG") != NULL;
	if (all && fmt) {
		va_list copy;
		va_copy(copy, ap);
		vfprintf(stderr, fmt, copy);
		va_end(copy);
	}
	if (level == 0 /* LIBBPF_WARN */) {
		vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
		last_msg[strcspn(last_msg, "\n")] = 0;
	}
	return 0;
}

#define SYM(field, name) (*(void **)&lib.field = dlsym(h, name))

static int open_libbpf(const char *what)
{
	if (lib.tried)
		return lib.err;
	lib.tried = true;
	lib.err = -ENOTSUP;
	/* (CRYO_TEST_LIBBPF: another library, for the test suite's machine without one) */
	const char *name = getenv("CRYO_TEST_LIBBPF");
	void *h = dlopen(name && *name ? name : "libbpf.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		pr_err("cannot open libbpf (libbpf.so.1), which shows %s: %s", what, dlerror());
		return lib.err;
	}
	if (!SYM(set_print, "libbpf_set_print") || !SYM(open_mem, "bpf_object__open_mem") ||
	    !SYM(obj_load, "bpf_object__load") ||
	    !SYM(find_prog, "bpf_object__find_program_by_name") ||
	    !SYM(next_map, "bpf_object__next_map") || !SYM(map_name, "bpf_map__name") ||
	    !SYM(map_fd, "bpf_map__fd") || !SYM(value_size, "bpf_map__value_size") ||
	    !SYM(attach, "bpf_program__attach_iter") || !SYM(link_fd, "bpf_link__fd") ||
	    !SYM(link_destroy, "bpf_link__destroy") || !SYM(iter_create, "bpf_iter_create") ||
	    !SYM(map_update, "bpf_map_update_elem")) {
		pr_err("libbpf (libbpf.so.1) lacks the calls that show %s (a version before 1.0?)",
		       what);
		return lib.err;
	}
	lib.set_print(quiet);
	lib.err = 0;
	return 0;
}

static int load(struct bpf_iter_prog *p, size_t bss_len, bool attach)
{
	int ret = open_libbpf(p->what);
	if (ret)
		return ret;
	last_msg[0] = 0;
	struct bpf_object *obj = lib.open_mem(p->obj, (size_t)(p->obj_end - p->obj), NULL);
	int err = obj ? 0 : errno;
	if (!err && lib.obj_load(obj) < 0)
		err = errno;
	struct bpf_program *prog = err ? NULL : lib.find_prog(obj, p->prog);
	struct bpf_link *link = prog && attach ? lib.attach(prog, NULL) : NULL;
	if (!err && (!prog || (attach && !link)))
		err = errno ? errno : ENOENT;
	int bss = -1;
	for (const struct bpf_map *m = err ? NULL : lib.next_map(obj, NULL); m;
	     m = lib.next_map(obj, m)) {
		const char *name = lib.map_name(m);
		size_t l = name ? strlen(name) : 0;
		if (l >= 4 && !strcmp(name + l - 4, ".bss") && lib.value_size(m) == bss_len)
			bss = lib.map_fd(m);
	}
	if (!err && bss < 0)
		err = ENOENT;
	if (err) {
		/* (obj and link stay: nothing else runs them, and cryo ends soon) */
		pr_err("cannot load the BPF iterator that shows %s (it needs CAP_BPF or root, the "
		       "kernel's BTF, and %s): %s%s%s",
		       p->what, p->needs, strerror(err), last_msg[0] ? "; libbpf: " : "", last_msg);
		return -ENOTSUP;
	}
	p->bss_fd = bss;
	p->loaded = prog;
	p->link = link;
	return attach ? lib.link_fd(link) : 0;
}

/* one run of the iterator: its whole output into *buf (the caller's), *len bytes */
static int run(int lfd, char **buf, size_t *len)
{
	int fd = lib.iter_create(lfd);
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

static int prepare(struct bpf_iter_prog *p, const void *bss, size_t bss_len, bool attach)
{
	uint32_t key = 0;
	if (!p->tried) {
		int r = load(p, bss_len, attach);
		p->tried = true;
		p->err = r < 0 ? r : 0;
		p->link_fd = r;
	}
	if (p->err)
		return p->err;
	return lib.map_update(p->bss_fd, &key, bss, 0) < 0 ? -errno : 0;
}

int bpf_iter_run(struct bpf_iter_prog *p, const void *bss, size_t bss_len, char **buf, size_t *len)
{
	*buf = NULL, *len = 0;
	int ret = prepare(p, bss, bss_len, true);
	return ret ? ret : run(p->link_fd, buf, len);
}

/* the kernel's struct bpf_iter_attach_opts and the task part of union bpf_iter_link_info */
struct task_link_info {
	uint32_t tid, pid, pid_fd;
	uint32_t pad[3];
};
struct attach_opts {
	size_t sz;
	struct task_link_info *link_info;
	uint32_t link_info_len;
	uint32_t pad; /* named, so that it is zero: libbpf refuses non-zero bytes past its fields */
};

int bpf_iter_run_process(struct bpf_iter_prog *p, int pidfd, const void *bss, size_t bss_len,
			 char **buf, size_t *len)
{
	*buf = NULL, *len = 0;
	int ret = prepare(p, bss, bss_len, false);
	if (ret)
		return ret;
	struct task_link_info info = {.pid_fd = (uint32_t)pidfd};
	struct attach_opts opts = {
	    .sz = sizeof(opts), .link_info = &info, .link_info_len = sizeof(info)};
	struct bpf_link *link = lib.attach(p->loaded, &opts);
	if (!link)
		return -(errno ? errno : ENOENT);
	ret = run(lib.link_fd(link), buf, len);
	lib.link_destroy(link);
	return ret;
}
