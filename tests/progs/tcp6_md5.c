/* tcp_md5 over IPv6 (::1): a listener with an IPv6 and an IPv4 (v4-mapped) key, a connection
 * to an echo server outside the tree. */
// zt-run: gen2 tcp-established
#define ZT_TCP6 1
#include "tcp_md5.c"
