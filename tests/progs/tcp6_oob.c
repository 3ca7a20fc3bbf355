/* tcp_oob over IPv6 (::1), the writing ends outside the tree (a server forked before it): the
 * urgent byte fed back through an IPv6 segment. (Accepted IPv6 sockets of the tree carry
 * IPV6_MULTICAST_IF/HOPS from their SYN, which the restore of options does not take yet.) */
// zt-run: gen2 tcp-established
#define ZT_TCP6 1
#define ZT_OOB_OUTSIDE 1
#include "tcp_oob.c"
