/* Children that died and were not reaped (zombies) must come back as zombies:
 *
 *   R: the test; counts SIGCHLD
 *   +-- Z1 "zomb-exit": leader of its own process group, then _exit(42)
 *   +-- Z2 "zomb-sig":  killed itself with SIGUSR2 (no core dump)
 *   +-- Z3 "zomb-kill": killed by R with SIGKILL
 *   +-- M: alive, a member of Z1's group (a group whose leader is a zombie, as a shell
 *   |      pipeline whose first command ended)
 *   +-- L: alive, counts SIGCHLD
 *       +-- DZ "zomb-deep": _exit(7), a zombie of L
 *
 * Checked after the check, by R for Z1-Z3 and by L for DZ: /proc/PID/stat says state Z, the
 * right parent, the right process group, the exit code (field 52) and the name; waitid(...,
 * WNOWAIT) reports the death (CLD_EXITED 42, CLD_KILLED SIGUSR2, CLD_KILLED SIGKILL,
 * CLD_EXITED 7) without reaping; then waitpid() reaps each with the same status (no core
 * dump flag), and the pid is gone after. Neither R nor L got a SIGCHLD it had not had
 * before the dump (recreating a zombie must not tell the parent again). M is still in group
 * Z1 (getpgrp, and kill(-Z1, 0) finds the group). Finally R reaps L and M (status 0).
 * Also run in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

enum { S_R, S_L, S_M, NS };
static const char *const names[NS] = { "R", "L", "M" };

enum { Z1, Z2, Z3, DZ, NZ };
static const struct {
	const char *comm;
	int code;	/* si_code from waitid */
	int status;	/* si_status */
	int wstatus;	/* as waitpid reports it */
} zinfo[NZ] = {
	[Z1] = { "zomb-exit", CLD_EXITED, 42, 42 << 8 },
	[Z2] = { "zomb-sig", CLD_KILLED, SIGUSR2, SIGUSR2 },
	[Z3] = { "zomb-kill", CLD_KILLED, SIGKILL, SIGKILL },
	[DZ] = { "zomb-deep", CLD_EXITED, 7, 7 << 8 },
};

enum { V_Z1_GO = 0, V_Z3_NAMED = 1 };

struct ids {
	pid_t pid[NS];
	pid_t z[NZ];
};
static struct ids *ids;
static volatile sig_atomic_t sigchld_count;
static int sigchld_at_ready;

static void on_sigchld(int sig)
{
	(void)sig;
	sigchld_count++;
}

