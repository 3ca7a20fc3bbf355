/* Benchmark workloads for cryo. Each one builds its memory with a known pattern, tells the
 * benchmark it is ready, then idles. On SIGUSR1 it checks its own memory (after a restore: did
 * every page come back, at its place?) and writes "OK ..." or "BAD ..." to its result file.
 *
 *   workload MODE READY RESULT [ARGS]
 *     sleep                      a trivial sleeping process
 *     anon    MB                 MB MiB of anonymous memory, every page written
 *     sparse  MB PCT             MB MiB mapped, PCT% of the pages written (spread evenly)
 *     threads MB NTHREADS        MB MiB written by NTHREADS threads (a slice each)
 *     tree    NPROC MB           NPROC processes (a tree, 3 children each), MB MiB each
 *     filemap FILE MB PCT        MB MiB private mapping of FILE, every page read, PCT% written
 *     memfd   MB                 an MB MiB memfd, mapped shared, every page written
 *     fds     N                  N descriptors: pipes with 8 bytes queued in each (2/5 of
 *                                them), eventfds with counts, one epoll watching 1,000 of them
 *   workload mkfile FILE MB      create FILE with the pattern filemap expects (if not there)
 *
 * READY receives the root's pid once everything is set up. Besides the fds workload, the workload
 * keeps no file open besides stdin/stdout/stderr (/dev/null under the benchmark), so that only
 * its memory, threads and processes matter to the dump. Errors also go to RESULT.err. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define WORDS (PAGE / 8)
#define MiB (1UL << 20)
#define FILE_SEED 0x46494c4546494c45ULL	 /* "FILEFILE" */
#define WRITE_SEED 0x5752495445575249ULL /* "WRITEWRI" */

static volatile sig_atomic_t check_requested;
static const char *result_path;

static void on_usr1(int sig)
{
	(void)sig;
	check_requested = 1;
}

/* Errors go to stderr and, as stderr is /dev/null under the benchmark, to RESULT.err. */
static void die(const char *fmt, ...)
{
	char msg[1024], path[4096];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	msg[n++] = '\n';
	fprintf(stderr, "workload: %.*s", n, msg);
	if (result_path) {
		snprintf(path, sizeof(path), "%s.err", result_path);
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			if (write(fd, msg, n) < 0) {
			}
			close(fd);
		}
	}
	exit(1);
}

/* Write a small file whole, through a temporary name so that readers never see half of it. */
static void put_file(const char *path, const char *fmt, ...)
{
	char tmp[4096], text[512];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("cannot create %s: %s", tmp, strerror(errno));
	if (write(fd, text, n) != n)
		die("cannot write %s: %s", tmp, strerror(errno));
	close(fd);
	if (rename(tmp, path))
		die("cannot rename %s: %s", tmp, strerror(errno));
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void *map_anon(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap of %zu bytes: %s", bytes, strerror(errno));
	return p;
}

/* The pattern: word w of page p holds (p << 9 | w) ^ seed, so that a page restored at the
 * wrong address, a page lost or a page of another process are all told apart. */
static void fill_page(uint64_t *page, uint64_t pageno, uint64_t seed)
{
	for (uint64_t w = 0; w < WORDS; w++)
		page[w] = (pageno << 9 | w) ^ seed;
}

static int page_ok(const uint64_t *page, uint64_t pageno, uint64_t seed)
{
	for (uint64_t w = 0; w < WORDS; w++)
		if (page[w] != ((pageno << 9 | w) ^ seed))
			return 0;
	return 1;
}

static int page_zero(const uint64_t *page)
{
	for (uint64_t w = 0; w < WORDS; w++)
		if (page[w])
			return 0;
	return 1;
}

static uint64_t seed_of(int idx)
{
	return 0x6372796f00000000ULL ^ ((uint64_t)(idx + 1) * 0x9E3779B97F4A7C15ULL);
}

/* sparse and filemap: which pages are written, PCT% of them, spread evenly */
static int page_chosen(uint64_t p, int pct)
{
	return (p * pct) % 100 < (uint64_t)pct;
}

static int tree_idx;

/* Every read-only mapping (program and library code, read-only data, RELRO) must come back
 * byte for byte: hash them when ready, compare when checking. This catches a restore that
 * gets the workload's own pages right but corrupts, say, a page of libc. */
#define MAX_RO 512
struct ro_map {
	unsigned long start, end;
	uint64_t hash;
};
static struct ro_map ro_maps[MAX_RO];
static int n_ro_maps;

static uint64_t hash_range(unsigned long start, unsigned long end)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const uint64_t *w = (const uint64_t *)start; w < (const uint64_t *)end; w++)
		h = (h ^ *w) * 0x100000001b3ULL;
	return h;
}

