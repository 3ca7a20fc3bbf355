/* Open file descriptors: regular files, directories, character devices, O_PATH descriptors,
 * files deleted while open ("ghost" files, whose content goes into ghost-N.img), and with
 * --shell-job the terminal. Read from /proc/PID/fd and fdinfo; rebuilt by the new task itself
 * in its child phase, at the same numbers, with the same flags and positions. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/kcmp.h>

#include "core/dump.h"
#include "core/log.h"
#include "core/restore.h"
#include "core/util.h"
#include "res/files.h"

#define DELETED_SUFFIX " (deleted)"

static bool is_tty_major(unsigned major)
{
	/* 4: virtual consoles and serial, 5: /dev/tty and ptmx, 136-143: pty slaves */
	return major == 4 || major == 5 || (major >= 136 && major <= 143);
}

static int read_fdinfo(pid_t pid, int fd, uint64_t *pos, uint32_t *flags)
{
	char path[64], buf[4096], *p;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if (read_file_at(-1, path, buf, sizeof(buf)) < 0)
		return -errno;
	p = strstr(buf, "pos:");
	*pos = p ? strtoull(p + 4, NULL, 10) : 0;
	p = strstr(buf, "flags:");
	*flags = p ? strtoul(p + 6, NULL, 8) : 0;
	return 0;
}

static int save_ghost(struct dump_ctx *ctx, struct dump_task *t, int fd, FdEntry *e,
		      const struct stat *st)
{
	char path[64], name[64];
	int src, out, ret = 0;
	uint32_t id = ctx->next_ghost_id++;
	GhostFile *g = A_NEW(&ctx->arena, GhostFile, GHOST_FILE);

	if (!g || !DUMP_PUSH(ctx, t->files->ghosts, t->files->n_ghosts, g))
		return -ENOMEM;
	g->id = id;
	g->orig_path = e->path;
	g->mode = st->st_mode;
	g->size = st->st_size;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", t->pid, fd);
	src = open(path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot open deleted file %s (fd %d) to save it", t->pid,
			 e->path, fd);
		return ret;
	}
	out = img_raw_create(ctx->dirfd, IMG_GHOST, id);
	if (out < 0) {
		close(src);
		return out;
	}
	img_name(IMG_GHOST, (int)id, name, sizeof(name));
	for (off_t off = 0; off < st->st_size;) {
		ssize_t n = sendfile(out, src, &off, st->st_size - off);
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			pr_errno(-ret, "task %d: cannot copy deleted file %s into %s", t->pid,
				 e->path, name);
			break;
		}
	}
	close(src);
	if (ret)
		close(out);
	else
		ret = img_close_synced(out, name);
	e->has_ghost = true;
	e->ghost = id;
	pr_info("task %d: fd %d: deleted file %s saved as ghost %u (%lld bytes)", t->pid, fd,
		e->path, id, (long long)st->st_size);
	return ret;
}

/* Is fd a duplicate (dup, dup2, F_DUPFD, inherited by fork) of an fd already saved, in this
 * task or one before it? Then it shares the open file description: position, flags,
 * everything but close-on-exec. Returns the original and, in *owner, its task. */
static FdEntry *same_description(struct dump_ctx *ctx, struct dump_task *t, int fd,
				 const struct stat *st, pid_t *owner)
{
	for (int k = 0; k < ctx->nr_tasks; k++) {
		struct dump_task *o = &ctx->tasks[k];
		if (o->zombie || !o->files)
			continue;
		for (size_t i = 0; i < o->files->n_fds; i++) {
			FdEntry *e = o->files->fds[i];
			if (e->has_dup_of || e->has_dup_of_pid || e->rdev != st->st_rdev ||
			    e->mode != st->st_mode || e->kind == FD_KIND__FD_TTY)
				continue;
			if (syscall(SYS_kcmp, o->pid, t->pid, KCMP_FILE, e->fd, fd) == 0) {
				*owner = o->pid;
				return e;
			}
		}
		if (o == t)
			break;
	}
	return NULL;
}

