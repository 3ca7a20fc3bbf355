/* Memory tracking for incremental dumps, on a kernel without soft-dirty bits.
 *
 * A pre-dump saves the tree's pages while it is frozen, then arms tracking in each task: a
 * userfaultfd made by the task itself (a userfaultfd belongs to the mm of its maker), in
 * UFFD_FEATURE_WP_ASYNC mode, with every writable private anonymous VMA registered in
 * write-protect mode and write-protected (UFFDIO_WRITEPROTECT, from cryo's copy of the fd).
 * A write then clears the page's protection in the kernel, telling nobody; PAGEMAP_SCAN's
 * PAGE_IS_WRITTEN shows which pages were written since. The next pre-dump or dump saves those
 * only and marks the other present pages `in_parent`.
 *
 * Where the tracking lives between cryo runs: it ends when the last descriptor of the
 * userfaultfd is closed, and cryo exits between runs, so the task keeps one. That is a
 * descriptor the program did not open: it is placed at the highest free number below
 * min(RLIMIT_NOFILE, 1024) (a program allocates the lowest free numbers; past 1024 the
 * kernel would grow the task's descriptor table for it), with O_CLOEXEC (an exec ends the
 * mm it tracks anyway), and its number and inode go into the pre-dump's pagemap-PID.img
 * (track_fd, track_ino). The next run finds it there, checks it is still that same file, the
 * fd walk skips it (never saved); a final dump that kills the tree leaves it to end with the
 * tree (keep_tracking, track_owns), any other run closes it (remotely, before it reads the
 * layout, so that VMAs the registration kept apart merge again as they would have). Copies a
 * child got by fork() are cryo's too and are closed as well. A program that closes it ends
 * the tracking: its memory is then saved whole, which is correct, only larger.
 *
 * Why no UFFD_FEATURE_WP_UNPOPULATED: it puts markers in empty page table entries, which
 * PAGEMAP_SCAN reports as swapped pages, and allocates page tables for every empty range;
 * without it, a page never touched is absent from the page tables, written or read later it
 * shows as written (or as the zero page), which is what the dump needs.
 *
 * Only private anonymous writable VMAs are tracked. A private file mapping is not: an
 * anonymous copy of a file page dropped by MADV_DONTNEED becomes the file's page again
 * without a write, and would look unchanged. A VMA that is not registered (made since, moved
 * by mremap, or one of a child made by fork, which does not inherit the registration) is
 * saved whole.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <stddef.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "compat.h"
#include "core/dump_ctx.h"
#include "core/log.h"
#include "core/safeopen.h"
#include "core/util.h"
#include "res/mm.h"
#include "res/predump.h"
#include "res/track.h"

#define TRACK_FEATURES UFFD_FEATURE_WP_ASYNC
#define SCAN_VEC 1024

/* One call made by the task. Through a batch, whose results are stored in memory: a single
 * guarded call ends with the stop signal's tgkill, which leaves its own result in rax. */
long track_task_call(struct dump_task *t, long nr, long a1, long a2, long a3)
{
	struct remote_batch *b = calloc(1, sizeof(*b));
	long result = -ENOSYS;
	int ret;

	if (!b)
		return -ENOMEM;
	batch_ask(b, &result, nr, a1, a2, a3, 0, 0, 0);
	ret = remote_batch_run(&t->rem, b);
	free(b);
	pr_debug("task %d: call %ld(%ld, %ld, %ld) = %ld", t->pid, nr, a1, a2, a3, result);
	return ret ? ret : result;
}