/* The mappings now: with hashes of the read-only ones (readable, not writable, not the
 * kernel's [vdso]/[vvar] areas) when hash is set, else every readable one. Returns their
 * number or -1. */
static int scan_maps(struct ro_map *maps, int max, int hash)
{
	char line[4096 + 128], perms[8], name[4096];
	unsigned long start, end;
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		name[0] = '\0';
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %4095s", &start, &end, perms, name) < 3)
			continue;
		if (perms[0] != 'r' || (hash && (perms[1] == 'w' || name[0] == '[')))
			continue;
		if (n == max)
			break;
		maps[n].start = start;
		maps[n].end = end;
		maps[n].hash = hash ? hash_range(start, end) : 0;
		n++;
	}
	fclose(f);
	return n;
}

static void snapshot_ro(void)
{
	n_ro_maps = scan_maps(ro_maps, MAX_RO, 1);
	if (n_ro_maps < 0)
		die("cannot read /proc/self/maps: %s", strerror(errno));
}

/* Same content at the same addresses. The mappings themselves may be cut differently after a
 * restore (a file mapping restored as anonymous memory merges with its neighbours): only the
 * bytes are compared, once each range is known to be readable still. */
static int check_ro(char *why, size_t len)
{
	static struct ro_map now[4 * MAX_RO];
	int n = scan_maps(now, 4 * MAX_RO, 0);

	for (int i = 0; i < n_ro_maps; i++) {
		unsigned long a = ro_maps[i].start;
		/* walk the current readable mappings (sorted) across [start, end) */
		for (int j = 0; j < n && a < ro_maps[i].end; j++)
			if (now[j].start <= a && a < now[j].end)
				a = now[j].end;
		if (a < ro_maps[i].end) {
			snprintf(why, len,
				 "read-only memory at %lx (in %lx-%lx) is not mapped any more", a,
				 ro_maps[i].start, ro_maps[i].end);
			return 0;
		}
		if (hash_range(ro_maps[i].start, ro_maps[i].end) != ro_maps[i].hash) {
			snprintf(why, len, "the content of read-only memory %lx-%lx changed",
				 ro_maps[i].start, ro_maps[i].end);
			return 0;
		}
	}
	return 1;
}

/* Idle until asked to check, then run check() and report. Never returns. */
static void idle_loop(int (*check)(char *why, size_t len))
{
	for (;;) {
		while (!check_requested)
			sleep_ms(20);
		check_requested = 0;
		char why[256] = "";
		int ok = check_ro(why, sizeof(why)) && check(why, sizeof(why));
		if (tree_idx != 0)
			continue; /* a tree's other processes answer through the root */
		put_file(result_path, "%s pid=%d %s\n", ok ? "OK" : "BAD", getpid(), why);
	}
}

/* ---- sleep ---- */
static uint64_t *small_heap;

static int check_sleep(char *why, size_t len)
{
	if (!page_ok(small_heap, 0, seed_of(0))) {
		snprintf(why, len, "heap page changed");
		return 0;
	}
	return 1;
}

