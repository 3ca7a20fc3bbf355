/* timerfd: its clock, settime flags, the time left until it next expires, its period and the
 * expirations not read yet ("ticks").
 *
 * Dump: through a copy of the descriptor (pidfd_getfd). timerfd_gettime() on the copy comes
 * first: a periodic timer that expired is not rearmed by the kernel until someone reads or
 * asks it, and until then fdinfo shows 0 time left and only the first of its expirations;
 * asking forwards it (the expirations missed are added to its ticks, as a read would count
 * them), which the task cannot tell from its own next read. Then fdinfo gives the clock, the
 * ticks and the flags, and a second timerfd_gettime() shows whether the timer fired in
 * between (the sample is taken again then).
 *
 * Restore: made disarmed in the child phase (timerfd_create: the alarm clocks need
 * CAP_WAKE_ALARM there), armed in the remote phase just before the task resumes, with
 * timers.c's timers, so that the restore's own duration is not taken from it: a relative
 * timer gets the time it had left at dump (the time the task was away does not count), an
 * absolute one (TFD_TIMER_ABSTIME) its absolute expiry, then TFD_IOC_SET_TICKS puts back
 * the expirations not read (after timerfd_settime, which clears them; an expiry in between
 * is seen in fdinfo and given back, see lost_tick). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/util.h"
#include "files/kind.h"

#define NSEC 1000000000ull
/* the kernel's timers stop at KTIME_MAX nanoseconds */
#define TIMERFD_NS_MAX ((uint64_t)INT64_MAX)
#define TIMERFD_FLAGS (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)

static bool clock_known(int32_t c)
{
	return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_BOOTTIME ||
	       c == CLOCK_REALTIME_ALARM || c == CLOCK_BOOTTIME_ALARM;
}

/* the clock an absolute expiry of clock c is counted on */
static clockid_t base_clock(int32_t c)
{
	return c == CLOCK_REALTIME_ALARM   ? CLOCK_REALTIME
	       : c == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME
					   : (clockid_t)c;
}

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * NSEC + (uint64_t)ts->tv_nsec;
}

static struct timespec ns_ts(uint64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / NSEC), .tv_nsec = (long)(ns % NSEC)};
}

static bool cancellable(const FdEntry *e)
{
	return (e->timerfd_flags & TFD_TIMER_CANCEL_ON_SET) &&
	       (e->timerfd_flags & TFD_TIMER_ABSTIME) &&
	       (e->timerfd_clockid == CLOCK_REALTIME || e->timerfd_clockid == CLOCK_REALTIME_ALARM);
}

/* clockid, ticks and settime flags of fdinfo; -1 when one is missing */
static int parse_fdinfo(const char *info, int32_t *clockid, uint64_t *ticks, uint32_t *flags)
{
	const char *c = strstr(info, "clockid:"), *k = strstr(info, "ticks:");
	const char *f = strstr(info, "settime flags:");

	if (!c || !k || !f)
		return -1;
	*clockid = (int32_t)strtol(c + 8, NULL, 10);
	*ticks = strtoull(k + 6, NULL, 10);
	*flags = (uint32_t)strtoul(f + 14, NULL, 8);
	return 0;
}

/* One consistent sample of the timer behind copy: no expiry between the two gettime calls. */
static int sample(struct dump_task *t, int fd, int copy, FdEntry *e)
{
	char path[64], info[4096];
	struct itimerspec g1, g2;
	struct timespec now;
	uint32_t flags;
	uint64_t ticks;
	int32_t clockid;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", copy);
	for (int tries = 0; tries < 50; tries++) {
		if (timerfd_gettime(copy, &g1) < 0 ||
		    read_file_at(-1, path, info, sizeof(info)) < 0) {
			int err = errno;
			pr_errno(err, "task %d: fd %d: cannot read its timerfd", t->pid, fd);
			return -err;
		}
		if (parse_fdinfo(info, &clockid, &ticks, &flags) < 0) {
			pr_err("task %d: fd %d: a timerfd whose fdinfo cryo cannot read", t->pid,
			       fd);
			return -ENOTSUP;
		}
		if (!clock_known(clockid)) {
			pr_err("task %d: fd %d: a timerfd on clock %d, which cryo does not know",
			       t->pid, fd, clockid);
			return -ENOTSUP;
		}
		if (clock_gettime(base_clock(clockid), &now) < 0 ||
		    timerfd_gettime(copy, &g2) < 0) {
			int err = errno;
			pr_errno(err, "task %d: fd %d: cannot read its timerfd", t->pid, fd);
			return -err;
		}
		uint64_t v1 = ts_ns(&g1.it_value), v2 = ts_ns(&g2.it_value);
		/* an expiry between the two: a periodic timer was forwarded (more time left),
		 * a one-shot one reached 0 */
		if (v2 > v1 || (v1 && !v2))
			continue;
		e->has_timerfd_clockid = e->has_timerfd_ticks = e->has_timerfd_flags = true;
		e->has_timerfd_value_ns = e->has_timerfd_interval_ns = e->has_timerfd_clock_ns =
		    true;
		e->timerfd_clockid = clockid;
		e->timerfd_ticks = ticks;
		e->timerfd_flags = flags;
		e->timerfd_value_ns = v2;
		e->timerfd_interval_ns = ts_ns(&g2.it_interval);
		e->timerfd_clock_ns = ts_ns(&now);
		return 0;
	}
	pr_err("task %d: fd %d: a timerfd that expires too often to be read consistently", t->pid,
	       fd);
	return -ENOTSUP;
}

