/* Remote system calls: make a stopped, ptrace-seized task execute system calls chosen by cryo,
 * with in/out buffers in a scratch area inside the task. This is cryo's whole "injection"
 * mechanism: no code blob, only a `syscall; int3` pair in a page of the task.
 *
 * Two ways to run a call. Trap mode continues the task onto the syscall instruction and waits
 * for the int3 after it: one stop per call. It relies on SIGTRAP having its default disposition
 * (the kernel resets a blocked or ignored SIGTRAP to SIG_DFL when int3 forces it). Stop mode
 * uses PTRACE_SYSCALL and stops at syscall exit: two stops per call, no signal at all; it is
 * used when the task has its own SIGTRAP disposition and for the call that unmaps the area. */
#ifndef CRYO_REMOTE_H
#define CRYO_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>

#define REMOTE_AREA_SIZE (256 * 1024) /* code page + scratch */
#define REMOTE_CODE_SIZE 4096

/* A signal's siginfo as the kernel hands it to a tracer (PTRACE_GETSIGINFO). */
struct stolen_signal {
	uint8_t info[128];
};

struct remote {
	pid_t tid;
	uint64_t area; /* start of the area in the task, 0 if none yet */
	uint64_t area_size;
	bool area_ours;		      /* we mapped it and must unmap it */
	bool stop_mode;		      /* see above */
	int err;		      /* first transport failure (-errno), sticky */
	bool at_syscall_exit;	      /* the last call ended in stop mode */
	int park_sig;		      /* signal to hand over when detaching, see remote_park() */
	struct user_regs_struct regs; /* the task's registers when it was taken over */
	/* signals that arrived while a call was starting: taken out of the way, to be queued
	 * again with remote_requeue_signals() once the task blocks them (grown as needed,
	 * freed by remote_release) */
	struct stolen_signal *stolen;
	int nr_stolen, room_stolen;
	bool stop_arrived; /* a SIGSTOP came during the freeze: handed over at the detach */
	/* The dead man's switch (guard.c), armed by a dump: */
	bool guarded;
	int stop_sig; /* the signal that ends a call */
	pid_t tgid;
	uint64_t frame;	    /* this thread's signal frame in the area */
	uint64_t stack_top; /* this thread's own stack in the area */
	size_t guard_slot;  /* room for one thread's stack and frame, after the scratch */
	int guard_slots;    /* how many (the leader's remote only) */
	uint64_t mask;	    /* the thread's own signal mask, once mask_known */
	bool mask_known;
	/* the thread's mask, read by ptrace when it was taken over, is its own: signals can be
	 * blocked by ptrace before its first call (see remote_guard_block_signals) */
	bool mask_own_at_stop;
	bool blocked_early;  /* they were: everything is blocked, r->mask holds its own */
	bool at_signal_stop; /* the last call ended in the stop signal's delivery stop */
	/* the thread was stopped in restart_syscall: the call it continues (res/restart.c), which
	 * the frame makes again (rt_sigreturn drops the kernel's record); 0: not known */
	long restart_continues;
};

/* Attach to a task that is already in a ptrace stop; saves its registers. */
int remote_init(struct remote *r, pid_t tid);
/* Map an area in a task that has none, bootstrapping through a borrowed instruction slot at
 * the start of an executable mapping whose bytes are put back afterwards. exec_addr is that
 * mapping's start. */
int remote_map_area(struct remote *r, uint64_t exec_addr);
/* Fill an area in cryo's own address space (a restore child's, before it stops). */
void remote_area_fill(uint8_t *area);
/* Use an area the task already has (mapped by the restore child itself). */
void remote_use_area(struct remote *r, uint64_t area, uint64_t size);
/* Unmap the area (if ours) and leave the task in a stop with its original registers. */
int remote_unmap_area(struct remote *r);

/* The dead man's switch (guard.c): a dump that dies at any instant leaves the task running.
 * The signal that ends calls, among those the process does not catch (mask of SigCgt): */
int guard_pick_signal(uint64_t caught);
/* Room per thread in the area (stack and frame), for the FPU state size of this CPU. */
size_t guard_slot_size(pid_t tid);
/* Map the area from a borrowed spot, safely, with room for slots_size of thread slots after
 * the scratch; -ENOENT/-ENOSPC: no spot, nothing was changed (remote_map_area then). */
int remote_guard_map_area(struct remote *r, size_t slots_size);
/* Arm the switch for thread r (its frame in slot `slot` of the area) before its first call.
 * That first call must be remote_guard_block_signals(). */
int remote_guard_thread(struct remote *r, int slot, int stop_sig, pid_t tgid);
/* The first call: block every signal but the stop signal; the thread's own mask is saved in
 * its frame and in r->mask. */
