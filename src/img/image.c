#include "img/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/log.h"
#include "core/safeopen.h"
#include "core/util.h"

struct img_header {
	uint32_t magic;
	uint32_t version;
	uint32_t length; /* metadata payload bytes; for raw images 0 */
};

static const struct img_kind kinds[IMG_NR_TYPES] = {
    [IMG_INVENTORY] = {IMG_INVENTORY, 0x43524f01, "inventory.img", &inventory__descriptor},
    [IMG_PSTREE] = {IMG_PSTREE, 0x43524f02, "pstree.img", &pstree__descriptor},
    [IMG_CORE] = {IMG_CORE, 0x43524f03, "core-%d.img", &task_core__descriptor},
    [IMG_MM] = {IMG_MM, 0x43524f04, "mm-%d.img", &mm__descriptor},
    [IMG_PAGEMAP] = {IMG_PAGEMAP, 0x43524f05, "pagemap-%d.img", &pagemap__descriptor},
    [IMG_FILES] = {IMG_FILES, 0x43524f06, "files-%d.img", &files__descriptor},
    [IMG_STATS] = {IMG_STATS, 0x43524f07, "stats-dump.img", &dump_stats__descriptor},
    [IMG_PAGES] = {IMG_PAGES, 0x43524f50, "pages-%d.img", NULL},
    [IMG_GHOST] = {IMG_GHOST, 0x43524f47, "ghost-%d.img", NULL},
    [IMG_CPUINFO] = {IMG_CPUINFO, 0x43524f08, "cpuinfo.img", &cpuinfo__descriptor},
    [IMG_MEMFD] = {IMG_MEMFD, 0x43524f4d, "memfd-%d.img", NULL},
    [IMG_IPC] = {IMG_IPC, 0x43524f49, "ipc.img", &ipc__descriptor},
    [IMG_SYSVSHM] = {IMG_SYSVSHM, 0x43524f53, "sysvshm-%d.img", NULL},
    [IMG_PAGES_LZ4] = {IMG_PAGES_LZ4, 0x43524f5a, "pages-%d.img", NULL},
};

const struct img_kind *img_kind(enum img_type type)
{
	return &kinds[type];
}

const struct img_kind *img_kind_by_magic(uint32_t magic)
{
	for (int i = 0; i < IMG_NR_TYPES; i++)
		if (kinds[i].magic == magic)
			return &kinds[i];
	return NULL;
}

void img_name(enum img_type type, int id, char *buf, size_t len)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(buf, len, kinds[type].name_fmt, id);
#pragma GCC diagnostic pop
}

int img_close_synced(int fd, const char *name)
{
	int ret = sync_fd(fd);
	if (ret < 0) {
		pr_errno(-ret, "cannot write image %s (sync)", name);
		close(fd);
		return ret;
	}
	/* Linux closes the fd even when close() reports an error: never close it twice */
	if (close(fd) < 0 && errno != EINTR) {
		ret = -errno;
		pr_errno(-ret, "cannot write image %s (close)", name);
		return ret;
	}
	return 0;
}

int img_write(int dirfd, enum img_type type, int id, const ProtobufCMessage *msg)
{
	char name[64];
	size_t len = protobuf_c_message_get_packed_size(msg);
	struct img_header hdr = {kinds[type].magic, CRYO_FORMAT_VERSION, (uint32_t)len};
	uint8_t *buf;
	int fd, ret = 0;

	img_name(type, id, name, sizeof(name));
	buf = malloc(sizeof(hdr) + len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &hdr, sizeof(hdr));
	protobuf_c_message_pack(msg, buf + sizeof(hdr));
	fd = dir_create(dirfd, name, O_WRONLY, 0600);
	if (fd < 0) {
		ret = fd;
		pr_errno(-ret, "cannot create image %s", name);
	} else {
		ret = fault_point("image write", ENOSPC);
		if (!ret)
			ret = write_all(fd, buf, sizeof(hdr) + len);
		if (ret < 0) {
			pr_errno(-ret, "cannot write image %s", name);
			close(fd);
		} else {
			ret = img_close_synced(fd, name);
		}
	}
	free(buf);
	return ret;
}

/* An image is a regular file: a FIFO would block the reads, a directory or device is a
 * mistake (or an attack) in the images directory. */
static int check_regular(int fd, const char *name)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int ret = -errno;
		pr_errno(-ret, "cannot stat image %s", name);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("image %s is not a regular file (%s)", name,
		       S_ISDIR(st.st_mode)    ? "a directory"
		       : S_ISFIFO(st.st_mode) ? "a FIFO"
		       : S_ISSOCK(st.st_mode) ? "a socket"
					      : "a device");
		return -EINVAL;
	}
	return 0;
}

static int read_header(int fd, const char *name, struct img_header *hdr,
		       const struct img_kind **kind)
{
	int ret = check_regular(fd, name);
	if (ret)
		return ret;
	ssize_t n = read_all(fd, hdr, sizeof(*hdr));
	if (n < 0) {
		pr_errno((int)-n, "cannot read image %s", name);
		return (int)n;
	}
	if (n != sizeof(*hdr)) {
		pr_err("image %s is truncated: %zd bytes, shorter than its header", name, n);
		return -EINVAL;
	}
	*kind = img_kind_by_magic(hdr->magic);
	if (!*kind) {
		pr_err("image %s has an unknown magic 0x%08x: not a cryo image or corrupt", name,
		       hdr->magic);
		return -EINVAL;
	}
	if (hdr->version != CRYO_FORMAT_VERSION) {
		pr_err("image %s has format version %u, this cryo reads version %u", name,
		       hdr->version, CRYO_FORMAT_VERSION);
		return -EINVAL;
	}
	return 0;
}

