/* Threads of one process with different credentials. glibc's setresuid() and friends change
 * every thread of the process (they broadcast the change), the kernel's calls only the
 * calling thread, so each thread changes its own with raw system calls:
 *
 *   tc-main   root, untouched
 *   tc-uid    setresuid(1001, 1002, 1003): all capabilities gone
 *   tc-gid    setresgid(2001, 2002, 2003) and setgroups(3001, 3002, 3003)
 *   tc-fsuid  setfsuid(4001), setfsgid(4002): uid 0, but the file system caps gone
 *   tc-caps   capset: CAP_NET_RAW and CAP_SYS_TIME out of permitted and effective, CAP_KILL
 *             out of effective only; CAP_SYS_BOOT out of the bounding set; keepcaps on
 *
 * Checked after the check, by each thread for itself: getresuid, getresgid, fsuid, fsgid,
 * the supplementary groups, capget, the bounding set, keepcaps, and its lines Uid, Gid,
 * Groups, CapInh, CapPrm, CapEff, CapBnd, CapAmb of /proc/thread-self/status against those
 * read before the dump. The main thread also reads every thread's status through
 * /proc/self/task/TID/status before letting them check. And by effect: each thread creates a
 * file in a world-writable directory and checks its owner and group (fsuid and fsgid at
 * work), and tries to open a root-only file (0600): only the threads that kept
 * CAP_DAC_OVERRIDE or uid 0 as fsuid may; tc-caps tries a raw socket (CAP_NET_RAW gone).
 * Also run in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { T_MAIN, T_UID, T_GID, T_FSUID, T_CAPS, NT };

static const char *const names[NT] = { "tc-main", "tc-uid", "tc-gid", "tc-fsuid", "tc-caps" };

static const char *const status_keys[] = { "Uid",    "Gid",    "Groups", "CapInh",
					   "CapPrm", "CapEff", "CapBnd", "CapAmb" };
#define NKEYS (sizeof(status_keys) / sizeof(status_keys[0]))

struct creds {
	unsigned int ruid, euid, suid, rgid, egid, sgid, fsuid, fsgid;
	int ngroups;
	gid_t groups[16];
	struct __user_cap_data_struct cap[2];
	int capbset_boot, keepcaps;
	char status[NKEYS][128];
};

static struct creds before[NT];
static pid_t tids[NT];
static pthread_t threads[NT];
/* What the effects should be: the file's owner and whether the root-only file opens. */
static const struct {
	unsigned int uid, gid;
	bool may_open_secret;
} effect[NT] = {
	[T_MAIN] = { 0, 0, true },	   [T_UID] = { 1002, 0, false },
	[T_GID] = { 0, 2002, true },	   [T_FSUID] = { 4001, 4002, false },
	[T_CAPS] = { 0, 0, true },
};

static void read_creds(struct creds *c)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	char buf[4096];

	memset(c, 0, sizeof(*c));
	syscall(SYS_getresuid, &c->ruid, &c->euid, &c->suid);
	syscall(SYS_getresgid, &c->rgid, &c->egid, &c->sgid);
	/* An invalid id changes nothing and returns the current one. */
	c->fsuid = syscall(SYS_setfsuid, -1);
	c->fsgid = syscall(SYS_setfsgid, -1);
	c->ngroups = syscall(SYS_getgroups, 16, c->groups);
	syscall(SYS_capget, &hdr, c->cap);
	c->capbset_boot = prctl(PR_CAPBSET_READ, CAP_SYS_BOOT);
	c->keepcaps = prctl(PR_GET_KEEPCAPS);
	if (zt_read_file("/proc/thread-self/status", buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	for (size_t k = 0; k < NKEYS; k++)
		if (!zt_status_field(buf, status_keys[k], c->status[k], sizeof(c->status[k])))
			snprintf(c->status[k], sizeof(c->status[k]), "(missing)");
}

/* The thread's own credential changes, with the raw calls (this thread only). */
static int change_creds(int i)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct cap[2];
	gid_t groups[3] = { 3001, 3002, 3003 };

	switch (i) {
	case T_UID:
		return syscall(SYS_setresuid, 1001, 1002, 1003);
	case T_GID:
		if (syscall(SYS_setresgid, 2001, 2002, 2003))
			return -1;
		return syscall(SYS_setgroups, 3, groups);
	case T_FSUID:
		syscall(SYS_setfsuid, 4001);
		syscall(SYS_setfsgid, 4002);
		/* setfsuid reports nothing: check it took. */
		if (syscall(SYS_setfsuid, -1) != 4001 || syscall(SYS_setfsgid, -1) != 4002) {
			errno = EPERM;
			return -1;
		}
		return 0;
	case T_CAPS:
		if (syscall(SYS_capget, &hdr, cap))
			return -1;
		cap[0].permitted &= ~(1U << CAP_NET_RAW | 1U << CAP_SYS_TIME);
		cap[0].effective &= ~(1U << CAP_NET_RAW | 1U << CAP_SYS_TIME | 1U << CAP_KILL);
		if (syscall(SYS_capset, &hdr, cap))
			return -1;
		if (prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT))
			return -1;
		return prctl(PR_SET_KEEPCAPS, 1);
	}
	return 0;
}