int remote_guard_block_signals(struct remote *r);
/* Done with a thread: back in an interrupt stop with its own registers and mask, so that it
 * runs on correctly whether or not cryo is still there. */
int remote_release(struct remote *r);

/* A batch of calls made with one stop of the task: fill it with batch_add(), each call's
 * buffers at their own place in the scratch area above remote_batch_data(), then run it.
 * A batch never fails half-way: every call is made, each result is its own. */
#define BATCH_MAX 128
#define BATCH_ENTRY 64
struct remote_batch {
	int n;
	long e[BATCH_MAX][8]; /* nr, a1..a6, result */
	bool running;
	struct user_regs_struct regs;
	long *result_to[BATCH_MAX]; /* see batch_ask() */
	/* outputs handed out by batch_out(): read back with one call once the batch has run */
	size_t out_used;
	int nr_out;
	bool out_overflow;
	struct iovec out_local[BATCH_MAX], out_remote[BATCH_MAX];
};
static inline uint64_t remote_batch_data(const struct remote *r)
{
	return r->area + REMOTE_CODE_SIZE + BATCH_MAX * BATCH_ENTRY + BATCH_ENTRY;
}
/* Adds a call; returns its index, or -1 when the batch is full. */
int batch_add(struct remote_batch *b, long nr, long a1, long a2, long a3, long a4, long a5,
	      long a6);
/* The same, the call's result stored at *result once the batch has run. */
int batch_ask(struct remote_batch *b, long *result, long nr, long a1, long a2, long a3, long a4,
	      long a5, long a6);
/* Room for len bytes that a call of the batch writes (the returned task address, to pass as
 * its argument); they are copied to dst when the batch has run. */
uint64_t batch_out(struct remote_batch *b, const struct remote *r, void *dst, size_t len);
int remote_batch_run(struct remote *r, struct remote_batch *b);
/* The same in two halves: the task runs the batch while cryo works with other tasks. */
int remote_batch_start(struct remote *r, struct remote_batch *b);
int remote_batch_wait(struct remote *r, struct remote_batch *b);
static inline long batch_result(const struct remote_batch *b, int i)
{
	return b->e[i][7];
}

/* Leave the task in a stop inside the kernel's signal code (see remote.c). */
int remote_park(struct remote *r);

/* Run one system call; returns the kernel's result (-errno on failure). A ptrace failure is
 * returned as -EIO... and kept in r->err. */
long remote_syscall(struct remote *r, long nr, long a1, long a2, long a3, long a4, long a5,
		    long a6);
#define rsys0(r, nr) remote_syscall(r, nr, 0, 0, 0, 0, 0, 0)
#define rsys1(r, nr, a) remote_syscall(r, nr, (long)(a), 0, 0, 0, 0, 0)
#define rsys2(r, nr, a, b) remote_syscall(r, nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define rsys3(r, nr, a, b, c) remote_syscall(r, nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define rsys4(r, nr, a, b, c, d)                                                                   \
	remote_syscall(r, nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define rsys5(r, nr, a, b, c, d, e)                                                                \
	remote_syscall(r, nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define rsys6(r, nr, a, b, c, d, e, f)                                                             \
	remote_syscall(r, nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* Queue the stolen signals again, as the task's own pending signals. */
int remote_requeue_signals(struct remote *r);
/* Free what is left of the stolen signals (remote_release does it too). */
void remote_forget_stolen(struct remote *r);

/* The scratch area: [scratch_base, scratch_base + scratch_size) in the task. */
static inline uint64_t remote_scratch(const struct remote *r)
{
	return r->area + REMOTE_CODE_SIZE;
}
static inline uint64_t remote_scratch_size(const struct remote *r)
{
	return REMOTE_AREA_SIZE - REMOTE_CODE_SIZE; /* thread slots of the switch come after */
}
/* Copy to/from the task's memory (any address, not only scratch). */
/* Why mapping need bytes of remote-call area in task tid failed with err, as a suffix for
 * the message (" (...)", or empty): a limit of the task it would pass, PR_SET_MDWE */
void remote_area_why(pid_t tid, int err, size_t need, char *why, size_t len);
int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/* ptrace helpers */
int ptrace_seize_stop(pid_t tid, unsigned long options);
/* ... and tell the signal of the stop: SIGTRAP for a running task, the stop signal of one
 * already stopped by job control */
int ptrace_seize_stop_sig(pid_t tid, unsigned long options, int *stop_sig);
/* The second half, for a task seized already: interrupt it and wait for the stop. */
int ptrace_stop_wait(pid_t tid, int *stop_sig);
/* The same, failing with -ETIMEDOUT at deadline (now_ns() clock; 0: no deadline). */
int ptrace_stop_wait_until(pid_t tid, int *stop_sig, uint64_t deadline);
int wait_stopped(pid_t tid, int *sig, int *event);

#endif
