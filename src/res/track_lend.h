/* The lender: how a task of another user than cryo's takes cryo's tracking descriptors.
 *
 * A pre-dump ends with each task taking two descriptors of cryo's (its tracking userfaultfd
 * and the level's token: track_install.c), itself, with pidfd_getfd, in one batch that runs to
 * its end even when cryo dies during it. pidfd_getfd needs the caller to be allowed to trace
 * the holder: a daemon that gave up root (nginx's workers, postgres, ngircd as nobody) may
 * not trace cryo. So for such a task the two descriptors are lent by a process of the task's
 * own user: cryo forks, the child keeps only the two (as fds 3 and 4), takes the task's real
 * uid and gid, drops every capability and executes cryo again (a fresh image: nothing of
 * cryo's memory, which holds the images of the whole tree, is left for the task to read once
 * it may trace it), and waits to be killed; it dies with cryo too (PR_SET_PDEATHSIG). The
 * task's batch takes the two from it, at fds 3 and 4, as it would from cryo. */
#ifndef CRYO_RES_TRACK_LEND_H
#define CRYO_RES_TRACK_LEND_H

#include <sys/types.h>

/* The numbers the lender holds the two descriptors at */
#define TRACK_LEND_FD_A 3
#define TRACK_LEND_FD_B 4

struct track_lender {
	pid_t pid; /* -1: none */
	int pidfd;
};

/* Does task pid need a lender (its real uid or gid is not cryo's, or it lacks a capability
 * cryo has)? 1 yes, 0 no, -errno. */
int track_lend_needed(pid_t pid, uid_t *uid, gid_t *gid);

/* A lender of fd_a and fd_b, of user uid and group gid, for task pid (named its tracer where
 * Yama asks for one). 0 once it is ready, or -errno (logged). */
int track_lend_start(struct track_lender *l, pid_t pid, uid_t uid, gid_t gid, int fd_a, int fd_b);

/* The lender killed and waited for (only through its pidfd). */
void track_lend_end(struct track_lender *l);

/* The lender's own life, after the exec (`cryo __track-lend TASK CRYO`): tell cryo it is
 * ready on fd 5, then wait to be killed. Does not return. */
void __attribute__((noreturn)) track_lend_main(pid_t task, pid_t cryo);

#endif
