/* Kinds cryo recognises but cannot save yet: a dump that meets one refuses, naming the kind
 * properly ("fd 3, 7 are pipes; fd 5 is an eventfd"). Supporting one is moving its line out
 * of here into a file of its own with dump and restore ops (see docs/design.md). The anon
 * inode names are those the kernel gives in the /proc/PID/fd link ("anon_inode:[eventfd]"). */
#include <linux/magic.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "compat.h"
#include "files/kind.h"

static bool blk_recognise(const struct fd_info *fi)
{
	return fi->has_st && S_ISBLK(fi->st.st_mode);
}

static bool sock_file_recognise(const struct fd_info *fi)
{
	return fi->has_st && S_ISSOCK(fi->st.st_mode);
}

/* mq_open's descriptor: a file of the mqueue filesystem, wherever it is mounted (its name,
 * "/NAME", is relative to that mount, and reading it would only say its size) */
static bool mqueue_recognise(const struct fd_info *fi)
{
	struct statfs sfs;
	return fi->copy >= 0 && fstatfs(fi->copy, &sfs) == 0 && sfs.f_type == MQUEUE_MAGIC;
}

#define UNSUPPORTED(id, one, many, prefix)                                                         \
	static const struct fd_ops k_##id = {.name = one, .names = many, .link_prefix = prefix}
#define UNSUPPORTED_FN(id, one, many, fn)                                                          \
	static const struct fd_ops k_##id = {.name = one, .names = many, .recognise = fn}

/* sockets by family (files.c asked the kernel: fi->sk_*), each its own line so that one
 * family can move out into a kind of its own; the last catches every other family */
static bool sk_inet(const struct fd_info *fi)
{
	return fi->sk_family == AF_INET || fi->sk_family == AF_INET6;
}

/* a catch-all, after the kinds: TCP, UDP, raw and ping sockets are inet_sk.c's */
static bool sk_inet_other(const struct fd_info *fi)
{
	return sk_inet(fi); /* SCTP, MPTCP, DCCP... */
}

UNSUPPORTED_FN(sk_inet_other, "an inet socket of another protocol (SCTP, MPTCP...)",
	       "inet sockets of other protocols (SCTP, MPTCP...)", sk_inet_other);
UNSUPPORTED(socket, "a socket", "sockets", "socket:");
UNSUPPORTED_FN(socket_file, "a socket", "sockets", sock_file_recognise);
UNSUPPORTED(userfaultfd, "a userfaultfd", "userfaultfds", "anon_inode:[userfaultfd]");
UNSUPPORTED(io_uring, "an io_uring", "io_urings", "anon_inode:[io_uring]");
UNSUPPORTED_FN(blk, "a block device", "block devices", blk_recognise);
UNSUPPORTED_FN(mqueue, "a POSIX message queue (mq_open)", "POSIX message queues (mq_open)",
	       mqueue_recognise);

const struct fd_ops *const fd_unsupported[] = {
    &k_userfaultfd, &k_io_uring, &k_blk, &k_mqueue, NULL,
};

/* after the kinds: the sockets of a family none of them took (unix_sk.c takes unix sockets,
 * inet_sk.c TCP and UDP, netlink_sk.c and packet_sk.c their families), then whatever no kind above
 * took, named with its link text */
static const struct fd_ops other_anon = {.name = "an anonymous inode",
					 .names = "anonymous inodes",
					 .link_prefix = "anon_inode:",
					 .show_link = true};

const struct fd_ops *const fd_catch_all[] = {&k_sk_inet_other, &k_socket, &k_socket_file,
					     &other_anon, NULL};
