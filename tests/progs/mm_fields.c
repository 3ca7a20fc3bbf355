/* The fields of the memory descriptor that /proc shows: /proc/self/cmdline, environ, auxv,
 * exe, and the code/data/brk/stack/arg/env addresses of /proc/self/stat must all be what
 * they were. To make it harder, the command line and the environment are changed in place
 * (as setproctitle() does), so a restorer that takes them from anywhere but the dumped
 * memory is noticed.
 * The auxv the kernel shows is also checked against glibc's getauxval(). */
#include "zt.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

struct snap {
	char cmdline[8192];
	ssize_t cmdline_len;
	char environ[65536];
	ssize_t environ_len;
	char auxv[4096];
	ssize_t auxv_len;
	char exe[4096];
	unsigned long stat[52];	/* by field number, as in proc(5) */
};

static struct snap before, after;

static const struct {
	int nr;
	const char *name;
} stat_fields[] = {
	{ 26, "startcode" }, { 27, "endcode" },	  { 28, "startstack" }, { 45, "start_data" },
	{ 46, "end_data" },  { 47, "start_brk" }, { 48, "arg_start" },	{ 49, "arg_end" },
	{ 50, "env_start" }, { 51, "env_end" },
};

/* AT_HWCAP is left out: glibc's getauxval() gives its own x86 hwcap bits for it. The raw
 * auxv comparison covers it all the same. */
static const struct {
	unsigned long type;
	const char *name;
} aux_types[] = {
	{ AT_PHDR, "AT_PHDR" },	    { AT_PHENT, "AT_PHENT" },	{ AT_PHNUM, "AT_PHNUM" },
	{ AT_PAGESZ, "AT_PAGESZ" }, { AT_BASE, "AT_BASE" },	{ AT_FLAGS, "AT_FLAGS" },
	{ AT_ENTRY, "AT_ENTRY" },   { AT_UID, "AT_UID" },	{ AT_EUID, "AT_EUID" },
	{ AT_GID, "AT_GID" },	    { AT_EGID, "AT_EGID" },	{ AT_HWCAP2, "AT_HWCAP2" },
	{ AT_CLKTCK, "AT_CLKTCK" }, { AT_RANDOM, "AT_RANDOM" },
	{ AT_SECURE, "AT_SECURE" }, { AT_EXECFN, "AT_EXECFN" }, { AT_PLATFORM, "AT_PLATFORM" },
	{ AT_SYSINFO_EHDR, "AT_SYSINFO_EHDR" },
};

static void take(struct snap *s)
{
	char buf[4096], *p;
	ssize_t n;
	int field = 3;

	s->cmdline_len = zt_read_file("/proc/self/cmdline", s->cmdline, sizeof(s->cmdline));
	s->environ_len = zt_read_file("/proc/self/environ", s->environ, sizeof(s->environ));
	s->auxv_len = zt_read_file("/proc/self/auxv", s->auxv, sizeof(s->auxv));
	n = readlink("/proc/self/exe", s->exe, sizeof(s->exe) - 1);
	s->exe[n > 0 ? n : 0] = '\0';
	memset(s->stat, 0, sizeof(s->stat));
	if (zt_read_file("/proc/self/stat", buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return;
	for (p += 2; p && field < 52; field++) {
		s->stat[field] = strtoul(p, NULL, 10);
		p = strchr(p, ' ');
		if (p)
			p++;
	}
}

/* Each auxv entry the kernel shows must match glibc's copy. */
static void check_auxv_vs_glibc(const struct snap *s)
{
	const Elf64_auxv_t *a = (const void *)s->auxv;
	size_t n = s->auxv_len / sizeof(*a);

	for (size_t t = 0; t < sizeof(aux_types) / sizeof(aux_types[0]); t++) {
		bool found = false;
		for (size_t i = 0; i < n && a[i].a_type != AT_NULL; i++) {
			if (a[i].a_type != aux_types[t].type)
				continue;
			found = true;
			zt_expect(a[i].a_un.a_val == getauxval(aux_types[t].type),
				  "%s: /proc/self/auxv has %#lx, getauxval %#lx", aux_types[t].name,
				  a[i].a_un.a_val, getauxval(aux_types[t].type));
		}
		zt_expect(found || getauxval(aux_types[t].type) == 0,
			  "%s missing from /proc/self/auxv", aux_types[t].name);
	}
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);

	/* /proc shows the memory of the arguments and environment, not what exec passed:
	 * "--outfile" becomes "--OUTFILE", and the first variable gets a new first letter. */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--outfile"))
			for (char *c = argv[i] + 2; *c; c++)
				*c = *c - 'a' + 'A';
	if (environ[0] && environ[0][0])
		environ[0][0] = '#';
	take(&before);
	if (!memmem(before.cmdline, before.cmdline_len, "--OUTFILE", 10))
		zt_fail("setup: /proc/self/cmdline does not show the changed argument");
	if (before.auxv_len <= 0 || before.environ_len < 0 || !before.exe[0])
		zt_fail("setup: cannot read /proc/self/{auxv,environ,exe}");
	check_auxv_vs_glibc(&before);
	if (zt_failures())
		zt_fail("setup: auxv and getauxval disagree already");

	zt_ready();
	zt_wait_for_check();

	take(&after);
	zt_expect(after.cmdline_len == before.cmdline_len &&
			  !memcmp(after.cmdline, before.cmdline, before.cmdline_len),
		  "cmdline differs (%zd bytes, were %zd)", after.cmdline_len, before.cmdline_len);
	zt_expect(after.environ_len == before.environ_len &&
			  !memcmp(after.environ, before.environ, before.environ_len),
		  "environ differs (%zd bytes, were %zd)", after.environ_len, before.environ_len);
	zt_expect(after.auxv_len == before.auxv_len &&
			  !memcmp(after.auxv, before.auxv, before.auxv_len),
		  "auxv differs (%zd bytes, were %zd)", after.auxv_len, before.auxv_len);
	zt_expect(!strcmp(after.exe, before.exe), "exe '%s', was '%s'", after.exe, before.exe);
	for (size_t i = 0; i < sizeof(stat_fields) / sizeof(stat_fields[0]); i++) {
		int f = stat_fields[i].nr;
		zt_expect(after.stat[f] == before.stat[f], "stat %s %#lx, was %#lx",
			  stat_fields[i].name, after.stat[f], before.stat[f]);
	}
	zt_expect(after.stat[48] == (unsigned long)argv[0], "arg_start is not where argv[0] is");
	check_auxv_vs_glibc(&after);
	zt_pass();
}