static void compare(int i, const struct creds *a, const struct creds *b)
{
	zt_tree_expect(i, a->ruid == b->ruid && a->euid == b->euid && a->suid == b->suid,
		       "resuid %u/%u/%u, was %u/%u/%u", a->ruid, a->euid, a->suid, b->ruid, b->euid,
		       b->suid);
	zt_tree_expect(i, a->rgid == b->rgid && a->egid == b->egid && a->sgid == b->sgid,
		       "resgid %u/%u/%u, was %u/%u/%u", a->rgid, a->egid, a->sgid, b->rgid, b->egid,
		       b->sgid);
	zt_tree_expect(i, a->fsuid == b->fsuid, "fsuid %u, was %u", a->fsuid, b->fsuid);
	zt_tree_expect(i, a->fsgid == b->fsgid, "fsgid %u, was %u", a->fsgid, b->fsgid);
	zt_tree_expect(
	    i,
	    a->ngroups == b->ngroups &&
		!memcmp(a->groups, b->groups, sizeof(gid_t) * (a->ngroups > 0 ? a->ngroups : 0)),
	    "%d supplementary groups (first %u), were %d (first %u)", a->ngroups, a->groups[0],
	    b->ngroups, b->groups[0]);
	for (int w = 0; w < 2; w++)
		zt_tree_expect(i, !memcmp(&a->cap[w], &b->cap[w], sizeof(a->cap[w])),
			       "capabilities word %d: eff %#x prm %#x inh %#x, were %#x %#x %#x", w,
			       a->cap[w].effective, a->cap[w].permitted, a->cap[w].inheritable,
			       b->cap[w].effective, b->cap[w].permitted, b->cap[w].inheritable);
	zt_tree_expect(i, a->capbset_boot == b->capbset_boot,
		       "CAP_SYS_BOOT in bounding set: %d, was %d", a->capbset_boot,
		       b->capbset_boot);
	zt_tree_expect(i, a->keepcaps == b->keepcaps, "keepcaps %d, was %d", a->keepcaps,
		       b->keepcaps);
	for (size_t k = 0; k < NKEYS; k++)
		zt_tree_expect(i, !strcmp(a->status[k], b->status[k]), "%s: '%s', was '%s'",
			       status_keys[k], a->status[k], b->status[k]);
}

