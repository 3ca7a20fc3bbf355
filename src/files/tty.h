/* The job's terminal at restore (--shell-job), for the child phase of restore_child.c. */
#ifndef CRYO_FILES_TTY_H
#define CRYO_FILES_TTY_H

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

#endif
