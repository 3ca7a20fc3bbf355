/* fanotify: fanotify_init's flags and event flags ("fanotify flags:.. event-flags:.."), and
 * every mark from fdinfo: on an inode ("fanotify ino:.. sdev:.. mflags:.. mask:..
 * ignored_mask:.. fhandle-bytes:.. fhandle-type:.. f_handle:.."), on a mount ("fanotify
 * mnt_id:.. mflags:.. mask:.. ignored_mask:.."), on a file system ("fanotify sdev:.. ...").
 *
 * Dump: refused when events are queued (FIONREAD on a copy: they cannot be put back), for a
 * group of the content or pre-content class (permission events: one read but not answered
 * yet holds a process of someone's, and cannot be seen from outside), and for any mark
 * cryo cannot name again: an inode without a working file handle, a mount or a file system
 * cryo does not see, a kind of mark or a flag it does not know (each named). A mark left
 * empty (an ignore mask cleared by a modification, nothing else) acts on nothing and
 * cannot be made again: it is left out, and the log says so.
 *
 * Restore (child phase): fanotify_init with the same flags (it needs CAP_SYS_ADMIN), then
 * each mark with fanotify_mark on /proc/self/fd/N of its object, opened by file handle
 * (an inode), by its id in mountinfo (a mount, checked with statx) or on a mount of the
 * device (a file system): its mask, then its ignore mask (FAN_MARK_IGNORE or the older
 * FAN_MARK_IGNORED_MASK, as it was made, with FAN_MARK_IGNORED_SURV_MODIFY). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "compat.h"
#include "core/log.h"
#include "files/kind.h"

/* fanotify_init flags cryo knows (Linux 6.1's), the class bits refused among them */
#define FANOTIFY_INIT_KNOWN                                                                        \
	(FAN_CLOEXEC | FAN_NONBLOCK | FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT |                  \
	 FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS | FAN_ENABLE_AUDIT | FAN_REPORT_PIDFD |         \
	 FAN_REPORT_TID | FAN_REPORT_FID | FAN_REPORT_DIR_FID | FAN_REPORT_NAME |                  \
	 FAN_REPORT_TARGET_FID)
#define FANOTIFY_CLASS_BITS (FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT)
/* what fdinfo's mflags can hold */
#define FANOTIFY_MFLAGS_KNOWN (FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_EVICTABLE | FAN_MARK_IGNORE)
/* events and modifiers of a mark a notification group can have (no permission events) */
#define FANOTIFY_MASK_KNOWN                                                                        \
	(FAN_ACCESS | FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE | FAN_OPEN |   \
	 FAN_MOVED_FROM | FAN_MOVED_TO | FAN_CREATE | FAN_DELETE | FAN_DELETE_SELF |               \
	 FAN_MOVE_SELF | FAN_OPEN_EXEC | FAN_FS_ERROR | FAN_RENAME | FAN_EVENT_ON_CHILD |          \
	 FAN_ONDIR)
#define FANOTIFY_MARKS_MAX (1 << 20) /* bounds the image's list */

/* The mount with id `id` in our mountinfo, opened O_PATH and checked to be it; -1 with errno.
 */
static int open_mount_id(int id)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];
	int fd = -1;

	if (!f)
		return -1;
	errno = ENOENT;
	while (fd < 0 && fgets(line, sizeof(line), f)) {
		char mnt[4096], *o, *p;
		int mid;
		if (sscanf(line, "%d %*d %*u:%*u %*s %4095s", &mid, mnt) != 2 || mid != id)
			continue;
		/* mountinfo escapes blanks and backslashes as \ooo */
		for (o = p = mnt; *p; o++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
				*o = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 4;
			} else {
				*o = *p++;
			}
		}
		*o = 0;
		fd = open(mnt, O_PATH | O_CLOEXEC | O_NOFOLLOW);
		struct statx stx;
		/* the path's top mount must be that one (not one mounted over it) */
		if (fd >= 0 && (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0 ||
				!(stx.stx_mask & STATX_MNT_ID) || stx.stx_mnt_id != (uint64_t)id)) {
			close(fd);
			fd = -1;
			errno = ESTALE;
			break;
		}
	}
	fclose(f);
	return fd;
}

/* the object of mark m, opened; -1 with errno */
static int open_object(const FanotifyMark *m)
{
	switch (m->type) {
	case FANOTIFY_MARK_TYPE__FANOTIFY_MARK_INODE:
		return fsnotify_open_inode(m->dev, m->ino, &m->handle, m->handle_type);
	case FANOTIFY_MARK_TYPE__FANOTIFY_MARK_MOUNT:
		return open_mount_id(m->mnt_id);
	case FANOTIFY_MARK_TYPE__FANOTIFY_MARK_FILESYSTEM: {
		int fd = handle_mount_fd((dev_t)m->dev);
		if (fd < 0)
			errno = ENOENT;
		return fd;
	}
	default:
		break;
	}
	errno = EINVAL;
	return -1;
}

