/* System V IPC: the segments, semaphore sets and message queues of cryo's IPC namespace that
 * the tree uses. Processes in cryo's namespace share its objects with every other process of
 * the host, so a dump saves only the objects it can tie to the tree, and says which others
 * it leaves as they are:
 * - a shared memory segment attached by a task of the tree (its mappings name it): saved,
 *   with its pages; one attached outside the tree too, or attached in part, is refused; one
 *   only created or last attached by a task (cpid, lpid) is named in the log, left as it is;
 * - a semaphore set whose last operation on any semaphore (sempid) was a task's: saved;
 * - a message queue whose last sender or receiver (lspid, lrpid) is a task: saved;
 * - any other object: named in the log, left as it is.
 * A restore makes each object again with its id (/proc/sys/kernel/{shm,sem,msg}_next_id) and
 * key, as its creator (cuid, cgid), with its content, then its owner and mode; an object that
 * exists with that id is taken instead when it is the same one (key, size or number of
 * semaphores, not attached by anyone), and set back to its dumped state; anything else in
 * the way refuses the restore. Each task attaches its segments again itself (shmat, remote),
 * at the same address with the same flags; a segment removed while attached is removed again
 * once every task has attached it.
 * This file holds that rule's shared steps and the entry points the drivers call: the
 * owner and id of each object, the check of ipc.img, an object made with a chosen id or an
 * existing one found, its owner and mode set, and the three kinds run in order. Each kind's
 * own dump and restore are in sysv_shm.c, sysv_sem.c and sysv_msg.c (res/sysv_kinds.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "img/image.h"
#include "res/sysv_kinds.h"
#include "res/sysvipc.h"

#define IPC_MAX_ID 0x7fffffffu
#define IPC_MAX_OBJECTS 32768 /* IPCMNI */

/* ---- dump ---- */

bool sysv_tree_pid(const struct dump_ctx *ctx, pid_t pid)
{
	for (int i = 0; pid > 0 && i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].pid == pid)
			return true;
	return false;
}

SysvPerm *sysv_new_perm(struct dump_ctx *ctx, int id, const struct ipc_perm *p)
{
	SysvPerm *sp = A_NEW(&ctx->arena, SysvPerm, SYSV_PERM);
	if (!sp)
		return NULL;
	sp->id = (uint32_t)id;
	sp->key = p->__key;
	sp->mode = p->mode & 0777;
	sp->uid = p->uid, sp->gid = p->gid;
	sp->cuid = p->cuid, sp->cgid = p->cgid;
	return sp;
}

int sysv_dump(struct dump_ctx *ctx)
{
	int ret;

	ctx->ipc = A_NEW(&ctx->arena, Ipc, IPC);
	if (!ctx->ipc)
		return -ENOMEM;
	/* the tree is frozen; processes outside it may still change these objects meanwhile */
	if ((ret = sysv_dump_shms(ctx)) || (ret = sysv_dump_sems(ctx)) ||
	    (ret = sysv_dump_msgs(ctx)))
		return ret;
	return 0;
}

int sysv_write_image(struct dump_ctx *ctx)
{
	return img_write(ctx->dirfd, IMG_IPC, 0, &ctx->ipc->base);
}

/* ---- restore: reading and checking ---- */

