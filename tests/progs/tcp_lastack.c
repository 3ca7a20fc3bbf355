/* tcp_closewait.c in state LAST_ACK: the peer's FIN first, then ours, held back by the peer's full
 * window */
// zt-run: gen2 tcp-established
#define FIN_MODE LAST_ACK
#include "tcp_closewait.c"
