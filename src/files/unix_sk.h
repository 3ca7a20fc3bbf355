/* Unix sockets (unix_sk.c dump, unix_queue.c the dump of the receive queue, unix_sk_restore.c
 * restore, unix_check.c the rules both apply to the tree's set of sockets). */
#ifndef CRYO_FILES_UNIX_SK_H
#define CRYO_FILES_UNIX_SK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "img/image.h"

#define UNIX_ST_CONNECTED 1 /* TCP_ESTABLISHED, as sock_diag names the states */
#define UNIX_ST_CLOSE 7
#define UNIX_ST_LISTEN 10
#define UNIX_RCV_SHUTDOWN 1
#define UNIX_SEND_SHUTDOWN 2
#define UNIX_QUEUE_MAX_BYTES (64u << 20) /* per socket */
#define UNIX_QUEUE_MAX_MSGS (1u << 16)
#define UNIX_BACKLOG_MAX (1u << 20)
#define UNIX_PEER_GROUPS_MAX 65536u  /* NGROUPS_MAX: the groups a peer credential holds */
#define UNIX_CRED_PID_MAX (1u << 22) /* PID_MAX_LIMIT: a queued message's sender pid */

/* A connected pair made with socketpair() at restore: s and its peer are connected to each
 * other, and neither was accepted from a listening socket. */
bool unix_mutual(UnixSk *const *sks, uint32_t n, const UnixSk *s);
/* The rules of the set of sockets sks[0..n) (indexed by id, all present): what the restore
 * can make again exactly. 0, or -1 with why[] telling and *bad the id it is about. */
int unix_check_set(UnixSk *const *sks, uint32_t n, char *why, size_t len, uint32_t *bad);
/* The peer credentials of the set (ents[i]: socket i's entry, its unix_peer_* fields)
 * against what the restore gives each socket: a pair made with socketpair() holds one set
 * of ids on both ends, a listener's clients hold the listener's, a socket neither made by
 * a pair, listening nor connected through a listener holds none. 0, or -1 with why[] and
 * *bad. */
int unix_check_ids(UnixSk *const *sks, const FdEntry *const *ents, uint32_t n, char *why,
		   size_t len, uint32_t *bad);
/* What unix_check_makers needs of a tree's tasks, at dump and at restore alike. */
struct unix_task_view {
	pid_t pid;
	int parent; /* its index, -1 for the root */
	bool zombie;
	bool files_shared; /* one descriptor table with its parent (then files is NULL) */
	pid_t sid, pgid;
	const Files *files;
};
/* Sockets a task other than the root made (UnixSk.maker), which that task makes again in its
 * own setup, before it creates anything: only a pair (ends connected to each other, or one
 * left by a peer closed), unnamed or with an abstract name, or a listening socket with
 * nothing waiting; reached by no other socket; not in flight, carrying no descriptors, whose
 * holders are the maker and its descendants (nobody else can have been given it: they are made
 * before it, elsewhere), whose queued credentials name pids that exist then or that the maker may
 * hold for the moment (its ancestors, its descendants, pids of nobody in the tree). owner[i]
 * is the task index and owner_fd[i] the fd of socket i's entry. 0, or -1 with why[] and
 * *bad. */
int unix_check_makers(UnixSk *const *sks, const int *owner, const int *owner_fd, uint32_t n,
		      const struct unix_task_view *tv, int nt, char *why, size_t len,
		      uint32_t *bad);
/* One socket's own values (beyond the set); 0 or -1 with why[]. */
int unix_check_one(const UnixSk *s, char *why, size_t len);
/* Is a stream's message a buffer of its own (descriptors, urgent data)? */
bool unix_msg_apart(const UnixMsg *m);
/* Do two queued messages carry the same credentials (or both none)? */
bool unix_msg_same_creds(const UnixMsg *a, const UnixMsg *b);
/* "the name NAME" for messages: a path, or "@name" for an abstract name */
const char *unix_name_str(const uint8_t *name, size_t len, char *buf, size_t cap);

struct dump_ctx;
struct dump_task;
/* unix_queue.c: the receive queue of s, read from sk (cryo's copy of fd of task t) without
 * being consumed, into s->queue (files in flight noted for inflight.c); the socket's peek
 * offset and SO_PASSCRED (s->opts) put back. oob: what unix_oob_dump found of urgent data
 * (NULL: none), which makes the queue read after the kernel's buffers. 0, -ENOTSUP
 * (refused by name) or -errno. */
int unix_queue_dump(struct dump_ctx *ctx, struct dump_task *t, int fd, int sk, UnixSk *s,
		    const char *oob);

/* unix_oob.c: is there urgent data (MSG_OOB) queued in stream s (sk: cryo's copy of fd of
 * task pid), or the mark of some read? *oob: NULL if not, else what was found, for the
 * messages of the queue dump. 0 or -errno. */
int unix_oob_dump(pid_t pid, int fd, int sk, const UnixSk *s, const char **oob);

#endif
