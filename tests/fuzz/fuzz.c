/* libFuzzer targets for cryo's image readers. One source, one binary per target, chosen at
 * build time with -DFUZZ_TARGET=NAME (see `make fuzz`):
 *
 *   inventory pstree core mm pagemap files stats   one metadata image, whole file (header
 *                                                  and payload), through img_read_fd
 *   raw        a raw image's header (pages, ghost), through img_raw_check_fd
 *   show       any image through `cryo show` (every decoder and the JSON printer)
 *   restore    a whole images directory through restore_read_images: everything cryo
 *              reads and checks before it creates a task
 *   lz4        the frames of a compressed page image (--compress, src/pages/lz4.c): input
 *              u32 pages (of the pagemap, mod 4096), u32 frame size (at most 64 KiB), then the
 *              image's data; indexed, every frame decoded, as restore reads it
 *
 * The restore target's input is a set of files, each a record:
 *   u8 type (enum img_type), u32 id, u32 len, len bytes
 * For a raw type the bytes are (u32 magic, u32 version, u32 data size): the file is written as
 * that header page followed by data size zero bytes (a sparse file), so that inputs stay small.
 * The files go into a directory of their own on tmpfs, emptied before every input. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/restore_ctx.h"
#include "cryo/cryo.h"
#include "img/image.h"
#include "img/validate.h"
#include "pages/lz4.h"

#define T_inventory 1
#define T_pstree 2
#define T_core 3
#define T_mm 4
#define T_pagemap 5
#define T_files 6
#define T_stats 7
#define T_raw 8
#define T_show 9
#define T_restore 10
#define T_lz4 11
#define CAT(a, b) a##b
#define TARGET_ID(n) CAT(T_, n)
#define TARGET TARGET_ID(FUZZ_TARGET)

#define RAW_MAX_DATA (64u << 20)

static int memfd = -1;
static char dir[64] __attribute__((unused)); /* the restore target's images directory */

#if TARGET == T_restore
static void empty_dir(int dfd);

/* the images directory goes when the fuzzer ends (libFuzzer exits with exit()) */
static void remove_dir(void)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		empty_dir(dfd);
		close(dfd);
	}
	rmdir(dir);
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* messages are expected by the thousand: only FUZZ_VERBOSE=1 shows them */
	if (!getenv("FUZZ_VERBOSE"))
		log_init(NULL, "/dev/null", LOG_ERROR);
	memfd = memfd_create("cryo-fuzz", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("memfd_create");
		exit(1);
	}
#if TARGET == T_show
	if (!freopen("/dev/null", "w", stdout))
		exit(1);
#endif
#if TARGET == T_restore
	atexit(remove_dir);
	snprintf(dir, sizeof(dir), "/dev/shm/cryo-fuzz-%d", getpid());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		perror(dir);
		exit(1);
	}
#endif
	return 0;
}

/* the input as the content of memfd, offset 0 */
__attribute__((unused)) static void to_memfd(const uint8_t *data, size_t size)
{
	if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size ||
	    lseek(memfd, 0, SEEK_SET) != 0)
		abort();
}

#if TARGET == T_restore
static void empty_dir(int dfd)
{
	DIR *d = fdopendir(dup(dfd));
	struct dirent *e;
	if (!d)
		abort();
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dfd, e->d_name, 0);
	closedir(d);
}

static void get(const uint8_t **p, size_t *left, void *out, size_t n)
{
	memset(out, 0, n);
	memcpy(out, *p, n < *left ? n : *left);
	*p += n < *left ? n : *left;
	*left -= n < *left ? n : *left;
}

static int write_files(int dfd, const uint8_t *p, size_t left)
{
	for (int files = 0; left && files < 64; files++) {
		uint8_t type;
		uint32_t id, len;
		char name[64];
		get(&p, &left, &type, 1);
		get(&p, &left, &id, 4);
		get(&p, &left, &len, 4);
		if (len > left)
			len = left;
		if (type >= IMG_NR_TYPES)
			type %= IMG_NR_TYPES;
		img_name(type, (int)(id & 0x7fffffff), name, sizeof(name));
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		if (!img_kind(type)->desc) {
			uint8_t page[IMG_RAW_HDR] = {0};
			uint32_t size = 0;
			memcpy(page, p, len < 8 ? len : 8);
			if (len >= 12)
				memcpy(&size, p + 8, 4);
			if (write(fd, page, len < 8 ? len : sizeof(page)) < 0 ||
			    (len >= 12 && ftruncate(fd, IMG_RAW_HDR + size % RAW_MAX_DATA) < 0)) {
				close(fd);
				return -1;
			}
		} else if (write(fd, p, len) != (ssize_t)len) {
			close(fd);
			return -1;
		}
		close(fd);
		p += len, left -= len;
	}
	return 0;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#if TARGET == T_raw
	const struct img_kind *kind;
	uint64_t data_size;
	to_memfd(data, size);
	img_raw_check_fd(memfd, "fuzz.img", &kind, &data_size);
#elif TARGET == T_show
	char path[64];
	to_memfd(data, size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	cryo_show(path);
	fflush(stdout);
#elif TARGET == T_lz4
	static int out = -1;
	uint32_t pages = 0, block = 0;
	struct lz4_frame *frames = NULL;
	size_t nr = 0;
	if (size < 8)
		return 0;
	memcpy(&pages, data, 4);
	memcpy(&block, data + 4, 4);
	pages %= 4096;
	block %= (64u << 10) + 1; /* up to a dump's frame size */
	if (out < 0 && (out = memfd_create("fuzz-out", MFD_CLOEXEC)) < 0)
		abort();
	/* the image: its header page, then the frames */
	uint8_t hdr[IMG_RAW_HDR] = {0};
	if (ftruncate(memfd, 0) || pwrite(memfd, hdr, sizeof(hdr), 0) != sizeof(hdr) ||
	    (size > 8 && pwrite(memfd, data + 8, size - 8, IMG_RAW_HDR) != (ssize_t)(size - 8)) ||
	    ftruncate(out, 0))
		abort();
	if (pages_lz4_index(memfd, size - 8, (uint64_t)pages * 4096, block, "fuzz.img", &frames,
			    &nr) == 0)
		pages_lz4_unpack(memfd, frames, nr, out, "fuzz.img");
	free(frames);
#elif TARGET == T_restore
	struct cryo_restore_opts opts = {.images_dir = dir};
	struct restore_ctx ctx = {.opts = &opts};
	ctx.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx.dirfd < 0)
		abort();
	empty_dir(ctx.dirfd);
	if (write_files(ctx.dirfd, data, size) == 0)
		restore_read_images(&ctx);
	restore_images_free(&ctx);
	close(ctx.dirfd);
#else
	static const enum img_type types[] = {
	    [T_inventory] = IMG_INVENTORY, [T_pstree] = IMG_PSTREE,
	    [T_core] = IMG_CORE,	   [T_mm] = IMG_MM,
	    [T_pagemap] = IMG_PAGEMAP,	   [T_files] = IMG_FILES,
	    [T_stats] = IMG_STATS,
	};
	const struct img_kind *kind = NULL;
	ProtobufCMessage *msg = NULL;
	uint32_t magic = img_kind(types[TARGET])->magic;
	/* each target decodes its own message type: the magic is always its own */
	to_memfd(data, size);
	if (size >= sizeof(magic) && pwrite(memfd, &magic, sizeof(magic), 0) != sizeof(magic))
		abort();
	if (img_read_fd(memfd, "fuzz.img", &kind, &msg) == 0)
		img_free(msg);
#endif
	return 0;
}
