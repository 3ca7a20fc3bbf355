/* Zombies in process groups led by other tasks, which a restore must put back in them:
 *
 *   R: the test, session and group leader; a second thread T of it
 *   +-- L:  alive, leader of its own group, made before G
 *   |   +-- ZC: zombie in G's group (its uncle's)
 *   |   +-- ZD: zombie in R's group (its grandparent's, not its parent's)
 *   +-- G:  alive, leader of its own group
 *   +-- ZA: zombie in G's group (its sibling's)
 *   +-- ZL: zombie, leader of its own group
 *   +-- ZB: zombie in ZL's group (a zombie's)
 *   +-- ZE: zombie made by thread T, in G's group (G was made by the main thread)
 *
 * Each zombie's group is checked before the dump (setup) and after it, by its parent, in
 * /proc/PID/stat; each is still a zombie and is reaped with its exit status; G and L are
 * still in their own groups, and the groups of G and ZL still exist (kill(-pgid, 0)).
 * Also run in the gen2 mode. */
// zt-run: gen2
#include "zt_tree.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { S_R, S_G, S_L, NS };
static const char *const names[NS] = { "R", "G", "L" };
enum { ZA, ZL, ZB, ZC, ZD, ZE, NZ };
enum { V_G_MADE = 0 };
static const char *const znames[NZ] = { "ZA", "ZL", "ZB", "ZC", "ZD", "ZE" };

struct ids {
	pid_t r, g, l, z[NZ];
};
static struct ids *ids;

static pid_t stat_pgrp(pid_t pid, char *state)
{
	char path[64], buf[1024], *rp;
	int pp, pg;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (zt_read_file(path, buf, sizeof(buf)) < 0 || !(rp = strrchr(buf, ')')) ||
	    sscanf(rp + 2, "%c %d %d", state, &pp, &pg) != 3)
		return -1;
	return pg;
}

/* A child that joins group pgid (0: its own) and exits with code 10 + z. */
static pid_t spawn_zombie(int z, pid_t pgid)
{
	siginfo_t si;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		zt_tree_child();
		_exit(setpgid(0, pgid) ? 99 : 10 + z);
	}
	if (pid < 0 || zt_waitid(P_PID, pid, &si, WEXITED | WNOWAIT) || si.si_status != 10 + z)
		zt_fail("setup: %s did not join group %d and exit", znames[z], pgid);
	return pid;
}

static void check_zombie(int s, int z, pid_t pgid)
{
	pid_t pid = ids->z[z], pg;
	char state = 0;
	int status = 0;

	pg = stat_pgrp(pid, &state);
	zt_tree_expect(s, state == 'Z', "%s (%d): state %c, not a zombie", znames[z], pid, state);
	zt_tree_expect(s, pg == pgid, "%s (%d): process group %d, expected %d", znames[z], pid, pg,
		       pgid);
	zt_tree_expect(s, zt_waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
				  WEXITSTATUS(status) == 10 + z,
		       "%s: wait status %#x", znames[z], status);
}

static void setup_check(int z, pid_t pgid)
{
	char state;
	pid_t pg = stat_pgrp(ids->z[z], &state);
	if (pg != pgid || state != 'Z')
		zt_fail("setup: %s in group %d (state %c), expected %d", znames[z], pg, state,
			pgid);
}

static void run_g(void)
{
	zt_tree_child();
	setpgid(0, 0);
	zt_tree_ready(S_G, names[S_G]);
	zt_tree_wait_go();
	zt_tree_expect(S_G, getpgrp() == getpid(), "G: process group %d", getpgrp());
	zt_tree_done(S_G);
	_exit(0);
}

static void run_l(void)
{
	zt_tree_child();
	setpgid(0, 0);
	if (!zt_tree_wait_var(V_G_MADE, 1, 10000))
		zt_tree_fail(S_L, "G was not made");
	ids->z[ZC] = spawn_zombie(ZC, ids->g);
	ids->z[ZD] = spawn_zombie(ZD, ids->r);
	setup_check(ZC, ids->g);
	setup_check(ZD, ids->r);
	zt_tree_ready(S_L, names[S_L]);
	zt_tree_wait_go();
	zt_tree_expect(S_L, getpgrp() == getpid(), "L: process group %d", getpgrp());
	check_zombie(S_L, ZC, ids->g);
	check_zombie(S_L, ZD, ids->r);
	zt_tree_done(S_L);
	_exit(0);
}

/* Thread T: makes ZE, then waits with the others. */
static void *thread_t(void *arg)
{
	(void)arg;
	ids->z[ZE] = spawn_zombie(ZE, ids->g);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th;
	int status;

	zt_init(argc, argv);
	zt_tree_init(NS);
	ids = mmap(NULL, sizeof(*ids), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ids == MAP_FAILED)
		zt_fail("mmap: %m");
	ids->r = getpid();
	pid_t g, l;
	fflush(NULL);
	if ((l = fork()) == 0)
		run_l(); /* (ids is shared: the child must not write its 0 there) */
	ids->l = l;
	if (l < 0)
		zt_fail("setup: fork: %m");
	if ((g = fork()) == 0)
		run_g();
	ids->g = g;
	if (ids->g < 0 || (setpgid(ids->g, ids->g) && errno != EACCES))
		zt_fail("setup: G: %m");
	zt_tree_set(V_G_MADE, 1);
	ids->z[ZE] = 0;
	if (pthread_create(&th, NULL, thread_t, NULL))
		zt_fail("setup: pthread_create");
	for (int i = 0; i < 10000 && !ids->z[ZE]; i++)
		usleep(1000);
	if (!ids->z[ZE])
		zt_fail("setup: thread T made no zombie");
	ids->z[ZA] = spawn_zombie(ZA, ids->g);
	ids->z[ZL] = spawn_zombie(ZL, 0);
	ids->z[ZB] = spawn_zombie(ZB, ids->z[ZL]);
	setup_check(ZA, ids->g);
	setup_check(ZL, ids->z[ZL]);
	setup_check(ZB, ids->z[ZL]);
	setup_check(ZE, ids->g);
	zt_tree_ready(S_R, names[S_R]);
	zt_tree_wait_ready();

	zt_ready();
	zt_wait_for_check();

	zt_expect(kill(-ids->g, 0) == 0, "G's group %d: %m", ids->g);
	zt_expect(kill(-ids->z[ZL], 0) == 0, "ZL's group %d: %m", ids->z[ZL]);
	check_zombie(S_R, ZA, ids->g);
	check_zombie(S_R, ZL, ids->z[ZL]);
	check_zombie(S_R, ZB, ids->z[ZL]);
	check_zombie(S_R, ZE, ids->g);
	zt_tree_go();
	zt_tree_collect();
	zt_expect(zt_waitpid(ids->g, &status, 0) == ids->g && WIFEXITED(status) &&
			  !WEXITSTATUS(status),
		  "G: exit status %#x", status);
	zt_expect(zt_waitpid(ids->l, &status, 0) == ids->l && WIFEXITED(status) &&
			  !WEXITSTATUS(status),
		  "L: exit status %#x", status);
	zt_pass();
}
