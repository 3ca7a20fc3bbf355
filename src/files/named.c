/* Descriptors of files that live in the file system (regular files, directories, device
 * nodes, O_PATH descriptors): how each is found again at restore.
 *  - by its path, when the link text's path still leads to the same device and inode;
 *  - by its file handle, when its opened name is gone or leads elsewhere but the file still
 *    has names (a hard link remains): the same inode comes back (handle.c);
 *  - as a ghost, when no name is left: recreated from the image, opened, unlinked (ghost.c).
 * What fits none of them (a pseudo file system without handles) is refused by name. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"

#define DELETED_SUFFIX " (deleted)"
#define PROC_SUPER_MAGIC 0x9fa0

int named_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi, FdEntry *e)
{
	size_t l = strlen(fi->link), sl = strlen(DELETED_SUFFIX);
	struct stat now;
	struct statfs sfs;

	if (fi->link[0] != '/') {
		pr_err("task %d: fd %d (%s) has no path", t->pid, fi->fd, fi->link);
		return -ENOTSUP;
	}
	/* /proc/N/... of a process or thread of the tree: opened again late (procfile.c) */
	int ret = procfile_dump(ctx, t, fi, e);
	if (ret <= 0)
		return ret;
	e->path = arena_strdup(&ctx->arena, fi->link);
	if (!e->path)
		return -ENOMEM;
	if (lstat(fi->link, &now) == 0 && now.st_dev == fi->st.st_dev &&
	    (now.st_ino == fi->st.st_ino ||
	     /* /proc inode numbers are not stable: the same device is the best check */
	     (statfs(fi->link, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC)))
		return 0;
	bool deleted = l > sl && !strcmp(fi->link + l - sl, DELETED_SUFFIX);
	if (deleted)
		e->path[l - sl] = 0;
	if (fi->st.st_nlink == 0)
		return ghost_dump(ctx, t, fi, e, e->path);
	/* it still has a name: the same inode, found by its handle */
	return handle_dump(ctx, fi, e);
}

int named_open(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e, int flags)
{
	int fd;
	if ((e->has_ghost && e->ghost >= 0) || e->has_ghost_id)
		return ghost_open(ctx, t, e, flags);
	if (e->has_handle)
		return handle_open(t, e, flags);
	fd = open(e->path, flags);
	if (fd < 0)
		child_fail(t, errno, "cannot open %s for fd %d", e->path, e->fd);
	return fd;
}

int named_validate(const char *img, const Files *f, const FdEntry *e)
{
	if (!e->path || e->path[0] != '/')
		return files_refuse(img, "fd %d: no absolute path", e->fd);
	if (e->has_ghost && e->ghost >= 0 && (size_t)e->ghost >= f->n_ghosts)
		return files_refuse(img, "fd %d: ghost %d is not in the image", e->fd, e->ghost);
	if (e->has_handle && (!e->has_handle_type || !e->has_dev || !e->has_ino ||
			      e->handle.len == 0 || e->handle.len > 128))
		return files_refuse(img, "fd %d: file handle of %zu bytes is invalid", e->fd,
				    e->handle.len);
	return 0;
}