int track_open_parent(struct dump_ctx *ctx)
{
	const char *rel = ctx->opts->prev_images_dir;
	ProtobufCMessage *msg = NULL;
	int ret;

	ctx->parent_dirfd = -1;
	if (!rel)
		return 0;
	if (!dir_sibling_name_ok(rel)) {
		pr_err("--prev-images-dir %s: must be ../NAME, a directory beside %s (relative "
		       "to it, without other ..)",
		       rel, ctx->opts->images_dir);
		return -EINVAL;
	}
	ctx->parent_dirfd = dir_open_sibling(ctx->dirfd, rel);
	if (ctx->parent_dirfd < 0) {
		ret = ctx->parent_dirfd;
		ctx->parent_dirfd = -1;
		pr_errno(-ret, "--prev-images-dir %s: cannot open it", rel);
		return ret;
	}
	ret = img_read(ctx->parent_dirfd, IMG_INVENTORY, 0, &msg);
	if (ret) {
		pr_err("--prev-images-dir %s holds no complete image set", rel);
		return ret;
	}
	Inventory *inv = (Inventory *)msg;
	ctx->parent_root = inv->root_pid;
	if (inv->root_pid != (uint32_t)ctx->opts->pid ||
	    inv->format_version != CRYO_FORMAT_VERSION) {
		pr_err("--prev-images-dir %s is a dump of process %u, not of %d", rel,
		       inv->root_pid, ctx->opts->pid);
		ret = -EINVAL;
	}
	img_free(msg);
	return ret;
}

/* The link text of /proc/PID/fd/N and its inode, or -errno. */
static int fd_ident(pid_t pid, int fd, char *link, size_t len, uint64_t *ino)
{
	char path[64];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, link, len - 1);
	if (n < 0 || stat(path, &st) < 0)
		return -errno;
	link[n] = 0;
	*ino = st.st_ino;
	return 0;
}

/* Does the task hold at pm's track_token_fd the token pm names (this level's own)? */
static bool token_held(pid_t pid, const Pagemap *pm)
{
	char link[128];
	uint64_t ino;

	return pm->has_track_token_fd && pm->has_track_token_ino && pm->track_token_fd >= 0 &&
	       !fd_ident(pid, pm->track_token_fd, link, sizeof(link), &ino) &&
	       ino == pm->track_token_ino && !strcmp(link, "/memfd:" TRACK_TOKEN " (deleted)");
}

