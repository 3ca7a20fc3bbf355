/* Holds a hugetlb memfd (MFD_HUGETLB, 2 MiB large; no huge page needs to exist for that), which
 * cryo does not save: the target of the memfd-hugetlb case (tests/cases/memfd.sh), which
 * expects the dump to refuse it by name and this program to run on unharmed. Its check: the
 * descriptor is still a hugetlbfs file of that size, at fd 3. */
// zt-run: no-cryo
#include "zt.h"

#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define SIZE (2L << 20)

int main(int argc, char **argv)
{
	struct statfs sfs;
	struct stat st;
	int fd;

	zt_init(argc, argv);
	fd = memfd_create("zt-huge", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd != 3 || ftruncate(fd, SIZE))
		zt_fail("memfd_create(MFD_HUGETLB): fd %d: %m", fd);
	zt_ready();
	zt_wait_for_check();
	zt_expect(fstatfs(fd, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC, "f_type %#lx",
		  (long)sfs.f_type);
	zt_expect(fstat(fd, &st) == 0 && st.st_size == SIZE, "size %ld", (long)st.st_size);
	zt_pass();
}
