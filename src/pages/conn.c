/* TCP and TLS of the page server connection: see conn.h. The certificate files default to
 * the original tool's places. Every send and receive has a time limit (a peer that stops
 * answering fails the dump, which then resumes its tree), and SIGPIPE is ignored: a peer
 * that went away is an error returned, not cryo's death. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/log.h"
#include "pages/conn.h"

#define IO_TIMEOUT_S 120

#define DEF_CACERT "/etc/pki/CA/cacert.pem"
#define DEF_CACRL "/etc/pki/CA/crl.pem"
#define DEF_CERT "/etc/pki/criu/cert.pem"
#define DEF_KEY "/etc/pki/criu/private/key.pem"

static void set_timeouts(int fd)
{
	struct timeval tv = {IO_TIMEOUT_S, 0};
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int resolve(const char *address, int port, bool passive, struct addrinfo **res)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
	char serv[16];
	int r;

	snprintf(serv, sizeof(serv), "%d", port);
	r = getaddrinfo(address, serv, &hints, res);
	if (r) {
		pr_err("page server address %s port %d: %s", address ? address : "(any)", port,
		       gai_strerror(r));
		return -EINVAL;
	}
	return 0;
}

/* ---- TLS ----
 * GnuTLS is loaded when a connection asks for TLS (dlopen), not linked: a dump without
 * --tls neither pays for its start (its constructor reads the system's configuration) nor
 * for its memory. The headers give every function's type. */
#define TLS_FUNCS(X)                                                                               \
	X(gnutls_certificate_allocate_credentials)                                                 \
	X(gnutls_certificate_set_x509_trust_file)                                                  \
	X(gnutls_certificate_set_x509_crl_file)                                                    \
	X(gnutls_certificate_set_x509_key_file)                                                    \
	X(gnutls_certificate_server_set_request)                                                   \
	X(gnutls_certificate_verify_peers3)                                                        \
	X(gnutls_certificate_verification_status_print)                                            \
	X(gnutls_certificate_free_credentials)                                                     \
	X(gnutls_init)                                                                             \
	X(gnutls_set_default_priority)                                                             \
	X(gnutls_credentials_set)                                                                  \
	X(gnutls_transport_set_int2)                                                               \
	X(gnutls_handshake_set_timeout)                                                            \
	X(gnutls_handshake)                                                                        \
	X(gnutls_error_is_fatal)                                                                   \
	X(gnutls_strerror)                                                                         \
	X(gnutls_record_send)                                                                      \
	X(gnutls_record_recv)                                                                      \
	X(gnutls_bye)                                                                              \
	X(gnutls_deinit)

static struct {
#define X(f) __typeof__(&f) f;
	TLS_FUNCS(X)
#undef X
	gnutls_free_function *free;
	bool loaded;
} tls_lib;

#define T(f) tls_lib.f

static int tls_load(void)
{
	void *h;
	if (tls_lib.loaded)
		return 0;
	h = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		pr_err("TLS: cannot load GnuTLS: %s (package libgnutls30)", dlerror());
		return -ENOTSUP;
	}
