/* Kernel interfaces newer than Debian 12's 6.1 uapi headers, and syscalls glibc 2.36 has no
 * wrapper for. Each constant notes the kernel that introduced it. Everything of this kind lives
 * here and nowhere else. */
#ifndef CRYO_COMPAT_H
#define CRYO_COMPAT_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/types.h>
#include <signal.h>

/* PAGEMAP_SCAN ioctl on /proc/PID/pagemap (6.7) */
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};
struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)
#endif
/* userfaultfd write-protect features (linux/userfaultfd.h of 6.1 lacks the newer ones) */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13) /* 6.4 */
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15) /* 6.7: a write clears the bit, nobody is told */
#endif
/* Linux 6.14: pages marked as guards by MADV_GUARD_INSTALL, in PAGEMAP_SCAN's categories */
#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD (1 << 8)
#endif
/* Linux 6.13: guard pages (a fault on them is SIGSEGV, whatever the protection) */
/* the mqueue filesystem's magic (fs/mqueue.c; not in every linux/magic.h) */
#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
/* Linux 6.10: mseal(2) */
#ifndef __NR_mseal
#define __NR_mseal 462
#endif

/* The kernel's own layouts of what remote calls read and write in a task (x86-64), which
 * differ from glibc's types of the same names. */
struct kernel_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};
struct kernel_stack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};
struct kernel_itimerval {
	struct {
		int64_t tv_sec, tv_usec;
	} interval, value;
};
struct kernel_rlimit64 {
	uint64_t cur, max;
};

/* clone3 with set_tid (5.5) */
struct cryo_clone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
	uint64_t cgroup;
};
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
static inline long sys_clone3(struct cryo_clone_args *args)
{
	return syscall(SYS_clone3, args, sizeof(*args));
}

/* pidfd_open (5.3), pidfd_getfd (5.6) */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static inline int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}
static inline int sys_pidfd_getfd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

/* timerfd's TFD_IOC_SET_TICKS (3.17, CONFIG_CHECKPOINT_RESTORE): <linux/timerfd.h> has it, but
 * that header clashes with glibc's <fcntl.h> */
#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

/* the kernel's O_LARGEFILE, which fanotify's event flags show (glibc's is 0 on 64-bit) */
#define KERNEL_O_LARGEFILE 0100000

/* pidfd_open flags: PIDFD_NONBLOCK (5.10) is O_NONBLOCK, PIDFD_THREAD (6.9) is O_EXCL; both
 * show in the pidfd's file flags (fdinfo "flags:") */
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/* pidfd_send_signal (5.1) */
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
static inline int sys_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* rseq (4.18) and its ptrace query (5.13) */
#ifndef SYS_rseq
#define SYS_rseq 334
#endif
#define CRYO_RSEQ_FLAG_UNREGISTER 1
#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
struct cryo_rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

/* PTRACE_PEEKSIGINFO arguments (glibc names its copy differently) */
struct cryo_peeksiginfo_args {
	uint64_t off;
	uint32_t flags;
	int32_t nr;
};
#define CRYO_PEEKSIGINFO_SHARED 1

/* ptrace bits present in 6.1 headers but not always in glibc's <sys/ptrace.h> */
#ifndef PTRACE_O_SUSPEND_SECCOMP
#define PTRACE_O_SUSPEND_SECCOMP (1 << 21)
#endif
#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

/* timer_create with a caller-chosen id (6.17): after this prctl, timer_create() takes the id
 * stored at its timer_t argument instead of allocating the next free one. */
#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#define PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#define PR_TIMER_CREATE_RESTORE_IDS_ON 1
#define PR_TIMER_CREATE_RESTORE_IDS_GET 2
#endif

/* x86 vDSO remapping (3.16) */
#ifndef ARCH_MAP_VDSO_64
#define ARCH_MAP_VDSO_64 0x2003
#endif

/* openat2 (5.6): struct open_how and the RESOLVE_* flags are in the 6.1 headers
 * (<linux/openat2.h>), but glibc 2.36 has no wrapper. */
#include <linux/openat2.h>
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
static inline int sys_openat2(int dirfd, const char *path, struct open_how *how)
{
	return (int)syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}

/* Kernel-internal syscall restart codes that a task stopped inside a syscall shows in rax. */
#define CRYO_ERESTARTSYS 512
#define CRYO_ERESTARTNOINTR 513
#define CRYO_ERESTARTNOHAND 514
#define CRYO_ERESTART_RESTARTBLOCK 516

/* membarrier: the registrations of the caller's mm, as a mask of the MEMBARRIER_CMD_REGISTER_*
 * commands (6.3) */
#include <linux/membarrier.h>
#define CRYO_MEMBARRIER_CMD_GET_REGISTRATIONS (1 << 9)

/* PTRACE_SECCOMP_GET_METADATA (4.16): the flags of one filter of a thread (glibc names the
 * request but not its argument) */
struct cryo_seccomp_metadata {
	uint64_t filter_off;
	uint64_t flags;
};

/* prctl: memory-deny-write-execute (6.3), KSM for the whole process (6.4) */
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif
/* ptrace: a thread's syscall user dispatch settings (6.3) */
#ifndef PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG
#define PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG 0x4210
struct ptrace_sud_config {
	uint64_t mode;
	uint64_t selector;
	uint64_t offset;
	uint64_t len;
};
#endif
/* arch_prctl: whether CPUID faults for the thread (4.12) */
#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#endif

/* memfd_create: the executable flags (6.3), and the seal that keeps the x bits (6.3) */
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

/* socket options newer than the 6.1 headers: SO_PASSPIDFD (6.5), IP_LOCAL_PORT_RANGE (6.3) */
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

/* netlink and packet sockets: PACKET_VNET_HDR_SZ (6.2), NETLINK_GET_STRICT_CHK (4.20), the
 * netlink_diag flags of 6.1 with the ones added since */
#ifndef PACKET_VNET_HDR_SZ
#define PACKET_VNET_HDR_SZ 24
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62 /* 5.0 */
#endif

/* TCP-AO (RFC 5925) socket options (6.7): TCP_AO_INFO answers ENOENT on a socket without AO
 * keys, ENOPROTOOPT on a kernel without CONFIG_TCP_AO */
#ifndef TCP_AO_INFO
#define TCP_AO_INFO 40
#endif
#define CRYO_TCP_AO_INFO_SIZE 48 /* struct tcp_ao_info_opt */

#endif
