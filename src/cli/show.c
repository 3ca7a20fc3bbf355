/* `cryo show FILE`: print one image file as JSON on stdout.
 *
 * Metadata images are decoded by the image layer (which checks magic, version and length) and
 * printed by walking the message's protobuf-c descriptor, so every message of images/cryo.proto
 * is shown without code of its own here. Raw images (pages, ghost files) are summarised: their
 * content is not printed.
 *
 * The input may be anything (a corrupt or hostile file): nothing here trusts a length or a
 * count that the decoder did not check, strings are escaped byte by byte, and invalid UTF-8
 * becomes U+FFFD so that the output is always valid JSON. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cryo/cryo.h"
#include "core/log.h"
#include "core/util.h"
#include "img/image.h"
#include "pages/lz4.h"

#define SHOW_MAX_DEPTH 32 /* cryo.proto nests 3 deep; a bound in case that ever recurses */

struct out {
	FILE *f;
};

static void indent(struct out *o, int depth)
{
	for (int i = 0; i < depth; i++)
		fputs("  ", o->f);
}

/* One Unicode code point from s[0..len), or -1 for an invalid or truncated sequence. Returns
 * the number of bytes used in *used. */
static long utf8_decode(const unsigned char *s, size_t len, size_t *used)
{
	unsigned char c = s[0];
	size_t n;
	long cp, min;

	if (c < 0x80) {
		*used = 1;
		return c;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		*used = 1;
		return -1;
	}
	if (n > len) {
		*used = 1;
		return -1;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*used = 1;
			return -1;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	*used = n;
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1; /* overlong, out of range or a surrogate */
	return cp;
}

static void put_string(struct out *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len = strlen(str), i = 0;

	fputc('"', o->f);
	while (i < len) {
		size_t used;
		long cp = utf8_decode(s + i, len - i, &used);

		if (cp < 0) {
			fputs("\\ufffd", o->f);
		} else if (cp == '"') {
			fputs("\\\"", o->f);
		} else if (cp == '\\') {
			fputs("\\\\", o->f);
		} else if (cp == '\n') {
			fputs("\\n", o->f);
		} else if (cp == '\t') {
			fputs("\\t", o->f);
		} else if (cp == '\r') {
			fputs("\\r", o->f);
		} else if (cp < 0x20 || cp == 0x7f) {
			fprintf(o->f, "\\u%04lx", cp);
		} else {
			fwrite(s + i, 1, used, o->f);
		}
		i += used;
	}
	fputc('"', o->f);
}

static void put_hex_bytes(struct out *o, const ProtobufCBinaryData *b)
{
	static const char digits[] = "0123456789abcdef";

	fputc('"', o->f);
	for (size_t i = 0; i < b->len; i++) {
		fputc(digits[b->data[i] >> 4], o->f);
		fputc(digits[b->data[i] & 15], o->f);
	}
	fputc('"', o->f);
}

static void put_double(struct out *o, double d)
{
	if (isfinite(d))
		fprintf(o->f, "%.17g", d);
	else
		fputs(isnan(d) ? "\"nan\"" : d > 0 ? "\"inf\"" : "\"-inf\"", o->f);
}

/* Fields holding an address or a boundary get a second key, NAME_hex, for human readers. */
static bool is_address_field(const ProtobufCFieldDescriptor *fd)
{
	static const char *const names[] = {"ip",	"sp",  "vaddr",	      "handler",
					    "restorer", "brk", "robust_list", "clear_child_tid"};
	static const char *const suffixes[] = {"start", "end", "addr", "_ptr", "_base", "_sp"};
	size_t len = strlen(fd->name);

	if (fd->type != PROTOBUF_C_TYPE_UINT64 && fd->type != PROTOBUF_C_TYPE_FIXED64)
		return false;
	if (fd->label == PROTOBUF_C_LABEL_REPEATED)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(fd->name, names[i]))
			return true;
	if (!strncmp(fd->name, "start_", 6) || !strncmp(fd->name, "end_", 4))
		return true;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i]);
		if (len >= sl && !strcmp(fd->name + len - sl, suffixes[i]))
			return true;
	}
	return false;
}

static size_t elem_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

static int put_message(struct out *o, const ProtobufCMessage *msg, int depth);

