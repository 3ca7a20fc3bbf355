/* The code of the dead man's switch (guard.c), copied into a dump's remote-call area. Every
 * entry is reached with these registers, set by cryo for each call of a thread:
 *   r12 = tgid, r13 = tid, r15 = the stop signal,
 *   r14 = this thread's signal frame in the area + 8 (what rt_sigreturn takes as its rsp).
 * A single call (cryo_guard_call) leaves its result in rbx.
 * A call ends with the thread sending itself the stop signal: traced, that is a stop for cryo;
 * untraced (cryo is gone), the signal's disposition is "ignore" and the thread falls through
 * into rt_sigreturn on its frame, which puts back its own registers, mask and FPU state.
 * Only relative jumps: the code runs anywhere. */
#include "batch_loop.inc"
	.section .rodata
	.globl cryo_guard_code, cryo_guard_code_end
	.globl cryo_guard_call, cryo_guard_stop, cryo_guard_recover, cryo_guard_sys
	.globl cryo_guard_batch
cryo_guard_code:
cryo_guard_call:			/* one call in trap mode */
	syscall
	movq	%rax, %rbx		/* its result, for cryo: the tgkill below takes %rax */
cryo_guard_stop:
.Lstop:
	movl	$234, %eax		/* tgkill(r12, r13, r15) */
	movq	%r12, %rdi
	movq	%r13, %rsi
	movq	%r15, %rdx
	syscall
cryo_guard_recover:			/* only without cryo: back to where the thread was */
.Lrecover:
	movq	%r14, %rsp
	movl	$15, %eax		/* rt_sigreturn */
	syscall
	ud2
cryo_guard_sys:				/* one call in stop mode (ends at the syscall exit) */
	syscall
	jmp	.Lrecover
cryo_guard_batch:			/* %rbx: table of {nr, a1..a6, result}, nr -1 ends it */
	BATCH_LOOP .Lstop
cryo_guard_code_end:

/* Borrowed for the two calls made before the area exists and after it is gone (guard.c):
 * the thread's frame is then on its own stack below the red zone, and %rsp points to it. */
	.globl cryo_guard_borrow_map, cryo_guard_borrow_unmap, cryo_guard_borrow_end
cryo_guard_borrow_map:			/* mmap of the area, then (without cryo) home */
	syscall
	testq	%r12, %r12		/* r12 != 0: the frame's mask is the thread's own */
	jnz	1f
	movl	$14, %eax		/* rt_sigprocmask(SIG_BLOCK, NULL, &frame.uc_sigmask, 8): */
	xorl	%edi, %edi		/* the mask now is the thread's own (see guard.c) */
	xorl	%esi, %esi
	leaq	296(%rsp), %rdx		/* GUARD_MASK_OFF - 8 */
	movl	$8, %r10d
	syscall
1:	movl	$15, %eax
	syscall
	ud2
cryo_guard_borrow_unmap:		/* munmap of the area, then (without cryo) home */
	syscall
	movl	$15, %eax
	syscall
	ud2
cryo_guard_borrow_end:
	.section .note.GNU-stack,"",@progbits
