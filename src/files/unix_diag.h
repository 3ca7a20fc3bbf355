/* sock_diag's view of unix sockets (unix_diag.c) */
#ifndef CRYO_FILES_UNIX_DIAG_H
#define CRYO_FILES_UNIX_DIAG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define UNIX_NAME_MAX 108 /* sizeof(sun_path) */

struct unix_diag_sk {
	uint64_t ino, peer; /* peer 0: none, or (has_peer) it was closed */
	bool has_peer;
	uint32_t type, state, shutdown;
	uint32_t rqueue, wqueue; /* a listener: connections waiting, its backlog */
	uint32_t nr_icons;	 /* a listener: connections waiting */
	const uint32_t *icons;	 /* ... their clients' inodes, in order (valid in the call) */
	dev_t vfs_dev;		 /* bound to a path: its socket file */
	uint64_t vfs_ino;
	bool has_vfs;
	uint16_t namelen; /* 0: not bound; name[0] == 0: an abstract name */
	char name[UNIX_NAME_MAX];
};

/* fn for every unix socket of cryo's network namespace; a non-zero return stops the walk
 * and is returned. Errors are logged; a negative errno. */
typedef int (*unix_diag_fn)(const struct unix_diag_sk *s, void *arg);
int unix_diag_each(unix_diag_fn fn, void *arg);

#endif
