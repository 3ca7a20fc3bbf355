#ifndef CRYO_RES_TRACEES_H
#define CRYO_RES_TRACEES_H
struct dump_ctx;
/* Refuse a tree with a thread that traces a process outside it (ptrace), naming tracer and
 * tracee; 0 when none does. After the walk of the processes outside (core/others.h). */
int dump_check_tracees(struct dump_ctx *ctx);
#endif
