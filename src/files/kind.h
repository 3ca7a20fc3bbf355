/* Inside src/files/: what one kind of descriptor provides. Each kind is one source file with
 * its dump and restore halves side by side and one `struct fd_ops`, and one line in the table
 * of files.c. The dispatcher (files.c) walks /proc/PID/fd, asks each kind in table order
 * whether it recognises the descriptor, and hands it to the first that does. */
#ifndef CRYO_FILES_KIND_H
#define CRYO_FILES_KIND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/dump_ctx.h"
#include "core/restore_ctx.h"
#include "files/files.h"

/* What the dispatcher learned of one descriptor before any kind looks at it. */
struct fd_info {
	pid_t pid;
	int fd;
	char link[4096];  /* the /proc/PID/fd/N link text: "/path", "pipe:[123]", ... */
	const char *anon; /* "[eventfd]" for "anon_inode:[eventfd]", else NULL */
	struct stat st;	  /* stat() through the link */
	bool has_st;
	uint32_t flags; /* fdinfo's flags (O_CLOEXEC included) */
	uint64_t pos;
	char *fdinfo; /* the whole of /proc/PID/fdinfo/N (an epoll's may hold 1,000s of lines) */
	/* a socket ("socket:[ino]"): SO_DOMAIN, SO_TYPE, SO_PROTOCOL of cryo's copy of it, for
	 * the kinds to recognise their family by; sk_family 0 for anything else */
	int sk_family, sk_type, sk_protocol;
	int task_pidfd; /* the walk's pidfd of the task (fd_take_copy), not the kind's to close */
	/* cryo's copy of the descriptor (pidfd_getfd), taken once by the walk and closed by
	 * it; -1 for an O_PATH one (which cannot be copied) or when there is none (copy_err:
	 * why) */
	int copy, copy_err;
	/* a socket's options of the table (inet_opts.c), read ahead of the walk, or NULL */
	struct inet_opts_pre *opts_pre;
};

/* cryo's own copy of the task's descriptor fi->fd (pidfd_getfd: the same open file
 * description), for a kind to read its state from without changing it; the caller closes
 * it. -errno, logged as "task P: fd N: cannot take a copy of WHAT". */
int fd_take_copy(const struct fd_info *fi, const char *what);
/* The frame of a socket kind's dump: cryo's copy of fi's descriptor taken (fd_take_copy),
 * dump(ctx, t, fi, copy, e, who) run on it with who "task P: fd N", the copy closed. dump's
 * result, or fd_take_copy's. */
typedef int (*fd_copy_dump_fn)(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			       int copy, FdEntry *e, const char *who);
int fd_dump_copy(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e,
		 const char *what, fd_copy_dump_fn dump);

/* fi for cryo's own descriptor fd (a file in flight it holds a copy of: inflight.c), as the
 * walk sees a task's, with self_pidfd (a pidfd of cryo) for fd_take_copy. 0 or -errno. */
int fd_info_own(int fd, int self_pidfd, struct fd_info *fi);
/* Free fi (calloc'd) with what the walk took for it: its fdinfo, its copy */
void fd_info_free(struct fd_info *fi);
/* e made a reference (dup_of) to orig, saved before, for fd: the description's own state
 * is orig's alone (dup_of_pid and cloexec are the caller's to set) */
void files_ref_entry(FdEntry *e, const FdEntry *orig, int fd);

struct fd_ops {
	const char *name;  /* for messages: "a regular file", "an eventfd" */
	const char *names; /* ... for several: "regular files", "eventfds" */
	FdKind kind;	   /* the image's kind; 0: recognised, not supported yet */
	/* Is this descriptor of this kind? Either a function, or the link text's prefix. */
	bool (*recognise)(const struct fd_info *fi);
	const char *link_prefix;
	bool show_link;	  /* name the link text in a refusal (a catch-all kind) */
	bool own_sharing; /* restore shares descriptions by itself (none does now) */
	/* Fill e (fd, flags, pos, mode, size, rdev are set); log and return -ENOTSUP to refuse
	 * (the walk goes on and names every refusal). NULL: not supported yet. */
	int (*dump)(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		    FdEntry *e);
	/* Child phase: return a new descriptor for e, as the task had it (positioned), opened
	 * with the open flags `flags`; or -1 after child_fail. */
	int (*restore)(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
		       int flags);
	/* Child phase, once per task after every fd of it is in place (and its close-on-exec
	 * flag set; the numbers of late kinds are still free): what this kind's descriptors
	 * need of the others (an epoll's targets). -1 after child_fail. NULL: nothing. */
	int (*restore_finish)(struct restore_ctx *ctx, struct restore_task *t);
	/* The highest fd number the restore of e uses besides e->fd (for the plan of service
	 * fds above it), or -1. NULL: none. */
	int (*max_fd)(const FdEntry *e);
	/* Image checks of e (beyond what holds for every kind); refuse naming img. */
	int (*validate)(const char *img, const Files *f, const FdEntry *e);
	/* Built late (late.c), in the remote phase once every task and thread exists (a pidfd
	 * of a task made after the holder): `restore` is not used; restore_late makes the
	 * object in task t by remote calls and returns its descriptor number there, or a
	 * negative errno after logging. Shared descriptions are copied by late.c. */
	bool late;
	long (*restore_late)(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e);
};

