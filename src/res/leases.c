/* File leases (F_SETLEASE): a read or write lease of an open file description on a regular
 * file; the kernel tells its holder (the description's owner, with SIGIO or the F_SETSIG
 * signal) when another process opens the file in a conflicting way, and holds that open back
 * until the lease is given up. fdinfo shows it as a "lock:" line "LEASE ACTIVE READ ..." of
 * the description: locks.c refuses it without --file-locks, like a lock, and a lease being
 * broken (BREAKING) in any case. With --file-locks its type is read here with F_GETLEASE on
 * cryo's copy of the fd, for the first fd of the description.
 *
 * Restore: taken again by the task (remote fcntl F_SETLEASE) before it runs, with cryo's
 * credentials (a lease needs the file's owner or CAP_LEASE), before the owners are set
 * (owner.c): taking a lease makes the caller the description's owner. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "files/files.h"
#include "files/kind.h"

int lease_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, int copy,
	       FdEntry *e)
{
	int type;

	if (!ctx->opts->file_locks || !S_ISREG(fi->st.st_mode))
		return 0; /* refused by locks.c if it has one */
	type = fcntl(copy, F_GETLEASE);
	if (type < 0) {
		int err = errno;
		pr_errno(err, "task %d: fd %d: cannot read its lease (F_GETLEASE)", t->pid, fi->fd);
		return -err;
	}
	if (type == F_UNLCK)
		return 0;
	if (e->kind != FD_KIND__FD_REG) { /* a memfd...: its kind would have to take it again */
		pr_err("task %d: fd %d holds a lease on a file that is not a plain regular file: "
		       "not supported yet",
		       t->pid, fi->fd);
		return -ENOTSUP;
	}
	if (type != F_RDLCK && type != F_WRLCK) {
		pr_err("task %d: fd %d holds a lease of type %d, which cryo does not know", t->pid,
		       fi->fd, type);
		return -ENOTSUP;
	}
	e->has_lease = true;
	e->lease = (uint32_t)type;
	pr_info("task %d: fd %d holds a %s lease", t->pid, fi->fd,
		type == F_WRLCK ? "write" : "read");
	return 0;
}

int lease_validate(struct restore_ctx *ctx, const char *img, const FdEntry *e)
{
	(void)ctx;
	if (!e->has_lease || e->has_dup_of) /* a copy: the first fd's lease is taken */
		return 0;
	if ((e->lease != F_RDLCK && e->lease != F_WRLCK) || e->kind != FD_KIND__FD_REG)
		return files_refuse(img, "fd %d: lease %u is invalid here", e->fd, e->lease);
	return 0;
}

int restore_leases_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	struct remote *r = &t->rem;
	(void)ctx;
	if (t->core->files_shared_with_parent)
		return 0;
	for (size_t i = 0; i < t->files->n_fds; i++) {
		const FdEntry *e = t->files->fds[i];
		if (!e->has_lease || e->has_dup_of)
			continue;
		long rv = rsys3(r, __NR_fcntl, e->fd, F_SETLEASE, e->lease);
		if (rv < 0) {
			if (rv == -EAGAIN)
				pr_err("process %d: cannot take its %s lease on fd %d (%s) again: "
				       "another process has the file open",
				       t->pid, e->lease == F_WRLCK ? "write" : "read", e->fd,
				       e->path ? e->path : "?");
			else
				pr_errno((int)-rv,
					 "process %d: cannot take its lease on fd %d again", t->pid,
					 e->fd);
			return (int)rv;
		}
		pr_info("process %d: %s lease on fd %d taken again", t->pid,
			e->lease == F_WRLCK ? "write" : "read", e->fd);
	}
	return r->err;
}
