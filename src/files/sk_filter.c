/* A classic BPF socket filter (SO_ATTACH_FILTER): ping attaches one to its raw socket so that
 * it sees only the echo replies of its own identifier, tcpdump-like programs to packet
 * sockets, DHCP clients to their raw ones. The kernel keeps the program a classic filter was
 * given and SO_GET_FILTER reads it back, instruction by instruction (struct sock_filter: 8
 * bytes each); a program attached as eBPF (SO_ATTACH_BPF, or a classic one the kernel keeps
 * no copy of) cannot be read back and is refused.
 *
 * The image holds the instructions as they are in memory (the machine's byte order, like
 * every other image value read from the kernel). */
#include <errno.h>
#include <linux/filter.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "files/inet.h"

int sk_filter_dump(struct arena *a, int sk, ProtobufCBinaryData *prog, const char *who)
{
	socklen_t len = 0;

	prog->len = 0;
	prog->data = NULL;
	/* with a length of 0 the kernel answers the number of instructions */
	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, NULL, &len) < 0) {
		if (errno == EACCES) {
			pr_err("%s: an eBPF socket filter (SO_ATTACH_BPF) is attached; it cannot "
			       "be read back: not supported",
			       who);
			return -ENOTSUP;
		}
		pr_errno(errno, "%s: cannot read the socket filter (SO_GET_FILTER)", who);
		return -errno;
	}
	if (!len)
		return 0;
	if (len > BPF_MAXINSNS) {
		pr_err("%s: a socket filter of %u instructions (more than %d)", who, len,
		       BPF_MAXINSNS);
		return -EIO;
	}
	struct sock_filter *ins = arena_alloc(a, len * sizeof(*ins));
	socklen_t got = len;
	if (!ins)
		return -ENOMEM;
	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, ins, &got) < 0 || got != len) {
		pr_errno(errno ? errno : EIO,
			 "%s: cannot read the %u instructions of the socket "
			 "filter",
			 who, len);
		return errno ? -errno : -EIO;
	}
	prog->data = (uint8_t *)ins;
	prog->len = len * sizeof(*ins);
	pr_info("%s: socket filter of %u instructions", who, len);
	return 0;
}

int sk_filter_restore(int sk, const ProtobufCBinaryData *prog)
{
	struct sock_fprog fp;

	if (!prog->len)
		return 0;
	fp.len = (unsigned short)(prog->len / sizeof(struct sock_filter));
	fp.filter = (struct sock_filter *)prog->data;
	return setsockopt(sk, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp));
}

bool sk_filter_valid(const ProtobufCBinaryData *prog)
{
	return prog->len % sizeof(struct sock_filter) == 0 &&
	       prog->len <= BPF_MAXINSNS * sizeof(struct sock_filter);
}
