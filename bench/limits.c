/* The machine's limits for the benchmark, measured in the same run as the workloads:
 *   memcpy of 1 GiB between two buffers already touched,
 *   write() of 1 GiB from touched memory into a file on tmpfs,
 *   read() of that file into 1 GiB of fresh (never touched) anonymous memory.
 * Each is the best of three passes; the first tmpfs write is also reported (it can be slow).
 * A dump cannot go faster than the write, nor a restore than the read.
 *
 *   limits DIR [MB]     (DIR on tmpfs; the file is removed at the end)
 * prints one line: memcpy_gbs=X tmpfs_write_gbs=Y tmpfs_write_first_gbs=Z tmpfs_read_gbs=W
 *
 *   limits --warm MB    touch MB MiB of fresh memory, then give it back
 * The VM these machines run in hands free memory back to its host (free page reporting:
 * memory left free for about a second is reported and dropped by the host), and the first
 * touch of such memory costs a fault in the host: writing 1 GiB can take 3 times as long.
 * The benchmark warms memory this way just before each timed command, so that cryo and the
 * limits are measured on memory the host backs, not on the luck of the allocator. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (16UL << 20)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *map(size_t len, int touch)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("limits: mmap");
		exit(1);
	}
	if (touch)
		for (size_t i = 0; i < len; i += 4096)
			p[i] = (char)(i >> 12);
	return p;
}

static double write_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	double t;
	if (fd < 0) {
		fprintf(stderr, "limits: cannot create %s: %s\n", path, strerror(errno));
		exit(1);
	}
	t = now();
	for (size_t off = 0; off < len; off += CHUNK)
		if (write(fd, buf + off, CHUNK) != (ssize_t)CHUNK) {
			fprintf(stderr, "limits: write %s: %s\n", path, strerror(errno));
			exit(1);
		}
	t = now() - t;
	close(fd);
	return len / t / 1e9;
}

int main(int argc, char **argv)
{
	size_t len = (argc > 2 ? strtoul(argv[2], NULL, 10) : 1024) << 20;
	char path[4096];
	double best_cp = 0, first_wr, best_wr, rd, t;
	char *src, *dst;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: limits DIR [MB] | limits --warm MB\n");
		return 1;
	}
	if (!strcmp(argv[1], "--warm")) {
		char *m = map(len, 1);
		munmap(m, len);
		return 0;
	}
	len = (len / CHUNK) * CHUNK;
	if (!len)
		len = CHUNK;
	snprintf(path, sizeof(path), "%s/limits.tmp", argv[1]);

	src = map(len, 1);
	dst = map(len, 1);
	for (int i = 0; i < 3; i++) {
		t = now();
		memcpy(dst, src, len);
		t = now() - t;
		if (len / t / 1e9 > best_cp)
			best_cp = len / t / 1e9;
	}
	munmap(dst, len);

	/* the first write into tmpfs can be much slower (the VM's first touch of that memory) */
	first_wr = best_wr = write_file(path, src, len);
	for (int i = 0; i < 2; i++) {
		double w = write_file(path, src, len);
		if (w > best_wr)
			best_wr = w;
	}
	munmap(src, len);

	/* fresh memory each time (the kernel must fault every page in, as a restore does); the
	 * best of three, since the very first touch of memory in a VM costs more */
	rd = 0;
	for (int i = 0; i < 3; i++) {
		double r;
		dst = map(len, 0);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "limits: cannot open %s: %s\n", path, strerror(errno));
			return 1;
		}
		t = now();
		for (size_t off = 0; off < len; off += CHUNK)
			if (read(fd, dst + off, CHUNK) != (ssize_t)CHUNK) {
				fprintf(stderr, "limits: read %s: %s\n", path, strerror(errno));
				return 1;
			}
		t = now() - t;
		close(fd);
		munmap(dst, len);
		r = len / t / 1e9;
		if (r > rd)
			rd = r;
	}
	unlink(path);

	printf("memcpy_gbs=%.2f tmpfs_write_gbs=%.2f tmpfs_write_first_gbs=%.2f tmpfs_read_gbs=%.2f\n",
	       best_cp, best_wr, first_wr, rd);
	return 0;
}