static int add_ino(uint64_t **inos, int *nr, uint64_t ino)
{
	uint64_t *n = realloc(*inos, (*nr + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	*inos = n;
	n[(*nr)++] = ino;
	return 0;
}

static int add_hidden(struct dump_task *t, int fd)
{
	int *n = realloc(t->track_hidden, (t->nr_track_hidden + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	t->track_hidden = n;
	n[t->nr_track_hidden++] = fd;
	return 0;
}

int track_find(struct dump_ctx *ctx)
{
	uint64_t *inos = NULL;
	int nr_inos = 0, ret = 0;

	if (ctx->parent_dirfd < 0)
		return 0;
	for (int i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		char name[64], link[128];
		ProtobufCMessage *msg = NULL;
		uint64_t ino;
		bool uffd = false;

		t->track_fd = -1;
		if (t->zombie)
			continue;
		img_name(IMG_PAGEMAP, t->pid, name, sizeof(name));
		if (faccessat(ctx->parent_dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
			pr_info("task %d is not in the previous image set: its memory is saved "
				"whole",
				t->pid);
			continue;
		}
		if ((ret = img_read(ctx->parent_dirfd, IMG_PAGEMAP, t->pid, &msg)))
			goto out;
		Pagemap *pm = (Pagemap *)msg;
		if ((ret = predump_lost_load(t, pm, ctx->opts->prev_images_dir))) {
			img_free(msg);
			goto out;
		}
		if (pm->has_track_fd && pm->has_track_ino && pm->track_fd >= 0 &&
		    pm->has_owner_pid && pm->owner_pid == (uint32_t)t->pid) {
			/* the tokens are cryo's too: hidden, and closed with the tracking */
			if ((ret = add_ino(&inos, &nr_inos, pm->track_ino)) ||
			    (pm->has_track_token_ino &&
			     (ret = add_ino(&inos, &nr_inos, pm->track_token_ino)))) {
				img_free(msg);
				goto out;
			}
			if (!fd_ident(t->pid, pm->track_fd, link, sizeof(link), &ino) &&
			    ino == pm->track_ino && !strcmp(link, "anon_inode:[userfaultfd]")) {
				uffd = true;
				/* the same userfaultfd goes from one level to the next: only the
				 * token tells that its protections are this parent's */
				if (token_held(t->pid, pm)) {
					t->has_track = true;
					t->track_fd = pm->track_fd;
					t->track_ino = ino;
				}
			}
		}
		img_free(msg);
		if (!t->has_track && uffd)
			pr_warn("task %d: its memory tracking is not that of %s (a pre-dump made "
				"after it, or one that failed, changed it): its memory is saved "
				"whole",
				t->pid, ctx->opts->prev_images_dir);
		else if (!t->has_track)
			pr_warn("task %d: its memory tracking is gone (the descriptor cryo left "
				"was closed, or an exec): its memory is saved whole",
				t->pid);
	}
	/* every copy of a tracking userfaultfd or of its token in the tree is cryo's, whoever
	 * holds it */
	for (int i = 0; i < ctx->nr_tasks && nr_inos; i++) {
		struct dump_task *t = &ctx->tasks[i];
		char path[64], link[128];
		struct dirent *de;
		DIR *d;

		if (t->zombie)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", t->pid);
		if (!(d = opendir(path)))
			continue;
		while ((de = readdir(d)) && !ret) {
			uint64_t ino;
			int fd = atoi(de->d_name);
			if (de->d_name[0] == '.' ||
			    fd_ident(t->pid, fd, link, sizeof(link), &ino) ||
			    (strcmp(link, "anon_inode:[userfaultfd]") &&
			     strcmp(link, "/memfd:" TRACK_TOKEN " (deleted)")))
				continue;
			for (int k = 0; k < nr_inos; k++)
				if (inos[k] == ino) {
					ret = add_hidden(t, fd);
					break;
				}
		}
		closedir(d);
	}
out:
	free(inos);
	return ret;
}

bool track_hidden_fd(const struct dump_task *t, int fd)
{
	for (int i = 0; i < t->nr_track_hidden; i++)
		if (t->track_hidden[i] == fd)
			return true;
	return false;
}

uint64_t track_span(const struct dump_task *t, uint64_t a, uint64_t end, bool *clean)
{
	size_t lo = 0, hi = t->nr_clean;
	/* the first clean span that ends above a */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->clean[mid].end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->nr_clean && t->clean[lo].start <= a) {
		*clean = true;
		return t->clean[lo].end < end ? t->clean[lo].end : end;
	}
	*clean = false;
	if (lo < t->nr_clean && t->clean[lo].start < end)
		return t->clean[lo].start;
	return end;
}

static int add_clean(struct dump_task *t, uint64_t start, uint64_t end)
{
	if (t->nr_clean && t->clean[t->nr_clean - 1].end == start) {
		t->clean[t->nr_clean - 1].end = end;
		return 0;
	}
	if ((t->nr_clean & (t->nr_clean + 1)) == 0 || !t->clean) {
		size_t cap = t->nr_clean ? (t->nr_clean + 1) * 2 : 16;
		struct track_range *n = realloc(t->clean, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->clean = n;
	}
	t->clean[t->nr_clean++] = (struct track_range){start, end};
	return 0;
}

/* Pages of [start, end) in a VMA registered for asynchronous write protection (the task's
 * tracking userfaultfd: PAGE_IS_WPALLOWED; any other userfaultfd is refused by the fd walk),
 * present or swapped, not the zero page, not written since the protection: those the
 * parent holds as they are. */
static int scan_clean(struct dump_task *t, int pagemap_fd, uint64_t start, uint64_t end)
{
	static struct page_region vec[SCAN_VEC];
	struct pm_scan_arg arg = {
	    .size = sizeof(arg),
	    .end = end,
	    .vec = (uint64_t)vec,
	    .vec_len = SCAN_VEC,
	    .category_inverted = PAGE_IS_WRITTEN | PAGE_IS_PFNZERO,
	    .category_mask = PAGE_IS_WRITTEN | PAGE_IS_PFNZERO | PAGE_IS_WPALLOWED,
	    .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	    .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};
	uint64_t done = start;

	while (done < end) {
		arg.start = done;
		long n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
		if (n < 0) {
			int err = errno;
			pr_errno(err, "task %d: PAGEMAP_SCAN of %#lx-%#lx failed", t->pid, done,
				 end);
			return -err;
		}
		for (long i = 0; i < n; i++) {
			uint64_t s = vec[i].start > done ? vec[i].start : done;
			if (vec[i].end <= s)
				continue;
			int ret = add_clean(t, s, vec[i].end);
			if (ret)
				return ret;
			done = vec[i].end;
		}
		if (n < SCAN_VEC && (arg.walk_end >= end || arg.walk_end <= done))
			break;
		if (arg.walk_end > done)
			done = arg.walk_end;
	}
	return 0;
}

/* The clean pages of every VMA registered for write protection, in one scan of the whole
 * address space: the kernel skips each VMA that is not registered at once. (Finding them
 * by the "uw" of smaps' VmFlags cost a walk of every page table entry: smaps counts the
 * resident pages of each VMA, 50 ms for a GiB.) */
static int scan_tracked(struct dump_task *t)
{
	char path[64];
	int pagemap_fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", t->pid);
	pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pagemap_fd < 0)
		return -errno;
	ret = scan_clean(t, pagemap_fd, 0, TASK_SIZE_MAX);
	close(pagemap_fd);
	/* what the parent pre-dump could not read is not in it, clean or not */
	if (!ret)
		ret = predump_lost_apply(t);
	t->tracked = !ret;
	return ret;
}

/* The two lowest free descriptor numbers of a frozen task: where its next two new
 * descriptors go (its table is not shared with anything running). */
int track_lowest_free(struct dump_task *t, int out[2])
{
	char path[64];
	bool used[4096] = {false};
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", t->pid);
	if (!(d = opendir(path)))
		return -errno;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd >= 0 && fd < 4096)
			used[fd] = true;
	}
	closedir(d);
	for (int fd = 0; fd < 4096 && n < 2; fd++)
		if (!used[fd])
			out[n++] = fd;
	return n == 2 ? 0 : -EMFILE;
}

/* What the task's sendmsg() reads, in its scratch memory. */
struct fd_msg {
	struct msghdr mh;
	struct iovec iov;
	struct sockaddr_un sa;
	char byte;
	union {
		struct cmsghdr c;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
};

/* A new userfaultfd made by the task (it tracks the task's mm), held by cryo only until the
 * images are written. One batch makes it, sends it to cryo over a datagram socket and closes
 * both descriptors again: a batch runs to its end even when cryo dies during it, so the task
 * never keeps a descriptor of cryo's making before the very end (track_install). User mode
 * only: that is enough for write protection (the asynchronous kind never reports a fault),
 * and needs neither CAP_SYS_PTRACE nor vm.unprivileged_userfaultfd. Returns cryo's copy. */
static int make_uffd(struct dump_task *t)
{
	static unsigned seq;
	struct uffdio_api api = {.api = UFFD_API, .features = TRACK_FEATURES};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct remote_batch *b = NULL;
	struct fd_msg m, back;
	int lo[2], rs = -1, copy = -1, ret;
	long r_sock, r_uffd, r_send, r_c1, r_c2;
	socklen_t salen;
	struct stat st;

	if ((ret = track_lowest_free(t, lo)))
		return ret;
	/* an abstract name of cryo's, only for this one message */
	int len = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "cryo-track-%d-%d-%u",
			   getpid(), t->pid, seq++);
	salen = offsetof(struct sockaddr_un, sun_path) + 1 + len;
	rs = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (rs < 0 || bind(rs, (struct sockaddr *)&sa, salen) < 0) {
		ret = -errno;
		goto out;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	uint64_t at = batch_out(b, &t->rem, &back, sizeof(back));
	memset(&m, 0, sizeof(m));
	m.byte = 'T';
	m.sa = sa;
	m.iov = (struct iovec){(void *)(at + offsetof(struct fd_msg, byte)), 1};
	m.mh.msg_name = (void *)(at + offsetof(struct fd_msg, sa));
	m.mh.msg_namelen = salen;
	m.mh.msg_iov = (struct iovec *)(at + offsetof(struct fd_msg, iov));
	m.mh.msg_iovlen = 1;
	m.mh.msg_control = (void *)(at + offsetof(struct fd_msg, ctl));
	m.mh.msg_controllen = CMSG_SPACE(sizeof(int));
	m.ctl.c.cmsg_level = SOL_SOCKET;
	m.ctl.c.cmsg_type = SCM_RIGHTS;
	m.ctl.c.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&m.ctl.c), &lo[1], sizeof(int));
	if (b->out_overflow || (ret = remote_write(t->pid, at, &m, sizeof(m))))
		goto out;
	batch_ask(b, &r_sock, __NR_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0, 0, 0);
	batch_ask(b, &r_uffd, __NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, 0, 0,
		  0, 0, 0);
	batch_ask(b, &r_send, __NR_sendmsg, lo[0], (long)at, MSG_DONTWAIT, 0, 0, 0);
	batch_ask(b, &r_c1, __NR_close, lo[1], 0, 0, 0, 0, 0);
	batch_ask(b, &r_c2, __NR_close, lo[0], 0, 0, 0, 0, 0);
	if ((ret = remote_batch_run(&t->rem, b)))
		goto out;
	pr_debug("task %d: socket %ld, userfaultfd %ld (expected %d, %d), sent %ld, closed %ld %ld",
		 t->pid, r_sock, r_uffd, lo[0], lo[1], r_send, r_c1, r_c2);
	if (r_uffd < 0 || r_sock < 0 || r_send != 1 || r_uffd != lo[1] || r_sock != lo[0]) {
		ret = r_uffd < 0   ? (int)r_uffd
		      : r_sock < 0 ? (int)r_sock
		      : r_send < 0 ? (int)r_send
				   : -EIO;
		pr_errno(-ret, "task %d: cannot make a userfaultfd to track its memory", t->pid);
		goto out;
	}
	char byte;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	if (recvmsg(rs, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1) {
		ret = -errno;
		goto out;
	}
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
		ret = -EIO;
		goto out;
	}
	memcpy(&copy, CMSG_DATA(c), sizeof(int));
	errno = 0;
	if (ioctl(copy, UFFDIO_API, &api) < 0 ||
	    (api.features & TRACK_FEATURES) != TRACK_FEATURES) {
		ret = errno ? -errno : -ENOTSUP;
		pr_errno(-ret,
			 "task %d: this kernel's userfaultfd has no asynchronous write "
			 "protection (UFFD_FEATURE_WP_ASYNC, Linux 6.7)",
			 t->pid);
		goto out;
	}
	if (fstat(copy, &st) < 0) {
		ret = -errno;
		goto out;
	}
	t->track_ino = st.st_ino;
	ret = copy;
	copy = -1;
out:
	if (copy >= 0)
		close(copy);
	if (rs >= 0)
		close(rs);
	free(b);
	return ret;
}

/* Register every writable private anonymous VMA for write protection (a flag of the VMA,
 * cheap) and protect the pages unchanged since the parent (clean[]: the pagemap will say
 * they are in the parent, they are not read again, so they must be protected while the tree
 * is frozen, or a write before the protection would go unseen). The pages read after the
 * thaw are protected then, each range after the scan that finds it and just before it is
 * read (track_protect, res/predump.c, which says why that is exact). */
static int arm(struct dump_task *t, int uffd)
{
	for (size_t i = 0; i < t->mm->n_vmas; i++) {
		Vma *v = t->mm->vmas[i];
		if (v->kind != VMA_KIND__VMA_ANON_PRIVATE || !(v->prot & PROT_WRITE))
			continue;
		struct uffdio_register reg = {
		    .range = {v->start, v->end - v->start},
		    .mode = UFFDIO_REGISTER_MODE_WP,
		};
		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
			int err = errno;
			pr_errno(err, "task %d: cannot track the writes to %#lx-%#lx%s", t->pid,
				 v->start, v->end,
				 err == EBUSY
				     ? " (another userfaultfd has it: the program's own, or "
				       "the tracking of an earlier chain of pre-dumps, which "
				       "`cryo dump -R --prev-images-dir ../LAST` ends)"
				     : "");
			return -err;
		}
	}
	for (size_t i = 0; t->tracked && i < t->nr_clean; i++) {
		struct uffdio_writeprotect wp = {
		    .range = {t->clean[i].start, t->clean[i].end - t->clean[i].start},
		    .mode = UFFDIO_WRITEPROTECT_MODE_WP,
		};
		if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0) {
			int err = errno;
			pr_errno(err, "task %d: cannot track the writes to %#lx-%#lx", t->pid,
				 t->clean[i].start, t->clean[i].end);
			return -err;
		}
	}
	return 0;
}

