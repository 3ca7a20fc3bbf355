/* The dead man's switch: a dump that dies at any instant (killed, crashed, OOM) leaves every
 * thread of its target running on as if nothing had happened.
 *
 * When cryo dies, the kernel detaches its tracees: each one resumes with the registers it has
 * at that instant. A thread in the middle of remote calls has registers that point into the
 * remote-call area, and the classic way a call ends (an int3 after the syscall) kills the
 * process once nobody traces it. So, for a dump:
 *
 * - Every thread has a signal frame of its own in the area (registers with any interrupted
 *   system call set to restart, signal mask, FPU/XSAVE state), written before its registers
 *   are changed for the first time.
 * - A call ends with the thread sending itself a signal whose disposition, in that process,
 *   is "ignore" (SIGURG, else SIGWINCH, else SIGCHLD): traced, it is a signal-delivery stop
 *   that cryo takes as the end of the call and suppresses; untraced, it is dropped. Either
 *   way the next instruction is an rt_sigreturn on the thread's frame.
 * - Whenever cryo leaves a thread in a stop between calls, the thread's next instruction is
 *   that rt_sigreturn. Whatever the stop (signal delivery, syscall exit, interrupt), leaving
 *   it without a tracer takes the thread home: its registers, mask and FPU state as they were.
 * - The area itself cannot be mapped or unmapped by code in the area. Those two calls run
 *   from a borrowed spot, the zero padding at the end of the vDSO image (no code ever runs
 *   there, nothing reads it), with the frame on the thread's own stack below its red zone;
 *   the borrowed bytes and the stack bytes are put back right after.
 *
 * What a dead dump costs its target: an unused private mapping (the area), and, only for a
 * process that handles all three signals, one spurious call of its handler. */
#include "remote/guard.h"

#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "compat.h"
#include "core/fault.h"
#include "core/log.h"
#include "core/util.h"

extern const uint8_t cryo_guard_call[], cryo_guard_stop[], cryo_guard_recover[], cryo_guard_sys[],
    cryo_guard_batch[];
extern const uint8_t cryo_guard_borrow_map[], cryo_guard_borrow_unmap[], cryo_guard_borrow_end[];

/* The kernel's rt_sigframe on x86-64, as rt_sigreturn reads it (frame = rsp - 8). */
struct guard_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t di, si, bp, bx, dx, ax, cx, sp, ip, flags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved[8];
};
struct guard_frame {
	uint64_t pretcode;
	uint64_t uc_flags;
	uint64_t uc_link;
	struct kernel_stack uc_stack;
	struct guard_sigcontext mc;
	uint64_t uc_sigmask;
	uint8_t info[128];
};
/* guard.S reads the mask at this offset (rsp + 296) */
_Static_assert(offsetof(struct guard_frame, uc_sigmask) == 304, "frame layout");
_Static_assert(sizeof(struct guard_frame) <= GUARD_FPSTATE_OFF, "frame layout");

#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
#ifndef FP_XSTATE_MAGIC1
#define FP_XSTATE_MAGIC1 0x46505853u
#define FP_XSTATE_MAGIC2 0x46505845u
#endif
#define FX_SW_BYTES_OFF 464 /* the software bytes inside the legacy FXSAVE area */
#define XSAVE_HDR_OFF 512   /* the XSAVE header (XSTATE_BV first) after it */
#define XSTATE_BUF_MAX (64 * 1024)
#define RED_ZONE 128

uint64_t guard_entry(const struct remote *r, int which)
{
	static const uint8_t *const at[] = {cryo_guard_call, cryo_guard_stop, cryo_guard_recover,
					    cryo_guard_sys, cryo_guard_batch};
	return r->area + GUARD_CODE_OFF + (uint64_t)(at[which] - cryo_guard_code);
}

int guard_pick_signal(uint64_t caught)
{
	static const int candidates[] = {SIGURG, SIGWINCH, SIGCHLD};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (!(caught & (1ull << (candidates[i] - 1))))
			return candidates[i];
	return SIGURG; /* its handler may run once, if cryo dies */
}

