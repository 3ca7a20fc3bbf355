#include "core/proc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

int proc_parse_stat(pid_t pid, pid_t tid, struct proc_stat *st)
{
	char path[64], buf[2048], *p, *close_paren;
	unsigned long long f[64] = {0};
	ssize_t n;
	int i;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = read_file_at(-1, path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	/* comm may hold spaces and parentheses: it ends at the last ')' */
	p = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!p || !close_paren || close_paren < p || close_paren[1] != ' ')
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	snprintf(st->comm, sizeof(st->comm), "%.*s", (int)(close_paren - p - 1), p + 1);
	p = close_paren + 2;
	st->state = *p;
	p += 1;
	/* fields from 4 (ppid) on are numbers; some can be negative */
	for (i = 4; i <= 52 && *p; i++) {
		char *end;
		long long v = strtoll(p, &end, 10);
		if (end == p)
			break;
		f[i] = (unsigned long long)v;
		p = end;
	}
	if (i <= 51)
		return -EINVAL;
	st->ppid = f[4];
	st->pgid = f[5];
	st->sid = f[6];
	st->tty_nr = f[7];
	st->tpgid = (pid_t)(long long)f[8];
	st->nice = (int)(long long)f[19];
	st->num_threads = f[20];
	st->start_time = f[22];
	st->start_code = f[26];
	st->end_code = f[27];
	st->start_stack = f[28];
	st->exit_signal = f[38];
	st->start_data = f[45];
	st->end_data = f[46];
	st->start_brk = f[47];
	st->arg_start = f[48];
	st->arg_end = f[49];
	st->env_start = f[50];
	st->env_end = f[51];
	st->exit_code = (int)f[52];
	st->flags = f[9];
	return 0;
}

static bool key(const char *line, const char *k, const char **val)
{
	size_t l = strlen(k);
	if (strncmp(line, k, l) || line[l] != ':')
		return false;
	*val = line + l + 1;
	return true;
}

int proc_parse_status(pid_t pid, struct proc_status *st)
{
	return proc_parse_status_tid(pid, 0, st);
}

int proc_parse_status_tid(pid_t pid, pid_t tid, struct proc_status *st)
{
	char path[64], *buf, *line, *save;
	const char *v;
	ssize_t n;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
	n = read_file_alloc(path, &buf);
	if (n < 0)
		return (int)n;
	memset(st, 0, sizeof(*st));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (key(line, "Uid", &v))
			sscanf(v, "%u %u %u %u", &st->uid[0], &st->uid[1], &st->uid[2],
			       &st->uid[3]);
		else if (key(line, "Gid", &v))
			sscanf(v, "%u %u %u %u", &st->gid[0], &st->gid[1], &st->gid[2],
			       &st->gid[3]);
		else if (key(line, "Groups", &v)) {
			char *end;
			for (;;) {
				unsigned long g = strtoul(v, &end, 10);
				if (end == v || st->nr_groups >= (int)ARRAY_SIZE(st->groups))
					break;
				st->groups[st->nr_groups++] = g;
				v = end;
			}
		} else if (key(line, "CapInh", &v))
			st->cap_inh = strtoull(v, NULL, 16);
		else if (key(line, "CapPrm", &v))
			st->cap_prm = strtoull(v, NULL, 16);
		else if (key(line, "CapEff", &v))
			st->cap_eff = strtoull(v, NULL, 16);
		else if (key(line, "CapBnd", &v))
			st->cap_bnd = strtoull(v, NULL, 16);
		else if (key(line, "CapAmb", &v))
			st->cap_amb = strtoull(v, NULL, 16);
		else if (key(line, "NoNewPrivs", &v))
			st->no_new_privs = atoi(v);
		else if (key(line, "Seccomp", &v))
			st->seccomp = atoi(v);
		else if (key(line, "Seccomp_filters", &v))
			st->seccomp_filters = atoi(v);
		else if (key(line, "Umask", &v))
			st->umask = strtoul(v, NULL, 8);
		else if (key(line, "Threads", &v))
			st->threads = atoi(v);
		else if (key(line, "TracerPid", &v))
			st->tracer = atoi(v);
		else if (key(line, "SigBlk", &v))
			st->sig_blocked = strtoull(v, NULL, 16);
		else if (key(line, "SigIgn", &v))
			st->sig_ignored = strtoull(v, NULL, 16);
		else if (key(line, "ShdPnd", &v))
			st->sig_shared_pending = strtoull(v, NULL, 16);
		else if (key(line, "SigCgt", &v))
			st->sig_caught = strtoull(v, NULL, 16);
	}
	free(buf);
	return 0;
}

int proc_max_fd(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int max = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		int fd = atoi(de->d_name);
		if (fd > max && !(pid == getpid() && fd == dirfd(d)))
			max = fd;
	}
	closedir(d);
	return max;
}
