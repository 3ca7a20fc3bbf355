/* The read side of page images, at restore, show, dedup and in the chain of parents: whatever
 * the dump stored (plain pages, LZ4 frames), a descriptor of the pages as a plain page image
 * has them, page i at IMG_RAW_HDR + i * 4096. */
#ifndef CRYO_PAGES_READ_H
#define CRYO_PAGES_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "img/image.h"

/* pages-PID.img of dirfd as pm describes it (its codec, its total_pages): the file itself
 * (*unpacked false), or a memfd holding its pages decompressed, every frame checked
 * (*unpacked true). *size: the bytes of pages. The fd or -errno, logged. */
int pages_open(int dirfd, pid_t pid, const Pagemap *pm, uint64_t *size, bool *unpacked);
/* Is pm's codec one this cryo reads (and its frame size valid)? 0 or -EINVAL, logged. */
int pages_check_codec(pid_t pid, const Pagemap *pm);

#endif
