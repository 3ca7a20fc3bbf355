/* Inside src/files/: what the files of the inet kind (inet_sk.c, the kind itself) share: the
 * addresses (inet_addr.c), the multicast groups (inet_mcast.c), the UDP queue (inet_udp.c),
 * raw and ping sockets (inet_raw.c), connections (inet_tcp.c), and the socket options of
 * AF_INET and AF_INET6 sockets (inet_opts.c). The option table is not TCP- or UDP-specific
 * beyond its masks, so a kind of another family can take its SOL_SOCKET half. */
#ifndef CRYO_FILES_INET_H
#define CRYO_FILES_INET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/arena.h"
#include "img/image.h"

struct dump_ctx;
struct restore_ctx;
struct restore_task;

/* The protocols an option applies to (the table's masks): INET_P_RAW is any SOCK_RAW socket
 * (whatever its protocol), INET_P_PING a SOCK_DGRAM ICMP or ICMPv6 ("ping") socket */
enum { INET_P_TCP = 1, INET_P_UDP = 2, INET_P_UDPLITE = 4, INET_P_RAW = 8, INET_P_PING = 16 };

/* The mask of a socket of that type and protocol, 0 for one inet_opts does not know */
unsigned inet_proto_mask(int type, int protocol);

/* What kind of inet socket the image or the dump holds, by type and protocol together (a raw
 * socket may carry IPPROTO_TCP or IPPROTO_UDP as its protocol) */
static inline bool inet_is_tcp(const InetSk *s)
{
	return inet_proto_mask((int)s->type, (int)s->protocol) == INET_P_TCP;
}
static inline bool inet_is_udp(const InetSk *s)
{
	return inet_proto_mask((int)s->type, (int)s->protocol) & (INET_P_UDP | INET_P_UDPLITE);
}
/* raw and ping sockets (inet_raw.c): datagrams without ports of their own */
static inline bool inet_is_raw_or_ping(const InetSk *s)
{
	return inet_proto_mask((int)s->type, (int)s->protocol) & (INET_P_RAW | INET_P_PING);
}

/* "TCP", "UDP", "UDP-Lite", "raw", "ICMP (ping)": for messages */
const char *inet_proto_label(const InetSk *s);

/* inet_addr.c: the addresses of the image (4 or 16 bytes, a port, an IPv6 scope and flow
 * label) and the sockaddr they stand for. */
size_t inet_addr_len(uint32_t family);
/* "127.0.0.1:80", "[::1]:80" */
void inet_addr_text(uint32_t family, const void *addr, uint32_t port, char *buf, size_t size);
/* "239.1.2.3", "ff02::1" */
void inet_group_text(uint32_t family, const void *addr, char *buf, size_t size);
/* A sockaddr into its parts (addr: inet_addr_len bytes); false if it is not of the family */
bool inet_sa_split(uint32_t family, const struct sockaddr_storage *ss, uint8_t *addr,
		   uint32_t *port, uint32_t *scope, uint32_t *flow);
/* ... and back: the sockaddr's length */
socklen_t inet_sa_make(uint32_t family, const uint8_t *addr, uint32_t port, uint32_t scope,
		       uint32_t flow, struct sockaddr_storage *ss);

/* inet_mcast.c: the multicast groups a socket of datagrams joined. The dump asks sk (cryo's
 * copy) about every group of task pid's namespace into s->mcast (arena); a group with a source
 * filter is refused (-ENOTSUP, logged with who). The restore joins them again on the bound
 * socket: -1 after child_fail. The check: each a multicast address of a family the socket
 * has, on an interface; -EINVAL logged with img. */
int inet_mcast_dump(struct arena *a, int pid, int sk, InetSk *s, const char *who);
int inet_mcast_restore(struct restore_task *t, const FdEntry *e, int sk);
int inet_mcast_validate(const char *img, const FdEntry *e);

/* inet_udp.c: the datagrams queued in a UDP socket. The dump reads them from sk without
 * taking them into s->queue (rmem: the receive memory in use, a bound on their number);
 * refused (-ENOTSUP, logged with who, local: the socket's address) when the restore could not
 * give them back the same. The restore sends each again to the new socket sk: -1 after
 * child_fail. The check: a queue on a UDP socket only, each datagram in bounds; -EINVAL. */
int inet_udp_queue_dump(struct arena *arena, int sk, InetSk *s, const char *who, const char *local,
			uint32_t rmem);
