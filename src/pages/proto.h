/* The page server protocol (docs/images.md, "The page server protocol"). Every message is a
 * 16-byte header {type, id, len} (little-endian) and len bytes of payload. The dump sends:
 *   HELLO          payload: a page_server_hello message (version, parent link, pre-dump)
 *   OPEN    pid    payload: u32 codec (0 plain pages, 1 LZ4 frames): pages-PID.img begins
 *   DATA    pid    payload: the next bytes of that image's data (at most PS_DATA_MAX)
 *   CLOSE   pid    payload: u64 the image's data bytes in all: it is complete
 *   PAGEMAP pid    payload: the task's pagemap message, once its pages are closed
 *   INVENTORY      payload: the dump's inventory message
 *   DONE           the dump is complete
 * and the server answers HELLO and DONE (or, at its first error, says why and drops the
 * connection) with
 *   ACK     status payload none: 0, or the errno of what failed
 * A files session of `cryo migrate` (hello.files; only migrate-target takes one) sends instead
 *   FILE           payload: u16 name length, u16 flags (PS_FILE_MORE: the next bytes of the
 *                  file named before), the name, bytes of the file
 *   DONE           every image is there: restore them (the ACK carries the restore's status)
 * Each id, length and count is checked by the server; names are made from numbers only. */
#ifndef CRYO_PAGES_PROTO_H
#define CRYO_PAGES_PROTO_H

#include <stdint.h>

#define PS_VERSION 1
#define PS_DATA_MAX (8u << 20)	  /* one DATA message */
#define PS_HELLO_MAX 8192	  /* the hello message */
#define PS_PID_MAX 4194304	  /* PID_MAX_LIMIT */
#define PS_IMAGE_MAX (1ull << 47) /* the data of one page image */
#define PS_TASKS_MAX 65536	  /* images of one dump */

enum ps_type {
	PS_HELLO = 1,
	PS_OPEN,
	PS_DATA,
	PS_CLOSE,
	PS_PAGEMAP,
	PS_INVENTORY,
	PS_DONE,
	PS_ACK,
	PS_FILE,
	PS_GET,	  /* lazy-pages --page-server to dump --lazy-pages (pages/lazy_remote.h) */
	PS_PAGES, /* ... and the answer */
};

#define PS_FILE_MORE 1u
#define PS_NAME_MAX 64

struct ps_hdr {
	uint32_t type;
	uint32_t id;
	uint64_t len;
};

#endif
