/* tcp_closewait.c in state CLOSING: our FIN held back by the peer's full window, then the peer's
 * FIN */
// zt-run: gen2 tcp-established
#define FIN_MODE CLOSING
#include "tcp_closewait.c"
