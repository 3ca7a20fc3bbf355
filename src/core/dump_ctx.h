/* State of one dump: the driver (dump.c) fills it step by step, the resource files
 * (src/res/) each add their part of the images. */
#ifndef CRYO_DUMP_CTX_H
#define CRYO_DUMP_CTX_H

#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "compat.h"
#include "cryo/cryo.h"
#include "core/arena.h"
#include "core/others.h"
#include "core/proc.h"
#include "img/image.h"
#include "remote/remote.h"
#include "files/files.h"
#include "net/netlock.h"
#include "net/sk_guard.h"
#include "res/restart.h"
#include "res/track.h"

#define NSIG_KERNEL 64

/* What only a thread itself can tell (remote calls). Each resource file asks its questions
 * (the *_ask functions below) into one batch per thread, run with one stop of the thread,
 * then reads the answers here: a remote call costs a round trip through the scheduler. */
struct thread_answers {
	long altstack_rv; /* signals.c */
	struct kernel_stack altstack;
	long securebits;  /* creds.c */
	long timer_slack; /* attrs.c */
	long tid_address_rv;
	uint64_t clear_child_tid;
	long cpuid;	   /* procstate.c: 1 unless CPUID faults for it */
	long spec_ctrl[3]; /* attrs.c: PR_GET_SPECULATION_CTRL of each PR_SPEC_* */
};
/* ... and the process-wide ones, asked in the leader's batch. */
struct task_answers {
	long brk;			    /* dump.c */
	long sigaction_rv[NSIG_KERNEL + 1]; /* signals.c */
	struct kernel_sigaction sigactions[NSIG_KERNEL + 1];
	long prlimit_rv[RLIM_NLIMITS]; /* attrs.c */
	struct kernel_rlimit64 rlimits[RLIM_NLIMITS];
	long pdeathsig_rv, subreaper_rv, dumpable, thp_disable, mce_kill;
	int32_t pdeathsig, subreaper;
	long membarrier_regs;	  /* MEMBARRIER_CMD_GET_REGISTRATIONS */
	long membarrier_probe[3]; /* each private expedited barrier: 0, or -EPERM if not ready */
	long mdwe, memory_merge;  /* procstate.c */
	long itimer_rv[3];	  /* timers.c */
	struct kernel_itimerval itimers[3];
};

/* One thread of a frozen task; the leader's remote is the task's own (it owns the area). */
struct dump_thread {
	pid_t tid;
	struct remote own;
	struct remote *rem;
	bool seized;
	uint64_t blocked;   /* its signal mask; all is blocked while cryo holds it */
	bool blocked_saved; /* ... once this is set */
	struct proc_status status;
	struct thread_answers ans;
	ThreadCore *tc;
	struct syscall_seen seen; /* its call just before the freeze (res/restart.h) */
};