/* ---- anon, sparse ---- */
static uint64_t *area;
static uint64_t area_pages;
static int area_pct = 100;
static uint64_t area_seed; /* seed_of(0), or the tree node's own */

static int check_area(char *why, size_t len)
{
	for (uint64_t p = 0; p < area_pages; p++) {
		uint64_t *page = area + p * WORDS;
		if (page_chosen(p, area_pct) ? !page_ok(page, p, area_seed) : !page_zero(page)) {
			snprintf(why, len, "page %lu of %lu (addr %p) is wrong", (unsigned long)p,
				 (unsigned long)area_pages, (void *)page);
			return 0;
		}
	}
	snprintf(why, len, "%lu pages checked", (unsigned long)area_pages);
	return 1;
}

/* ---- threads ---- */
#define MAX_THREADS 64
static int nthreads;
static volatile unsigned long counters[MAX_THREADS];
static volatile int threads_ready;

static void *thread_main(void *arg)
{
	int i = (int)(long)arg;
	uint64_t per = area_pages / nthreads;
	for (uint64_t p = i * per; p < (i + 1) * per; p++)
		fill_page(area + p * WORDS, p, seed_of(i));
	__sync_fetch_and_add(&threads_ready, 1);
	for (;;) {
		counters[i]++;
		sleep_ms(10);
	}
	return NULL;
}

static int check_threads(char *why, size_t len)
{
	uint64_t per = area_pages / nthreads;
	unsigned long before[MAX_THREADS];

	for (int i = 0; i < nthreads; i++)
		for (uint64_t p = i * per; p < (i + 1) * per; p++)
			if (!page_ok(area + p * WORDS, p, seed_of(i))) {
				snprintf(why, len, "page %lu of thread %d is wrong",
					 (unsigned long)p, i);
				return 0;
			}
	for (int i = 0; i < nthreads; i++)
		before[i] = counters[i];
	sleep_ms(500);
	for (int i = 0; i < nthreads; i++)
		if (counters[i] == before[i]) {
			snprintf(why, len, "thread %d is not running", i);
			return 0;
		}
	snprintf(why, len, "%d threads running, %lu pages checked", nthreads,
		 (unsigned long)area_pages);
	return 1;
}

/* ---- tree ---- */
#define TREE_FANOUT 3
static int tree_nproc;
static pid_t tree_children[TREE_FANOUT];

static void tree_path(char *buf, size_t len, const char *what, int idx)
{
	snprintf(buf, len, "%s.%s.%d", result_path, what, idx);
}

static int check_tree(char *why, size_t len)
{
	char path[4096];
	int ok;

	for (int c = 0; c < TREE_FANOUT; c++)
		if (tree_children[c] > 0)
			kill(tree_children[c], SIGUSR1);
	ok = check_area(why, len);
	tree_path(path, sizeof(path), "res", tree_idx);
	put_file(path, "%s pid=%d %s\n", ok ? "OK" : "BAD", getpid(), why);
	if (tree_idx != 0)
		return ok;

	/* the root collects every process's answer */
	int bad = 0, missing = 0;
	for (int waited = 0; waited < 60000; waited += 20) {
		missing = 0;
		for (int i = 0; i < tree_nproc; i++) {
			tree_path(path, sizeof(path), "res", i);
			if (!file_exists(path))
				missing++;
		}
		if (!missing)
			break;
		sleep_ms(20);
	}
	for (int i = 0; i < tree_nproc; i++) {
		char text[16] = "";
		tree_path(path, sizeof(path), "res", i);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (read(fd, text, 2) != 2 || memcmp(text, "OK", 2))
				bad++;
			close(fd);
			unlink(path);
		}
	}
	if (missing || bad) {
		snprintf(why, len, "%d of %d processes did not answer, %d answered BAD", missing,
			 tree_nproc, bad);
		return 0;
	}
	snprintf(why, len, "%d processes checked their memory", tree_nproc);
	return 1;
}

