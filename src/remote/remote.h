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
	 * again with remote_requeue_signals() once the task blocks them */
	uint8_t stolen[8][128];
	int nr_stolen;
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

/* The scratch area: [scratch_base, scratch_base + scratch_size) in the task. */
static inline uint64_t remote_scratch(const struct remote *r)
{
	return r->area + REMOTE_CODE_SIZE;
}
static inline uint64_t remote_scratch_size(const struct remote *r)
{
	return r->area_size - REMOTE_CODE_SIZE;
}
/* Copy to/from the task's memory (any address, not only scratch). */
int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/* ptrace helpers */
int ptrace_seize_stop(pid_t tid, unsigned long options);
/* ... and tell the signal of the stop: SIGTRAP for a running task, the stop signal of one
 * already stopped by job control */
int ptrace_seize_stop_sig(pid_t tid, unsigned long options, int *stop_sig);
/* The second half, for a task seized already: interrupt it and wait for the stop. */
int ptrace_stop_wait(pid_t tid, int *stop_sig);
int wait_stopped(pid_t tid, int *sig, int *event);

#endif
