/* --status-fd: telling whoever started cryo that the restored tree runs, or that a server
 * listens; and a server's -d. */
#ifndef CRYO_STATUS_FD_H
#define CRYO_STATUS_FD_H

#include <stdbool.h>

/* Write one zero byte to fd and close it, as the original tool does. A reader that went away
 * (EPIPE) costs a warning, never cryo's life: SIGPIPE is blocked for the write and a pending
 * one taken back. Returns 0 or -errno. */
int status_fd_notify(int fd);

/* The -d of a server (page-server, lazy-pages, migrate-target) once it listens: into the
 * background, stdin and stdout on /dev/null, a session of its own; the caller's process exits
 * there, 0 once the daemon's pid is in pidfile (relative to dirfd, if given). Without daemon,
 * only the pid file (this process's). Returns 0 in the process that goes on, or -errno
 * (logged, naming who). */
int server_detach(bool daemon, int dirfd, const char *pidfile, const char *who);

#endif
