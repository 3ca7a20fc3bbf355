/* Busy counting while being dumped: general purpose registers, flags and memory in use at
 * the instant of the dump must all come back.
 *
 * The core is an asm loop that keeps 13 general purpose registers in a fixed relation to the
 * counter in rax (each advances by its own step every iteration) and checks that relation on
 * every iteration, so a register restored wrong, or the loop resumed at a wrong place, is
 * noticed at once. It also checks the direction flag and that the stack pointer has not
 * moved, and stores the counter to memory each round. Beside it the C side keeps a ring of
 * memory words written as the count goes on, checked for continuity at the end.
 * Also run in the gen2 mode: a restored process is dumped and restored again. */
// zt-run: gen2
#include "zt.h"

#include <stdint.h>
#include <string.h>

/* Returns the final count; *bad gets 0 if every check held, else which register was off.
 * Leaves the loop when *stop is non-zero, or after max iterations. */
uint64_t gpr_loop(volatile sig_atomic_t *stop, uint64_t max, volatile uint64_t *progress,
		  uint64_t *bad);

/* rdi = stop, rsi = max, rdx = progress, rcx = bad. Every register but rsp holds loop state,
 * so the arguments go to the stack first. Steps: rbx 3, rbp 5, r8 7, r9 11, r10 13, r11 17,
 * r12 19, r13 23, r14 29, r15 31, rdi -1, rsi 37 (all mod 2^64); rcx holds the expected rsp
 * and rdx carries rax ^ K between rounds. */
__asm__(".text\n"
	".globl gpr_loop\n"
	".type gpr_loop, @function\n"
	"gpr_loop:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	push %rcx\n"		/* 24(%rsp) = bad */
	"	push %rdx\n"		/* 16(%rsp) = progress */
	"	push %rsi\n"		/*  8(%rsp) = max */
	"	push %rdi\n"		/*  0(%rsp) = stop */
	"	xor %eax, %eax\n"
	"	xor %ebx, %ebx\n"
	"	xor %ebp, %ebp\n"
	"	xor %r8d, %r8d\n"
	"	xor %r9d, %r9d\n"
	"	xor %r10d, %r10d\n"
	"	xor %r11d, %r11d\n"
	"	xor %r12d, %r12d\n"
	"	xor %r13d, %r13d\n"
	"	xor %r14d, %r14d\n"
	"	xor %r15d, %r15d\n"
	"	xor %edi, %edi\n"
	"	xor %esi, %esi\n"
	"	movabs $0x5ca1ab1ec0ffee00, %rdx\n"
	"	mov %rsp, %rcx\n"
	"1:\n"
	/* rdx carries rax ^ K from the previous round; check it with rax as scratch. */
	"	push %rax\n"
	"	movabs $0x5ca1ab1ec0ffee00, %rax\n"
	"	xor %rdx, %rax\n"
	"	cmp (%rsp), %rax\n"
	"	pop %rax\n"
	"	mov $16, %edx\n"
	"	jne 8f\n"
	"	add $1, %rax\n"
	"	add $3, %rbx\n"
	"	add $5, %rbp\n"
	"	add $7, %r8\n"
	"	add $11, %r9\n"
	"	add $13, %r10\n"
	"	add $17, %r11\n"
	"	add $19, %r12\n"
	"	add $23, %r13\n"
	"	add $29, %r14\n"
	"	add $31, %r15\n"
	"	sub $1, %rdi\n"
	"	add $37, %rsi\n"
	/* Each register against rax times its step, with rdx as scratch. */
#define CHECK(reg, step, code)                                                                     \
	"	imul $" #step ", %rax, %rdx\n"                                                       \
	"	cmp %rdx, " reg "\n"                                                                 \
	"	mov $" #code ", %edx\n"                                                              \
	"	jne 8f\n"
	CHECK("%rbx", 3, 1)
	CHECK("%rbp", 5, 2)
	CHECK("%r8", 7, 3)
	CHECK("%r9", 11, 4)
	CHECK("%r10", 13, 5)
	CHECK("%r11", 17, 6)
	CHECK("%r12", 19, 7)
	CHECK("%r13", 23, 8)
	CHECK("%r14", 29, 9)
	CHECK("%r15", 31, 10)
	CHECK("%rsi", 37, 11)
#undef CHECK
	"	mov %rax, %rdx\n"
	"	neg %rdx\n"
	"	cmp %rdx, %rdi\n"
	"	mov $12, %edx\n"
	"	jne 8f\n"
	"	cmp %rcx, %rsp\n"
	"	mov $13, %edx\n"
	"	jne 8f\n"
	/* The direction flag must stay clear, as the ABI says between calls. */
	"	pushf\n"
	"	testl $0x400, (%rsp)\n"
	"	popf\n"
	"	mov $14, %edx\n"
	"	jnz 8f\n"
	"	mov 16(%rsp), %rdx\n"
	"	mov %rax, (%rdx)\n"	/* *progress = count */
	"	cmp 8(%rsp), %rax\n"
	"	jae 7f\n"
	"	mov 0(%rsp), %rdx\n"
	"	mov (%rdx), %edx\n"	/* *stop (sig_atomic_t is int) */
	"	test %edx, %edx\n"
	"	jnz 7f\n"
	"	movabs $0x5ca1ab1ec0ffee00, %rdx\n"
	"	xor %rax, %rdx\n"
	"	jmp 1b\n"
	"7:\n"
	"	xor %edx, %edx\n"
	"8:\n"
	"	mov 24(%rsp), %rcx\n"
	"	mov %rdx, (%rcx)\n"	/* *bad = code */
	"	add $32, %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".size gpr_loop, .-gpr_loop\n");

/* Memory side: a ring of words, each the index it was written at; the writer advances one
 * slot per round, so the ring always holds the last RING indices in order. */
#define RING 4096
static volatile uint64_t ring[RING];
static volatile uint64_t progress;

int main(int argc, char **argv)
{
	uint64_t bad = 0, total = 0, rounds = 0, n;

	zt_init(argc, argv);
	/* A short run before ready: the loop itself must work. */
	n = gpr_loop(&zt_check_flag, 1000000, &progress, &bad);
	if (bad || n != 1000000 || progress != n)
		zt_fail("self-test of the loop: count %lu, progress %lu, bad check %lu", n,
			progress, bad);

	zt_ready();
	while (!zt_check_requested()) {
		/* Chunks, so that the ring advances too; each chunk starts from 0. */
		n = gpr_loop(&zt_check_flag, 1 << 22, &progress, &bad);
		if (bad)
			break;
		total += n;
		ring[rounds % RING] = rounds;
		rounds++;
	}

	zt_expect(bad == 0, "register check %lu failed in the loop (count %lu)", bad, progress);
	zt_expect(bad || progress == n, "count in memory %lu, in register %lu", progress, n);
	zt_expect(rounds > 0, "the loop never completed a chunk");
	/* Continuity: the ring holds consecutive round numbers up to the last one. */
	for (uint64_t i = 0; i < RING && i < rounds; i++) {
		uint64_t r = rounds - 1 - i;
		if (!zt_expect(ring[r % RING] == r, "ring slot %lu holds %lu, expected %lu",
			       r % RING, ring[r % RING], r))
			break;
	}
	zt_log("%lu rounds, %lu iterations", rounds, total);
	zt_pass();
}
