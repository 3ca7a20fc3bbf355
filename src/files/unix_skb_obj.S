/* The BPF object of src/bpf/unix_skb.bpf.c (built with clang for the BPF target), carried
 * inside cryo for files/unix_skb.c to load. */
	.section .rodata
	.globl	cryo_unix_skb_obj
	.globl	cryo_unix_skb_obj_end
	.balign	8
cryo_unix_skb_obj:
	.incbin	"unix_skb.bpf.o"
cryo_unix_skb_obj_end:
	.section .note.GNU-stack, "", @progbits
