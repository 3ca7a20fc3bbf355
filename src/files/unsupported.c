/* Kinds cryo recognises but cannot save yet: a dump that meets one refuses, naming the kind
 * properly ("fd 3, 7 are pipes; fd 5 is an eventfd"). Supporting one is moving its line out
 * of here into a file of its own with dump and restore ops (see docs/design.md). The anon
 * inode names are those the kernel gives in the /proc/PID/fd link ("anon_inode:[eventfd]"). */
#include <string.h>
#include <sys/stat.h>

#include "files/kind.h"

static bool pidfd_recognise(const struct fd_info *fi)
{
	return !strncmp(fi->link, "anon_inode:[pidfd]", 18) || !strncmp(fi->link, "pidfd:", 6);
}

static bool blk_recognise(const struct fd_info *fi)
{
	return fi->has_st && S_ISBLK(fi->st.st_mode);
}

static bool sock_file_recognise(const struct fd_info *fi)
{
	return fi->has_st && S_ISSOCK(fi->st.st_mode);
}

#define UNSUPPORTED(id, one, many, prefix)                                                         \
	static const struct fd_ops k_##id = {.name = one, .names = many, .link_prefix = prefix}
#define UNSUPPORTED_FN(id, one, many, fn)                                                          \
	static const struct fd_ops k_##id = {.name = one, .names = many, .recognise = fn}

UNSUPPORTED(socket, "a socket", "sockets", "socket:");
UNSUPPORTED_FN(socket_file, "a socket", "sockets", sock_file_recognise);
UNSUPPORTED(epoll, "an epoll", "epolls", "anon_inode:[eventpoll]");
UNSUPPORTED_FN(pidfd, "a pidfd", "pidfds", pidfd_recognise);
UNSUPPORTED(userfaultfd, "a userfaultfd", "userfaultfds", "anon_inode:[userfaultfd]");
UNSUPPORTED(io_uring, "an io_uring", "io_urings", "anon_inode:[io_uring]");
UNSUPPORTED_FN(blk, "a block device", "block devices", blk_recognise);

const struct fd_ops *const fd_unsupported[] = {
    &k_socket, &k_socket_file, &k_epoll,
    &k_pidfd,  &k_userfaultfd, &k_io_uring, &k_blk,   NULL,
};

/* last: whatever no kind above took, named with its link text */
static const struct fd_ops other_anon = {.name = "an anonymous inode",
					 .names = "anonymous inodes",
					 .link_prefix = "anon_inode:",
					 .show_link = true};

const struct fd_ops *const fd_catch_all[] = {&other_anon, NULL};
