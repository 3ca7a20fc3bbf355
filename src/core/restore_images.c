/* The first step of a restore: read every image of the directory and check it, before
 * anything is created. Decoding and the header checks are in img/image.c, the checks of each
 * value in img/validate.c; what is checked here is how the images fit together (the tree,
 * one set of images per live task, threads as pstree.img lists them). Called by the restore
 * driver, and by the fuzzer on directories of its own making. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "img/validate.h"
#include "pages/read.h"
#include "res/locks.h"
#include "res/parent.h"
#include "res/sysvipc.h"

static int read_task_images(struct restore_ctx *ctx, struct restore_task *t)
{
	int ret;

	if ((ret = img_read(ctx->dirfd, IMG_CORE, t->pid, (ProtobufCMessage **)&t->core)) ||
	    (ret = img_read(ctx->dirfd, IMG_MM, t->pid, (ProtobufCMessage **)&t->mm)) ||
	    (ret = img_read(ctx->dirfd, IMG_PAGEMAP, t->pid, (ProtobufCMessage **)&t->pagemap)) ||
	    (ret = img_read(ctx->dirfd, IMG_FILES, t->pid, (ProtobufCMessage **)&t->files)))
		return ret;
	if (t->core->n_threads != t->pst->n_threads || !t->core->itimers) {
		pr_err("core-%d.img: %zu threads, pstree.img says %zu", t->pid, t->core->n_threads,
		       t->pst->n_threads);
		return -EINVAL;
	}
	t->threads = calloc(t->core->n_threads, sizeof(*t->threads));
	if (!t->threads)
		return -ENOMEM;
	t->nr_threads = t->core->n_threads;
	for (int k = 0; k < t->nr_threads; k++) {
		ThreadCore *tc = t->core->threads[k];
		if (tc->tid != t->pst->threads[k] || !tc->creds || !tc->regs || !tc->comm) {
			pr_err("core-%d.img: thread %d (%u) is incomplete or not in pstree.img",
			       t->pid, k, tc->tid);
			return -EINVAL;
		}
		t->threads[k].tid = tc->tid;
		t->threads[k].tc = tc;
		t->threads[k].rem = k ? &t->threads[k].own : &t->rem;
	}
	for (size_t k = 0; k < t->core->n_posix_timers; k++) {
		PosixTimer *pt = t->core->posix_timers[k];
		int j = 0;
		while (pt->has_notify_tid && j < t->nr_threads &&
		       t->threads[j].tid != (pid_t)pt->notify_tid)
			j++;
		if (j == t->nr_threads) {
			pr_err("core-%d.img: posix timer %d: notify_tid %u is not a thread of the "
			       "task",
			       t->pid, pt->id, pt->notify_tid);
			return -EINVAL;
		}
	}
	t->thread = t->core->threads[0];
	/* the layout is checked (sorted, aligned) before the page runs are looked up in it */
	if ((ret = validate_task(ctx, t)))
		return ret;
	/* a compressed image comes as a memfd of its pages, read as a merged one is */
	t->pages_fd_local =
	    pages_open(ctx->dirfd, t->pid, t->pagemap, &t->pages_size, &t->pages_merged);
	if (t->pages_fd_local < 0)
		return t->pages_fd_local;
	if ((ret = parent_merge(ctx, t)) || (ret = pages_validate(t)) || (ret = locks_validate(t)))
		return ret;
	return 0;
}

static int read_tree(struct restore_ctx *ctx)
{
	Pstree *tree = ctx->pstree;
	int ret;

	if (!tree->n_tasks || tree->n_tasks > 65536 || tree->tasks[0]->pid != ctx->inv->root_pid) {
		pr_err("pstree.img: %zu tasks, the first is not the root %u", tree->n_tasks,
		       ctx->inv->root_pid);
		return -EINVAL;
	}
	ctx->tasks = calloc(tree->n_tasks, sizeof(*ctx->tasks));
	if (!ctx->tasks)
		return -ENOMEM;
	ctx->nr_tasks = tree->n_tasks;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		PstreeTask *p = tree->tasks[i];
		t->idx = i;
		t->pid = p->pid;
		t->pst = p;
		t->pages_fd_local = -1;
		t->parent = -1;
		t->zombie = p->has_zombie && p->zombie;
	}
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		PstreeTask *p = t->pst;
		if (t->pid <= 1 || t->pid > 4194304 || restore_find_task(ctx, t->pid) != t) {
			pr_err("pstree.img: task %zu has an invalid or repeated pid %u", (size_t)i,
			       p->pid);
			return -EINVAL;
		}
		if (i) {
			struct restore_task *parent = restore_find_task(ctx, p->ppid);
			if (!parent || parent->idx >= i || parent->zombie) {
				pr_err(
				    "pstree.img: the parent %u of task %u does not come before it",
				    p->ppid, p->pid);
				return -EINVAL;
			}
			t->parent = parent->idx;
		}
		if (t->zombie ? p->n_threads != 0
			      : !p->n_threads || p->n_threads > 65536 || p->threads[0] != p->pid) {
			pr_err("pstree.img: task %u has an invalid thread list (%zu threads)",
			       p->pid, p->n_threads);
			return -EINVAL;
		}
	}
	if (ctx->tasks[0].zombie) {
		pr_err("pstree.img: the root is a zombie");
		return -EINVAL;
	}
	if ((ret = validate_tree_ids(ctx)))
		return ret;
	/* every pid of the tree is known now: images may refer to tasks that come later */
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie && (ret = read_task_images(ctx, &ctx->tasks[i])))
			return ret;
	/* a prefork page is read from its provider's image by name: not one resolved through
	 * parents (an incremental dump saves no copy-on-write sharing) */
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		for (size_t k = 0; !t->zombie && k < t->mm->n_prefork; k++) {
			struct restore_task *p =
			    restore_find_task(ctx, t->mm->prefork[k]->provider);
			if (t->pages_merged || (p && p->pages_merged)) {
				pr_err("mm-%d.img: prefork pages in an incremental image set",
				       t->pid);
				return -EINVAL;
			}
		}
	}
	return sysv_read_images(ctx);
}

