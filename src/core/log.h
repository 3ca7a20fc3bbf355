/* Logging. The one piece of process-wide state in cryo: a log is a property of the process
 * (like stderr), set up once by the front end. Levels follow the original tool's -v0..-v4. */
#ifndef CRYO_LOG_H
#define CRYO_LOG_H

#include <errno.h>
#include <string.h>
#include <sys/types.h>

enum log_level { LOG_MSG = 0, LOG_ERROR = 1, LOG_WARN = 2, LOG_INFO = 3, LOG_DEBUG = 4 };

/* Log to path (NULL or "-": stderr). A relative path is a file in the images directory dir
 * (the original tool's rule), created there without following any symlink; an absolute one
 * is the user's, created or truncated but not through a symlink as its last component. */
int log_init(const char *dir, const char *path, int level);
void log_close(void);
/* Move the log to descriptor fd (a restore child clears the low numbers for its task). */
int log_move_fd(int fd);
/* --log-pid: from now on this process logs to LOG.PID (beside LOG; dirfd is the images
 * directory for a relative one), at the same descriptor number. Nothing when logging to
 * stderr. */
int log_open_for_pid(int dirfd, pid_t pid);
int log_get_level(void);
void log_printf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_msg(fmt, ...) log_printf(LOG_MSG, fmt "\n", ##__VA_ARGS__)
#define pr_err(fmt, ...) log_printf(LOG_ERROR, "Error: " fmt "\n", ##__VA_ARGS__)
#define pr_warn(fmt, ...) log_printf(LOG_WARN, "Warning: " fmt "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...) log_printf(LOG_INFO, fmt "\n", ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_printf(LOG_DEBUG, fmt "\n", ##__VA_ARGS__)
/* For errors carried as negative errno values: pr_errno(-ret, "...") */
#define pr_errno(err, fmt, ...)                                                                    \
	log_printf(LOG_ERROR, "Error: " fmt ": %s\n", ##__VA_ARGS__, strerror(err))

#endif
