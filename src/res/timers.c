/* Interval timers (real, virtual, profiling) and POSIX timers. Their remaining times can only
 * be read from inside the task; POSIX timers come back with their ids through
 * PR_TIMER_CREATE_RESTORE_IDS (6.17). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"

struct kernel_sigevent {
	uint64_t value;
	int32_t signo;
	int32_t notify;
	int32_t tid;
	int32_t pad[11];
};

static TimevalPair *pair(struct dump_ctx *ctx, uint64_t is, uint64_t ins, uint64_t vs, uint64_t vns)
{
	TimevalPair *p = A_NEW(&ctx->arena, TimevalPair, TIMEVAL_PAIR);
	if (p) {
		p->interval_sec = is, p->interval_nsec = ins;
		p->value_sec = vs, p->value_nsec = vns;
	}
	return p;
}

/* getitimer from inside: the remaining times of the task's own timers */
void timers_ask(struct remote_batch *b, struct dump_task *t)
{
	struct task_answers *a = &t->ans;
	for (int which = 0; which < 3; which++)
		batch_ask(b, &a->itimer_rv[which], __NR_getitimer, which,
			  batch_out(b, &t->rem, &a->itimers[which], sizeof(a->itimers[0])), 0, 0, 0,
			  0);
}

static int dump_itimers(struct dump_ctx *ctx, struct dump_task *t)
{
	TimevalPair *p[3];
	for (int which = 0; which < 3; which++) {
		const struct kernel_itimerval v = t->ans.itimers[which];
		long rv = t->ans.itimer_rv[which];
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot read interval timer %d", t->pid, which);
			return (int)rv;
		}
		p[which] = pair(ctx, v.interval.tv_sec, v.interval.tv_usec * 1000, v.value.tv_sec,
				v.value.tv_usec * 1000);
		if (!p[which])
			return -ENOMEM;
	}
	t->core->itimers = A_NEW(&ctx->arena, Itimers, ITIMERS);
	if (!t->core->itimers)
		return -ENOMEM;
	t->core->itimers->real = p[0];
	t->core->itimers->virt = p[1];
	t->core->itimers->prof = p[2];
	return 0;
}

/* /proc/PID/timers: blocks of "ID:", "signal: N/VALUE", "notify: KIND/pid.N", "ClockID:" */
static int dump_posix_timers(struct dump_ctx *ctx, struct dump_task *t)
{
	char path[64], *buf, *line, *save;
	PosixTimer *cur = NULL;
	ssize_t n;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/timers", t->pid);
	n = read_file_alloc(path, &buf);
	if (n < 0) {
		pr_errno((int)-n, "cannot read %s", path);
		return (int)n;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char kind[16], who[8];
		int id, signo, clock, target;
		unsigned long long value;
		if (sscanf(line, "ID: %d", &id) == 1) {
			cur = A_NEW(&ctx->arena, PosixTimer, POSIX_TIMER);
			if (!cur ||
			    !DUMP_PUSH(ctx, t->core->posix_timers, t->core->n_posix_timers, cur)) {
				ret = -ENOMEM;
				break;
			}
			cur->id = id;
		} else if (cur && sscanf(line, "signal: %d/%llx", &signo, &value) == 2) {
			cur->signo = signo;
			cur->sigval = value;
		} else if (cur &&
			   sscanf(line, "notify: %15[a-z]/%7[a-z].%d", kind, who, &target) == 3) {
			int notify = !strcmp(kind, "none")     ? SIGEV_NONE
				     : !strcmp(kind, "thread") ? SIGEV_THREAD
							       : SIGEV_SIGNAL;
			if (!strcmp(who, "tid")) {
				notify |= SIGEV_THREAD_ID;
				cur->has_notify_tid = true;
				cur->notify_tid = target;
			}
			cur->notify = notify;
		} else if (cur && sscanf(line, "ClockID: %d", &clock) == 1) {
			cur->clock = clock;
		}
	}
	free(buf);
	if (ret)
		return ret;

	for (size_t i = 0; i < t->core->n_posix_timers; i++) {
		PosixTimer *pt = t->core->posix_timers[i];
		struct itimerspec its;
		long rv = rsys2(&t->rem, __NR_timer_gettime, pt->id, remote_scratch(&t->rem));
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot read POSIX timer %d", t->pid, pt->id);
			return (int)rv;
		}
		ret = remote_read(t->pid, remote_scratch(&t->rem), &its, sizeof(its));
		if (ret)
			return ret;
		pt->time = pair(ctx, its.it_interval.tv_sec, its.it_interval.tv_nsec,
				its.it_value.tv_sec, its.it_value.tv_nsec);
		if (!pt->time)
			return -ENOMEM;
		rv = rsys1(&t->rem, __NR_timer_getoverrun, pt->id);
		if (rv >= 0) {
			pt->has_overrun = true;
			pt->overrun = (int32_t)rv;
		}
		pr_info("task %d: POSIX timer %d clock %d signal %d, %lld.%09lds left", t->pid,
			pt->id, pt->clock, pt->signo, (long long)its.it_value.tv_sec,
			its.it_value.tv_nsec);
	}
	return 0;
}

