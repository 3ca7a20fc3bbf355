#ifndef CRYO_RES_CGROUP_H
#define CRYO_RES_CGROUP_H
struct dump_ctx;
struct dump_task;
struct restore_ctx;
struct restore_task;
/* The cgroups of a task, recorded in its core image. */
int dump_cgroups(struct dump_ctx *ctx, struct dump_task *t);
/* After a restore: a warning naming each task that is in other cgroups than at dump. */
void restore_check_cgroups(struct restore_ctx *ctx, struct restore_task *t);
#endif
