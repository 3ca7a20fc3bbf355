/* Room for a restore's own descriptors: see fd_room.h. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "files/fd_room.h"
#include "files/files.h"

int fd_room_limit(int raise)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (raise && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	return rl.rlim_max < FILES_MAX_FD ? (int)rl.rlim_max : FILES_MAX_FD;
}

int fd_room_init(struct fd_room *r, int limit)
{
	memset(r, 0, sizeof(*r));
	r->limit = limit > 0 ? limit : 0;
	r->used = calloc(((size_t)r->limit + 63) / 64 + 1, sizeof(*r->used));
	return r->used ? 0 : -ENOMEM;
}

void fd_room_free(struct fd_room *r)
{
	free(r->used);
	free(r->taken);
	r->used = NULL, r->taken = NULL;
}

static int bit(const struct fd_room *r, int fd)
{
	return (int)(r->used[fd / 64] >> (fd % 64) & 1);
}

int fd_room_use(struct fd_room *r, int fd)
{
	if (fd < 0)
		return 0;
	if (fd >= r->limit)
		return -1;
	if (!bit(r, fd)) {
		r->used[fd / 64] |= 1ull << (fd % 64);
		r->n_used++;
	}
	return 0;
}

int fd_room_use_files(struct fd_room *r, const Files *f)
{
	int over = -1;

	for (size_t i = 0; f && i < f->n_fds; i++) {
		const FdEntry *e = f->fds[i];
		if (fd_room_use(r, e->fd) && e->fd > over)
			over = e->fd;
		/* a key of an epoll is dup2()ed to for the moment the registration is added */
		for (size_t k = 0; e->kind == FD_KIND__FD_EPOLL && k < e->n_epoll_targets; k++) {
			int key = e->epoll_targets[k]->fd;
			if (fd_room_use(r, key) && key > over)
				over = key;
		}
	}
	return over;
}

int fd_room_use_own(struct fd_room *r)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
			fd_room_use(r, atoi(de->d_name));
	closedir(d);
	return 0;
}

int fd_room_take(struct fd_room *r)
{
	int fd;

	while (r->next < r->limit && bit(r, r->next))
		r->next++;
	if (r->next == r->limit)
		return r->limit + r->over++;
	if (r->n_taken == r->cap_taken) {
		int cap = r->cap_taken ? r->cap_taken * 2 : 64;
		int *n = realloc(r->taken, (size_t)cap * sizeof(*n));
		if (!n) /* counted as no room: the restore stops with a message either way */
			return r->limit + r->over++;
		r->taken = n, r->cap_taken = cap;
	}
	fd = r->next;
	r->used[fd / 64] |= 1ull << (fd % 64);
	r->taken[r->n_taken++] = fd;
	return fd;
}

int fd_room_is_taken(const struct fd_room *r, int fd)
{
	int lo = 0, hi = r->n_taken;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (r->taken[mid] == fd)
			return 1;
		if (r->taken[mid] < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* What the restore may take for one descriptor or file in flight (files/shared.c, pipe.c,
 * pty.c, unix_sk_restore.c, memfd.c, epoll.c, inflight.c): a description shared with
 * another task is a global of its own; then each kind's objects. */
static size_t entry_need(const FdEntry *e, int in_flight)
{
	size_t n = e->has_dup_of_pid || in_flight ? 1 : 0;

	switch (e->kind) {
	case FD_KIND__FD_PIPE:
	case FD_KIND__FD_FIFO:
	case FD_KIND__FD_PTY_MASTER:
	case FD_KIND__FD_PTY_SLAVE:
		return n + 2; /* the object, its other end */
	case FD_KIND__FD_UNIX_SK:
		return n + 2; /* the socket, and a number while it is made */
	case FD_KIND__FD_MEMFD:
		return n + 1;
	case FD_KIND__FD_EPOLL:
		return n + e->n_epoll_targets; /* a target another task holds */
	default:
		return n;
	}
}

size_t fd_room_task_need(const Files *f, const Mm *m)
{
	size_t n = 2; /* the page image, the executable */

	for (size_t i = 0; m && i < m->n_vmas; i++) {
		const Vma *v = m->vmas[i];
		if (v->kind == VMA_KIND__VMA_MEMFD)
			n += 2; /* the object, a read-only description of it */
		else if (v->kind == VMA_KIND__VMA_ANON_SHARED ||
			 v->kind == VMA_KIND__VMA_FILE_PRIVATE ||
			 v->kind == VMA_KIND__VMA_FILE_SHARED)
			n++;
	}
	for (size_t i = 0; f && i < f->n_fds; i++)
		n += entry_need(f->fds[i], 0);
	for (size_t i = 0; f && i < f->n_inflight; i++)
		n += entry_need(f->inflight[i], 1);
	return n + (f ? f->n_ghosts : 0);
}

size_t fd_room_tree_need(int nr_tasks)
{
	/* the log, the images directory, the terminal, cryo's pidfd; a margin; cryo's own
	 * descriptors at the restore (the standard ones, the log, the images directory, a
	 * lazy-pages connection, --status-fd, a page image per task read through a memfd) */
	return 4 + 8 + 16 + (size_t)nr_tasks;
}
