/* A process that denied itself writable-and-executable memory (PR_SET_MDWE, as a hardened
 * service does). cryo cannot give that back yet: the refusals case dumps it, the dump must be
 * refused naming it, and the process keeps its restriction. */
// zt-run: no-cryo
#include "zt.h"

#include <sys/mman.h>
#include <sys/prctl.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#endif

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	zt_check_sys(prctl(PR_SET_MDWE, 1, 0, 0, 0) == 0, "PR_SET_MDWE");
	zt_ready();
	zt_wait_for_check();
	zt_expect(prctl(PR_GET_MDWE, 0, 0, 0, 0) == 1, "PR_GET_MDWE is no longer set");
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	zt_expect(p == MAP_FAILED, "a W+X mapping was allowed");
	zt_pass();
}
