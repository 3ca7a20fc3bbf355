/* The reads of the descriptor walk, and their read-ahead (see fd_read.h). */
#include "files/fd_read.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "core/util.h"
#include "files/inet.h"

/* What a socket is, from cryo's own copy of it; left 0 (a socket of unknown family, refused
 * by name) if the copy cannot be had. */
static void read_socket_identity(struct fd_info *fi)
{
	socklen_t len = sizeof(int);
	if (fi->copy < 0)
		return;
	if (getsockopt(fi->copy, SOL_SOCKET, SO_DOMAIN, &fi->sk_family, &len) < 0 ||
	    getsockopt(fi->copy, SOL_SOCKET, SO_TYPE, &fi->sk_type, &len) < 0 ||
	    getsockopt(fi->copy, SOL_SOCKET, SO_PROTOCOL, &fi->sk_protocol, &len) < 0)
		fi->sk_family = fi->sk_type = fi->sk_protocol = 0;
}

/* The device of pipefs (anonymous pipes) and of the anonymous inodes, learned from cryo's
 * own: a descriptor on either says in its stat what its link text would say, without that
 * lookup in /proc (a third of the reads of a walk of pipes and eventfds) */
static dev_t pipefs_dev, anon_dev;
static pthread_once_t devs_once = PTHREAD_ONCE_INIT;

static void learn_devs(void)
{
	int p[2], e;
	struct stat st;

	if (pipe2(p, O_CLOEXEC) == 0) {
		if (fstat(p[0], &st) == 0)
			pipefs_dev = st.st_dev;
		close(p[0]);
		close(p[1]);
	}
	if ((e = eventfd(0, EFD_CLOEXEC)) >= 0) {
		if (fstat(e, &st) == 0)
			anon_dev = st.st_dev;
		close(e);
	}
}

/* The link text of fi from its stat and fdinfo, for the kinds that tell it exactly: a socket
 * ("socket:[INODE]"), an anonymous pipe ("pipe:[INODE]") and an eventfd (fdinfo's
 * eventfd-count line on the anonymous inode); false for anything else */
static bool link_known(struct fd_info *fi)
{
	if (!fi->has_st || fi->copy < 0)
		return false;
	/* a copy of a socket file (a socket bound to a path opens only as O_PATH, which has
	 * no copy) */
	if (S_ISSOCK(fi->st.st_mode)) {
		snprintf(fi->link, sizeof(fi->link), "socket:[%lu]", (unsigned long)fi->st.st_ino);
		return true;
	}
	if (pipefs_dev && S_ISFIFO(fi->st.st_mode) && fi->st.st_dev == pipefs_dev) {
		snprintf(fi->link, sizeof(fi->link), "pipe:[%lu]", (unsigned long)fi->st.st_ino);
		return true;
	}
	if (anon_dev && fi->st.st_dev == anon_dev && !strncmp(fi->fdinfo, "pos:", 4) &&
	    strstr(fi->fdinfo, "\neventfd-count:")) {
		snprintf(fi->link, sizeof(fi->link), "anon_inode:[eventfd]");
		return true;
	}
	return false;
}

int fd_info_read(pid_t pid, const struct fd_dirs *dirs, int fd, struct fd_info *fi)
{
	char name[16], *p;
	ssize_t n;

	pthread_once(&devs_once, learn_devs);
	fi->pid = pid;
	fi->fd = fd;
	fi->task_pidfd = dirs->pidfd;
	fi->copy = -1;
	snprintf(name, sizeof(name), "%d", fd);
	n = read_proc_record_at(dirs->info, name, &fi->fdinfo);
	if (n < 0)
		return n == -ENOENT ? 1 : (int)n;
	p = strstr(fi->fdinfo, "pos:");
	fi->pos = p ? strtoull(p + 4, NULL, 10) : 0;
	p = strstr(fi->fdinfo, "flags:");
	fi->flags = p ? strtoul(p + 6, NULL, 8) : 0;
	/* One copy for everything read from the description (its stat, a socket's identity,
	 * owner, lease, the kind's state): a stat through /proc/PID/fd/N walks the path again,
	 * and each further pidfd_getfd checks the task again (10,000 fds: a fifth of the
	 * walk). An O_PATH descriptor cannot be copied: its stat goes through the link. */
	if (!(fi->flags & O_PATH) && dirs->pidfd >= 0 &&
	    (fi->copy = sys_pidfd_getfd(dirs->pidfd, fd)) < 0)
		fi->copy_err = errno;
	fi->has_st = fi->copy >= 0 ? fstat(fi->copy, &fi->st) == 0
				   : fstatat(dirs->fd, name, &fi->st, 0) == 0;
	if (!link_known(fi)) {
		n = readlinkat(dirs->fd, name, fi->link, sizeof(fi->link) - 1);
		if (n < 0)
			return errno == ENOENT ? 1 : -errno;
		fi->link[n] = 0;
	}
	fi->anon = !strncmp(fi->link, "anon_inode:", 11) ? fi->link + 11 : NULL;
	if (!strncmp(fi->link, "socket:", 7)) {
		read_socket_identity(fi);
		/* the options of the table too, for the kinds that read them all (a socket's
		 * dump is mostly these reads): off the walk's thread when it reads ahead */
		if (fi->copy >= 0 && (fi->sk_family == AF_INET || fi->sk_family == AF_INET6 ||
				      fi->sk_family == AF_UNIX))
			fi->opts_pre = inet_opts_prefetch(fi->copy, fi->sk_family, fi->sk_type,
							  fi->sk_protocol);
	}
	return 0;
}