static int timerfd_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			FdEntry *e)
{
	int copy = fd_take_copy(fi, "its timerfd"), ret;
	(void)ctx;

	if (copy < 0)
		return copy;
	ret = sample(t, fi->fd, copy, e);
	close(copy);
	if (ret)
		return ret;
	if (e->timerfd_flags & ~TIMERFD_FLAGS) {
		pr_err("task %d: fd %d: a timerfd with settime flags %#o, which cryo does not know",
		       t->pid, fi->fd, e->timerfd_flags);
		return -ENOTSUP;
	}
	/* A cancelled timer (its clock was set) shows one more tick, exactly as an expiry does,
	 * and a read would fail with ECANCELED; nothing tells the two apart from outside
	 * without clearing the cancel. (The flag is kept on any timer, but only an absolute
	 * real-time one can be cancelled.) */
	if (cancellable(e) && e->timerfd_ticks) {
		pr_err("task %d: fd %d: a timerfd with TFD_TIMER_CANCEL_ON_SET and %" PRIu64
		       " expiration(s) not read: cryo cannot tell an expiry from a cancel",
		       t->pid, fi->fd, e->timerfd_ticks);
		return -ENOTSUP;
	}
	pr_info("task %d: fd %d is a timerfd on clock %d: %" PRIu64 " ns left, period %" PRIu64
		" ns, %" PRIu64 " tick(s) unread, flags %#o",
		t->pid, fi->fd, e->timerfd_clockid, e->timerfd_value_ns, e->timerfd_interval_ns,
		e->timerfd_ticks, e->timerfd_flags);
	return 0;
}

/* Child phase: the timer, disarmed (restore_timerfds_remote arms it). */
static int timerfd_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
			   int flags)
{
	int fd = timerfd_create(e->timerfd_clockid,
				TFD_CLOEXEC | (flags & O_NONBLOCK ? TFD_NONBLOCK : 0));
	(void)ctx;
	if (fd < 0) {
		int err = errno;
		if (err == EPERM)
			child_fail(t, err,
				   "cannot make the timerfd of fd %d: clock %d needs "
				   "CAP_WAKE_ALARM",
				   e->fd, e->timerfd_clockid);
		else
			child_fail(t, err, "cannot make the timerfd of fd %d (clock %d)", e->fd,
				   e->timerfd_clockid);
		return -1;
	}
	return fd;
}

/* After TFD_IOC_SET_TICKS on an armed periodic timer: did it expire between its arming and
 * the ioctl, which overwrote that expiry? The kernel stops a periodic timer at its expiry
 * until it is read (fdinfo then shows no time left), so nothing more can expire until then:
 * it then gets the ticks it lost. 1: lost one, 0: not, -errno. */
static int lost_tick(pid_t pid, int fd, uint64_t ticks)
{
	char path[64], info[4096];
	unsigned long long sec, nsec;
	const char *k, *v;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if (read_file_at(-1, path, info, sizeof(info)) < 0)
		return -errno;
	k = strstr(info, "ticks:");
	v = strstr(info, "it_value:");
	if (!k || !v || sscanf(v, "it_value: (%llu, %llu)", &sec, &nsec) != 2)
		return -EINVAL;
	return !sec && !nsec && strtoull(k + 6, NULL, 10) == ticks;
}

