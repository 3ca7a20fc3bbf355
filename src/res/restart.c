/* A thread asleep in restart_syscall. When a sleep (nanosleep, clock_nanosleep, a futex wait
 * or poll with a timeout) is interrupted by a stop that runs no handler (SIGSTOP and SIGCONT,
 * a debugger, an earlier cryo dump -R, pre-dump, or a dump that failed), the kernel resumes
 * it as restart_syscall (219), whose work is in a record inside the kernel's task: which
 * call, until when. A restored task is a new kernel task without that record: restart_syscall
 * there fails with EINTR, a signal the program never had. So the dump saves the call it
 * continues instead, made again at the restore with the same registers (regs.c: a relative
 * timeout starts anew, which may wait longer, never wake early).
 *
 * Which call it is cannot be read once the thread is stopped (its sleep ended for the
 * stop); it is read just before: /proc/PID/task/TID/syscall (number and arguments), and for
 * restart_syscall the kernel function it sleeps in (the stack when cryo may read it, else
 * wchan). After the stop, the registers must show restart_syscall interrupted with the very
 * arguments seen, or the dump refuses the thread: nothing is guessed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "compat.h"
#include "core/log.h"
#include "core/util.h"
#include "res/restart.h"

/* The call a restart_syscall continues, from the kernel functions on its stack or its
 * wchan: a restart function of each kind, or what it sleeps in. 0: the nanosleep family
 * (hrtimer_nanosleep_restart: nanosleep or clock_nanosleep, told apart by the arguments),
 * -1: unknown. The family shows as do_syscall_64 itself where the kernel inlined its sleep
 * into the restart function (6.18). */
static long continued_call(const char *funcs)
{
	static const struct {
		const char *func;
		long nr;
	} calls[] = {
	    {"do_restart_poll", __NR_poll},
	    {"poll_schedule_timeout", __NR_poll}, /* of the poll family only poll restarts so */
	    {"futex_wait_restart", __NR_futex},
	    {"futex_do_wait", __NR_futex},
	    {"futex_wait_queue", __NR_futex},
	    {"posix_cpu_nsleep_restart", __NR_clock_nanosleep},
	    {"do_cpu_nanosleep", __NR_clock_nanosleep},
	    {"alarm_timer_nsleep_restart", __NR_clock_nanosleep},
	    {"alarmtimer_do_nsleep", __NR_clock_nanosleep},
	    {"hrtimer_nanosleep_restart", 0},
	    {"do_nanosleep", 0},
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (strstr(funcs, calls[i].func))
			return calls[i].nr;
	/* the sleep itself in the entry: the nanosleep family, inlined (the first function of
	 * the stack, or wchan) */
	const char *first = funcs;
	if (!strncmp(first, "[<", 2) && (first = strstr(first, "] ")))
		first += 2;
	if (first && !strncmp(first, "do_syscall_64", 13) && strchr("+\n", first[13]))
		return 0;
	return -1;
}

int syscall_seen_read(pid_t pid, pid_t tid, struct syscall_seen *s)
{
	char path[64], *text = NULL;
	ssize_t n;

	memset(s, 0, sizeof(*s));
	s->nr = -1;
	s->continues = -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	if ((n = read_file_alloc(path, &text)) < 0)
		return (int)n;
	/* "NR a1 a2 a3 a4 a5 a6 sp pc"; "running", or "-1 sp pc" outside a call */
	s->known =
	    sscanf(text, "%ld %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64,
		   &s->nr, &s->args[0], &s->args[1], &s->args[2], &s->args[3], &s->args[4],
		   &s->args[5]) == 7;
	free(text);
	if (!s->known || s->nr != __NR_restart_syscall)
		return 0;
	text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", pid, tid);
	if (read_file_alloc(path, &text) < 0 || !*text) {
		free(text);
		text = NULL;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", pid, tid);
		if (read_file_alloc(path, &text) < 0) {
			free(text);
			return 0; /* not known: a stop in restart_syscall is refused */
		}
	}
	long c = continued_call(text);
	free(text);
	if (c == 0) /* clock_nanosleep's first argument is a clock id, nanosleep's a pointer */
		c = s->args[0] <= 15 ? __NR_clock_nanosleep : __NR_nanosleep;
	s->continues = c;
	return 0;
}

long restart_continued(const struct syscall_seen *s, const struct user_regs_struct *r)
{
	const uint64_t now[6] = {r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9};

	if ((long)r->orig_rax != __NR_restart_syscall ||
	    (long)r->rax != -CRYO_ERESTART_RESTARTBLOCK)
		return 0;
	if (s->known && s->nr == __NR_restart_syscall && s->continues > 0 &&
	    !memcmp(s->args, now, sizeof(now)))
		return s->continues;
	return -1;
}

int restart_resolve(const struct syscall_seen *s, const struct user_regs_struct *r, pid_t tid,
		    uint64_t *orig_ax)
{
	long c = restart_continued(s, r);

	*orig_ax = r->orig_rax;
	if (!c)
		return 0;
	if (c > 0) {
		*orig_ax = (uint64_t)c;
		pr_info("thread %d: its restart_syscall continues system call %ld, saved as that "
			"call",
			tid, c);
		return 0;
	}
	pr_err("thread %d is asleep in restart_syscall (a call an earlier stop interrupted, "
	       "continued by the kernel), and cryo could not tell which call it continues: not "
	       "supported yet (dump it again once that call returns)",
	       tid);
	return -ENOTSUP;
}
