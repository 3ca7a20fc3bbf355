/* zt_tree: the shared verdict board of tests with several processes or threads (zt_tree.h). */
#include "zt_tree.h"

#include <dirent.h>
#include <errno.h>
#include <sys/wait.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct slot {
	int ready; /* futex word: 1 once set up */
	int done;  /* futex word: 1 once checked */
	int tid;
	int nfail;
	char name[32];
	char msg[1024]; /* failures, "; " separated */
};

struct board {
	int go; /* futex word: 1 once the root forwarded the check */
	int nslots;
	pid_t root;
	int vars[ZT_TREE_VARS];
	struct slot slots[ZT_TREE_MAX_SLOTS];
};

static struct board *board;

static long futex(int *word, int op, int val, const struct timespec *ts)
{
	/* Not FUTEX_PRIVATE_FLAG: the words are shared between processes. */
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

static int load(int *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_wake(int *p, int val)
{
	__atomic_store_n(p, val, __ATOMIC_RELEASE);
	futex(p, FUTEX_WAKE, 1 << 30, NULL);
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Wait until *p >= val or timeout_ms passed (timeout_ms < 0: forever); short futex waits so
 * that a lost wake-up (or a word no longer shared) costs a poll, not a hang. */
static bool wait_word(int *p, int val, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
	int cur;

	while ((cur = load(p)) < val) {
		if (timeout_ms >= 0 && now_ms() >= end)
			return false;
		futex(p, FUTEX_WAIT, cur, &tick);
	}
	return true;
}

static struct slot *slot_of(int slot)
{
	if (!board)
		zt_fail("zt_tree: zt_tree_init() was not called");
	if (slot < 0 || slot >= board->nslots)
		zt_fail("zt_tree: slot %d out of range (%d slots)", slot, board->nslots);
	return &board->slots[slot];
}

void zt_tree_init(int nslots)
{
	if (nslots < 1 || nslots > ZT_TREE_MAX_SLOTS)
		zt_fail("zt_tree_init: %d slots", nslots);
	board =
	    mmap(NULL, sizeof(*board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (board == MAP_FAILED)
		zt_fail("zt_tree_init: mmap: %m");
	board->nslots = nslots;
	board->root = getpid();
	/* Children inherit stdio buffers: anything pending would be written twice. */
	fflush(NULL);
}

void zt_tree_child(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int fds[64], n = 0;

	if (!d)
		return;
	while ((de = readdir(d)) && n < 64) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd != dirfd(d) && zt_own_fd(fd))
			fds[n++] = fd;
	}
	closedir(d);
	while (n > 0)
		close(fds[--n]);
}

void zt_tree_ready(int slot, const char *name)
{
	struct slot *s = slot_of(slot);

	snprintf(s->name, sizeof(s->name), "%s", name);
	s->tid = gettid();
	store_wake(&s->ready, 1);
}

void zt_tree_wait_ready(void)
{
	long long end = now_ms() + 10000;
	char why[4096];
	size_t len = 0;

	for (int i = 1; i < board->nslots; i++) {
		int left = (int)(end - now_ms());
		if (!wait_word(&board->slots[i].ready, 1, left > 0 ? left : 0))
			zt_fail("setup: task in slot %d was not ready within 10 s", i);
	}
	why[0] = '\0';
	for (int i = 0; i < board->nslots; i++) {
		struct slot *s = &board->slots[i];
		if (s->nfail && len < sizeof(why))
			len += snprintf(why + len, sizeof(why) - len, "%s%s: %s", len ? "; " : "",
					s->name, s->msg);
	}
	if (len)
		zt_fail("setup: %s", why);
}

void zt_tree_go(void)
{
	store_wake(&board->go, 1);
}

bool zt_tree_go_requested(void)
{
	return load(&board->go) != 0;
}

void zt_tree_wait_go(void)
{
	int gone = 0;

	while (!wait_word(&board->go, 1, 1000)) {
		/* Three seconds without a root: the test was killed, do not linger. */
		if (kill(board->root, 0) && errno == ESRCH) {
			if (++gone >= 3)
				_exit(2);
		} else {
			gone = 0;
		}
	}
}

static void record(struct slot *s, const char *file, int line, const char *msg)
{
	size_t len = strlen(s->msg);
	const char *base = strrchr(file, '/');

	s->nfail++;
	if (len < sizeof(s->msg))
		snprintf(s->msg + len, sizeof(s->msg) - len, "%s%s (%s:%d)", len ? "; " : "", msg,
			 base ? base + 1 : file, line);
}

bool zt_tree_expect_at(int slot, bool cond, const char *file, int line, const char *fmt, ...)
{
	struct slot *s = slot_of(slot);
	char msg[512];
	va_list ap;

	if (cond)
		return true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record(s, file, line, msg);
	return false;
}

void zt_tree_fail(int slot, const char *fmt, ...)
{
	struct slot *s = slot_of(slot);
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record(s, "setup", 0, msg);
	if (!s->name[0])
		snprintf(s->name, sizeof(s->name), "slot %d", slot);
	store_wake(&s->ready, 1);
	store_wake(&s->done, 1);
	_exit(1);
}

void zt_tree_done(int slot)
{
	store_wake(&slot_of(slot)->done, 1);
}

bool zt_tree_wait_done(int slot, int timeout_ms)
{
	return wait_word(&slot_of(slot)->done, 1, timeout_ms);
}

void zt_tree_expect_exit0(int slot, pid_t pid, const char *name)
{
	int status = 0;
	if (!zt_tree_wait_done(slot, 0))
		return;
	zt_expect(zt_waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status),
		  "%s: exit status %#x", name, status);
}

void zt_tree_collect(void)
{
	long long end = now_ms() + 15000;

	for (int i = 1; i < board->nslots; i++) {
		int left = (int)(end - now_ms());
		if (!wait_word(&board->slots[i].done, 1, left > 0 ? left : 0))
			zt_expect(false, "%s (slot %d, tid %d): no verdict within 15 s",
				  board->slots[i].name, i, board->slots[i].tid);
	}
	for (int i = 0; i < board->nslots; i++) {
		struct slot *s = &board->slots[i];
		if (s->nfail)
			zt_expect(false, "%s: %s", s->name, s->msg);
	}
}

void zt_tree_set(int var, int val)
{
	if (var < 0 || var >= ZT_TREE_VARS)
		zt_fail("zt_tree_set: var %d", var);
	store_wake(&board->vars[var], val);
}

int zt_tree_get(int var)
{
	if (var < 0 || var >= ZT_TREE_VARS)
		zt_fail("zt_tree_get: var %d", var);
	return load(&board->vars[var]);
}

bool zt_tree_wait_var(int var, int val, int timeout_ms)
{
	if (var < 0 || var >= ZT_TREE_VARS)
		zt_fail("zt_tree_wait_var: var %d", var);
	return wait_word(&board->vars[var], val, timeout_ms);
}

pid_t zt_tree_root(void)
{
	return board->root;
}

pid_t zt_waitpid(pid_t pid, int *status, int options)
{
	pid_t r;

	do
		r = waitpid(pid, status, options);
	while (r < 0 && errno == EINTR);
	return r;
}

int zt_waitid(idtype_t idtype, id_t id, siginfo_t *si, int options)
{
	int r;

	do {
		memset(si, 0, sizeof(*si));
		r = waitid(idtype, id, si, options);
	} while (r < 0 && errno == EINTR);
	return r;
}

/* Fields 3 (state) and 4 (ppid) of /proc/PID/stat; the name in () may hold anything. */
static bool stat_fields(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[1024], *rp;
	int pp;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (zt_read_file(path, buf, sizeof(buf)) < 0)
		return false;
	rp = strrchr(buf, ')');
	if (!rp || sscanf(rp + 2, "%c %d", state, &pp) != 2)
		return false;
	*ppid = pp;
	return true;
}

char zt_proc_state(pid_t pid)
{
	char st;
	pid_t pp;

	return stat_fields(pid, &st, &pp) ? st : 0;
}

pid_t zt_proc_ppid(pid_t pid)
{
	char st;
	pid_t pp;

	return stat_fields(pid, &st, &pp) ? pp : -1;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int zt_thread_ids(pid_t *tids, int max)
{
	return zt_task_ids(0, tids, max);
}

int zt_task_ids(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/task");
	d = opendir(path);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n < max)
			tids[n] = atoi(de->d_name);
		n++;
	}
	closedir(d);
	if (n > max)
		n = max;
	qsort(tids, n, sizeof(*tids), cmp_pid);
	return n;
}

long long zt_status_sigmask(const char *path, const char *key)
{
	char buf[4096], val[64];
	unsigned long long m;

	if (zt_read_file(path, buf, sizeof(buf)) < 0 ||
	    !zt_status_field(buf, key, val, sizeof(val)))
		return -1;
	if (sscanf(val, "%llx", &m) != 1)
		return -1;
	return (long long)m;
}

unsigned long long zt_sigset_bits(const sigset_t *set)
{
	unsigned long long m = 0;

	for (int sig = 1; sig <= 64; sig++)
		if (sigismember(set, sig) == 1)
			m |= 1ULL << (sig - 1);
	return m;
}
