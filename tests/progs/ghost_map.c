/* Mappings of deleted files, as a server holds them after a package upgrade: the program runs
 * from a copy of itself that is then removed (its executable and its text are "(deleted)");
 * "lib.so" (4 pages) is mapped private, read-only and (another mapping) writable with one
 * page written, then replaced by a new file of the same name (an upgrade); "state.dat" is
 * mapped shared and writable and still held by an fd, then removed; "scratch" is mapped shared
 * with no fd left, then removed.
 *
 * After the dump: /proc/self/exe and every maps line (path "... (deleted)" included, all but
 * the inode number) read as before; the private mappings hold the old library's bytes, the written
 * page its new bytes, the new lib.so is untouched; a write through the shared mapping is read
 * through the fd and a write through the fd is seen in the mapping (one file), which has no link;
 * "scratch" holds its bytes. */
// zt-run: gen2 predump
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG 4096

static char *ro, *rw, *sh, *scr;
static int shfd;
int main(int argc, char **argv);

/* bytes that tell offset and file apart (the files' content does not depend on addresses) */
static void fill(char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)((i * 7 + i / PG * 13 + seed * 101) & 0xff);
}

static bool same(const char *p, size_t len, unsigned seed, size_t from)
{
	for (size_t i = from; i < from + len; i++)
		if (p[i - from] != (char)((i * 7 + i / PG * 13 + seed * 101) & 0xff))
			return false;
	return true;
}

static void make_file(const char *name, size_t len, unsigned seed)
{
	char *buf = malloc(len);
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fill(buf, len, seed);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		zt_fail("%s: %m", name);
	close(fd);
	free(buf);
}

static char *map(const char *name, int prot, int flags, int *keep)
{
	int fd = open(name, prot & PROT_WRITE && flags & MAP_SHARED ? O_RDWR : O_RDONLY);
	char *p = fd < 0 ? MAP_FAILED : mmap(NULL, 4 * PG, prot, flags, fd, 0);
	if (p == MAP_FAILED)
		zt_fail("map %s: %m", name);
	if (keep)
		*keep = fd;
	else
		close(fd);
	return p;
}

/* The maps lines of these addresses, one after the other */
static void maps_of(char *out, size_t len)
{
	const void *addrs[] = {ro, rw, sh, scr, (void *)main};
	size_t n = 0;
	out[0] = 0;
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		char line[600];
		char range[64] = "", perms[8] = "", off[32] = "", dev[16] = "", *path;
		unsigned long ino;
		int pos = 0;
		if (!zt_maps_line(addrs[i], line, sizeof(line)) ||
		    sscanf(line, "%63s %7s %31s %15s %lu %n", range, perms, off, dev, &ino, &pos) <
			5)
			snprintf(line, sizeof(line), "(none)");
		/* all but the inode number: the file is another inode with the same content */
		path = pos ? line + pos : line;
		n += snprintf(out + n, len - n, "%s %s %s %s %s\n", pos ? range : "", perms, off,
			      dev, path);
	}
}

int main(int argc, char **argv)
{
	static char before[4096], after[4096], exe_before[600], exe_after[600];

	/* run from a copy of the program, removed below */
	if (!getenv("GHOST_MAP_COPY")) {
		int src = open("/proc/self/exe", O_RDONLY), dst;
		struct stat st;
		if (src < 0 || fstat(src, &st) < 0 ||
		    (dst = open("ghost_map.bin", O_WRONLY | O_CREAT | O_TRUNC, 0755)) < 0 ||
		    sendfile(dst, src, NULL, st.st_size) != st.st_size || close(dst) < 0) {
			perror("copy");
			return 1;
		}
		setenv("GHOST_MAP_COPY", "1", 1);
		execv("ghost_map.bin", argv);
		perror("exec");
		return 1;
	}
	zt_init(argc, argv);
	if (unlink("ghost_map.bin") < 0)
		zt_fail("unlink the program: %m");

	make_file("lib.so", 4 * PG, 11);
	ro = map("lib.so", PROT_READ, MAP_PRIVATE, NULL);
	rw = map("lib.so", PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	fill(rw + PG, PG, 12); /* one page of its own */
	if (unlink("lib.so") < 0)
		zt_fail("unlink lib.so: %m");
	make_file("lib.so", 2 * PG, 13); /* the upgrade */

	make_file("state.dat", 4 * PG, 21);
	sh = map("state.dat", PROT_READ | PROT_WRITE, MAP_SHARED, &shfd);
	memcpy(sh + 100, "written through the map", 23);
	make_file("scratch", 4 * PG, 31);
	scr = map("scratch", PROT_READ | PROT_WRITE, MAP_SHARED, NULL);
	scr[3 * PG + 5] = 'S';
	if (unlink("state.dat") < 0 || unlink("scratch") < 0)
		zt_fail("unlink: %m");
	maps_of(before, sizeof(before));
	ssize_t n = readlink("/proc/self/exe", exe_before, sizeof(exe_before) - 1);
	exe_before[n > 0 ? n : 0] = 0;

	zt_ready();
	zt_wait_for_check();

	maps_of(after, sizeof(after));
	zt_expect_same_text("maps of the deleted files", before, after);
	n = readlink("/proc/self/exe", exe_after, sizeof(exe_after) - 1);
	exe_after[n > 0 ? n : 0] = 0;
	zt_expect(!strcmp(exe_before, exe_after) && strstr(exe_after, "ghost_map.bin (deleted)"),
		  "exe '%s', was '%s'", exe_after, exe_before);

	zt_expect(same(ro, 4 * PG, 11, 0), "read-only private map: bytes differ");
	zt_expect(same(rw, PG, 11, 0) && same(rw + 2 * PG, 2 * PG, 11, 2 * PG),
		  "writable private map: clean pages differ");
	zt_expect(same(rw + PG, PG, 12, 0), "writable private map: its page differs");
	struct stat st;
	zt_expect(stat("lib.so", &st) == 0 && st.st_size == 2 * PG, "new lib.so: size %ld",
		  (long)st.st_size);
	char *now = map("lib.so", PROT_READ, MAP_PRIVATE, NULL);
	zt_expect(same(now, 2 * PG, 13, 0), "new lib.so: bytes differ");

	char buf[32];
	zt_expect(fstat(shfd, &st) == 0 && st.st_nlink == 0 && st.st_size == 4 * PG,
		  "state.dat: links %lu size %ld", (unsigned long)st.st_nlink, (long)st.st_size);
	zt_expect(pread(shfd, buf, 23, 100) == 23 && !memcmp(buf, "written through the map", 23),
		  "state.dat: the fd does not read what the map wrote");
	memcpy(sh + 2 * PG, "after restore", 13);
	zt_expect(pread(shfd, buf, 13, 2 * PG) == 13 && !memcmp(buf, "after restore", 13),
		  "state.dat: a write through the map after the restore is not in the fd's file");
	zt_expect(pwrite(shfd, "by the fd", 9, 3 * PG) == 9 && !memcmp(sh + 3 * PG, "by the fd", 9),
		  "state.dat: a write through the fd is not in the map");
	zt_expect(scr[3 * PG + 5] == 'S' && same(scr, 3 * PG, 31, 0), "scratch: bytes differ");
	zt_pass();
}
