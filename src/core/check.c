/* `cryo check`: does this kernel offer what cryo relies on? Each probe says what failed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "cryo/cryo.h"

static int probe_pagemap_scan(void)
{
	struct page_region r[4];
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), ret = 0;
	struct pm_scan_arg a = {.size = sizeof(a),
				.start = (uint64_t)p,
				.end = (uint64_t)p + 4096,
				.vec = (uint64_t)r,
				.vec_len = 4,
				.category_anyof_mask = PAGE_IS_PRESENT,
				.return_mask = PAGE_IS_PRESENT};
	if (p == MAP_FAILED || fd < 0)
		return -errno;
	p[0] = 1;
	if (ioctl(fd, PAGEMAP_SCAN, &a) != 1)
		ret = errno ? -errno : -EINVAL;
	close(fd);
	munmap(p, 4096);
	return ret;
}

static int probe_clone3(void)
{
	/* invalid arguments: a kernel with clone3 says EINVAL, one without ENOSYS */
	if (syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS)
		return -ENOSYS;
	return 0;
}

static int probe_timer_ids(void)
{
	long r = prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_GET, 0, 0, 0);
	return r < 0 ? -errno : 0;
}

static int probe_mm_map(void)
{
	unsigned int size = 0;
	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0) < 0)
		return -errno;
	return size ? 0 : -EINVAL;
}

static int probe_vm_readv(void)
{
	char src = 'x', dst = 0;
	struct iovec l = {&dst, 1}, r = {&src, 1};
	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == 1 ? 0 : -errno;
}

static int probe_ptrace_sigmask(void)
{
	/* PTRACE_SEIZE of ourselves is refused, but the request must be known */
	if (ptrace(PTRACE_SEIZE, getpid(), 0, 0) < 0 && errno == EIO)
		return -EIO;
	return 0;
}

int cryo_check(void)
{
	static const struct {
		const char *what;
		int (*probe)(void);
	} probes[] = {
	    {"PAGEMAP_SCAN ioctl (memory scan, 6.7)", probe_pagemap_scan},
	    {"clone3 (exact PIDs, 5.5)", probe_clone3},
	    {"PR_TIMER_CREATE_RESTORE_IDS (POSIX timer ids, 6.17)", probe_timer_ids},
	    {"PR_SET_MM_MAP (mm fields, 3.18)", probe_mm_map},
	    {"process_vm_readv", probe_vm_readv},
	    {"ptrace", probe_ptrace_sigmask},
	};
	int failed = 0;

	if (geteuid() != 0) {
		pr_err("cryo needs to run as root");
		return -EPERM;
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		int ret = probes[i].probe();
		if (ret) {
			pr_errno(-ret, "kernel lacks %s", probes[i].what);
			failed++;
		} else {
			pr_info("ok: %s", probes[i].what);
		}
	}
	return failed ? -ENOTSUP : 0;
}
