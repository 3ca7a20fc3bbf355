#ifndef CRYO_RES_NS_H
#define CRYO_RES_NS_H
struct dump_ctx;
struct dump_task;
/* Refuse a task whose namespaces differ from cryo's, naming them; 0 when all are the same. */
int dump_check_namespaces(struct dump_ctx *ctx, struct dump_task *t);
#endif
