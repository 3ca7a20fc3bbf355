/* Fault injection, for the tests that prove a failed or killed cryo harms nothing.
 *
 *   CRYO_FAULT=count     count the fault points a run passes (and those that can fail);
 *                        printed on stderr at exit
 *   CRYO_FAULT=kill:N    cryo SIGKILLs itself at the N-th point (N from 1)
 *   CRYO_FAULT=kill:@TEXT  at the first point whose name holds TEXT
 *   CRYO_FAULT=fail:N    the N-th point that can fail fails, as the real operation there would
 *                        (its errno); points given err 0 are only places to die
 *
 * A fault point marks a place where cryo can die or where an operation can fail: each remote
 * call while the task runs it and after it stopped, each step of the borrowed calls, each image
 * and page write, each image read, each allocation of a dump's arena, each step of a restore.
 * tests/cases/crash_*.sh walk N over them.
 *
 * The state is process-wide on purpose: it stands for the process dying, which is not a thing
 * of one dump or restore context. Without CRYO_FAULT a point costs one predictable branch. */
#ifndef CRYO_FAULT_H
#define CRYO_FAULT_H

extern int fault_mode; /* 0: off */

int fault_hit(const char *where, int err);
/* 0, or -err when this point is the one to fail (or cryo dies here, for kill:N). */
static inline int fault_point(const char *where, int err)
{
	return fault_mode ? fault_hit(where, err) : 0;
}
/* Read CRYO_FAULT; at exit, report the count (mode count). */
void fault_init(void);

#endif
