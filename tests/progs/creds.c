/* Credentials of a process that started as root and gave most of it up: supplementary
 * groups; real, effective, saved and filesystem uids and gids all different; capability sets
 * with a few capabilities kept (effective a subset of permitted, some inheritable, one
 * ambient, two dropped from the bounding set); securebits; keepcaps; dumpable (which the
 * kernel cleared at the uid change). After the dump /proc/self/status shows the same Uid,
 * Gid, Groups and Cap* lines, and the system calls agree. CAP_DAC_OVERRIDE stays effective
 * only so that zt can still write its pidfile in the runner's root-owned directory. */
#include "zt.h"

#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const gid_t groups[] = { 1001, 1002, 1003, 65534 };
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

#define BIT(c) (1U << (c))
#define EFFECTIVE (BIT(CAP_DAC_OVERRIDE) | BIT(CAP_KILL))
#define PERMITTED (EFFECTIVE | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_CHOWN))
#define INHERITABLE (BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_CHOWN))

static const char *const status_keys[] = {
	"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
};

static void status_lines(char *out, size_t size)
{
	char buf[8192], v[512];
	size_t len = 0;

	out[0] = '\0';
	if (zt_read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return;
	for (size_t i = 0; i < sizeof(status_keys) / sizeof(status_keys[0]); i++)
		if (zt_status_field(buf, status_keys[i], v, sizeof(v)))
			len += snprintf(out + len, size - len, "%s: %s\n", status_keys[i], v);
}

int main(int argc, char **argv)
{
	static char before[4096], after[4096];
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	uid_t r, e, s;
	gid_t rg, eg, sg, got[32];
	int secbits, dumpable;

	zt_init(argc, argv);
	if (getuid() != 0)
		zt_fail("must start as root");
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0) ||
	    prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0))
		zt_fail("PR_CAPBSET_DROP: %m");
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT, 0, 0, 0))
		zt_fail("PR_SET_SECUREBITS: %m");
	if (setgroups(NGROUPS, groups))
		zt_fail("setgroups: %m");
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		zt_fail("PR_SET_KEEPCAPS: %m");
	if (setresgid(2001, 2002, 2003))
		zt_fail("setresgid: %m");
	if (setresuid(1001, 1002, 1003))
		zt_fail("setresuid: %m");
	setfsuid(1001);
	setfsgid(2001);

	memset(data, 0, sizeof(data));
	data[0].effective = EFFECTIVE;
	data[0].permitted = PERMITTED;
	data[0].inheritable = INHERITABLE;
	if (syscall(SYS_capset, &hdr, data))
		zt_fail("capset: %m");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0))
		zt_fail("PR_CAP_AMBIENT_RAISE: %m");

	secbits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	status_lines(before, sizeof(before));

	zt_ready();
	zt_wait_for_check();

	status_lines(after, sizeof(after));
	zt_expect_same_text("status", before, after);

	zt_expect(getresuid(&r, &e, &s) == 0 && r == 1001 && e == 1002 && s == 1003,
		  "uids %d/%d/%d", r, e, s);
	zt_expect(getresgid(&rg, &eg, &sg) == 0 && rg == 2001 && eg == 2002 && sg == 2003,
		  "gids %d/%d/%d", rg, eg, sg);
	/* setfs*id(-1) fails and so changes nothing, but returns the current value. */
	zt_expect(setfsuid(-1) == 1001, "fsuid %d", setfsuid(-1));
	zt_expect(setfsgid(-1) == 2001, "fsgid %d", setfsgid(-1));
	zt_expect(getgroups(32, got) == NGROUPS && !memcmp(got, groups, sizeof(groups)),
		  "supplementary groups differ");

	memset(data, 0, sizeof(data));
	if (zt_expect(syscall(SYS_capget, &hdr, data) == 0, "capget: %m")) {
		zt_expect(data[0].effective == EFFECTIVE, "effective caps %#x", data[0].effective);
		zt_expect(data[0].permitted == PERMITTED, "permitted caps %#x", data[0].permitted);
		zt_expect(data[0].inheritable == INHERITABLE, "inheritable caps %#x",
			  data[0].inheritable);
		zt_expect(!data[1].effective && !data[1].permitted && !data[1].inheritable,
			  "high capability words set");
	}
	zt_expect(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) == 1,
		  "ambient CAP_NET_BIND_SERVICE lost");
	zt_expect(prctl(PR_CAPBSET_READ, CAP_SYS_BOOT, 0, 0, 0) == 0, "CAP_SYS_BOOT bounding");
	zt_expect(prctl(PR_CAPBSET_READ, CAP_MKNOD, 0, 0, 0) == 0, "CAP_MKNOD bounding");
	zt_expect(prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0) == 1, "CAP_SETUID left bounding");
	zt_expect(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) == secbits, "securebits %#x, were %#x",
		  prctl(PR_GET_SECUREBITS, 0, 0, 0, 0), secbits);
	zt_expect(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1, "keepcaps lost");
	zt_expect(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == dumpable, "dumpable %d, was %d",
		  prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), dumpable);
	zt_pass();
}
