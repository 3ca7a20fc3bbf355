/* The batch loop cryo copies into a task's remote-call area (see remote.c): %rbx points to a
 * table of 64-byte entries {nr, a1..a6, result}, ended by nr == -1. Each call is made and its
 * result stored; then int3 hands the task back. Only relative jumps: it runs anywhere. */
	.section .rodata
	.globl cryo_batch_code
	.globl cryo_batch_code_end
cryo_batch_code:
1:	movq	(%rbx), %rax
	cmpq	$-1, %rax
	je	2f
	movq	8(%rbx), %rdi
	movq	16(%rbx), %rsi
	movq	24(%rbx), %rdx
	movq	32(%rbx), %r10
	movq	40(%rbx), %r8
	movq	48(%rbx), %r9
	syscall
	movq	%rax, 56(%rbx)
	addq	$64, %rbx
	jmp	1b
2:	int3
cryo_batch_code_end:
	.section .note.GNU-stack,"",@progbits