/* The frame that takes thread r home: size of the whole thing, the frame and its FPU state. */
static int build_frame(const struct remote *r, uint64_t at, uint64_t mask, uint8_t **out,
		       size_t *out_len)
{
	size_t cap = GUARD_FPSTATE_OFF + XSTATE_BUF_MAX + 4;
	uint8_t *buf = calloc(1, cap);
	struct guard_frame *f = (struct guard_frame *)buf;
	struct user_regs_struct g = r->regs;
	struct iovec iov = {buf + GUARD_FPSTATE_OFF, XSTATE_BUF_MAX};
	uint32_t xsize;

	if (!buf)
		return -ENOMEM;
	if (ptrace(PTRACE_GETREGSET, r->tid, NT_X86_XSTATE, &iov) < 0) {
		int err = errno;
		free(buf);
		pr_errno(err, "thread %d: cannot read its FPU state for its safety frame", r->tid);
		return -err;
	}
	/* ptrace puts XCR0 where a signal frame has its software bytes: write those */
	uint64_t xcr0;
	memcpy(&xcr0, buf + GUARD_FPSTATE_OFF + FX_SW_BYTES_OFF, 8);
	if (iov.iov_len < 576 || iov.iov_len > XSTATE_BUF_MAX - 4) {
		free(buf);
		pr_err("thread %d: unexpected XSAVE size %zu", r->tid, iov.iov_len);
		return -EINVAL;
	}
	/* ptrace gives the size of every feature the CPU has (AMX's tiles too, 11 KiB), but
	 * rt_sigreturn takes a frame no larger than this task's own state (without the
	 * features it has no permission for: a bigger one restores x87 and SSE alone and
	 * resets the rest, measured: AVX-512 lost). So the frame holds the features in use
	 * (the header's XSTATE_BV: all others are in their initial state) and is as long as
	 * the last of them ends in the standard layout (CPUID 0xD), which a task's own state
	 * always covers. */
	uint64_t in_use;
	memcpy(&in_use, buf + GUARD_FPSTATE_OFF + XSAVE_HDR_OFF, 8);
	in_use = (in_use | 3) & xcr0;
	xsize = XSAVE_HDR_OFF + 64;
	for (unsigned i = 2; i < 64; i++) {
		unsigned a, b, c, d;
		if (!(in_use & (1ull << i)) || !__get_cpuid_count(0xd, i, &a, &b, &c, &d))
			continue;
		if (b + a > xsize)
			xsize = b + a;
	}
	if (xsize > iov.iov_len) {
		free(buf);
		pr_err("thread %d: XSAVE features %#llx end at %u, past the %zu bytes ptrace gave",
		       r->tid, (unsigned long long)in_use, xsize, iov.iov_len);
		return -EINVAL;
	}
	struct {
		uint32_t magic1, extended_size;
		uint64_t xfeatures;
		uint32_t xstate_size, pad[7];
	} sw = {FP_XSTATE_MAGIC1, xsize + 4, in_use, xsize, {0}};
	memcpy(buf + GUARD_FPSTATE_OFF + FX_SW_BYTES_OFF, &sw, sizeof(sw));
	const uint32_t magic2 = FP_XSTATE_MAGIC2;
	memcpy(buf + GUARD_FPSTATE_OFF + xsize, &magic2, 4);

	/* an interrupted call is made again, as the kernel does when no handler runs */
	if ((long)g.orig_rax >= 0) {
		switch (-(long)g.rax) {
		case CRYO_ERESTARTSYS:
		case CRYO_ERESTARTNOINTR:
		case CRYO_ERESTARTNOHAND:
		case CRYO_ERESTART_RESTARTBLOCK: /* rt_sigreturn drops the restart record */
			g.rax = g.orig_rax;
			if ((long)g.orig_rax == __NR_restart_syscall && r->restart_continues > 0)
				g.rax = (unsigned long)r->restart_continues;
			g.rip -= 2;
			break;
		}
	}
	f->uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	/* an invalid mode: rt_sigreturn's sigaltstack() fails and leaves the thread's own */
	f->uc_stack.flags = 0x10;
	f->mc = (struct guard_sigcontext){
	    .r8 = g.r8,
	    .r9 = g.r9,
	    .r10 = g.r10,
	    .r11 = g.r11,
	    .r12 = g.r12,
	    .r13 = g.r13,
	    .r14 = g.r14,
	    .r15 = g.r15,
	    .di = g.rdi,
	    .si = g.rsi,
	    .bp = g.rbp,
	    .bx = g.rbx,
	    .dx = g.rdx,
	    .ax = g.rax,
	    .cx = g.rcx,
	    .sp = g.rsp,
	    .ip = g.rip,
	    .flags = g.eflags,
	    .cs = (uint16_t)g.cs,
	    .ss = (uint16_t)g.ss,
	    .fpstate = at + GUARD_FPSTATE_OFF,
	};
	f->uc_sigmask = mask;
	*out = buf;
	*out_len = GUARD_FPSTATE_OFF + xsize + 4;
	return 0;
}