int sysv_check_perm(const char *what, size_t i, const SysvPerm *p)
{
	if (!p || p->id > IPC_MAX_ID || p->mode & ~0777u || p->uid == (uint32_t)-1 ||
	    p->gid == (uint32_t)-1 || p->cuid == (uint32_t)-1 || p->cgid == (uint32_t)-1) {
		pr_err("ipc.img: %s %zu: invalid id, mode or owner", what, i);
		return -EINVAL;
	}
	return 0;
}
int sysv_read_images(struct restore_ctx *ctx)
{
	int ret;

	ret = img_read(ctx->dirfd, IMG_IPC, 0, (ProtobufCMessage **)&ctx->ipc);
	if (ret)
		return ret;
	Ipc *ipc = ctx->ipc;
	if (ipc->n_shms > IPC_MAX_OBJECTS || ipc->n_sems > IPC_MAX_OBJECTS ||
	    ipc->n_msgs > IPC_MAX_OBJECTS) {
		pr_err("ipc.img: %zu segments, %zu semaphore sets, %zu queues: too many",
		       ipc->n_shms, ipc->n_sems, ipc->n_msgs);
		return -EINVAL;
	}
	for (size_t i = 0; i < ipc->n_shms; i++)
		if ((ret = sysv_check_shm(ctx, i, ipc->shms[i])))
			return ret;
	for (size_t i = 0; i < ipc->n_sems; i++) {
		const SysvSemSet *s = ipc->sems[i];
		if ((ret = sysv_check_perm("semaphore set", i, s->perm)))
			return ret;
		if (!s->n_values || s->n_values > SEM_MAX_NSEMS ||
		    (s->n_pids && s->n_pids != s->n_values)) {
			pr_err("ipc.img: semaphore set %u has %zu semaphores", s->perm->id,
			       s->n_values);
			return -EINVAL;
		}
		for (size_t k = 0; k < s->n_values; k++)
			if (s->values[k] > SEM_MAX_VALUE) {
				pr_err("ipc.img: semaphore set %u: value %u of semaphore %zu is "
				       "above %d",
				       s->perm->id, s->values[k], k, SEM_MAX_VALUE);
				return -EINVAL;
			}
	}
	for (size_t i = 0; i < ipc->n_msgs; i++)
		if ((ret = sysv_check_msgs(i, ipc->msgs[i])))
			return ret;
	/* ids and keys unique within each kind */
	for (size_t i = 0; i < ipc->n_sems; i++)
		for (size_t k = 0; k < i; k++)
			if (ipc->sems[k]->perm->id == ipc->sems[i]->perm->id ||
			    (ipc->sems[i]->perm->key &&
			     ipc->sems[k]->perm->key == ipc->sems[i]->perm->key)) {
				pr_err("ipc.img: semaphore set %u: a second set with its id or key",
				       ipc->sems[i]->perm->id);
				return -EINVAL;
			}
	for (size_t i = 0; i < ipc->n_msgs; i++)
		for (size_t k = 0; k < i; k++)
			if (ipc->msgs[k]->perm->id == ipc->msgs[i]->perm->id ||
			    (ipc->msgs[i]->perm->key &&
			     ipc->msgs[k]->perm->key == ipc->msgs[i]->perm->key)) {
				pr_err(
				    "ipc.img: message queue %u: a second queue with its id or key",
				    ipc->msgs[i]->perm->id);
				return -EINVAL;
			}
	for (int i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie && (ret = sysv_check_attaches(ctx, &ctx->tasks[i])))
			return ret;
	ctx->sysv_made = calloc(ipc->n_shms + ipc->n_sems + ipc->n_msgs + 1, sizeof(bool));
	ctx->sysv_mem = calloc(ipc->n_shms + 1, sizeof(void *));
	return ctx->sysv_made && ctx->sysv_mem ? 0 : -ENOMEM;
}

/* ---- restore: the objects ---- */

static const char *const next_id_path[] = {
    "/proc/sys/kernel/shm_next_id", "/proc/sys/kernel/sem_next_id", "/proc/sys/kernel/msg_next_id"};
static const char *const kind_name[] = {"shared memory segment", "semaphore set", "message queue"};

static int write_sysctl(const char *path, long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC), len = snprintf(buf, sizeof(buf), "%ld\n", v);
	if (fd < 0)
		return -errno;
	int ret = write_all(fd, buf, (size_t)len);
	close(fd);
	return ret;
}

static int read_sysctl(const char *path, long *v)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EINVAL;
	*v = strtol(buf, NULL, 10);
	return 0;
}

static void remove_object(enum ipc_kind k, uint32_t id)
{
	int r = k == K_SHM   ? shmctl((int)id, IPC_RMID, NULL)
		: k == K_SEM ? semctl((int)id, 0, IPC_RMID)
			     : msgctl((int)id, IPC_RMID, NULL);
	if (r < 0 && errno != EINVAL && errno != EIDRM)
		pr_errno(errno, "cannot remove %s %u", kind_name[k], id);
}

/* Make the object with its id, as its creator: the namespace's next id is set, the object
 * made (as euid cuid, egid cgid in this thread only), the sysctl put back. */
