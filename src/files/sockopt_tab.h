/* Integer socket options of netlink and packet sockets (sockopt_tab.c): the family's own
 * (SOL_NETLINK, SOL_PACKET), one table with each option's range. The SOL_SOCKET ones and a
 * classic BPF filter are sockopt.c's, for every family. */
#ifndef CRYO_FILES_SOCKOPT_TAB_H
#define CRYO_FILES_SOCKOPT_TAB_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
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

#endif
