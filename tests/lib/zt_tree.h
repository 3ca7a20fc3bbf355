/* zt_tree: verdicts and steps shared by the tasks of a test with several processes or threads.
 *
 * zt's SIGTERM ("check now") reaches the root process only, and zt_expect() counts failures
 * in the memory of the task that calls it, so a test made of several tasks needs a common
 * place for its verdicts. zt_tree keeps it in one MAP_SHARED anonymous "board" created before
 * the first fork, so that every process of the tree and every thread sees the same one:
 *
 *	root				each other task (process or thread), slot S
 *	zt_tree_init(N)
 *	fork/clone/pthread_create ...	zt_tree_child() (forked processes only)
 *					... set up its state ...
 *					zt_tree_ready(S, "name")
 *	zt_tree_wait_ready()		zt_tree_wait_go()
 *	zt_ready()
 *	zt_wait_for_check()
 *	zt_tree_go()   ------------->	... check its state with zt_tree_expect(S, ...) ...
 *	... checks of its own ...	zt_tree_done(S)
 *	zt_tree_collect()  <---------
 *	zt_pass()
 *
 * Slot 0 is conventionally the root's main thread, which may use zt_expect() directly. A slot
 * belongs to exactly one task, which alone writes into it. The board also holds a few shared
 * integer variables for steps between tasks after the check (zt_tree_set/zt_tree_wait_var).
 *
 * The board itself is part of the dumped state: if the restorer loses the sharing of the
 * memory, tasks never hear the check and the root reports the slots that gave no verdict. */
#ifndef ZT_TREE_H
#define ZT_TREE_H

#include "zt.h"

#include <stdbool.h>
#include <sys/types.h>
#include <sys/wait.h>

#define ZT_TREE_MAX_SLOTS 32
#define ZT_TREE_VARS 16

/* Create the board for nslots tasks (slot 0 included). Call once, in the root, before the
 * first fork; zt_init() must have been called. */
void zt_tree_init(int nslots);

/* In a newly forked child process: close the descriptors zt keeps until zt_ready() (the pipe
 * to the starting process, the pidfile's directory). They belong to the root; a child must
 * not hold them. Not for a child sharing the root's descriptor table (CLONE_FILES). */
void zt_tree_child(void);

/* The task in slot has set up its state; name is used in its failure messages. */
void zt_tree_ready(int slot, const char *name);

/* Root: wait until every slot is ready. A slot that failed its setup (zt_tree_fail), or one
 * that never got ready within 10 s, fails the test. */
void zt_tree_wait_ready(void);

/* Root: forward the check to every task. */
void zt_tree_go(void);

/* True once the root has forwarded the check. */
bool zt_tree_go_requested(void);

/* Block until the root forwards the check. If the root process is gone for good (the test
 * was killed), the calling process exits instead of lingering. */
void zt_tree_wait_go(void);

/* Record a failure of the task in slot unless cond; returns cond. Safe in any task. */
#define zt_tree_expect(slot, cond, ...)                                                            \
	zt_tree_expect_at((slot), !!(cond), __FILE__, __LINE__, __VA_ARGS__)
ZT_PRINTF(5, 6)
bool zt_tree_expect_at(int slot, bool cond, const char *file, int line, const char *fmt, ...);

/* In a child process: record the failure, mark the slot ready and done, and exit(1). */
__attribute__((noreturn)) ZT_PRINTF(2, 3) void zt_tree_fail(int slot, const char *fmt, ...);

/* The task in slot has finished its checks. */
void zt_tree_done(int slot);

/* Wait up to timeout_ms for slot to be done; true if it is. */
bool zt_tree_wait_done(int slot, int timeout_ms);

/* Once slot is done, its task pid (a child of the caller, named name) must exit with 0 */
void zt_tree_expect_exit0(int slot, pid_t pid, const char *name);

/* Root: wait (up to 15 s) for every slot but 0 to be done and turn each failure recorded in
 * any slot into a zt_expect() failure of the root; a slot without a verdict is one too. */
void zt_tree_collect(void);

/* Shared variables, all 0 at first. zt_tree_wait_var waits (futex) until var >= val, up to
 * timeout_ms; true if it got there. */
void zt_tree_set(int var, int val);
int zt_tree_get(int var);
bool zt_tree_wait_var(int var, int val, int timeout_ms);

/* The root's pid. */
pid_t zt_tree_root(void);

/* waitpid() and waitid() going on after EINTR: zt's SIGTERM handler has no SA_RESTART, and a
 * stray signal must not turn into a wrong verdict about a child. zt_waitid clears *si. */
pid_t zt_waitpid(pid_t pid, int *status, int options);
int zt_waitid(idtype_t idtype, id_t id, siginfo_t *si, int options);

/* --- /proc helpers for trees --- */

/* The state letter of /proc/PID/stat (R, S, T, Z, ...), 0 if there is no such process. */
char zt_proc_state(pid_t pid);

/* The parent pid from /proc/PID/stat, -1 if there is no such process. */
pid_t zt_proc_ppid(pid_t pid);

/* The set of thread ids of the calling process (/proc/self/task), sorted; returns how many
 * (at most max) or -errno. */
int zt_thread_ids(pid_t *tids, int max);

/* The same for any process (/proc/PID/task). */
int zt_task_ids(pid_t pid, pid_t *tids, int max);

/* Signal set of a /proc status field such as "SigBlk", as a 64-bit mask (bit n-1 = signal n);
 * -1 on error. path is a status file, e.g. "/proc/thread-self/status". */
long long zt_status_sigmask(const char *path, const char *key);

/* The calling thread's blocked mask as a 64-bit mask (bit n-1 = signal n). glibc's sigset_t is
 * wider than the kernel's, so sets are compared member by member through this. */
unsigned long long zt_sigset_bits(const sigset_t *set);

#endif
