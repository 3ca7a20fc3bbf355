/* AIO contexts (io_setup) as a storage engine keeps them for its whole life:
 *
 *   A  io_setup(32): 300 reads of a data file submitted and reaped, so that the ring has
 *      gone round twice (its head and tail are not 0), then 5 reads submitted and left
 *      unreaped, each with its own aio_data, offset and length.
 *   B  io_setup(1), never used, made after a context that was destroyed since: B's index in
 *      the kernel's table (the id in its ring) is 2, with a hole at 1.
 *
 * Checked after the dump: both contexts are still at their ids (the addresses io_setup gave);
 * the rings' headers (nr, head, tail, magic) and their whole event areas are byte for byte as
 * they were; the 5 completed events are reaped in order with their data, object and result,
 * and their buffers hold what was read; then the kernel's count of free slots is as it was:
 * requests go in up to the ring's size less the 5 and no further (EAGAIN, none overwrites an
 * event), and all of them complete with the right bytes; B takes a read too; io_destroy of
 * each works. Also run through a pre-dump, a page server and a lazy restore. */
// zt-run: gen2 lazy predump page-server
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PENDING 5
#define MANY 600 /* more than any ring here holds */

struct ring {
	uint32_t id, nr, head, tail, magic, compat, incompat, header_length;
	struct io_event ev[];
};

static aio_context_t a, b;
static int fd;
static char bufs[MANY][16];
static struct iocb cbs[MANY];
static struct iocb *list[MANY];

static long submit(aio_context_t c, long n, struct iocb **l)
{
	return syscall(SYS_io_submit, c, n, l);
}

static long reap(aio_context_t c, long min, long max, struct io_event *ev)
{
	struct timespec ts = {5, 0};
	return syscall(SYS_io_getevents, c, min, max, ev, &ts);
}

/* read i: 1 + i % 13 bytes at offset i % 200, with data 1000 + i */
static struct iocb *prep(int i)
{
	cbs[i] = (struct iocb){.aio_data = 1000 + (uint64_t)i,
			       .aio_lio_opcode = IOCB_CMD_PREAD,
			       .aio_fildes = (uint32_t)fd,
			       .aio_buf = (uint64_t)(uintptr_t)bufs[i],
			       .aio_nbytes = 1 + (uint64_t)(i % 13),
			       .aio_offset = i % 200};
	memset(bufs[i], 0, sizeof(bufs[i]));
	return list[i] = &cbs[i];
}

static char expect_byte(long off)
{
	return (char)('a' + off % 26);
}

static bool event_ok(const struct io_event *e, int i)
{
	if (e->data != 1000 + (uint64_t)i || e->obj != (uint64_t)(uintptr_t)&cbs[i] ||
	    e->res != (int64_t)(1 + i % 13))
		return false;
	for (int k = 0; k < 1 + i % 13; k++)
		if (bufs[i][k] != expect_byte(i % 200 + k))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	char data[256];
	struct io_event ev[MANY];
	zt_init(argc, argv);
	for (int i = 0; i < (int)sizeof(data); i++)
		data[i] = expect_byte(i);
	fd = open("aio-data", O_RDWR | O_CREAT | O_TRUNC, 0600);
	zt_check_sys(fd >= 0 && write(fd, data, sizeof(data)) == sizeof(data), "aio-data");
	zt_check_sys(syscall(SYS_io_setup, 32, &a) == 0, "io_setup(32)");
	aio_context_t gone = 0;
	zt_check_sys(syscall(SYS_io_setup, 4, &gone) == 0, "io_setup(4)");
	zt_check_sys(syscall(SYS_io_setup, 1, &b) == 0, "io_setup(1)");
	zt_check_sys(syscall(SYS_io_destroy, gone) == 0, "io_destroy");
	for (int i = 0; i < 300; i++) {
		prep(i);
		if (submit(a, 1, &list[i]) != 1 || reap(a, 1, 1, ev) != 1 || !event_ok(ev, i))
			zt_fail("read %d before the dump", i);
	}
	for (int i = 0; i < PENDING; i++)
		prep(i);
	zt_check_sys(submit(a, PENDING, list) == PENDING, "the reads left unreaped");
	struct ring *ra = (struct ring *)a, *rb = (struct ring *)b;
	size_t la = sizeof(*ra) + ra->nr * sizeof(struct io_event);
	size_t lb = sizeof(*rb) + rb->nr * sizeof(struct io_event);
	static char saved_a[1 << 16], saved_b[1 << 16];
	if (la > sizeof(saved_a) || lb > sizeof(saved_b))
		zt_fail("ring sizes %zu, %zu", la, lb);
	if (ra->head == 0 || ra->tail == 0 || ra->head == ra->tail || ra->id != 0 || rb->id != 2)
		zt_fail("ring A at head %u tail %u (nr %u, id %u), B id %u", ra->head, ra->tail,
			ra->nr, ra->id, rb->id);
	memcpy(saved_a, ra, la);
	memcpy(saved_b, rb, lb);
	aio_context_t a0 = a, b0 = b;

	zt_ready();
	zt_wait_for_check();

	zt_expect(a == a0 && b == b0, "the contexts moved");
	zt_expect(!memcmp(saved_a, ra, la), "ring A differs: head %u tail %u nr %u magic %#x",
		  ra->head, ra->tail, ra->nr, ra->magic);
	zt_expect(!memcmp(saved_b, rb, lb), "ring B differs: head %u tail %u nr %u id %u",
		  rb->head, rb->tail, rb->nr, rb->id);
	/* a new context takes the hole, as it would have */
	aio_context_t c = 0;
	zt_expect(syscall(SYS_io_setup, 1, &c) == 0 && ((struct ring *)c)->id == 1,
		  "a new context after the dump: %m, index %u", c ? ((struct ring *)c)->id : 0);
	zt_expect(c && syscall(SYS_io_destroy, c) == 0, "io_destroy of it: %m");
	long n = reap(a, PENDING, PENDING, ev);
	zt_expect(n == PENDING, "%ld events reaped of the %d left: %s", n, PENDING,
		  n < 0 ? strerror(errno) : "");
	for (int i = 0; i < n && i < PENDING; i++)
		zt_expect(event_ok(&ev[i], i), "event %d: data %llu res %lld", i,
			  (unsigned long long)ev[i].data, (long long)ev[i].res);
	/* the slots: up to what the kernel allows, and never beyond the ring */
	uint32_t nr = ra->nr;
	for (int i = 0; i < MANY; i++)
		prep(i);
	long in = 0;
	while (in < MANY) {
		long r = submit(a, 1, &list[in]);
		if (r != 1)
			break;
		in++;
	}
	zt_expect(in >= 32 && in <= (long)nr - 1, "%ld requests went in (ring of %u)", in, nr);
	long got = 0;
	while (got < in) {
		long r = reap(a, 1, in - got, ev + got);
		if (r <= 0)
			break;
		got += r;
	}
	zt_expect(got == in, "%ld of %ld requests completed", got, in);
	for (long i = 0; i < got; i++)
		zt_expect(event_ok(&ev[i], (int)i), "request %ld after the dump", i);
	prep(0);
	zt_expect(submit(b, 1, list) == 1 && reap(b, 1, 1, ev) == 1 && event_ok(ev, 0),
		  "a read through context B");
	zt_expect(syscall(SYS_io_destroy, a) == 0 && syscall(SYS_io_destroy, b) == 0,
		  "io_destroy: %m");
	zt_pass();
}