extern const struct fd_ops fd_reg_ops, fd_dir_ops, fd_path_ops, fd_chr_ops, fd_tty_ops;
extern const struct fd_ops fd_eventfd_ops, fd_signalfd_ops, fd_epoll_ops;
extern const struct fd_ops fd_timerfd_ops, fd_inotify_ops, fd_fanotify_ops;
extern const struct fd_ops fd_pipe_ops, fd_fifo_ops;
extern const struct fd_ops fd_memfd_ops;
extern const struct fd_ops fd_pidfd_ops;
extern const struct fd_ops fd_inet_sk_ops;
extern const struct fd_ops fd_pty_master_ops, fd_pty_slave_ops;
extern const struct fd_ops fd_unix_sk_ops;
extern const struct fd_ops fd_netlink_sk_ops, fd_packet_sk_ops;
/* kinds recognised but not supported yet (unsupported.c), and the catch-alls */
extern const struct fd_ops *const fd_unsupported[];
extern const struct fd_ops *const fd_catch_all[];

/* The kind that takes the descriptor fi at dump (unsupported ones included), or NULL. */
const struct fd_ops *files_kind_of(const struct fd_info *fi);
/* The kind that restores image kind k, or NULL. */
const struct fd_ops *fd_ops_of(FdKind k);

/* Log why img is refused and return -EINVAL (files/validate.c). */
int files_refuse(const char *img, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A socket entry's own state (state: its message, NULL if none): a dup of another fd has none,
 * any other entry has it. 1: a dup, nothing more to check; 0: e holds its state; or the
 * refusal (-EINVAL) naming what ("a netlink socket"). (files/validate.c) */
int files_sock_state(const char *img, const FdEntry *e, const void *state, const char *what);

/* reg.c: plan a regular file given with --inherit-fd */
int reg_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e);

/* ---- files with a name (named.c): by path, by file handle, or as a ghost ---- */

/* Save how to reopen a file that is in the file system (or was: a ghost): e->path, or a file
 * handle where the name is gone but other names remain, or a ghost where no name remains.
 * Refuses (-ENOTSUP, logged) what cannot be reopened exactly. */
int named_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e);
/* Open it again with `flags` (child phase); -1 after child_fail. */
int named_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags);
int named_validate(const char *img, const Files *f, const FdEntry *e);

/* ---- handle.c: reopen by file handle ---- */
int handle_dump(struct dump_ctx *ctx, const struct fd_info *fi, FdEntry *e);
int handle_open(struct restore_task *t, const FdEntry *e, int flags);
/* A mount point of the file system on device dev (/proc/self/mountinfo), opened; -1 if none */
int handle_mount_fd(dev_t dev);

/* ---- fsnotify.c: what inotify and fanotify share ---- */
#define FSNOTIFY_HANDLE_MAX 128 /* MAX_HANDLE_SZ */
/* fdinfo's "sdev:" (the kernel's encoding, major << 20 | minor) as stat() gives a device */
uint64_t fsnotify_dev(unsigned long sdev);
/* the inode ino of device dev, opened O_PATH by its file handle and checked to be that
 * inode; -1 with errno */
int fsnotify_open_inode(uint64_t dev, uint64_t ino, const ProtobufCBinaryData *handle,
			int32_t type);
/* n bytes of hex text s into out; -1 if s is not that */
int fsnotify_hex(const char *s, unsigned char *out, size_t n);
/* "device M:m (TYPE, mounted at PATH)" for messages */
void fsnotify_describe_dev(uint64_t dev, char *buf, size_t size);
/* bytes of events queued in fd of task t (FIONREAD on a copy), or -errno (logged) */
int fsnotify_queued(struct dump_task *t, int fd, const char *what);

