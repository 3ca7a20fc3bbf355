/* File leases, as a file server (Samba's oplocks) holds them: a read lease on one file opened
 * read-only (signal SIGUSR1 when it is broken, F_SETSIG), a write lease on another (signal
 * SIGUSR2). Dumped with --file-locks; the refusals case dumps it without, which must be
 * refused naming the leases. After the restore: F_GETLEASE gives each type again; an open
 * for writing of the first file (O_NONBLOCK) is held back (EWOULDBLOCK) and the holder gets
 * SIGUSR1 with si_fd of its descriptor; after F_UNLCK that open succeeds; an open of the
 * second file for reading is held back too, with SIGUSR2. */
// zt-run: file-locks gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static int make_file(const char *name)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	zt_check_sys(fd >= 0 && write(fd, "lease", 5) == 5, name);
	close(fd);
	fd = open(name, O_RDONLY | O_CLOEXEC);
	zt_check_sys(fd >= 0, name);
	return fd;
}

static int take_sig(int sig, siginfo_t *si)
{
	struct timespec five = {5, 0};
	sigset_t set;
	int r;
	sigemptyset(&set);
	sigaddset(&set, sig);
	while ((r = sigtimedwait(&set, si, &five)) < 0 && errno == EINTR)
		;
	return r;
}

int main(int argc, char **argv)
{
	siginfo_t si = {0};
	sigset_t set;
	int rd, wr, fd;

	zt_init(argc, argv);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	zt_check_sys(sigprocmask(SIG_BLOCK, &set, NULL) == 0, "sigprocmask");
	rd = make_file("lease_read.dat");
	wr = make_file("lease_write.dat");
	zt_check_sys(fcntl(rd, F_SETSIG, SIGUSR1) == 0 && fcntl(rd, F_SETLEASE, F_RDLCK) == 0,
		     "read lease");
	zt_check_sys(fcntl(wr, F_SETSIG, SIGUSR2) == 0 && fcntl(wr, F_SETLEASE, F_WRLCK) == 0,
		     "write lease");
	zt_ready();
	zt_wait_for_check();

	zt_expect(fcntl(rd, F_GETLEASE) == F_RDLCK, "read lease: F_GETLEASE %d",
		  fcntl(rd, F_GETLEASE));
	zt_expect(fcntl(wr, F_GETLEASE) == F_WRLCK, "write lease: F_GETLEASE %d",
		  fcntl(wr, F_GETLEASE));
	zt_expect(fcntl(rd, F_GETSIG) == SIGUSR1 && fcntl(wr, F_GETSIG) == SIGUSR2,
		  "lease signals %d %d", fcntl(rd, F_GETSIG), fcntl(wr, F_GETSIG));
	zt_expect(fcntl(rd, F_GETOWN) == getpid(), "owner of the read lease's file: %d",
		  fcntl(rd, F_GETOWN));

	errno = 0;
	fd = open("lease_read.dat", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	zt_expect(fd < 0 && errno == EWOULDBLOCK, "an open for writing was not held back: %m");
	int r = take_sig(SIGUSR1, &si);
	zt_expect(r == SIGUSR1 && si.si_fd == rd, "read lease break: signal %d si_fd %d (fd %d)", r,
		  si.si_fd, rd);
	zt_expect(fcntl(rd, F_SETLEASE, F_UNLCK) == 0, "F_UNLCK: %m");
	fd = open("lease_read.dat", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	zt_expect(fd >= 0, "open after the lease was given up: %m");
	close(fd);

	errno = 0;
	fd = open("lease_write.dat", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	zt_expect(fd < 0 && errno == EWOULDBLOCK, "an open for reading was not held back: %m");
	r = take_sig(SIGUSR2, &si);
	zt_expect(r == SIGUSR2 && si.si_fd == wr, "write lease break: signal %d si_fd %d (fd %d)",
		  r, si.si_fd, wr);
	zt_pass();
}
