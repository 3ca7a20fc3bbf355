/* Per-thread registrations the kernel writes to or reads from user memory:
 *  - rseq: glibc registers an rseq area at start-up. After the dump it must still be
 *    registered, with the same address, length and signature (registering it again gives
 *    EBUSY, a wrong signature EPERM), and alive: the kernel rewrites a bogus cpu_id in it
 *    when the thread next comes back to user space after a sleep;
 *  - the robust futex list head, set to one of ours (get_robust_list);
 *  - clear_child_tid, set with set_tid_address() to a word of ours (PR_GET_TID_ADDRESS). */
#include "zt.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct robust_list_head robust_head;
static int tid_word;

static struct rseq *rseq_area(void)
{
	char *tp;

	__asm__("mov %%fs:0, %0" : "=r"(tp));
	return (struct rseq *)(tp + __rseq_offset);
}

/* The length the kernel has for our registration: the one that gives EBUSY. */
static unsigned int registered_len(void)
{
	static const unsigned int lens[] = { 32, 20, 24, 28 };
	unsigned int want = __rseq_size;

	if (syscall(SYS_rseq, rseq_area(), want, 0, RSEQ_SIG) < 0 && errno == EBUSY)
		return want;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		if (syscall(SYS_rseq, rseq_area(), lens[i], 0, RSEQ_SIG) < 0 && errno == EBUSY)
			return lens[i];
	return 0;
}

/* Poison cpu_id, sleep (so we are scheduled out and back), and see the kernel fix it. */
static bool rseq_alive(unsigned int *cpu_seen, unsigned int *cpu_real)
{
	volatile struct rseq *rs = rseq_area();
	struct timespec ms = { 0, 1000000 };

	for (int tries = 0; tries < 20; tries++) {
		unsigned int cpu = ~0U;

		rs->cpu_id = 0xdeadbeef;
		rs->cpu_id_start = 0xdeadbeef;
		nanosleep(&ms, NULL);
		*cpu_seen = rs->cpu_id;
		syscall(SYS_getcpu, &cpu, NULL, NULL);
		*cpu_real = cpu;
		/* A migration between the two reads makes them differ: try again. */
		if (*cpu_seen == cpu && rs->cpu_id_start == cpu)
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	struct robust_list_head *head = NULL;
	unsigned int len_before, seen = 0, real = 0;
	size_t hlen = 0;
	int *tidp = NULL;
	void *area;

	zt_init(argc, argv);
	if (__rseq_size == 0)
		zt_fail("glibc did not register rseq (tunable glibc.pthread.rseq=0?)");
	area = rseq_area();
	len_before = registered_len();
	if (!len_before)
		zt_fail("setup: cannot find the registered rseq length");
	if (!rseq_alive(&seen, &real))
		zt_fail("setup: rseq cpu_id %u, cpu %u", seen, real);

	robust_head.list.next = &robust_head.list;	/* an empty list */
	robust_head.futex_offset = 0;
	if (syscall(SYS_set_robust_list, &robust_head, sizeof(robust_head)))
		zt_fail("set_robust_list: %m");
	tid_word = syscall(SYS_set_tid_address, &tid_word);

	zt_ready();
	zt_wait_for_check();

	zt_expect(rseq_area() == area, "rseq area moved from %p to %p", area, rseq_area());
	zt_expect(registered_len() == len_before, "rseq registration (len %u) lost: %u",
		  len_before, registered_len());
	errno = 0;
	zt_expect(syscall(SYS_rseq, area, len_before, 0, RSEQ_SIG + 1) < 0 && errno == EPERM,
		  "a wrong rseq signature gives errno %d, not EPERM", errno);
	zt_expect(rseq_alive(&seen, &real), "rseq not updated by the kernel: cpu_id %#x, cpu %u",
		  seen, real);

	zt_expect(syscall(SYS_get_robust_list, 0, &head, &hlen) == 0, "get_robust_list: %m");
	zt_expect(head == &robust_head && hlen == sizeof(robust_head),
		  "robust list %p/%zu, was %p/%zu", (void *)head, hlen, (void *)&robust_head,
		  sizeof(robust_head));
	zt_expect(prctl(PR_GET_TID_ADDRESS, &tidp, 0, 0, 0) == 0 && tidp == &tid_word,
		  "clear_child_tid %p, was %p", (void *)tidp, (void *)&tid_word);
	zt_expect(tid_word == getpid(), "tid word %d", tid_word);
	zt_pass();
}