/* ---- ghost.c: files deleted while open ---- */
int ghost_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e,
	       const char *orig_path);
int ghost_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags);
int ghosts_validate(struct restore_ctx *ctx, struct restore_task *t, const char *img);

/* ---- extents.c: a file's content as its data ranges (ghosts, memfds) ---- */
/* Dump: the data ranges of src (size bytes) copied into a new raw image (type, id), each
 * noted in *ext / *n (arena). 0 or -errno, logged with who ("task 1: fd 3") and what ("the
 * memfd memfd:x"). */
int extents_dump(struct dump_ctx *ctx, int src, off_t size, enum img_type type, int id,
		 GhostExtent ***ext, size_t *n, const char *who, const char *what);
/* Restore: the ranges ext[0..n) of that image written back into dst at their offsets, then
 * dst given its size. -1 after child_fail naming what. */
int extents_restore(struct restore_ctx *ctx, struct restore_task *t, enum img_type type, int id,
		    int dst, GhostExtent *const *ext, size_t n, uint64_t size, const char *what);

/* ---- shared.c: one open file description in several fds or tasks ---- */
/* An fd saved before (this task or one before it) with the same description, or NULL. */
FdEntry *shared_find(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
		     pid_t *owner);
/* ... and after a description not found was saved as e: later fds find it */
int shared_note(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e);
/* Restore: the fd of task t to place as a copy of an fd that exists already (shared with
 * another task: the root's global; a dup in this task: that fd), or -1 if e is opened. */
int shared_source(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e);

/* ---- pipe.c: pipes, and the pipe inside a FIFO (fifo.c) ---- */
/* Dump: e is a description of a pipe object (fifo: with a name); its id goes into e. */
int pipe_note(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e,
	      bool fifo);
/* ... a description of a pipe of the tree that only a message in flight holds (fi: cryo's
 * copy): its pipe_id into e, the object told it has that end (inflight.c); 1: no pipe of
 * the tree's, or one that cannot have it (a FIFO, an external pipe) */
int pipe_note_inflight(struct dump_ctx *ctx, const struct fd_info *fi, FdEntry *e);
/* shared_find for a pipe or FIFO description */
FdEntry *pipe_shared_find(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			  pid_t *owner);
/* ... once every task was walked: what the walk of the processes outside the tree must read
 * for them (core/others.h); after that walk, outside holders refused, sizes and queued bytes
 * saved */
void pipes_others_want(struct dump_ctx *ctx);
int pipes_dump_finish(struct dump_ctx *ctx);
/* Restore: plan one (not dup) entry of a pipe or FIFO; open a task's description of it */
int pipe_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e);
int pipe_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags);
/* ... the child phase's service fd of a write end of e's pipe object (a FIFO's read-write
 * one), or -1 (none: an external pipe's is not the tree's to write into) */
int pipe_writer_fd(struct restore_ctx *ctx, const FdEntry *e);
/* ... may a description of e's pipe be made by the root for a message in flight (a pipe the
 * tree's tasks planned, not a FIFO nor external)? */
bool pipe_inflight_ok(struct restore_ctx *ctx, const FdEntry *e);
int pipe_validate_common(const char *img, const FdEntry *e);
/* fifo.c: a FIFO deleted while open, made again by the root: opened read-write with its
 * owner and mode, its name already removed (-1 after child_fail); its times, once the bytes
 * are back */
int fifo_deleted_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e);
int fifo_deleted_finish(struct restore_task *t, const FdEntry *e, int fd);

/* ---- owner.c: F_SETOWN_EX / F_SETSIG of any description; leases.c: F_SETLEASE ---- */
/* Dump, e's first fd of its description; copy: cryo's own copy of it (pidfd_getfd) */
int owner_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, int copy,
	       FdEntry *e);
int owner_validate(struct restore_ctx *ctx, struct restore_task *t, const char *img,
		   const FdEntry *e);
int lease_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, int copy,
	       FdEntry *e);
int lease_validate(struct restore_ctx *ctx, const char *img, const FdEntry *e);
/* The task of the dumped tree that is process `tid` (or, with thread, has thread `tid`);
 * NULL if none (pidfd.c) */
