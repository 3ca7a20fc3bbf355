/* long cryo_clone3_thread(struct clone_args *args, size_t size, void (*fn)(void *), void *arg)
 *
 * clone3() for a thread that starts on the stack given in args and runs fn(arg) there, then
 * exits. glibc has no clone3 wrapper that takes set_tid and a function. The new thread
 * shares the caller's TLS: fn must not rely on glibc's per-thread state. Returns the new
 * thread's tid to the caller, or -errno. */
	.text
	.globl	cryo_clone3_thread
	.type	cryo_clone3_thread, @function
cryo_clone3_thread:
	movq	%rdx, %r8		/* fn and arg survive the syscall in r8, r9 */
	movq	%rcx, %r9
	movl	$435, %eax		/* __NR_clone3 */
	syscall
	testq	%rax, %rax
	jnz	1f
	xorl	%ebp, %ebp		/* the new thread, on its own stack */
	movq	%r9, %rdi
	call	*%r8
	movl	$60, %eax		/* __NR_exit: this thread only */
	xorl	%edi, %edi
	syscall
	hlt
1:	ret
	.size	cryo_clone3_thread, .-cryo_clone3_thread
	.section .note.GNU-stack,"",@progbits
