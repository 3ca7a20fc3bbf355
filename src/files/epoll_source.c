/* Where the file of each registration of an epoll is held, for the dump (epoll.c): at its key
 * still, at another fd of the task, or at an fd of another task of the tree; and whether such
 * a source is made too late at restore for the epoll's filling. kcmp(KCMP_EPOLL_TFD) tells
 * whether an fd is a registration's file. */
#include <dirent.h>
#include <errno.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/util.h"
#include "files/epoll.h"
#include "files/kind.h"

/* Is fd of task holder the file of registration (tfd, toff) of epoll epfd of task pid? */
static int kcmp_tfd_of(pid_t holder, int fd, pid_t pid, int epfd, int tfd, int toff)
{
	struct kcmp_epoll_slot slot = {
	    .efd = (uint32_t)epfd, .tfd = (uint32_t)tfd, .toff = (uint32_t)toff};
	return (int)syscall(SYS_kcmp, holder, pid, KCMP_EPOLL_TFD, fd, &slot);
}

int epoll_kcmp_tfd(pid_t pid, int fd, int epfd, int tfd, int toff)
{
	return kcmp_tfd_of(pid, fd, pid, epfd, tfd, toff);
}

/* The task's fds with the inode each holds, listed once, when a registration is not at
 * its number. */
struct task_fd {
	int fd;
	bool has_st;
	dev_t dev;
	ino_t ino;
};

static int task_fds(pid_t pid, struct task_fd **out)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	struct task_fd *v = NULL;
	int n = 0, cap = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if (!(d = opendir(path)))
		return -errno;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			struct task_fd *nv = realloc(v, (cap ? cap * 2 : 64) * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv, cap = cap ? cap * 2 : 64;
		}
		v[n].fd = atoi(de->d_name);
		v[n].has_st = fstatat(dirfd(d), de->d_name, &st, 0) == 0;
		v[n].dev = st.st_dev, v[n].ino = st.st_ino;
		n++;
	}
	closedir(d);
	*out = v;
	return n;
}

/* The fd of the task that holds the file of registration l (the toff-th with its number):
 * its number if it still does, else another fd of the task (those on the registered file's
 * inode asked: each kcmp walks the epoll's registrations), else -1; -errno if the fds cannot
 * be listed. */
int epoll_find_source(pid_t pid, int epfd, const struct ep_line *l, int toff, struct fd_list *fds)
{
	dev_t dev = makedev(l->sdev >> 20, l->sdev & 0xfffff);

	if (epoll_kcmp_tfd(pid, l->fd, epfd, l->fd, toff) == 0)
		return l->fd;
	if (!fds->loaded) {
		int n = task_fds(pid, &fds->v);
		if (n < 0)
			return n == -EPERM ? -EACCES : n; /* -1 is "not found" */
		fds->n = n, fds->loaded = true;
	}
	for (int i = 0; i < fds->n; i++) {
		const struct task_fd *c = &fds->v[i];
		if (c->fd == l->fd || c->fd == epfd ||
		    (l->ino && c->has_st && (c->ino != l->ino || c->dev != dev)))
			continue;
		if (epoll_kcmp_tfd(pid, c->fd, epfd, l->fd, toff) == 0)
			return c->fd;
	}
	return -1;
}

/* The file of registration l is held by no fd of task t: the first fd of another task of the
 * tree that holds it (a task sharing its parent's table is searched as that table), its pid
 * in *holder; -1 if none does, -errno if a task's fds cannot be listed. */
int epoll_find_other_source(struct dump_ctx *ctx, struct dump_task *t, int epfd,
			    const struct ep_line *l, int toff, pid_t *holder)
{
	dev_t dev = makedev(l->sdev >> 20, l->sdev & 0xfffff);

	for (int k = 0; k < ctx->nr_tasks; k++) {
		struct dump_task *o = &ctx->tasks[k];
		struct task_fd *v = NULL;
		int n, found = -1;
		if (o == t || o->zombie || o->files_shared)
			continue;
		if ((n = task_fds(o->pid, &v)) < 0)
			return n == -EPERM ? -EACCES : n;
		for (int i = 0; i < n && found < 0; i++)
			if (!(l->ino && v[i].has_st && (v[i].ino != l->ino || v[i].dev != dev)) &&
			    kcmp_tfd_of(o->pid, v[i].fd, t->pid, epfd, l->fd, toff) == 0)
				found = v[i].fd;
		free(v);
		if (found >= 0) {
			*holder = o->pid;
			return found;
		}
	}
	return -1;
}

/* Why the descriptor fd of the task cannot be a registration's source at restore: it is made
 * after the epolls are filled. A late kind (a pidfd, made in the remote phase) gives its name;
 * a file of /proc of another task of the tree (procfile.c) "a file of /proc of another task of
 * the tree". NULL: made in time (or gone: the walk reports that). One readlink and one stat. */
const char *epoll_late_source_at(struct dump_ctx *ctx, struct dump_task *t, int fd)
{
	struct fd_info *fi = calloc(1, sizeof(*fi));
	const char *why = NULL;
	char path[64];
	ssize_t n;

	if (!fi)
		return NULL;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", t->pid, fd);
	n = readlink(path, fi->link, sizeof(fi->link) - 1);
	if (n >= 0) {
		fi->link[n] = 0;
		if (procfile_is_late(ctx, t, fi->link)) {
			why = "a file of /proc of another task of the tree";
		} else {
			fi->pid = t->pid, fi->fd = fd, fi->task_pidfd = -1, fi->copy = -1;
			fi->anon = !strncmp(fi->link, "anon_inode:", 11) ? fi->link + 11 : NULL;
			fi->has_st = stat(path, &fi->st) == 0;
			const struct fd_ops *k = files_kind_of(fi);
			why = k && k->late ? k->name : NULL;
		}
	}
	free(fi);
	return why;
}

struct line_ref {
	int fd, i;
};

static int cmp_ref(const void *a, const void *b)
{
	const struct line_ref *x = a, *y = b;
	return x->fd != y->fd ? (x->fd > y->fd) - (x->fd < y->fd) : x->i - y->i;
}

/* For each line, how many lines before it have its number: kcmp's toff for it (kcmp and
 * fdinfo walk the registrations in the same order). NULL: no memory. */
int *epoll_toffs(const struct ep_line *l, int n)
{
	struct line_ref *r = malloc((size_t)n * sizeof(*r));
	int *toff = malloc((size_t)n * sizeof(*toff));

	if (!r || !toff) {
		free(r);
		free(toff);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		r[i] = (struct line_ref){l[i].fd, i};
	sort_n(r, (size_t)n, sizeof(*r), cmp_ref);
	for (int i = 0; i < n; i++)
		toff[r[i].i] = i && r[i - 1].fd == r[i].fd ? toff[r[i - 1].i] + 1 : 0;
	free(r);
	return toff;
}