static int set_ticks(struct restore_task *t, const FdEntry *e, uint64_t ticks)
{
	struct remote *r = &t->rem;
	uint64_t scratch = remote_scratch(r);
	long rv;
	int ret = remote_write(t->pid, scratch, &ticks, sizeof(ticks));

	if (ret)
		return ret;
	rv = rsys3(r, __NR_ioctl, e->fd, TFD_IOC_SET_TICKS, scratch);
	if (rv < 0) {
		pr_errno((int)-rv,
			 "task %d: cannot give the timerfd of fd %d its %" PRIu64
			 " unread expiration(s) (TFD_IOC_SET_TICKS)",
			 t->pid, e->fd, ticks);
		return (int)rv;
	}
	return 0;
}

/* Remote phase, last before the task resumes: arm every timerfd the task's images made,
 * once per description (a dup or a copy shared with another task is the same timer). */
int restore_timerfds_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	uint64_t scratch = remote_scratch(r);
	(void)ctx;

	if (!t->files || t->core->files_shared_with_parent)
		return 0;
	for (size_t i = 0; i < t->files->n_fds; i++) {
		const FdEntry *e = t->files->fds[i];
		struct itimerspec its = {{0, 0}, {0, 0}};
		long rv;
		int ret;

		if (e->kind != FD_KIND__FD_TIMERFD || e->has_dup_of)
			continue;
		/* a disarmed timer keeps its flags too (fdinfo shows them) */
		if (e->timerfd_value_ns || e->timerfd_flags) {
			uint64_t v = e->timerfd_value_ns;
			/* validated: the sum stays below KTIME_MAX */
			if (v && (e->timerfd_flags & TFD_TIMER_ABSTIME))
				v += e->timerfd_clock_ns;
			its.it_value = ns_ts(v);
			its.it_interval = ns_ts(e->timerfd_interval_ns);
			ret = remote_write(t->pid, scratch, &its, sizeof(its));
			if (ret)
				return ret;
			rv = rsys4(r, __NR_timerfd_settime, e->fd, e->timerfd_flags, scratch, 0);
			if (rv < 0) {
				pr_errno((int)-rv, "task %d: cannot arm the timerfd of fd %d",
					 t->pid, e->fd);
				return (int)rv;
			}
		}
		if (!e->timerfd_ticks)
			continue;
		ret = set_ticks(t, e, e->timerfd_ticks);
		if (!ret && e->timerfd_value_ns && e->timerfd_interval_ns) {
			ret = lost_tick(t->pid, e->fd, e->timerfd_ticks);
			if (ret > 0)
				ret = set_ticks(t, e, e->timerfd_ticks + 1);
			else if (ret < 0)
				pr_errno(-ret, "task %d: cannot read back the timerfd of fd %d",
					 t->pid, e->fd);
		}
		if (ret)
			return ret;
	}
	return 0;
}

static int timerfd_validate(const char *img, const Files *f, const FdEntry *e)
{
	(void)f;
	if (!e->has_timerfd_clockid || !e->has_timerfd_ticks || !e->has_timerfd_flags ||
	    !e->has_timerfd_value_ns || !e->has_timerfd_interval_ns || !e->has_timerfd_clock_ns)
		return files_refuse(img, "fd %d: a timerfd without all of its fields", e->fd);
	if (!clock_known(e->timerfd_clockid))
		return files_refuse(img, "fd %d: timerfd clock %d is unknown", e->fd,
				    e->timerfd_clockid);
	if (e->timerfd_flags & ~TIMERFD_FLAGS)
		return files_refuse(img, "fd %d: timerfd flags %#o are invalid", e->fd,
				    e->timerfd_flags);
	if (e->timerfd_value_ns > TIMERFD_NS_MAX || e->timerfd_interval_ns > TIMERFD_NS_MAX ||
	    e->timerfd_clock_ns > TIMERFD_NS_MAX ||
	    ((e->timerfd_flags & TFD_TIMER_ABSTIME) &&
	     e->timerfd_value_ns + e->timerfd_clock_ns > TIMERFD_NS_MAX))
		return files_refuse(img, "fd %d: timerfd times out of range", e->fd);
	/* one more may be given back (lost_tick) */
	if (e->timerfd_ticks >= UINT64_MAX - 1)
		return files_refuse(img, "fd %d: timerfd ticks out of range", e->fd);
	return 0;
}

const struct fd_ops fd_timerfd_ops = {
    .name = "a timerfd",
    .names = "timerfds",
    .kind = FD_KIND__FD_TIMERFD,
    .link_prefix = "anon_inode:[timerfd]",
    .dump = timerfd_dump,
    .restore = timerfd_restore,
    .validate = timerfd_validate,
};