int sysv_create_with_id(enum ipc_kind k, const SysvPerm *p, uint64_t size, int nsems)
{
	uid_t euid = geteuid();
	gid_t egid = getegid();
	long old = -1;
	int ret, id, err = 0;

	if ((ret = read_sysctl(next_id_path[k], &old)) ||
	    (ret = write_sysctl(next_id_path[k], p->id))) {
		pr_errno(-ret, "cannot set %s to %u (needs CAP_CHECKPOINT_RESTORE)",
			 next_id_path[k], p->id);
		return ret;
	}
	if (syscall(SYS_setresgid, -1, p->cgid, -1) || syscall(SYS_setresuid, -1, p->cuid, -1)) {
		err = errno;
		id = -1;
	} else {
		int flags = IPC_CREAT | IPC_EXCL | 0600;
		id = k == K_SHM	  ? shmget(p->key, size, flags)
		     : k == K_SEM ? semget(p->key, nsems, flags)
				  : msgget(p->key, flags);
		if (id < 0)
			err = errno;
	}
	/* back to cryo's own ids (its capabilities come back with euid 0) */
	if (syscall(SYS_setresuid, -1, euid, -1) || syscall(SYS_setresgid, -1, egid, -1)) {
		pr_errno(errno, "cannot take back cryo's own ids");
		abort(); /* never: cryo keeps its saved ids */
	}
	/* the kernel forgets a next id once used (back to -1, which cannot be written): a value
	 * someone else had set is put back */
	long now = -1;
	if (old != -1)
		ret = write_sysctl(next_id_path[k], old);
	else if (!(ret = read_sysctl(next_id_path[k], &now)) && now != -1)
		ret = -EBUSY; /* not used by this object: another one may take it */
	if (ret) {
		pr_errno(-ret, "cannot put %s back to %ld (it is %ld)", next_id_path[k], old, now);
		if (id >= 0)
			remove_object(k, (uint32_t)id);
		return ret;
	}
	if (id < 0) {
		pr_errno(err, "cannot make %s %u (key %#x) as its creator %u:%u", kind_name[k],
			 p->id, p->key, p->cuid, p->cgid);
		return -err;
	}
	if ((uint32_t)id != p->id) {
		/* its index was taken meanwhile */
		remove_object(k, (uint32_t)id);
		pr_err("%s %u (key %#x) could not get its id: the kernel gave %d (another "
		       "object took it)",
		       kind_name[k], p->id, p->key, id);
		return -EEXIST;
	}
	return ret;
}

/* An object where the image's is: -ENOENT if none; 0 if it is the image's own (same key;
 * the caller compares the rest); refusal otherwise. A key already used by another id
 * refuses too. */
int sysv_find_existing(enum ipc_kind k, const SysvPerm *p, struct ipc_perm *have)
{
	int r, other = -1;
	union {
		struct shmid_ds shm;
		struct semid_ds sem;
		struct msqid_ds msg;
	} ds;
	union semun arg = {.buf = &ds.sem};

	r = k == K_SHM	 ? shmctl((int)p->id, IPC_STAT, &ds.shm)
	    : k == K_SEM ? semctl((int)p->id, 0, IPC_STAT, arg)
			 : msgctl((int)p->id, IPC_STAT, &ds.msg);
	if (r < 0 && errno != EINVAL && errno != EIDRM) {
		pr_errno(errno, "cannot look at %s %u", kind_name[k], p->id);
		return -errno;
	}
	if (r >= 0) {
		*have = k == K_SHM   ? ds.shm.shm_perm
			: k == K_SEM ? ds.sem.sem_perm
				     : ds.msg.msg_perm;
		if (have->__key != p->key) {
			pr_err("%s %u (key %#x) cannot be restored: another one (key %#x) has its "
			       "id",
			       kind_name[k], p->id, p->key, have->__key);
			return -EEXIST;
		}
		return 0;
	}
	if (p->key != IPC_PRIVATE) {
		other = k == K_SHM   ? shmget(p->key, 0, 0)
			: k == K_SEM ? semget(p->key, 0, 0)
				     : msgget(p->key, 0);
		if (other >= 0) {
			pr_err("%s %u (key %#x) cannot be restored: its key belongs to %s %d",
			       kind_name[k], p->id, p->key, kind_name[k], other);
			return -EEXIST;
		}
	}
	return -ENOENT;
}

int sysv_set_owner(enum ipc_kind k, const SysvPerm *p, uint64_t qbytes)
{
	union {
		struct shmid_ds shm;
		struct semid_ds sem;
		struct msqid_ds msg;
	} ds;
	union semun arg = {.buf = &ds.sem};
	struct ipc_perm *perm = k == K_SHM   ? &ds.shm.shm_perm
				: k == K_SEM ? &ds.sem.sem_perm
					     : &ds.msg.msg_perm;
	int r = k == K_SHM   ? shmctl((int)p->id, IPC_STAT, &ds.shm)
		: k == K_SEM ? semctl((int)p->id, 0, IPC_STAT, arg)
			     : msgctl((int)p->id, IPC_STAT, &ds.msg);
	if (r >= 0) {
		perm->uid = p->uid, perm->gid = p->gid;
		perm->mode = p->mode;
		if (k == K_MSG)
			ds.msg.msg_qbytes = qbytes;
		r = k == K_SHM	 ? shmctl((int)p->id, IPC_SET, &ds.shm)
		    : k == K_SEM ? semctl((int)p->id, 0, IPC_SET, arg)
				 : msgctl((int)p->id, IPC_SET, &ds.msg);
	}
	if (r < 0) {
		int err = errno;
		pr_errno(err, "%s %u: cannot set its owner %u:%u, mode %o%s", kind_name[k], p->id,
			 p->uid, p->gid, p->mode,
			 k == K_MSG && err == EPERM ? " or its limit (above msgmnb: needs "
						      "CAP_SYS_RESOURCE)"
						    : "");
		return -err;
	}
	return 0;
}

