#ifndef CRYO_RES_COW_H
#define CRYO_RES_COW_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
struct dump_ctx;
struct dump_task;
struct restore_ctx;
struct restore_task;
int cow_detect(struct dump_ctx *ctx, struct dump_task *t);
bool cow_page_shared(const struct dump_task *t, size_t vma, uint64_t page);
void cow_free(struct dump_task *t);
int cow_plan(struct restore_ctx *ctx);
int cow_build_child(struct restore_ctx *ctx, struct restore_task *t);
int cow_finish_child(struct restore_ctx *ctx, struct restore_task *t);
#endif
