/* Socket options of any family: buffer sizes, timeouts, the credential-passing flags, the
 * peek offset and a classic BPF filter (sk_filter.c) with its lock. Read with getsockopt on cryo's
 * copy of the socket (options belong to the socket, so the copy sees the task's); set again with
 * setsockopt on the new one. A buffer size is set only where it differs from what the new socket
 * has, so that a size never chosen stays unlocked (the kernel's default follows its sysctl). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "compat.h"
#include "core/log.h"
#include "files/inet.h"
#include "files/kind.h"
#include "files/sockopt.h"

#define TIMEO_MAX_US (1ull << 53)

static int get_int(int sk, int opt, int *v)
{
	socklen_t len = sizeof(*v);
	return getsockopt(sk, SOL_SOCKET, opt, v, &len);
}

static int get_timeo(int sk, int opt, uint64_t *us)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);
	if (getsockopt(sk, SOL_SOCKET, opt, &tv, &len) < 0)
		return -1;
	*us = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
	return 0;
}

/* An option some families do not have (SO_PEEK_OFF of a netlink or packet socket, the
 * credential-passing flags of a packet socket): *has false, and no error */
static int get_opt_int(int sk, int opt, int *v, protobuf_c_boolean *has)
{
	if (get_int(sk, opt, v) == 0) {
		*has = true;
		return 0;
	}
	*has = false;
	*v = 0;
	return errno == EOPNOTSUPP || errno == ENOPROTOOPT ? 0 : -1;
}

SkOpts *sockopt_dump(struct dump_ctx *ctx, pid_t pid, int fd, int sk,
		     const struct inet_opts_pre *pre)
{
	SkOpts *o = A_NEW(&ctx->arena, SkOpts, SK_OPTS);
	int snd, rcv, cred, sec, pidfd, peek, lock;
	char who[48];

	if (!o)
		return NULL;
	if (get_int(sk, SO_SNDBUF, &snd) < 0 || get_int(sk, SO_RCVBUF, &rcv) < 0 ||
	    get_timeo(sk, SO_RCVTIMEO, &o->rcvtimeo_us) < 0 ||
	    get_timeo(sk, SO_SNDTIMEO, &o->sndtimeo_us) < 0 ||
	    get_int(sk, SO_LOCK_FILTER, &lock) < 0 ||
	    get_opt_int(sk, SO_PASSCRED, &cred, &o->has_passcred) < 0 ||
	    get_opt_int(sk, SO_PASSSEC, &sec, &o->has_passsec) < 0 ||
	    get_opt_int(sk, SO_PEEK_OFF, &peek, &o->has_peek_off) < 0 ||
	    get_opt_int(sk, SO_PASSPIDFD, &pidfd, &o->has_passpidfd) < 0) {
		pr_errno(errno, "task %d: fd %d: cannot read the socket's options", pid, fd);
		return NULL;
	}
	snprintf(who, sizeof(who), "task %d: fd %d", pid, fd);
	if (sk_filter_dump(&ctx->arena, sk, &o->filter, who))
		return NULL;
	o->has_filter = o->filter.len > 0;
	if (sol_opts_dump(&ctx->arena, sk, &o->sol, &o->n_sol, who, pre))
		return NULL;
	o->has_lock_filter = lock != 0;
	o->lock_filter = lock != 0;
	o->has_sndbuf = o->has_rcvbuf = o->has_rcvtimeo_us = o->has_sndtimeo_us = true;
	o->sndbuf = (uint32_t)snd, o->rcvbuf = (uint32_t)rcv;
	o->passcred = cred, o->passsec = sec, o->passpidfd = pidfd;
	o->peek_off = peek;
	return o;
}

static int set_buf(struct restore_task *t, int fd, int sk, int get, int force, uint32_t want,
		   const char *what)
{
	int now;
	if (get_int(sk, get, &now) == 0 && (uint32_t)now == want)
		return 0;
	/* the kernel keeps twice the value given; above the sysctl's maximum only the
	 * privileged form (CAP_NET_ADMIN) reaches it */
	int v = (int)(want / 2);
	if (setsockopt(sk, SOL_SOCKET, get, &v, sizeof(v)) == 0 && get_int(sk, get, &now) == 0 &&
	    (uint32_t)now == want)
		return 0;
	if (setsockopt(sk, SOL_SOCKET, force, &v, sizeof(v)) < 0 || get_int(sk, get, &now) < 0 ||
	    (uint32_t)now != want) {
		child_fail(t, errno, "fd %d: cannot give the socket its %s buffer of %u bytes", fd,
			   what, want);
		return -1;
	}
	return 0;
}