int img_read_fd(int fd, const char *name, const struct img_kind **kindp, ProtobufCMessage **msg)
{
	struct img_header hdr;
	const struct img_kind *kind;
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int ret;

	ret = read_header(fd, name, &hdr, &kind);
	if (ret)
		return ret;
	if (!kind->desc) {
		pr_err("image %s holds raw data, not metadata", name);
		return -EINVAL;
	}
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size != sizeof(hdr) + (uint64_t)hdr.length) {
		pr_err("image %s: header says %u bytes of data, file has %lld", name, hdr.length,
		       (long long)st.st_size - (long long)sizeof(hdr));
		return -EINVAL;
	}
	if (hdr.length > IMG_META_MAX) {
		pr_err("image %s: implausible length %u", name, hdr.length);
		return -EINVAL;
	}
	buf = malloc(hdr.length + 1);
	if (!buf)
		return -ENOMEM;
	n = read_all(fd, buf, hdr.length);
	if (n != (ssize_t)hdr.length) {
		pr_err("image %s is truncated: %zd of %u bytes", name, n < 0 ? 0 : n, hdr.length);
		free(buf);
		return -EINVAL;
	}
	*msg = protobuf_c_message_unpack(kind->desc, NULL, hdr.length, buf);
	free(buf);
	if (!*msg) {
		pr_err("image %s is corrupt: its %s message does not decode", name,
		       kind->desc->name);
		return -EINVAL;
	}
	if (kindp)
		*kindp = kind;
	return 0;
}

/* Open image `type` of `id` for reading; its file name goes to name. */
static int open_image(int dirfd, enum img_type type, int id, char *name, size_t len)
{
	int fd;
	img_name(type, id, name, len);
	/* O_NONBLOCK: opening a FIFO put in place of an image must not hang (it is refused) */
	fd = dir_open(dirfd, name, O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		pr_errno(-fd, "cannot open image %s", name);
		return fd;
	}
	return fd;
}

int img_read(int dirfd, enum img_type type, int id, ProtobufCMessage **msg)
{
	char name[64];
	const struct img_kind *kind;
	int fd, ret;

	fd = open_image(dirfd, type, id, name, sizeof(name));
	if (fd < 0)
		return fd;
	if ((ret = fault_point("image read", EIO))) {
		pr_errno(-ret, "cannot read image %s", name);
		close(fd);
		return ret;
	}
	ret = img_read_fd(fd, name, &kind, msg);
	close(fd);
	if (ret == 0 && kind->type != type) {
		pr_err("image %s holds a %s, expected a %s", name, kind->desc->name,
		       kinds[type].desc->name);
		img_free(*msg);
		*msg = NULL;
		return -EINVAL;
	}
	return ret;
}

void img_free(ProtobufCMessage *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

int img_raw_create(int dirfd, enum img_type type, int id)
{
	char name[64];
	uint8_t page[IMG_RAW_HDR] = {0};
	struct img_header hdr = {kinds[type].magic, CRYO_FORMAT_VERSION, 0};
	int fd, ret;

	img_name(type, id, name, sizeof(name));
	fd = dir_create(dirfd, name, O_RDWR, 0600);
	if (fd < 0) {
		pr_errno(-fd, "cannot create image %s", name);
		return fd;
	}
	memcpy(page, &hdr, sizeof(hdr));
	ret = write_all(fd, page, sizeof(page));
	if (ret < 0) {
		pr_errno(-ret, "cannot write image %s", name);
		close(fd);
		return ret;
	}
	return fd;
}

int img_raw_check_fd(int fd, const char *name, const struct img_kind **kindp, uint64_t *data_size)
{
	struct img_header hdr;
	const struct img_kind *kind;
	struct stat st;
	int ret;

	ret = read_header(fd, name, &hdr, &kind);
	if (ret)
		return ret;
	if (kind->desc) {
		pr_err("image %s holds metadata, not raw data", name);
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot stat image %s", name);
		return ret;
	}
	if (st.st_size < IMG_RAW_HDR) {
		pr_err("image %s is truncated: %lld bytes", name, (long long)st.st_size);
		return -EINVAL;
	}
	*data_size = st.st_size - IMG_RAW_HDR;
	if (kindp)
		*kindp = kind;
	return 0;
}

int img_raw_open(int dirfd, enum img_type type, int id, uint64_t *data_size)
{
	char name[64];
	const struct img_kind *kind;
	int fd, ret;

	fd = open_image(dirfd, type, id, name, sizeof(name));
	if (fd < 0)
		return fd;
	ret = img_raw_check_fd(fd, name, &kind, data_size);
	if (ret == 0 && kind->type != type) {
		pr_err("image %s is not a %s image", name, kinds[type].name_fmt);
		ret = -EINVAL;
	}
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}