size_t guard_slot_size(pid_t tid)
{
	/* the xstate size of this CPU (and of this task's permissions) */
	uint8_t *buf = malloc(XSTATE_BUF_MAX);
	size_t xlen = 4096;
	if (buf) {
		struct iovec iov = {buf, XSTATE_BUF_MAX};
		if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) == 0)
			xlen = iov.iov_len;
		free(buf);
	}
	return (GUARD_STACK_SIZE + GUARD_FPSTATE_OFF + xlen + 4 + 4095) & ~(size_t)4095;
}

int remote_guard_thread(struct remote *r, int slot, int stop_sig, pid_t tgid)
{
	uint64_t base = r->area + REMOTE_AREA_SIZE + (uint64_t)slot * r->guard_slot;
	uint64_t mask = 0;
	uint8_t *buf;
	size_t len;
	int ret;

	if (base + r->guard_slot > r->area + r->area_size)
		return -E2BIG;
	/* the thread's own mask when ptrace could read it; else a placeholder: the thread's
	 * first call writes its own mask here (remote.c) */
	if (r->mask_own_at_stop)
		mask = r->mask;
	else if (ptrace(PTRACE_GETSIGMASK, r->tid, sizeof(mask), &mask) < 0)
		return -errno;
	ret = build_frame(r, base + GUARD_STACK_SIZE, mask, &buf, &len);
	if (ret)
		return ret;
	ret = remote_write(r->tid, base + GUARD_STACK_SIZE, buf, len);
	free(buf);
	if (ret) {
		pr_errno(-ret, "thread %d: cannot write its safety frame", r->tid);
		return ret;
	}
	r->guarded = true;
	r->stop_sig = stop_sig;
	r->tgid = tgid;
	r->frame = base + GUARD_STACK_SIZE;
	r->stack_top = base + GUARD_STACK_SIZE - 64;
	return 0;
}

/* The zero padding at the end of the vDSO image: room for the borrowed code, never run,
 * never read. */
static int find_borrow_site(pid_t pid, uint64_t *site)
{
	char path[64], *maps, *line, *save;
	uint64_t start = 0, end = 0;
	size_t need = (size_t)(cryo_guard_borrow_end - cryo_guard_borrow_map) + 32;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if (read_file_alloc(path, &maps) < 0)
		return -ENOENT;
	for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &start, &end) == 2)
			break;
	free(maps);
	if (!end || end - start < 4096)
		return -ENOENT;
	uint8_t tail[1024];
	if (remote_read(pid, end - sizeof(tail), tail, sizeof(tail)))
		return -EFAULT;
	size_t zeros = 0;
	while (zeros < sizeof(tail) && !tail[sizeof(tail) - 1 - zeros])
		zeros++;
	if (zeros < need + 64)
		return -ENOSPC;
	/* 16 bytes after the last byte in use at the least, 16-byte aligned */
	*site = (end - zeros + 32) & ~15ull;
	return 0;
}

/* One call from the borrowed spot, with the thread's frame on its own stack. The thread is
 * left in a stop with its own registers (on failure too, whenever that can be done). */
struct borrow {
	uint64_t site, frame;
	uint8_t saved_code[128];
	size_t code_len;
	uint8_t *saved_stack;
	size_t stack_len;
};

static int poke_bytes(pid_t pid, uint64_t at, const uint8_t *bytes, size_t len)
{
	for (size_t off = 0; off < len; off += sizeof(long)) {
		long word;
		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, pid, at + off, 0);
		if (errno)
			return -errno;
		memcpy(&word, bytes + off, len - off < sizeof(long) ? len - off : sizeof(long));
		if (ptrace(PTRACE_POKEDATA, pid, at + off, word) < 0)
			return -errno;
	}
	return 0;
}

