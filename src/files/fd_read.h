/* What the descriptor walk reads of each descriptor of a task before its kind looks at it
 * (link text, fdinfo, cryo's copy, stat), and the read-ahead that does it beside the walk.
 *
 * Those reads are most of a dump of many descriptors, almost all of it in the kernel's /proc
 * (measured for 10,000: the fdinfo opens 60-90 ms, the links 30 ms, the copies and stats 20
 * ms, where the kinds' own work after them is a third of the whole). They touch nothing but
 * the descriptor and cryo's own memory, so a second thread reads ahead of the walk while it
 * saves what was read, on a machine with more than one CPU; the walk takes each in order. */
#ifndef CRYO_FILES_FD_READ_H
#define CRYO_FILES_FD_READ_H

#include <sys/types.h>

#include "files/kind.h"

/* The task's /proc/PID/fd and /proc/PID/fdinfo, opened once for the walk: each descriptor is
 * then a name in them, not a path through /proc again (10,000 fds: half the time). */
struct fd_dirs {
	int fd, info;
	int pidfd; /* of the task: cryo's own copies of its fds (pidfd_getfd) */
};

/* Read descriptor fd of task pid into fi (zeroed by the caller): 0, 1 when the descriptor is
 * gone, or -errno. Safe beside another call on another thread. */
int fd_info_read(pid_t pid, const struct fd_dirs *dirs, int fd, struct fd_info *fi);

struct fd_reader;

/* Read the n descriptors fds[] (kept by the caller until fd_reader_stop), ahead of the walk on
 * a second thread when it pays. NULL when out of memory. */
struct fd_reader *fd_reader_start(pid_t pid, const struct fd_dirs *dirs, const int *fds, int n);

/* The next descriptor, in the order of fds[]: *fi (the caller frees it with fd_info_free,
 * whatever the result; NULL only when out of memory) and fd_info_read's result. */
int fd_reader_next(struct fd_reader *r, struct fd_info **fi);

/* The end of the walk, finished or not: the thread joined, what it read and the walk did not
 * take freed. */
void fd_reader_stop(struct fd_reader *r);

#endif
