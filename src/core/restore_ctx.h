/* State of one restore. The driver (restore.c) creates the task, which first rebuilds what it
 * can in ordinary C code (the "child phase"), then stops; cryo then rebuilds its memory and the
 * rest from outside with remote calls (the "remote phase"). Resource files (src/res/) provide
 * the halves of each phase. */
#ifndef CRYO_RESTORE_CTX_H
#define CRYO_RESTORE_CTX_H

#include <stdint.h>
#include <sys/types.h>

#include "cryo/cryo.h"
#include "img/image.h"
#include "remote/remote.h"
#include "files/fd_room.h"
#include "files/files.h"

/* One per task (and helper), in memory shared by every new task and cryo: how far the task
 * got through its child phase, and why it failed. */
struct task_state {
	volatile int state; /* TS_* */
	int err;
	uint32_t go;   /* futex: set by cryo once it holds the task */
	uint32_t hold; /* futex: HOLD_*, how cryo gets a pidfd it can trust (restore_hold.c) */
	char msg[400];
};
enum { TS_NONE, TS_CREATED, TS_READY, TS_FAILED };
enum { HOLD_NONE, HOLD_ASKED, HOLD_OPENED, HOLD_CONFIRMED };

/* A session helper: the process with the pid of a session whose leader is gone, which starts
 * that session and creates the members that `parent` (a task index, -1: cryo) had in it. */
struct restore_helper {
	pid_t sid;
	int parent;
};

/* A descriptor a new task holds for cryo at a fixed number ("service fd"), for the remote
 * phase, or for its descendants to inherit. Numbers are unique across the whole tree. */
struct svc_file {
	enum {
		SVC_PAGES,
		SVC_FILE,
		SVC_SHMEM,
		SVC_DESC,
		SVC_PIPE,
		SVC_MEMFD,
		SVC_PTY,
		SVC_GHOST,
		SVC_UNIX
	} kind;
	const char *path;	 /* SVC_FILE */
	int flags;		 /* SVC_FILE: open flags */
	uint64_t shmem_id;	 /* SVC_SHMEM: inode of the object at dump time */
	uint64_t shmem_size;	 /* SVC_SHMEM: bytes it must hold */
	const Vma *shmem_hidden; /* SVC_SHMEM: the mapping that carries the data no mapping shows */
	pid_t desc_pid;		 /* SVC_DESC: an open file description shared by several tasks, */
	FdEntry *desc;		 /* ... as task desc_pid had it; SVC_PIPE: the pipe's carrier;
				  * SVC_PTY: the pair's master entry; SVC_UNIX: the socket's entry
				  * (files/unix_sk_restore.c) */
	int fd;			 /* number in the new tasks (SVC_PIPE: the read end, or the FIFO) */
	int fd2;		 /* SVC_PIPE: the write end of a pipe (files/pipe.c); SVC_MEMFD: a
				  * read-only description of it, for shared read-only mappings, or -1 */
	const FdEntry *primary_r, *primary_w; /* SVC_PIPE: descriptions that are its own ends;
					       * SVC_MEMFD: primary_r, the memfd_create one */
	const MemfdObject *memfd;	      /* SVC_MEMFD: the object (files/memfd.c) */
	const GhostFile *ghost; /* SVC_GHOST: a deleted file, made by the root, held O_PATH
				 * (files/ghost.c); desc_pid: the task whose image lists it */
};

/* One use of an --inherit-fd (files/inherit.c): the option's index, the access the tree
 * needs of it (O_RDONLY, O_WRONLY), and the service fd the root places a copy of it at. */
struct inherit_use {
	int opt, acc, at;
};

/* One thread of a task being rebuilt; the leader's remote is the task's own. */
struct restore_thread {
	pid_t tid;
	ThreadCore *tc;
	struct remote own;
	struct remote *rem;
	bool seized;
	bool early;    /* made in the child phase: it created children of its own */
	uint32_t done; /* early: its children are created (a futex word) */
};

