/* The job's terminal at restore (--shell-job), for the child phase of restore_child.c. */
#ifndef CRYO_FILES_TTY_H
#define CRYO_FILES_TTY_H

#include <stdbool.h>
#include <sys/types.h>

#include "files/files.h"

struct dump_ctx;
struct dump_task;
struct fd_info;
struct restore_ctx;
struct restore_task;

/* Plan: the tree's terminal entries name one terminal (remembered in ctx->tty). */
int tty_plan(struct restore_ctx *ctx, struct restore_task *t);
/* Root, before its session is made: the terminal the job gets, placed at ctx->svc_tty:
 * cryo's own when cryo has one, else the job's own by its path (checked to be that same
 * terminal); ctx->tty_own tells which. On its own terminal the job (the root) leads a new
 * session with it as controlling terminal. -1 after child_fail. */
int tty_root_open(struct restore_ctx *ctx, struct restore_task *t);
/* Each task, once in its session and group: the root sets the terminal's termios and
 * window size back; the task that leads the
 * dumped foreground group makes it the foreground again. -1 after child_fail. */
int tty_session_setup(struct restore_ctx *ctx, struct restore_task *t);

/* Shared by tty.c and pty.c: what a pseudo-terminal device number or path is; a terminal's
 * termios and window size into e's tty_* fields (-errno), and back onto fd (-errno, *what
 * says which step failed), and their checks in an image. */
bool tty_is_pts_major(unsigned major);
bool tty_is_ptmx(dev_t rdev);
bool tty_is_pts_path(const char *p);
int tty_settings_read(struct dump_ctx *ctx, int fd, FdEntry *e);
int tty_settings_apply(int fd, const FdEntry *e, bool winsize, const char **what);
int tty_settings_validate(const char *img, const FdEntry *e);

/* ---- pty.c: pseudo-terminal pairs made inside the tree ---- */
/* Dump a master; a slave whose master the tree holds (1: not one, tty.c's) */
int pty_master_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		    FdEntry *e);
int pty_slave_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e);
/* ... once every task was walked: what the walk of the processes outside the tree must read
 * for the pairs (core/others.h); after it, a pair also held outside the tree is refused */
void ptys_others_want(struct dump_ctx *ctx);
int ptys_dump_finish(struct dump_ctx *ctx);
/* Restore: plan one (not dup) entry of a pair; the root makes every pair before the tree;
 * each task, in its session and group: the controlling terminal and the foreground */
int pty_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e);
int restore_ptys_child(struct restore_ctx *ctx);
int pty_session_setup(struct restore_ctx *ctx, struct restore_task *t);

/* ---- pty_queue.c: the bytes queued in a pair, both ways ---- */
/* at most this much output (measured: 18-20 KiB fit in a pair on this kernel) */
#define PTY_OUT_MAX 32768
/* Dump: take the queues of the pair of master m (cryo's copy of fd of task pid) into e and
 * put them back at once; -ENOTSUP refused (said), -errno */
int pty_queues_dump(struct dump_ctx *ctx, pid_t pid, int fd, unsigned index, int m, int pkt,
		    FdEntry *e);
/* Restore: e's queues into the new pair of master m, its settings already set (-errno) */
int pty_queues_restore(int m, const FdEntry *e, const char **what);
int pty_queues_validate(const char *img, const FdEntry *e);

#endif