void track_protect(struct dump_task *t, uint64_t start, uint64_t len)
{
	struct uffdio_writeprotect wp = {
	    .range = {start, len},
	    .mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	/* a range unmapped or mapped anew since the freeze is not registered (ENOENT): it is
	 * saved whole next time. Pages left unprotected look written: read again, never lost. */
	if (t->has_copy && ioctl(t->track_copy, UFFDIO_WRITEPROTECT, &wp) < 0)
		pr_debug("task %d: %#lx-%#lx not protected (%s): it is read again next time",
			 t->pid, start, start + len, strerror(errno));
}

/* Close every descriptor of cryo's tracking the task holds (its own, copies by fork). */
static int close_hidden(struct dump_task *t)
{
	for (int i = 0; i < t->nr_track_hidden; i++) {
		int fd = t->track_hidden[i];
		long rv = track_task_call(t, __NR_close, fd, 0, 0);
		if (rv < 0 && rv != -EBADF) {
			pr_errno((int)-rv, "task %d: cannot close cryo's tracking at fd %d", t->pid,
				 fd);
			return (int)rv;
		}
		pr_info("task %d: cryo's memory tracking at fd %d closed", t->pid, fd);
	}
	return 0;
}

/* A final dump that kills the tree: the tracking stays on while the tree is frozen. Closing
 * it makes the kernel take the protection off every page table entry (40 to 60 ms of the
 * freeze for a GiB, measured); the tree's exit does that, after the freeze, and a dump that
 * fails leaves the tracking as it was, to be dumped again. cryo keeps a copy of the task's
 * own, for track_owns. */
static int take_copy(struct dump_task *t)
{
	int pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0), fd;
	if (pidfd < 0)
		return -errno;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, t->track_fd, 0);
	int err = errno;
	close(pidfd);
	if (fd < 0) {
		pr_errno(err, "task %d: cannot take a copy of cryo's tracking at fd %d", t->pid,
			 t->track_fd);
		return -err;
	}
	return fd;
}

