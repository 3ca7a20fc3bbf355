/* System V message queues of the tree: the queues saved with their messages (read with
 * MSG_COPY, left queued), the checks of a queue's image, a queue made again or taken again
 * and filled, and its last sender and receiver (lspid, lrpid) made tasks of the tree again.
 * The rule of which queues are saved, and what the three kinds share, are in sysvipc.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/restore_ctx.h"
#include "core/util.h"
#include "img/image.h"
#include "res/sysv_kinds.h"

#define MSG_MAX_QBYTES (1ull << 30) /* the image cap is far below */

int sysv_dump_msgs(struct dump_ctx *ctx)
{
	struct msginfo info;
	int max = msgctl(0, MSG_INFO, (struct msqid_ds *)&info);

	if (max < 0) {
		pr_errno(errno, "cannot list System V message queues (MSG_INFO)");
		return -errno;
	}
	for (int idx = 0; idx <= max; idx++) {
		struct msqid_ds ds;
		int id = msgctl(idx, MSG_STAT_ANY, &ds);
		if (id < 0)
			continue;
		if (!sysv_tree_pid(ctx, ds.msg_lspid) && !sysv_tree_pid(ctx, ds.msg_lrpid)) {
			pr_info(
			    "System V message queue %d (key %#x) was not last used by the tree: "
			    "left as it is",
			    id, ds.msg_perm.__key);
			continue;
		}
		SysvMsgQueue *q = A_NEW(&ctx->arena, SysvMsgQueue, SYSV_MSG_QUEUE);
		if (!q || !(q->perm = sysv_new_perm(ctx, id, &ds.msg_perm)))
			return -ENOMEM;
		q->qbytes = ds.msg_qbytes;
		q->has_lspid = q->has_lrpid = true;
		q->lspid = ds.msg_lspid > 0 ? (uint32_t)ds.msg_lspid : 0;
		q->lrpid = ds.msg_lrpid > 0 ? (uint32_t)ds.msg_lrpid : 0;
		/* no message is larger than the bytes queued */
		size_t cap = ds.__msg_cbytes + sizeof(long) + 1;
		struct {
			long type;
			char text[];
		} *m = malloc(cap);
		if (!m)
			return -ENOMEM;
		/* MSG_COPY: the n-th message, left in the queue (CONFIG_CHECKPOINT_RESTORE) */
		for (unsigned long n = 0; n < ds.msg_qnum; n++) {
			/* no MSG_NOERROR: a message larger than the buffer (the queue changed
			 * meanwhile) fails instead of being cut */
			ssize_t len =
			    msgrcv(id, m, cap - sizeof(long), (long)n, MSG_COPY | IPC_NOWAIT);
			if (len < 0) {
				int err = errno;
				free(m);
				pr_errno(
				    err,
				    "System V message queue %d: cannot copy message %lu of %lu%s",
				    id, n, (unsigned long)ds.msg_qnum,
				    err == ENOSYS ? " (the kernel has no MSG_COPY)" : "");
				return err == ENOSYS ? -ENOTSUP : -err;
			}
			SysvMsg *sm = A_NEW(&ctx->arena, SysvMsg, SYSV_MSG);
			if (!sm || !DUMP_PUSH(ctx, q->messages, q->n_messages, sm)) {
				free(m);
				return -ENOMEM;
			}
			sm->type = m->type;
			sm->text.len = (size_t)len;
			sm->text.data = arena_memdup(&ctx->arena, m->text, (size_t)len + 1);
			if (!sm->text.data) {
				free(m);
				return -ENOMEM;
			}
		}
		free(m);
		if (!DUMP_PUSH(ctx, ctx->ipc->msgs, ctx->ipc->n_msgs, q))
			return -ENOMEM;
		pr_info("System V message queue %d (key %#x, %zu messages): saved", id,
			ds.msg_perm.__key, q->n_messages);
	}
	return 0;
}

int sysv_check_msgs(size_t i, const SysvMsgQueue *q)
{
	uint64_t bytes = 0;
	int ret = sysv_check_perm("message queue", i, q->perm);
	if (ret)
		return ret;
	if (q->qbytes > MSG_MAX_QBYTES || q->n_messages > q->qbytes) {
		pr_err("ipc.img: message queue %u: qbytes %lu or %zu messages are invalid",
		       q->perm->id, q->qbytes, q->n_messages);
		return -EINVAL;
	}
	for (size_t k = 0; k < q->n_messages; k++) {
		const SysvMsg *m = q->messages[k];
		bytes += m->text.len;
		if (m->type < 1 || m->text.len > q->qbytes || bytes > q->qbytes) {
			pr_err("ipc.img: message queue %u: message %zu (type %ld, %zu bytes) does "
			       "not fit the queue",
			       q->perm->id, k, (long)m->type, m->text.len);
			return -EINVAL;
		}
	}
	return 0;
}

/* The last sender and receiver of a queue are the tasks' again (lspid, lrpid) when they are
 * tasks of the tree: the last message is sent by the sender itself, and the receiver takes a
 * message cryo queued in front of the others (an empty queue: one the sender sends). */
#define MSG_REMOTE_MAX (64 * 1024) /* a message sent from the scratch area of a task */
struct msg_plan {
	struct restore_task *sender, *receiver;
	bool dummy_first, hold_last, empty_dummy;
};

