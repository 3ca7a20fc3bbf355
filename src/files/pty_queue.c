/* The bytes queued in a pseudo-terminal pair of the tree (pty.c), both ways.
 *
 * Output (written on the slave's side, not read by the master yet) sits in the master's
 * N_TTY buffer (4095 bytes at most) and behind it in the master's flip buffers (about 16 KiB
 * more on this kernel, measured: 18-20 KiB in all depending on the writes' sizes); it is
 * already processed (OPOST, ONLCR...). Input (written into the master, not read on the slave's
 * side yet) sits in the slave's N_TTY buffer, already processed (ICRNL, erase and kill done,
 * echo already queued as output): whole lines (each ends on a byte the kernel marked: a
 * newline, VEOL, VEOL2, or an end-of-file that a read drops) and, in canonical mode, a partial
 * line no read nor FIONREAD sees.
 *
 * Taking them (the tree is frozen: nobody else reads or writes): through cryo's copy of the
 * master (the tree's own description, made O_NONBLOCK for the moment; packet mode off for the
 * moment, so reads give plain data) and a new slave description (TIOCGPTPEER, O_NONBLOCK).
 * A non-blocking read that finds nothing waits for the flip buffers to reach the line
 * discipline first (n_tty_read), so "EAGAIN" means empty. The output is read first; a
 * zero-length write on the slave then makes the kernel send echoes it still held back
 * (process_echoes: they wait while the output is full) and those are read after it. The input
 * is read in canonical mode one line per read (n_tty gives one line per read), then ICANON is
 * turned off for a moment: measured here, the kernel then makes the buffer's rest, the
 * partial line, readable as is (n_tty_set_termios: canon_head and line marks reset).
 *
 * Putting them back (at once after taking, for the live tree; at restore on the new pair):
 * input with TIOCSTI on the slave (synchronous: the line discipline takes each byte at once,
 * no flip buffer), under a termios made for it: canonical, no echo, no signals, no input
 * mapping, erase and kill off, every data byte quoted by a VLNEXT the kernel does not store,
 * line ends unquoted, an end-of-file as a VEOF char; then the termios exactly as it was (back
 * to non-canonical if it was: the bytes become readable as they were). Output: the first
 * 4095 bytes with TIOCSTI on the master (its line discipline is raw: bytes go in as they
 * are), the rest written on the slave with OPOST off for the moment, one byte a write (the
 * densest in the flip buffers). Packet mode, the master's flags, the termios are set back and
 * checked.
 *
 * Refused by name: bytes queued when cryo lacks CAP_SYS_ADMIN (TIOCSTI: nothing is read then;
 * a partial canonical line cannot be seen without reading, a warning says so); input with
 * EXTPROC on; input beyond the slave's buffer (more than 4095 bytes read: typed input was
 * waiting unprocessed in the flip buffer, and reading processed it; put back: 4095 bytes into
 * the buffer, the rest typed into the master again, to wait in the flip buffer as it did, and
 * the echo the reading made left out: the kernel makes it again when it processes that rest
 * again); output beyond PTY_OUT_MAX; a slave whose output is stopped (VSTOP with IXON, tcflow
 * TCOOFF: the restore does not stop it again; for the write back it is started for the moment
 * and stopped again the same way).
 *
 * Not kept, with no difference a reader sees: a VLNEXT typed last (the kernel forgets it on
 * any ICANON change, measured), the column and line-start state of echo (ldata->column,
 * canon_column, line_start, push: they only change how the erase of a tab is echoed); a
 * quoted line-end byte followed by an end-of-file comes back as a line ended by that byte
 * (the same for every read but one of exactly the line's length, which would have left the
 * end-of-file for the next read). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "core/log.h"
#include "files/kind.h"
#include "files/tty.h"

#define NTTY_BUF 4096 /* N_TTY_BUF_SIZE: a line discipline buffer, per direction */
/* What a dump reads at most, to put it all back in order even when it refuses: a line
 * discipline's buffer and the flip buffers behind it, with room to spare */
#define READ_CAP (1u << 20)

enum { END_NONE = 0, END_CHAR = 1, END_EOF = 2 };

