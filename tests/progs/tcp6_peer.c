/* tcp_peer over IPv6 (::1): the connection's addresses, the network lock's ip6 rules. */
// zt-run: gen2 tcp-established
#define ZT_TCP6 1
#include "tcp_peer.c"
