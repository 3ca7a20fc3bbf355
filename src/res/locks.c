/* File locks: flock(2) locks and OFD locks (of an open file description), POSIX record locks
 * (of the process, on a range). The kernel shows the locks of each open file in the task's
 * fdinfo ("lock:" lines: locks on that file description, and the task's POSIX locks on that
 * file). Without --file-locks a task holding one is refused, each lock named: restored
 * without it, another process could write what the lock kept out (a database would lose a
 * committed row). With it, each lock is saved once and taken again by the restored task itself
 * (remote flock/fcntl calls, the same owner as before) before it runs; a lock someone else
 * took meanwhile fails the restore, naming it. Leases ("LEASE" lines) are refused without
 * --file-locks too, and one being broken always; an active one is saved with its description
 * (res/leases.c), not here. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "res/locks.h"

struct seen_lock {
	int fd;
	LockKind kind;
	bool write;
	uint64_t start, len;
	char file[64]; /* dev:ino as fdinfo shows it */
};

/* One "lock:" line: "lock:\t1: POSIX  ADVISORY  WRITE 26474 fe:00:5333307 2 4". */
static int parse_lock(const char *line, struct seen_lock *l, char *kind, size_t kind_len)
{
	char type[16], mode[16], rw[16], end[32];
	long long pid;
	uint64_t start;
	const char *p = strchr(line + 5, ':');
	if (!p || sscanf(p + 1, "%15s %15s %15s %lld %63s %" SCNu64 " %31s", type, mode, rw, &pid,
			 l->file, &start, end) != 7)
		return -EINVAL;
	snprintf(kind, kind_len, "%s %s", type, rw);
	if (!strcmp(type, "FLOCK"))
		l->kind = LOCK_KIND__LOCK_FLOCK;
	else if (!strcmp(type, "POSIX"))
		l->kind = LOCK_KIND__LOCK_POSIX;
	else if (!strcmp(type, "OFDLCK"))
		l->kind = LOCK_KIND__LOCK_OFD;
	else if (!strcmp(type, "LEASE"))
		return strcmp(mode, "ACTIVE") ? -EBUSY : 1; /* BREAKING, BREAKER: refused */
	else
		return -ENOTSUP; /* DELEG...: not supported */
	if (strcmp(mode, "ADVISORY") || (strcmp(rw, "READ") && strcmp(rw, "WRITE")))
		return -ENOTSUP;
	l->write = !strcmp(rw, "WRITE");
	l->start = start;
	if (!strcmp(end, "EOF")) {
		l->len = 0;
	} else {
		uint64_t last = strtoull(end, NULL, 10);
		if (last < start)
			return -EINVAL;
		l->len = last - start + 1;
	}
	return 0;
}

/* Seen already: a POSIX lock shows under every fd of its file, a flock or OFD lock under every
 * fd of its open file description. */
static bool seen_before(pid_t pid, const struct seen_lock *all, size_t n, const struct seen_lock *l)
{
	for (size_t i = 0; i < n; i++) {
		const struct seen_lock *o = &all[i];
		if (o->kind != l->kind || strcmp(o->file, l->file) || o->start != l->start ||
		    o->len != l->len || o->write != l->write)
			continue;
		if (l->kind == LOCK_KIND__LOCK_POSIX ||
		    syscall(SYS_kcmp, pid, pid, KCMP_FILE, o->fd, l->fd) == 0)
			return true;
	}
	return false;
}

int locks_note(struct dump_ctx *ctx, struct dump_task *t, struct lock_walk *w, int fd, char *fdinfo)
{
	for (char *l = strstr(fdinfo, "lock:"); l; l = strstr(l + 1, "\nlock:")) {
		struct seen_lock sl = {.fd = fd};
		char kind[40] = "?";
		char *end;
		if (*l == '\n')
			l++;
		end = strchr(l, '\n');
		if (end)
			*end = '\0';
		int r = parse_lock(l, &sl, kind, sizeof(kind));
		if (r < 0 || !ctx->opts->file_locks) {
			pr_err("task %d: fd %d holds a file %s (%s): %s", t->pid, sl.fd,
			       r == 1 || r == -EBUSY ? "lease" : "lock",
			       l + 5 + strspn(l + 5, "\t 0123456789:"),
			       r == -EBUSY ? "a lease being broken cannot be saved"
			       : r == -ENOTSUP || r == -EINVAL
				   ? "this kind of lock is not supported yet"
				   : "dump with --file-locks to save it");
			w->refused++;
		} else if (r == 1) {
			/* an active lease: saved with its description (res/leases.c) */
		} else if (!seen_before(t->pid, w->seen, w->n, &sl)) {
			if (w->n == w->cap) {
				size_t cap = w->cap ? 2 * w->cap : 8;
				struct seen_lock *ns = realloc(w->seen, cap * sizeof(*ns));
				if (!ns) {
					if (end)
						*end = '\n';
					return -ENOMEM;
				}
				w->seen = ns, w->cap = cap;
			}
			w->seen[w->n++] = sl;
			pr_info("task %d: fd %d holds a %s lock, from %" PRIu64 " for %" PRIu64
				" bytes (0: to the end)",
				t->pid, sl.fd, kind, sl.start, sl.len);
		}
		if (end)
			*end = '\n';
	}
	return w->refused ? -ENOTSUP : 0;
}