/* One value of a field, stored at p. */
static int put_value(struct out *o, const ProtobufCFieldDescriptor *fd, const void *p, int depth)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(o->f, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(o->f, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(o->f, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		fprintf(o->f, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		put_double(o, *(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		put_double(o, *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)p ? "true" : "false", o->f);
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		int32_t v = *(const int32_t *)p;
		const ProtobufCEnumValue *ev = NULL;
		if (fd->descriptor)
			ev = protobuf_c_enum_descriptor_get_value(fd->descriptor, v);
		if (ev && ev->name)
			put_string(o, ev->name);
		else /* a value this cryo does not know: keep the number */
			fprintf(o->f, "%" PRId32, v);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		if (s)
			put_string(o, s);
		else
			fputs("null", o->f);
		break;
	}
	case PROTOBUF_C_TYPE_BYTES:
		put_hex_bytes(o, p);
		break;
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
		if (!m) {
			fputs("null", o->f);
			break;
		}
		return put_message(o, m, depth);
	}
	default:
		fputs("null", o->f);
		break;
	}
	return 0;
}

/* Whether a non-repeated field is present in the decoded message. */
static bool field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
	const char *base = (const char *)msg;
	const void *member = base + fd->offset;

	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + fd->quantifier_offset) == fd->id;
	if (fd->label == PROTOBUF_C_LABEL_REQUIRED)
		return true;
	if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)member != NULL;
	if (fd->type == PROTOBUF_C_TYPE_STRING) {
		const void *s = *(void *const *)member;
		/* an absent optional string with a default points at the default */
		if (fd->label == PROTOBUF_C_LABEL_OPTIONAL)
			return s && s != fd->default_value;
		return s != NULL;
	}
	if (fd->label == PROTOBUF_C_LABEL_OPTIONAL)
		return *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
	return true; /* proto3 plain field */
}

static int put_message(struct out *o, const ProtobufCMessage *msg, int depth)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *base = (const char *)msg;
	bool first = true;
	int ret = 0;

	if (depth > SHOW_MAX_DEPTH || !d || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC) {
		fputs("null", o->f);
		return -EINVAL;
	}
	fputc('{', o->f);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		const void *member = base + fd->offset;

		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + fd->quantifier_offset);
			const char *arr = *(const char *const *)member;
			size_t sz = elem_size(fd->type);
			bool nested = fd->type == PROTOBUF_C_TYPE_MESSAGE;

			fputs(first ? "\n" : ",\n", o->f);
			first = false;
			indent(o, depth + 1);
			put_string(o, fd->name);
			fputs(": [", o->f);
			for (size_t j = 0; arr && j < n; j++) {
				if (nested) {
					fputs(j ? ",\n" : "\n", o->f);
					indent(o, depth + 2);
				} else if (j) {
					fputs(", ", o->f);
				}
				ret |= put_value(o, fd, arr + j * sz, depth + 2);
			}
			if (nested && n && arr) {
				fputc('\n', o->f);
				indent(o, depth + 1);
			}
			fputc(']', o->f);
			continue;
		}
		if (!field_present(msg, fd))
			continue;
		fputs(first ? "\n" : ",\n", o->f);
		first = false;
		indent(o, depth + 1);
		put_string(o, fd->name);
		fputs(": ", o->f);
		ret |= put_value(o, fd, member, depth + 1);
		if (is_address_field(fd)) {
			fputs(",\n", o->f);
			indent(o, depth + 1);
			fprintf(o->f, "\"%s_hex\": \"0x%" PRIx64 "\"", fd->name,
				*(const uint64_t *)member);
		}
	}
	if (!first) {
		fputc('\n', o->f);
		indent(o, depth);
	}
	fputc('}', o->f);
	return ret;
}

/* "pages" from "pages-%d.img", "inventory" from "inventory.img". */
static void kind_short_name(const struct img_kind *kind, char *buf, size_t len)
{
	size_t n = strcspn(kind->name_fmt, "-.");
	if (n >= len)
		n = len - 1;
	memcpy(buf, kind->name_fmt, n);
	buf[n] = '\0';
}