struct restore_task {
	pid_t pid;
	int idx;
	int parent; /* index in ctx->tasks, -1 for the root */
	PstreeTask *pst;
	TaskCore *core;
	Mm *mm;
	Pagemap *pagemap;
	Files *files;
	ThreadCore *thread;		/* the leader's */
	struct restore_thread *threads; /* [0] is the leader */
	int nr_threads;
	bool early_threads;  /* some threads are made in the child phase */
	size_t seccomp_done; /* filters of the main thread installed so far (seccomp.c) */
	uint64_t pages_size; /* bytes of data in the page image */
	int pages_fd_local;  /* cryo's own descriptor of it */
	bool pages_merged;   /* ... a memfd: the image resolved through its parents (parent.c) */
	struct parent_chain *chain; /* --lazy-pages: ... its pages not copied yet (parent.c) */
	bool zombie;
	pid_t helper;	/* a session helper with this pid creates the task, 0 if none */
	int helper_idx; /* ... ctx->helpers[helper_idx] */

	/* plan, fixed before the task is created */
	struct svc_file *svc; /* this task's own: [0] the page image, [1] the executable */
	int nr_svc;
	int *vma_fd;	/* per VMA: the service fd it is mapped from, or -1 */
	bool *vma_kept; /* per VMA: built in the child phase and kept (cow.c) */
	uint64_t area;	/* where the remote-call area goes */

	struct task_state *state;
	void *pages_pending; /* pages.c: the page batch running in the task */
	struct inet_opts_fresh
	    *inet_fresh; /* files/inet_opts.c, child phase: new sockets' options */
	struct remote rem;
	bool seized;
};

struct restore_ctx {
	const struct cryo_restore_opts *opts;
	int dirfd;
	Inventory *inv;
	Pstree *pstree;
	struct restore_task *tasks; /* parents before children; [0] is the root */
	int nr_tasks;
	struct task_state *states; /* shared: one per task, then one per helper ("slots") */
	size_t states_size;
	struct restore_helper *helpers;
	int nr_helpers;
	pid_t pid_max;	/* /proc/sys/kernel/pid_max: every id of the images is below it */
	int tcp_conns;	/* files/inet_tcp.c: established connections in the images */
	int lazy_fd;	/* --lazy-pages: the lazy-pages daemon's connection (res/lazy.c), -1 */
	bool tcp_taken; /* ... and the restore takes them over (their pids were free): their lock
			 * goes whatever happens next */

	/* cryo's hold on what it created, per slot: a pidfd (-1: none) and whether the
	 * handshake proved it is the process cryo created (restore_hold.c) */
	int *pidfds;
	bool *confirmed;

	/* descriptor plan: the tasks' own numbers; the service fds at numbers none of them
	 * (nor cryo) has, below cryo's limit (files/fd_room.h): log, images dir, terminal,
	 * cryo's pidfd; then the global objects and each task's own, unique in the tree */
	int svc_log, svc_dirfd, svc_tty, svc_cryo;
	struct fd_room room;
	struct svc_file *globals; /* created by the root, inherited by all */
	int nr_globals, cap_globals;
	uint32_t *desc_index; /* restore_ctx.c: the SVC_DESC globals by task and fd */
	uint32_t desc_hcap;
	int *pipes; /* files/pipe.c: per pipe id, its index in globals */
	uint32_t nr_pipes;
	int *ptys; /* files/pty.c: per pseudo-terminal pair id, its index in globals */
	uint32_t nr_ptys;
	int *memfds; /* files/memfd.c: per memfd id, its index in globals */
	uint32_t nr_memfds;
	struct ghost_ref *ghosts; /* files/ghost.c: every ghost of the tree, by id */
	uint32_t nr_ghosts;
	int *unix_sks; /* files/unix_sk_restore.c: per unix socket id, its index in globals */
	uint32_t nr_unix_sks;
	struct inherit_use *inherit_uses; /* files/inherit.c */
	int nr_inherit_uses;
	bool need_tty;
	/* --shell-job: the first terminal entry of the tree (files/tty.c); in the root and
	 * the tasks it makes: the job has its own terminal again (cryo has none), the terminal
	 * it has is the one it had */
	const FdEntry *tty;
	bool tty_own, tty_same;
	/* res/sysvipc.c: ipc.img, and per object (segments, sets, queues in that order) whether
	 * this restore made it (removed again if the restore fails) */
	Ipc *ipc;
	bool *sysv_made;
	void **sysv_mem; /* per segment: cryo's attach of it, until every task has its own */
};

