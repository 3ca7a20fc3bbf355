#ifndef CRYO_RES_PROCSTATE_H
#define CRYO_RES_PROCSTATE_H
struct remote_batch;
struct dump_ctx;
struct dump_task;
struct dump_thread;
struct restore_ctx;
struct restore_task;
void procstate_ask(struct remote_batch *b, struct dump_task *t);
void procstate_ask_thread(struct remote_batch *b, struct dump_thread *th);
/* Saves what can be restored, refuses (-ENOTSUP, each named) what cannot yet. */
int dump_procstate(struct dump_ctx *ctx, struct dump_task *t);
int restore_procstate_remote(struct restore_ctx *ctx, struct restore_task *t);
#endif