static int borrow_begin(struct remote *r, struct borrow *b, uint64_t mask)
{
	uint8_t *frame;
	size_t len;
	int ret;

	memset(b, 0, sizeof(*b));
	if ((ret = find_borrow_site(r->tid, &b->site)))
		return ret;
	b->code_len = (size_t)(cryo_guard_borrow_end - cryo_guard_borrow_map);
	if (b->code_len > sizeof(b->saved_code))
		return -E2BIG;
	/* the frame goes below the red zone of the thread's stack */
	b->frame = (r->regs.rsp - RED_ZONE - GUARD_FPSTATE_OFF - XSTATE_BUF_MAX / 8) & ~63ull;
	if ((ret = build_frame(r, b->frame, mask, &frame, &len)))
		return ret;
	if (b->frame + len > r->regs.rsp - RED_ZONE) {
		b->frame = (r->regs.rsp - RED_ZONE - len) & ~63ull;
		free(frame);
		if ((ret = build_frame(r, b->frame, mask, &frame, &len)))
			return ret;
	}
	b->stack_len = len;
	b->saved_stack = malloc(len);
	ret = b->saved_stack ? remote_read(r->tid, b->frame, b->saved_stack, len) : -ENOMEM;
	if (!ret)
		ret = remote_read(r->tid, b->site, b->saved_code, b->code_len);
	if (!ret)
		ret = remote_write(r->tid, b->frame, frame, len);
	free(frame);
	fault_point("guard: frame below the stack", 0);
	if (!ret)
		ret = poke_bytes(r->tid, b->site, cryo_guard_borrow_map, b->code_len);
	fault_point("guard: code borrowed", 0);
	if (ret) {
		free(b->saved_stack);
		b->saved_stack = NULL;
	}
	return ret;
}

/* Put back what was borrowed; only once the thread no longer needs it. */
static void borrow_end(struct remote *r, struct borrow *b)
{
	fault_point("guard: putting back what was borrowed", 0);
	if (poke_bytes(r->tid, b->site, b->saved_code, b->code_len))
		pr_warn("task %d: cannot put back %zu bytes of its vDSO padding", r->tid,
			b->code_len);
	if (b->saved_stack && remote_write(r->tid, b->frame, b->saved_stack, b->stack_len))
		pr_warn("task %d: cannot put back %zu bytes below its stack pointer", r->tid,
			b->stack_len);
	free(b->saved_stack);
	b->saved_stack = NULL;
}

/* What borrow_begin kept, dropped where it cannot be put back (the thread goes home from the
 * borrowed spot, or is gone); nothing after borrow_end */
static void borrow_forget(struct borrow *b)
{
	free(b->saved_stack);
	b->saved_stack = NULL;
}

static long borrowed_call(struct remote *r, struct borrow *b, const uint8_t *entry, long nr,
			  long a1, long a2)
{
	struct user_regs_struct regs = r->regs;
	bool mode = r->stop_mode;
	int ret;

	regs.rip = b->site + (uint64_t)(entry - cryo_guard_borrow_map);
	regs.rsp = b->frame + 8;
	regs.orig_rax = (unsigned long)-1;
	regs.rax = nr;
	regs.rdi = a1;
	regs.rsi = a2;
	regs.rdx = PROT_READ | PROT_WRITE | PROT_EXEC;
	regs.r10 = MAP_PRIVATE | MAP_ANONYMOUS;
	regs.r8 = (unsigned long)-1;
	regs.r9 = 0;
	regs.r12 = 0;
	if (entry == cryo_guard_borrow_map && r->mask_own_at_stop) {
		/* Signals blocked by ptrace for the call, so that a thread flooded with them
		 * gets to it; the frame then already holds the thread's own mask (r12 says so:
		 * not to be read after the call). The registers first: a cryo that dies from
		 * here on leaves the thread to go home through its frame. */
		uint64_t all = ~0ull;
		regs.r12 = 1;
		r->mask_known = true; /* whoever lets the thread go puts r->mask back */
		if (ptrace(PTRACE_SETREGS, r->tid, 0, &regs) < 0 ||
		    ptrace(PTRACE_SETSIGMASK, r->tid, sizeof(all), &all) < 0) {
			r->err = errno == ESRCH ? -ESRCH : -EIO;
			return r->err;
		}
	}
	r->stop_mode = true; /* no signal may end it: stop at the syscall exit */
	ret = remote_run(r, &regs);
	r->stop_mode = mode;
	if (ret) {
		r->err = ret == -ESRCH ? ret : -EIO;
		return r->err;
	}
	return (long)regs.rax;
}

/* After the borrowed map with signals blocked by ptrace: the thread's own mask again, before
 * its own registers (with the borrowed spot's, leaving the stop puts it back anyway). */