struct piece {
	uint8_t *data;
	size_t len;
	int end;
};

struct queues {
	uint8_t *out;
	size_t out_len;
	struct piece *in;
	size_t n_in, cap_in,
	    in_bytes; /* in_bytes: what the buffer held, end-of-file marks included */
};

static void queues_free(struct queues *q)
{
	free(q->out);
	for (size_t i = 0; i < q->n_in; i++)
		free(q->in[i].data);
	free(q->in);
}

static bool is_line_end(const struct termios *t, uint8_t c)
{
	return c &&
	       (c == '\n' || c == t->c_cc[VEOL] || ((t->c_lflag & IEXTEN) && c == t->c_cc[VEOL2]));
}

static bool same_termios(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
	       a->c_lflag == b->c_lflag && a->c_line == b->c_line &&
	       !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) && cfgetispeed(a) == cfgetispeed(b) &&
	       cfgetospeed(a) == cfgetospeed(b);
}

/* Every byte fd has for reading (non-blocking), appended to *buf; -errno, -E2BIG over max */
static int drain(int fd, uint8_t **buf, size_t *len, size_t max)
{
	for (;;) {
		uint8_t *n = realloc(*buf, *len + NTTY_BUF + 1);
		ssize_t r;
		if (!n)
			return -ENOMEM;
		*buf = n;
		while ((r = read(fd, *buf + *len, NTTY_BUF + 1)) < 0 && errno == EINTR)
			;
		if (r < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (r == 0)
			return 0;
		*len += (size_t)r;
		if (*len > max)
			return -E2BIG;
	}
}

static int add_piece(struct queues *q, const uint8_t *d, size_t len, int end)
{
	if (q->in_bytes >= READ_CAP)
		return -E2BIG;
	if (q->n_in == q->cap_in) {
		size_t cap = q->cap_in ? 2 * q->cap_in : 16;
		struct piece *n = realloc(q->in, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		q->in = n, q->cap_in = cap;
	}
	struct piece *p = &q->in[q->n_in];
	p->data = NULL;
	if (len && !(p->data = malloc(len)))
		return -ENOMEM;
	if (len)
		memcpy(p->data, d, len);
	p->len = len, p->end = end;
	q->n_in++;
	q->in_bytes += len + (end == END_EOF);
	return 0;
}

/* The slave's input, read through s (non-blocking) with termios t in force */
static int take_input(int s, const struct termios *t, struct queues *q)
{
	uint8_t buf[NTTY_BUF + 1];
	uint8_t *rest = NULL;
	size_t rest_len = 0;
	ssize_t r;
	int ret = 0;

	if (t->c_lflag & ICANON) {
		/* one line a read: its end byte included, an end-of-file dropped (0: an empty
		 * one), EAGAIN when no whole line is left */
		for (;;) {
			while ((r = read(s, buf, sizeof(buf))) < 0 && errno == EINTR)
				;
			if (r < 0) {
				if (errno != EAGAIN)
					return -errno;
				break;
			}
			bool ends = r > 0 && is_line_end(t, buf[r - 1]);
			if ((ret = add_piece(q, buf, (size_t)r, ends ? END_CHAR : END_EOF)))
				return ret;
		}
		/* the partial line: readable as it is once ICANON is off */
		struct termios raw = *t;
		raw.c_lflag &= ~ICANON;
		raw.c_cc[VMIN] = 1, raw.c_cc[VTIME] = 0;
		if (tcsetattr(s, TCSANOW, &raw) < 0)
			return -errno;
	}
	ret = drain(s, &rest, &rest_len, READ_CAP);
	if (!ret && rest_len)
		ret = add_piece(q, rest, rest_len, END_NONE);
	free(rest);
	if (!ret && q->in_bytes > NTTY_BUF - 1)
		ret = -E2BIG;
	return ret;
}

static int sti(int fd, uint8_t c)
{
	return ioctl(fd, TIOCSTI, &c) < 0 ? -errno : 0;
}

/* one byte written into the master (for the slave's flip buffer) */
static int type(int m, uint8_t c)
{
	for (int tries = 0; tries < 50; tries++) {
		ssize_t w = write(m, &c, 1);
		if (w == 1)
			return 0;
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		struct pollfd p = {.fd = m, .events = POLLOUT};
		poll(&p, 1, 10);
	}
	return -ENOSPC;
}

/* a control char that is none of t's line ends, flow chars, nor avoid */
static cc_t free_char(const struct termios *t, cc_t avoid)
{
	for (unsigned c = 1; c < 32; c++)
		if (c != '\n' && c != avoid && c != t->c_cc[VEOL] && c != t->c_cc[VEOL2] &&
		    c != t->c_cc[VSTART] && c != t->c_cc[VSTOP])
			return (cc_t)c;
	return 0;
}

/* Input back into the slave's line discipline (s: a slave description), t left in force */
static int put_input(int m, int s, const struct termios *t, const struct piece *in, size_t n)
{
	struct termios j = *t;
	cc_t lnext = free_char(t, 0), eof = free_char(t, lnext);
	size_t slots = 0, i = 0, k = 0;
	int ret = 0;

	if (!n)
		return 0;
	j.c_lflag = (t->c_lflag | ICANON | IEXTEN) &
		    ~(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE | ISIG | EXTPROC);
	/* IXON kept: turning it off would restart a stopped terminal */
	j.c_iflag &= ~(ISTRIP | INLCR | IGNCR | ICRNL | IUCLC | IXANY | PARMRK | IMAXBEL);
	j.c_cc[VERASE] = j.c_cc[VKILL] = j.c_cc[VWERASE] = j.c_cc[VREPRINT] = 0;
	j.c_cc[VLNEXT] = lnext, j.c_cc[VEOF] = eof;
	if (tcsetattr(s, TCSANOW, &j) < 0)
		return -errno;
	/* into the line discipline while it has room (a full one drops what TIOCSTI gives) */
	for (; i < n && !ret; i++, k = 0) {
		size_t body = in[i].len - (in[i].end == END_CHAR);
		for (; k < body && !ret && slots < NTTY_BUF - 1; k++, slots++)
			if (!(ret = sti(s, lnext)))
				ret = sti(s, in[i].data[k]);
		if (ret || slots == NTTY_BUF - 1)
			break;
		if (in[i].end == END_CHAR)
			ret = sti(s, in[i].data[body]), slots++, k++;
		if (!ret && in[i].end == END_EOF)
			ret = sti(s, eof), slots++;
		if (!ret && slots == NTTY_BUF - 1) {
			i++, k = 0;
			break;
		}
	}
	if (tcsetattr(s, TCSANOW, t) < 0 && !ret)
		ret = -errno;
	/* The rest (only a refused dump has more than the buffer holds: input typed behind a
	 * full buffer, which reading made the kernel process) is typed again through the
	 * master: it waits in the flip buffer, as it did, and the kernel processes it again
	 * when there is room, with its echo then. */
	for (; i < n && !ret; i++, k = 0) {
		for (; k < in[i].len && !ret; k++)
			ret = type(m, in[i].data[k]);
		if (!ret && in[i].end == END_EOF && t->c_cc[VEOF])
			ret = type(m, t->c_cc[VEOF]);
	}
	return ret;
}

static bool writable(int s)
{
	struct pollfd p = {.fd = s, .events = POLLOUT};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

/* A slave whose output is stopped (tcflow TCOOFF, or the VSTOP char with IXON) takes no
 * write: started for the moment, stopped again the same way after. */
static int unstop(int s, const struct termios *t, int *how)
{
	*how = 0;
	if (writable(s))
		return 0;
	if (ioctl(s, TCXONC, TCOON) < 0)
		return -errno;
	*how = 1;
	if (writable(s) || !(t->c_iflag & IXON))
		return 0;
	*how = 2;
	return sti(s, t->c_cc[VSTART]);
}

static int restop(int s, const struct termios *t, int how)
{
	if (how == 1 && ioctl(s, TCXONC, TCOOFF) < 0)
		return -errno;
	return how == 2 ? sti(s, t->c_cc[VSTOP]) : 0;
}

/* Output back for the master to read: its line discipline first, then its flip buffers */
static int put_output(int m, int s, const struct termios *t, const uint8_t *out, size_t len)
{
	size_t k = len < NTTY_BUF - 1 ? len : NTTY_BUF - 1;
	int ret = 0, stuck = 0, how = 0, r;

	for (size_t i = 0; i < k && !ret; i++)
		ret = sti(m, out[i]);
	if (ret || k == len)
		return ret;
	struct termios o = *t;
	o.c_oflag &= ~OPOST;
	if (tcsetattr(s, TCSANOW, &o) < 0)
		return -errno;
	ret = unstop(s, t, &how);
	while (k < len && !ret) {
		ssize_t w = write(s, out + k, 1);
		if (w == 1) {
			k++, stuck = 0;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && errno == EAGAIN && ++stuck < 20) {
			struct pollfd p = {.fd = s, .events = POLLOUT};
			poll(&p, 1, 10);
		} else {
			ret = w < 0 && errno != EAGAIN ? -errno : -ENOSPC;
		}
	}
	if ((r = restop(s, t, how)) && !ret)
		ret = r;
	if (tcsetattr(s, TCSANOW, t) < 0 && !ret)
		ret = -errno;
	return ret;
}

static int put_queues(int m, int s, const struct termios *t, const struct piece *in, size_t n,
		      const uint8_t *out, size_t out_len)
{
	int ret = put_input(m, s, t, in, n);
	if (!ret && out_len)
		ret = put_output(m, s, t, out, out_len);
	return ret;
}

static int to_image(struct dump_ctx *ctx, const struct queues *q, FdEntry *e)
{
	if (q->out_len) {
		e->has_pty_out = true;
		e->pty_out.len = q->out_len;
		if (!(e->pty_out.data = arena_memdup(&ctx->arena, q->out, q->out_len)))
			return -ENOMEM;
	}
	if (!q->n_in)
		return 0;
	if (!(e->pty_in = arena_alloc(&ctx->arena, q->n_in * sizeof(*e->pty_in))))
		return -ENOMEM;
	e->n_pty_in = q->n_in;
	for (size_t i = 0; i < q->n_in; i++) {
		PtyLine *l = arena_alloc(&ctx->arena, sizeof(*l));
		if (!l)
			return -ENOMEM;
		pty_line__init(l);
		l->has_data = l->has_end = true;
		l->data.len = q->in[i].len;
		l->end = (uint32_t)q->in[i].end;
		if (l->data.len &&
		    !(l->data.data = arena_memdup(&ctx->arena, q->in[i].data, l->data.len)))
			return -ENOMEM;
		e->pty_in[i] = l;
	}
	return 0;
}

int pty_queues_dump(struct dump_ctx *ctx, pid_t pid, int fd, unsigned index, int m, int pkt,
		    FdEntry *e)
{
	struct queues *q = calloc(1, sizeof(*q));
	struct termios t, after;
	int s = -1, fl = -1, off = 0, on = 1, inq0 = 0, inq1 = 0, ret = 0, refused = 0;
	int take = 0, tin = 0, put = 0;
	bool taken = false, stopped = false;

	if (!q)
		return -ENOMEM;
	if ((s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    tcgetattr(s, &t) < 0 || (fl = fcntl(m, F_GETFL)) < 0 || ioctl(s, FIONREAD, &inq0) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot open the slave of /dev/pts/%u to read its queues",
			 pid, index);
		goto out;
	}
	/* Putting bytes back takes TIOCSTI, which needs CAP_SYS_ADMIN: asked with no byte (a
	 * NULL one: EFAULT once allowed), before anything is read */
	if (ioctl(s, TIOCSTI, NULL) == 0 || errno != EFAULT) {
		int outq = 0;
		struct pollfd p = {.fd = m, .events = POLLIN};
		if (poll(&p, 1, 0) == 1 || (ioctl(m, FIONREAD, &outq) == 0 && outq) || inq0) {
			pr_err(
			    "task %d: fd %d is the master of the pseudo-terminal /dev/pts/%u, with "
			    "bytes queued, and cryo cannot put them back after reading them "
			    "(TIOCSTI needs CAP_SYS_ADMIN): not supported",
			    pid, fd, index);
			ret = -ENOTSUP;
		} else {
			pr_warn("task %d: /dev/pts/%u: without CAP_SYS_ADMIN cryo does not read a "
				"partial line typed in canonical mode, if there is one",
				pid, index);
		}
		goto out;
	}
	if ((t.c_lflag & EXTPROC) && inq0) {
		pr_err("task %d: fd %d is the master of the pseudo-terminal /dev/pts/%u, with %d "
		       "bytes of input queued in EXTPROC mode (the line editing is the master's "
		       "program's): not supported",
		       pid, fd, index, inq0);
		ret = -ENOTSUP;
		goto out;
	}
	if ((pkt && ioctl(m, TIOCPKT, &off) < 0) || fcntl(m, F_SETFL, fl | O_NONBLOCK) < 0) {
		ret = -errno;
		pr_errno(-ret, "task %d: cannot prepare /dev/pts/%u's master for reading", pid,
			 index);
		goto back;
	}
	taken = true;
	/* output; then the echoes the kernel held back while it was full; then input (reading
	 * it may let held-back input through, with its echo: read the output once more) */
	take = drain(m, &q->out, &q->out_len, READ_CAP);
	if (!take && q->out_len && write(s, "", 0) < 0 && errno != EAGAIN)
		take = -errno;
	if (!take)
		take = drain(m, &q->out, &q->out_len, READ_CAP);
	/* the flip buffers are empty now: no room means the slave's output is stopped */
	if (!take && (stopped = !writable(s)))
		pr_err(
		    "task %d: fd %d is the master of the pseudo-terminal /dev/pts/%u, whose "
		    "slave's output is stopped (VSTOP typed with IXON, or tcflow): cryo does not "
		    "stop it again at restore: not supported",
		    pid, fd, index);
	if (!take && !(t.c_lflag & EXTPROC))
		tin = take_input(s, &t, q);
	size_t out_before = q->out_len;
	if (!take)
		take = drain(m, &q->out, &q->out_len, READ_CAP);
	/* that is the echo of input that waited behind a full buffer: it comes again when the
	 * kernel processes that input again (put_input types it again) */
	if (q->in_bytes > NTTY_BUF - 1)
		q->out_len = out_before;
	if (!take)
		take = tin;
	/* back, whatever happened, before anything else: the live tree needs its bytes */
	if (tcsetattr(s, TCSANOW, &t) < 0)
		put = -errno;
	if (!put)
		put = put_queues(m, s, &t, q->in, q->n_in, q->out, q->out_len);
back:
	if (taken && fcntl(m, F_SETFL, fl) < 0 && !put)
		put = -errno;
	if (pkt && ioctl(m, TIOCPKT, &on) < 0 && !put)
		put = -errno;
	if (!put && (tcgetattr(s, &after) < 0 || ioctl(s, FIONREAD, &inq1) < 0))
		put = -errno;
	if (put) {
		pr_errno(-put,
			 "task %d: cannot put back the bytes queued in the pseudo-terminal "
			 "/dev/pts/%u (%zu of output, %zu of input): they may be lost for "
			 "the running tree",
			 pid, index, q->out_len, q->in_bytes);
		ret = put;
	} else if (taken && (!same_termios(&t, &after) || inq0 != inq1)) {
		pr_err("task %d: the pseudo-terminal /dev/pts/%u does not read the same after its "
		       "queues were put back (settings %s, %d bytes for its reader, %d before)",
		       pid, index, same_termios(&t, &after) ? "same" : "changed", inq1, inq0);
		ret = -EIO;
	}
	if (!take && q->out_len > PTY_OUT_MAX)
		take = -E2BIG;
	if (!ret && take == -E2BIG) {
		pr_err("task %d: fd %d is the master of the pseudo-terminal /dev/pts/%u, with more "
		       "bytes queued than its buffers hold (%zu of output, at most %d; %zu of "
		       "input, at most %d: typed input was waiting behind a full buffer): not "
		       "supported",
		       pid, fd, index, q->out_len, PTY_OUT_MAX, q->in_bytes, NTTY_BUF - 1);
		refused = 1;
	} else if (!ret && take) {
		pr_errno(-take,
			 "task %d: cannot read the queues of the pseudo-terminal /dev/pts/%u", pid,
			 index);
		ret = take;
	}
	if (!ret && stopped)
		refused = 1;
	if (!ret && !refused)
		ret = to_image(ctx, q, e);
	if (!ret && refused)
		ret = -ENOTSUP;
	if (!ret && (q->out_len || q->n_in))
		pr_info("task %d: /dev/pts/%u: %zu bytes of output, %zu of input in %zu pieces "
			"queued",
			pid, index, q->out_len, q->in_bytes, q->n_in);
out:
	if (s >= 0)
		close(s);
	queues_free(q);
	free(q);
	return ret;
}

int pty_queues_restore(int m, const FdEntry *e, const char **what)
{
	struct termios t, after;
	int s, ret = 0;

	if (!e->n_pty_in && !e->has_pty_out)
		return 0;
	*what = "put the queued bytes back into";
	if ((s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return -errno;
	struct piece *in = calloc(e->n_pty_in + 1, sizeof(*in));
	if (!in || tcgetattr(s, &t) < 0)
		ret = in ? -errno : -ENOMEM;
	for (size_t i = 0; !ret && i < e->n_pty_in; i++)
		in[i] = (struct piece){e->pty_in[i]->data.data, e->pty_in[i]->data.len,
				       (int)e->pty_in[i]->end};
	if (!ret)
		ret = put_queues(m, s, &t, in, e->n_pty_in, e->pty_out.data,
				 e->has_pty_out ? e->pty_out.len : 0);
	free(in);
	if (!ret && (tcgetattr(s, &after) < 0 || !same_termios(&t, &after)))
		ret = -EIO;
	close(s);
	return ret;
}

int pty_queues_validate(const char *img, const FdEntry *e)
{
	size_t bytes = 0;
	uint8_t cc[NCCS] = {0};
	struct termios t = {.c_lflag = e->tty_lflag};

	if (e->has_tty_cc)
		memcpy(cc, e->tty_cc.data, e->tty_cc.len < NCCS ? e->tty_cc.len : NCCS);
	memcpy(t.c_cc, cc, sizeof(t.c_cc) < NCCS ? sizeof(t.c_cc) : NCCS);
	if (e->has_pty_out && e->pty_out.len > PTY_OUT_MAX)
		return files_refuse(img, "fd %d: %zu bytes of pseudo-terminal output, more than %d",
				    e->fd, e->pty_out.len, PTY_OUT_MAX);
	if (e->n_pty_in > NTTY_BUF)
		return files_refuse(img, "fd %d: %zu pieces of pseudo-terminal input", e->fd,
				    e->n_pty_in);
	if (e->n_pty_in && (e->tty_lflag & EXTPROC))
		return files_refuse(img, "fd %d: pseudo-terminal input in EXTPROC mode", e->fd);
	for (size_t i = 0; i < e->n_pty_in; i++) {
		const PtyLine *l = e->pty_in[i];
		size_t len = l->has_data ? l->data.len : 0;
		bool last = i + 1 == e->n_pty_in;
		if (!l->has_end || l->end > END_EOF || (l->end == END_NONE && (!last || !len)) ||
		    (len && !l->data.data) ||
		    (l->end == END_CHAR && (!len || !is_line_end(&t, l->data.data[len - 1]))) ||
		    (!(e->tty_lflag & ICANON) && (e->n_pty_in > 1 || l->end != END_NONE)))
			return files_refuse(
			    img,
			    "fd %d: pseudo-terminal input piece %zu is invalid (end "
			    "%u, %zu bytes, %s mode)",
			    e->fd, i, l->has_end ? l->end : 99, len,
			    e->tty_lflag & ICANON ? "canonical" : "non-canonical");
		bytes += len + (l->end == END_EOF);
	}
	if (bytes > NTTY_BUF - 1)
		return files_refuse(img, "fd %d: %zu bytes of pseudo-terminal input, more than %d",
				    e->fd, bytes, NTTY_BUF - 1);
	return 0;
}
