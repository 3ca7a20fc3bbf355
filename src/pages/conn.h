/* A page server connection: TCP, and with --tls a GnuTLS session over it (both ends present a
 * certificate signed by the CA they trust; the dump checks the server's name too). */
#ifndef CRYO_PAGES_CONN_H
#define CRYO_PAGES_CONN_H

#include <stddef.h>

#include "cryo/cryo.h"

struct ps_conn {
	int fd;
	void *tls;  /* gnutls_session_t, NULL without --tls */
	void *cred; /* gnutls_certificate_credentials_t */
	char peer[80];
};

/* The dump's side: connected (and the TLS handshake done, the server's certificate checked).
 * 0 or -errno, logged. */
int conn_connect(struct ps_conn *c, const char *address, int port, const struct cryo_tls_opts *tls);
/* The server's socket, listening (backlog 1). The fd or -errno, logged. */
int conn_listen(const char *address, int port);
/* The server's side of an accepted connection (fd): TLS set up, the client's certificate
 * checked. 0 or -errno, logged. */
int conn_accept(struct ps_conn *c, int fd, const struct cryo_tls_opts *tls);
/* All of buf: 0 or -errno (-EPIPE: the peer is gone). */
int conn_send(struct ps_conn *c, const void *buf, size_t len);
/* Exactly len bytes: 0, or -errno (-ECONNRESET: the peer closed it, before any byte of it
 * when *clean_eof is given and set). */
int conn_recv(struct ps_conn *c, void *buf, size_t len, int *clean_eof);
void conn_close(struct ps_conn *c);

#endif
