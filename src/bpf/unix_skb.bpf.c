/* The buffers (sk_buff) of the receive queues of the stream unix sockets of cryo's network
 * namespace, as a BPF iterator of unix sockets (iter/unix) writes them: what no peek can
 * tell, where each buffer starts. The kernel keeps a stream's bytes in the buffers they were
 * sent in, and the descriptors of a send (SCM_RIGHTS) and its urgent byte (MSG_OOB) with one
 * of them: a read stops at it. Built with clang for the BPF target and loaded by
 * files/unix_skb.c; the field offsets are the running kernel's, relocated from its BTF at load
 * (preserve_access_index). No kernel header: only the fields read are declared.
 *
 * Output, one record of 16 bytes after another: for the socket asked about, a header
 * {inode, buffers, UNIX_SKB_MAGIC}, then per buffer {length, bytes consumed, flags}. */
typedef unsigned int __u32;
typedef unsigned short __u16;
typedef unsigned long long __u64;

#define CORE __attribute__((preserve_access_index))
#define UNIX_SKB_MAGIC 0x756e736bu /* "unsk" */
#define UNIX_SKB_FDS 1u		   /* the buffer carries descriptors */
#define UNIX_SKB_OOB 2u		   /* the socket's pending urgent byte is this buffer */
#define SOCK_STREAM 1

struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
} CORE;
struct inode {
	unsigned long i_ino;
} CORE;
struct file {
	struct inode *f_inode;
} CORE;
struct socket {
	struct file *file;
} CORE;
struct sk_buff {
	struct sk_buff *next;
	unsigned int len;
	char cb[48];
} CORE;
struct sk_buff_head {
	struct sk_buff *next;
	__u32 qlen;
} CORE;
struct sock {
	struct sk_buff_head sk_receive_queue;
	struct socket *sk_socket;
	__u16 sk_type;
} CORE;
struct unix_sock {
	struct sock sk;
	struct sk_buff *oob_skb;
} CORE;
struct scm_fp_list {
	short count;
} CORE;
struct unix_skb_parms {
	struct scm_fp_list *fp;
	__u32 consumed;
} CORE;
struct bpf_iter__unix {
	struct bpf_iter_meta *meta;
	struct unix_sock *unix_sk;
} CORE;

static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;
static long (*bpf_seq_write)(struct seq_file *m, const void *data, __u32 len) = (void *)127;
static long (*bpf_loop)(__u32 nr, void *fn, void *ctx, __u64 flags) = (void *)181;

struct rec {
	__u32 a, b, c, d;
};

/* the socket asked about (files/unix_skb.c writes it before each run): the others are skipped,
 * so that no other socket's long queue fills the output */
__u64 target_ino = 0;

struct walk {
	__u64 skb, oob;
	struct seq_file *seq;
};

/* one buffer, read as plain memory (the list's pointers are not typed for the verifier) */
static long one(__u32 i, struct walk *w)
{
	struct sk_buff *skb = (struct sk_buff *)w->skb;
	struct unix_skb_parms *cb = (struct unix_skb_parms *)skb->cb;
	struct scm_fp_list *fp = 0;
	struct rec r = {0};
	__u64 next = 0;
	short count = 0;

	bpf_probe_read_kernel(&r.a, sizeof(r.a), &skb->len);
	bpf_probe_read_kernel(&r.b, sizeof(r.b), &cb->consumed);
	bpf_probe_read_kernel(&fp, sizeof(fp), &cb->fp);
	if (fp)
		bpf_probe_read_kernel(&count, sizeof(count), &fp->count);
	r.c = (fp ? UNIX_SKB_FDS : 0) | (w->skb == w->oob ? UNIX_SKB_OOB : 0);
	r.d = (__u32)count;
	bpf_seq_write(w->seq, &r, sizeof(r));
	bpf_probe_read_kernel(&next, sizeof(next), &skb->next);
	w->skb = next;
	return next ? 0 : 1;
}

__attribute__((section("iter/unix"), used)) int unix_skb(struct bpf_iter__unix *ctx)
{
	struct unix_sock *u = ctx->unix_sk;
	struct walk w = {.seq = ctx->meta->seq};
	struct rec h = {0};
	__u64 ino = 0;

	if (!u || u->sk.sk_type != SOCK_STREAM)
		return 0;
	__u32 n = u->sk.sk_receive_queue.qlen;
	if (!n || !u->sk.sk_socket)
		return 0;
	ino = u->sk.sk_socket->file->f_inode->i_ino;
	if (ino != target_ino)
		return 0;
	h.a = (__u32)ino, h.b = (__u32)(ino >> 32), h.c = n, h.d = UNIX_SKB_MAGIC;
	bpf_seq_write(w.seq, &h, sizeof(h));
	w.skb = (__u64)u->sk.sk_receive_queue.next;
	/* (no urgent data in a kernel without CONFIG_AF_UNIX_OOB: the field is not there) */
	if (__builtin_preserve_field_info(u->oob_skb, 2 /* BPF_FIELD_EXISTS */))
		w.oob = (__u64)u->oob_skb;
	bpf_loop(n, one, &w, 0);
	return 0;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
