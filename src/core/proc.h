/* Reading /proc/PID files of another process. */
#ifndef CRYO_PROC_H
#define CRYO_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_stat {
	char comm[64];
	char state;
	pid_t ppid, pgid, sid;
	int tty_nr;
	pid_t tpgid; /* the foreground group of its controlling terminal, or -1 */
	int nice;
	int num_threads;
	int exit_signal;
	int exit_code;	     /* of a zombie, in waitpid() form */
	unsigned long flags; /* the kernel's PF_* flags */
	uint64_t start_code, end_code, start_stack;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t start_time; /* clock ticks after boot when it started */
};

struct proc_status {
	uint32_t uid[4], gid[4];
	uint32_t groups[256];
	int nr_groups;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int no_new_privs;
	int seccomp;
	int seccomp_filters;
	uint32_t umask;
	int threads;
	pid_t tracer; /* TracerPid: 0 if none */
	uint64_t sig_blocked, sig_ignored, sig_caught, sig_shared_pending;
};

int proc_parse_stat(pid_t pid, pid_t tid, struct proc_stat *st);
int proc_parse_status(pid_t pid, struct proc_status *st);
int proc_parse_status_tid(pid_t pid, pid_t tid, struct proc_status *st);
/* Number of the highest fd the process has open, -1 if none. */
int proc_max_fd(pid_t pid);

#endif
