/* Speculation mitigations chosen per thread with PR_SET_SPECULATION_CTRL, as sandboxes and
 * crypto libraries do: the main thread disables speculative store bypass, one thread
 * force-disables indirect branch speculation (which cannot be undone), another leaves both as
 * they were. After the restore each thread must be exactly as protected as before: its own
 * PR_GET_SPECULATION_CTRL values, and the kernel's view in /proc/self/task/TID/status. A
 * restore that lost one would leave a thread open to attacks it had shut out.
 * When the kernel gives no per-thread control here, the test says so and checks only that
 * nothing changed. */
// zt-run: gen2
#include "zt.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { T_MAIN, T_FORCED, T_PLAIN, NT };

static pid_t tids[NT];
static int before[NT][2];
static char status_before[NT][2][128];
static volatile int started, go, done;

static int spec(int which)
{
	return prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0);
}

static void status_of(pid_t tid, char out[2][128])
{
	char path[64], text[4096];
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	if (zt_read_file(path, text, sizeof(text)) < 0)
		zt_fail("cannot read %s", path);
	if (!zt_status_field(text, "Speculation_Store_Bypass", out[0], 128))
		snprintf(out[0], 128, "(none)");
	if (!zt_status_field(text, "SpeculationIndirectBranch", out[1], 128))
		snprintf(out[1], 128, "(none)");
}

static void check_self(int k)
{
	for (int w = 0; w < 2; w++)
		zt_expect(spec(w) == before[k][w],
			  "thread %d: speculation control %d is %#x, was %#x", k, w, spec(w),
			  before[k][w]);
}

static void *thread_main(void *arg)
{
	int k = (int)(long)arg;
	tids[k] = (pid_t)syscall(SYS_gettid);
	if (k == T_FORCED && (spec(PR_SPEC_INDIRECT_BRANCH) & PR_SPEC_PRCTL))
		prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_INDIRECT_BRANCH, PR_SPEC_FORCE_DISABLE, 0,
		      0);
	for (int w = 0; w < 2; w++)
		before[k][w] = spec(w);
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&go, __ATOMIC_SEQ_CST))
		usleep(1000);
	check_self(k);
	__atomic_add_fetch(&done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NT];

	zt_init(argc, argv);
	tids[T_MAIN] = (pid_t)syscall(SYS_gettid);
	if (spec(PR_SPEC_STORE_BYPASS) & PR_SPEC_PRCTL)
		prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, PR_SPEC_DISABLE, 0, 0);
	else
		zt_log("no per-thread store bypass control here (%#x)", spec(0));
	for (int w = 0; w < 2; w++)
		before[T_MAIN][w] = spec(w);
	for (int k = T_FORCED; k < NT; k++)
		if (pthread_create(&th[k], NULL, thread_main, (void *)(long)k))
			zt_fail("pthread_create");
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < NT - 1)
		usleep(1000);
	for (int k = 0; k < NT; k++)
		status_of(tids[k], status_before[k]);
	zt_ready();
	zt_wait_for_check();

	for (int k = 0; k < NT; k++) {
		char now[2][128];
		status_of(tids[k], now);
		for (int w = 0; w < 2; w++)
			zt_expect(!strcmp(now[w], status_before[k][w]),
				  "thread %d: status says '%s', was '%s'", k, now[w],
				  status_before[k][w]);
	}
	check_self(T_MAIN);
	__atomic_store_n(&go, 1, __ATOMIC_SEQ_CST);
	for (int k = T_FORCED; k < NT; k++)
		pthread_join(th[k], NULL);
	zt_pass();
}
