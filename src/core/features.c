/* `cryo check --feature NAME`: the original tool's feature names, each answered for what this
 * kernel AND cryo can do. A feature serves some kind of state or some mode of operation; when
 * cryo does not implement that yet, the answer is no, whatever the kernel offers (the kernel's
 * side is said too where it is known), so that a client never plans on something cryo would
 * then refuse. The features cryo does use are probed on this kernel. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "core/util.h"
#include "cryo/cryo.h"

static void end_child(pid_t pid)
{
	kill(pid, SIGKILL); /* our own child, not reaped yet: the pid is still ours */
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

/* A child stopped under ptrace, seized with opts, with a seccomp filter that allows
 * everything when with_filter: the ptrace probes ask about it. */
static pid_t traced_child(unsigned long opts, bool with_filter, int *err)
{
	int status, ready[2];
	char c = 0;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0) {
		*err = -errno;
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		*err = -errno;
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	if (pid == 0) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		struct sock_fprog prog = {.len = 1, .filter = &allow};
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (with_filter && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
				    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)))
			_exit(1);
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	/* set up before it is seized */
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		*err = -ECHILD;
		end_child(pid);
		return -1;
	}
	close(ready[0]);
	if (ptrace(PTRACE_SEIZE, pid, 0, opts) < 0 || ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) {
		*err = -errno;
		end_child(pid);
		return -1;
	}
	while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
		;
	return pid;
}

/* fdinfo shows the locks of a description ("lock:" lines), which --file-locks reads */
static int probe_fdinfo_lock(void)
{
	char path[64], buf[1024];
	int fd = memfd_create("cryo-check-lock", MFD_CLOEXEC), ret = -ENOTSUP;
	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (flock(fd, LOCK_EX) == 0 && read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0 &&
	    strstr(buf, "lock:"))
		ret = 0;
	close(fd);
	return ret;
}

/* the audit login uid can be read and, as root, set again */
static int probe_loginuid(void)
{
	return access("/proc/self/loginuid", R_OK | W_OK) == 0 ? 0 : -errno;
}

static int probe_seccomp_suspend(void)
{
	int err = 0;
	pid_t pid = traced_child(PTRACE_O_SUSPEND_SECCOMP, false, &err);
	if (pid < 0)
		return err;
	end_child(pid);
	return 0;
}

static int probe_seccomp_filters(void)
{
	int err = 0, ret = 0;
	pid_t pid = traced_child(0, true, &err);
	if (pid < 0)
		return err;
	/* the child's one filter has one instruction */
	if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, NULL) != 1)
		ret = errno ? -errno : -EINVAL;
	end_child(pid);
	return ret;
}

static int probe_rseq_conf(void)
{
	struct cryo_rseq_config conf;
	int err = 0, ret = 0;
	pid_t pid = traced_child(0, false, &err);
	if (pid < 0)
		return err;
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, sizeof(conf), &conf) < 0)
		ret = -errno;
	end_child(pid);
	return ret;
}

static int probe_clone3_set_tid(void)
{
	/* asking for our own pid: a kernel that can set it says EEXIST, before creating
	 * anything */
	pid_t self = getpid();
	struct cryo_clone_args a = {
	    .exit_signal = SIGCHLD, .set_tid = (uint64_t)(uintptr_t)&self, .set_tid_size = 1};
	long r = sys_clone3(&a);
	if (r == 0)
		_exit(0); /* cannot happen: the pid is taken */
	if (r > 0) {
		waitpid(r, NULL, 0);
		return -EINVAL;
	}
	return errno == EEXIST ? 0 : -errno;
}

static int probe_kcmp_epoll(void)
{
	/* an eventfd registered in an epoll of ours must compare equal to itself */
	int ep = epoll_create1(EPOLL_CLOEXEC), ev = eventfd(0, EFD_CLOEXEC), ret = -EINVAL;
	struct epoll_event e = {.events = EPOLLIN};
	if (ep >= 0 && ev >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) == 0) {
		struct kcmp_epoll_slot slot = {.efd = (uint32_t)ep, .tfd = (uint32_t)ev};
		long r = syscall(SYS_kcmp, getpid(), getpid(), KCMP_EPOLL_TFD, ev, &slot);
		ret = r == 0 ? 0 : r < 0 ? -errno : -EINVAL;
	} else {
		ret = -errno;
	}
	if (ep >= 0)
		close(ep);
	if (ev >= 0)
		close(ev);
	return ret;
}

