/* Opening files where someone else may have planted links. Every file cryo reads or writes
 * inside the images directory goes through dir_open()/dir_create(): the name is resolved
 * beneath the directory's descriptor and no symbolic link is followed at any component, so a
 * link named like an image (core-1.img -> /etc/shadow) can never make cryo write or read
 * elsewhere. The directory itself (-D) is the user's choice and is opened as given. */
#ifndef CRYO_SAFEOPEN_H
#define CRYO_SAFEOPEN_H

#include <stdbool.h>
#include <sys/types.h>

/* Open the images directory (following a symlink given as -D itself: the user named it). */
int dir_open_root(const char *path);
/* Open an existing file NAME (may hold '/') beneath dirfd, flags as open(2) without O_CREAT.
 * Returns the fd or -errno: -ELOOP when a component is a symbolic link. */
int dir_open(int dirfd, const char *name, int flags);
/* "../NAME": a directory beside the one of dirfd (an incremental dump's parent image set):
 * NAME relative, without "." or ".." components. dir_open_sibling opens it (O_RDONLY |
 * O_DIRECTORY) beneath the directory that holds both, as dir_open: the fd, -EINVAL for a name
 * not of that form, or -errno. Nothing is logged. */
bool dir_sibling_name_ok(const char *rel);
int dir_open_sibling(int dirfd, const char *rel);
/* Create NAME beneath dirfd as a new file (O_CREAT|O_EXCL): an old regular file of that name
 * is unlinked first (unlinking never follows a link, and a hard link to someone's file only
 * loses that name); a symbolic link or anything but a regular file is refused (-ELOOP,
 * -EEXIST), and so is a name that is planted again between the two steps. */
int dir_create(int dirfd, const char *name, int flags, mode_t mode);
/* Unlink NAME (no '/') from dirfd if it is a regular file; 0 also when there is none.
 * A symbolic link or anything else under that name is left alone and refused (-ELOOP...). */
int dir_unlink(int dirfd, const char *name);
/* A file the user named by an absolute path (-o /path): created or truncated, but never
 * through a symbolic link as its last component (O_NOFOLLOW). */
int user_create(const char *path, int flags, mode_t mode);
/* --pidfile: PID written to PATH, absolute (user_create) or, as with the original tool,
 * relative to the images directory dirfd (dir_create). 0 or -errno, logged. */
int pidfile_write(int dirfd, const char *path, pid_t pid);
/* fsync of a file or directory, EINTR-safe; 0 or -errno. */
int sync_fd(int fd);

#endif
