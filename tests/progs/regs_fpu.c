/* Extended register state held across the dump: x87 (stack, control and status words),
 * SSE (xmm0-15, MXCSR), AVX (ymm0-15) and AVX-512 (zmm0-31, k0-7), as far as the CPU and
 * kernel support them; also the fs base (TLS) and a gs base set with arch_prctl().
 *
 * The registers are loaded with patterns by an asm function that then spins, polling the
 * flag zt's SIGTERM handler sets, and stores them when it is set: the dump happens in the
 * middle of the spin, so every register must come back exactly (the SIGTERM handler in
 * between is covered by the kernel's own save and restore). MXCSR and the x87 control word
 * have non-default values (rounding, DAZ, FZ, precision), a status flag is set in MXCSR. */
// zt-run: gen2
#include "zt.h"

#include <asm/prctl.h>
#include <cpuid.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum level { SSE = 0, AVX = 1, AVX512F = 2, AVX512BW = 3 };

struct regs {
	uint8_t zmm[32][64];	/* 0: xmm/ymm/zmm i at 64 * i */
	uint64_t k[8];		/* 2048 */
	uint8_t st[8][16];	/* 2112: st(i), 10 bytes used */
	uint32_t mxcsr;		/* 2240 */
	uint16_t fcw;		/* 2244 */
	uint16_t fsw;		/* 2246: status word, as it was when the spin began */
	uint16_t fsw_after;	/* 2248: and when it ended */
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct regs, k) == 2048, "asm offsets");
_Static_assert(offsetof(struct regs, st) == 2112, "asm offsets");
_Static_assert(offsetof(struct regs, mxcsr) == 2240, "asm offsets");
_Static_assert(offsetof(struct regs, fcw) == 2244, "asm offsets");
_Static_assert(offsetof(struct regs, fsw_after) == 2248, "asm offsets");

/* hold(in, out, stop, level): load in, spin until *stop, store to out. The ABI lets a
 * function clobber all vector and mask registers; x87 must be empty again and MXCSR and the
 * control word back to their defaults on return, which the epilogue sees to. */
void hold(const struct regs *in, struct regs *out, volatile sig_atomic_t *stop, int level);

#define R8(op, reg, n) op " " #n "*64(%rdi), %" reg #n "\n"
#define S8(op, reg, n) op " %" reg #n ", " #n "*64(%rsi)\n"
#define X16(m, op, reg)                                                                            \
	m(op, reg, 0) m(op, reg, 1) m(op, reg, 2) m(op, reg, 3) m(op, reg, 4) m(op, reg, 5)        \
	m(op, reg, 6) m(op, reg, 7) m(op, reg, 8) m(op, reg, 9) m(op, reg, 10) m(op, reg, 11)      \
	m(op, reg, 12) m(op, reg, 13) m(op, reg, 14) m(op, reg, 15)
#define X16HI(m, op, reg)                                                                          \
	m(op, reg, 16) m(op, reg, 17) m(op, reg, 18) m(op, reg, 19) m(op, reg, 20)                 \
	m(op, reg, 21) m(op, reg, 22) m(op, reg, 23) m(op, reg, 24) m(op, reg, 25)                 \
	m(op, reg, 26) m(op, reg, 27) m(op, reg, 28) m(op, reg, 29) m(op, reg, 30)                 \
	m(op, reg, 31)
#define K8(op, base, n, size) op " " #n "*8+2048(%" base "), %k" #n "\n"
#define KS8(op, base, n, size) op " %k" #n ", " #n "*8+2048(%" base ")\n"
#define XK(m, op, base)                                                                            \
	m(op, base, 0, ) m(op, base, 1, ) m(op, base, 2, ) m(op, base, 3, ) m(op, base, 4, )       \
	m(op, base, 5, ) m(op, base, 6, ) m(op, base, 7, )

