/* A process in network, UTS and IPC namespaces of its own (as a sandboxed service is). cryo
 * does not save namespaces yet, so the refusals case (tests/cases/refusals.sh) uses it as the
 * target of a dump that must be refused, naming each namespace, and leave it running; the
 * check: it is still in its own namespaces, with its own host name. */
// zt-run: no-cryo
#include "zt.h"

#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char host[] = "cryo-ns-test";

int main(int argc, char **argv)
{
	struct stat before, now;
	char name[64];

	zt_init(argc, argv);
	zt_check_sys(unshare(CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC) == 0, "unshare");
	zt_check_sys(sethostname(host, strlen(host)) == 0, "sethostname");
	zt_check_sys(stat("/proc/self/ns/net", &before) == 0, "stat ns");

	zt_ready();
	zt_wait_for_check();

	zt_expect(stat("/proc/self/ns/net", &now) == 0 && now.st_ino == before.st_ino,
		  "no longer in its own network namespace");
	zt_expect(gethostname(name, sizeof(name)) == 0 && !strcmp(name, host), "host name %s",
		  name);
	zt_pass();
}
