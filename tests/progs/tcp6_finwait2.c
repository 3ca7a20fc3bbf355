/* tcp_closewait.c in state FIN_WAIT2 over IPv6 (::1): the acknowledgement built as IPv6 */
// zt-run: gen2 tcp-established
#define ZT_TCP6 1
#define FIN_MODE FIN_WAIT2
#include "tcp_closewait.c"
