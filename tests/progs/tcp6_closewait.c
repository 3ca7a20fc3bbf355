/* tcp_closewait.c over IPv6 (::1): the restore's segment built as IPv6 */
// zt-run: gen2 tcp-established
#define ZT_TCP6 1
#include "tcp_closewait.c"