__asm__(".text\n"
	".globl hold\n"
	".type hold, @function\n"
	"hold:\n"
	"	fldcw 2244(%rdi)\n"
	"	ldmxcsr 2240(%rdi)\n"
	"	fldt 2112+7*16(%rdi)\n"
	"	fldt 2112+6*16(%rdi)\n"
	"	fldt 2112+5*16(%rdi)\n"
	"	fldt 2112+4*16(%rdi)\n"
	"	fldt 2112+3*16(%rdi)\n"
	"	fldt 2112+2*16(%rdi)\n"
	"	fldt 2112+1*16(%rdi)\n"
	"	fldt 2112+0*16(%rdi)\n"
	"	fnstsw 2246(%rsi)\n"
	"	cmp $3, %ecx\n"
	"	je 13f\n"
	"	cmp $2, %ecx\n"
	"	je 12f\n"
	"	cmp $1, %ecx\n"
	"	je 11f\n"
	X16(R8, "movdqu", "xmm")
	"	jmp 2f\n"
	"11:\n"
	X16(R8, "vmovdqu", "ymm")
	"	jmp 2f\n"
	"13:\n"
	XK(K8, "kmovq", "rdi")
	"	jmp 14f\n"
	"12:\n"
	XK(K8, "kmovw", "rdi")
	"14:\n"
	X16(R8, "vmovdqu64", "zmm")
	X16HI(R8, "vmovdqu64", "zmm")
	/* The spin: the dump is expected to land here. */
	"2:\n"
	"	mov (%rdx), %eax\n"
	"	test %eax, %eax\n"
	"	jnz 3f\n"
	"	pause\n"
	"	jmp 2b\n"
	"3:\n"
	"	cmp $3, %ecx\n"
	"	je 33f\n"
	"	cmp $2, %ecx\n"
	"	je 32f\n"
	"	cmp $1, %ecx\n"
	"	je 31f\n"
	X16(S8, "movdqu", "xmm")
	"	jmp 4f\n"
	"31:\n"
	X16(S8, "vmovdqu", "ymm")
	"	vzeroupper\n"
	"	jmp 4f\n"
	"33:\n"
	XK(KS8, "kmovq", "rsi")
	"	jmp 34f\n"
	"32:\n"
	XK(KS8, "kmovw", "rsi")
	"34:\n"
	X16(S8, "vmovdqu64", "zmm")
	X16HI(S8, "vmovdqu64", "zmm")
	"	vzeroupper\n"
	"4:\n"
	"	fnstsw 2248(%rsi)\n"
	"	fnstcw 2244(%rsi)\n"
	"	stmxcsr 2240(%rsi)\n"
	"	fstpt 2112+0*16(%rsi)\n"
	"	fstpt 2112+1*16(%rsi)\n"
	"	fstpt 2112+2*16(%rsi)\n"
	"	fstpt 2112+3*16(%rsi)\n"
	"	fstpt 2112+4*16(%rsi)\n"
	"	fstpt 2112+5*16(%rsi)\n"
	"	fstpt 2112+6*16(%rsi)\n"
	"	fstpt 2112+7*16(%rsi)\n"
	/* Defaults back for the C code: MXCSR 0x1f80, x87 control word 0x37f. */
	"	push $0x1f80\n"
	"	ldmxcsr (%rsp)\n"
	"	movw $0x37f, (%rsp)\n"
	"	fldcw (%rsp)\n"
	"	fnclex\n"
	"	add $8, %rsp\n"
	"	ret\n"
	".size hold, .-hold\n");

static struct regs in, out;
static __thread uint64_t tls_word = 1;
static uint64_t gs_area[8];

static enum level cpu_level(void)
{
	unsigned int a, b, c, d, xcr0_lo, xcr0_hi;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX))
		return SSE;
	__asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
	if ((xcr0_lo & 0x6) != 0x6)
		return SSE;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_AVX512F) ||
	    (xcr0_lo & 0xe6) != 0xe6)
		return AVX;
	return (b & bit_AVX512BW) ? AVX512BW : AVX512F;
}

/* x87 extended precision, always a normal number: random 63 bits of fraction with the
 * integer bit set, a varied exponent and sign. */
