/* Integer socket options of netlink and packet sockets (sockopt_tab.c): the family's own
 * (SOL_NETLINK, SOL_PACKET), one table with each option's range. The SOL_SOCKET ones and a
 * classic BPF filter are sockopt.c's, for every family. */
#ifndef CRYO_FILES_SOCKOPT_TAB_H
#define CRYO_FILES_SOCKOPT_TAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/dump_ctx.h"
#include "core/restore_ctx.h"
#include "img/image.h"

/* the families of the table: which options apply to a socket */
enum { TAB_NETLINK = 1, TAB_PACKET = 2 };

/* Dump: every option of the table for `fam`, read from sk, into *opts / *n (arena); refuses
 * (-ENOTSUP, logged with who) what the table cannot carry (SO_BINDTODEVICE). */
int sockopt_tab_dump(struct arena *a, int sk, unsigned fam, InetSkOpt ***opts, size_t *n,
		     const char *who);
/* Restore: each option that differs from the new socket's is set, then every one is read back
 * and must be as dumped. -1 after child_fail. */
int sockopt_tab_apply(struct restore_task *t, int fd, int sk, InetSkOpt *const *opts, size_t n);
int sockopt_tab_validate(const char *img, int fd, unsigned fam, InetSkOpt *const *opts, size_t n);

/* The options of a socket of a family with a table, both kinds together: those any socket has
 * (sockopt.c, into *so) and the family's own (into *opts / *n). Dump: sk is cryo's copy of fd
 * of task pid; -EIO after sockopt_dump's log, or sockopt_tab_dump's result. Restore, on the new
 * socket before it is bound: its owner (uid, gid), sockopt.c's early options, the table's,
 * the filter; -1 after child_fail. The image checks of both, and of the socket's owner (uid, gid):
 * 0 or the refusal. */
int sockopt_tab_dump_all(struct dump_ctx *ctx, pid_t pid, int fd, int sk, unsigned fam, SkOpts **so,
			 InetSkOpt ***opts, size_t *n, const char *who);
int sockopt_tab_restore_all(struct restore_task *t, int fd, int sk, uint32_t uid, uint32_t gid,
			    const SkOpts *so, InetSkOpt *const *opts, size_t n);
int sockopt_tab_validate_all(const char *img, int fd, unsigned fam, uint32_t uid, uint32_t gid,
			     const SkOpts *so, InetSkOpt *const *opts, size_t n);

#endif