int locks_walk_end(struct dump_ctx *ctx, struct dump_task *t, struct lock_walk *w)
{
	int ret = w->refused ? -ENOTSUP : 0;
	if (!ret && w->n) {
		t->locks = arena_alloc(&ctx->arena, w->n * sizeof(*t->locks));
		if (!t->locks)
			ret = -ENOMEM;
		for (size_t i = 0; !ret && i < w->n; i++) {
			FileLock *fl = A_NEW(&ctx->arena, FileLock, FILE_LOCK);
			if (!fl) {
				ret = -ENOMEM;
				break;
			}
			fl->fd = w->seen[i].fd;
			fl->kind = w->seen[i].kind;
			fl->write = w->seen[i].write;
			fl->start = w->seen[i].start;
			fl->len = w->seen[i].len;
			t->locks[t->nr_locks++] = fl;
		}
	}
	free(w->seen);
	*w = (struct lock_walk){0};
	return ret;
}

int locks_validate(struct restore_task *t)
{
	for (size_t i = 0; i < t->core->n_file_locks; i++) {
		const FileLock *l = t->core->file_locks[i];
		bool found = false;
		for (size_t k = 0; !found && k < t->files->n_fds; k++)
			found = t->files->fds[k]->fd == l->fd;
		if (!found ||
		    (l->kind != LOCK_KIND__LOCK_FLOCK && l->kind != LOCK_KIND__LOCK_POSIX &&
		     l->kind != LOCK_KIND__LOCK_OFD) ||
		    l->start > INT64_MAX || l->len > INT64_MAX || l->start + l->len > INT64_MAX ||
		    (l->kind == LOCK_KIND__LOCK_FLOCK && (l->start || l->len))) {
			pr_err("core-%d.img: file lock %zu (fd %d, kind %d, from %" PRIu64
			       " for %" PRIu64 ") is invalid or its fd is not among the task's",
			       t->pid, i, l->fd, l->kind, l->start, l->len);
			return -EINVAL;
		}
	}
	return 0;
}

int restore_locks_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	(void)ctx;
	for (size_t i = 0; i < t->core->n_file_locks; i++) {
		const FileLock *l = t->core->file_locks[i];
		struct flock fl = {.l_type = l->write ? F_WRLCK : F_RDLCK,
				   .l_whence = SEEK_SET,
				   .l_start = (off_t)l->start,
				   .l_len = (off_t)l->len};
		const char *what = l->kind == LOCK_KIND__LOCK_FLOCK   ? "flock"
				   : l->kind == LOCK_KIND__LOCK_POSIX ? "POSIX"
								      : "OFD";
		long rv;
		if (l->kind == LOCK_KIND__LOCK_FLOCK) {
			rv = rsys2(r, __NR_flock, l->fd, (l->write ? LOCK_EX : LOCK_SH) | LOCK_NB);
		} else {
			int ret = remote_write(t->pid, remote_scratch(r), &fl, sizeof(fl));
			if (ret)
				return ret;
			rv = rsys3(r, __NR_fcntl, l->fd,
				   l->kind == LOCK_KIND__LOCK_POSIX ? F_SETLK : F_OFD_SETLK,
				   remote_scratch(r));
		}
		if (rv < 0) {
			if (rv == -EAGAIN || rv == -EWOULDBLOCK || rv == -EACCES)
				pr_err("process %d: cannot take its %s %s lock on fd %d again: "
				       "another process holds a lock on that file now",
				       t->pid, what, l->write ? "write" : "read", l->fd);
			else
				pr_errno((int)-rv,
					 "process %d: cannot take its %s lock on fd %d again",
					 t->pid, what, l->fd);
			return (int)rv;
		}
		pr_info("process %d: %s %s lock on fd %d taken again", t->pid, what,
			l->write ? "write" : "read", l->fd);
	}
	return 0;
}