static void describe(const FanotifyMark *m, char *buf, size_t size)
{
	char where[1200];

	if (m->type == FANOTIFY_MARK_TYPE__FANOTIFY_MARK_MOUNT) {
		snprintf(buf, size, "mark on mount %d", m->mnt_id);
		return;
	}
	fsnotify_describe_dev(m->dev, where, sizeof(where));
	if (m->type == FANOTIFY_MARK_TYPE__FANOTIFY_MARK_INODE)
		snprintf(buf, size, "mark on inode %" PRIu64 " of %s", m->ino, where);
	else
		snprintf(buf, size, "mark on the file system of %s", where);
}

/* one "fanotify ino:/mnt_id:/sdev:" line into m; -1: not a line cryo can read */
static int parse_mark(struct dump_ctx *ctx, const char *line, FanotifyMark *m)
{
	unsigned mflags, mask, ignored, hbytes, htype, id;
	unsigned long ino, sdev;
	int off = 0;

	if (sscanf(line,
		   "fanotify ino:%lx sdev:%lx mflags:%x mask:%x ignored_mask:%x fhandle-bytes:%x "
		   "fhandle-type:%x f_handle:%n",
		   &ino, &sdev, &mflags, &mask, &ignored, &hbytes, &htype, &off) == 7 &&
	    off) {
		if (!hbytes || hbytes > FSNOTIFY_HANDLE_MAX)
			return -1;
		m->type = FANOTIFY_MARK_TYPE__FANOTIFY_MARK_INODE;
		m->has_dev = m->has_ino = m->has_handle = m->has_handle_type = true;
		m->dev = fsnotify_dev(sdev);
		m->ino = ino;
		m->handle_type = (int32_t)htype;
		m->handle.len = hbytes;
		m->handle.data = arena_alloc(&ctx->arena, hbytes);
		if (!m->handle.data || fsnotify_hex(line + off, m->handle.data, hbytes))
			return -1;
	} else if (sscanf(line, "fanotify mnt_id:%x mflags:%x mask:%x ignored_mask:%x", &id,
			  &mflags, &mask, &ignored) == 4) {
		m->type = FANOTIFY_MARK_TYPE__FANOTIFY_MARK_MOUNT;
		m->has_mnt_id = true;
		m->mnt_id = (int32_t)id;
	} else if (sscanf(line, "fanotify sdev:%lx mflags:%x mask:%x ignored_mask:%x", &sdev,
			  &mflags, &mask, &ignored) == 4) {
		m->type = FANOTIFY_MARK_TYPE__FANOTIFY_MARK_FILESYSTEM;
		m->has_dev = true;
		m->dev = fsnotify_dev(sdev);
	} else {
		return -1;
	}
	m->mflags = mflags;
	m->mask = mask;
	m->ignored_mask = ignored;
	return 0;
}

/* the checks of one mark, at dump and in the image; NULL or why it cannot be rebuilt */
static const char *mark_problem(const FanotifyMark *m)
{
	if (m->mflags & ~(uint32_t)FANOTIFY_MFLAGS_KNOWN)
		return "has mark flags cryo does not know";
	if ((m->mask | m->ignored_mask) & ~(uint32_t)FANOTIFY_MASK_KNOWN)
		return "has events cryo does not know";
	if (!m->mask && !m->ignored_mask)
		return "has no events";
	/* the flag is given with an ignore mask only */
	if ((m->mflags & (FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_IGNORE)) && !m->ignored_mask)
		return "has ignore flags without an ignore mask";
	return NULL;
}

