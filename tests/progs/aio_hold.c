/* A process with an AIO context (io_setup) and a request in flight: a poll (IOCB_CMD_POLL) of
 * an empty pipe, submitted and not completed, as an event loop built on AIO keeps one. cryo
 * cannot save a request the kernel is still doing: the refusals case dumps it, the dump must
 * be refused naming the context and its request in flight, and afterwards the request is
 * still there: a byte written to the pipe completes it with POLLIN, and a read through the
 * context works. */
// zt-run: no-cryo
#include "zt.h"

#include <fcntl.h>
#include <linux/aio_abi.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static aio_context_t ctx;
static int fd, pfd[2];
static char buf[64];

static long reap_one(struct io_event *ev)
{
	struct timespec ts = {5, 0};
	return syscall(SYS_io_getevents, ctx, 1, 1, ev, &ts);
}

int main(int argc, char **argv)
{
	struct iocb poll_cb = {.aio_data = 77, .aio_lio_opcode = IOCB_CMD_POLL};
	struct iocb *list[1] = {&poll_cb};
	struct io_event ev;
	zt_init(argc, argv);
	fd = open("data", O_RDWR | O_CREAT | O_TRUNC, 0600);
	zt_check_sys(fd >= 0 && write(fd, "hello world", 11) == 11, "data");
	zt_check_sys(pipe(pfd) == 0, "pipe");
	zt_check_sys(syscall(SYS_io_setup, 32, &ctx) == 0, "io_setup");
	poll_cb.aio_fildes = (uint32_t)pfd[0];
	poll_cb.aio_buf = POLLIN;
	zt_check_sys(syscall(SYS_io_submit, ctx, 1, list) == 1, "the poll");
	zt_ready();
	zt_wait_for_check();
	zt_expect(write(pfd[1], "x", 1) == 1, "write to the pipe: %m");
	zt_expect(reap_one(&ev) == 1 && ev.data == 77 && (ev.res & POLLIN),
		  "the poll did not complete: data %llu res %lld", (unsigned long long)ev.data,
		  (long long)ev.res);
	struct iocb cb = {.aio_data = 5,
			  .aio_lio_opcode = IOCB_CMD_PREAD,
			  .aio_fildes = (uint32_t)fd,
			  .aio_buf = (uint64_t)(uintptr_t)buf,
			  .aio_nbytes = 5,
			  .aio_offset = 6};
	list[0] = &cb;
	zt_expect(syscall(SYS_io_submit, ctx, 1, list) == 1 && reap_one(&ev) == 1 &&
		      ev.res == 5 && !memcmp(buf, "world", 5),
		  "the read after the dump: '%s'", buf);
	zt_expect(syscall(SYS_io_destroy, ctx) == 0, "io_destroy: %m");
	zt_pass();
}
