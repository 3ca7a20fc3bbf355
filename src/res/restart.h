/* A thread asleep in restart_syscall: the call it continues, read before the thread is
 * stopped and saved in its place (restart.c). */
#ifndef CRYO_RES_RESTART_H
#define CRYO_RES_RESTART_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* What /proc said of a thread's system call just before cryo stopped it */
struct syscall_seen {
	bool known;	  /* the syscall file was read and parsed */
	long nr;	  /* the call it was in (-1: none, or running) */
	uint64_t args[6]; /* its arguments */
	long continues;	  /* nr is restart_syscall: the call it continues, else -1 */
};

/* Read it for thread tid of process pid; 0, or -errno when /proc cannot be read (then it is
 * not known, and a stop in restart_syscall is refused). */
int syscall_seen_read(pid_t pid, pid_t tid, struct syscall_seen *s);

/* For a thread stopped with registers r: 0 if it is not in an interrupted restart_syscall,
 * else the call it continues as s saw it (the same arguments), or -1 if that is not known. */
long restart_continued(const struct syscall_seen *s, const struct user_regs_struct *r);

/* The orig_rax to save for a thread stopped with registers r: r's own, or for a
 * restart_syscall that was interrupted, the call it continues as s saw it (the same
 * arguments). -ENOTSUP (logged, naming tid) when that call is not known. */
int restart_resolve(const struct syscall_seen *s, const struct user_regs_struct *r, pid_t tid,
		    uint64_t *orig_ax);

#endif
