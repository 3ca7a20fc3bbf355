/* A process whose threads come and go all the time, dumped in the middle of it:
 *
 * - three chains of detached threads: each thread checks what its predecessor handed it,
 *   counts, creates its successor and exits, so the set of threads changes every few
 *   microseconds and a thread may be half created or half gone at the dump;
 * - the main thread meanwhile creates a joinable worker, joins it and checks its result, over
 *   and over (pthread_join waits on the kernel clearing the worker's tid: the
 *   clear_child_tid address of every thread must be right).
 *
 * Each new thread checks itself: fresh TLS (an initialised and a zero __thread variable as a
 * new thread must have them), a tid of its own, the name and the blocked mask inherited from
 * its creator (per chain, all with SIGTERM blocked, which only the main thread takes), and the
 * heap block its predecessor filled for it (chain, generation, a pattern), which it frees.
 *
 * After the check: the chains still advance (each makes progress within 300 ms) and so do
 * the main thread's joins; then the chains are stopped and must all park within 10 s,
 * leaving only the main thread; the total count equals the sum of the chains' generations
 * (no thread ran twice or was lost), and no thread found anything wrong. Also run in gen2. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define NCHAIN 3
#define BLOCK_WORDS 64

struct block {
	int chain;
	uint64_t gen;
	pid_t creator;
	uint64_t words[BLOCK_WORDS];
};

static __thread uint64_t tls_init = 0xf00dULL;
static __thread uint64_t tls_zero;

static uint64_t chain_gen[NCHAIN];	/* generations started, per chain */
static uint64_t total;			/* threads that ran, all chains */
static int parked;			/* chains that saw stop and ended */
static volatile int stop;
static uint64_t create_retries;
static uint64_t joins;

static int nfail;
static char fail_msg[512];
static unsigned long long chain_mask[NCHAIN];

static void fail(const char *fmt, ...) ZT_PRINTF(1, 2);
static void fail(const char *fmt, ...)
{
	va_list ap;

	/* The first failure is kept in full; the rest are counted. */
	if (__atomic_fetch_add(&nfail, 1, __ATOMIC_SEQ_CST) == 0) {
		va_start(ap, fmt);
		vsnprintf(fail_msg, sizeof(fail_msg), fmt, ap);
		va_end(ap);
	}
}

static uint64_t word(int chain, uint64_t gen, int i)
{
	return (gen * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)chain << 56) ^ (uint64_t)i;
}

static struct block *new_block(int chain, uint64_t gen)
{
	struct block *b = malloc(sizeof(*b));

	if (!b)
		return NULL;
	b->chain = chain;
	b->gen = gen;
	b->creator = gettid();
	for (int i = 0; i < BLOCK_WORDS; i++)
		b->words[i] = word(chain, gen, i);
	return b;
}

static void *chain_thread(void *arg);

/* Create a detached thread; EAGAIN (too many threads for a moment) is retried. */
static bool spawn(void *(*fn)(void *), void *arg, pthread_t *out, bool detached)
{
	pthread_attr_t attr;
	pthread_t t;
	int err;

	pthread_attr_init(&attr);
	if (detached)
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (int tries = 0; tries < 1000; tries++) {
		err = pthread_create(out ? out : &t, &attr, fn, arg);
		if (err != EAGAIN)
			break;
		__atomic_fetch_add(&create_retries, 1, __ATOMIC_RELAXED);
		usleep(1000);
	}
	pthread_attr_destroy(&attr);
	if (err)
		fail("pthread_create: %s", strerror(err));
	return !err;
}

