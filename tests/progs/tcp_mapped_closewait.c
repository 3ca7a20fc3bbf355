/* tcp_closewait.c over IPv6 sockets to ::ffff:127.0.0.1: an IPv4 connection of IPv6 sockets,
 * the restore's segment built as IPv4 */
// zt-run: gen2 tcp-established
#define ZT_TCP_MAPPED 1
#include "tcp_closewait.c"
