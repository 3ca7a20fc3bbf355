/* membarrier registrations of the process: PRIVATE_EXPEDITED, PRIVATE_EXPEDITED_SYNC_CORE,
 * PRIVATE_EXPEDITED_RSEQ and GLOBAL_EXPEDITED, made before the dump. After it each expedited
 * barrier still works (an unregistered process gets EPERM), MEMBARRIER_CMD_GET_REGISTRATIONS
 * (Linux 6.3) reports the same registrations, and a thread made after the restore can use
 * them too. Also run in the gen2 mode. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MEMBARRIER_CMD_GET_REGISTRATIONS
#define MEMBARRIER_CMD_GET_REGISTRATIONS (1 << 9)
#endif

static long mb(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0) < 0 ? -errno : 0;
}

static const struct {
	int reg, cmd;
	const char *name;
} kinds[] = {
	{ MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, MEMBARRIER_CMD_PRIVATE_EXPEDITED,
	  "PRIVATE_EXPEDITED" },
	{ MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
	  MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, "PRIVATE_EXPEDITED_SYNC_CORE" },
	{ MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
	  "PRIVATE_EXPEDITED_RSEQ" },
};

static void check(const char *when)
{
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		long rv = mb(kinds[i].cmd);
		zt_expect(rv == 0, "%s: membarrier %s: %ld", when, kinds[i].name, rv);
	}
	zt_expect(mb(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0, "%s: GLOBAL_EXPEDITED failed", when);
}

static void *thread_check(void *arg)
{
	check(arg);
	return NULL;
}

int main(int argc, char **argv)
{
	long before, after;
	pthread_t th;

	zt_init(argc, argv);
	/* a fresh process is registered for nothing */
	if (mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != -EPERM)
		zt_fail("setup: PRIVATE_EXPEDITED works without registration");
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (mb(kinds[i].reg))
			zt_fail("setup: register %s: %s", kinds[i].name, strerror(-mb(kinds[i].reg)));
	if (mb(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
		zt_fail("setup: register GLOBAL_EXPEDITED: %m");
	before = syscall(SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0);
	check("before");
	if (zt_failures())
		zt_fail("setup: the registrations do not work");

	zt_ready();
	zt_wait_for_check();

	check("after");
	after = syscall(SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0);
	zt_expect(after == before, "GET_REGISTRATIONS %#lx, was %#lx", after, before);
	if (zt_expect(pthread_create(&th, NULL, thread_check, "new thread") == 0, "pthread_create"))
		pthread_join(th, NULL);
	zt_pass();
}
