/* The audit login uid and session id (/proc/self/loginuid, /proc/self/sessionid). The test
 * sets its login uid to 4242 (once unset, a task may set it; the kernel gives it a new
 * session id with it), then starts a thread, which shares both. After the dump the login
 * uid is 4242 in the process and in that thread, and the session id is set (not 4294967295,
 * "unset") and the same in both: the kernel hands out a new session id with every login uid
 * written, so the dumped number itself cannot come back (cryo warns of it in its log). Also
 * run in the gen2 mode. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOGINUID 4242ul
#define UNSET 4294967295ul

static unsigned long read_num(const char *path)
{
	char buf[64];

	if (zt_read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	return strtoul(buf, NULL, 10);
}

static void write_loginuid(const char *val)
{
	int fd = open("/proc/self/loginuid", O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		zt_fail("setup: write %s to /proc/self/loginuid: %m", val);
	close(fd);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long thread_uid, thread_sid;

static void *thread_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock); /* until the check */
	thread_uid = read_num("/proc/thread-self/loginuid");
	thread_sid = read_num("/proc/thread-self/sessionid");
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long uid, sid;
	pthread_t th;

	zt_init(argc, argv);
	if (access("/proc/self/loginuid", F_OK))
		zt_fail("setup: no /proc/self/loginuid (a kernel without audit)");
	/* the runner may run in a login session: unset it first (root may) */
	write_loginuid("4294967295");
	write_loginuid("4242");
	uid = read_num("/proc/self/loginuid");
	sid = read_num("/proc/self/sessionid");
	if (uid != LOGINUID || sid == UNSET)
		zt_fail("setup: loginuid %lu sessionid %lu", uid, sid);
	pthread_mutex_lock(&lock);
	if (pthread_create(&th, NULL, thread_main, NULL))
		zt_fail("setup: pthread_create");

	zt_ready();
	zt_wait_for_check();

	uid = read_num("/proc/self/loginuid");
	sid = read_num("/proc/self/sessionid");
	zt_expect(uid == LOGINUID, "loginuid %lu, expected %lu", uid, LOGINUID);
	zt_expect(sid != UNSET, "sessionid is unset (%lu)", sid);
	pthread_mutex_unlock(&lock);
	pthread_join(th, NULL);
	zt_expect(thread_uid == LOGINUID, "thread: loginuid %lu, expected %lu", thread_uid,
		  LOGINUID);
	zt_expect(thread_sid == sid, "thread: sessionid %lu, the process's %lu", thread_sid, sid);
	zt_pass();
}
