/* The event descriptors an event loop holds (libuv, systemd, glib): an eventfd with a count
 * (another fd of it is a dup: the same description), a semaphore eventfd, nonblocking, with
 * more than 32 bits of count; a signalfd for SIGUSR1 and SIGUSR2 with SIGUSR1 pending.
 * After the restore each reads as it would have. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	uint64_t v = 0;
	sigset_t set;
	int efd, edup, sem, big, sfd;

	zt_init(argc, argv);
	efd = eventfd(5, 0);
	zt_check_sys(efd >= 0, "eventfd");
	edup = dup(efd);
	sem = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	big = eventfd(0, EFD_NONBLOCK);
	v = 0x123456789aull;
	zt_check_sys(sem >= 0 && big >= 0 && write(big, &v, 8) == 8, "eventfds");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	zt_check_sys(sigprocmask(SIG_BLOCK, &set, NULL) == 0, "sigprocmask");
	sfd = signalfd(-1, &set, SFD_NONBLOCK);
	zt_check_sys(sfd >= 0, "signalfd");
	zt_check_sys(kill(getpid(), SIGUSR1) == 0, "kill");

	zt_ready();
	zt_wait_for_check();

	v = 1;
	zt_expect(write(edup, &v, 8) == 8, "write to the dup: %m");
	zt_expect(read(efd, &v, 8) == 8 && v == 6, "eventfd read %llu, expected 6 (5 + 1 through its dup)",
		  (unsigned long long)v);
	for (int i = 0; i < 3; i++)
		zt_expect(read(sem, &v, 8) == 8 && v == 1, "semaphore read %d: %llu", i,
			  (unsigned long long)v);
	zt_expect(read(sem, &v, 8) < 0 && errno == EAGAIN, "the semaphore is not empty (or blocks)");
	zt_expect(read(big, &v, 8) == 8 && v == 0x123456789aull, "big count %#llx",
		  (unsigned long long)v);
	zt_expect((fcntl(big, F_GETFL) & O_NONBLOCK) != 0, "the eventfd lost O_NONBLOCK");
	struct signalfd_siginfo si;
	zt_expect(read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGUSR1,
		  "signalfd did not give the pending SIGUSR1 (%m)");
	zt_expect(read(sfd, &si, sizeof(si)) < 0 && errno == EAGAIN, "signalfd: more than one");
	zt_expect(kill(getpid(), SIGUSR2) == 0 && read(sfd, &si, sizeof(si)) == sizeof(si) &&
		      si.ssi_signo == SIGUSR2,
		  "signalfd no longer reads SIGUSR2");
	zt_pass();
}