static void tree_node(int idx, uint64_t mb)
{
	char path[4096];

	tree_idx = idx;
	area_pages = mb * MiB / PAGE;
	for (int c = 0; c < TREE_FANOUT; c++) {
		int child = idx * TREE_FANOUT + 1 + c;
		if (child >= tree_nproc)
			break;
		pid_t pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			for (int k = 0; k < TREE_FANOUT; k++)
				tree_children[k] = 0;
			tree_node(child, mb);
			idle_loop(check_tree);
		}
		tree_children[c] = pid;
	}
	area = map_anon(area_pages * PAGE);
	area_seed = seed_of(idx);
	for (uint64_t p = 0; p < area_pages; p++)
		fill_page(area + p * WORDS, p, area_seed);
	snapshot_ro();
	tree_path(path, sizeof(path), "ready", idx);
	put_file(path, "%d\n", getpid());
	if (idx == 0) {
		for (;;) {
			int missing = 0;
			for (int i = 0; i < tree_nproc; i++) {
				tree_path(path, sizeof(path), "ready", i);
				if (!file_exists(path))
					missing++;
			}
			if (!missing)
				break;
			sleep_ms(10);
		}
	}
}

/* ---- filemap ---- */
static int check_filemap(char *why, size_t len)
{
	for (uint64_t p = 0; p < area_pages; p++) {
		int written = page_chosen(p, area_pct);
		if (!page_ok(area + p * WORDS, p, written ? WRITE_SEED : FILE_SEED)) {
			snprintf(why, len, "%s page %lu is wrong", written ? "written" : "file",
				 (unsigned long)p);
			return 0;
		}
	}
	snprintf(why, len, "%lu pages checked", (unsigned long)area_pages);
	return 1;
}

static void make_file(const char *path, uint64_t mb)
{
	struct stat st;
	uint64_t pages = mb * MiB / PAGE, chunk = 256;
	char tmp[4096];
	uint64_t *buf;
	int fd;

	if (stat(path, &st) == 0 && (uint64_t)st.st_size == pages * PAGE)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("cannot create %s: %s", tmp, strerror(errno));
	buf = malloc(chunk * PAGE);
	if (!buf)
		die("out of memory");
	for (uint64_t p = 0; p < pages; p += chunk) {
		uint64_t n = pages - p < chunk ? pages - p : chunk;
		for (uint64_t i = 0; i < n; i++)
			fill_page(buf + i * WORDS, p + i, FILE_SEED);
		if (write(fd, buf, n * PAGE) != (ssize_t)(n * PAGE))
			die("cannot write %s: %s", tmp, strerror(errno));
	}
	free(buf);
	close(fd);
	if (rename(tmp, path))
		die("cannot rename %s: %s", tmp, strerror(errno));
}

/* ---- fds ---- */
#define FDS_EPOLL_TARGETS 1000
static int fds_n, fds_npipes, fds_base, fds_epoll = -1;

static uint64_t fds_count(int i)
{
	return 0x100000000ull + (uint64_t)i * 7; /* above 32 bits: all of it must come back */
}

static void fds_setup(int n)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = (rlim_t)n + 64;
		if (rl.rlim_max < rl.rlim_cur)
			die("%d descriptors need RLIMIT_NOFILE %lu, the hard limit is %lu", n,
			    (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("setrlimit: %s", strerror(errno));
	}
	fds_n = n;
	fds_npipes = n / 5;
	fds_base = 3;
	for (int i = 0; i < fds_npipes; i++) {
		int p[2];
		char buf[16];
		if (pipe2(p, O_CLOEXEC) < 0)
			die("pipe2 (%d of %d): %s", i, fds_npipes, strerror(errno));
		snprintf(buf, sizeof(buf), "p%07d", i % 10000000);
		if (write(p[1], buf, 8) != 8)
			die("write to a pipe: %s", strerror(errno));
	}
	for (int i = 2 * fds_npipes; i < n - 1; i++) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		uint64_t c = fds_count(i);
		if (fd < 0 || fd != fds_base + i)
			die("eventfd %d: %s", i, fd < 0 ? strerror(errno) : "not at its number");
		if (write(fd, &c, 8) != 8)
			die("write to an eventfd: %s", strerror(errno));
	}
	fds_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (fds_epoll < 0)
		die("epoll_create1: %s", strerror(errno));
	for (int k = 0; k < FDS_EPOLL_TARGETS && 2 * fds_npipes + k < n - 1; k++) {
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.u64 = 0xe0000000ull + (uint64_t)k};
		if (epoll_ctl(fds_epoll, EPOLL_CTL_ADD, fds_base + 2 * fds_npipes + k, &ev) < 0)
			die("epoll_ctl: %s", strerror(errno));
	}
}

