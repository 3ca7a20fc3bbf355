/* Dumped inside nested signal handlers running on the alternate stack.
 *
 * After zt_ready() main raises SIGUSR1, whose handler (SA_ONSTACK) raises SIGUSR2, whose
 * handler (SA_ONSTACK as well, nested on the same altstack) waits for the check request: so
 * at the dump two signal frames sit on the altstack, and the mask, the altstack state
 * (SS_ONSTACK) and the registers of three levels hang on them. After the restore, in the
 * inner handler: still on the altstack, sigaltstack() says SS_ONSTACK, both signals and each
 * handler's sa_mask blocked. Then both handlers return through sigreturn: each level must
 * find its locals and the mask of the level below restored, and main must continue after
 * raise() with its own mask, its locals, and an altstack no longer in use. */
// zt-run: gen2
#include "zt.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>

static char altstack[128 << 10];
static volatile int depth_reached, returned_from;
static volatile uint64_t inner_magic_after, outer_magic_after;

static bool on_altstack(const void *p)
{
	return (const char *)p >= altstack && (const char *)p < altstack + sizeof(altstack);
}

static bool blocked(int sig)
{
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, sig);
}

static void inner(int sig, siginfo_t *si, void *uc)
{
	volatile uint64_t magic = 0x1234567887654321ULL ^ (uintptr_t)&magic;
	stack_t ss;

	(void)sig;
	(void)uc;
	zt_expect(si->si_code == SI_TKILL, "SIGUSR2 si_code %d", si->si_code);
	depth_reached = 2;
	zt_wait_for_check();	/* the dump happens here */

	zt_expect(on_altstack((const void *)&magic), "inner handler is not on the altstack");
	zt_expect(sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK),
		  "sigaltstack does not say SS_ONSTACK in the handler (flags %#x)", ss.ss_flags);
	zt_expect(ss.ss_sp == altstack && ss.ss_size == sizeof(altstack), "altstack %p/%zu",
		  ss.ss_sp, ss.ss_size);
	zt_expect(blocked(SIGUSR1) && blocked(SIGUSR2), "USR1/USR2 not blocked in the handler");
	zt_expect(blocked(SIGWINCH), "SIGUSR2's sa_mask (SIGWINCH) not in force");
	zt_expect(blocked(SIGURG), "SIGUSR1's sa_mask (SIGURG) lost in the nested handler");
	inner_magic_after = magic ^ (uintptr_t)&magic;
}

static void outer(int sig, siginfo_t *si, void *uc)
{
	volatile uint64_t magic = 0xfeedfacecafebeefULL ^ (uintptr_t)&magic;

	(void)sig;
	(void)si;
	(void)uc;
	depth_reached = 1;
	raise(SIGUSR2);
	/* Back from the nested handler: our frame and mask as they were. */
	returned_from = 2;
	zt_expect(on_altstack((const void *)&magic), "outer handler is not on the altstack");
	zt_expect(blocked(SIGUSR1) && !blocked(SIGUSR2) && !blocked(SIGWINCH) && blocked(SIGURG),
		  "the outer handler's mask was not restored by the inner sigreturn");
	outer_magic_after = magic ^ (uintptr_t)&magic;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0 };
	volatile uint64_t main_magic = 0x0badc0ffee0ddf00ULL;

	zt_init(argc, argv);
	if (sigaltstack(&ss, NULL))
		zt_fail("sigaltstack: %m");
	memset(&sa, 0, sizeof(sa));
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sa.sa_sigaction = outer;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGURG);
	if (sigaction(SIGUSR1, &sa, NULL))
		zt_fail("sigaction: %m");
	sa.sa_sigaction = inner;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGWINCH);
	if (sigaction(SIGUSR2, &sa, NULL))
		zt_fail("sigaction: %m");

	zt_ready();
	raise(SIGUSR1);

	zt_expect(depth_reached == 2, "the nested handler never ran (depth %d)", depth_reached);
	zt_expect(returned_from == 2, "the outer handler did not continue after the inner one");
	zt_expect(inner_magic_after == 0x1234567887654321ULL, "inner handler's local corrupted");
	zt_expect(outer_magic_after == 0xfeedfacecafebeefULL, "outer handler's local corrupted");
	zt_expect(main_magic == 0x0badc0ffee0ddf00ULL, "main's local corrupted");
	zt_expect(!blocked(SIGUSR1) && !blocked(SIGUSR2) && !blocked(SIGURG) && !blocked(SIGWINCH),
		  "main's mask not restored after the handlers returned");
	zt_expect(sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_ONSTACK) &&
			  ss.ss_sp == altstack,
		  "altstack after the handlers: flags %#x, sp %p", ss.ss_flags, ss.ss_sp);
	zt_pass();
}