struct dump_task {
	pid_t pid;
	int parent;	  /* index in ctx->tasks, -1 for the root */
	pid_t parent_tid; /* the parent's thread that created it */
	bool zombie;
	int exit_status;    /* of a zombie, as waitpid() reports it */
	int stop_signal;    /* stopped by job control with this signal, or 0 */
	bool stop_reported; /* ... and the parent has taken the report */
	bool files_shared;  /* with its parent: one descriptor table (CLONE_FILES) */
	bool fs_shared;	    /* with its parent: one cwd/root/umask (CLONE_FS) */
	struct proc_stat stat;
	struct proc_status status;
	struct remote rem; /* remote calls into the task while it is frozen */
	bool seized;
	struct task_answers ans;
	struct dump_thread *threads; /* [0] is the leader */
	int nr_threads;
	pid_t *gone; /* threads that exited while the task was being frozen */
	int nr_gone;
	TaskCore *core;
	Mm *mm;
	Pagemap *pagemap;
	Files *files;
	uint8_t **cow_shared;  /* per VMA: pages shared copy-on-write with the parent (cow.c) */
	uint64_t **cow_frames; /* per such VMA: its pagemap entries, for its later siblings */
	struct shmem_resident *shmem_res; /* mapped.c: pages of shared anonymous memory, */
	int nr_shmem_res;		  /* where map_files is closed to cryo */
	FileLock **locks;		  /* locks.c, with --file-locks: into the core image */
	size_t nr_locks;
	/* res/track.c: the tracking userfaultfd cryo keeps in the task (pre-dump) */
	bool has_track;		   /* the parent's images name one and it is there */
	bool track_armed;	   /* this run put one in the task: it goes again on a failure */
	int track_copy;		   /* cryo's descriptor of the new one until the task has it, */
	bool has_copy;		   /* ... when this is set */
	int track_fd;		   /* its number in the task */
	uint64_t track_ino;	   /* its inode */
	bool tracked;		   /* its writes since the parent image set are known: clean[] */
	bool kept;		   /* a pre-dump goes on with the parent's tracking (track_copy) */
	bool clean_inline;	   /* a final dump: clean[] unused, pages.c's scan tells them */
	int token_copy;		   /* cryo's descriptor of this level's token (a memfd), */
	bool has_token;		   /* ... when this is set */
	int token_fd;		   /* its number in the task */
	uint64_t token_ino;	   /* its inode */
	struct track_range *clean; /* sorted spans unchanged since the parent (malloc) */
	size_t nr_clean;
	int *track_hidden; /* fds of the task that are cryo's tracking userfaultfds (malloc) */
	int nr_track_hidden;
	/* a final dump that kills the tree keeps the tracking on (track_task): cryo's copy of
	 * the task's own, to tell its VMAs ("uw") from any other userfaultfd's (track_owns) */
	int track_probe;
	bool has_probe;
	/* res/predump.c: a pre-dump's reads, made after the thaw; the parent pre-dump's pages
	 * that it could not read (to take out of clean[]) */
	struct page_plan *plan;
	/* res/mm_flags.c: a final dump's smaps, read beside the pages (length or -errno) */
	char *smaps_buf;
	ssize_t smaps_len;
	struct track_range *lost;
	size_t nr_lost;
};

struct dump_ctx {
	const struct cryo_dump_opts *opts;
	pthread_t smaps_thread; /* res/mm_flags.c */
	bool smaps_started;
	int dirfd;
	struct arena arena;
	struct dump_task *tasks; /* parents before children; [0] is the root */
	int nr_tasks;
	DumpStats stats;
	uint64_t t_start, t_frozen, t_thawed;
	uint64_t frozen_before_ns; /* a pre-dump: its first freeze, before the pages were read */
	uint32_t next_ghost_id;
	struct write_ring *page_ring; /* pages.c's writer, kept for the whole dump */
	struct page_xfer *xfer;	      /* where the pages go (pages/xfer.h) */
	pid_t *preseized;	      /* threads seized while their cgroup was frozen */
	int nr_preseized;
	uint64_t freeze_deadline;	  /* --timeout: now_ns() when the freeze gives up */
	unsigned long seize_opts;	  /* ptrace options, see dump.c */
	struct mapped_file *mapped_files; /* mm.c: each file mapped by the tree, stat()ed once */
	/* files/inet_tcp.c: copies of the connections' sockets put in repair mode, and the
	 * network lock that drops their packets (its table name empty until the first) */
	int *tcp_copies;
	int nr_tcp_copies;
	/* SO_REUSEADDR of each copy, read before repair mode: leaving it clears the flag */
	unsigned char *tcp_reuse;
	struct inet_tcp_pending *tcp_pending; /* met in the walk, read at its end */
	pid_t sem_ref; /* res/sysv_sem.c: a child of cryo without a semaphore undo list, or 0 */
	int nr_tcp_pending;
	struct netlock netlock;
	/* net/sk_guard.c: puts back what the reads change on the tree's sockets if cryo dies */
	struct sk_guard sk_guard;
	int nr_mapped_files;
	struct pipe_table *pipes;    /* files/pipe.c: every pipe and FIFO of the tree (arena) */
	struct desc_index *descs;    /* files/shared.c: every open file description saved (arena) */
	struct pty_table *ptys;	     /* files/pty.c: pseudo-terminal pairs of the tree (arena) */
	struct memfd_table *memfds;  /* files/memfd.c: every memfd of the tree (arena) */
	int parent_dirfd;	     /* --prev-images-dir, res/track.c (-1: none) */
	uint32_t parent_root;	     /* ... the root pid its inventory names */
	struct unix_table *unix_sks; /* files/unix_sk.c: the namespace's unix sockets (arena) */
	Ipc *ipc;		     /* res/sysvipc.c: the System V objects saved (arena) */
	/* files/inflight.c: cryo's copies of the files in flight in unix sockets' queues */
	struct inflight_table *inflight;
	/* dump --lazy-pages (pages/lazy_source.c): the socket the daemon comes to, and the
	 * ranges whose pages stay in the tree (arena) */
	int lazy_lfd;
	LazyremoteRange **lazy_ranges;
	size_t n_lazy_ranges;
	uint64_t lazy_pages; /* ... the pages in them */
	uint64_t lazy_id;    /* ... the dump's random number (inventory lazyremote_id) */
	/* core/others.c: what the processes outside the tree hold, read once */
	struct others others;
};

