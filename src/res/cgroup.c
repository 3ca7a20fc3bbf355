/* cgroup membership. cryo does not move restored tasks into cgroups yet (that comes with
 * --manage-cgroups, with containers): a restored task lands in cryo's cgroups. The dump
 * records where each task was, and the restore says so, naming the task and both sets, when
 * it lands elsewhere, so that nothing changes silently. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "res/cgroup.h"

static int read_cgroups(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	ssize_t n = read_file_at(AT_FDCWD, path, buf, cap);
	if (n < 0)
		return (int)n;
	/* one line per hierarchy: shown joined by ';' */
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = p[1] ? ';' : '\0';
	return 0;
}

int dump_cgroups(struct dump_ctx *ctx, struct dump_task *t)
{
	char buf[4096];
	int ret = read_cgroups(t->pid, buf, sizeof(buf));
	if (ret) {
		pr_errno(-ret, "task %d: cannot read its cgroups", t->pid);
		return ret;
	}
	t->core->cgroups = arena_strdup(&ctx->arena, buf);
	return t->core->cgroups ? 0 : -ENOMEM;
}

/* A line "ID:controllers:path" split at its second ':' (the path may hold more). */
static bool split_line(const char *line, size_t len, size_t *id_len)
{
	const char *c1 = memchr(line, ':', len);
	const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
	if (!c2)
		return false;
	*id_len = (size_t)(c2 - line);
	return true;
}

/* The next line of a ';'-joined list: *p at its start, *len its length; false at the end. */
static bool next_line(const char **p, const char **next, size_t *len)
{
	if (!**next)
		return false;
	*p = *next;
	const char *e = strchr(*p, ';');
	*len = e ? (size_t)(e - *p) : strlen(*p);
	*next = e ? e + 1 : *p + *len;
	return true;
}

void restore_check_cgroups(struct restore_ctx *ctx, struct restore_task *t)
{
	char now[4096], moved[2048] = "";
	size_t used = 0;
	(void)ctx;
	if (!t->core || !t->core->cgroups || read_cgroups(t->pid, now, sizeof(now)))
		return;
	/* per hierarchy ("ID:controllers"), the path at dump and now */
	const char *p, *next = t->core->cgroups;
	size_t len;
	while (next_line(&p, &next, &len)) {
		size_t id_len, cur_id = 0, qlen;
		const char *q, *qnext = now;
		const char *cur = NULL;
		size_t cur_len = 0;
		if (!split_line(p, len, &id_len))
			continue;
		while (next_line(&q, &qnext, &qlen))
			if (split_line(q, qlen, &cur_id) && cur_id == id_len &&
			    !strncmp(q, p, id_len)) {
				cur = q + id_len + 1;
				cur_len = qlen - id_len - 1;
			}
		size_t then_len = len - id_len - 1;
		if ((!cur || cur_len != then_len || strncmp(cur, p + id_len + 1, then_len)) &&
		    used < sizeof(moved))
			used += (size_t)snprintf(moved + used, sizeof(moved) - used,
						 "%s%.*s %.*s -> %.*s", used ? ", " : "",
						 (int)id_len, p, (int)then_len, p + id_len + 1,
						 cur ? (int)cur_len : 4, cur ? cur : "none");
	}
	if (used)
		pr_warn("process %d is not in the cgroups it was in at dump (%s): restored tasks "
			"are not moved into their cgroups (--manage-cgroups is not supported yet)",
			t->pid, moved);
}
