/* zt: helpers to read and compare what /proc says about the test process (see zt.h). */
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* Raw /proc/self/smaps. Static: reading it must not create the heap or a mapping, or the
 * snapshot taken after restore would differ from the one taken before the dump. */
static char smaps_raw[1 << 20];

ssize_t zt_read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		struct pollfd q = {.fd = fd, .events = POLLIN};
		if (poll(&q, 1, 5000) <= 0)
			break;
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += n;
	}
	return done;
}

bool zt_queue_empty(int fd)
{
	char c;
	errno = 0;
	return recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) < 0 && errno == EAGAIN;
}

void zt_tcp_pair_small(int *l, int *w, int *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int small = 4096, big = 1 << 20;

	*l = socket(AF_INET, SOCK_STREAM, 0);
	zt_check_sys(*l >= 0 && setsockopt(*l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0 &&
			 bind(*l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(*l, 1) == 0 &&
			 getsockname(*l, (struct sockaddr *)&a, &alen) == 0,
		     "listen");
	*w = socket(AF_INET, SOCK_STREAM, 0);
	zt_check_sys(*w >= 0 && setsockopt(*w, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)) == 0 &&
			 connect(*w, (struct sockaddr *)&a, sizeof(a)) == 0,
		     "connect");
	*r = accept(*l, NULL, NULL);
	zt_check_sys(*r >= 0, "accept");
}

ssize_t zt_read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	if (size == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return len;
}

bool zt_status_field(const char *text, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			const char *v = p + klen + 1, *end;
			while (*v == ' ' || *v == '\t')
				v++;
			end = strchrnul(v, '\n');
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			snprintf(out, size, "%.*s", (int)(end - v), v);
			return true;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

static const char *next_line(const char *p, size_t *len)
{
	const char *nl = strchrnul(p, '\n');
	*len = nl - p;
	return *nl ? nl + 1 : nl;
}

bool zt_expect_same_text(const char *what, const char *before, const char *after)
{
	const char *a = before, *b = after;
	int line = 1, reported = 0;
	bool same = true;

	while (*a || *b) {
		size_t la, lb;
		const char *na = next_line(a, &la), *nb = next_line(b, &lb);

		if (la != lb || memcmp(a, b, la)) {
			same = false;
			/* A shifted line makes every later one differ: name the first few. */
			if (reported++ < 4)
				zt_expect(false, "%s line %d: before '%.*s' after '%.*s'", what,
					  line, (int)la, a, (int)lb, b);
		}
		a = na;
		b = nb;
		line++;
	}
	if (reported > 4)
		zt_log("%s: %d lines differ in all", what, reported);
	return same;
}

static bool is_header(const char *line, size_t len)
{
	const char *dash = memchr(line, '-', len);
	const char *space = memchr(line, ' ', len);
	return dash && space && dash < space && line[0] != ' ';
}

static bool keep_key(const char *line, size_t len)
{
	static const char *const keys[] = {
	    "Size:",	    "KernelPageSize:", "MMUPageSize:",
	    "THPeligible:", "ProtectionKey:",  "VmFlags:",
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t kl = strlen(keys[i]);
		if (len >= kl && !memcmp(line, keys[i], kl))
			return true;
	}
	return false;
}

/* Header: "start-end perms offset dev inode path"; shared anonymous memory and memfd have an
 * inode the kernel picks at creation, so it is replaced with '*'. */
static int format_header(char *out, size_t size, const char *line, size_t len)
{
	char copy[4096], range[64], perms[8], off[32], dev[32], inode[32];
	int pathpos = 0;

	snprintf(copy, sizeof(copy), "%.*s", (int)len, line);
	if (sscanf(copy, "%63s %7s %31s %31s %31s %n", range, perms, off, dev, inode, &pathpos) < 5)
		return snprintf(out, size, "%s\n", copy);
	const char *path = copy + pathpos;
	if (!strncmp(path, "/dev/zero", 9) || !strncmp(path, "/SYSV", 5) ||
	    !strncmp(path, "/memfd:", 7))
		snprintf(inode, sizeof(inode), "*");
	return snprintf(out, size, "%s %s %s %s %s %s\n", range, perms, off, dev, inode, path);
}

/* VmFlags less "um": a range registered with a userfaultfd in missing mode, which a lazy
 * restore's daemon holds while pages are still coming in; it goes once they are all in. */
static int format_vmflags(char *out, size_t size, const char *line, size_t len)
{
	char copy[512], *save = NULL;
	int w = snprintf(out, size, "VmFlags:");

	snprintf(copy, sizeof(copy), "%.*s", (int)(len - 8), line + 8);
	for (char *tok = strtok_r(copy, " ", &save); tok && w >= 0 && (size_t)w < size;
	     tok = strtok_r(NULL, " ", &save))
		if (strcmp(tok, "um"))
			w += snprintf(out + w, size - w, " %s", tok);
	if (w >= 0 && (size_t)w < size)
		w += snprintf(out + w, size - w, "\n");
	return w;
}

ssize_t zt_smaps_layout(char *buf, size_t size)
{
	ssize_t n = zt_read_file("/proc/self/smaps", smaps_raw, sizeof(smaps_raw));
	const char *p = smaps_raw;
	size_t out = 0;

	if (n < 0)
		return n;
	if ((size_t)n >= sizeof(smaps_raw) - 1)
		return -E2BIG;
	buf[0] = '\0';
	while (*p) {
		size_t len;
		const char *line = p;
		int w;

		p = next_line(p, &len);
		if (is_header(line, len))
			w = format_header(buf + out, size - out, line, len);
		else if (len > 8 && !memcmp(line, "VmFlags:", 8))
			w = format_vmflags(buf + out, size - out, line, len);
		else if (keep_key(line, len))
			w = snprintf(buf + out, size - out, "%.*s\n", (int)len, line);
		else
			continue;
		if (w < 0 || (size_t)w >= size - out)
			return -E2BIG;
		out += w;
	}
	return out;
}

static bool header_range(const char *line, uintptr_t *start, uintptr_t *end)
{
	unsigned long s, e;
	if (sscanf(line, "%lx-%lx ", &s, &e) != 2)
		return false;
	*start = s;
	*end = e;
	return true;
}

void *zt_vmflags(const void *addr, char *flags, size_t size)
{
	ssize_t n = zt_read_file("/proc/self/smaps", smaps_raw, sizeof(smaps_raw));
	const char *p = smaps_raw;
	uintptr_t a = (uintptr_t)addr, start, end;
	bool inside = false;
	void *found = NULL;

	flags[0] = '\0';
	if (n < 0)
		return NULL;
	while (*p) {
		size_t len;
		const char *line = p;

		p = next_line(p, &len);
		if (is_header(line, len)) {
			inside = header_range(line, &start, &end) && a >= start && a < end;
			if (inside)
				found = (void *)start;
		} else if (inside && len > 8 && !memcmp(line, "VmFlags:", 8)) {
			const char *v = line + 8;
			while (*v == ' ')
				v++;
			snprintf(flags, size, "%.*s", (int)(line + len - v), v);
			return found;
		}
	}
	return found;
}

bool zt_has_vmflag(const char *flags, const char *flag)
{
	size_t fl = strlen(flag);
	const char *p = flags;

	while (*p) {
		while (*p == ' ')
			p++;
		const char *e = strchrnul(p, ' ');
		if ((size_t)(e - p) == fl && !memcmp(p, flag, fl))
			return true;
		p = e;
	}
	return false;
}

bool zt_maps_line(const void *addr, char *line, size_t size)
{
	static char maps[256 << 10];
	ssize_t n = zt_read_file("/proc/self/maps", maps, sizeof(maps));
	const char *p = maps;
	uintptr_t a = (uintptr_t)addr, start, end;

	if (n < 0)
		return false;
	while (*p) {
		size_t len;
		const char *l = p;

		p = next_line(p, &len);
		if (header_range(l, &start, &end) && a >= start && a < end) {
			snprintf(line, size, "%.*s", (int)len, l);
			return true;
		}
	}
	return false;
}

static inline uint64_t mix64(uint64_t x)
{
	/* splitmix64's finalizer: every input bit affects every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static inline uint8_t pattern_byte(uintptr_t a, unsigned int seed, uint64_t *word, uintptr_t *wa)
{
	if ((a >> 3) != *wa) {
		*wa = a >> 3;
		*word = mix64((a >> 3) ^ ((uint64_t)seed << 40) ^ 0x5a5a5a5aULL);
	}
	return *word >> ((a & 7) * 8);
}

void zt_fill_pattern(void *p, size_t len, unsigned int seed)
{
	uint8_t *b = p;
	uint64_t word = 0;
	uintptr_t wa = UINTPTR_MAX;

	for (size_t i = 0; i < len; i++)
		b[i] = pattern_byte((uintptr_t)(b + i), seed, &word, &wa);
}

ssize_t zt_check_pattern_as(const void *p, size_t len, unsigned int seed, const void *as)
{
	const uint8_t *b = p;
	uint64_t word = 0;
	uintptr_t wa = UINTPTR_MAX;

	for (size_t i = 0; i < len; i++)
		if (b[i] != pattern_byte((uintptr_t)as + i, seed, &word, &wa))
			return i;
	return -1;
}

ssize_t zt_check_pattern(const void *p, size_t len, unsigned int seed)
{
	return zt_check_pattern_as(p, len, seed, p);
}

int zt_page_present(const void *addr)
{
	uint64_t entry;
	long psize = sysconf(_SC_PAGESIZE);
	off_t off = (uintptr_t)addr / psize * sizeof(entry);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, &entry, sizeof(entry), off);
	close(fd);
	if (n != sizeof(entry))
		return n < 0 ? -errno : -EIO;
	return (entry >> 63) & 1;
}

void *zt_free_area(size_t size)
{
	void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		zt_fail("no free area of %zu bytes: %m", size);
	munmap(p, size);
	return p;
}