/* Helpers for the resource files (restore_ctx.c: below the driver, never in it). */
int restore_alloc_fd(struct restore_ctx *ctx);
/* In a new task: close every descriptor but the service fds (its parent's, or cryo's) */
int restore_close_but_svc(struct restore_ctx *ctx);
struct svc_file *restore_add_global(struct restore_ctx *ctx, struct svc_file f);
struct svc_file *restore_find_desc(struct restore_ctx *ctx, pid_t pid, int fd);
struct restore_task *restore_find_task(struct restore_ctx *ctx, pid_t pid);

/* The child phase (restore_child.c), called by the driver. */
long restore_create(struct restore_ctx *ctx, pid_t pid, int exit_signal, uint64_t flags,
		    int *pidfd);
int restore_root_setup(struct restore_ctx *ctx, struct restore_task *t);
void restore_task_main(struct restore_ctx *ctx, struct restore_task *t, pid_t parent)
    __attribute__((noreturn));
void restore_helper_main(struct restore_ctx *ctx, int h, pid_t parent) __attribute__((noreturn));
bool restore_pid_is_dying(pid_t pid);
const char *restore_pid_owner(pid_t pid, char *buf, size_t len);

/* Holding what the restore created (restore_hold.c): ids checked, pidfds, the watch on cryo. */
int restore_check_ids(struct restore_ctx *ctx);
int restore_hold_self(struct restore_ctx *ctx, int at);
int restore_hold_init(struct restore_ctx *ctx);
int restore_hold_poll(struct restore_ctx *ctx);
bool restore_holds(struct restore_ctx *ctx, int slot);
bool restore_slot_alive(struct restore_ctx *ctx, int slot);
void restore_kill_created(struct restore_ctx *ctx);
void restore_hold_free(struct restore_ctx *ctx);
void child_hold_handshake(struct restore_ctx *ctx, int slot, pid_t parent, bool pdeath);
void child_futex_wait(struct restore_ctx *ctx, uint32_t *word, uint32_t val);
void child_pause(struct restore_ctx *ctx, long ns);

/* Child phase (runs inside the new task, ordinary C). Failures are reported with child_fail. */
void child_fail(struct restore_task *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int restore_fs_child(struct restore_ctx *ctx, struct restore_task *t);
int restore_task_attrs_child(struct restore_ctx *ctx, struct restore_task *t);

/* Planning and validation before the task exists */
int mm_plan(struct restore_ctx *ctx, struct restore_task *t);
int pages_validate(struct restore_task *t);

/* Remote phase (cryo drives the stopped task). */
int restore_mm_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_pages_start(struct restore_ctx *ctx, struct restore_task *t);
int restore_pages_finish(struct restore_ctx *ctx, struct restore_task *t);
void restore_pages_free(struct restore_task *t);
int restore_mm_fields_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_signals_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_altstack_remote(struct restore_ctx *ctx, struct restore_task *t,
			    struct restore_thread *th);
int restore_pending_signals_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_timers_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_thread_attrs_remote(struct restore_ctx *ctx, struct restore_task *t,
				struct restore_thread *th);
/* Seccomp per thread (seccomp.c): begin before the threads are created, before_thread just
 * before thread k is, finish once they all exist. */
int restore_seccomp_begin(struct restore_ctx *ctx, struct restore_task *t);
int restore_seccomp_before_thread(struct restore_ctx *ctx, struct restore_task *t, int k);
int restore_seccomp_finish(struct restore_ctx *ctx, struct restore_task *t);
int restore_creds_remote(struct restore_ctx *ctx, struct restore_task *t,
			 struct restore_thread *th);
/* Before anything is created: can cryo give every task its credentials, and create tasks
 * with chosen ids at all? Refuses naming the task and what it lacks. */
int restore_check_privileges(struct restore_ctx *ctx);
int restore_rlimits_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_task_attrs_remote(struct restore_ctx *ctx, struct restore_task *t);
int restore_task_attrs_outside(struct restore_ctx *ctx, struct restore_task *t);
int restore_regs(struct restore_ctx *ctx, struct restore_task *t, struct restore_thread *th);

/* Child phase: fd (just opened; < 0: the open failed, errno says why) moved to number at;
 * -1 after child_fail naming what. */
int restore_place_fd(struct restore_task *t, int fd, int at, const char *what);

#endif
