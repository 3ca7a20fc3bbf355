/* memfds shared with a process outside the tree: the target of memfd-outside-refused
 * (tests/cases/memfd_outside.sh). The outsider is a grandchild whose parent exited (it belongs
 * to the reaper above the test now). Three memfds:
 *   m1, made by the outsider (it keeps its fd), opened by the test through /proc/PID/fd;
 *   m2, made by the test (it keeps its fd), only mapped by the outsider (its fd closed);
 *   m3, made by the test and only mapped by it (its fd closed), held by the outsider's fd;
 * shared anonymous memory the test mapped before it forked (the outsider inherited it); and a
 * file both hold by an fd, deleted since (the dump would save it as a ghost, a copy).
 * The test says the fd numbers and the mappings. At the check (after a refused dump) each is
 * still the one the outsider holds: what the test writes is read through the outsider's fd,
 * or its memory (/proc/PID/mem). */
// zt-run: no-cryo
#include "zt.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

struct said {
	pid_t pid;
	int m1, m3, g; /* the outsider's fds */
};

/* m (the test's fd) and the outsider's fd of it are one file: a write shows through it */
static bool shared(int fd, void *map, const char *outsider_path, const char *word)
{
	char got[16] = {0};
	if (fd >= 0) {
		if (pwrite(fd, word, strlen(word), 0) != (ssize_t)strlen(word))
			return false;
	} else {
		memcpy(map, word, strlen(word));
	}
	FILE *f = fopen(outsider_path, "re");
	if (!f)
		return false;
	size_t n = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	return n >= strlen(word) && !memcmp(got, word, strlen(word));
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	int m2 = memfd_create("zt-m2", MFD_CLOEXEC), m3 = memfd_create("zt-m3", MFD_CLOEXEC);
	zt_check_sys(m2 >= 0 && m3 >= 0 && ftruncate(m2, PAGE) == 0 && ftruncate(m3, PAGE) == 0,
		     "memfds");
	char *anon = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	zt_check_sys(anon != MAP_FAILED, "shared anonymous memory");
	int gfd = open("ghost.dat", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	zt_check_sys(gfd >= 0 && ftruncate(gfd, PAGE) == 0, "ghost.dat");
	int c2p[2];
	zt_check_sys(pipe(c2p) == 0, "pipe");
	pid_t mid = fork();
	zt_check_sys(mid >= 0, "fork");
	if (mid == 0) {
		if (fork() != 0)
			_exit(0);
		void *p2 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, m2, 0);
		struct said s = {.pid = getpid(), .m3 = dup(m3), .g = dup(gfd)};
		s.m1 = memfd_create("zt-m1", MFD_CLOEXEC);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != c2p[1] && fd != s.m1 && fd != s.m3 && fd != s.g)
				close(fd);
		if (p2 == MAP_FAILED || s.m1 < 0 || s.m3 < 0 || s.g < 0 || ftruncate(s.m1, PAGE) < 0 ||
		    write(c2p[1], &s, sizeof(s)) != sizeof(s))
			_exit(1);
		close(c2p[1]);
		for (;;)
			pause();
	}
	close(c2p[1]);
	waitpid(mid, NULL, 0);
	struct said s;
	zt_check_sys(read(c2p[0], &s, sizeof(s)) == sizeof(s), "the outsider");
	close(c2p[0]);
	zt_check_sys(unlink("ghost.dat") == 0, "unlink ghost.dat");
	char p1[64], p2[64], p3[64], pg[64];
	snprintf(pg, sizeof(pg), "/proc/%d/fd/%d", (int)s.pid, s.g);
	snprintf(p1, sizeof(p1), "/proc/%d/fd/%d", (int)s.pid, s.m1);
	snprintf(p3, sizeof(p3), "/proc/%d/fd/%d", (int)s.pid, s.m3);
	snprintf(p2, sizeof(p2), "/proc/self/fd/%d", m2);
	int m1 = open(p1, O_RDWR | O_CLOEXEC);
	zt_check_sys(m1 >= 0, "open the outsider's memfd");
	void *map3 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, m3, 0);
	zt_check_sys(map3 != MAP_FAILED, "map m3");
	close(m3);
	zt_log("outsider %d m1 fd %d (its %d), m2 fd %d, m3 mapping %#lx-%#lx (its fd %d), anon "
	       "%#lx-%#lx, ghost fd %d (its %d)",
	       (int)s.pid, m1, s.m1, m2, (unsigned long)map3, (unsigned long)map3 + PAGE, s.m3,
	       (unsigned long)anon, (unsigned long)anon + PAGE, gfd, s.g);

	zt_ready();
	zt_wait_for_check();
	zt_expect(shared(m1, NULL, p1, "one"), "m1 is not the outsider's any more");
	zt_expect(shared(m2, NULL, p2, "two"), "m2 is not itself");
	zt_expect(shared(gfd, NULL, pg, "five"), "the deleted file is not the outsider's any more");
	zt_expect(shared(-1, map3, p3, "three"), "m3's mapping is not the outsider's fd's file");
	/* the outsider's view of the anonymous memory, at the same address */
	char mem[64], got[8] = {0};
	snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)s.pid);
	memcpy(anon, "four", 5);
	int mfd = open(mem, O_RDONLY | O_CLOEXEC);
	zt_expect(mfd >= 0 && pread(mfd, got, 5, (off_t)(uintptr_t)anon) == 5 &&
		      !strcmp(got, "four"),
		  "the anonymous memory is not the outsider's any more ('%s')", got);
	if (mfd >= 0)
		close(mfd);
	kill(s.pid, SIGKILL);
	zt_pass();
}
