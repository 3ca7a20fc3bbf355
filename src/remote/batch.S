/* The batch loop cryo copies into a task's remote-call area (see remote.c): %rbx points to a
 * table of 64-byte entries {nr, a1..a6, result}, ended by nr == -1. Each call is made and its
 * result stored; then int3 hands the task back. Only relative jumps: it runs anywhere. */
#include "batch_loop.inc"
	.section .rodata
	.globl cryo_batch_code
	.globl cryo_batch_code_end
cryo_batch_code:
	BATCH_LOOP 2f
2:	int3
cryo_batch_code_end:
	.section .note.GNU-stack,"",@progbits
