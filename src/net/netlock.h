/* The network lock: while a TCP connection is saved (its tree frozen, then dumped, until the
 * restore made it again) none of its packets may pass, or a peer would get a reset from a
 * socket that is gone, and a segment acknowledged meanwhile would be lost. cryo drops them with
 * nftables (libnftables): one table of its own, `inet cryo-lock-PID` (PID: the dumping cryo),
 * whose rules drop, in each direction, what a set of connections holds (both addresses and
 * ports); each connection is an element of it. Only segments marked TCP_REPAIR_MARK pass (to
 * a local address): those libcryotcp makes to give a half-closed connection its FINs back.
 *
 * A dump that is killed must not leave connections blocked (or in repair mode) for ever: the
 * table is named to the dump's socket guard (sk_guard.h) before it is made, and every
 * connection's socket is handed to it before repair mode goes on. When cryo ends without its
 * word (killed), the guard turns repair mode off on each and deletes the table; when the dump
 * succeeded and the tree is gone (the restore removes the table), or cryo removed the table
 * itself, the guard is told to end without doing anything. */
#ifndef CRYO_NET_NETLOCK_H
#define CRYO_NET_NETLOCK_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

struct nft_ctx;

struct netlock {
	char table[48];		/* "" until the first connection */
	struct nft_ctx *nft;	/* kept from the first rule to the end: one costs milliseconds */
	struct sk_guard *guard; /* the dump's: holds the table's name and the connections */
	size_t n_conns;		/* connections blocked in it so far */
};

struct sk_guard;
void netlock_init(struct netlock *l, struct sk_guard *guard);

/* One connection to block: its two ends (AF_INET or AF_INET6, a v4-mapped pair taken as
 * IPv4), cryo's copy of its socket (handed to the guard), whether it has SO_REUSEADDR
 * (read before repair mode: the guard sets it back after its repair off) and who holds it
 * (for the log). */
struct netlock_conn {
	struct sockaddr_storage local, remote;
	int sk;
	bool reuse;
	const char *who;
};

/* The table (with no connection in it yet: it drops nothing), named to the guard, made before
 * the tree is frozen, so that the freeze pays only for its connections. who names the dump
 * in messages. 0 or -errno (logged); on failure netlock_add makes them itself. */
int netlock_prepare(struct netlock *l, const char *who);

/* Drop every packet of the n connections c, both ways, with one nftables transaction (one
 * costs about half a millisecond whatever it holds, so a tree's connections go in
 * together); the table is made with the first call. 0 or -errno
 * (logged). */
int netlock_add(struct netlock *l, const struct netlock_conn *c, size_t n);

/* The end of a dump. keep: the table stays (the restore removes it) and the guard is told
 * so; else it is deleted, as is a table that holds no connection (no image names it). */
void netlock_finish(struct netlock *l, bool keep);

/* Whether name (read from an image) can be a table of cryo's: not empty, shorter than
 * struct netlock's table, lower-case letters, digits and '-' only. */
bool netlock_table_name_ok(const char *name);

/* Delete table `name` of family inet (the restore's part). 0, or -errno (logged); a table
 * that is not there is 0, with a note. */
int netlock_delete(const char *name);

#endif