static int dump_one_fd(struct dump_ctx *ctx, struct dump_task *t, int fd)
{
	char path[64], link[4096];
	struct stat st;
	uint64_t pos = 0;
	uint32_t flags = 0;
	ssize_t n;
	FdEntry *e;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", t->pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	link[n] = 0;
	if (read_fdinfo(t->pid, fd, &pos, &flags) < 0)
		return -errno;

	if (!strncmp(link, "socket:", 7) || !strncmp(link, "pipe:", 5) ||
	    !strncmp(link, "anon_inode:", 11) || link[0] != '/') {
		char kind[32];
		snprintf(kind, sizeof(kind), "%.*s", (int)strcspn(link, ":["), link);
		pr_err("task %d: fd %d is a %s (%s): not supported yet", t->pid, fd, kind, link);
		return -ENOTSUP;
	}
	if (stat(path, &st) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot stat fd %d (%s)", t->pid, fd, link);
		return ret;
	}
	pid_t owner = 0;
	FdEntry *orig = same_description(ctx, t, fd, &st, &owner);
	e = A_NEW(&ctx->arena, FdEntry, FD_ENTRY);
	if (!e)
		return -ENOMEM;
	if (orig) {
		*e = *orig;
		e->fd = fd;
		e->cloexec = !!(flags & O_CLOEXEC);
		e->has_ghost = false;
		e->ghost = -1;
		e->has_dup_of = true;
		e->dup_of = orig->fd;
		if (owner != t->pid) {
			e->has_dup_of_pid = true;
			e->dup_of_pid = owner;
		}
		pr_info("task %d: fd %d shares its file description with fd %d of task %d", t->pid,
			fd, orig->fd, owner);
		return DUMP_PUSH(ctx, t->files->fds, t->files->n_fds, e) ? 0 : -ENOMEM;
	}
	if (!DUMP_PUSH(ctx, t->files->fds, t->files->n_fds, e))
		return -ENOMEM;
	e->fd = fd;
	e->cloexec = !!(flags & O_CLOEXEC);
	e->flags = flags & ~O_CLOEXEC;
	e->pos = pos;
	e->has_mode = e->has_size = e->has_rdev = true;
	e->mode = st.st_mode, e->size = st.st_size, e->rdev = st.st_rdev;
	e->path = arena_strdup(&ctx->arena, link);

	if (flags & O_PATH) {
		e->kind = FD_KIND__FD_PATH;
	} else if (S_ISREG(st.st_mode)) {
		e->kind = FD_KIND__FD_REG;
		size_t l = strlen(link), sl = strlen(DELETED_SUFFIX);
		if (st.st_nlink == 0) {
			if (l > sl && !strcmp(link + l - sl, DELETED_SUFFIX))
				e->path[l - sl] = 0;
			return save_ghost(ctx, t, fd, e, &st);
		}
	} else if (S_ISDIR(st.st_mode)) {
		e->kind = FD_KIND__FD_DIR;
	} else if (S_ISCHR(st.st_mode) && is_tty_major(major(st.st_rdev))) {
		if (!ctx->opts->shell_job) {
			pr_err("task %d: fd %d is the terminal %s: dump it with --shell-job",
			       t->pid, fd, link);
			return -ENOTSUP;
		}
		e->kind = FD_KIND__FD_TTY;
	} else if (S_ISCHR(st.st_mode)) {
		e->kind = FD_KIND__FD_CHR;
	} else {
		pr_err("task %d: fd %d (%s) is a kind of file not supported yet (mode %o)", t->pid,
		       fd, link, st.st_mode);
		return -ENOTSUP;
	}
	pr_info("task %d: fd %d %s flags %#o pos %lu", t->pid, fd, link, e->flags, pos);
	return 0;
}

int dump_files(struct dump_ctx *ctx, struct dump_task *t)
{
	char path[64];
	struct dirent **list;
	int n, ret = 0;

	t->files = A_NEW(&ctx->arena, Files, FILES);
	if (!t->files)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/fd", t->pid);
	n = scandir(path, &list, NULL, versionsort);
	if (n < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot list %s", path);
		return ret;
	}
	for (int i = 0; i < n; i++) {
		if (!ret && list[i]->d_name[0] != '.')
			ret = dump_one_fd(ctx, t, atoi(list[i]->d_name));
		free(list[i]);
	}
	free(list);
	return ret;
}

/* ---- restore ---- */