int dump_timers(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret = dump_itimers(ctx, t);
	return ret ? ret : dump_posix_timers(ctx, t);
}

static bool pair_valid(const TimevalPair *p)
{
	return p && p->interval_nsec < 1000000000 && p->value_nsec < 1000000000 &&
	       p->interval_sec < (1ull << 62) && p->value_sec < (1ull << 62);
}

static int create_posix_timers(struct restore_task *t)
{
	struct remote *r = &t->rem;
	uint64_t scratch = remote_scratch(r);
	int ret = 0;
	long rv;

	if (!t->core->n_posix_timers)
		return 0;
	rv = rsys2(r, __NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON);
	if (rv < 0) {
		pr_errno((int)-rv, "task %d: this kernel cannot create POSIX timers with given ids",
			 t->pid);
		return (int)rv;
	}
	/* /proc lists the newest first: create the oldest first so the list reads the same */
	for (size_t k = t->core->n_posix_timers; k-- > 0 && !ret;) {
		PosixTimer *pt = t->core->posix_timers[k];
		struct kernel_sigevent sev = {
		    .value = pt->sigval, .signo = pt->signo, .notify = pt->notify};
		int32_t id = pt->id;

		if (pt->id < 0 || !pair_valid(pt->time)) {
			pr_err("core-%d.img: POSIX timer %d is invalid", t->pid, pt->id);
			ret = -EINVAL;
			break;
		}
		if (pt->notify & SIGEV_THREAD_ID)
			sev.tid = pt->has_notify_tid ? (int32_t)pt->notify_tid : t->pid;
		ret = remote_write(t->pid, scratch, &sev, sizeof(sev));
		if (!ret)
			ret = remote_write(t->pid, scratch + sizeof(sev), &id, sizeof(id));
		if (ret)
			break;
		rv = rsys3(r, __NR_timer_create, pt->clock, scratch, scratch + sizeof(sev));
		if (rv == 0)
			ret = remote_read(t->pid, scratch + sizeof(sev), &id, sizeof(id));
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot create POSIX timer %d", t->pid, pt->id);
			ret = (int)rv;
		} else if (!ret && id != pt->id) {
			pr_err("task %d: POSIX timer %d came back with id %d", t->pid, pt->id, id);
			ret = -EINVAL;
		}
	}
	rsys2(r, __NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF);
	return ret;
}

/* Arming a CPU-time interval timer adds one scheduler tick to its value (so that it never
 * fires early); measure that tick here, once, to give back exactly the time that was left. */
static uint64_t cpu_itimer_slack_ns(void)
{
	static const uint64_t ticks_us[] = {10000, 4000, 3333, 1000};
	struct itimerval set = {{0, 0}, {1000, 0}}, got, off = {{0, 0}, {0, 0}};
	uint64_t best = 0, diff;

	if (setitimer(ITIMER_VIRTUAL, &set, NULL) || getitimer(ITIMER_VIRTUAL, &got))
		return 0;
	setitimer(ITIMER_VIRTUAL, &off, NULL);
	diff = (got.it_value.tv_sec - 1000) * 1000000ll + got.it_value.tv_usec;
	for (size_t i = 0; i < sizeof(ticks_us) / sizeof(ticks_us[0]); i++)
		if (!best || (diff > ticks_us[i] ? diff - ticks_us[i] : ticks_us[i] - diff) <
				 (diff > best ? diff - best : best - diff))
			best = ticks_us[i];
	return best * 1000;
}

