/* A System V semaphore set used as a lock between tasks, and a message queue:
 *
 *   L  a set of 3 semaphores: 0 is a lock (1 free, 0 taken), 1 and 2 hold 5 and 7
 *   Q  a queue with a key, its limit set to 12345 bytes (msg_qbytes), five messages of
 *      types 1, 2, 3, 1, 2 and sizes up to 4000 bytes queued by the parent
 *
 *   P: the test, waits for the check
 *   +-- H  took the lock (semop -1, no SEM_UNDO) and holds it
 *   +-- W  waits for the lock, blocked in semop
 *
 * H also received the one message of type 9 the parent sent: the queue's last receiver.
 * Checked after the check: the ids and keys of L and Q, the values of L (the lock taken, 5,
 * 7), the last task to operate on each semaphore (H, P, P), one task waiting on the lock (semncnt,
 * W's semop made again), the parent cannot take the lock (IPC_NOWAIT: EAGAIN); then H lets go, W
 * gets the lock, lets go in turn, and the parent gets it. Q's limit, count, last sender (P) and
 * receiver (H); the messages read back by type 2 first (the first of type 2), then in queue order,
 * each with its type and content as sent. Finally the set and the queue are removed. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <unistd.h>

enum { S_P, S_H, S_W, NS };
enum { V_RELEASE = 0, V_W_GOT = 1, V_W_DONE = 2 };

#define NMSG 5
static const long types[NMSG] = {1, 2, 3, 1, 2};
static const size_t sizes[NMSG] = {1, 100, 4000, 17, 0};

static int sem_id, msg_id;
static pid_t holder_pid;
static key_t msg_key;
static struct msgbuf_big {
	long type;
	char text[8192];
} mb;

static void fill(char *p, size_t n, int k)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + k * 13) % 26);
}

static int lock(int flags)
{
	struct sembuf op = {0, -1, (short)flags};
	int r;
	while ((r = semop(sem_id, &op, 1)) < 0 && errno == EINTR)
		;
	return r;
}

static int unlock(void)
{
	struct sembuf op = {0, 1, 0};
	return semop(sem_id, &op, 1);
}

static void holder(void)
{
	zt_tree_child();
	/* ZT_SYSV_UNDO=1 (the sysv-refused case): with an undo adjustment, which cryo cannot
	 * read */
	if (lock(getenv("ZT_SYSV_UNDO") ? SEM_UNDO : 0) < 0)
		zt_tree_fail(S_H, "semop: %s", strerror(errno));
	/* the queue's last receiver */
	if (msgrcv(msg_id, &mb, sizeof(mb.text), 9, IPC_NOWAIT) != 3)
		zt_tree_fail(S_H, "msgrcv of type 9: %s", strerror(errno));
	zt_tree_ready(S_H, "holder");
	zt_tree_wait_go();
	zt_tree_expect(S_H, zt_tree_wait_var(V_RELEASE, 1, 5000), "no word to let go");
	zt_tree_expect(S_H, unlock() == 0, "unlock: %s", strerror(errno));
	zt_tree_done(S_H);
	_exit(0);
}

static void waiter(void)
{
	zt_tree_child();
	zt_tree_ready(S_W, "waiter");
	/* blocks: H holds the lock (the parent waits for H to be ready before making W) */
	int r = lock(0);
	zt_tree_expect(S_W, r == 0, "lock: %s", strerror(errno));
	zt_tree_expect(S_W, zt_tree_go_requested(), "got the lock before the check");
	zt_tree_set(V_W_GOT, 1);
	zt_tree_expect(S_W, unlock() == 0, "unlock: %s", strerror(errno));
	zt_tree_set(V_W_DONE, 1);
	zt_tree_wait_go();
	zt_tree_done(S_W);
	_exit(0);
}

static void check_msgs(void)
{
	struct msqid_ds ds;
	int order[NMSG] = {1, 0, 2, 3, 4}; /* type 2 first, then in queue order */

	zt_expect(msgget(msg_key, 0) == msg_id, "Q: its key %#x does not lead to %d", msg_key,
		  msg_id);
	if (zt_expect(msgctl(msg_id, IPC_STAT, &ds) == 0, "Q: IPC_STAT: %s", strerror(errno))) {
		zt_expect(ds.msg_qbytes == 12345, "Q: limit %lu, wanted 12345",
			  (unsigned long)ds.msg_qbytes);
		zt_expect(ds.msg_qnum == NMSG, "Q: %lu messages, wanted %d",
			  (unsigned long)ds.msg_qnum, NMSG);
		zt_expect((ds.msg_perm.mode & 0777) == 0620, "Q: mode %o", ds.msg_perm.mode);
		zt_expect(ds.msg_lspid == getpid() && ds.msg_lrpid == holder_pid,
			  "Q: last sender %d, receiver %d; wanted %d, %d", ds.msg_lspid,
			  ds.msg_lrpid, getpid(), holder_pid);
	}
	for (int k = 0; k < NMSG; k++) {
		int i = order[k];
		char want[8192];
		ssize_t n = msgrcv(msg_id, &mb, sizeof(mb.text), k == 0 ? 2 : 0, IPC_NOWAIT);
		if (!zt_expect(n >= 0, "Q: message %d: %s", i, strerror(errno)))
			break;
		fill(want, sizes[i], i);
		zt_expect(mb.type == types[i] && (size_t)n == sizes[i] && !memcmp(mb.text, want, n),
			  "Q: message %d: type %ld, %zd bytes; wanted type %ld, %zu bytes", i,
			  mb.type, n, types[i], sizes[i]);
	}
	zt_expect(msgrcv(msg_id, &mb, sizeof(mb.text), 0, IPC_NOWAIT) < 0 && errno == ENOMSG,
		  "Q: more messages than sent");
}