/* Does the directory hold any *.img file? */
static bool has_images(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	bool found = false;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return true; /* cannot tell: the generic message */
	}
	while (!found && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		found = l > 4 && !strcmp(de->d_name + l - 4, ".img");
	}
	closedir(d);
	return found;
}

int restore_read_images(struct restore_ctx *ctx)
{
	int ret;

	/* no inventory: say what the directory is rather than which image is missing */
	if (faccessat(ctx->dirfd, "inventory.img", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT) {
		if (!has_images(ctx->dirfd))
			pr_err("%s holds no images: nothing to restore (dump into it first)",
			       ctx->opts->images_dir ? ctx->opts->images_dir : "the directory");
		else
			pr_err("%s has no inventory.img: it is not a complete checkpoint (a dump "
			       "that failed, or was stopped, leaves it so)",
			       ctx->opts->images_dir ? ctx->opts->images_dir : "the directory");
		return -ENOENT;
	}
	ret = img_read(ctx->dirfd, IMG_INVENTORY, 0, (ProtobufCMessage **)&ctx->inv);
	if (ret)
		return ret;
	if (ctx->inv->format_version != CRYO_FORMAT_VERSION || ctx->inv->page_size != PAGE_SIZE) {
		pr_err(
		    "inventory.img: format %u with %u-byte pages; this cryo reads format %d with "
		    "%lu-byte pages",
		    ctx->inv->format_version, ctx->inv->page_size, CRYO_FORMAT_VERSION, PAGE_SIZE);
		return -EINVAL;
	}
	if (ctx->inv->pre_dump) {
		pr_err("%s is a pre-dump: it holds memory only; restore the dump made after it "
		       "(with --prev-images-dir)",
		       ctx->opts->images_dir ? ctx->opts->images_dir : "the directory");
		return -EINVAL;
	}
	/* dump --lazy-pages: memory the images do not hold; only the lazy-pages daemon fetches
	 * it from the source (res/lazy.c checks each range against the task's layout) */
	if ((ctx->inv->lazyremote_source || ctx->inv->n_lazyremote_ranges) &&
	    !ctx->opts->lazy_pages) {
		pr_err("%s: the dump left its private memory at its source %s (dump --lazy-pages): "
		       "restore it with --lazy-pages, a `cryo lazy-pages --page-server --address "
		       "--port` fetching it",
		       ctx->opts->images_dir ? ctx->opts->images_dir : "the directory",
		       ctx->inv->lazyremote_source ? ctx->inv->lazyremote_source : "(none named)");
		return -EINVAL;
	}
	if (ctx->inv->shell_job && !ctx->opts->shell_job)
		pr_warn("the dump was made with --shell-job; restore may need it too");
	ret = img_read(ctx->dirfd, IMG_PSTREE, 0, (ProtobufCMessage **)&ctx->pstree);
	if (ret || (ret = restore_check_ids(ctx)))
		return ret;
	return read_tree(ctx);
}

#define IMG_MSG(m) ((m) ? &(m)->base : NULL)

void restore_images_free(struct restore_ctx *ctx)
{
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct restore_task *t = &ctx->tasks[i];
		if (t->pages_fd_local >= 0)
			close(t->pages_fd_local);
		parent_chain_free(t);
		free(t->threads);
		img_free(IMG_MSG(t->core));
		img_free(IMG_MSG(t->mm));
		img_free(IMG_MSG(t->pagemap));
		img_free(IMG_MSG(t->files));
	}
	free(ctx->tasks);
	sysv_restore_free(ctx);
	img_free(IMG_MSG(ctx->pstree));
	img_free(IMG_MSG(ctx->inv));
	ctx->tasks = NULL;
	ctx->nr_tasks = 0;
	ctx->pstree = NULL;
	ctx->inv = NULL;
}