static int fanotify_dump(struct dump_ctx *ctx, struct dump_task *t, const struct fd_info *fi,
			 FdEntry *e)
{
	unsigned flags, eflags;
	char *info, *line, *head;
	int queued, ret = 0;
	size_t n = 0;

	queued = fsnotify_queued(t, fi->fd, "fanotify");
	if (queued < 0)
		return queued;
	if (queued > 0) {
		pr_err("task %d: fd %d: a fanotify with %d bytes of events not read yet: cryo "
		       "cannot put them back",
		       t->pid, fi->fd, queued);
		return -ENOTSUP;
	}
	/* the dispatcher read the whole fdinfo; the parse below writes into its own copy */
	info = strdup(fi->fdinfo);
	if (!info)
		return -ENOMEM;
	head = strstr(info, "fanotify flags:");
	if (!head || sscanf(head, "fanotify flags:%x event-flags:%x", &flags, &eflags) != 2) {
		pr_err("task %d: fd %d: a fanotify whose fdinfo cryo cannot read", t->pid, fi->fd);
		free(info);
		return -ENOTSUP;
	}
	if (flags & FANOTIFY_CLASS_BITS) {
		pr_err("task %d: fd %d: a fanotify of the %s class: its permission events (read, "
		       "not answered yet) cannot be seen nor rebuilt",
		       t->pid, fi->fd,
		       (flags & FANOTIFY_CLASS_BITS) == FAN_CLASS_CONTENT ? "content"
									  : "pre-content");
		free(info);
		return -ENOTSUP;
	}
	if (flags & ~(unsigned)FANOTIFY_INIT_KNOWN) {
		pr_err("task %d: fd %d: a fanotify with flags %#x, which cryo does not know",
		       t->pid, fi->fd, flags);
		free(info);
		return -ENOTSUP;
	}
	e->has_fanotify_flags = e->has_fanotify_event_flags = true;
	e->fanotify_flags = flags;
	e->fanotify_event_flags = eflags;
	for (line = strstr(head + 1, "\nfanotify "); line; line = strstr(line + 1, "\nfanotify "))
		n++;
	if (n > FANOTIFY_MARKS_MAX) {
		pr_err("task %d: fd %d: a fanotify with %zu marks, more than cryo takes", t->pid,
		       fi->fd, n);
		free(info);
		return -ENOTSUP;
	}
	e->n_fanotify_marks = 0;
	e->fanotify_marks = n ? arena_alloc(&ctx->arena, n * sizeof(*e->fanotify_marks)) : NULL;
	if (n && !e->fanotify_marks) {
		free(info);
		return -ENOMEM;
	}
	for (line = strstr(head + 1, "\nfanotify "); line && !ret;
	     line = strstr(line + 1, "\nfanotify ")) {
		FanotifyMark *m = A_NEW(&ctx->arena, FanotifyMark, FANOTIFY_MARK);
		const char *why;
		char what[1400];
		line++;
		if (!m) {
			ret = -ENOMEM;
			break;
		}
		if (parse_mark(ctx, line, m)) {
			int len = (int)strcspn(line, "\n");
			pr_err("task %d: fd %d: a fanotify mark cryo cannot rebuild: %.*s", t->pid,
			       fi->fd, len > 200 ? 200 : len, line);
			ret = -ENOTSUP;
			break;
		}
		describe(m, what, sizeof(what));
		/* An ignore mask without FAN_MARK_IGNORED_SURV_MODIFY is cleared by the first
		 * modification: a mark that had only that is left empty. It reports and filters
		 * nothing, and fanotify_mark cannot make an empty one: it is not rebuilt. */
		if (!m->mask && !m->ignored_mask && !m->mflags) {
			pr_info(
			    "task %d: fd %d: fanotify %s is empty (its ignore mask was cleared): "
			    "it acts on nothing and is not rebuilt",
			    t->pid, fi->fd, what);
			continue;
		}
		why = mark_problem(m);
		if (why) {
			pr_err("task %d: fd %d: fanotify %s (mflags %#x, mask %#x, ignore %#x) %s",
			       t->pid, fi->fd, what, m->mflags, m->mask, m->ignored_mask, why);
			ret = -ENOTSUP;
			break;
		}
		int fd = open_object(m);
		if (fd < 0) {
			pr_errno(errno,
				 "task %d: fd %d: fanotify %s: cryo cannot reach it again (no "
				 "working file handle, or no such mount here)",
				 t->pid, fi->fd, what);
			ret = -ENOTSUP;
			break;
		}
		close(fd);
		e->fanotify_marks[e->n_fanotify_marks++] = m;
	}
	free(info);
	if (!ret)
		pr_info("task %d: fd %d is a fanotify (flags %#x) with %zu mark(s)", t->pid, fi->fd,
			flags, e->n_fanotify_marks);
	return ret;
}

static int mark_type_flag(const FanotifyMark *m)
{
	return m->type == FANOTIFY_MARK_TYPE__FANOTIFY_MARK_MOUNT	 ? FAN_MARK_MOUNT
	       : m->type == FANOTIFY_MARK_TYPE__FANOTIFY_MARK_FILESYSTEM ? FAN_MARK_FILESYSTEM
									 : FAN_MARK_INODE;
}