/* --compress: every frame decoded, its pages counted (pages/lz4.c) */
static int show_lz4(struct out *o, int fd, const char *path, uint64_t data_size)
{
	struct lz4_frame *frames = NULL;
	size_t nr = 0, punched = 0;
	uint64_t raw = 0;
	uint8_t *stored = malloc(PAGES_LZ4_BLOCK_MAX), *out = malloc(PAGES_LZ4_BLOCK_MAX);
	int ret = stored && out ? 0 : -ENOMEM;

	if (!ret)
		ret = pages_lz4_index(fd, data_size, 0, PAGES_LZ4_BLOCK_MAX, path, &frames, &nr);
	for (size_t i = 0; !ret && i < nr; i++) {
		raw += frames[i].raw_len;
		if (frames[i].punched)
			punched++;
		else
			ret = pages_lz4_frame(fd, &frames[i], stored, out, path);
	}
	free(stored);
	free(out);
	free(frames);
	if (ret)
		return ret;
	fprintf(o->f,
		"{\n  \"magic\": \"0x%08" PRIx32 "\",\n  \"type\": \"pages\",\n  \"version\": %d,\n"
		"  \"codec\": \"lz4\",\n  \"data_bytes\": %" PRIu64 ",\n  \"frames\": %zu,\n"
		"  \"punched_frames\": %zu,\n  \"pages\": %" PRIu64 "\n}\n",
		img_kind(IMG_PAGES_LZ4)->magic, CRYO_FORMAT_VERSION, data_size, nr, punched,
		raw / PAGE_SIZE);
	return 0;
}

static int show_raw(struct out *o, int fd, const char *path)
{
	const struct img_kind *kind;
	uint64_t data_size;
	char type[32];
	int ret;

	ret = img_raw_check_fd(fd, path, &kind, &data_size);
	if (ret)
		return ret;
	if (kind->type == IMG_PAGES_LZ4)
		return show_lz4(o, fd, path, data_size);
	kind_short_name(kind, type, sizeof(type));
	fprintf(o->f, "{\n  \"magic\": \"0x%08" PRIx32 "\",\n  \"type\": \"%s\",\n", kind->magic,
		type);
	fprintf(o->f, "  \"version\": %d,\n  \"data_bytes\": %" PRIu64 ",\n", CRYO_FORMAT_VERSION,
		data_size);
	fprintf(o->f, "  \"pages\": %" PRIu64, data_size / IMG_RAW_HDR);
	if (data_size % IMG_RAW_HDR)
		fprintf(o->f, ",\n  \"partial_page_bytes\": %" PRIu64, data_size % IMG_RAW_HDR);
	fputs("\n}\n", o->f);
	return 0;
}

static int show_meta(struct out *o, int fd, const char *path)
{
	const struct img_kind *kind = NULL;
	ProtobufCMessage *msg = NULL;
	int ret;

	ret = img_read_fd(fd, path, &kind, &msg);
	if (ret)
		return ret;
	fprintf(o->f, "{\n  \"magic\": \"0x%08" PRIx32 "\",\n  \"type\": ", kind->magic);
	put_string(o, kind->desc->name);
	fprintf(o->f, ",\n  \"version\": %d,\n  \"entry\": ", CRYO_FORMAT_VERSION);
	ret = put_message(o, msg, 1);
	fputs("\n}\n", o->f);
	img_free(msg);
	if (ret)
		pr_err("image %s: message could not be printed in full", path);
	return ret;
}

int cryo_show(const char *path)
{
	struct out o = {stdout};
	const struct img_kind *kind = NULL;
	struct stat st;
	uint32_t magic;
	ssize_t n;
	int fd, ret;

	/* O_NONBLOCK: a FIFO given by mistake must not hang the open */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot open image %s", path);
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		pr_errno(-ret, "cannot stat image %s", path);
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("image %s is not a regular file", path);
		close(fd);
		return -EINVAL;
	}

	/* Peek at the magic to pick the reader; every error after this is reported by the
	 * reader, which names the file and the problem (truncated, unknown magic, ...). */
	n = pread(fd, &magic, sizeof(magic), 0);
	if (n == (ssize_t)sizeof(magic))
		kind = img_kind_by_magic(magic);

	if (kind && !kind->desc)
		ret = show_raw(&o, fd, path);
	else
		ret = show_meta(&o, fd, path);
	close(fd);

	if (fflush(stdout) == EOF || ferror(stdout)) {
		int err = errno ? errno : EIO;
		pr_errno(err, "cannot write the contents of image %s", path);
		return -err;
	}
	return ret;
}
