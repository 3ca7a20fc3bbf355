/* The one walk of /proc a final dump makes over the processes outside its tree (others.h).
 * Reading only: each process's status (its threads' tracers; a kernel thread has nothing
 * more to read), then, when a check asked, its descriptors' links (a stat where a path may
 * be a FIFO, a terminal or a deleted file) and its mappings of the objects named. A process
 * that goes away meanwhile, or a file of it that cannot be read, is skipped: it holds nothing
 * of the tree any more, or is out of cryo's reach as it was for every check before. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/others.h"
#include "core/util.h"

/* Room for one more element of size in *arr (cap elements), doubling */
static int grow(void *arr, uint32_t *cap, uint32_t n, size_t size)
{
	void **a = arr;
	if (n < *cap)
		return 0;
	uint32_t c = *cap ? *cap * 2 : 64;
	void *p = realloc(*a, (size_t)c * size);
	if (!p)
		return -ENOMEM;
	*a = p, *cap = c;
	return 0;
}

void others_want(struct dump_ctx *ctx, unsigned what)
{
	ctx->others.want |= what;
}

int others_want_mapping(struct dump_ctx *ctx, uint64_t dev, uint64_t ino)
{
	struct others *o = &ctx->others;
	if (grow(&o->keys, &o->cap_keys, o->nr_keys, sizeof(*o->keys)))
		return -ENOMEM;
	o->keys[o->nr_keys][0] = dev;
	o->keys[o->nr_keys][1] = ino;
	o->nr_keys++;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* A field "\nName:\tN" of a status, or dflt when it is not there */
static long status_field(const char *buf, const char *name, long dflt)
{
	const char *p = strstr(buf, name);
	return p ? strtol(p + strlen(name), NULL, 10) : dflt;
}

/* A status into buf (one show of the kernel's: one read has it whole); its length, or 0 */
static ssize_t read_status(int dirfd, const char *path, char *buf, size_t cap)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n > 0 ? n : 0;
}

static int add_traced(struct others *o, pid_t tid, pid_t tracer)
{
	if (grow(&o->traced, &o->cap_traced, o->nr_traced, sizeof(*o->traced)))
		return -ENOMEM;
	o->traced[o->nr_traced++] = (struct other_traced){tid, tracer};
	return 0;
}

/* The directory path below dirfd, listed; NULL when it cannot be opened */
static DIR *open_dir_at(int dirfd, const char *path)
{
	int dfd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d && dfd >= 0)
		close(dfd);
	return d;
}

/* The tracer of each thread but the leader (known from the process's status) */
static int read_threads(struct others *o, int procfd, pid_t pid)
{
	char path[64], buf[4096];
	int ret = 0;
	snprintf(path, sizeof(path), "%d/task", pid);
	DIR *d = open_dir_at(procfd, path);
	if (!d)
		return 0; /* gone meanwhile */
	struct dirent *de;
	while (!ret && (de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		if (tid <= 0 || tid == pid)
			continue;
		snprintf(path, sizeof(path), "%d/status", (int)tid);
		ssize_t n = read_status(dirfd(d), path, buf, sizeof(buf));
		/* the Name line before it has any newline of the name escaped */
		pid_t tracer = n > 0 ? (pid_t)status_field(buf, "\nTracerPid:", 0) : 0;
		if (tracer > 0)
			ret = add_traced(o, tid, tracer);
	}
	closedir(d);
	return ret;
}

/* The process's status: its leader's tracer, and the other threads' if it has any. 1 for a
 * kernel thread (no descriptors, no mappings), 0, or -errno. */
static int read_tracers(struct others *o, int procfd, pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "%d/status", pid);
	ssize_t n = read_status(procfd, path, buf, sizeof(buf));
	if (n <= 0)
		return 0; /* gone meanwhile */
	pid_t tracer = (pid_t)status_field(buf, "\nTracerPid:", 0);
	int ret = tracer > 0 ? add_traced(o, pid, tracer) : 0;
	/* a status too long for buf (a great many groups) may have lost its Threads line:
	 * then the threads are listed */
	if (!ret && status_field(buf, "\nThreads:", 0) != 1)
		ret = read_threads(o, procfd, pid);
	if (!ret && status_field(buf, "\nKthread:", 0) == 1)
		return 1;
	return ret;
}

static bool deleted_path(const char *link, size_t l)
{
	return l > 10 && !memcmp(link + l - 10, " (deleted)", 10);
}

