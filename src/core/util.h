/* Small helpers used everywhere: whole reads and writes, /proc file reading, time. */
#ifndef CRYO_UTIL_H
#define CRYO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#ifndef PAGE_SIZE
#define PAGE_SIZE 4096UL
#endif
#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

/* qsort of n elements, none or one included: qsort(NULL, 0, ...) is undefined, and an empty
 * array is often NULL */
void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

ssize_t read_all(int fd, void *buf, size_t len);
int write_all(int fd, const void *buf, size_t len);
/* All of buf to a socket whose peer may be gone: an error (-EPIPE...), never SIGPIPE. 0 or
 * -errno. */
int send_all(int fd, const void *buf, size_t len);
/* Read a whole small file (at most cap-1 bytes) into buf, NUL-terminated; returns length. */
ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t cap);
/* Read a file of unknown size into a malloc()ed buffer. */
ssize_t read_file_alloc(const char *path, char **out);
ssize_t read_file_alloc_at(int dirfd, const char *path, char **out);
ssize_t read_proc_record_at(int dirfd, const char *path, char **out);
int write_file(const char *path, const char *text);
uint64_t now_ns(void);
char *xstrdup(const char *s);

/* In a child of cryo that must outlive it (a watchdog): keep only fd, as fd 3 (nothing else of
 * cryo's: not the images, not the log, not the tree's descriptors it holds copies of), ignore
 * the signals a terminal or a kill of cryo's process group sends (a ^C that kills cryo must
 * leave its watchdog to do its work), and take name. */
void watchdog_child_setup(int fd, const char *name);

#endif