static bool list_has_alarm(Siginfo *const *list, size_t n)
{
	int signo;
	for (size_t i = 0; i < n; i++) {
		if (list[i]->raw.len < sizeof(signo))
			continue; /* refused when queued */
		memcpy(&signo, list[i]->raw.data, sizeof(signo));
		if (signo == SIGALRM)
			return true;
	}
	return false;
}

/* a SIGALRM among the signals queued again at restore, to the process or to one thread */
static bool alarm_pending(const struct restore_task *t)
{
	if (list_has_alarm(t->core->shared_pending, t->core->n_shared_pending))
		return true;
	for (int k = 0; k < t->nr_threads; k++)
		if (list_has_alarm(t->threads[k].tc->pending, t->threads[k].tc->n_pending))
			return true;
	return false;
}

/* Timers are armed last, just before the task resumes, so they lose as little as possible. */
int restore_timers_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	uint64_t scratch = remote_scratch(r);
	Itimers *it = t->core->itimers;
	const TimevalPair *p[3] = {it->real, it->virt, it->prof};
	int ret;

	ret = create_posix_timers(t);
	if (ret)
		return ret;
	uint64_t slack = 0;
	for (int which = 0; which < 3; which++) {
		struct kernel_itimerval v;
		if (!pair_valid(p[which])) {
			pr_err("core-%d.img: interval timer %d is invalid", t->pid, which);
			return -EINVAL;
		}
		uint64_t value = p[which]->value_sec * 1000000000ull + p[which]->value_nsec;
		uint64_t interval =
		    p[which]->interval_sec * 1000000000ull + p[which]->interval_nsec;
		if (!value && interval && which == ITIMER_REAL) {
			/* Fired, and its SIGALRM not yet taken: the kernel rearms the timer only
			 * when that signal is dequeued, to the next period after it. setitimer
			 * cannot make that state (no value clears the interval), so with the
			 * SIGALRM pending again the timer is armed one period ahead. */
			if (alarm_pending(t))
				value = interval;
			else
				pr_warn("task %d: the real interval timer (every %" PRIu64
					" ns) had stopped with its SIGALRM dropped; it stays "
					"stopped, and a SIGALRM sent later no longer restarts it",
					t->pid, interval);
		}
		if (!value)
			continue;
		if (which != ITIMER_REAL) {
			if (!slack)
				slack = cpu_itimer_slack_ns();
			if (value > slack + 1000)
				value -= slack;
		}
		v.interval.tv_sec = p[which]->interval_sec;
		v.interval.tv_usec = p[which]->interval_nsec / 1000;
		v.value.tv_sec = value / 1000000000ull;
		v.value.tv_usec = value % 1000000000ull / 1000;
		if (!v.value.tv_sec && !v.value.tv_usec)
			v.value.tv_usec = 1;
		ret = remote_write(t->pid, scratch, &v, sizeof(v));
		if (ret)
			return ret;
		long rv = rsys3(r, __NR_setitimer, which, scratch, 0);
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot set interval timer %d", t->pid, which);
			return (int)rv;
		}
	}
	for (size_t i = 0; i < t->core->n_posix_timers; i++) {
		PosixTimer *pt = t->core->posix_timers[i];
		struct itimerspec its = {
		    {pt->time->interval_sec, pt->time->interval_nsec},
		    {pt->time->value_sec, pt->time->value_nsec},
		};
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			continue;
		ret = remote_write(t->pid, scratch, &its, sizeof(its));
		if (ret)
			return ret;
		long rv = rsys4(r, __NR_timer_settime, pt->id, 0, scratch, 0);
		if (rv < 0) {
			pr_errno((int)-rv, "task %d: cannot arm POSIX timer %d", t->pid, pt->id);
			return (int)rv;
		}
	}
	return 0;
}