int files_validate(struct restore_ctx *ctx, struct restore_task *t)
{
	Files *f = t->files;
	for (size_t i = 0; i < f->n_fds; i++) {
		FdEntry *e = f->fds[i];
		if (e->fd < 0 || e->fd >= FILES_MAX_FD || e->kind < FD_KIND__FD_REG ||
		    e->kind > FD_KIND__FD_TTY ||
		    (e->kind != FD_KIND__FD_TTY && (!e->path || e->path[0] != '/')) ||
		    (e->has_ghost && e->ghost >= 0 && (size_t)e->ghost >= f->n_ghosts)) {
			pr_err("files-%d.img: descriptor entry %zu is invalid", t->pid, i);
			return -EINVAL;
		}
		if (e->has_dup_of && !e->has_dup_of_pid) {
			size_t j;
			for (j = 0; j < i && f->fds[j]->fd != e->dup_of; j++)
				;
			if (j == i || f->fds[j]->has_dup_of) {
				pr_err("files-%d.img: fd %d duplicates fd %d, which comes not "
				       "before it",
				       t->pid, e->fd, e->dup_of);
				return -EINVAL;
			}
		}
		for (size_t j = 0; j < i; j++)
			if (f->fds[j]->fd == e->fd) {
				pr_err("files-%d.img: descriptor %d appears twice", t->pid, e->fd);
				return -EINVAL;
			}
		if (e->kind == FD_KIND__FD_TTY && !ctx->opts->shell_job) {
			pr_err("task %d: fd %d is a terminal: restore it with --shell-job", t->pid,
			       e->fd);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < f->n_ghosts; i++)
		if (f->ghosts[i]->id != i || !f->ghosts[i]->orig_path ||
		    f->ghosts[i]->orig_path[0] != '/') {
			pr_err("files-%d.img: ghost file entry %zu is invalid", t->pid, i);
			return -EINVAL;
		}
	return 0;
}

/* Put the saved content back at its path (or next to it, if that name is taken now), open
 * it as the task had it, then unlink it again. */
static int open_ghost(struct restore_ctx *ctx, struct restore_task *t, FdEntry *e, int flags)
{
	GhostFile *g = t->files->ghosts[e->ghost];
	char path[4200], name[64];
	uint64_t size;
	int src, dst, fd, err;

	img_name(IMG_GHOST, g->id, name, sizeof(name));
	src = img_raw_open(ctx->svc_dirfd, IMG_GHOST, g->id, &size);
	if (src < 0) {
		child_fail(t, -src, "cannot open %s", name);
		return -1;
	}
	/* a new file may have taken the name since: build the ghost beside it */
	snprintf(path, sizeof(path), "%s", g->orig_path);
	dst = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, g->mode & 07777);
	for (int i = 0; dst < 0 && errno == EEXIST && i < 100; i++) {
		snprintf(path, sizeof(path), "%s.cryo-ghost-%d-%d", g->orig_path, t->pid, i);
		dst = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, g->mode & 07777);
	}
	if (dst < 0) {
		err = errno;
		close(src);
		child_fail(t, err, "cannot recreate deleted file %s", g->orig_path);
		return -1;
	}
	for (off_t off = IMG_RAW_HDR; off < (off_t)(IMG_RAW_HDR + size);) {
		ssize_t n = sendfile(dst, src, &off, IMG_RAW_HDR + size - off);
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			close(src), close(dst), unlink(path);
			child_fail(t, err, "cannot write the content of deleted file %s", path);
			return -1;
		}
	}
	close(src);
	close(dst);
	fd = open(path, flags);
	err = errno;
	if (fd >= 0 && strcmp(path, g->orig_path) &&
	    renameat2(AT_FDCWD, path, AT_FDCWD, g->orig_path, RENAME_EXCHANGE) == 0) {
		/* the ghost is unlinked under its own name, so its fd reads "NAME (deleted)";
		 * the file that holds the name now gets it back at once */
		unlink(g->orig_path);
		if (rename(path, g->orig_path) < 0)
			pr_warn("task %d: %s is left at %s", t->pid, g->orig_path, path);
	} else {
		unlink(path);
	}
	if (fd < 0)
		child_fail(t, err, "cannot open recreated deleted file %s", path);
	return fd;
}

static int open_one(struct restore_ctx *ctx, struct restore_task *t, FdEntry *e)
{
	int flags = (e->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY)) | O_NOCTTY;
	int fd;

	switch (e->kind) {
	case FD_KIND__FD_TTY:
		fd = dup(ctx->svc_tty);
		break;
	case FD_KIND__FD_PATH:
		fd = open(e->path, O_PATH | (e->flags & (O_DIRECTORY | O_NOFOLLOW)));
		break;
	default:
		if (e->has_ghost && e->ghost >= 0)
			return open_ghost(ctx, t, e, flags);
		fd = open(e->path, flags);
	}
	if (fd < 0)
		child_fail(t, errno, "cannot open %s for fd %d", e->path ? e->path : "tty", e->fd);
	return fd;
}