static int keep_tracking(struct dump_task *t)
{
	int fd = take_copy(t);
	if (fd < 0)
		return fd;
	t->track_probe = fd;
	t->has_probe = true;
	pr_info("task %d: cryo's memory tracking at fd %d stays until the tree is killed", t->pid,
		t->track_fd);
	return 0;
}

int track_task(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret;

	t->has_copy = false;
	const struct cryo_dump_opts *o = ctx->opts;
	if (t->has_track && o->pre_dump) {
		/* A chained pre-dump goes on with the parent's tracking: its clean pages stay
		 * protected, nothing in proportion to the memory is done in the freeze (closing
		 * unprotects every entry, arming again protects them: 100-200 ms for a GiB). cryo
		 * takes the only copy until the images are complete (the task's own and any copy
		 * of a child are closed now): a pre-dump that fails or is killed half way, after
		 * it has protected again pages it never stored, ends the tracking with it. The
		 * clean pages are found after the thaw (track_thawed). */
		if ((ret = take_copy(t)) < 0)
			return ret;
		t->track_copy = ret;
		t->has_copy = t->kept = true;
		pr_info("task %d: cryo's memory tracking at fd %d goes on (held by cryo)", t->pid,
			t->track_fd);
		return close_hidden(t);
	}
	if (t->has_track && !o->leave_running && !o->leave_stopped) {
		/* the final dump: the tracking stays, and the scan that finds the pages tells the
		 * clean ones too (res/pages.c: queue_clean), one walk of the page tables instead
		 * of two in the freeze */
		t->tracked = t->clean_inline = true;
		return keep_tracking(t);
	}
	if (t->has_track && (ret = scan_tracked(t)))
		return ret;
	/* The old tracking ends here, in a pre-dump too: a new one is made for the pages saved
	 * now, so that a pre-dump that fails half way never leaves the old one protecting pages
	 * its image set does not hold. Without it the layout is as the program made it. */
	return close_hidden(t);
}

