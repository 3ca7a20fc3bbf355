#ifndef CRYO_RES_REGS_H
#define CRYO_RES_REGS_H
#include <stdbool.h>
#include <sys/user.h>
/* Turn the registers of a task stopped inside a syscall into those it resumes with. */
void regs_fixup_restart(struct user_regs_struct *r, bool same_task);
#endif
