/* Credentials: real/effective/saved/fs uids and gids, supplementary groups, the five
 * capability sets and the securebits. Read from /proc, set by remote calls near the end of a
 * restore, since the task may lose the right to do the rest once they are set. Before a
 * restore creates anything, the images' credentials are checked against what cryo itself
 * holds: the new tasks start with cryo's, and can only go where the kernel lets it go. */
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
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

/* ---- restore: what cryo may give the new tasks ---- */

/* cryo's own credentials: those every new task starts with */
struct own_creds {
	uid_t uid[3]; /* real, effective, saved */
	gid_t gid[3];
	gid_t *groups; /* sorted */
	int nr_groups;
	uint64_t eff, prm, inh, bnd;
	long securebits;
};

static int cmp_gid(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
	return x < y ? -1 : x > y;
}

static int read_own_creds(struct own_creds *o)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	int n, ncap = last_cap();

	memset(o, 0, sizeof(*o));
	if (getresuid(&o->uid[0], &o->uid[1], &o->uid[2]) ||
	    getresgid(&o->gid[0], &o->gid[1], &o->gid[2]) || syscall(SYS_capget, &hdr, d) ||
	    (n = getgroups(0, NULL)) < 0)
		return -errno;
	o->groups = malloc((n ? n : 1) * sizeof(gid_t));
	if (!o->groups)
		return -ENOMEM;
	if ((o->nr_groups = getgroups(n, o->groups)) < 0) {
		free(o->groups);
		return -errno;
	}
	sort_n(o->groups, o->nr_groups, sizeof(gid_t), cmp_gid);
	o->eff = d[0].effective | (uint64_t)d[1].effective << 32;
	o->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	o->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	for (int cap = 0; cap <= ncap && cap < 64; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			o->bnd |= 1ull << cap;
	o->securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	return 0;
}

static bool own_cap(const struct own_creds *o, int cap)
{
	return o->eff & (1ull << cap);
}

/* The dumped groups are cryo's own (compared as sets, as the kernel keeps them sorted) */
static bool same_groups(const struct own_creds *o, const Creds *c)
{
	gid_t *g;
	bool same;

	if (c->n_groups != (size_t)o->nr_groups)
		return false;
	if (!c->n_groups)
		return true;
	if (!(g = malloc(c->n_groups * sizeof(gid_t))))
		return false;
	for (size_t i = 0; i < c->n_groups; i++)
		g[i] = c->groups[i];
	sort_n(g, c->n_groups, sizeof(gid_t), cmp_gid);
	same = !memcmp(g, o->groups, c->n_groups * sizeof(gid_t));
	free(g);
	return same;
}

static bool id_in(uint32_t id, const uint32_t own[3])
{
	return id == own[0] || id == own[1] || id == own[2];
}

/* Why cryo cannot give a thread these credentials, or NULL if it can (the rules of
 * setresuid, setresgid, setgroups, PR_CAPBSET_DROP, capset, PR_CAP_AMBIENT, securebits). */
static const char *creds_out_of_reach(const struct own_creds *o, const Creds *c, char *why,
				      size_t size)
{
	uint32_t uids[4] = {c->uid, c->euid, c->suid, c->fsuid};
	uint32_t gids[4] = {c->gid, c->egid, c->sgid, c->fsgid};
	uint32_t my_uid[3] = {o->uid[0], o->uid[1], o->uid[2]};
	uint32_t my_gid[3] = {o->gid[0], o->gid[1], o->gid[2]};
	bool setpcap = own_cap(o, CAP_SETPCAP);
	uint64_t inh_room = o->inh | (setpcap ? c->cap_bnd : o->prm);

	for (int i = 0; i < 4; i++) {
		if (!own_cap(o, CAP_SETUID) && !id_in(uids[i], my_uid)) {
			snprintf(why, size, "uid %u (without CAP_SETUID)", uids[i]);
			return why;
		}
		if (!own_cap(o, CAP_SETGID) && !id_in(gids[i], my_gid)) {
			snprintf(why, size, "gid %u (without CAP_SETGID)", gids[i]);
			return why;
		}
	}
	if (!own_cap(o, CAP_SETGID) && !same_groups(o, c)) {
		snprintf(why, size,
			 "%zu supplementary groups other than cryo's (without CAP_SETGID)",
			 c->n_groups);
		return why;
	}
	if (c->cap_bnd & ~o->bnd) {
		snprintf(why, size, "bounding capabilities %#llx, not in cryo's bounding set",
			 (unsigned long long)(c->cap_bnd & ~o->bnd));
		return why;
	}
	if (c->cap_bnd != o->bnd && !setpcap) {
		snprintf(why, size, "a smaller bounding set (without CAP_SETPCAP)");
		return why;
	}
	if (c->cap_prm & ~o->prm) {
		snprintf(why, size, "permitted capabilities %#llx, which cryo does not hold",
			 (unsigned long long)(c->cap_prm & ~o->prm));
		return why;
	}
	if (c->cap_inh & ~inh_room) {
		snprintf(why, size, "inheritable capabilities %#llx, which cryo cannot grant",
			 (unsigned long long)(c->cap_inh & ~inh_room));
		return why;
	}
	if (c->cap_eff & ~c->cap_prm || c->cap_amb & ~(c->cap_prm & c->cap_inh)) {
		snprintf(why, size, "effective or ambient capabilities outside its permitted set");
		return why;
	}
	if (!setpcap && (c->securebits & ~SECBIT_KEEP_CAPS) !=
			    ((uint64_t)o->securebits & ~(uint64_t)SECBIT_KEEP_CAPS)) {
		snprintf(why, size, "securebits %#x (without CAP_SETPCAP)", c->securebits);
		return why;
	}
	return NULL;
}