int restore_files_child(struct restore_ctx *ctx, struct restore_task *t)
{
	for (size_t i = 0; i < t->files->n_fds; i++) {
		FdEntry *e = t->files->fds[i];
		/* a description shared with other tasks was opened once, by the root */
		struct svc_file *g = e->has_dup_of_pid && (pid_t)e->dup_of_pid != t->pid
					 ? restore_find_desc(ctx, e->dup_of_pid, e->dup_of)
					 : restore_find_desc(ctx, t->pid, e->fd);
		if (g) {
			if (dup2(g->fd, e->fd) < 0 ||
			    fcntl(e->fd, F_SETFD, e->cloexec ? FD_CLOEXEC : 0) < 0) {
				child_fail(t, errno, "cannot place shared fd %d", e->fd);
				return -1;
			}
			continue;
		}
		if (e->has_dup_of && !e->has_dup_of_pid) {
			if (dup2(e->dup_of, e->fd) < 0 ||
			    fcntl(e->fd, F_SETFD, e->cloexec ? FD_CLOEXEC : 0) < 0) {
				child_fail(t, errno, "cannot make fd %d a duplicate of fd %d",
					   e->fd, e->dup_of);
				return -1;
			}
			continue;
		}
		int fd = open_one(ctx, t, e);
		if (fd < 0)
			return -1;
		if (fd != e->fd) {
			if (dup2(fd, e->fd) < 0) {
				child_fail(t, errno, "cannot place %s at fd %d", e->path, e->fd);
				return -1;
			}
			close(fd);
		}
		if (e->kind == FD_KIND__FD_REG && lseek(e->fd, e->pos, SEEK_SET) < 0) {
			child_fail(t, errno, "cannot seek %s to %lu", e->path, e->pos);
			return -1;
		}
		if (e->kind == FD_KIND__FD_REG && e->has_size && !e->has_ghost) {
			struct stat st;
			if (fstat(e->fd, &st) == 0 && (uint64_t)st.st_size < e->pos)
				pr_warn("task %d: %s is shorter now than the position of fd %d",
					t->pid, e->path, e->fd);
		}
		if (fcntl(e->fd, F_SETFD, e->cloexec ? FD_CLOEXEC : 0) < 0) {
			child_fail(t, errno, "cannot set close-on-exec of fd %d", e->fd);
			return -1;
		}
	}
	return 0;
}

/* In the root, before it creates the tree: one open file description shared by several
 * tasks, at its service fd, for all of them to inherit. */
int restore_shared_desc_child(struct restore_ctx *ctx, struct svc_file *g)
{
	struct restore_task *root = &ctx->tasks[0];
	FdEntry *e = g->desc;
	struct restore_task *owner = restore_find_task(ctx, g->desc_pid);
	int fd = open_one(ctx, owner ? owner : root, e);

	if (fd < 0) {
		if (owner && owner != root)
			*root->state = *owner->state;
		return -1;
	}
	if (e->kind == FD_KIND__FD_REG && lseek(fd, e->pos, SEEK_SET) < 0) {
		child_fail(root, errno, "cannot seek %s to %lu", e->path, e->pos);
		return -1;
	}
	if (fd != g->fd && (dup2(fd, g->fd) < 0 || close(fd) < 0)) {
		child_fail(root, errno, "cannot place %s at fd %d", e->path, g->fd);
		return -1;
	}
	return 0;
}

/* Descriptions shared between tasks become global objects; a terminal needs cryo's. */
int files_plan(struct restore_ctx *ctx, struct restore_task *t)
{
	for (size_t i = 0; i < t->files->n_fds; i++) {
		FdEntry *e = t->files->fds[i];
		if (e->kind == FD_KIND__FD_TTY)
			ctx->need_tty = true;
		if (!e->has_dup_of_pid || (pid_t)e->dup_of_pid == t->pid)
			continue;
		struct restore_task *o = restore_find_task(ctx, e->dup_of_pid);
		FdEntry *orig = NULL;
		for (size_t j = 0; o && !o->zombie && j < o->files->n_fds; j++)
			if (o->files->fds[j]->fd == e->dup_of && !o->files->fds[j]->has_dup_of &&
			    !o->files->fds[j]->has_dup_of_pid)
				orig = o->files->fds[j];
		if (!orig || o->idx >= t->idx) {
			pr_err("files-%d.img: fd %d shares the description of fd %d of task %u, "
			       "which is not there",
			       t->pid, e->fd, e->dup_of, e->dup_of_pid);
			return -EINVAL;
		}
		if (!restore_add_global(
			ctx, (struct svc_file){.kind = SVC_DESC, .desc_pid = o->pid, .desc = orig}))
			return -ENOMEM;
	}
	return 0;
}

int files_max_fd(const Files *f)
{
	int max = 2;
	for (size_t i = 0; i < f->n_fds; i++)
		if (f->fds[i]->fd > max)
			max = f->fds[i]->fd;
	return max;
}
