/* A process with an AIO context (io_setup), as a database engine or a storage service keeps
 * one for its whole life, with one read completed and reaped. cryo cannot restore an AIO
 * context yet: the refusals case dumps it, the dump must be refused naming the context's
 * ring, and the process goes on using the context afterwards (another read through it). */
// zt-run: no-cryo
#include "zt.h"

#include <fcntl.h>
#include <stdint.h>
#include <linux/aio_abi.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static aio_context_t ctx;
static int fd;
static char buf[64];

static bool one_read(long off)
{
	struct iocb cb = {.aio_lio_opcode = IOCB_CMD_PREAD,
			  .aio_fildes = (uint32_t)fd,
			  .aio_buf = (uint64_t)(uintptr_t)buf,
			  .aio_nbytes = 5,
			  .aio_offset = off};
	struct iocb *list[1] = {&cb};
	struct io_event ev;
	memset(buf, 0, sizeof(buf));
	return syscall(SYS_io_submit, ctx, 1, list) == 1 &&
	       syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) == 1 && ev.res == 5;
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	fd = open("data", O_RDWR | O_CREAT | O_TRUNC, 0600);
	zt_check_sys(fd >= 0 && write(fd, "hello world", 11) == 11, "data");
	zt_check_sys(syscall(SYS_io_setup, 32, &ctx) == 0, "io_setup");
	zt_check_sys(one_read(0) && !memcmp(buf, "hello", 5), "the first read");
	zt_ready();
	zt_wait_for_check();
	zt_expect(one_read(6) && !memcmp(buf, "world", 5), "the read after the dump: '%s'", buf);
	zt_expect(syscall(SYS_io_destroy, ctx) == 0, "io_destroy: %m");
	zt_pass();
}