static void x87_value(uint8_t *p, uint64_t seed, int i)
{
	uint64_t mant = (seed * 0x9e3779b97f4a7c15ULL) | (1ULL << 63);
	uint16_t se = (uint16_t)(0x3fff + (i - 4) * 37) | (i & 1 ? 0x8000 : 0);

	memcpy(p, &mant, 8);
	memcpy(p + 8, &se, 2);
}

static void expect_bytes(const char *what, int n, const void *a, const void *b, size_t len)
{
	zt_expect(!memcmp(a, b, len), "%s%d differs", what, n);
}

/* Every register the level covers, as loaded (in) against as stored after the spin (out). */
static void compare(enum level level)
{
	const char *vec = level >= AVX512F ? "zmm" : level == AVX ? "ymm" : "xmm";
	size_t width = level >= AVX512F ? 64 : level == AVX ? 32 : 16;

	for (int i = 0; i < (level >= AVX512F ? 32 : 16); i++)
		expect_bytes(vec, i, in.zmm[i], out.zmm[i], width);
	if (level >= AVX512F)
		for (int i = 0; i < 8; i++)
			zt_expect(in.k[i] == out.k[i], "k%d %#lx, was %#lx", i, out.k[i], in.k[i]);
	for (int i = 0; i < 8; i++)
		expect_bytes("st", i, in.st[i], out.st[i], 10);
	zt_expect(out.mxcsr == in.mxcsr, "MXCSR %#x, was %#x", out.mxcsr, in.mxcsr);
	zt_expect(out.fcw == in.fcw, "x87 control word %#x, was %#x", out.fcw, in.fcw);
	zt_expect(out.fsw_after == out.fsw, "x87 status word %#x, was %#x", out.fsw_after,
		  out.fsw);
}

int main(int argc, char **argv)
{
	enum level level;
	unsigned long fs_before = 0, gs = 0, fs = 0;
	uint64_t gs_read, fs_self;
	static const char *const names[] = { "SSE", "AVX", "AVX-512F", "AVX-512BW" };

	zt_init(argc, argv);
	level = cpu_level();
	zt_log("testing x87, %s registers", names[level]);

	zt_fill_pattern(&in, sizeof(in), 7);
	for (int i = 0; i < 8; i++)
		x87_value(in.st[i], (uint64_t)&in + i, i);
	if (level == AVX512F)
		for (int i = 0; i < 8; i++)
			in.k[i] &= 0xffff;
	/* FZ, round toward zero, DAZ, all masked, and the precision exception flag set. */
	in.mxcsr = 0xffc0 | 0x20;
	/* Single precision, round toward zero, all exceptions masked. */
	in.fcw = 0x0c7f;

	tls_word = (uint64_t)&in ^ 0x7777;
	gs_area[0] = 0x6a5b4c3d2e1f0a0bULL;
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)gs_area))
		zt_fail("ARCH_SET_GS: %m");
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_before))
		zt_fail("ARCH_GET_FS: %m");

	/* The loop must work at all: a round with the flag already set. */
	zt_check_flag = 1;
	hold(&in, &out, &zt_check_flag, level);
	zt_check_flag = 0;
	compare(level);
	if (zt_failures())
		zt_fail("setup: the registers do not round-trip without a dump");
	memset(&out, 0, sizeof(out));

	zt_ready();
	hold(&in, &out, &zt_check_flag, level);
	compare(level);

	zt_expect(tls_word == ((uint64_t)&in ^ 0x7777), "TLS variable %#lx", tls_word);
	zt_expect(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) == 0 && fs == fs_before,
		  "fs base %#lx, was %#lx", fs, fs_before);
	__asm__ volatile("mov %%fs:0, %0" : "=r"(fs_self));
	zt_expect(fs_self == fs, "the TCB at %%fs:0 points to %#lx, not to itself", fs_self);
	zt_expect(syscall(SYS_arch_prctl, ARCH_GET_GS, &gs) == 0 && gs == (unsigned long)gs_area,
		  "gs base %#lx, was %p", gs, (void *)gs_area);
	__asm__ volatile("mov %%gs:0, %0" : "=r"(gs_read));
	zt_expect(gs_read == gs_area[0], "%%gs:0 reads %#lx", gs_read);
	zt_pass();
}
