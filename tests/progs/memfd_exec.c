/* A program run from memory: a memfd holding a copy of /bin/true, as a loader that unpacks
 * a binary and runs it without a file (fexecve, execveat with AT_EMPTY_PATH) does it.
 *
 *   E  the memfd_create descriptor (read-write, MFD_CLOEXEC) with the copy, also mapped
 *      MAP_SHARED read-write (a loader patching it in place), position at its end
 *   R  a second memfd with the copy, held only through a read-only description opened via
 *      /proc/self/fd (its memfd_create descriptor closed) and a private read-only mapping
 *
 * Checked after the dump: E and R still hold the program byte for byte; a child runs E with
 * fexecve and R with execveat(AT_EMPTY_PATH), both exit 0: no writer the test did not have
 * is left on either (a descriptor or mapping cryo opened for writing would make the kernel
 * refuse with ETXTBSY). E is still writable through its fd and mapping. Also run in the gen2
 * mode. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_BIN (8 << 20)

static char bin[MAX_BIN];
static ssize_t bin_len;

static int copy_of_true(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || write(fd, bin, bin_len) != bin_len)
		zt_fail("memfd %s: %m", name);
	return fd;
}

/* The exit status of the program in fd run in a child, or 100 + errno if it cannot run. */
static int run(int fd, bool at)
{
	char *argv[] = {"true", NULL}, *envp[] = {NULL};
	int status;
	pid_t p = fork();

	if (p == 0) {
		if (at)
			syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		else
			fexecve(fd, argv, envp);
		_exit(100 + errno);
	}
	if (p < 0 || waitpid(p, &status, 0) != p || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static bool holds_true(int fd)
{
	static char buf[MAX_BIN];
	return pread(fd, buf, sizeof(buf), 0) == bin_len && !memcmp(buf, bin, bin_len);
}

int main(int argc, char **argv)
{
	char path[64], *e_map, *r_map;
	int e, r, tmp, src, rv;

	zt_init(argc, argv);
	src = open("/bin/true", O_RDONLY | O_CLOEXEC);
	bin_len = src < 0 ? -1 : read(src, bin, sizeof(bin));
	if (bin_len <= 0 || bin_len == sizeof(bin))
		zt_fail("cannot read /bin/true: %m");
	close(src);
	e = copy_of_true("zt-true");
	e_map = mmap(NULL, bin_len, PROT_READ | PROT_WRITE, MAP_SHARED, e, 0);
	tmp = copy_of_true("zt-true-ro");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", tmp);
	r = open(path, O_RDONLY | O_CLOEXEC);
	r_map = mmap(NULL, bin_len, PROT_READ, MAP_PRIVATE, tmp, 0);
	if (e_map == MAP_FAILED || r < 0 || r_map == MAP_FAILED)
		zt_fail("setup: %m");
	close(tmp);
	if ((rv = run(e, false)) != 0 || (rv = run(r, true)) != 0)
		zt_fail("the copies of /bin/true do not run before the dump: %d", rv);

	zt_ready();
	zt_wait_for_check();

	zt_expect(holds_true(e) && !memcmp(e_map, bin, bin_len), "E: the program differs");
	zt_expect(holds_true(r) && !memcmp(r_map, bin, bin_len), "R: the program differs");
	zt_expect(lseek(e, 0, SEEK_CUR) == bin_len, "E: position %ld", (long)lseek(e, 0, SEEK_CUR));
	rv = run(e, false);
	zt_expect(rv == 0, "E: fexecve: %s", rv > 100 ? strerror(rv - 100) : "exit status");
	rv = run(r, true);
	zt_expect(rv == 0, "R: execveat: %s", rv > 100 ? strerror(rv - 100) : "exit status");
	/* E is still the loader's to patch */
	zt_expect(pwrite(e, bin, 16, 0) == 16, "E: not writable: %m");
	e_map[bin_len - 1] = bin[bin_len - 1];
	zt_expect(run(e, false) == 0, "E: does not run after a write");
	zt_pass();
}
