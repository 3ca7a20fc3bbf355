/* The target of the tcp-md5-refused case: TCP_MD5SIG keys the dump cannot read as they are,
 * ports written to `ports` in the work directory ("IFKEY_PORT BOUND_PORT"):
 * - a listener on 127.0.0.1 whose key is bound to an interface (TCP_MD5SIG_EXT with
 *   TCP_MD5SIG_FLAG_IFINDEX, ifindex 0: traffic outside any VRF only), which sock_diag
 *   lists as an unbound one;
 * - a TCP socket bound and neither listening nor connected, with a key, which sock_diag
 *   does not list at all.
 * After the refused dump the listener still takes a client with the key and no other, and
 * the bound socket still listens once asked to, with its key. */
// zt-run: no-cryo
// (the target of tests/cases/tcp_md5_refused.sh)
#include "zt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char KEY[] = "refused-key";

static int set_key(int sk, const char *ip, int flags, const char *key)
{
	struct tcp_md5sig m;
	struct sockaddr_in *a = (struct sockaddr_in *)&m.tcpm_addr;
	memset(&m, 0, sizeof(m));
	a->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a->sin_addr);
	m.tcpm_flags = (uint8_t)flags;
	m.tcpm_keylen = (uint16_t)strlen(key);
	memcpy(m.tcpm_key, key, strlen(key));
	return setsockopt(sk, IPPROTO_TCP, TCP_MD5SIG_EXT, &m, sizeof(m));
}

static unsigned short port_of(int sk)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	return getsockname(sk, (struct sockaddr *)&a, &len) < 0 ? 0 : ntohs(a.sin_port);
}

/* a client to listener l with key (or none): connected within 1.5 s? (then accepted and
 * closed: nothing stays queued) */
static bool connects(int l, const char *key)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port_of(l)),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = -1;
	socklen_t el = sizeof(err);
	struct pollfd pf = {.fd = c, .events = POLLOUT};
	bool ok = c >= 0 && (!key || set_key(c, "127.0.0.1", 0, key) == 0) &&
		  (connect(c, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS) &&
		  poll(&pf, 1, 1500) == 1 && getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
		  err == 0;
	if (ok)
		close(accept(l, NULL, NULL));
	if (c >= 0)
		close(c);
	return ok;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	zt_init(argc, argv);
	int l = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0);
	zt_check_sys(l >= 0 && set_key(l, "127.0.0.1", TCP_MD5SIG_FLAG_IFINDEX, KEY) == 0 &&
			 bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 4) == 0,
		     "listener with an interface key");
	zt_check_sys(b >= 0 && set_key(b, "127.0.0.1", 0, KEY) == 0 &&
			 bind(b, (struct sockaddr *)&a, sizeof(a)) == 0,
		     "bound socket with a key");
	zt_check_sys(connects(l, KEY) && !connects(l, NULL), "the listener's key");
	FILE *f = fopen("ports", "w");
	zt_check_sys(f && fprintf(f, "%u %u\n", port_of(l), port_of(b)) > 0 && fclose(f) == 0,
		     "ports");
	zt_ready();
	zt_wait_for_check();

	zt_expect(connects(l, KEY), "the listener takes no client with the key");
	zt_expect(!connects(l, NULL), "the listener takes a client without the key");
	zt_expect(listen(b, 4) == 0, "the bound socket cannot listen: %m");
	zt_expect(connects(b, KEY), "the bound socket takes no client with the key");
	zt_expect(!connects(b, NULL), "the bound socket takes a client without the key");
	zt_pass();
}