/* The credentials at work: a new file's owner and group, access to a root-only file. */
static void check_effects(int i)
{
	char path[64];
	struct stat sb;
	int fd;

	snprintf(path, sizeof(path), "pub/%s", names[i]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (zt_tree_expect(i, fd >= 0, "create %s: %m", path)) {
		fstat(fd, &sb);
		close(fd);
		zt_tree_expect(i, sb.st_uid == effect[i].uid && sb.st_gid == effect[i].gid,
			       "new file owned by %u:%u, expected %u:%u", sb.st_uid, sb.st_gid,
			       effect[i].uid, effect[i].gid);
	}
	fd = open("secret", O_RDONLY);
	if (effect[i].may_open_secret)
		zt_tree_expect(i, fd >= 0, "cannot open the root-only file: %m");
	else
		zt_tree_expect(i, fd < 0 && errno == EACCES,
			       "opening the root-only file: fd %d, errno %d (expected EACCES)", fd,
			       fd < 0 ? errno : 0);
	if (fd >= 0)
		close(fd);
	if (i == T_CAPS) {
		fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
		zt_tree_expect(i, fd < 0 && errno == EPERM,
			       "raw socket without CAP_NET_RAW: fd %d, errno %d", fd,
			       fd < 0 ? errno : 0);
		if (fd >= 0)
			close(fd);
	}
}

static void check_thread(int i)
{
	struct creds now;

	zt_tree_expect(i, gettid() == tids[i], "gettid %d, was %d", gettid(), tids[i]);
	read_creds(&now);
	compare(i, &now, &before[i]);
	check_effects(i);
}

static void *thread_main(void *arg)
{
	int i = (int)(long)arg;

	tids[i] = gettid();
	prctl(PR_SET_NAME, names[i]);
	if (change_creds(i))
		zt_tree_expect(i, false, "setup: changing credentials: %m");
	read_creds(&before[i]);
	zt_tree_ready(i, names[i]);
	zt_tree_wait_go();
	check_thread(i);
	zt_tree_done(i);
	return NULL;
}

int main(int argc, char **argv)
{
	sigset_t term;
	char path[64], buf[4096], val[128];
	int fd, err;

	zt_init(argc, argv);
	zt_tree_init(NT);
	/* The effects need a directory anyone may create in and a file only root may read. */
	if (mkdir("pub", 0777) || chmod("pub", 01777))
		zt_fail("mkdir pub: %m");
	fd = open("secret", O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		zt_fail("create secret: %m");
	close(fd);

	/* SIGTERM is for the main thread: the others are created with it blocked. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	for (int i = 1; i < NT; i++) {
		err = pthread_create(&threads[i], NULL, thread_main, (void *)(long)i);
		if (err)
			zt_fail("pthread_create: %s", strerror(err));
	}
	pthread_sigmask(SIG_UNBLOCK, &term, NULL);
	tids[T_MAIN] = gettid();
	prctl(PR_SET_NAME, names[T_MAIN]);
	read_creds(&before[T_MAIN]);
	zt_tree_ready(T_MAIN, names[T_MAIN]);
	zt_tree_wait_ready();
	/* The credentials really differ: the setup did what it says. */
	if (before[T_UID].euid != 1002 || before[T_GID].egid != 2002 ||
	    before[T_FSUID].fsuid != 4001 || before[T_MAIN].euid != 0 ||
	    (before[T_CAPS].cap[0].effective & (1U << CAP_KILL)))
		zt_fail("setup: the threads' credentials are not what they were set to");

	zt_ready();
	zt_wait_for_check();

	/* Each thread's status, seen from the main thread. */
	for (int i = 0; i < NT; i++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/status", tids[i]);
		if (!zt_expect(zt_read_file(path, buf, sizeof(buf)) >= 0, "cannot read %s", path))
			continue;
		for (size_t k = 0; k < NKEYS; k++) {
			if (!zt_status_field(buf, status_keys[k], val, sizeof(val)))
				val[0] = '\0';
			zt_expect(!strcmp(val, before[i].status[k]), "%s: %s '%s', was '%s'", path,
				  status_keys[k], val, before[i].status[k]);
		}
	}
	check_thread(T_MAIN);
	zt_tree_go();
	zt_tree_collect();
	for (int i = 1; i < NT; i++) {
		if (!zt_tree_wait_done(i, 0))
			continue;
		err = pthread_join(threads[i], NULL);
		zt_expect(!err, "pthread_join %s: %s", names[i], strerror(err));
	}
	zt_pass();
}
