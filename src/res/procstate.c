/* Process state that has no other home: the core dump filter, KSM for the whole process,
 * memory-deny-write-execute, syscall user dispatch, CPUID faulting, an LSM label. The first two are
 * saved and set again; the others, which a program sets on itself for safety or emulation, are not
 * restored yet, so a task with one of them is refused, naming it (a restore without them would
 * leave the task with fewer restrictions than it had, or emulating nothing). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "remote/remote.h"
#include "res/procstate.h"

void procstate_ask(struct remote_batch *b, struct dump_task *t)
{
	batch_ask(b, &t->ans.mdwe, __NR_prctl, PR_GET_MDWE, 0, 0, 0, 0, 0);
	batch_ask(b, &t->ans.memory_merge, __NR_prctl, PR_GET_MEMORY_MERGE, 0, 0, 0, 0, 0);
}

void procstate_ask_thread(struct remote_batch *b, struct dump_thread *th)
{
	batch_ask(b, &th->ans.cpuid, __NR_arch_prctl, ARCH_GET_CPUID, 0, 0, 0, 0, 0);
}

int dump_procstate(struct dump_ctx *ctx, struct dump_task *t)
{
	char path[64], buf[32];
	int refused = 0;
	(void)ctx;

	snprintf(path, sizeof(path), "/proc/%d/coredump_filter", t->pid);
	if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0) {
		t->core->has_coredump_filter = true;
		t->core->coredump_filter = (uint32_t)strtoul(buf, NULL, 16);
	}
	/* a security label (AppArmor profile, SELinux context) the task would lose: cryo sets
	 * none yet. Without such a module loaded the file cannot be read (EINVAL). */
	char label[256];
	snprintf(path, sizeof(path), "/proc/%d/attr/current", t->pid);
	ssize_t n = read_file_at(AT_FDCWD, path, label, sizeof(label));
	if (n > 0) {
		label[strcspn(label, "\n")] = 0;
		if (label[0] && strcmp(label, "unconfined")) {
			pr_err("task %d runs under the security label '%s': not supported yet",
			       t->pid, label);
			refused++;
		}
	}
	if (t->ans.memory_merge > 0)
		t->core->has_memory_merge = t->core->memory_merge = true;
	/* -EINVAL: a kernel without it, nothing set */
	if (t->ans.mdwe > 0) {
		pr_err("task %d denies itself memory that is both written and executed "
		       "(PR_SET_MDWE %#lx): not supported yet",
		       t->pid, t->ans.mdwe);
		refused++;
	}
	for (int k = 0; k < t->nr_threads; k++) {
		struct dump_thread *th = &t->threads[k];
		struct ptrace_sud_config sud = {0};
		if (th->ans.cpuid == 0) {
			pr_err("thread %d of task %d has CPUID faulting on (ARCH_SET_CPUID): not "
			       "supported yet",
			       th->tid, t->pid);
			refused++;
		}
		if (ptrace((enum __ptrace_request)PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG, th->tid,
			   sizeof(sud), &sud) == 0 &&
		    sud.mode) {
			pr_err("thread %d of task %d uses syscall user dispatch "
			       "(PR_SET_SYSCALL_USER_DISPATCH): not supported yet",
			       th->tid, t->pid);
			refused++;
		}
	}
	return refused ? -ENOTSUP : 0;
}

int restore_procstate_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	(void)ctx;
	if (t->core->has_coredump_filter) {
		char path[64], val[16];
		snprintf(path, sizeof(path), "/proc/%d/coredump_filter", t->pid);
		snprintf(val, sizeof(val), "%#x", t->core->coredump_filter);
		int ret = write_file(path, val);
		if (ret) {
			pr_errno(-ret, "process %d: cannot set its core dump filter", t->pid);
			return ret;
		}
	}
	if (t->core->has_memory_merge && t->core->memory_merge) {
		long rv = rsys2(&t->rem, __NR_prctl, PR_SET_MEMORY_MERGE, 1);
		if (rv < 0) {
			pr_errno((int)-rv, "process %d: cannot make all its memory mergeable again",
				 t->pid);
			return (int)rv;
		}
	}
	return 0;
}
