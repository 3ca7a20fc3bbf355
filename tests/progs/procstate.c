/* Process state that /proc shows and a program may set for itself: its core dump filter, and
 * KSM for all of its memory (PR_SET_MEMORY_MERGE, as some JIT runtimes and VMs do). Both must
 * be as they were after a restore. */
// zt-run: gen2
#include "zt.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif

static unsigned read_filter(void)
{
	char buf[32] = "";
	int fd = open("/proc/self/coredump_filter", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		return ~0u;
	close(fd);
	return (unsigned)strtoul(buf, NULL, 16);
}

int main(int argc, char **argv)
{
	int fd, merge;

	zt_init(argc, argv);
	fd = open("/proc/self/coredump_filter", O_WRONLY);
	zt_check_sys(fd >= 0 && write(fd, "0x5d", 4) == 4, "coredump_filter");
	close(fd);
	merge = prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) == 0;

	zt_ready();
	zt_wait_for_check();

	zt_expect(read_filter() == 0x5d, "coredump_filter %#x, was 0x5d", read_filter());
	if (merge)
		zt_expect(prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == 1,
			  "PR_GET_MEMORY_MERGE %d, was 1", prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0));
	zt_pass();
}
