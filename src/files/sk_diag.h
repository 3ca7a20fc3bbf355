/* sock_diag's view of one netlink or packet socket (sk_diag.c), found by its inode in cryo's
 * network namespace. */
#ifndef CRYO_FILES_SK_DIAG_H
#define CRYO_FILES_SK_DIAG_H

#include <libmnl/libmnl.h>
#include <linux/packet_diag.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One sock_diag dump (SOCK_DIAG_BY_FAMILY, NLM_F_DUMP) of any family: req, that family's
 * request structure of reqlen bytes, is sent and cb run on each answer with data; *cb_err is
 * the error cb keeps (it logs its own). 0, or -errno logged naming what ("unix sockets"). */
int sock_diag_run(const void *req, size_t reqlen, mnl_cb_t cb, void *data, const int *cb_err,
		  const char *what);

struct netlink_diag_sk {
	uint32_t portid, dst_portid, dst_group;
	uint8_t state;	     /* 1: connected */
	uint32_t flags;	     /* NDIAG_FLAG_* */
	uint32_t rmem, wmem; /* SK_MEMINFO_RMEM_ALLOC, WMEM_ALLOC */
	bool has_mem;
};

/* 0 (found), 1 (no netlink socket of that protocol with that inode here), -errno (logged) */
int netlink_diag_find(uint64_t ino, int protocol, struct netlink_diag_sk *out);

struct packet_diag_sk {
	uint8_t type;
	uint16_t num; /* the protocol (host order) */
	struct packet_diag_info info;
	bool has_info;
	struct packet_diag_mclist *mc; /* malloc'ed (free it), n_mc of them */
	unsigned n_mc;
	bool rx_ring, tx_ring;
	uint32_t fanout;
	bool has_fanout;
	uint32_t rmem, wmem;
	bool has_mem;
};

/* as netlink_diag_find; out->mc is the caller's to free */
int packet_diag_find(uint64_t ino, struct packet_diag_sk *out);
/* The inodes of every packet socket of fanout group `id` here: *inos (malloc'ed), *n; 0 or
 * -errno (logged) */
int packet_diag_fanout_members(uint32_t id, uint64_t **inos, unsigned *n);

#endif