/* Every byte and count in place, read and put back; the epoll reports its 1,000 targets. */
static int check_fds(char *why, size_t len)
{
	static struct epoll_event evs[FDS_EPOLL_TARGETS + 1];
	for (int i = 0; i < fds_npipes; i++) {
		char want[16], got[8];
		int r = fds_base + 2 * i, n = -1;
		snprintf(want, sizeof(want), "p%07d", i % 10000000);
		if (ioctl(r, FIONREAD, &n) < 0 || n != 8 || read(r, got, 8) != 8 ||
		    memcmp(got, want, 8) || write(r + 1, got, 8) != 8) {
			snprintf(why, len, "pipe %d (fd %d): %d bytes queued, not its 8", i, r, n);
			return 0;
		}
	}
	for (int i = 2 * fds_npipes; i < fds_n - 1; i++) {
		uint64_t c = 0;
		if (read(fds_base + i, &c, 8) != 8 || c != fds_count(i) ||
		    write(fds_base + i, &c, 8) != 8) {
			snprintf(why, len, "eventfd %d: count %llu, not %llu", fds_base + i,
				 (unsigned long long)c, (unsigned long long)fds_count(i));
			return 0;
		}
	}
	int want = fds_n - 1 - 2 * fds_npipes;
	if (want > FDS_EPOLL_TARGETS)
		want = FDS_EPOLL_TARGETS;
	int got = epoll_wait(fds_epoll, evs, FDS_EPOLL_TARGETS + 1, 0);
	if (got != want) {
		snprintf(why, len, "the epoll reports %d ready targets, not %d", got, want);
		return 0;
	}
	for (int k = 0; k < got; k++)
		if (evs[k].data.u64 < 0xe0000000ull ||
		    evs[k].data.u64 >= 0xe0000000ull + (uint64_t)want) {
			snprintf(why, len, "the epoll reports data %#llx",
				 (unsigned long long)evs[k].data.u64);
			return 0;
		}
	return 1;
}

static uint64_t arg_u64(int argc, char **argv, int i, const char *what)
{
	char *end;
	if (i >= argc)
		die("missing argument: %s", what);
	unsigned long long v = strtoull(argv[i], &end, 10);
	if (*end || !v)
		die("bad %s: %s", what, argv[i]);
	return v;
}

/* ---- tcp: N established connections to a client outside the tree ---- */
/* The workload listens on 127.0.0.1; a client it starts through a process that exits at once
 * (so the client is no descendant of the workload: outside the dumped tree) connects N times,
 * writes 16 bytes on each (left unread: every connection has a receive queue), then echoes
 * whatever comes. The check reads the 16 bytes of each, writes 16 of its own and reads their
 * echo: every connection came back, both queues and both directions. */
#define TCP_MSG 16
static int tcp_n, *tcp_fds;

static void tcp_msg(char *buf, char kind, int i) /* 16 bytes and a 0 */
{
	snprintf(buf, TCP_MSG + 1, "%c%07d-cryotcp", kind, i % 10000000);
}