static int set_timeo(struct restore_task *t, int fd, int sk, int opt, uint64_t us)
{
	struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (long)(us % 1000000)};
	if (!us)
		return 0;
	if (setsockopt(sk, SOL_SOCKET, opt, &tv, sizeof(tv)) < 0) {
		child_fail(t, errno, "fd %d: cannot set the socket's %s timeout", fd,
			   opt == SO_RCVTIMEO ? "receive" : "send");
		return -1;
	}
	return 0;
}

int sockopt_restore_early(struct restore_task *t, int fd, int sk, const SkOpts *o)
{
	if (!o)
		return 0;
	if ((o->has_sndbuf && set_buf(t, fd, sk, SO_SNDBUF, SO_SNDBUFFORCE, o->sndbuf, "send")) ||
	    (o->has_rcvbuf &&
	     set_buf(t, fd, sk, SO_RCVBUF, SO_RCVBUFFORCE, o->rcvbuf, "receive")) ||
	    set_timeo(t, fd, sk, SO_RCVTIMEO, o->rcvtimeo_us) ||
	    set_timeo(t, fd, sk, SO_SNDTIMEO, o->sndtimeo_us))
		return -1;
	return 0;
}

static int set_flag(struct restore_task *t, int fd, int sk, int opt, int v, const char *what)
{
	if (v && setsockopt(sk, SOL_SOCKET, opt, &v, sizeof(v)) < 0) {
		child_fail(t, errno, "fd %d: cannot set the socket's %s", fd, what);
		return -1;
	}
	return 0;
}

int sockopt_restore_late(struct restore_task *t, int fd, int sk, const SkOpts *o)
{
	if (!o)
		return 0;
	if (set_flag(t, fd, sk, SO_PASSCRED, o->passcred, "SO_PASSCRED") ||
	    set_flag(t, fd, sk, SO_PASSSEC, o->passsec, "SO_PASSSEC") ||
	    set_flag(t, fd, sk, SO_PASSPIDFD, o->passpidfd, "SO_PASSPIDFD"))
		return -1;
	if (o->has_peek_off && o->peek_off != -1 &&
	    setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &o->peek_off, sizeof(o->peek_off)) < 0) {
		child_fail(t, errno, "fd %d: cannot set the socket's SO_PEEK_OFF to %d", fd,
			   o->peek_off);
		return -1;
	}
	char err[256];
	if (sol_opts_apply(sk, o->sol, o->n_sol, err, sizeof(err))) {
		child_fail(t, errno ? errno : EINVAL, "fd %d: %s", fd, err);
		return -1;
	}
	return 0;
}

int sockopt_restore_filter(struct restore_task *t, int fd, int sk, const SkOpts *o)
{
	if (!o)
		return 0;
	if (o->has_filter && sk_filter_restore(sk, &o->filter) < 0) {
		child_fail(t, errno, "fd %d: cannot attach the socket filter (%zu instructions)",
			   fd, o->filter.len / 8);
		return -1;
	}
	if (set_flag(t, fd, sk, SO_LOCK_FILTER, o->has_lock_filter && o->lock_filter,
		     "SO_LOCK_FILTER"))
		return -1;
	return 0;
}

int sockopt_validate(const char *img, int fd, const SkOpts *o)
{
	if (!o)
		return 0;
	if ((o->has_sndbuf && o->sndbuf > INT32_MAX) || (o->has_rcvbuf && o->rcvbuf > INT32_MAX))
		return files_refuse(img, "fd %d: socket buffer sizes %u, %u out of range", fd,
				    o->sndbuf, o->rcvbuf);
	if (o->rcvtimeo_us > TIMEO_MAX_US || o->sndtimeo_us > TIMEO_MAX_US)
		return files_refuse(img, "fd %d: socket timeouts out of range", fd);
	if (o->has_peek_off && o->peek_off < -1)
		return files_refuse(img, "fd %d: SO_PEEK_OFF %d is invalid", fd, o->peek_off);
	if (o->has_filter && !sk_filter_valid(&o->filter))
		return files_refuse(img, "fd %d: the socket filter is not whole instructions", fd);
	return sol_opts_validate(img, fd, o->sol, o->n_sol);
}