bool track_owns(const struct dump_task *t, uint64_t start, uint64_t end)
{
	/* registering again what this userfaultfd has registered, in the same mode, changes
	 * nothing; a range of another userfaultfd is refused (EBUSY) */
	struct uffdio_register reg = {.range = {start, end - start},
				      .mode = UFFDIO_REGISTER_MODE_WP};
	return t->has_probe && ioctl(t->track_probe, UFFDIO_REGISTER, &reg) == 0;
}

int track_predump(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret;

	if ((ret = dump_mm(ctx, t)))
		return ret;
	/* the tree is still frozen: the tracking begins now (or goes on: kept); the pages are
	 * found and read after the thaw (res/predump.c) */
	if (!t->kept) {
		if ((ret = make_uffd(t)) < 0)
			return ret;
		t->track_copy = ret;
		t->has_copy = true;
	}
	/* cryo's copy keeps it alive until the task takes it (track_install, in a second short
	 * stop once the pages are read): a pre-dump that fails or dies before leaves the task
	 * untracked. The level's token goes with it. Registering a VMA the kept tracking has
	 * registered already changes nothing; a VMA made since is registered now, its pages
	 * unprotected (so seen as written) until they are read. */
	if ((ret = track_make_token(t)))
		return ret;
	return arm(t, t->track_copy);
}

