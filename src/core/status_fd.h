/* --status-fd: telling whoever started cryo that the restored tree runs. */
#ifndef CRYO_STATUS_FD_H
#define CRYO_STATUS_FD_H

/* Write one zero byte to fd and close it, as the original tool does. A reader that went away
 * (EPIPE) costs a warning, never cryo's life: SIGPIPE is blocked for the write and a pending
 * one taken back. Returns 0 or -errno. */
int status_fd_notify(int fd);

#endif
