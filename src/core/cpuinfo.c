/* `cryo cpuinfo dump` / `cryo cpuinfo check`: the CPU's instruction set features (CPUID) and
 * the XSAVE state components the kernel enables, saved in cpuinfo.img, then compared with
 * the CPU cryo runs on: a process restored on a CPU without an instruction it used, or
 * without room for its register state, would fail later in ways that are hard to trace. */
#include <cpuid.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/safeopen.h"
#include "cryo/cryo.h"
#include "img/image.h"

static const struct word {
	uint32_t leaf, sub;
	char reg;	 /* a, b, c, d */
	uint32_t ignore; /* bits that the OS sets, not the CPU */
} words[] = {
    {1, 0, 'c', 1u << 27 /* OSXSAVE */},
    {1, 0, 'd', 0},
    {7, 0, 'b', 0},
    {7, 0, 'c', 1u << 4 /* OSPKE */},
    {7, 0, 'd', 0},
    {7, 1, 'a', 0},
    {0xd, 1, 'a', 0},
    {0x80000001, 0, 'c', 0},
    {0x80000001, 0, 'd', 0},
};

#define NR_WORDS (sizeof(words) / sizeof(words[0]))

struct cpu {
	char vendor[13];
	uint32_t family, model, stepping;
	uint32_t w[NR_WORDS];
	uint64_t xfeatures;
	uint32_t xsave_size;
};

static void read_cpu(struct cpu *c)
{
	uint32_t a, b, cx, d, max, ext_max;

	memset(c, 0, sizeof(*c));
	__cpuid(0, max, b, cx, d);
	memcpy(c->vendor, &b, 4);
	memcpy(c->vendor + 4, &d, 4);
	memcpy(c->vendor + 8, &cx, 4);
	__cpuid(0x80000000, ext_max, b, cx, d);
	__cpuid(1, a, b, cx, d);
	c->family = (a >> 8) & 0xf;
	c->model = (a >> 4) & 0xf;
	if (c->family == 0xf)
		c->family += (a >> 20) & 0xff;
	if (c->family >= 6)
		c->model |= ((a >> 16) & 0xf) << 4;
	c->stepping = a & 0xf;
	for (size_t i = 0; i < NR_WORDS; i++) {
		uint32_t top = words[i].leaf >= 0x80000000 ? ext_max : max;
		if (words[i].leaf > top)
			continue;
		__cpuid_count(words[i].leaf, words[i].sub, a, b, cx, d);
		uint32_t v = words[i].reg == 'a'   ? a
			     : words[i].reg == 'b' ? b
			     : words[i].reg == 'c' ? cx
						   : d;
		c->w[i] = v & ~words[i].ignore;
	}
	__cpuid(1, a, b, cx, d);
	if (cx & (1u << 27)) { /* OSXSAVE: xgetbv may be used */
		uint32_t lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		c->xfeatures = ((uint64_t)hi << 32) | lo;
		__cpuid_count(0xd, 0, a, b, cx, d);
		c->xsave_size = b; /* for the components enabled in XCR0 */
	}
}

int cryo_cpuinfo_dump(const char *dir)
{
	Cpuinfo msg = CPUINFO__INIT;
	struct cpu c;
	int dirfd, ret;

	read_cpu(&c);
	msg.vendor = c.vendor;
	msg.family = c.family;
	msg.model = c.model;
	msg.stepping = c.stepping;
	msg.n_feature_words = NR_WORDS;
	msg.feature_words = c.w;
	msg.xfeatures = c.xfeatures;
	msg.xsave_size = c.xsave_size;
	dirfd = dir_open_root(dir);
	if (dirfd < 0) {
		pr_errno(-dirfd, "cannot open images directory %s", dir);
		return dirfd;
	}
	ret = img_write(dirfd, IMG_CPUINFO, 0, &msg.base);
	close(dirfd);
	if (!ret)
		pr_info("cpuinfo.img written: %s family %u model %u, XSAVE components %#llx",
			c.vendor, c.family, c.model, (unsigned long long)c.xfeatures);
	return ret;
}

int cryo_cpuinfo_check(const char *dir)
{
	ProtobufCMessage *m = NULL;
	struct cpu c;
	int dirfd, ret, missing = 0;

	dirfd = dir_open_root(dir);
	if (dirfd < 0) {
		pr_errno(-dirfd, "cannot open images directory %s", dir);
		return dirfd;
	}
	ret = img_read(dirfd, IMG_CPUINFO, 0, &m);
	close(dirfd);
	if (ret)
		return ret;
	Cpuinfo *img = (Cpuinfo *)m;
	if (img->n_feature_words != NR_WORDS) {
		pr_err("cpuinfo.img holds %zu CPUID words, this cryo reads %zu: write it again "
		       "with this cryo",
		       img->n_feature_words, NR_WORDS);
		img_free(m);
		return -EINVAL;
	}
	read_cpu(&c);
	if (strcmp(img->vendor, c.vendor))
		pr_warn("cpuinfo.img is of a %s CPU, this one is %s", img->vendor, c.vendor);
	for (size_t i = 0; i < NR_WORDS; i++) {
		uint32_t lack = img->feature_words[i] & ~c.w[i];
		if (!lack)
			continue;
		pr_err("this CPU lacks features of cpuinfo.img: CPUID leaf %#x.%u e%cx bits %#x",
		       words[i].leaf, words[i].sub, words[i].reg, lack);
		missing++;
	}
	if (img->xfeatures & ~c.xfeatures) {
		pr_err("this CPU (or kernel) lacks XSAVE state components of cpuinfo.img: %#llx",
		       (unsigned long long)(img->xfeatures & ~c.xfeatures));
		missing++;
	}
	if (img->xsave_size > c.xsave_size) {
		pr_err("the XSAVE area of cpuinfo.img (%u bytes) is larger than this CPU's (%u)",
		       img->xsave_size, c.xsave_size);
		missing++;
	}
	img_free(m);
	if (missing)
		return -ENOTSUP;
	pr_msg("cpuinfo check: this CPU has every feature of cpuinfo.img");
	return 0;
}
