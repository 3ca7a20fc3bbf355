/* tcp_closewait.c in state FIN_WAIT2: our FIN and every byte acknowledged, the peer reads nothing
 * yet */
// zt-run: gen2 tcp-established
#define FIN_MODE FIN_WAIT2
#include "tcp_closewait.c"
