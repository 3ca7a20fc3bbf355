/* tcp_closewait.c in state FIN_WAIT1: the peer's window full, most bytes and our FIN never sent */
// zt-run: gen2 tcp-established
#define FIN_MODE FIN_WAIT1_FULL
#include "tcp_closewait.c"
