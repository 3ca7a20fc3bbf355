/* The socket guard: what a dump changes for a moment on the tree's own sockets is put back
 * even if cryo dies meanwhile.
 *
 * Reading a socket's state from outside needs a few of its options changed for the reads
 * (the task's socket and cryo's pidfd_getfd copy are the same socket): a peek offset to walk
 * a queue (SO_PEEK_OFF), SO_PASSCRED on to see every message's sender, SO_OOBINLINE turned
 * over to find urgent data, TCP_REPAIR for a connection (which clears SO_REUSEADDR when it
 * goes off). cryo sets each back as soon as it has read, but a cryo killed in between would
 * leave the program with a socket that behaves differently (reads at an offset, credentials
 * it never asked for, repair mode that fails every read with EPERM).
 *
 * So before the first change, cryo hands a copy of the socket to a child of its own, the
 * guard, with the values the socket has then. The copy travels in an SCM_RIGHTS message:
 * once sendmsg returned, the socket is held by the message itself, so the guard has it even
 * if cryo dies before the guard read it (no answer to wait for). When cryo put the values
 * back it releases the socket. When cryo's end of the pair closes without its "end" (killed,
 * crashed), the guard sets the values back on every socket not released (repair mode off
 * first), deletes the network lock's table if one was named (with the function given at
 * init: netlock.c's), and exits.
 *
 * The guard is started on first need, one per dump, and told to end (doing nothing more)
 * when the dump is over: with the tree killed for good, the connections stay in repair mode
 * for the restore and their copies are closed silently. */
#ifndef CRYO_NET_SK_GUARD_H
#define CRYO_NET_SK_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sk_guard {
	int fd;		  /* cryo's end of the pair, -1 before the start and after the end */
	pid_t pid;	  /* the guard, -1 */
	uint32_t next_id; /* the id the next socket handed gets */
	/* how the guard deletes the table named to it (netlock_delete), set at init: the
	 * guard, a fork of cryo, has it from its start */
	int (*drop_table)(const char *name);
};

/* What the guard puts back (bits of sk_guard_hold's what) */
enum {
	SKG_REPAIR = 1 << 0,	/* TCP_REPAIR is (or will be) on: turned off first */
	SKG_REUSEADDR = 1 << 1, /* SO_REUSEADDR, as given in reuse (repair mode reads 2) */
	SKG_OOBINLINE = 1 << 2, /* SO_OOBINLINE, read at the hold */
	SKG_PASSCRED = 1 << 3,	/* SO_PASSCRED, read at the hold */
	SKG_PEEK_OFF = 1 << 4,	/* SO_PEEK_OFF, read at the hold */
};

void sk_guard_init(struct sk_guard *g, int (*drop_table)(const char *name));

/* Hand n sockets (cryo's copies sks[], not yet changed) to the guard, started here on first
 * use: what (SKG_*) says what of each to put back if cryo dies; the values of the SKG_OOBINLINE,
 * SKG_PASSCRED, SKG_PEEK_OFF options are read here, SO_REUSEADDR's come from reuse[] (may be
 * NULL without SKG_REUSEADDR). The sockets get the ids *first_id, *first_id + 1, ... 0 or
 * -errno (logged by the caller: nothing may be changed then). */
int sk_guard_hold(struct sk_guard *g, const int *sks, size_t n, unsigned what, const bool *reuse,
		  uint32_t *first_id);

/* Socket id is as it was again: the guard forgets it (and closes its copy). 0 or -errno. */
int sk_guard_release(struct sk_guard *g, uint32_t id);

/* If cryo dies, delete the nftables table name (inet family) as well. 0 or -errno. */
int sk_guard_table(struct sk_guard *g, const char *name);

/* The dump is over, whatever its end: the guard exits without touching anything (waited
 * for). Nothing when it was never started; again is nothing. */
void sk_guard_end(struct sk_guard *g);

#endif