static void __attribute__((noreturn)) tcp_client(struct sockaddr_in a, int n, const char *pidfile)
{
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	char buf[4096];
	int open_fds = n;

	if (!pf)
		_exit(1);
	for (int i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(2);
		tcp_msg(buf, 'c', i);
		if (write(c, buf, TCP_MSG) != TCP_MSG)
			_exit(3);
		pf[i] = (struct pollfd){.fd = c, .events = POLLIN};
	}
	put_file(pidfile, "%d\n", getpid());
	while (open_fds > 0) {
		if (poll(pf, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(4);
		}
		for (int i = 0; i < n; i++) {
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			ssize_t r = read(pf[i].fd, buf, sizeof(buf));
			if (r <= 0 || write(pf[i].fd, buf, (size_t)r) != r) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_fds--;
			}
		}
	}
	_exit(0);
}

static void tcp_setup(int n, const char *result)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	struct rlimit rl;
	char pidfile[4096];
	int l, st;
	pid_t mid;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = (rlim_t)n + 64;
		if (rl.rlim_max < rl.rlim_cur || setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("%d connections need RLIMIT_NOFILE %lu", n, (unsigned long)rl.rlim_cur);
	}
	tcp_n = n;
	tcp_fds = calloc((size_t)n, sizeof(*tcp_fds));
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!tcp_fds || l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 4096) < 0 || getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		die("listen: %s", strerror(errno));
	snprintf(pidfile, sizeof(pidfile), "%s.ready.client", result);
	mid = fork();
	if (mid < 0)
		die("fork: %s", strerror(errno));
	if (mid == 0) {
		close(l);
		/* a session of its own: in the workload's, the workload's pid would stay taken
		 * (as the session's id) after the dump, and the restore could not have it */
		setsid();
		if (fork() == 0)
			tcp_client(a, n, pidfile);
		_exit(0);
	}
	waitpid(mid, &st, 0);
	for (int i = 0; i < n; i++) {
		tcp_fds[i] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (tcp_fds[i] < 0)
			die("accept (%d of %d): %s", i, n, strerror(errno));
	}
	close(l);
	/* the client's 16 bytes arrived on each (they stay unread until the check) */
	for (int i = 0; i < n; i++) {
		int q = 0;
		for (int k = 0; k < 1000 && (ioctl(tcp_fds[i], FIONREAD, &q) < 0 || q < TCP_MSG);
		     k++)
			sleep_ms(1);
		if (q < TCP_MSG)
			die("connection %d: the client's bytes did not arrive", i);
	}
	/* connection i is the client's i-th: it connects one after the other, and the
	 * listener's queue keeps that order */
}

static int tcp_read_full(int fd, char *buf, int n)
{
	int got = 0;
	while (got < n) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, 10000) != 1)
			return -1;
		ssize_t r = read(fd, buf + got, (size_t)(n - got));
		if (r <= 0)
			return -1;
		got += (int)r;
	}
	return 0;
}

/* tcpclose: the same connections dumped with --tcp-close (workload 11, to compare the freeze
 * with workload 9's): every one comes back a TCP socket whose connection ended */
static int check_tcp_closed(char *why, size_t len)
{
	for (int i = 0; i < tcp_n; i++) {
		struct tcp_info ti;
		socklen_t l = sizeof(ti);
		if (getsockopt(tcp_fds[i], IPPROTO_TCP, TCP_INFO, &ti, &l) < 0 ||
		    ti.tcpi_state != TCP_CLOSE) {
			snprintf(why, len, "connection %d: not a closed TCP socket (state %d)", i,
				 l ? ti.tcpi_state : -1);
			return 0;
		}
	}
	return 1;
}

/* ---- unix: N socketpairs with bytes queued both ways ---- */
/* Pair i is a stream pair for even i, a datagram pair for odd i (the two kinds a program
 * uses between its processes or threads); each end has 16 bytes (a datagram for the
 * datagram pairs) queued from the other. The check reads both, then sends one more each way:
 * every pair came back with its queues and still connected. */
