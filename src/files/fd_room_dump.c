/* Dump: is there room for the restore's own descriptors (fd_room.h)? The restore puts them at
 * numbers no task of the tree has, below cryo's RLIMIT_NOFILE hard limit; a tree that leaves
 * fewer free than the restore may take would be lost by a dump that kills it, so the dump
 * refuses it, naming the task with the most descriptors, its highest fd and the limit. */
#include <errno.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "files/fd_room.h"
#include "files/files.h"

int fd_room_check(struct dump_ctx *ctx)
{
	struct fd_room r;
	int limit = fd_room_limit(0), ret, worst = -1, worst_max = -1;
	size_t need = fd_room_tree_need(ctx->nr_tasks), worst_n = 0;

	if (limit < 0)
		return limit;
	if ((ret = fd_room_init(&r, limit)))
		return ret;
	for (int fd = 0; fd < 3; fd++)
		fd_room_use(&r, fd);
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		int max = -1;
		if (t->zombie || !t->files)
			continue;
		int over = fd_room_use_files(&r, t->files);
		if (over >= 0) {
			pr_err(
			    "task %d: fd %d is not below RLIMIT_NOFILE %d (cryo's hard limit): a "
			    "restore by this cryo cannot open it",
			    t->pid, over, limit);
			fd_room_free(&r);
			return -ENOTSUP;
		}
		for (size_t k = 0; k < t->files->n_fds; k++)
			if (t->files->fds[k]->fd > max)
				max = t->files->fds[k]->fd;
		need += fd_room_task_need(t->files, t->mm);
		if (worst < 0 || t->files->n_fds > worst_n)
			worst = t->pid, worst_n = t->files->n_fds, worst_max = max;
	}
	int free_n = limit - r.n_used;
	fd_room_free(&r);
	if (need <= (size_t)free_n) {
		pr_debug(
		    "descriptors: %d numbers of %d free for the restore's own, it may need %zu",
		    free_n, limit, need);
		return 0;
	}
	pr_err("task %d: fd %d (of its %zu descriptors) leaves too little room below "
	       "RLIMIT_NOFILE %d (cryo's hard limit, which the restored tasks have while they "
	       "are rebuilt): the restore needs up to %zu numbers no descriptor of the tree has "
	       "for its own, and %d are free",
	       worst, worst_max, worst_n, limit, need, free_n < 0 ? 0 : free_n);
	return -ENOTSUP;
}
