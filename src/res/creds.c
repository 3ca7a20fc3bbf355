/* Credentials: real/effective/saved/fs uids and gids, supplementary groups, the five
 * capability sets and the securebits. Read from /proc, set by remote calls near the end of a
 * restore, since the task may lose the right to do the rest once they are set. */
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "core/dump.h"
#include "core/log.h"
#include "core/restore.h"
#include "core/util.h"

#define SECBIT_LOCKS 0xaa /* the *_LOCKED bits */

/* Securebits are the one credential /proc does not show. */
void creds_ask_thread(struct remote_batch *b, struct dump_thread *th)
{
	batch_ask(b, &th->ans.securebits, __NR_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0, 0);
}

int dump_creds(struct dump_ctx *ctx, struct dump_task *t, struct dump_thread *th)
{
	const struct proc_status *st = &th->status;
	ThreadCore *tc = th->tc;
	Creds *c = A_NEW(&ctx->arena, Creds, CREDS);
	long bits;

	if (!c)
		return -ENOMEM;
	c->uid = st->uid[0], c->euid = st->uid[1], c->suid = st->uid[2], c->fsuid = st->uid[3];
	c->gid = st->gid[0], c->egid = st->gid[1], c->sgid = st->gid[2], c->fsgid = st->gid[3];
	c->n_groups = st->nr_groups;
	c->groups = arena_memdup(&ctx->arena, st->groups, sizeof(uint32_t) * st->nr_groups);
	c->cap_inh = st->cap_inh, c->cap_prm = st->cap_prm, c->cap_eff = st->cap_eff;
	c->cap_bnd = st->cap_bnd, c->cap_amb = st->cap_amb;
	bits = th->ans.securebits;
	if (bits < 0) {
		pr_errno((int)-bits, "thread %d: cannot read securebits", th->tid);
		return (int)bits;
	}
	c->securebits = bits;
	tc->creds = c;
	pr_info("thread %d: uid %u/%u/%u gid %u/%u/%u, %zu groups, caps eff %#llx", th->tid, c->uid,
		c->euid, c->suid, c->gid, c->egid, c->sgid, c->n_groups,
		(unsigned long long)c->cap_eff);
	return 0;
}

static int last_cap(void)
{
	char buf[32];
	if (read_file_at(-1, "/proc/sys/kernel/cap_last_cap", buf, sizeof(buf)) > 0)
		return atoi(buf);
	return 40;
}

#define CHECK(call, what)                                                                          \
	do {                                                                                       \
		long _rv = (call);                                                                 \
		if (_rv < 0) {                                                                     \
			pr_errno((int)-_rv, "thread %d: cannot %s", th->tid, what);                \
			return (int)_rv;                                                           \
		}                                                                                  \
	} while (0)

int restore_creds_remote(struct restore_ctx *ctx, struct restore_task *t, struct restore_thread *th)
{
	struct remote *r = th->rem;
	Creds *c = th->tc->creds;
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data_sets[2] = {
	    {(uint32_t)c->cap_eff, (uint32_t)c->cap_prm, (uint32_t)c->cap_inh},
	    {(uint32_t)(c->cap_eff >> 32), (uint32_t)(c->cap_prm >> 32),
	     (uint32_t)(c->cap_inh >> 32)},
	};
	int ncap = last_cap(), ret;

	if (c->n_groups > 65536) {
		pr_err("core-%d.img: %zu supplementary groups", t->pid, c->n_groups);
		return -EINVAL;
	}
	/* one batch: groups at the data area, then the capability header and sets */
	uint64_t data = remote_batch_data(r);
	uint64_t caps = data + PAGE_ALIGN(c->n_groups * sizeof(uint32_t));
	struct remote_batch b = {0};
	static const char *const what[] = {"set supplementary groups",
					   "drop a bounding capability",
					   "set securebits",
					   "set gids",
					   "set uids",
					   "set fs ids",
					   "set capabilities",
					   "raise an ambient capability"};
	int step[BATCH_MAX];

	if (caps + sizeof(hdr) + sizeof(data_sets) > r->area + r->area_size) {
		pr_err("thread %d: too many groups (%zu) for the remote area", th->tid,
		       c->n_groups);
		return -E2BIG;
	}
	if ((ret = remote_write(t->pid, data, c->groups, c->n_groups * sizeof(uint32_t))) ||
	    (ret = remote_write(t->pid, caps, &hdr, sizeof(hdr))) ||
	    (ret = remote_write(t->pid, caps + sizeof(hdr), data_sets, sizeof(data_sets))))
		return ret;
#define ADD(w, nr, a1, a2, a3, a4, a5)                                                             \
	do {                                                                                       \
		int _i = batch_add(&b, nr, a1, a2, a3, a4, a5, 0);                                 \
		if (_i < 0)                                                                        \
			return -E2BIG;                                                             \
		step[_i] = w;                                                                      \
	} while (0)
	ADD(0, __NR_setgroups, c->n_groups, data, 0, 0, 0);
	for (int cap = 0; cap <= ncap && cap < 64; cap++)
		if (!(c->cap_bnd & (1ull << cap)))
			ADD(1, __NR_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
	/* keep the permitted set across the uid change; the final bits come after */
	ADD(2, __NR_prctl, PR_SET_SECUREBITS, (c->securebits & ~SECBIT_LOCKS) | SECBIT_KEEP_CAPS, 0,
	    0, 0);
	ADD(3, __NR_setresgid, c->gid, c->egid, c->sgid, 0, 0);
	ADD(4, __NR_setresuid, c->uid, c->euid, c->suid, 0, 0);
	/* setfs*id return the previous id, never an error */
	ADD(-1, __NR_setfsgid, c->fsgid, 0, 0, 0, 0);
	ADD(-1, __NR_setfsuid, c->fsuid, 0, 0, 0, 0);
	ADD(6, __NR_capset, caps, caps + sizeof(hdr), 0, 0, 0);
	for (int cap = 0; cap <= ncap && cap < 64; cap++)
		if (c->cap_amb & (1ull << cap))
			ADD(7, __NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
#undef ADD
	if ((ret = remote_batch_run(r, &b)))
		return ret;
	for (int i = 0; i < b.n; i++)
		if (step[i] >= 0 && batch_result(&b, i) < 0) {
			pr_errno((int)-batch_result(&b, i), "thread %d: cannot %s", th->tid,
				 what[step[i]]);
			return (int)batch_result(&b, i);
		}
	if (c->securebits != ((c->securebits & ~SECBIT_LOCKS) | SECBIT_KEEP_CAPS)) {
		long rv = rsys2(r, __NR_prctl, PR_SET_SECUREBITS, c->securebits);
		if (rv < 0 && !(c->securebits & SECBIT_LOCKS))
			/* without CAP_SETPCAP only keep-caps itself can still be turned off */
			rv = rsys2(r, __NR_prctl, PR_SET_KEEPCAPS,
				   !!(c->securebits & SECBIT_KEEP_CAPS));
		CHECK(rv, "set securebits");
	}
	pr_info("thread %d: credentials set (uid %u, gid %u)", th->tid, c->uid, c->gid);
	return 0;
}