static int unix_n, (*unix_fds)[2];

static void unix_setup(int n)
{
	struct rlimit rl;
	char buf[TCP_MSG + 1];

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(2 * n) + 64) {
		rl.rlim_cur = (rlim_t)(2 * n) + 64;
		if (rl.rlim_max < rl.rlim_cur || setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("%d socketpairs need RLIMIT_NOFILE %lu", n, (unsigned long)rl.rlim_cur);
	}
	unix_n = n;
	unix_fds = calloc((size_t)n, sizeof(*unix_fds));
	if (!unix_fds)
		die("out of memory");
	for (int i = 0; i < n; i++) {
		int type = i % 2 ? SOCK_DGRAM : SOCK_STREAM;
		if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, unix_fds[i]) < 0)
			die("socketpair %d: %s", i, strerror(errno));
		for (int e = 0; e < 2; e++) {
			tcp_msg(buf, e ? 'b' : 'a', i);
			if (write(unix_fds[i][e], buf, TCP_MSG) != TCP_MSG)
				die("socketpair %d: write: %s", i, strerror(errno));
		}
	}
}

static int check_unix(char *why, size_t len)
{
	char want[TCP_MSG + 1], got[TCP_MSG + 1];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < unix_n; i++) {
			for (int e = 0; e < 2; e++) {
				/* end e reads what the other end wrote */
				tcp_msg(want, round ? (e ? 'y' : 'x') : (e ? 'a' : 'b'), i);
				if (tcp_read_full(unix_fds[i][e], got, TCP_MSG) ||
				    memcmp(got, want, TCP_MSG)) {
					snprintf(why, len, "socketpair %d end %d: %s", i, e,
						 round ? "no answer" : "its queued bytes are gone");
					return 0;
				}
			}
			if (round)
				continue;
			for (int e = 0; e < 2; e++) {
				tcp_msg(want, e ? 'x' : 'y', i);
				if (write(unix_fds[i][e], want, TCP_MSG) != TCP_MSG) {
					snprintf(why, len, "socketpair %d end %d: write: %s", i, e,
						 strerror(errno));
					return 0;
				}
			}
		}
	}
	return 1;
}