/* How far the thread may read ahead of the walk: each read holds a copy of a descriptor and
 * its fdinfo until the walk takes it */
#define READ_AHEAD 256
/* Fewer descriptors than this are read by the walk itself: a thread costs ~50 us */
#define READ_AHEAD_MIN 64

struct fd_reader {
	pid_t pid;
	const struct fd_dirs *dirs;
	const int *fds;
	int n;
	struct fd_info **slot; /* each read, until the walk takes it */
	int *rc;
	bool *ready;
	int claimed;  /* the next index to be read, by whichever thread */
	int consumed; /* the walk's next index */
	bool stop, threaded;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
};

/* A zeroed fd_info but for its link buffer (4 KiB each, filled by the read: zeroing it was a
 * twentieth of a walk of 10,000) */
static struct fd_info *fd_info_new(void)
{
	struct fd_info *fi = malloc(sizeof(*fi));
	if (!fi)
		return NULL;
	size_t after = offsetof(struct fd_info, link) + sizeof(fi->link);
	memset(fi, 0, offsetof(struct fd_info, link));
	fi->link[0] = 0;
	memset((char *)fi + after, 0, sizeof(*fi) - after);
	fi->copy = -1;
	return fi;
}

/* Read index i (claimed by the caller), outside the lock */
static void read_one(struct fd_reader *r, int i)
{
	struct fd_info *fi = fd_info_new();
	int rc = -ENOMEM;

	if (fi)
		rc = fd_info_read(r->pid, r->dirs, r->fds[i], fi);
	pthread_mutex_lock(&r->mu);
	r->slot[i] = fi;
	r->rc[i] = rc;
	r->ready[i] = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void *read_ahead(void *arg)
{
	struct fd_reader *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->stop && r->claimed < r->n && r->claimed >= r->consumed + READ_AHEAD)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stop || r->claimed >= r->n)
			break;
		int i = r->claimed++;
		pthread_mutex_unlock(&r->mu);
		read_one(r, i);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct fd_reader *fd_reader_start(pid_t pid, const struct fd_dirs *dirs, const int *fds, int n)
{
	struct fd_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->pid = pid;
	r->dirs = dirs;
	r->fds = fds;
	r->n = n;
	if (n < READ_AHEAD_MIN || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return r; /* the walk reads each itself */
	r->slot = calloc((size_t)n, sizeof(*r->slot));
	r->rc = calloc((size_t)n, sizeof(*r->rc));
	r->ready = calloc((size_t)n, sizeof(*r->ready));
	if (!r->slot || !r->rc || !r->ready) {
		free(r->slot);
		free(r->rc);
		free(r->ready);
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	/* the thread takes no signal: they are the walk's (a timeout, a fault point's kill) */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r->threaded = pthread_create(&r->th, NULL, read_ahead, r) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* without the thread the walk still reads each, through the same slots */
	return r;
}

int fd_reader_next(struct fd_reader *r, struct fd_info **fi)
{
	int i = r->consumed, rc;

	if (!r->slot) {
		r->consumed++;
		if (!(*fi = fd_info_new()))
			return -ENOMEM;
		return fd_info_read(r->pid, r->dirs, r->fds[i], *fi);
	}
	pthread_mutex_lock(&r->mu);
	while (!r->ready[i]) {
		/* not read yet: read it, or one ahead of it, rather than wait */
		if (r->claimed < r->n && r->claimed < r->consumed + READ_AHEAD) {
			int j = r->claimed++;
			pthread_mutex_unlock(&r->mu);
			read_one(r, j);
			pthread_mutex_lock(&r->mu);
			continue;
		}
		pthread_cond_wait(&r->cv, &r->mu);
	}
	*fi = r->slot[i];
	rc = r->rc[i];
	r->slot[i] = NULL;
	r->consumed++;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void fd_reader_stop(struct fd_reader *r)
{
	if (!r)
		return;
	if (r->slot) {
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		if (r->threaded)
			pthread_join(r->th, NULL);
		for (int i = 0; i < r->n; i++)
			if (r->slot[i])
				fd_info_free(r->slot[i]);
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
		free(r->slot);
		free(r->rc);
		free(r->ready);
	}
	free(r);
}
