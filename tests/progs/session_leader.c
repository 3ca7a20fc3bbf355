/* A session and process group leader (zt calls setsid()): both ids must still be our pid,
 * and the session must still have no controlling terminal. */
#include "zt.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* /proc/self/stat field 7, tty_nr: 0 when there is no controlling terminal. */
static int tty_nr(void)
{
	char buf[1024];
	int tty = -1;
	char *rp;

	if (zt_read_file("/proc/self/stat", buf, sizeof(buf)) < 0)
		return -1;
	rp = strrchr(buf, ')');
	if (rp && sscanf(rp + 2, "%*c %*d %*d %*d %d", &tty) != 1)
		tty = -1;
	return tty;
}

int main(int argc, char **argv)
{
	pid_t pid, sid, pgid;
	int tty;

	zt_init(argc, argv);
	pid = getpid();
	sid = getsid(0);
	pgid = getpgrp();
	tty = tty_nr();
	if (sid != pid || pgid != pid)
		zt_fail("setup: sid %d pgid %d, expected our pid %d", sid, pgid, pid);

	zt_ready();
	zt_wait_for_check();

	zt_expect(getpid() == pid, "pid %d, was %d", getpid(), pid);
	zt_expect(getsid(0) == pid, "sid %d, expected %d", getsid(0), pid);
	zt_expect(getpgrp() == pid, "pgid %d, expected %d", getpgrp(), pid);
	zt_expect(getpgid(0) == pid, "getpgid(0) %d, expected %d", getpgid(0), pid);
	zt_expect(tty_nr() == tty, "tty_nr %d, was %d", tty_nr(), tty);
	/* Still a leader: a second setsid() must fail with EPERM. */
	zt_expect(setsid() < 0, "setsid() succeeded: we were not a group leader any more");
	zt_pass();
}