const struct dump_task *dump_tree_task_of(struct dump_ctx *ctx, pid_t tid, bool thread);
/* Restore: is `id` a process (F_OWNER_PID), a thread (F_OWNER_TID) or a process group
 * (F_OWNER_PGRP) of the images' tree? (owner.c) */
bool restore_tree_has(struct restore_ctx *ctx, pid_t id, int type);
/* ... and is it there when task t's late descriptors and owners are made: a thread other than
 * a leader exists once its process was rebuilt, in the tree's order (owner.c) */
bool restore_tid_in_time(struct restore_ctx *ctx, struct restore_task *t, pid_t tid);
int pidfd_validate_tree(struct restore_ctx *ctx, struct restore_task *t, const char *img,
			const FdEntry *e);
/* ---- epoll.c: registrations whose file another task of the tree holds ---- */
/* Dump: once every task was walked, each such registration named by the first fd of its
 * description, and refused (-ENOTSUP) when of a kind the restore cannot share so */
int epoll_dump_finish(struct dump_ctx *ctx);
/* Restore: the descriptions those registrations name become globals of the root */
int epoll_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e);
/* ---- unix_sk.c, unix_sk_restore.c: unix sockets ---- */
/* Dump: once every task was walked, peers found and the set checked */
int unix_dump_finish(struct dump_ctx *ctx);
/* Restore: plan one (not dup) entry; a task's descriptor of it */
int unix_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e);
int unix_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags);

/* ---- inflight.c: open files in flight in unix sockets' queues (SCM_RIGHTS) ---- */
/* Dump: the copies a peek of message m (index msg of socket fd of task t) gave cryo, kept
 * until every task was walked (the fds are the table's then, closed on any failure) */
int inflight_note(struct dump_ctx *ctx, struct dump_task *t, int fd, size_t msg, UnixMsg *m,
		  const int *fds, size_t n);
/* ... each saved into its socket's task's files.inflight, as a reference to a task's fd of
 * the same description or by its kind; cryo's copies closed. -ENOTSUP after naming each. */
int inflight_dump_finish(struct dump_ctx *ctx);
/* Restore: the images' in-flight entries checked (img/validate.c, with the task's files) */
int inflight_validate(struct restore_ctx *ctx, struct restore_task *t, const char *img);
/* ... the descriptions tasks hold that are in flight too: globals the root makes, before
 * the queues are written (unix_plan_check) */
int inflight_plan(struct restore_ctx *ctx);
/* ... in the root: the descriptor to send for entry k of task t's files.inflight: opened
 * once, into opened[k] (closed by the caller), or a global's, or unix socket id's
 * unix_fds[id] (n_unix of them); -1 after child_fail */
int inflight_fd(struct restore_ctx *ctx, struct restore_task *t, uint32_t k, int *opened,
		const int *unix_fds, uint32_t n_unix);

/* ---- inherit.c: --inherit-fd ---- */
/* Plan: the use of key by entry e of task t with access acc (O_RDONLY or O_WRONLY), at
 * service fd at; refused naming the key and the option when no fd was given for it */
int inherit_plan(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, const char *key,
		 int acc, int at);
/* ... the key of an --inherit-fd that names e's path (without its leading '/'), or NULL */
const char *inherit_path_key(struct restore_ctx *ctx, const FdEntry *e);
/* ... the service fd planned for key and acc, or -1 */
int inherit_find(struct restore_ctx *ctx, const char *key, int acc);

/* ---- late.c: the descriptors of late kinds (pidfds), in the remote phase ---- */
bool files_entry_is_late(const FdEntry *e);
/* ---- procfile.c: /proc/N/... of a process or thread N of the tree, a late descriptor ---- */
/* Dump: 0 (e filled), 1 (not such a file), or a negative errno after logging */
int procfile_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e);
/* Would a descriptor with this link text be a late /proc file of task t (not its own)? */
bool procfile_is_late(struct dump_ctx *ctx, struct dump_task *t, const char *link);
long procfile_restore_late(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e);
int procfile_validate(struct restore_ctx *ctx, struct restore_task *t, const char *img,
		      const FdEntry *e);

/* the child phase's open of one entry by its kind (files.c) */
int files_open_one(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e);
/* the flags to open again the file of e with: never create, truncate or take a terminal (the
 * file is there as it was); O_ASYNC comes in the remote phase, after the owner (owner.c); a
 * file made by O_TMPFILE keeps that flag (and O_DIRECTORY's bit, part of it): opened again it
 * is the file it became, not a new one in a directory */
int files_reopen_flags(const FdEntry *e);

#endif
