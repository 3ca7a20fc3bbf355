/* A process that stays in the session and process group of whoever started it (the runner,
 * which also runs cryo): after restore both ids must be what they were, and it must still be
 * a plain member, not a leader of either. Needs --shell-job: the session is not ours. */
// zt-run: shell-job
#include "zt.h"

#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t pid, sid, pgid;

	zt_init_flags(argc, argv, ZT_NO_SETSID);
	pid = getpid();
	sid = getsid(0);
	pgid = getpgrp();
	if (sid == pid || pgid == pid)
		zt_fail("setup: expected to be a plain member, sid %d pgid %d pid %d", sid, pgid,
			pid);

	zt_ready();
	zt_wait_for_check();

	zt_expect(getsid(0) == sid, "sid %d, was %d", getsid(0), sid);
	zt_expect(getpgrp() == pgid, "pgid %d, was %d", getpgrp(), pgid);
	zt_expect(getpgid(0) == pgid, "getpgid(0) %d, was %d", getpgid(0), pgid);
	zt_expect(getsid(0) != getpid(), "became a session leader");
	zt_expect(getpgrp() != getpid(), "became a group leader");
	zt_pass();
}
