/* Internal to the System V IPC code: what sysvipc.c (the rule, the shared steps and the
 * entry points the drivers call) and the files of each kind (sysv_shm.c, sysv_sem.c,
 * sysv_msg.c) call of each other. The drivers use res/sysvipc.h only. */
#ifndef CRYO_RES_SYSV_KINDS_H
#define CRYO_RES_SYSV_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/types.h>

#include "img/image.h"

struct dump_ctx;
struct dump_task;
struct restore_ctx;
struct restore_task;

#define SEM_MAX_NSEMS 32000 /* SEMMSL_MAX */
#define SEM_MAX_VALUE 32767 /* SEMVMX */

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

enum ipc_kind { K_SHM, K_SEM, K_MSG };

/* ---- shared, in sysvipc.c ---- */

/* pid is a task of the tree being dumped */
bool sysv_tree_pid(const struct dump_ctx *ctx, pid_t pid);
/* The image's owner, mode, key and id of an object, in the dump's arena */
SysvPerm *sysv_new_perm(struct dump_ctx *ctx, int id, const struct ipc_perm *p);
/* The id, mode and owners of object i of a kind (what: its name in the message) */
int sysv_check_perm(const char *what, size_t i, const SysvPerm *p);
/* Make the object with its id, as its creator (size: a segment's, nsems: a set's) */
int sysv_create_with_id(enum ipc_kind k, const SysvPerm *p, uint64_t size, int nsems);
/* An object with the image's id: -ENOENT if none, 0 if the same key, refusal otherwise */
int sysv_find_existing(enum ipc_kind k, const SysvPerm *p, struct ipc_perm *have);
/* The image's owner and mode set (and a queue's limit, qbytes) */
int sysv_set_owner(enum ipc_kind k, const SysvPerm *p, uint64_t qbytes);
/* The restored task pid, when it is one of the tree and not a zombie (has: pid is set) */
struct restore_task *sysv_live_task(struct restore_ctx *ctx, bool has, uint32_t pid);
/* A system call made by the task (remote), logged on failure naming the object id */
int sysv_task_call(struct restore_task *t, const char *what, uint32_t id, long nr, long a1, long a2,
		   long a3, long a4, long a5);

/* ---- shared memory segments, in sysv_shm.c ---- */

int sysv_dump_shms(struct dump_ctx *ctx);
int sysv_check_shm(struct restore_ctx *ctx, size_t i, const SysvShm *s);
int sysv_check_attaches(struct restore_ctx *ctx, struct restore_task *t);
/* made (or taken) and filled; *keep: cryo's attach, until every task has its own */
int sysv_restore_shm(struct restore_ctx *ctx, const SysvShm *s, bool *made, void **keep);
/* cryo's own attaches (ctx->sysv_mem) detached */
void sysv_detach_all(struct restore_ctx *ctx);
int sysv_shm_lpid_remote(struct restore_ctx *ctx, const SysvShm *s);

/* ---- semaphore sets, in sysv_sem.c ---- */

int sysv_dump_sems(struct dump_ctx *ctx);
int sysv_restore_sem(const SysvSemSet *s, bool *made);
int sysv_sem_pids_remote(struct restore_ctx *ctx, const SysvSemSet *s);

/* ---- message queues, in sysv_msg.c ---- */

int sysv_dump_msgs(struct dump_ctx *ctx);
int sysv_check_msgs(size_t i, const SysvMsgQueue *q);
int sysv_restore_msg(struct restore_ctx *ctx, const SysvMsgQueue *q, bool *made);
int sysv_msg_pids_remote(struct restore_ctx *ctx, const SysvMsgQueue *q);

#endif
