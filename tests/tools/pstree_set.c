/* pstree_set FILE TASK FIELD VALUE: set a varint field of one task in a pstree.img, in place.
 *
 * For the restore-safety cases: they need images whose ids are wrong on purpose (a session id
 * of another process, 0xffffffff...). FILE is a metadata image (12-byte header: magic,
 * version, payload length; docs/images.md) holding a `pstree` message: repeated field 1, one
 * `pstree_task` each. TASK is the index of the task, FIELD the number of a uint32 field of
 * pstree_task (1 pid, 2 ppid, 3 pgid, 4 sid, 5 the first thread id, 12 parent_tid), VALUE the
 * new value. The message is re-encoded, and the header's length set to the new size. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX (1 << 20)

static int get_varint(const uint8_t *b, size_t len, size_t *pos, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
		uint8_t c = b[(*pos)++];
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

static size_t put_varint(uint8_t *b, uint64_t v)
{
	size_t n = 0;
	do {
		b[n++] = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v);
	return n;
}

/* Copy one field (its key already read) from in to out; 0 on success. */
static int copy_value(const uint8_t *in, size_t len, size_t *pos, int wire, uint8_t *out,
		      size_t *o)
{
	uint64_t v;
	size_t start = *pos;
	switch (wire) {
	case 0:
		if (get_varint(in, len, pos, &v))
			return -1;
		break;
	case 1:
		*pos += 8;
		break;
	case 2:
		if (get_varint(in, len, pos, &v) || v > len - *pos)
			return -1;
		*pos += v;
		break;
	case 5:
		*pos += 4;
		break;
	default:
		return -1;
	}
	if (*pos > len)
		return -1;
	memcpy(out + *o, in + start, *pos - start);
	*o += *pos - start;
	return 0;
}

/* Re-encode a pstree_task with field `field` (its first occurrence) set to value. */
static int edit_task(const uint8_t *in, size_t len, int field, uint64_t value, uint8_t *out,
		     size_t *olen)
{
	size_t pos = 0, o = 0;
	int done = 0;
	while (pos < len) {
		uint64_t key;
		if (get_varint(in, len, &pos, &key))
			return -1;
		int f = (int)(key >> 3), wire = key & 7;
		o += put_varint(out + o, key);
		if (f == field && wire == 0 && !done) {
			uint64_t old;
			if (get_varint(in, len, &pos, &old))
				return -1;
			o += put_varint(out + o, value);
			done = 1;
		} else if (copy_value(in, len, &pos, wire, out, &o)) {
			return -1;
		}
	}
	*olen = o;
	return done ? 0 : -1;
}

int main(int argc, char **argv)
{
	static uint8_t buf[MAX], out[MAX + 64], task[MAX];
	if (argc != 5) {
		fprintf(stderr, "usage: %s FILE TASK FIELD VALUE\n", argv[0]);
		return 2;
	}
	int want = atoi(argv[2]), field = atoi(argv[3]);
	uint64_t value = strtoull(argv[4], NULL, 0);
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n < 12) {
		fprintf(stderr, "%s: too short\n", argv[1]);
		return 1;
	}
	size_t pos = 12, o = 12;
	int idx = 0, done = 0;
	memcpy(out, buf, 12);
	while (pos < n) {
		uint64_t key, l;
		if (get_varint(buf, n, &pos, &key))
			goto bad;
		o += put_varint(out + o, key);
		if (key >> 3 != 1 || (key & 7) != 2) {
			if (copy_value(buf, n, &pos, key & 7, out, &o))
				goto bad;
			continue;
		}
		if (get_varint(buf, n, &pos, &l) || l > n - pos)
			goto bad;
		if (idx++ == want) {
			size_t tl;
			if (edit_task(buf + pos, l, field, value, task, &tl))
				goto bad;
			o += put_varint(out + o, tl);
			memcpy(out + o, task, tl);
			o += tl;
			done = 1;
		} else {
			o += put_varint(out + o, l);
			memcpy(out + o, buf + pos, l);
			o += l;
		}
		pos += l;
	}
	if (!done)
		goto bad;
	uint32_t plen = (uint32_t)(o - 12);
	memcpy(out + 8, &plen, 4);
	f = fopen(argv[1], "wb");
	if (!f || fwrite(out, 1, o, f) != o || fclose(f)) {
		perror(argv[1]);
		return 1;
	}
	return 0;
bad:
	fprintf(stderr, "%s: no task %d with field %d, or not a pstree image\n", argv[1], want,
		field);
	return 1;
}
