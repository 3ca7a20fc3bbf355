#ifndef CRYO_RES_REGS_H
#define CRYO_RES_REGS_H
#include <stdbool.h>
#include <sys/user.h>
/* Registers a restored task resumes with, when it was frozen inside a syscall. */
void regs_fixup_restart(struct user_regs_struct *r);
#endif
