/* tcp_accepted.c over IPv6 (::1): an accepted IPv6 socket holds the interface and hop limit
 * of its SYN as multicast values (IPV6_MULTICAST_IF, IPV6_MULTICAST_HOPS) */
// zt-run: gen2 tcp-established
#define ZT_TCP6 1
#include "tcp_accepted.c"