static int check_tcp(char *why, size_t len)
{
	char want[TCP_MSG + 1], got[TCP_MSG + 1];
	for (int i = 0; i < tcp_n; i++) {
		tcp_msg(want, 'c', i);
		if (tcp_read_full(tcp_fds[i], got, TCP_MSG) || memcmp(got, want, TCP_MSG)) {
			snprintf(why, len, "connection %d: its queued bytes are gone or wrong", i);
			return 0;
		}
		tcp_msg(want, 'w', i);
		if (write(tcp_fds[i], want, TCP_MSG) != TCP_MSG ||
		    tcp_read_full(tcp_fds[i], got, TCP_MSG) || memcmp(got, want, TCP_MSG)) {
			snprintf(why, len, "connection %d: no echo (%s)", i, strerror(errno));
			return 0;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	const char *mode, *ready;
	int (*check)(char *, size_t);

	/* descriptors inherited from whoever started us (a pipe of a CI runner...) are not ours:
	 * close them, or the dump would have to deal with them */
	closefrom(3);
	if (argc >= 4 && !strcmp(argv[1], "mkfile")) {
		make_file(argv[2], arg_u64(argc, argv, 3, "MB"));
		return 0;
	}
	if (argc < 4)
		die("usage: workload MODE READY RESULT [ARGS] (see the source)");
	mode = argv[1];
	ready = argv[2];
	result_path = argv[3];
	area_seed = seed_of(0);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);

	if (!strcmp(mode, "sleep")) {
		small_heap = malloc(PAGE);
		if (!small_heap)
			die("out of memory");
		fill_page(small_heap, 0, seed_of(0));
		check = check_sleep;
	} else if (!strcmp(mode, "anon") || !strcmp(mode, "sparse")) {
		area_pages = arg_u64(argc, argv, 4, "MB") * MiB / PAGE;
		if (!strcmp(mode, "sparse"))
			area_pct = (int)arg_u64(argc, argv, 5, "PCT");
		area = map_anon(area_pages * PAGE);
		for (uint64_t p = 0; p < area_pages; p++)
			if (page_chosen(p, area_pct))
				fill_page(area + p * WORDS, p, area_seed);
		check = check_area;
	} else if (!strcmp(mode, "threads")) {
		sigset_t usr1;
		area_pages = arg_u64(argc, argv, 4, "MB") * MiB / PAGE;
		nthreads = (int)arg_u64(argc, argv, 5, "NTHREADS");
		if (nthreads > MAX_THREADS)
			die("at most %d threads", MAX_THREADS);
		area = map_anon(area_pages * PAGE);
		/* the signal goes to the main thread: the others block it */
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &usr1, NULL);
		for (int i = 0; i < nthreads; i++) {
			pthread_t t;
			int err = pthread_create(&t, NULL, thread_main, (void *)(long)i);
			if (err)
				die("pthread_create: %s", strerror(err));
		}
		pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
		while (threads_ready < nthreads)
			sleep_ms(5);
		check = check_threads;
	} else if (!strcmp(mode, "tree")) {
		tree_nproc = (int)arg_u64(argc, argv, 4, "NPROC");
		tree_node(0, arg_u64(argc, argv, 5, "MB"));
		check = check_tree;
	} else if (!strcmp(mode, "filemap")) {
		uint64_t sum = 0;
		int fd;
		if (argc < 5)
			die("filemap needs FILE MB PCT");
		area_pages = arg_u64(argc, argv, 5, "MB") * MiB / PAGE;
		area_pct = (int)arg_u64(argc, argv, 6, "PCT");
		fd = open(argv[4], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("cannot open %s: %s", argv[4], strerror(errno));
		area = mmap(NULL, area_pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (area == MAP_FAILED)
			die("mmap of %s: %s", argv[4], strerror(errno));
		close(fd);
		for (uint64_t p = 0; p < area_pages; p++) {
			if (page_chosen(p, area_pct))
				fill_page(area + p * WORDS, p, WRITE_SEED);
			else
				sum += area[p * WORDS]; /* read: the page is mapped, and clean */
		}
		if (sum == 1)
			fprintf(stderr, "unlikely\n");
		check = check_filemap;
	} else if (!strcmp(mode, "memfd")) {
		area_pages = arg_u64(argc, argv, 4, "MB") * MiB / PAGE;
		int fd = memfd_create("cryo-bench", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)(area_pages * PAGE)) < 0)
			die("memfd of %lu pages: %s", (unsigned long)area_pages, strerror(errno));
		area = mmap(NULL, area_pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (area == MAP_FAILED)
			die("mmap of the memfd: %s", strerror(errno));
		for (uint64_t p = 0; p < area_pages; p++)
			fill_page(area + p * WORDS, p, area_seed);
		check = check_area; /* the fd stays open: both are restored */
	} else if (!strcmp(mode, "fds")) {
		fds_setup((int)arg_u64(argc, argv, 4, "N"));
		check = check_fds;
	} else if (!strcmp(mode, "tcp")) {
		tcp_setup((int)arg_u64(argc, argv, 4, "N"), result_path);
		check = check_tcp;
	} else if (!strcmp(mode, "tcpclose")) {
		tcp_setup((int)arg_u64(argc, argv, 4, "N"), result_path);
		check = check_tcp_closed;
	} else if (!strcmp(mode, "unix")) {
		unix_setup((int)arg_u64(argc, argv, 4, "N"));
		check = check_unix;
	} else {
		die("unknown mode %s", mode);
	}
	if (tree_nproc == 0)
		snapshot_ro(); /* a tree's processes did it already */
	put_file(ready, "%d\n", getpid());
	idle_loop(check);
}
