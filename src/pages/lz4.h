/* --compress: page images as LZ4 frames (the format: docs/images.md, "Compressed pages").
 * The page data of a task, as a dump makes it, is cut into frames of at most PAGES_LZ4_BLOCK
 * bytes; each frame is an 8-byte header {raw_len, stored_len} (u32, little-endian) and its
 * stored bytes: LZ4 when stored_len < raw_len, the pages as they are when equal. */
#ifndef CRYO_PAGES_LZ4_H
#define CRYO_PAGES_LZ4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGES_LZ4_BLOCK (64u << 10)    /* what a dump writes: 16 pages a frame */
#define PAGES_LZ4_BLOCK_MAX (4u << 20) /* the largest a reader accepts */
#define PAGES_LZ4_HDR 8
/* in raw_len: the frame's data was punched out by dedup (no task needs its pages) */
#define PAGES_LZ4_PUNCHED 0x80000000u

struct lz4_frame {
	uint64_t off;	  /* of its header, in the image's data (after IMG_RAW_HDR) */
	uint64_t raw_off; /* of its first page in the task's page data */
	uint32_t raw_len, stored_len;
	bool punched;
};

/* The most pages_lz4_compress makes of len bytes. */
size_t pages_lz4_bound(size_t len);
/* len bytes of pages (a multiple of the page size) into frames in out; returns their size. */
size_t pages_lz4_compress(const uint8_t *in, size_t len, uint8_t *out);
/* The frames of a compressed image (fd, data_size bytes after its header), every header
 * checked: raw_len a multiple of the page size, at most block, stored_len at most raw_len,
 * the frames ending exactly at the end of the file and holding raw_size bytes in all (0:
 * unknown, cryo show).
 * *frames is malloc()ed. name and the messages: logged. 0 or -EINVAL... */
int pages_lz4_index(int fd, uint64_t data_size, uint64_t raw_size, uint32_t block, const char *name,
		    struct lz4_frame **frames, size_t *nr);
/* Decompressed into out_fd (raw layout: the data at IMG_RAW_HDR), every frame checked:
 * LZ4 must give exactly raw_len bytes. 0 or -errno, logged. */
int pages_lz4_unpack(int fd, const struct lz4_frame *frames, size_t nr, int out_fd,
		     const char *name);
/* One frame into out (raw_len bytes): 0 or -EINVAL, logged with name. */
int pages_lz4_frame(int fd, const struct lz4_frame *f, uint8_t *stored, uint8_t *out,
		    const char *name);

/* dedup: frame f is no longer needed: marked punched, its stored bytes a hole. 0 or -errno. */
int pages_lz4_punch(int fd, const struct lz4_frame *f);

#endif
