/* zt: the protocol library of cryo's self-checking test programs.
 *
 * A test program is started by tests/run.sh as `NAME --pidfile P --outfile O`, sets up the
 * state it is about, reports ready, waits for SIGTERM (by then it may have been dumped and
 * restored) and checks that every piece of that state is still what it set up. The verdict,
 * a line `PASS` or `FAIL: reason`, goes to the outfile. docs/testing.md has the whole story.
 *
 * Usage:
 *	int main(int argc, char **argv)
 *	{
 *		zt_init(argc, argv);		// daemonized from here on
 *		... set up state ...
 *		zt_ready();			// the runner may dump from now on
 *		zt_wait_for_check();		// SIGTERM arrived
 *		zt_expect(x == 42, "x is %d", x);
 *		zt_pass();			// PASS, or FAIL listing failed expectations
 *	}
 */
#ifndef ZT_H
#define ZT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define ZT_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum {
	/* Stay in the runner's session and process group instead of calling setsid(). */
	ZT_NO_SETSID = 1 << 0,
};

/* Parse --pidfile/--outfile and daemonize. Returns in the daemon; the starting process exits
 * 0 once zt_ready() is called, or 1 (printing why) if the daemon fails or dies first. */
void zt_init_flags(int argc, char **argv, unsigned int flags);
#define zt_init(argc, argv) zt_init_flags((argc), (argv), 0)

/* Setup is complete: write our pid to the pidfile and let the starting process exit. After
 * this the test holds no descriptors but stdin (/dev/null), stdout and stderr (the outfile)
 * and whatever the test opened itself. */
void zt_ready(void);

/* True for the descriptors zt holds until zt_ready() closes them (so that a test listing
 * its descriptors before ready can leave them out). */
bool zt_own_fd(int fd);

/* Block until SIGTERM arrives. The wait is a sigsuspend() loop, so the test sits in a
 * blocking, restartable syscall when it is dumped: that is intended. */
void zt_wait_for_check(void);

/* Set to 1 by zt's SIGTERM handler; asm loops may poll it directly. */
extern volatile sig_atomic_t zt_check_flag;

/* For tests that must keep working while they wait: true once SIGTERM has arrived. */
static inline bool zt_check_requested(void)
{
	return zt_check_flag != 0;
}

/* Clock clk now, in nanoseconds; and ns as a timespec */
static inline int64_t zt_now_ns(clockid_t clk)
{
	struct timespec t;
	clock_gettime(clk, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline struct timespec zt_timespec(int64_t ns)
{
	return (struct timespec){.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
}

/* Write `PASS` (or, if any zt_expect() failed, `FAIL: ...` listing them) and exit. */
__attribute__((noreturn)) void zt_pass(void);

/* Write `FAIL: reason` and exit 1. Before zt_ready() the reason also goes to the runner. */
__attribute__((noreturn)) ZT_PRINTF(1, 2) void zt_fail(const char *fmt, ...);

/* A diagnostic line (prefixed `zt: `) in the outfile; never counts as a verdict. */
ZT_PRINTF(1, 2) void zt_log(const char *fmt, ...);

/* Record a failed expectation and keep going; zt_pass() turns them into FAIL. Returns cond.
 * cond is evaluated first and the message's arguments only when it failed: as arguments of
 * one call, the compiler could evaluate them before cond (gcc does), and a value that cond
 * fills in (a gettime into a struct) would show what it held before. */
#define zt_expect(cond, ...)                                                                       \
	({                                                                                         \
		bool zt_ok_ = !!(cond);                                                            \
		zt_ok_ || zt_expect_at(false, __FILE__, __LINE__, __VA_ARGS__);                    \
	})
ZT_PRINTF(4, 5) bool zt_expect_at(bool cond, const char *file, int line, const char *fmt, ...);

/* Number of failed expectations so far. */
int zt_failures(void);

/* Setup helpers: fail the test (before or after ready) with the errno text if cond is false. */
#define zt_check_sys(cond, what)                                                                   \
	do {                                                                                       \
		if (!(cond))                                                                       \
			zt_fail("%s:%d: %s: %m", __FILE__, __LINE__, (what));                      \
	} while (0)

/* --- /proc and file helpers (zt_proc.c) --- */

/* Read a whole file into buf (NUL-terminated); returns the length or -errno. Uses only
 * open/read/close so that it creates no mappings or heap between snapshots. */
ssize_t zt_read_file(const char *path, char *buf, size_t size);
/* Read len bytes from fd (a pipe, FIFO, socket), waiting at most 5 s for each part: what was
 * read when the data ended, the wait ran out or read failed (a hang is a failure, not a
 * hung test). */
ssize_t zt_read_full(int fd, void *buf, size_t len);
/* Is the receive queue of socket fd empty now (a peek finds nothing)? */
bool zt_queue_empty(int fd);
/* A TCP connection on 127.0.0.1 whose reading end r has a 4 KiB receive buffer (inherited from
 * its listener l, left open) and whose writing end w a 1 MiB send buffer: a writer that fills
 * the reader's window keeps the rest queued on its side. Fails the test if it cannot. */
void zt_tcp_pair_small(int *l, int *w, int *r);

/* Find "Key:" in a /proc status-like text and copy the rest of that line (value, trimmed). */
bool zt_status_field(const char *text, const char *key, char *out, size_t size);

/* Compare two texts line by line; each differing line is a failed expectation prefixed with
 * what. Returns true when identical. */
bool zt_expect_same_text(const char *what, const char *before, const char *after);

/* The mapping layout of the process, as /proc/self/smaps shows it, without the counters that
 * legitimately change (Rss, Pss, Referenced, ...): kept are the header line of each mapping,
 * Size, KernelPageSize, MMUPageSize, THPeligible, ProtectionKey and VmFlags. The inode of
 * shared anonymous memory ("/dev/zero (deleted)", "/SYSV...") is masked: a restorer cannot
 * choose it. buf needs room for the whole text (256 KiB is plenty for a test). */
ssize_t zt_smaps_layout(char *buf, size_t size);

/* The /proc/self/smaps VmFlags of the mapping containing addr ("" when none); returns the
 * start of that mapping or NULL. */
void *zt_vmflags(const void *addr, char *flags, size_t size);

/* True when the space separated list flags holds the two-letter flag. */
bool zt_has_vmflag(const char *flags, const char *flag);

/* The /proc/self/maps line of the mapping containing addr, or false. */
bool zt_maps_line(const void *addr, char *line, size_t size);

/* 1 if the page at addr is present (in RAM), 0 if not, -errno on error (/proc/self/pagemap). */
int zt_page_present(const void *addr);

/* The start of a free stretch of address space of size bytes, for tests that lay out their
 * mappings at chosen distances with MAP_FIXED_NOREPLACE. */
void *zt_free_area(size_t size);

/* Fill / check memory with a pattern derived from its address and seed, so that data moved
 * to another place or another page of the same mapping is noticed. zt_check_pattern returns
 * the offset of the first bad byte or -1. */
void zt_fill_pattern(void *p, size_t len, unsigned int seed);
ssize_t zt_check_pattern(const void *p, size_t len, unsigned int seed);
/* Check memory at p against the pattern that was written at address as (data moved). */
ssize_t zt_check_pattern_as(const void *p, size_t len, unsigned int seed, const void *as);

#endif