int inet_udp_queue_restore(struct restore_task *t, const FdEntry *e, int sk);
int inet_udp_queue_validate(const char *img, const FdEntry *e);

/* The SOL_SOCKET options of the table for a socket of another family (unix): those that
 * sockopt.c does not carry itself (SO_PRIORITY, SO_MARK, SO_RCVLOWAT, SO_TIMESTAMP*,
 * SO_KEEPALIVE, SO_LINGER, SO_BINDTODEVICE...), read, set again where they differ and read
 * back, and checked, as for an inet socket. */
struct inet_opts_pre;
int sol_opts_dump(struct arena *a, int sk, InetSkOpt ***opts, size_t *n, const char *who,
		  const struct inet_opts_pre *pre);
int sol_opts_apply(int sk, InetSkOpt *const *opts, size_t n, char *err, size_t size);
int sol_opts_validate(const char *img, int fd, InetSkOpt *const *opts, size_t n);

/* inet_raw.c: raw sockets (SOCK_RAW, protocol 1..255) and ping sockets (SOCK_DGRAM with
 * IPPROTO_ICMP or IPPROTO_ICMPV6). Their peer (connect() without a port) is not given by
 * getpeername, so the dump reads it from the task's /proc/PID/net/{raw,raw6,icmp,icmp6}
 * line of the socket's inode: s->state and s->dst_* set, 0, or -errno logged with who. */
bool inet_raw_recognise(int family, int type, int protocol);
int inet_raw_dump_peer(struct arena *a, int pid, unsigned long ino, InetSk *s, const char *who);
/* An address as /proc/net/{tcp,raw,icmp}{,6} print it (each 32-bit word in hex, as the
 * machine holds it) into out[addr_len]; false if it is not one */
bool inet_proc_addr(const char *hex, size_t addr_len, uint8_t *out);
/* The line of socket inode ino in /proc/PID/net/TABLE (its peer's address of alen bytes):
 * 0; -ENOENT if there is none, -EIO if it is not understood, -errno: each logged. */
struct inet_proc_line {
	unsigned state; /* the kernel's TCP state numbers (1 "connected" for raw and ping) */
	uint8_t addr[16];
	unsigned port;
};
int inet_proc_peer(int pid, const char *table, unsigned long ino, size_t alen,
		   struct inet_proc_line *out, const char *who);
/* s's peer (dst) set to addr, port (s's family); a link-local IPv6 one is refused, naming
 * who and what ("a TCP connect in progress"): 0, -ENOTSUP, -ENOMEM. */
int inet_set_peer(struct arena *a, InetSk *s, const uint8_t *addr, unsigned port, const char *who,
		  const char *what);

/* inet_syn_sent.c: a TCP connect in progress (SYN_SENT) with --tcp-established. Dump: its
 * peer into s (socket inode ino of task pid), as the walk meets it; then, from inet_tcp.c's
 * end of the walk, with repair mode on (sk: cryo's copy), its first sequence and MSS. 0,
 * -ENOTSUP (refused by name) or -errno. Restore on sk (options applied, owner set): 0, or -1
 * after child_fail. Validate: 0 or -EINVAL after files_refuse. */
int inet_syn_sent_dump(struct arena *a, int pid, unsigned long ino, InetSk *s, const char *who);
int inet_syn_sent_read(int sk, InetSk *s, const char *who, const char *local);
int inet_syn_sent_restore(struct restore_task *t, const FdEntry *e, int sk);
int inet_syn_sent_validate(const char *img, const FdEntry *e);

/* sk_filter.c: a classic BPF socket filter (SO_ATTACH_FILTER), of any family. The dump
 * reads it with SO_GET_FILTER into *prog (8 bytes an instruction, none: len 0); an eBPF
 * program (SO_ATTACH_BPF), which cannot be read back, is refused naming who. The restore
 * attaches it again before any option (SO_LOCK_FILTER comes after). */
int sk_filter_dump(struct arena *a, int sk, ProtobufCBinaryData *prog, const char *who);
int sk_filter_restore(int sk, const ProtobufCBinaryData *prog);
bool sk_filter_valid(const ProtobufCBinaryData *prog);

