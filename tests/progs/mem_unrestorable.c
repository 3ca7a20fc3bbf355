/* Holds a mapping whose state cryo cannot restore, chosen by $ZT_MEM_KIND: "pkey" (a memory
 * protection key of its own, pkey_mprotect) or "droppable" (MAP_DROPPABLE), or an ordinary
 * mapping with "aslimit": an address-space limit (RLIMIT_AS) of what it has mapped plus
 * 64 KiB, which leaves no room for cryo's remote-call area. The address of
 * the mapping goes to the file "addr" in the work directory. The case mem-refuse
 * (tests/cases/mem_refuse.sh) expects the dump to refuse, naming the task and the mapping,
 * and this program to run on unharmed: its check is the data and the key or flag. */
// zt-run: no-cryo
#include "zt.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LEN (4 * 4096UL)
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

int main(int argc, char **argv)
{
	const char *kind = getenv("ZT_MEM_KIND");
	char *p, flags[256], line[64];
	int fd, n;

	zt_init(argc, argv);
	if (!kind)
		kind = "pkey";
	if (!strcmp(kind, "droppable")) {
		p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			zt_fail("MAP_DROPPABLE: %m");
	} else if (!strcmp(kind, "aslimit")) {
		p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			zt_fail("mmap: %m");
	} else {
		int key = (int)syscall(SYS_pkey_alloc, 0, 0);
		p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (key < 0 || p == MAP_FAILED ||
		    syscall(SYS_pkey_mprotect, p, LEN, PROT_READ | PROT_WRITE, key))
			zt_fail("pkey: %m");
	}
	zt_fill_pattern(p, LEN, 1);
	zt_vmflags(p, flags, sizeof(flags));
	n = snprintf(line, sizeof(line), "%lx\n", (unsigned long)p);
	fd = open("addr", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, line, n) != n)
		zt_fail("addr: %m");
	close(fd);
	if (!strcmp(kind, "aslimit")) {
		unsigned long kb = 0;
		FILE *f = fopen("/proc/self/status", "r");
		while (f && fgets(line, sizeof(line), f) && sscanf(line, "VmSize: %lu", &kb) != 1)
			;
		if (f)
			fclose(f);
		struct rlimit rl = {(kb + 64) * 1024, RLIM_INFINITY};
		if (!kb || setrlimit(RLIMIT_AS, &rl))
			zt_fail("RLIMIT_AS: %m");
	}

	zt_ready();
	zt_wait_for_check();

	char after[256];
	zt_vmflags(p, after, sizeof(after));
	zt_expect(!strcmp(flags, after), "VmFlags '%s', were '%s'", after, flags);
	/* droppable memory may lose its pages under memory pressure: then they read zero */
	zt_expect(zt_check_pattern(p, LEN, 1) < 0 || (!strcmp(kind, "droppable") && !p[0]),
		  "data differs");
	zt_pass();
}