static void count_sigchld(void)
{
	struct sigaction sa = { .sa_handler = on_sigchld, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
}

/* State, ppid, pgrp and exit_code (field 52) of /proc/PID/stat. */
static bool zstat(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp, int *exit_code)
{
	char path[64], buf[1024], *rp, *p;
	int pp, pg, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (zt_read_file(path, buf, sizeof(buf)) < 0 || !(rp = strrchr(buf, ')')))
		return false;
	if (sscanf(rp + 2, "%c %d %d", state, &pp, &pg) != 3)
		return false;
	*ppid = pp;
	*pgrp = pg;
	/* Field 3 starts at rp + 2; the exit code is field 52, the last one. */
	for (p = rp + 2, field = 3; field < 52 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p && sscanf(p, "%d", exit_code) == 1;
}

static pid_t spawn_zombie(int z)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	zt_tree_child();
	prctl(PR_SET_NAME, zinfo[z].comm);
	signal(SIGUSR2, SIG_DFL);
	switch (z) {
	case Z1:
		/* R puts us in our own group and M in it, then lets us go. */
		zt_tree_wait_var(V_Z1_GO, 1, 10000);
		_exit(42);
	case Z2:
		kill(getpid(), SIGUSR2);
		break;
	case Z3:
		zt_tree_set(V_Z3_NAMED, 1);
		for (;;)
			pause();
	case DZ:
		_exit(7);
	}
	_exit(99);
}

/* The zombie z, a child of the caller, is still the zombie it was; slot s gets the verdict.
 * Reaps it at the end. */
static void check_zombie(int s, int z, pid_t parent, pid_t pgrp)
{
	pid_t pid = ids->z[z], pp = 0, pg = 0;
	siginfo_t si;
	char st = 0, path[64], comm[64];
	int code = -1, status = 0;

	if (!zt_tree_expect(s, zstat(pid, &st, &pp, &pg, &code), "%s: no /proc/%d/stat",
			    zinfo[z].comm, pid))
		return;
	zt_tree_expect(s, st == 'Z', "%s (%d): state %c, not a zombie", zinfo[z].comm, pid, st);
	zt_tree_expect(s, pp == parent, "%s: ppid %d, expected %d", zinfo[z].comm, pp, parent);
	zt_tree_expect(s, pg == pgrp, "%s: pgrp %d, expected %d", zinfo[z].comm, pg, pgrp);
	zt_tree_expect(s, code == zinfo[z].wstatus, "%s: exit_code %#x in stat, expected %#x",
		       zinfo[z].comm, code, zinfo[z].wstatus);
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (zt_read_file(path, comm, sizeof(comm)) < 0)
		comm[0] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	zt_tree_expect(s, !strcmp(comm, zinfo[z].comm), "%s: comm '%s'", zinfo[z].comm, comm);

	memset(&si, 0, sizeof(si));
	if (zt_tree_expect(s, zt_waitid(P_PID, pid, &si, WEXITED | WNOWAIT | WNOHANG) == 0,
			   "%s: waitid: %m", zinfo[z].comm))
		zt_tree_expect(s,
			       si.si_pid == pid && si.si_signo == SIGCHLD &&
				   si.si_code == zinfo[z].code && si.si_status == zinfo[z].status,
			       "%s: waitid pid %d code %d status %d, expected %d %d %d",
			       zinfo[z].comm, si.si_pid, si.si_code, si.si_status, pid,
			       zinfo[z].code, zinfo[z].status);
	zt_tree_expect(s, zt_waitpid(pid, &status, WNOHANG) == pid, "%s: waitpid did not reap it",
		       zinfo[z].comm);
	zt_tree_expect(s, status == zinfo[z].wstatus, "%s: wait status %#x, expected %#x",
		       zinfo[z].comm, status, zinfo[z].wstatus);
	zt_tree_expect(s, !WCOREDUMP(status), "%s: core dump flag set", zinfo[z].comm);
	zt_tree_expect(s, kill(pid, 0) < 0 && errno == ESRCH,
		       "%s: pid %d still exists after reaping", zinfo[z].comm, pid);
}

/* Wait until the child pid is a zombie, without reaping it. */
static bool wait_zombie(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return zt_waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == 0 && si.si_pid == pid;
}

static void run_l(void)
{
	zt_tree_child();
	ids->pid[S_L] = getpid();
	count_sigchld();
	ids->z[DZ] = spawn_zombie(DZ);
	if (ids->z[DZ] < 0 || !wait_zombie(ids->z[DZ]))
		zt_tree_fail(S_L, "DZ did not become a zombie: %m");
	sigchld_at_ready = sigchld_count;
	zt_tree_ready(S_L, names[S_L]);
	zt_tree_wait_go();
	zt_tree_expect(S_L, getppid() == ids->pid[S_R], "ppid %d", getppid());
	zt_tree_expect(S_L, sigchld_count == sigchld_at_ready, "SIGCHLD count %d, was %d at ready",
		       sigchld_count, sigchld_at_ready);
	check_zombie(S_L, DZ, getpid(), getpgrp());
	zt_tree_done(S_L);
	_exit(0);
}

static void run_m(void)
{
	zt_tree_child();
	ids->pid[S_M] = getpid();
	zt_tree_ready(S_M, names[S_M]);
	zt_tree_wait_go();
	zt_tree_expect(S_M, getppid() == ids->pid[S_R], "ppid %d", getppid());
	zt_tree_expect(S_M, getpgrp() == ids->z[Z1], "pgid %d, expected the zombie Z1's %d",
		       getpgrp(), ids->z[Z1]);
	zt_tree_done(S_M);
	_exit(0);
}

int main(int argc, char **argv)
{
	pid_t l, m, r;
	int status;

	zt_init(argc, argv);
	zt_tree_init(NS);
	ids = mmap(NULL, sizeof(*ids), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ids == MAP_FAILED)
		zt_fail("mmap: %m");
	r = ids->pid[S_R] = getpid();
	count_sigchld();

	for (int z = Z1; z <= Z3; z++)
		if ((ids->z[z] = spawn_zombie(z)) < 0)
			zt_fail("fork: %m");
	if (setpgid(ids->z[Z1], ids->z[Z1]))
		zt_fail("setpgid Z1: %m");
	m = fork();
	if (m == 0)
		run_m();
	l = fork();
	if (l == 0)
		run_l();
	if (m < 0 || l < 0)
		zt_fail("fork: %m");
	if (setpgid(m, ids->z[Z1]))
		zt_fail("setpgid M into Z1's group: %m");
	zt_tree_set(V_Z1_GO, 1);
	/* Killed only once it has its name. */
	if (!zt_tree_wait_var(V_Z3_NAMED, 1, 10000))
		zt_fail("Z3 never started");
	kill(ids->z[Z3], SIGKILL);
	for (int z = Z1; z <= Z3; z++)
		if (!wait_zombie(ids->z[z]))
			zt_fail("%s did not become a zombie: %m", zinfo[z].comm);
	zt_tree_ready(S_R, names[S_R]);
	zt_tree_wait_ready();
	sigchld_at_ready = sigchld_count;

	zt_ready();
	zt_wait_for_check();

	zt_expect(sigchld_count == sigchld_at_ready, "SIGCHLD count %d, was %d at ready",
		  sigchld_count, sigchld_at_ready);
	zt_expect(kill(-ids->z[Z1], 0) == 0, "kill(-%d, 0): %m: Z1's group is gone",
		  ids->z[Z1]);
	check_zombie(S_R, Z1, r, ids->z[Z1]);
	check_zombie(S_R, Z2, r, r);
	check_zombie(S_R, Z3, r, r);
	zt_tree_go();
	zt_tree_collect();
	for (int s = S_L; s < NS; s++) {
		if (!zt_tree_wait_done(s, 0))
			continue;
		status = 0;
		zt_expect(zt_waitpid(ids->pid[s], &status, 0) == ids->pid[s] && WIFEXITED(status) &&
				  !WEXITSTATUS(status),
			  "%s: exit status %#x", names[s], status);
	}
	zt_pass();
}