static void *chain_thread(void *arg)
{
	struct block *b = arg, *next;
	char name[16] = "", want[16];
	sigset_t set;
	int c = b->chain;
	uint64_t g = b->gen;

	/* A new thread's TLS is fresh, whatever the thread before it did. */
	if (tls_init != 0xf00dULL || tls_zero != 0)
		fail("chain %d gen %lu: TLS not fresh (%#lx, %#lx)", c, g, tls_init, tls_zero);
	tls_init = g;
	tls_zero = ~g;
	if (b->creator == gettid())
		fail("chain %d gen %lu: tid %d is the creator's", c, g, gettid());
	for (int i = 0; i < BLOCK_WORDS; i++)
		if (b->words[i] != word(c, g, i)) {
			fail("chain %d gen %lu: block word %d is %#lx", c, g, i, b->words[i]);
			break;
		}
	if (__atomic_load_n(&chain_gen[c], __ATOMIC_ACQUIRE) != g)
		fail("chain %d: thread of gen %lu runs, the chain is at %lu", c, g, chain_gen[c]);
	prctl(PR_GET_NAME, name);
	snprintf(want, sizeof(want), "bomb-c%d", c);
	if (strcmp(name, want))
		fail("chain %d gen %lu: name '%s', inherited '%s' expected", c, g, name, want);
	pthread_sigmask(SIG_BLOCK, NULL, &set);
	if (zt_sigset_bits(&set) != chain_mask[c])
		fail("chain %d gen %lu: mask %#llx, expected %#llx", c, g, zt_sigset_bits(&set),
		     chain_mask[c]);
	free(b);

	__atomic_fetch_add(&total, 1, __ATOMIC_SEQ_CST);
	if (stop) {
		__atomic_fetch_add(&parked, 1, __ATOMIC_SEQ_CST);
		return NULL;
	}
	next = new_block(c, g + 1);
	if (!next) {
		fail("chain %d: malloc failed", c);
		__atomic_fetch_add(&parked, 1, __ATOMIC_SEQ_CST);
		return NULL;
	}
	__atomic_store_n(&chain_gen[c], g + 1, __ATOMIC_RELEASE);
	if (!spawn(chain_thread, next, NULL, true)) {
		free(next);
		__atomic_fetch_add(&parked, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* The main thread's workers: sum a small array, return it. */
struct job {
	uint64_t in[32];
	uint64_t out;
};

static void *worker(void *arg)
{
	struct job *j = arg;

	j->out = 0;
	for (int i = 0; i < 32; i++)
		j->out += j->in[i];
	return (void *)(uintptr_t)j->out;
}

/* One worker created, joined and checked. */
static bool one_join(uint64_t n)
{
	static struct job j;
	uint64_t want = 0;
	pthread_t t;
	void *ret;
	int err;

	for (int i = 0; i < 32; i++) {
		j.in[i] = n * 31 + i;
		want += j.in[i];
	}
	if (!spawn(worker, &j, &t, false))
		return false;
	err = pthread_join(t, &ret);
	if (err || (uintptr_t)ret != want || j.out != want) {
		zt_expect(false, "join %lu: error %d, result %lu, expected %lu", n, err,
			  (uint64_t)(uintptr_t)ret, want);
		return false;
	}
	joins++;
	return true;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int threads_now(void)
{
	pid_t tids[256];

	return zt_thread_ids(tids, 256);
}

int main(int argc, char **argv)
{
	uint64_t g0[NCHAIN], t0, j0, sum = 0;
	sigset_t mask, old, orig;
	char name[16];
	long long end;
	int n;

	zt_init(argc, argv);
	pthread_sigmask(SIG_BLOCK, NULL, &orig);
	/* Every other thread blocks SIGTERM, with a per-chain extra signal to tell masks
	 * apart; the chain's name and mask pass from each thread to the next. */
	for (int c = 0; c < NCHAIN; c++) {
		struct block *b = new_block(c, 0);
		sigemptyset(&mask);
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGRTMIN + 2 + c);
		pthread_sigmask(SIG_SETMASK, &mask, NULL);
		chain_mask[c] = zt_sigset_bits(&mask);
		snprintf(name, sizeof(name), "bomb-c%d", c);
		prctl(PR_SET_NAME, name);
		if (!b || !spawn(chain_thread, b, NULL, true))
			zt_fail("starting chain %d failed", c);
	}
	prctl(PR_SET_NAME, "bomb-main");
	pthread_sigmask(SIG_SETMASK, &orig, NULL);
	/* Workers block SIGTERM too. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);

	/* Let it spin up, and prove the chains run before ready. */
	usleep(100000);
	for (int c = 0; c < NCHAIN; c++)
		if (__atomic_load_n(&chain_gen[c], __ATOMIC_ACQUIRE) < 10)
			zt_fail("chain %d made no progress", c);
	if (nfail)
		zt_fail("setup: %d failures, first: %s", nfail, fail_msg);

	zt_ready();
	while (!zt_check_requested()) {
		pthread_sigmask(SIG_BLOCK, &mask, &old);
		bool ok = one_join(joins);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!ok)
			break;
	}

	/* Still alive: everything advances after the restore. */
	for (int c = 0; c < NCHAIN; c++)
		g0[c] = __atomic_load_n(&chain_gen[c], __ATOMIC_ACQUIRE);
	t0 = __atomic_load_n(&total, __ATOMIC_ACQUIRE);
	j0 = joins;
	end = now_ms() + 300;
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	while (now_ms() < end && one_join(joins))
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (int c = 0; c < NCHAIN; c++)
		zt_expect(__atomic_load_n(&chain_gen[c], __ATOMIC_ACQUIRE) > g0[c] + 10,
			  "chain %d: %lu -> %lu in 300 ms: stuck", c, g0[c],
			  __atomic_load_n(&chain_gen[c], __ATOMIC_ACQUIRE));
	zt_expect(__atomic_load_n(&total, __ATOMIC_ACQUIRE) > t0 + 30, "total %lu -> %lu: stuck",
		  t0, __atomic_load_n(&total, __ATOMIC_ACQUIRE));
	zt_expect(joins > j0 + 10, "joins %lu -> %lu in 300 ms", j0, joins);

	/* Stop: each chain's running thread parks, then only we are left. */
	stop = 1;
	end = now_ms() + 10000;
	while (__atomic_load_n(&parked, __ATOMIC_ACQUIRE) < NCHAIN && now_ms() < end)
		usleep(1000);
	zt_expect(parked == NCHAIN, "%d of %d chains parked within 10 s", parked, NCHAIN);
	end = now_ms() + 5000;
	while ((n = threads_now()) > 1 && now_ms() < end)
		usleep(1000);
	zt_expect(n == 1, "%d threads left after the chains ended", n);

	/* Consistency: a thread that ran counted once and its chain's generation follows it;
	 * with every chain parked the last generation's thread has run as well. */
	for (int c = 0; c < NCHAIN; c++)
		sum += chain_gen[c] + 1;
	zt_expect(total == sum, "total %lu, sum of the chains' generations %lu", total, sum);
	zt_expect(nfail == 0, "%d failures in threads, first: %s", nfail, fail_msg);
	zt_log("%lu chain threads, %lu joins, %lu create retries", total, joins, create_retries);
	zt_pass();
}
