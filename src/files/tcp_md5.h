/* TCP_MD5SIG keys (RFC 2385) of a TCP socket, listening, connected or made (tcp_md5.c). */
#ifndef CRYO_FILES_TCP_MD5_H
#define CRYO_FILES_TCP_MD5_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "img/image.h"

/* Dump: the keys of sk (cryo's copy, TCP state `state` as TCP_INFO read it; optmem its
 * SO_MEMINFO option memory) into s->md5 (arena). Refused (-ENOTSUP, logged with who) for keys
 * the restore could not set again as they were: TCP-AO keys, a key bound to an interface
 * (TCP_MD5SIG_EXT ifindex), and option memory on a socket neither listening nor connected
 * (where sock_diag shows no keys). 0 or -errno. */
int tcp_md5_dump(struct arena *a, int sk, InetSk *s, uint32_t state, uint32_t optmem,
		 const char *who);

/* Restore: every key of s set on sk (TCP_MD5SIG_EXT), oldest first. 0 or -errno, why in err. */
int tcp_md5_apply(int sk, const InetSk *s, char *err, size_t size);

/* Image checks of s->md5; logs with img, -EINVAL. */
int tcp_md5_validate(const char *img, const FdEntry *e);

#endif