/* Dump: every option the table knows that applies to a socket of this family and protocol,
 * read from sk (cryo's copy), into s->opts (arena). Options the kernel does not know for it
 * (ENOPROTOOPT...) are left out. Refuses (-ENOTSUP, logged with who: "task 1: fd 3") state that
 * cannot be read back or set again: a socket filter, an upper-layer protocol (TCP_ULP), IP
 * options, IPv6 sticky headers. */
int inet_opts_dump(struct arena *a, int sk, InetSk *s, const char *who,
		   const struct inet_opts_pre *pre);
/* Every option of the table a socket (family, type, protocol) may have, read from sk ahead of
 * the walk (fd_read.c, on its thread): what inet_opts_dump and sol_opts_dump then take
 * instead of reading (pre may be NULL there). malloc'd; NULL when out of memory. */
struct inet_opts_pre *inet_opts_prefetch(int sk, int family, int type, int protocol);

/* Restore, on the new socket sk (not bound yet, made by socket(s->family, s->type,
 * s->protocol)): every saved option whose value differs from the new socket's is set, then
 * every saved one is read back and must equal the image; for a connection or a connect in
 * progress, that check is inet_opts_apply_again's, after repair mode. cache (may be NULL):
 * what a new socket of each kind reads, filled by the first of each. -1 and why in err. */
struct inet_opts_fresh;
int inet_opts_apply(int sk, const InetSk *s, struct inet_opts_fresh **cache, char *err,
		    size_t size);
/* the cache inet_opts_apply fills (the values of sockets just made), freed */
void inet_opts_fresh_free(struct inet_opts_fresh **cache);
/* The options set again on a connected (or connecting) socket sk after repair mode, which
 * clears SO_REUSEADDR when it goes off: those that differ now set, all read back; but
 * IPV6_V6ONLY, which a bind to an IPv6 address turns on (tcp_repair_bind avoids that bind
 * where the route gives the same address) and no bound socket can change. 0, or -1 with
 * err[]. */
int inet_opts_apply_again(int sk, const InetSk *s, char *err, size_t size);
/* The integer value of option level/name as the dump saved it in s: true, or false when it
 * did not (not read yet, not one of the table's, or the kernel had none) */
bool inet_opt_saved(const InetSk *s, int level, int name, int64_t *val);

/* Image checks: every option is one of the table's, for this family and protocol, its value in
 * range. Logs with img and fd, returns -EINVAL. */
int inet_opts_validate(const char *img, int fd, const InetSk *s);

/* inet_tcp.c: established connections (--tcp-established, --tcp-close). */
/* The connection of sk (cryo's copy, ESTABLISHED) noted, to be read into s->tcp by
 * inet_tcp_dump_finish; or, with --tcp-close, s marked closed. conn: "A:p -> B:q". 0 or
 * -errno. */
int inet_tcp_dump(struct dump_ctx *ctx, int sk, InetSk *s, const char *who, const char *conn);
/* The same for a connect in progress (its peer in s already, inet_syn_sent_dump): locked and
 * watched as the connections are, then read by inet_syn_sent_read. */
int inet_tcp_dump_syn_sent(struct dump_ctx *ctx, int sk, InetSk *s, const char *who,
			   const char *local);
/* Once every task's descriptors were walked: the network lock taken on every connection
 * noted (one nftables transaction), then each read in repair mode. 0 or -errno (logged). */
int inet_tcp_dump_finish(struct dump_ctx *ctx);
/* Just before the tree is killed: repair mode on again on each connection, so that they end
 * without a packet. 0 or -errno. */
int inet_tcp_before_kill(struct dump_ctx *ctx);
/* The end of a dump: resumed (failed, -R): repair off on each connection, lock removed; else
 * the copies closed and the lock kept for the restore. */
void inet_tcp_dump_end(struct dump_ctx *ctx, bool resumed);
/* Restore, on sk made with its options and owner: the connection (or the closed socket).
 * -1 after child_fail. */
int inet_tcp_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int sk);
/* Before the tree is made: images with connections need --tcp-established (refused by name,
 * the lock left as it is). 0 or -ENOTSUP. */
int inet_tcp_restore_check(struct restore_ctx *ctx);
/* Once the restore has taken the connections over (after the check), whether it succeeded
 * or failed: the lock tables the images name removed. */
int inet_tcp_restore_finish(struct restore_ctx *ctx);
/* Image checks of s->tcp; logs, -EINVAL. */
int inet_tcp_validate(const char *img, const FdEntry *e);

#endif