struct restore_task *sysv_live_task(struct restore_ctx *ctx, bool has, uint32_t pid)
{
	struct restore_task *t = has && pid ? restore_find_task(ctx, (pid_t)pid) : NULL;
	return t && !t->zombie ? t : NULL;
}

int sysv_restore_objects(struct restore_ctx *ctx)
{
	Ipc *ipc = ctx->ipc;
	size_t n = 0;
	int ret = 0;

	if (!ipc)
		return 0;
	for (size_t i = 0; i < ipc->n_shms && !ret; i++, n++)
		ret = sysv_restore_shm(ctx, ipc->shms[i], &ctx->sysv_made[n], &ctx->sysv_mem[i]);
	for (size_t i = 0; i < ipc->n_sems && !ret; i++, n++)
		ret = sysv_restore_sem(ipc->sems[i], &ctx->sysv_made[n]);
	for (size_t i = 0; i < ipc->n_msgs && !ret; i++, n++)
		ret = sysv_restore_msg(ctx, ipc->msgs[i], &ctx->sysv_made[n]);
	if (!ret && (ipc->n_shms || ipc->n_sems || ipc->n_msgs))
		pr_info("System V IPC: %zu segments, %zu semaphore sets, %zu message queues "
			"restored",
			ipc->n_shms, ipc->n_sems, ipc->n_msgs);
	return ret;
}

int sysv_task_call(struct restore_task *t, const char *what, uint32_t id, long nr, long a1, long a2,
		   long a3, long a4, long a5)
{
	long rv = remote_syscall(&t->rem, nr, a1, a2, a3, a4, a5, 0);
	if (rv < 0 || t->rem.err) {
		int err = rv < 0 ? (int)-rv : -t->rem.err;
		pr_errno(err, "task %d: cannot %s (System V object %u)", t->pid, what, id);
		return -err;
	}
	return 0;
}

int sysv_restore_remote(struct restore_ctx *ctx)
{
	int ret = 0;
	/* every task holds its attaches now: cryo's own can go, before the tasks' last ones */
	if (ctx->ipc)
		sysv_detach_all(ctx);
	for (size_t i = 0; ctx->ipc && i < ctx->ipc->n_shms && !ret; i++)
		ret = sysv_shm_lpid_remote(ctx, ctx->ipc->shms[i]);
	for (size_t i = 0; ctx->ipc && i < ctx->ipc->n_sems && !ret; i++)
		ret = sysv_sem_pids_remote(ctx, ctx->ipc->sems[i]);
	for (size_t i = 0; ctx->ipc && i < ctx->ipc->n_msgs && !ret; i++)
		ret = sysv_msg_pids_remote(ctx, ctx->ipc->msgs[i]);
	return ret;
}

int sysv_restore_finish(struct restore_ctx *ctx)
{
	if (ctx->ipc)
		sysv_detach_all(ctx);
	for (size_t i = 0; ctx->ipc && i < ctx->ipc->n_shms; i++) {
		const SysvShm *s = ctx->ipc->shms[i];
		if (s->removed && shmctl((int)s->perm->id, IPC_RMID, NULL) < 0) {
			pr_errno(errno, "shared memory segment %u: cannot remove it again",
				 s->perm->id);
			return -errno;
		}
	}
	return 0;
}

void sysv_restore_abort(struct restore_ctx *ctx)
{
	Ipc *ipc = ctx->ipc;
	size_t n = 0;

	if (!ipc || !ctx->sysv_made)
		return;
	sysv_detach_all(ctx);
	for (size_t i = 0; i < ipc->n_shms; i++, n++)
		if (ctx->sysv_made[n])
			remove_object(K_SHM, ipc->shms[i]->perm->id);
	for (size_t i = 0; i < ipc->n_sems; i++, n++)
		if (ctx->sysv_made[n])
			remove_object(K_SEM, ipc->sems[i]->perm->id);
	for (size_t i = 0; i < ipc->n_msgs; i++, n++)
		if (ctx->sysv_made[n])
			remove_object(K_MSG, ipc->msgs[i]->perm->id);
}

void sysv_restore_free(struct restore_ctx *ctx)
{
	if (ctx->ipc)
		sysv_detach_all(ctx);
	img_free(ctx->ipc ? &ctx->ipc->base : NULL);
	free(ctx->sysv_made);
	free(ctx->sysv_mem);
	ctx->ipc = NULL;
	ctx->sysv_made = NULL;
	ctx->sysv_mem = NULL;
}