static void plan_msg(struct restore_ctx *ctx, const SysvMsgQueue *q, struct msg_plan *p)
{
	size_t last = q->n_messages ? q->messages[q->n_messages - 1]->text.len : 0;
	p->sender = sysv_live_task(ctx, q->has_lspid, q->lspid);
	p->receiver = sysv_live_task(ctx, q->has_lrpid, q->lrpid);
	p->hold_last = p->sender && q->n_messages && last + sizeof(long) <= MSG_REMOTE_MAX;
	p->dummy_first = p->receiver && q->n_messages && q->n_messages + 1 <= q->qbytes;
	p->empty_dummy = p->sender && !q->n_messages && q->qbytes >= 1;
}

int sysv_restore_msg(struct restore_ctx *ctx, const SysvMsgQueue *q, bool *made)
{
	struct msg_plan plan;
	struct ipc_perm have;
	int ret = sysv_find_existing(K_MSG, q->perm, &have), id = (int)q->perm->id;
	size_t cap = sizeof(long) + 1;

	if (ret == -ENOENT) {
		if ((ret = sysv_create_with_id(K_MSG, q->perm, 0, 0)))
			return ret;
		*made = true;
	} else if (ret) {
		return ret;
	} else {
		struct {
			long type;
			char text[1];
		} drop;
		/* what is queued now (sent since the dump) goes: the queue is the dumped one */
		while (msgrcv(id, &drop, 1, 0, IPC_NOWAIT | MSG_NOERROR) >= 0)
			;
		if (errno != ENOMSG) {
			pr_errno(errno, "message queue %u: cannot empty it", q->perm->id);
			return -errno;
		}
		pr_info("message queue %u (key %#x) still exists: taken again, its messages set "
			"back to the dumped ones",
			q->perm->id, q->perm->key);
	}
	/* the limit first (cryo's mode, for now), so the messages fit */
	SysvPerm own = *q->perm;
	own.uid = geteuid(), own.gid = getegid(), own.mode = 0600;
	if ((ret = sysv_set_owner(K_MSG, &own, q->qbytes)))
		return ret;
	for (size_t k = 0; k < q->n_messages; k++)
		if (q->messages[k]->text.len + sizeof(long) > cap)
			cap = q->messages[k]->text.len + sizeof(long);
	struct {
		long type;
		char text[];
	} *m = malloc(cap);
	if (!m)
		return -ENOMEM;
	plan_msg(ctx, q, &plan);
	if (plan.dummy_first) {
		m->type = 1;
		if (msgsnd(id, m, 0, IPC_NOWAIT) < 0)
			ret = -errno;
	}
	for (size_t k = 0; k < q->n_messages - plan.hold_last && !ret; k++) {
		m->type = q->messages[k]->type;
		memcpy(m->text, q->messages[k]->text.data, q->messages[k]->text.len);
		if (msgsnd(id, m, q->messages[k]->text.len, IPC_NOWAIT) < 0) {
			ret = -errno;
			pr_errno(-ret, "message queue %u: cannot queue message %zu (%zu bytes%s)",
				 q->perm->id, k, q->messages[k]->text.len,
				 ret == -EINVAL ? ", above msgmax?" : "");
		}
	}
	free(m);
	return ret ? ret : sysv_set_owner(K_MSG, q->perm, q->qbytes);
}

int sysv_msg_pids_remote(struct restore_ctx *ctx, const SysvMsgQueue *q)
{
	struct msg_plan p;
	int ret = 0;
	long type = 1;

	plan_msg(ctx, q, &p);
	if (p.empty_dummy) {
		uint64_t sc = remote_scratch(&p.sender->rem);
		if ((ret = remote_write(p.sender->pid, sc, &type, sizeof(type))) ||
		    (ret = sysv_task_call(p.sender, "send to its queue", q->perm->id, __NR_msgsnd,
					  q->perm->id, (long)sc, 0, IPC_NOWAIT, 0)))
			return ret;
	}
	if ((p.empty_dummy || p.dummy_first) && p.receiver) {
		uint64_t sc = remote_scratch(&p.receiver->rem);
		if ((ret = sysv_task_call(p.receiver, "receive from its queue", q->perm->id,
					  __NR_msgrcv, q->perm->id, (long)sc, 0, 0,
					  IPC_NOWAIT | MSG_NOERROR)))
			return ret;
	} else if (p.empty_dummy) {
		struct {
			long type;
			char c;
		} drop;
		if (msgrcv((int)q->perm->id, &drop, 0, 0, IPC_NOWAIT | MSG_NOERROR) < 0)
			return -errno;
	}
	if (p.hold_last) {
		const SysvMsg *m = q->messages[q->n_messages - 1];
		uint64_t sc = remote_scratch(&p.sender->rem);
		type = m->type;
		if ((ret = remote_write(p.sender->pid, sc, &type, sizeof(type))) ||
		    (m->text.len && (ret = remote_write(p.sender->pid, sc + sizeof(type),
							m->text.data, m->text.len))) ||
		    (ret =
			 sysv_task_call(p.sender, "send its last message", q->perm->id, __NR_msgsnd,
					q->perm->id, (long)sc, (long)m->text.len, IPC_NOWAIT, 0)))
			return ret;
	}
	return 0;
}
