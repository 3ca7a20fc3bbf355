/* The buffers of a stream unix socket's receive queue, as the kernel holds them
 * (unix_skb.c, through a BPF iterator): where each starts, which carries descriptors or the
 * pending urgent byte. What a peek cannot tell. */
#ifndef CRYO_FILES_UNIX_SKB_H
#define CRYO_FILES_UNIX_SKB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UNIX_SKB_FDS 1u /* the buffer carries descriptors (SCM_RIGHTS) */
#define UNIX_SKB_OOB 2u /* it is the socket's pending urgent byte (MSG_OOB) */

struct unix_skb {
	uint32_t len;	   /* bytes left in it to read (its length less those consumed) */
	uint32_t consumed; /* bytes of it read already (only the first one of a queue) */
	uint32_t flags;
	uint32_t nfds; /* descriptors it carries */
};

/* The buffers queued on the stream socket of inode ino (of cryo's network namespace), in
 * order: *out (the caller's to free) and *n. 0, -ENOTSUP when the kernel cannot show them
 * (no libbpf, no BTF, no iterator of unix sockets: the message says which), or -errno. */
int unix_skb_layout(ino_t ino, struct unix_skb **out, size_t *n);

#endif