#define X(f)                                                                                       \
	if (!(tls_lib.f = (__typeof__(&f))dlsym(h, #f))) {                                         \
		pr_err("TLS: GnuTLS has no %s", #f);                                               \
		return -ENOTSUP;                                                                   \
	}
	TLS_FUNCS(X)
#undef X
	if (!(tls_lib.free = dlsym(h, "gnutls_free"))) {
		pr_err("TLS: GnuTLS has no gnutls_free");
		return -ENOTSUP;
	}
	tls_lib.loaded = true;
	return 0;
}

static int tls_fail(const char *what, int r)
{
	pr_err("TLS: %s: %s", what, T(gnutls_strerror)(r));
	return -ECONNABORTED;
}

static int tls_setup(struct ps_conn *c, const struct cryo_tls_opts *o, bool server)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	const char *ca = o->cacert ? o->cacert : DEF_CACERT;
	const char *crl = o->cacrl ? o->cacrl : DEF_CACRL;
	const char *cert = o->cert ? o->cert : DEF_CERT;
	const char *key = o->key ? o->key : DEF_KEY;
	int r;

	if ((r = tls_load()))
		return r;
	if ((r = T(gnutls_certificate_allocate_credentials)(&cred)) < 0)
		return tls_fail("credentials", r);
	c->cred = cred;
	if (!o->no_cert_verify) {
		r = T(gnutls_certificate_set_x509_trust_file)(cred, ca, GNUTLS_X509_FMT_PEM);
		if (r <= 0) {
			pr_err("TLS: cannot load the CA certificate %s: %s", ca,
			       r ? T(gnutls_strerror)(r) : "no certificate in it");
			return -EINVAL;
		}
		/* the revocation list is optional, as with the original: used when there */
		if (access(crl, R_OK) == 0 && (r = T(gnutls_certificate_set_x509_crl_file)(
						   cred, crl, GNUTLS_X509_FMT_PEM)) < 0) {
			pr_err("TLS: cannot load the revocation list %s: %s", crl,
			       T(gnutls_strerror)(r));
			return -EINVAL;
		}
	}
	/* a dump that checks nothing may come without a certificate of its own (the server
	 * then does not require one either, with --tls-no-cert-verify) */
	bool anonymous = !server && o->no_cert_verify && !o->cert && access(cert, R_OK) < 0;
	r = anonymous
		? 0
		: T(gnutls_certificate_set_x509_key_file)(cred, cert, key, GNUTLS_X509_FMT_PEM);
	if (r < 0) {
		pr_err("TLS: cannot load the certificate %s with its key %s: %s", cert, key,
		       T(gnutls_strerror)(r));
		return -EINVAL;
	}
	if ((r = T(gnutls_init)(&s, server ? GNUTLS_SERVER : GNUTLS_CLIENT)) < 0)
		return tls_fail("session", r);
	c->tls = s;
	if ((r = T(gnutls_set_default_priority)(s)) < 0 ||
	    (r = T(gnutls_credentials_set)(s, GNUTLS_CRD_CERTIFICATE, cred)) < 0)
		return tls_fail("session setup", r);
	if (server)
		T(gnutls_certificate_server_set_request)
	(s, o->no_cert_verify ? GNUTLS_CERT_REQUEST : GNUTLS_CERT_REQUIRE);
	T(gnutls_transport_set_int2)(s, c->fd, c->fd);
	T(gnutls_handshake_set_timeout)(s, IO_TIMEOUT_S * 1000);
	do
		r = T(gnutls_handshake)(s);
	while (r < 0 && !T(gnutls_error_is_fatal)(r));
	if (r < 0)
		return tls_fail(
		    server ? "handshake with the dump" : "handshake with the page server", r);
	if (o->no_cert_verify) {
		pr_info("TLS: --tls-no-cert-verify: the peer's certificate is not checked");
		return 0;
	}
	/* the dump checks the server's name (its --address) unless told not to; the server
	 * checks the client's chain only */
	unsigned status = 0;
	const char *name = !server && !o->no_cn_verify ? c->peer : NULL;
	r = T(gnutls_certificate_verify_peers3)(s, name, &status);
	if (r < 0)
		return tls_fail("peer verification", r);
	if (status) {
		gnutls_datum_t out = {0};
		T(gnutls_certificate_verification_status_print)(status, GNUTLS_CRT_X509, &out, 0);
		pr_err("TLS: the %s's certificate is refused: %s", server ? "dump" : "page server",
		       out.data ? (char *)out.data : "?");
		(*tls_lib.free)(out.data);
		return -EACCES;
	}
	return 0;
}

/* ---- connections ---- */

int conn_connect(struct ps_conn *c, const char *address, int port, const struct cryo_tls_opts *tls)
{
	struct addrinfo *res, *ai;
	int fd = -1, err = 0, ret;

	*c = (struct ps_conn){.fd = -1};
	signal(SIGPIPE, SIG_IGN);
	snprintf(c->peer, sizeof(c->peer), "%s", address);
	if ((ret = resolve(address, port, false, &res)))
		return ret;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		set_timeouts(fd);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		pr_errno(err, "cannot connect to the page server at %s port %d", address, port);
		return -err;
	}
	c->fd = fd;
	if (tls && tls->on && (ret = tls_setup(c, tls, false))) {
		conn_close(c);
		return ret;
	}
	return 0;
}

int conn_listen(const char *address, int port)
{
	struct addrinfo *res, *ai;
	int fd = -1, err = 0, one = 1, ret;

	signal(SIGPIPE, SIG_IGN);
	if ((ret = resolve(address, port, true, &res)))
		return ret;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		pr_errno(err, "page server: cannot listen on %s port %d",
			 address ? address : "every address", port);
		return -err;
	}
	return fd;
}

int conn_accept(struct ps_conn *c, int fd, const struct cryo_tls_opts *tls)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char host[64] = "?", serv[16] = "?";
	int ret;

	*c = (struct ps_conn){.fd = fd};
	if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0)
		getnameinfo((struct sockaddr *)&sa, len, host, sizeof(host), serv, sizeof(serv),
			    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(c->peer, sizeof(c->peer), "%s port %s", host, serv);
	set_timeouts(fd);
	if (tls && tls->on && (ret = tls_setup(c, tls, true)))
		return ret;
	return 0;
}

int conn_send(struct ps_conn *c, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n;
		if (c->tls) {
			n = T(gnutls_record_send)(c->tls, p, len);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n < 0) {
				pr_err("TLS: cannot send to %s: %s", c->peer,
				       T(gnutls_strerror)(n));
				return -EPIPE;
			}
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		p += n, len -= n;
	}
	return 0;
}

int conn_recv(struct ps_conn *c, void *buf, size_t len, int *clean_eof)
{
	char *p = buf;
	size_t got = 0;
	if (clean_eof)
		*clean_eof = 0;
	while (got < len) {
		ssize_t n;
		if (c->tls) {
			n = T(gnutls_record_recv)(c->tls, p + got, len - got);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n < 0) {
				pr_err("TLS: cannot receive from %s: %s", c->peer,
				       T(gnutls_strerror)(n));
				return -ECONNRESET;
			}
		} else {
			n = recv(c->fd, p + got, len - got, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		if (n == 0) {
			if (clean_eof && !got)
				*clean_eof = 1;
			return -ECONNRESET;
		}
		got += n;
	}
	return 0;
}

void conn_close(struct ps_conn *c)
{
	if (c->tls) {
		T(gnutls_bye)(c->tls, GNUTLS_SHUT_WR);
		T(gnutls_deinit)(c->tls);
	}
	if (c->cred)
		T(gnutls_certificate_free_credentials)(c->cred);
	if (c->fd >= 0)
		close(c->fd);
	*c = (struct ps_conn){.fd = -1};
}
