/* The buffers of a stream unix socket's receive queue (unix_skb.h), read through the BPF
 * iterator of unix sockets with the program of src/bpf/unix_skb.bpf.c, which cryo carries
 * (core/bpf_objs.S). A peek cannot tell them: it runs on across buffers, and one at a buffer
 * that precedes one with descriptors reports those too, so where that one starts is known
 * only from here.
 *
 * The program (loaded through core/bpf_iter.c) is told the inode to show before each run
 * (its .bss), so a run writes one socket's buffers only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bpf_iter.h"
#include "core/log.h"
#include "files/unix_skb.h"

#define UNIX_SKB_MAGIC 0x756e736bu /* as the program writes it */
#define UNIX_SKB_MAX 2000u	   /* buffers of one socket: one run's output fits 32 KiB */

extern const char cryo_unix_skb_obj[], cryo_unix_skb_obj_end[];

/* loaded once per cryo, on the first queue it is asked about */
static struct bpf_iter_prog unix_skb_prog = {
    .prog = "unix_skb",
    .what = "the buffers of a unix socket's queue",
    .needs = "its iterator of unix sockets",
    .obj = cryo_unix_skb_obj,
    .obj_end = cryo_unix_skb_obj_end,
};

int unix_skb_layout(ino_t ino, struct unix_skb **out, size_t *n)
{
	uint64_t target = (uint64_t)ino;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL, *n = 0;
	if ((ret = bpf_iter_run(&unix_skb_prog, &target, sizeof(target), &buf, &len))) {
		if (ret == -ENOTSUP)
			return ret;
		if (ret == -E2BIG)
			pr_err("unix socket (inode %lu) with more than %u buffers queued: not "
			       "supported",
			       (unsigned long)ino, UNIX_SKB_MAX);
		else
			pr_errno(-ret, "cannot run the BPF iterator of unix sockets");
		return ret == -E2BIG ? -ENOTSUP : ret;
	}
	/* what the kernel wrote, checked all the same: a header for ino, then its buffers */
	const uint32_t *r = (const uint32_t *)buf;
	size_t recs = len / 16;
	ret = 0;
	if (!recs || len % 16 || r[3] != UNIX_SKB_MAGIC ||
	    ((uint64_t)r[1] << 32 | r[0]) != (uint64_t)ino || r[2] != recs - 1 ||
	    recs - 1 > UNIX_SKB_MAX) {
		/* none: the queue emptied (the tree is frozen: never), or ino is no stream */
		pr_err("the BPF iterator of unix sockets shows no buffers as queued on inode %lu "
		       "(%zu bytes out)",
		       (unsigned long)ino, len);
		ret = -EIO;
	}
	struct unix_skb *v = ret ? NULL : calloc(recs - 1 ? recs - 1 : 1, sizeof(*v));
	if (!ret && !v)
		ret = -ENOMEM;
	for (size_t i = 1; !ret && i < recs; i++) {
		const uint32_t *e = r + 4 * i;
		if (e[1] > e[0] || e[3] > 253) {
			pr_err(
			    "unix socket (inode %lu): buffer %zu of its queue shows %u of %u bytes "
			    "consumed, %u descriptors",
			    (unsigned long)ino, i - 1, e[1], e[0], e[3]);
			ret = -EIO;
			break;
		}
		v[i - 1] = (struct unix_skb){
		    .len = e[0] - e[1], .consumed = e[1], .flags = e[2], .nfds = e[3]};
	}
	free(buf);
	if (ret) {
		free(v);
		return ret;
	}
	*out = v, *n = recs - 1;
	return 0;
}
