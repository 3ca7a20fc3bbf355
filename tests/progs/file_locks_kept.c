/* The locks of file_locks.c (flock, POSIX range, OFD), dumped with --file-locks: after the
 * restore each is held again by the restored process (a child of it must find each in force). */
// zt-run: file-locks gen2
#include "file_locks.c"
