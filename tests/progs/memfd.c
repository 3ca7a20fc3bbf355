/* A memfd, held both as a descriptor and as a shared mapping, with seals.
 *
 * After the dump the descriptor must still be a memfd of the same name (the /proc/self/fd
 * link), with its size, data and seals (F_GET_SEALS), and the mapping must still be the same
 * object as the descriptor: a pwrite() shows in the mapping and a store to the mapping shows
 * in a pread(). A private mapping of it keeps its copy-on-write page. */
// zt-run: gen2
#include "zt.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE (64 << 10)

int main(int argc, char **argv)
{
	static char buf[SIZE];
	char link_before[256], link[256];
	char *shared, *priv;
	int fd, seals;
	ssize_t n;

	zt_init(argc, argv);
	fd = memfd_create("zt-memfd", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, SIZE))
		zt_fail("memfd_create: %m");
	shared = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	priv = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (shared == MAP_FAILED || priv == MAP_FAILED)
		zt_fail("mmap: %m");
	zt_fill_pattern(shared, SIZE, 1);
	memcpy(priv, "private copy", 12);	/* page 0 of priv is now its own */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW))
		zt_fail("F_ADD_SEALS: %m");
	seals = fcntl(fd, F_GET_SEALS);
	n = readlink("/proc/self/fd/3", link_before, sizeof(link_before) - 1);
	link_before[n > 0 ? n : 0] = '\0';
	if (fd != 3 || strncmp(link_before, "/memfd:zt-memfd", 15))
		zt_fail("setup: fd %d is '%s'", fd, link_before);

	zt_ready();
	zt_wait_for_check();

	n = readlink("/proc/self/fd/3", link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	zt_expect(!strcmp(link, link_before), "fd link '%s', was '%s'", link, link_before);
	zt_expect(fcntl(fd, F_GET_SEALS) == seals, "seals %#x, were %#x", fcntl(fd, F_GET_SEALS),
		  seals);
	zt_expect(fcntl(fd, F_GETFD) == FD_CLOEXEC, "close-on-exec lost");
	zt_expect(lseek(fd, 0, SEEK_END) == SIZE, "size %ld", (long)lseek(fd, 0, SEEK_END));
	zt_expect(ftruncate(fd, SIZE / 2) < 0, "F_SEAL_SHRINK not in force");
	n = pread(fd, buf, SIZE, 0);
	zt_expect(n == SIZE && zt_check_pattern_as(buf, SIZE, 1, shared) < 0,
		  "memfd data differs (%zd bytes)", n);
	zt_expect(zt_check_pattern(shared, SIZE, 1) < 0, "mapped data differs");
	zt_expect(!memcmp(priv, "private copy", 12), "private copy-on-write page lost");
	zt_expect(priv[4096] == shared[4096], "private mapping's untouched page differs");

	/* One object: both ways. */
	zt_expect(pwrite(fd, "via fd", 6, 100) == 6, "pwrite: %m");
	zt_expect(!memcmp(shared + 100, "via fd", 6), "a pwrite is not seen in the mapping");
	memcpy(shared + 200, "via map", 7);
	zt_expect(pread(fd, buf, 7, 200) == 7 && !memcmp(buf, "via map", 7),
		  "a store to the mapping is not seen by pread");
	zt_pass();
}
