/* The dead man's switch of remote calls (guard.c): what lets a dump die at any instant
 * without harming its target. Internal to src/remote. */
#ifndef CRYO_REMOTE_GUARD_H
#define CRYO_REMOTE_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>

#include "remote/remote.h"

/* Where the guarded code sits in the code page of the area (the page also holds the plain
 * code at 0, used by restores). */
#define GUARD_CODE_OFF 1024
/* Per thread, after the scratch area: its own stack, then its signal frame. */
#define GUARD_STACK_SIZE 8192
#define GUARD_FPSTATE_OFF 512 /* of the frame: 64-byte aligned, as XRSTOR needs */

extern const uint8_t cryo_guard_code[], cryo_guard_code_end[];

/* Entries of the guarded code, as offsets in the area. */
uint64_t guard_entry(const struct remote *r, int which);
enum { GUARD_CALL, GUARD_STOP, GUARD_RECOVER, GUARD_SYS, GUARD_BATCH };

/* Offset of the signal mask in a thread's frame. */
static inline uint64_t guard_mask_offset(void)
{
	return 304;
}
int remote_guard_unmap_area(struct remote *r);

/* The run of one call, shared with remote.c: regs are the call's; stops that are not the
 * end of the call are handled there. */
int remote_run(struct remote *r, struct user_regs_struct *regs);

#endif