int main(int argc, char **argv)
{
	unsigned short vals[3] = {1, 5, 7}, now[3];
	struct msqid_ds ds;

	zt_init(argc, argv);
	zt_tree_init(NS);
	msg_key = (key_t)(0x6b000000 | (getpid() & 0xffffff));
	sem_id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	msg_id = msgget(msg_key, IPC_CREAT | IPC_EXCL | 0620);
	if (sem_id < 0 || msg_id < 0 || semctl(sem_id, 0, SETALL, vals) < 0)
		zt_fail("semget/msgget/SETALL: %s", strerror(errno));
	if (msgctl(msg_id, IPC_STAT, &ds) < 0)
		zt_fail("msgctl: %s", strerror(errno));
	ds.msg_qbytes = 12345;
	if (msgctl(msg_id, IPC_SET, &ds) < 0)
		zt_fail("msgctl IPC_SET: %s", strerror(errno));
	for (int i = 0; i < NMSG; i++) {
		mb.type = types[i];
		fill(mb.text, sizes[i], i);
		if (msgsnd(msg_id, &mb, sizes[i], IPC_NOWAIT) < 0)
			zt_fail("msgsnd %d: %s", i, strerror(errno));
	}
	mb.type = 9;
	if (msgsnd(msg_id, &mb, 3, IPC_NOWAIT) < 0)
		zt_fail("msgsnd of type 9: %s", strerror(errno));
	pid_t h = fork();
	if (h == 0)
		holder();
	holder_pid = h;
	/* W only once the lock is taken */
	for (int i = 0; i < 5000 && semctl(sem_id, 0, GETVAL) != 0; i++)
		usleep(1000);
	pid_t w = fork();
	if (w == 0)
		waiter();
	if (h < 0 || w < 0)
		zt_fail("fork: %s", strerror(errno));
	zt_tree_wait_ready();
	for (int i = 0; i < 5000 && semctl(sem_id, 0, GETNCNT) != 1; i++)
		usleep(1000);
	if (semctl(sem_id, 0, GETNCNT) != 1)
		zt_fail("the waiter does not wait on the lock");
	zt_ready();
	zt_wait_for_check();
	zt_tree_go();

	if (zt_expect(semctl(sem_id, 0, GETALL, now) == 0, "L: GETALL: %s", strerror(errno)))
		zt_expect(now[0] == 0 && now[1] == 5 && now[2] == 7,
			  "L: values %u %u %u, wanted 0 5 7", now[0], now[1], now[2]);
	zt_expect(semctl(sem_id, 0, GETPID) == h && semctl(sem_id, 1, GETPID) == getpid() &&
		      semctl(sem_id, 2, GETPID) == getpid(),
		  "L: last operations by %d, %d, %d; wanted %d, %d, %d", semctl(sem_id, 0, GETPID),
		  semctl(sem_id, 1, GETPID), semctl(sem_id, 2, GETPID), h, getpid(), getpid());
	int ncnt = -1;
	for (int i = 0; i < 3000 && (ncnt = semctl(sem_id, 0, GETNCNT)) != 1; i++)
		usleep(1000);
	zt_expect(ncnt == 1, "L: %d tasks wait on the lock, wanted 1", ncnt);
	zt_expect(lock(IPC_NOWAIT) < 0 && errno == EAGAIN, "L: the lock was free");
	zt_tree_set(V_RELEASE, 1);
	zt_expect(zt_tree_wait_var(V_W_GOT, 1, 5000), "L: the waiter never got the lock");
	zt_expect(zt_tree_wait_var(V_W_DONE, 1, 5000), "L: the waiter did not let go");
	zt_expect(lock(0) == 0, "L: lock: %s", strerror(errno));
	check_msgs();
	zt_tree_collect();
	zt_waitpid(h, NULL, 0);
	zt_waitpid(w, NULL, 0);
	semctl(sem_id, 0, IPC_RMID);
	msgctl(msg_id, IPC_RMID, NULL);
	zt_pass();
}