static int put_mask_back(struct remote *r)
{
	if (r->mask_own_at_stop && ptrace(PTRACE_SETSIGMASK, r->tid, sizeof(r->mask), &r->mask) < 0)
		return -errno;
	return 0;
}

int remote_guard_map_area(struct remote *r, size_t slots_size)
{
	struct borrow b;
	uint64_t mask = 0;
	long addr;
	int ret;

	if (ptrace(PTRACE_GETSIGMASK, r->tid, sizeof(mask), &mask) < 0)
		return -errno;
	if ((ret = borrow_begin(r, &b, mask))) {
		/* no padding, or no room below the stack pointer (a stack used to its bottom):
		 * the caller maps the area the plain way */
		pr_info("task %d: no spot to map the area from safely (%s)", r->tid,
			strerror(-ret));
		return -ENOENT;
	}
	addr = borrowed_call(r, &b, cryo_guard_borrow_map, __NR_mmap, 0,
			     REMOTE_AREA_SIZE + (long)slots_size);
	if (addr < 0 && addr > -4096) {
		int err = (int)-addr;
		/* home first, then put back what was borrowed */
		if (!r->err && !remote_park(r) && !put_mask_back(r) &&
		    ptrace(PTRACE_SETREGS, r->tid, 0, &r->regs) == 0)
			borrow_end(r, &b);
		borrow_forget(&b);
		char why[256];
		remote_area_why(r->tid, err, REMOTE_AREA_SIZE + slots_size, why, sizeof(why));
		pr_errno(err, "task %d: cannot map the remote-call area%s", r->tid, why);
		return (int)addr;
	}
	r->area = (uint64_t)addr;
	r->area_size = REMOTE_AREA_SIZE + slots_size;
	r->area_ours = true;
	fault_point("guard: area mapped", 0);
	ret = remote_write(r->tid, r->area + GUARD_CODE_OFF, cryo_guard_code,
			   (size_t)(cryo_guard_code_end - cryo_guard_code));
	if (ret) {
		pr_errno(-ret, "task %d: cannot write into the remote-call area", r->tid);
		borrow_forget(&b);
		return ret; /* the thread still goes home from the borrowed spot */
	}
	/* The thread sits at the syscall exit of the mmap, its next instructions on the
	 * borrowed spot. It must not need them any more before they are put back: park it
	 * where leaving the stop goes through the signal code, with its own registers. */
	if ((ret = remote_park(r))) {
		borrow_forget(&b);
		return ret;
	}
	fault_point("guard: parked after the map", 0);
	if ((ret = put_mask_back(r))) {
		borrow_forget(&b);
		return ret; /* the thread still goes home from the borrowed spot */
	}
	if (ptrace(PTRACE_SETREGS, r->tid, 0, &r->regs) < 0) {
		ret = -errno;
		borrow_forget(&b);
		return ret;
	}
	borrow_end(r, &b);
	pr_debug("task %d: remote-call area at %#lx (guarded)", r->tid, r->area);
	return 0;
}

int remote_guard_unmap_area(struct remote *r)
{
	struct borrow b;
	long ret;
	int err;

	/* the leader's area frame holds its own mask since its first call */
	if (remote_read(r->tid, r->frame + offsetof(struct guard_frame, uc_sigmask), &r->mask,
			sizeof(r->mask)) == 0)
		r->mask_known = true;
	if ((err = remote_park(r)))
		return err;
	if ((err = borrow_begin(r, &b, r->mask))) {
		pr_info("task %d: no spot to unmap the area from safely (%s)", r->tid,
			strerror(-err));
		return -ENOENT; /* the caller unmaps it the plain way */
	}
	/* the borrowed map code reads the mask into the frame: skip to the unmap code */
	ret = borrowed_call(r, &b, cryo_guard_borrow_unmap, __NR_munmap, (long)r->area,
			    (long)r->area_size);
	if (ret < 0)
		pr_errno((int)-ret, "task %d: cannot unmap the remote-call area", r->tid);
	if (!r->err) {
		r->area = 0;
		fault_point("guard: area unmapped", 0);
		if (!remote_park(r) &&
		    (!r->mask_known ||
		     ptrace(PTRACE_SETSIGMASK, r->tid, sizeof(r->mask), &r->mask) == 0) &&
		    ptrace(PTRACE_SETREGS, r->tid, 0, &r->regs) == 0)
			borrow_end(r, &b);
	}
	borrow_forget(&b);
	return ret < 0 ? (int)ret : r->err;
}
