/* Image files: one protobuf message per metadata file behind a small header, raw page data
 * behind a one-page header. Every reader checks magic, version and every length. */
#ifndef CRYO_IMAGE_H
#define CRYO_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "images/cryo.pb-c.h"

#define CRYO_FORMAT_VERSION 1
#define IMG_META_MAX (64u << 20) /* no metadata image is anywhere near this */
#define IMG_RAW_HDR 4096	 /* raw images: data starts at this offset, page aligned */

enum img_type {
	IMG_INVENTORY,
	IMG_PSTREE,
	IMG_CORE,
	IMG_MM,
	IMG_PAGEMAP,
	IMG_FILES,
	IMG_STATS,
	IMG_PAGES, /* raw */
	IMG_GHOST, /* raw */
	IMG_CPUINFO,
	IMG_MEMFD,     /* raw */
	IMG_IPC,       /* System V IPC objects of the tree (res/sysvipc.c) */
	IMG_SYSVSHM,   /* raw: the pages of System V shared memory segment N (its id) */
	IMG_PAGES_LZ4, /* raw: pages-PID.img of --compress, LZ4 frames (src/pages/lz4.c) */
	IMG_NR_TYPES
};

struct img_kind {
	enum img_type type;
	uint32_t magic;
	const char *name_fmt; /* file name; %d is the task's pid, the ghost's or memfd's id */
	const ProtobufCMessageDescriptor *desc; /* NULL for raw images */
};

const struct img_kind *img_kind(enum img_type type);
const struct img_kind *img_kind_by_magic(uint32_t magic);
void img_name(enum img_type type, int id, char *buf, size_t len);

/* Metadata images. Errors are logged here, naming the file; the return is 0 or -errno. Every
 * name is opened beneath dirfd without following any symbolic link (core/safeopen.h); a
 * written image is synced before img_write returns. */
int img_write(int dirfd, enum img_type type, int id, const ProtobufCMessage *msg);
int img_read(int dirfd, enum img_type type, int id, ProtobufCMessage **msg);
/* Read a metadata image from an open fd whose name is only used in messages. */
int img_read_fd(int fd, const char *name, const struct img_kind **kind, ProtobufCMessage **msg);
void img_free(ProtobufCMessage *msg);

/* Raw images: create writes the header and leaves the offset at IMG_RAW_HDR; open checks the
 * header and returns the size of the data in *data_size. */
int img_raw_create(int dirfd, enum img_type type, int id);
/* A written image is complete only once it is on disk: fsync, then close. The fd is closed
 * either way; a failure is logged, naming the file. */
int img_close_synced(int fd, const char *name);
int img_raw_open(int dirfd, enum img_type type, int id, uint64_t *data_size);
int img_raw_check_fd(int fd, const char *name, const struct img_kind **kind, uint64_t *data_size);

#endif
