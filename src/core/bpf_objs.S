/* The BPF objects of src/bpf/ (built with clang for the BPF target), carried inside cryo for
 * core/bpf_iter.c to load: each as NAME_obj .. NAME_obj_end. */
	.section .rodata

	.globl	cryo_unix_skb_obj
	.globl	cryo_unix_skb_obj_end
	.balign	8
cryo_unix_skb_obj:
	.incbin	"unix_skb.bpf.o"
cryo_unix_skb_obj_end:

	.globl	cryo_aio_ctx_obj
	.globl	cryo_aio_ctx_obj_end
	.balign	8
cryo_aio_ctx_obj:
	.incbin	"aio_ctx.bpf.o"
cryo_aio_ctx_obj_end:

	.section .note.GNU-stack, "", @progbits