static int fanotify_restore(struct restore_ctx *ctx, struct restore_task *t, const FdEntry *e,
			    int flags)
{
	int fd;
	(void)ctx;

	fd = fanotify_init(e->fanotify_flags, e->fanotify_event_flags);
	if (fd < 0) {
		child_fail(t, errno, "cannot make the fanotify of fd %d (flags %#x)%s", e->fd,
			   e->fanotify_flags, errno == EPERM ? ": it needs CAP_SYS_ADMIN" : "");
		return -1;
	}
	for (size_t i = 0; i < e->n_fanotify_marks; i++) {
		const FanotifyMark *m = e->fanotify_marks[i];
		unsigned base =
		    FAN_MARK_ADD | (unsigned)mark_type_flag(m) | (m->mflags & FAN_MARK_EVICTABLE);
		char what[1400], opath[64];
		int ofd = open_object(m), err = 0;

		describe(m, what, sizeof(what));
		if (ofd < 0) {
			child_fail(t, errno, "fd %d: cannot reach the fanotify %s again", e->fd,
				   what);
			close(fd);
			return -1;
		}
		/* by the object's descriptor, never by a path that may lead elsewhere now */
		snprintf(opath, sizeof(opath), "/proc/self/fd/%d", ofd);
		if (m->mask && fanotify_mark(fd, base, m->mask, AT_FDCWD, opath) < 0)
			err = errno;
		if (!err && m->ignored_mask &&
		    fanotify_mark(fd,
				  base |
				      (m->mflags & FAN_MARK_IGNORE ? FAN_MARK_IGNORE
								   : FAN_MARK_IGNORED_MASK) |
				      (m->mflags & FAN_MARK_IGNORED_SURV_MODIFY),
				  m->ignored_mask, AT_FDCWD, opath) < 0)
			err = errno;
		close(ofd);
		if (err) {
			child_fail(t, err, "fd %d: cannot set the fanotify %s again", e->fd, what);
			close(fd);
			return -1;
		}
	}
	/* the file's own flag, which fcntl may have changed since fanotify_init */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, (fl & ~O_NONBLOCK) | (flags & O_NONBLOCK)) < 0) {
		child_fail(t, errno, "cannot set the flags of the fanotify of fd %d", e->fd);
		close(fd);
		return -1;
	}
	return fd;
}

static int fanotify_validate(const char *img, const Files *f, const FdEntry *e)
{
	(void)f;
	if (!e->has_fanotify_flags || !e->has_fanotify_event_flags)
		return files_refuse(img, "fd %d: a fanotify without its flags", e->fd);
	if ((e->fanotify_flags & ~(uint32_t)FANOTIFY_INIT_KNOWN) ||
	    (e->fanotify_flags & FANOTIFY_CLASS_BITS))
		return files_refuse(img, "fd %d: fanotify flags %#x are invalid", e->fd,
				    e->fanotify_flags);
	/* fanotify_init takes an open mode and a few open flags for the event files */
	if ((e->fanotify_event_flags & O_ACCMODE) == O_ACCMODE ||
	    (e->fanotify_event_flags &
	     ~(uint32_t)(O_ACCMODE | KERNEL_O_LARGEFILE | O_CLOEXEC | O_APPEND | O_DSYNC |
			 O_NOATIME | O_NONBLOCK | O_SYNC)))
		return files_refuse(img, "fd %d: fanotify event flags %#x are invalid", e->fd,
				    e->fanotify_event_flags);
	if (e->n_fanotify_marks > FANOTIFY_MARKS_MAX)
		return files_refuse(img, "fd %d: %zu fanotify marks, too many", e->fd,
				    e->n_fanotify_marks);
	for (size_t i = 0; i < e->n_fanotify_marks; i++) {
		const FanotifyMark *m = e->fanotify_marks[i];
		const char *why = mark_problem(m);
		if (why)
			return files_refuse(img, "fd %d: fanotify mark %zu %s", e->fd, i, why);
		switch (m->type) {
		case FANOTIFY_MARK_TYPE__FANOTIFY_MARK_INODE:
			if (!m->has_dev || !m->has_ino || !m->has_handle_type || !m->has_handle ||
			    !m->handle.len || m->handle.len > FSNOTIFY_HANDLE_MAX)
				return files_refuse(
				    img, "fd %d: fanotify inode mark %zu is invalid", e->fd, i);
			break;
		case FANOTIFY_MARK_TYPE__FANOTIFY_MARK_MOUNT:
			if (!m->has_mnt_id || m->mnt_id <= 0)
				return files_refuse(
				    img, "fd %d: fanotify mount mark %zu is invalid", e->fd, i);
			break;
		case FANOTIFY_MARK_TYPE__FANOTIFY_MARK_FILESYSTEM:
			if (!m->has_dev)
				return files_refuse(
				    img, "fd %d: fanotify file system mark %zu is invalid", e->fd,
				    i);
			break;
		default:
			return files_refuse(img, "fd %d: fanotify mark %zu of unknown type %d",
					    e->fd, i, m->type);
		}
	}
	return 0;
}

const struct fd_ops fd_fanotify_ops = {
    .name = "a fanotify",
    .names = "fanotifys",
    .kind = FD_KIND__FD_FANOTIFY,
    .link_prefix = "anon_inode:[fanotify]",
    .dump = fanotify_dump,
    .restore = fanotify_restore,
    .validate = fanotify_validate,
};