/* A file mapped somewhere in the tree, as /proc/PID/smaps names it (device and inode), and
 * what stat() said of it (through map_files, or through its path, checked; see mapped.c). */
struct mapped_file {
	unsigned dev_major, dev_minor;
	uint64_t ino;
	uint64_t st_dev, st_ino, st_size;
	bool has_size;	  /* unknown for shared anonymous memory without map_files */
	const char *path; /* the path checked to lead to it (arena) */
};

/* Pages that exist in the object behind a shared anonymous mapping (see mapped.c) */
struct shmem_resident {
	uint64_t start, end;
	uint8_t *vec; /* one byte per page, bit 0: the page exists (arena) */
};

/* Growable repeated field of message pointers in the arena (dump_ctx.c: helpers of the
 * resource files live below the driver, never in it). */
void *dump_push(struct dump_ctx *ctx, void ***arr, size_t *n, void *item);
#define DUMP_PUSH(ctx, field, n_field, item) dump_push(ctx, (void ***)&(field), &(n_field), item)
/* The task of the tree with process id pid, or NULL. */
struct dump_task *dump_find_task(const struct dump_ctx *ctx, pid_t pid);

/* Questions for the task's own remote batches (see struct thread_answers). */
void signals_ask(struct remote_batch *b, struct dump_task *t);
void signals_ask_thread(struct remote_batch *b, struct dump_thread *th);
void creds_ask_thread(struct remote_batch *b, struct dump_thread *th);
void attrs_ask(struct remote_batch *b, struct dump_task *t);
void attrs_ask_thread(struct remote_batch *b, struct dump_thread *th);
void timers_ask(struct remote_batch *b, struct dump_task *t);

/* Resource dumpers: each fills its part of the task's messages. */
int dump_regs(struct dump_ctx *ctx, struct dump_task *t, struct dump_thread *th);
int dump_sigactions(struct dump_ctx *ctx, struct dump_task *t);
int dump_thread_signals(struct dump_ctx *ctx, struct dump_task *t, struct dump_thread *th);
int dump_timers(struct dump_ctx *ctx, struct dump_task *t);
int dump_creds(struct dump_ctx *ctx, struct dump_task *t, struct dump_thread *th);
int dump_task_attrs(struct dump_ctx *ctx, struct dump_task *t);
int dump_thread_attrs(struct dump_ctx *ctx, struct dump_task *t, struct dump_thread *th);
int dump_seccomp(struct dump_ctx *ctx, struct dump_task *t);
int dump_mm(struct dump_ctx *ctx, struct dump_task *t);
int dump_pages(struct dump_ctx *ctx, struct dump_task *t);
int pages_dump_finish(struct dump_ctx *ctx);
int dump_fs(struct dump_ctx *ctx, struct dump_task *t);

#endif