static int probe_openat2(void)
{
	struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int fd = sys_openat2(AT_FDCWD, "/", &how);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* restored timerfds get their unread expirations back with TFD_IOC_SET_TICKS */
static int probe_timerfd(void)
{
	uint64_t ticks = 1;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC), ret = 0;
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TFD_IOC_SET_TICKS, &ticks) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Lazy restore (res/lazy.c): a userfaultfd that handles the kernel's faults too (a read()
 * into a missing page), and, for uffd-noncoop, the events the lazy-pages daemon follows. */
static int probe_uffd_with(uint64_t features)
{
	struct uffdio_api api = {.api = UFFD_API, .features = features};
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	int ret = fd >= 0 && ioctl(fd, UFFDIO_API, &api) == 0 ? 0 : -ENOTSUP;
	if (fd >= 0)
		close(fd);
	return ret;
}

static int probe_uffd(void)
{
	return probe_uffd_with(0);
}

static int probe_uffd_noncoop(void)
{
	return probe_uffd_with(UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
			       UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP);
}

/* Dirty tracking as pre-dumps do it (res/track.c): a page written after the write
 * protection of an asynchronous write-protect userfaultfd is the one PAGEMAP_SCAN calls
 * written, and only that one. */
static int probe_dirty_track(void)
{
	long psz = sysconf(_SC_PAGESIZE);
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC};
	struct page_region vec[4];
	int uffd = -1, pm = -1, ret = -ENOTSUP;
	char *p = mmap(NULL, 2 * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	p[0] = p[psz] = 1;
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (uffd >= 0 && pm >= 0 && ioctl(uffd, UFFDIO_API, &api) == 0 &&
	    (api.features & UFFD_FEATURE_WP_ASYNC)) {
		struct uffdio_register reg = {.range = {(uintptr_t)p, 2 * psz},
					      .mode = UFFDIO_REGISTER_MODE_WP};
		struct uffdio_writeprotect wp = {.range = {(uintptr_t)p, 2 * psz},
						 .mode = UFFDIO_WRITEPROTECT_MODE_WP};
		if (ioctl(uffd, UFFDIO_REGISTER, &reg) == 0 &&
		    ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0) {
			p[psz] = 2;
			struct pm_scan_arg arg = {.size = sizeof(arg),
						  .start = (uintptr_t)p,
						  .end = (uintptr_t)p + 2 * psz,
						  .vec = (uintptr_t)vec,
						  .vec_len = 4,
						  .category_mask = PAGE_IS_WRITTEN,
						  .return_mask = PAGE_IS_WRITTEN};
			long n = ioctl(pm, PAGEMAP_SCAN, &arg);
			if (n == 1 && vec[0].start == (uintptr_t)p + psz &&
			    vec[0].end == (uintptr_t)p + 2 * psz)
				ret = 0;
		}
	}
	if (uffd >= 0)
		close(uffd);
	if (pm >= 0)
		close(pm);
	munmap(p, 2 * psz);
	return ret;
}

#define NO_SOCKETS "cryo does not dump sockets yet"
#define NO_NETNS "cryo does not dump network namespaces yet"
#define NO_NETLOCK "cryo locks no network: it dumps no TCP connection yet"
#define NO_MOUNTS "cryo does not dump or restore mounts yet"