int restore_check_privileges(struct restore_ctx *ctx)
{
	struct own_creds o;
	char why[160];
	int ret = read_own_creds(&o);

	if (ret) {
		pr_errno(-ret, "cannot read cryo's own credentials");
		return ret;
	}
	for (int i = 0; i < ctx->nr_tasks && !ret; i++) {
		struct restore_task *t = &ctx->tasks[i];
		for (int k = 0; !t->zombie && k < t->nr_threads && !ret; k++) {
			const char *no =
			    creds_out_of_reach(&o, t->threads[k].tc->creds, why, sizeof(why));
			if (!no)
				continue;
			if (k)
				pr_err("cannot restore process %d, thread %d: its credentials hold "
				       "%s, which cryo (uid %u, gid %u) cannot give it",
				       t->pid, t->threads[k].tid, no, o.uid[1], o.gid[1]);
			else
				pr_err("cannot restore process %d: its credentials hold %s, which "
				       "cryo (uid %u, gid %u) cannot give it",
				       t->pid, no, o.uid[1], o.gid[1]);
			ret = -EPERM;
		}
	}
	free(o.groups);
	if (ret)
		return ret;
	if (!own_cap(&o, CAP_CHECKPOINT_RESTORE) && !own_cap(&o, CAP_SYS_ADMIN)) {
		pr_err("restoring needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN), which cryo (uid "
		       "%u) does not have: every process and thread is created with its dumped id "
		       "(clone3 with set_tid), which the kernel allows only with it",
		       o.uid[1]);
		return -EPERM;
	}
	if (!own_cap(&o, CAP_SYS_ADMIN)) {
		pr_err("restoring needs CAP_SYS_ADMIN, which cryo (uid %u) does not have: the new "
		       "tasks are traced with their seccomp filters suspended "
		       "(PTRACE_O_SUSPEND_SECCOMP)",
		       o.uid[1]);
		return -EPERM;
	}
	return 0;
}

/* ---- restore: in the new task ---- */

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
	struct own_creds o; /* the task's own still: it started with cryo's */

	if ((ret = read_own_creds(&o)))
		return ret;
	free(o.groups);
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
	/* what needs a capability is left out where it changes nothing (checked by
	 * restore_check_privileges: the groups are the task's already, and so on) */
	if (own_cap(&o, CAP_SETGID))
		ADD(0, __NR_setgroups, c->n_groups, data, 0, 0, 0);
	for (int cap = 0; cap <= ncap && cap < 64; cap++)
		if (!(c->cap_bnd & (1ull << cap)) && (o.bnd & (1ull << cap)))
			ADD(1, __NR_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
	/* keep the permitted set across the uid change; the final bits come after */
	if (own_cap(&o, CAP_SETPCAP))
		ADD(2, __NR_prctl, PR_SET_SECUREBITS,
		    (c->securebits & ~SECBIT_LOCKS) | SECBIT_KEEP_CAPS, 0, 0, 0);
	else
		ADD(2, __NR_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0);
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