/* The descriptors a check may match */
static int read_fds(struct others *o, int procfd, pid_t pid)
{
	char path[64], link[4200];
	int ret = 0;
	snprintf(path, sizeof(path), "%d/fd", pid);
	DIR *d = open_dir_at(procfd, path);
	if (!d)
		return 0; /* gone, or not ours to read */
	struct dirent *de;
	while (!ret && (de = readdir(d))) {
		struct other_fd f = {.fd = atoi(de->d_name)};
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = 0;
		bool deleted = n > 0 && link[0] == '/' && deleted_path(link, (size_t)n);
		if (n > 6 && !strncmp(link, "pipe:[", 6)) {
			f.pipe = true;
			f.ino = strtoull(link + 6, NULL, 10);
		} else if (((o->want & OTHERS_FD_PATHS) && (n <= 0 || link[0] == '/')) ||
			   ((o->want & OTHERS_FD_DELETED) && deleted)) {
			/* (a link that cannot be read: stat()ed all the same, as a terminal) */
			if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
				continue;
			if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode) && !deleted)
				continue;
			f.has_st = true;
			f.deleted = deleted;
			f.memfd = deleted && !strncmp(link, "/memfd:", 7);
			f.mode = st.st_mode;
			f.dev = st.st_dev, f.ino = st.st_ino, f.rdev = st.st_rdev;
		} else {
			continue;
		}
		if (!(ret = grow(&o->fds, &o->cap_fds, o->nr_fds, sizeof(*o->fds))))
			o->fds[o->nr_fds++] = f;
	}
	closedir(d);
	return ret;
}

/* The mappings of the objects the keys name */
static int read_maps(struct others *o, int procfd, pid_t pid)
{
	char path[64], *buf, *line, *next;
	int ret = 0;
	snprintf(path, sizeof(path), "%d/maps", pid);
	if (read_file_alloc_at(procfd, path, &buf) < 0)
		return 0; /* gone, or not ours to read */
	for (line = buf; !ret && line && *line; line = next) {
		unsigned long start, end, ino;
		unsigned maj, min;
		char perms[8];
		if ((next = strchr(line, '\n')))
			*next++ = 0;
		if (sscanf(line, "%lx-%lx %7s %*s %x:%x %lu", &start, &end, perms, &maj, &min,
			   &ino) != 6 ||
		    !ino)
			continue;
		uint64_t key[2] = {makedev(maj, min), ino};
		if (!bsearch(key, o->keys, o->nr_keys, sizeof(*o->keys), key_cmp))
			continue;
		if (!(ret = grow(&o->maps, &o->cap_maps, o->nr_maps, sizeof(*o->maps))))
			o->maps[o->nr_maps++] =
			    (struct other_map){start, end, key[0], key[1], perms[3] == 's'};
	}
	free(buf);
	return ret;
}

static int read_one(struct others *o, int procfd, pid_t pid)
{
	uint32_t fd0 = o->nr_fds, map0 = o->nr_maps, tr0 = o->nr_traced;
	int ret = read_tracers(o, procfd, pid);
	bool kthread = ret == 1;
	if (kthread)
		ret = 0;
	if (!ret && !kthread && o->want)
		ret = read_fds(o, procfd, pid);
	if (!ret && !kthread && o->nr_keys)
		ret = read_maps(o, procfd, pid);
	if (ret || (o->nr_fds == fd0 && o->nr_maps == map0 && o->nr_traced == tr0))
		return ret;
	if (grow(&o->procs, &o->cap_procs, o->nr_procs, sizeof(*o->procs)))
		return -ENOMEM;
	o->procs[o->nr_procs++] = (struct other_proc){
	    pid, fd0, o->nr_fds - fd0, map0, o->nr_maps - map0, tr0, o->nr_traced - tr0};
	return 0;
}

int others_walk(struct dump_ctx *ctx)
{
	struct others *o = &ctx->others;
	pid_t self = getpid();
	int ret = 0;

	if (o->walked)
		return 0;
	if (o->nr_keys)
		sort_n(o->keys, o->nr_keys, sizeof(*o->keys), key_cmp);
	DIR *proc = opendir("/proc");
	if (!proc) {
		ret = -errno;
		pr_errno(-ret, "cannot read /proc for the processes outside the tree");
		return ret;
	}
	struct dirent *de;
	while (!ret && (de = readdir(proc))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid > 0 && pid != self && !dump_find_task(ctx, pid))
			ret = read_one(o, dirfd(proc), pid);
	}
	closedir(proc);
	if (ret)
		pr_errno(-ret, "cannot keep what the processes outside the tree hold");
	o->walked = !ret;
	return ret;
}

const struct others *others_read(const struct dump_ctx *ctx)
{
	return ctx->others.walked ? &ctx->others : NULL;
}

void others_free(struct dump_ctx *ctx)
{
	struct others *o = &ctx->others;
	free(o->keys);
	free(o->procs);
	free(o->fds);
	free(o->maps);
	free(o->traced);
	*o = (struct others){0};
}