static const struct feature {
	const char *name;
	int (*probe)(void);	     /* cryo uses it: is it on this kernel? */
	const char *missing;	     /* cryo does not do what it serves: why */
	const char *(*kernel)(void); /* with missing: the kernel's side, when known */
} features[] = {
    {"mnt_id", NULL, NO_MOUNTS " (mount ids in fdinfo serve that)"},
    {"mem_dirty_track", probe_dirty_track},
    {"aio_remap", NULL, "cryo does not dump AIO rings yet"},
    {"timerfd", probe_timerfd},
    {"tun", NULL, "cryo does not dump tun devices yet"},
    {"tun_ns", NULL, "cryo does not dump tun devices yet"},
    {"userns", NULL, "cryo does not dump user namespaces yet"},
    {"fdinfo_lock", probe_fdinfo_lock},
    {"seccomp_suspend", probe_seccomp_suspend},
    {"seccomp_filters", probe_seccomp_filters},
    {"loginuid", probe_loginuid},
    {"cgroupns", NULL, "cryo does not dump cgroup namespaces yet"},
    {"autofs", NULL, NO_MOUNTS},
    {"tcp_half_closed", NULL, "cryo does not dump TCP connections yet"},
    {"compat_cr", NULL, "cryo does not dump 32-bit tasks"},
    {"uffd", probe_uffd},
    {"uffd-noncoop", probe_uffd_noncoop},
    {"can_map_vdso", NULL,
     "cryo never maps a new vDSO: it moves the restored task's own to the dumped address"},
    {"sk_ns", NULL, NO_SOCKETS},
    {"sk_unix_file", NULL, NO_SOCKETS},
    {"net_diag_raw", NULL, NO_SOCKETS},
    {"nsid", NULL, NO_NETNS},
    {"link_nsid", NULL, NO_NETNS},
    {"kcmp_epoll", probe_kcmp_epoll},
    {"timens", NULL, "cryo does not dump time namespaces yet"},
    {"external_net_ns", NULL, NO_NETNS},
    {"clone3_set_tid", probe_clone3_set_tid},
    {"newifindex", NULL, NO_NETNS},
    {"nftables", NULL, NO_NETLOCK},
    {"has_ipt_legacy", NULL, NO_NETLOCK},
    {"pidfd_store", NULL, "cryo has no service mode yet, which the pidfd store serves"},
    {"ns_pid", NULL, "cryo does not dump pid namespaces yet"},
    {"apparmor_stacking", NULL, "cryo does not dump LSM profiles yet"},
    {"network_lock_nftables", NULL, NO_NETLOCK},
    {"sockopt_buf_lock", NULL, NO_SOCKETS},
    {"memfd_hugetlb", NULL, "cryo does not dump hugetlb memory (MFD_HUGETLB memfds) yet"},
    {"move_mount_set_group", NULL, NO_MOUNTS},
    {"openat2", probe_openat2},
    {"get_rseq_conf", probe_rseq_conf},
};

#define NR_FEATURES (sizeof(features) / sizeof(features[0]))

void cryo_list_features(void)
{
	for (size_t i = 0; i < NR_FEATURES; i++)
		printf("%s%s", features[i].name, i + 1 < NR_FEATURES ? " " : "\n");
}

static int check_one(const struct feature *f, bool as_error)
{
	int ret;
	if (f->missing) {
		const char *k = f->kernel ? f->kernel() : NULL;
		if (as_error)
			pr_err("%s is not supported: %s%s%s%s", f->name, f->missing, k ? " (" : "",
			       k ? k : "", k ? ")" : "");
		else
			pr_warn("%s is not supported: %s%s%s%s", f->name, f->missing, k ? " (" : "",
				k ? k : "", k ? ")" : "");
		return -ENOTSUP;
	}
	ret = f->probe();
	if (ret && as_error)
		pr_errno(-ret, "%s is not supported: this kernel refuses it", f->name);
	else if (ret)
		pr_warn("%s is not supported: this kernel refuses it: %s", f->name, strerror(-ret));
	return ret ? -ENOTSUP : 0;
}

int cryo_check_feature(const char *name)
{
	for (size_t i = 0; i < NR_FEATURES; i++)
		if (!strcmp(features[i].name, name))
			return check_one(&features[i], true);
	pr_err("unknown feature %s (`cryo check --feature list` names them)", name);
	return -EINVAL;
}

int cryo_check_extra(void)
{
	int missing = 0;
	for (size_t i = 0; i < NR_FEATURES; i++)
		if (check_one(&features[i], false))
			missing++;
	return missing;
}
