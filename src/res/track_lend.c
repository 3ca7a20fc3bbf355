/* The lender of cryo's tracking descriptors to a task of another user (see track_lend.h). */
#include "res/track_lend.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/proc.h"

/* the lender's end of the pipe that says it is ready */
#define LEND_READY_FD 5

int track_lend_needed(pid_t pid, uid_t *uid, gid_t *gid)
{
	struct proc_status st, me;
	int ret;

	memset(&st, 0, sizeof(st));
	memset(&me, 0, sizeof(me));
	if ((ret = proc_parse_status(pid, &st)) || (ret = proc_parse_status(getpid(), &me)))
		return ret;
	*uid = st.uid[0];
	*gid = st.gid[0];
	/* pidfd_getfd as the task: its real ids must be all of cryo's, and it must have every
	 * capability cryo has (the kernel's ptrace check) */
	bool ids = st.uid[0] == me.uid[0] && st.uid[0] == me.uid[1] && st.uid[0] == me.uid[2] &&
		   st.gid[0] == me.gid[0] && st.gid[0] == me.gid[1] && st.gid[0] == me.gid[2];
	return !ids || (me.cap_prm & ~st.cap_prm) ? 1 : 0;
}

static void __attribute__((noreturn))
lender_child(pid_t cryo, pid_t pid, uid_t uid, gid_t gid, int fd_a, int fd_b, int ready)
{
	char arg[16], parent[16];
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[2];

	memset(none, 0, sizeof(none));
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* the two at 3 and 4, the pipe at 5, nothing else of cryo's (dup2 clears CLOEXEC);
	 * the sources first out of the way */
	int a = fcntl(fd_a, F_DUPFD, 10), b = fcntl(fd_b, F_DUPFD, 10),
	    r = fcntl(ready, F_DUPFD, 10);
	if (a < 0 || b < 0 || r < 0 || dup2(a, TRACK_LEND_FD_A) < 0 ||
	    dup2(b, TRACK_LEND_FD_B) < 0 || dup2(r, LEND_READY_FD) < 0)
		_exit(127);
	syscall(__NR_close_range, LEND_READY_FD + 1, ~0u, 0);
	int null = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 3; fd++)
		dup2(null, fd);
	if (null > 2)
		close(null);
	/* no capability after the exec either: out of the bounding set first (a root task that
	 * dropped some would otherwise meet a lender given them all again by the exec of root),
	 * which needs CAP_SETPCAP, still held here */
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0 || syscall(SYS_capset, &h, none) < 0)
		_exit(126);
	snprintf(arg, sizeof(arg), "%d", pid);
	snprintf(parent, sizeof(parent), "%d", cryo);
	char *argv[] = {"cryo", "__track-lend", arg, parent, NULL}, *envp[] = {NULL};
	execve("/proc/self/exe", argv, envp);
	_exit(125);
}

int track_lend_start(struct track_lender *l, pid_t pid, uid_t uid, gid_t gid, int fd_a, int fd_b)
{
	int p[2], ret;
	char byte;

	l->pid = -1;
	l->pidfd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t cryo = getpid(), child = fork();
	if (child < 0) {
		ret = -errno;
		close(p[0]);
		close(p[1]);
		pr_errno(-ret, "task %d: cannot start the lender of its tracking descriptors", pid);
		return ret;
	}
	if (child == 0)
		lender_child(cryo, pid, uid, gid, fd_a, fd_b, p[1]);
	close(p[1]);
	l->pid = child;
	l->pidfd = sys_pidfd_open(child); /* our child, not reaped: it is that process */
	ssize_t n;
	while ((n = read(p[0], &byte, 1)) < 0 && errno == EINTR)
		;
	close(p[0]);
	if (n == 1 && byte == 'R' && l->pidfd >= 0)
		return 0;
	ret = l->pidfd < 0 ? -errno : -EIO;
	track_lend_end(l);
	pr_err("task %d: the lender of its tracking descriptors (uid %u, gid %u) did not start "
	       "(cryo's binary must be executable by that user)",
	       pid, (unsigned)uid, (unsigned)gid);
	return ret;
}

void track_lend_end(struct track_lender *l)
{
	if (l->pid <= 0)
		return;
	if (l->pidfd >= 0) {
		sys_pidfd_send_signal(l->pidfd, SIGKILL);
		close(l->pidfd);
	}
	/* our child: no other process can have its pid until it is waited for */
	while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
		;
	l->pid = -1;
	l->pidfd = -1;
}

void track_lend_main(pid_t task, pid_t cryo)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[2];

	/* none of the capabilities that the exec gave back to a root without any (a daemon of
	 * uid 0 that dropped them all): the kernel lets a task take descriptors only from a
	 * process whose permitted set is within its own; and dumpable again, as that exec
	 * (capabilities gained) had made it not */
	memset(none, 0, sizeof(none));
	if (syscall(SYS_capset, &h, none) < 0 || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		_exit(1);
	/* only the task (where Yama allows tracing by descendants only) may take them */
	prctl(PR_SET_PTRACER, (unsigned long)task, 0, 0, 0);
	if (getppid() != cryo) /* cryo died before the death signal was set: nothing to lend */
		_exit(1);
	if (write(LEND_READY_FD, "R", 1) != 1)
		_exit(1);
	close(LEND_READY_FD);
	for (;;)
		pause();
}