int track_thawed(struct dump_task *t)
{
	/* The clean pages of a kept tracking, found as the task runs, before its pages are:
	 * a page the scan finds protected and not written was so since the parent protected
	 * it (only this level and its parents protect), so the parent holds it as it is. A
	 * page written after the scan is left unprotected by this level (it is in a clean span,
	 * never read nor protected here): the next dump sees it written and reads it. */
	return t->kept ? scan_tracked(t) : 0;
}

int track_write_parent_link(struct dump_ctx *ctx)
{
	const char *rel = ctx->opts->prev_images_dir;
	struct stat st;

	if (!rel)
		return 0;
	if (fstatat(ctx->dirfd, "parent", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISLNK(st.st_mode)) {
			pr_err("%s/parent exists and is not a symbolic link",
			       ctx->opts->images_dir);
			return -EEXIST;
		}
		if (unlinkat(ctx->dirfd, "parent", 0) < 0)
			return -errno;
	}
	if (symlinkat(rel, ctx->dirfd, "parent") < 0) {
		int err = errno;
		pr_errno(err, "cannot make %s/parent", ctx->opts->images_dir);
		return -err;
	}
	return 0;
}

void track_free(struct dump_ctx *ctx)
{
	if (ctx->parent_dirfd >= 0)
		close(ctx->parent_dirfd);
	for (int i = 0; i < ctx->nr_tasks; i++) {
		if (ctx->tasks[i].has_copy)
			close(ctx->tasks[i].track_copy);
		if (ctx->tasks[i].has_token)
			close(ctx->tasks[i].token_copy);
		if (ctx->tasks[i].has_probe)
			close(ctx->tasks[i].track_probe);
		free(ctx->tasks[i].clean);
		free(ctx->tasks[i].track_hidden);
		free(ctx->tasks[i].lost);
		plan_free(ctx->tasks[i].plan);
		ctx->tasks[i].plan = NULL;
	}
}
