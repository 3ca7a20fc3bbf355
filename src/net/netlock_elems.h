/* The network lock's set elements (netlock.c), added through libnftnl: the connections of a
 * dump as one netfilter batch of binary set elements. */
#ifndef CRYO_NET_NETLOCK_ELEMS_H
#define CRYO_NET_NETLOCK_ELEMS_H

#include <stddef.h>

#include "net/netlock.h"

/* Add every connection of c to the set conns4 or conns6 of table `inet TABLE` (made by
 * netlock.c with libnftables), in one transaction. 0, or -errno with what failed in err. */
int netlock_elems_add(const char *table, const struct netlock_conn *c, size_t n, char *err,
		      size_t size);

#endif
