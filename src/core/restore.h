/* State of one restore. The driver (restore.c) creates the task, which first rebuilds what it
 * can in ordinary C code (the "child phase"), then stops; cryo then rebuilds its memory and the
 * rest from outside with remote calls (the "remote phase"). Resource files (src/res/) provide
 * the halves of each phase. */
#ifndef CRYO_RESTORE_H
#define CRYO_RESTORE_H

#include <stdint.h>
#include <sys/types.h>

#include "cryo/cryo.h"
#include "img/image.h"
#include "remote/remote.h"

/* Written by the child, read by cryo: why the child phase failed. */
struct child_report {
	int err;
	char msg[512];
};

/* A file the child opens for cryo at a fixed descriptor number ("service fd"), for use by the
 * remote phase (mappings, page image, executable). */
struct svc_file {
	enum { SVC_PAGES, SVC_FILE, SVC_SHMEM } kind;
	const char *path;    /* SVC_FILE */
	int flags;           /* SVC_FILE: open flags */
	uint64_t shmem_id;   /* SVC_SHMEM: inode of the object at dump time */
	uint64_t shmem_size; /* SVC_SHMEM: bytes it must hold */
	int fd;              /* number in the child */
};

struct restore_task {
	pid_t pid;
	PstreeTask *pst;
	TaskCore *core;
	Mm *mm;
	Pagemap *pagemap;
	Files *files;
	ThreadCore *thread;
	uint64_t pages_size; /* bytes of data in the page image */
	int pages_fd_local;   /* cryo's own descriptor of it */

	/* plan, fixed before the task is created */
	int svc_base;            /* first service fd; above every fd of the task and of cryo */
	struct svc_file *svc;    /* [0] is the page image, [1] the executable */
	int nr_svc;
	int svc_dirfd, svc_tty, svc_log; /* more service fds, -1 if none */
	int *vma_svc;            /* per VMA: index into svc, or -1 */
	uint64_t area;           /* where the remote-call area goes */

	struct remote rem;
	struct child_report *report; /* shared page */
	int go_pipe[2];
	bool created;
};

struct restore_ctx {
	const struct cryo_restore_opts *opts;
	int dirfd;
	Inventory *inv;
	Pstree *pstree;
	struct restore_task task;
};

/* Child phase (runs inside the new task, ordinary C). Failures are reported with child_fail. */
void child_fail(struct restore_task *t, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int restore_files_child(struct restore_ctx *ctx, struct restore_task *t);
int restore_fs_child(struct restore_ctx *ctx, struct restore_task *t);
int restore_task_attrs_child(struct restore_ctx *ctx, struct restore_task *t);

/* Planning and validation before the task exists */
int mm_plan(struct restore_ctx *ctx, struct restore_task *t);
int files_validate(struct restore_ctx *ctx, struct restore_task *t);
int pages_validate(struct restore_task *t);

/* Remote phase (cryo drives the stopped task). */
int restore_mm_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_pages_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_mm_fields_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_signals_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_pending_signals_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_timers_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_thread_attrs_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_seccomp_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_creds_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_rlimits_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_task_attrs_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_task_attrs_outside(struct restore_ctx *ctx, struct restore_task *t);
int restore_regs(struct restore_ctx *ctx, struct restore_task *t);

#endif
