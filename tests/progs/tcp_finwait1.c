/* tcp_closewait.c in state FIN_WAIT1: our bytes and FIN sent, never acknowledged (dropped before
 * the peer), sent again after the restore */
// zt-run: gen2 tcp-established
#define FIN_MODE FIN_WAIT1
#include "tcp_closewait.c"
