/* An event loop's epolls: the loop sits in epoll_pwait on an epoll that watches a pipe and
 * another epoll (nested), when it is dumped. A busier epoll holds an eventfd that is ready
 * (level-triggered), edge-triggered registrations whose edge was taken, one-shot ones that
 * fired (disarmed: their mask is only the flag bits) and one not yet, an exclusive one, a
 * registration whose fd number was closed (the file lives on in a dup) and one whose number
 * now holds another file, registered too under the same number; it is shared with a dup, with
 * a child (one description), and watched by a third epoll. After the restore every
 * registration is listed as before (fd, mask, data), and events arrive as they would have:
 * with the right data, once for edges and one-shots, not at all for a disarmed one until it
 * is armed again. */
// zt-run: gen2
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define D_EVA 0x1122334455667788ull
#define D_PA0 0xfeedface00000001ull
#define D_PA1 0xa0
#define D_EVB 0xb0
#define D_EVC 0xc0
#define D_PC1 0xc1
#define D_PB0 0xd0
#define D_PD0 0xe0
#define D_MOVED 0xf0
#define D_NEW 0xf1
#define D_CLOSED 0xf2
#define D_AT_EP 0xf3
#define D_PE0 0xf4
#define D_PW 100
#define D_PI 200
#define D_IN 300
#define D_EP1 400

static void add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	zt_check_sys(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl add");
}

/* the registrations of an epoll as fdinfo lists them, sorted (the kernel's order follows
 * file addresses); without pos/ino/sdev, which belong to the targets */
static void regs(int ep, char *out, size_t size)
{
	char path[64], text[8192], *lines[64];
	int n = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	zt_check_sys(zt_read_file(path, text, sizeof(text)) > 0, "read fdinfo");
	for (char *p = strtok(text, "\n"); p && n < 64; p = strtok(NULL, "\n")) {
		if (strncmp(p, "tfd:", 4))
			continue;
		char *pos = strstr(p, " pos:");
		if (pos)
			*pos = 0;
		lines[n++] = p;
	}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(lines[j], lines[i]) < 0) {
				char *x = lines[i];
				lines[i] = lines[j], lines[j] = x;
			}
	out[0] = 0;
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s\n", lines[i]);
}

/* one epoll_wait that does not block: which data came, with which events */
struct got {
	int n;
	struct epoll_event ev[32];
};

static struct got wait_now(int ep)
{
	struct got g;
	g.n = epoll_wait(ep, g.ev, 32, 0);
	if (g.n < 0)
		g.n = 0;
	return g;
}

static uint32_t has(const struct got *g, uint64_t data)
{
	for (int i = 0; i < g->n; i++)
		if (g->ev[i].data.u64 == data)
			return g->ev[i].events ? g->ev[i].events : 0x80000000u;
	return 0;
}

static void poke(int fd)
{
	uint64_t one = 1;
	zt_expect(write(fd, &one, sizeof(one)) == sizeof(one), "write to fd %d: %m", fd);
}

static int child_main(int ep1)
{
	sigset_t usr1;
	int sig;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigwait(&usr1, &sig);
	/* the shared description: the ready eventfd is reported to this task too */
	struct got g = wait_now(ep1);
	return has(&g, D_EVA) == EPOLLIN ? 0 : 1;
}

int main(int argc, char **argv)
{
	static char before[5][4096], after[4096];
	int pA[2], pB[2], pC[2], pD[2], pW[2], pI[2];
	int ep1, ep1dup, ep2, epw, epin, evA, evB, evC, evD, evE, evF, dD, dF;
	sigset_t term, orig;
	pid_t child;
	uint64_t v;

	zt_init(argc, argv);
	zt_check_sys(pipe(pA) == 0 && pipe(pB) == 0 && pipe(pC) == 0 && pipe(pD) == 0 &&
			 pipe(pW) == 0 && pipe(pI) == 0,
		     "pipes");
	ep1 = epoll_create1(0);
	ep2 = epoll_create1(EPOLL_CLOEXEC);
	epw = epoll_create1(EPOLL_CLOEXEC);
	epin = epoll_create1(0);
	zt_check_sys(ep1 >= 0 && ep2 >= 0 && epw >= 0 && epin >= 0, "epoll_create1");
	evA = eventfd(3, 0);
	evB = eventfd(0, EFD_NONBLOCK);
	evC = eventfd(2, EFD_NONBLOCK);
	zt_check_sys(evA >= 0 && evB >= 0 && evC >= 0, "eventfd");

	add(ep1, evA, EPOLLIN, D_EVA);				   /* ready, level-triggered */
	add(ep1, pA[0], EPOLLIN | EPOLLPRI, D_PA0);		   /* empty pipe */
	add(ep1, pA[1], EPOLLOUT | EPOLLET, D_PA1);		   /* writable: one edge */
	add(ep1, evB, EPOLLIN | EPOLLET, D_EVB);		   /* its edge comes below */
	add(ep1, evC, EPOLLIN | EPOLLONESHOT, D_EVC);		   /* fires below: disarmed */
	add(ep1, pC[1], EPOLLOUT | EPOLLONESHOT | EPOLLET, D_PC1); /* fires too */
	add(ep1, pB[0], EPOLLIN | EPOLLONESHOT, D_PB0);		   /* armed, not fired */
	add(ep1, pD[0], EPOLLIN | EPOLLEXCLUSIVE, D_PD0);	   /* exclusive wakeups */
	/* a registration whose number was closed, its file kept by a dup; another file at that
	 * number now, registered too */
	evD = eventfd(0, EFD_NONBLOCK);
	zt_check_sys(evD >= 0, "eventfd");
	add(ep1, evD, EPOLLIN, D_MOVED);
	dD = dup(evD);
	zt_check_sys(dD >= 0 && close(evD) == 0, "dup, close");
	evE = eventfd(0, EFD_NONBLOCK);
	zt_check_sys(evE == evD, "eventfd at the closed number");
	add(ep1, evE, EPOLLIN, D_NEW);
	ep1dup = dup(ep1);
	zt_check_sys(ep1dup >= 0, "dup epoll");
	add(ep2, ep1, EPOLLIN, D_EP1); /* an epoll watching an epoll */
	add(epin, pI[0], EPOLLIN, D_PI);
	add(epw, pW[0], EPOLLIN, D_PW);
	add(epw, epin, EPOLLIN, D_IN);

	/* the edges and one-shots fire; the eventfds keep their counts */
	poke(evB);
	struct got g = wait_now(ep1);
	zt_check_sys(has(&g, D_EVC) && has(&g, D_PC1) && has(&g, D_EVB) && has(&g, D_PA1),
		     "the first events");

	sigemptyset(&term);
	sigaddset(&term, SIGUSR1);
	zt_check_sys(sigprocmask(SIG_BLOCK, &term, NULL) == 0, "sigprocmask");
	child = fork();
	zt_check_sys(child >= 0, "fork");
	if (child == 0)
		_exit(child_main(ep1));

	/* an epoll that now sits at the number of its own closed registration */
	int epx = epoll_create1(0), evG = eventfd(0, EFD_NONBLOCK), dG;
	zt_check_sys(epx >= 0 && evG >= 0, "epoll, eventfd");
	add(epx, evG, EPOLLIN | EPOLLET, D_AT_EP);
	dG = dup(evG);
	zt_check_sys(dG >= 0 && dup2(epx, evG) == evG && close(epx) == 0, "dup2 the epoll");
	epx = evG;

	/* a one-shot that fired on a pipe read empty since: nothing is ready there */
	int pE[2];
	char c;
	zt_check_sys(pipe(pE) == 0, "pipe");
	add(ep1, pE[0], EPOLLIN | EPOLLONESHOT, D_PE0);
	zt_check_sys(write(pE[1], "e", 1) == 1, "write pE");
	g = wait_now(ep1);
	zt_check_sys(has(&g, D_PE0) == EPOLLIN && read(pE[0], &c, 1) == 1, "fire pE");

	/* last: the number of this closed one stays free */
	evF = eventfd(0, EFD_NONBLOCK);
	zt_check_sys(evF >= 0, "eventfd");
	add(ep1, evF, EPOLLIN, D_CLOSED);
	dF = dup(evF);
	zt_check_sys(dF >= 0 && close(evF) == 0, "dup, close");

	regs(ep1, before[0], sizeof(before[0]));
	regs(ep2, before[1], sizeof(before[1]));
	regs(epw, before[2], sizeof(before[2]));
	regs(epin, before[3], sizeof(before[3]));
	regs(epx, before[4], sizeof(before[4]));

	/* the loop: SIGTERM reaches it only inside epoll_pwait, as an event loop takes signals */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	zt_check_sys(sigprocmask(SIG_BLOCK, &term, &orig) == 0, "sigprocmask");
	sigdelset(&orig, SIGTERM);
	zt_ready();
	while (!zt_check_requested()) {
		struct epoll_event ev[4];
		int n = epoll_pwait(epw, ev, 4, -1, &orig);
		if (n < 0 && errno != EINTR)
			zt_fail("epoll_pwait: %m");
		if (n > 0)
			zt_fail("epoll_pwait reported data %llu before anything was written",
				(unsigned long long)ev[0].data.u64);
	}

	const char *names[5] = {"ep1", "ep2", "epw", "epin", "epx"};
	int eps[5] = {ep1, ep2, epw, epin, epx};
	for (int i = 0; i < 5; i++) {
		char what[32];
		regs(eps[i], after, sizeof(after));
		snprintf(what, sizeof(what), "%s registrations", names[i]);
		zt_expect_same_text(what, before[i], after);
	}

	/* the loop's epoll: quiet, then the pipe, then the nested epoll's pipe */
	g = wait_now(epw);
	zt_expect(g.n == 0, "epw reports %d events with nothing written", g.n);
	zt_expect(write(pW[1], "x", 1) == 1, "write pW");
	g = wait_now(epw);
	zt_expect(g.n == 1 && has(&g, D_PW) == EPOLLIN, "epw after a write: %d events", g.n);
	zt_expect(read(pW[0], &c, 1) == 1 && c == 'x', "read pW");
	zt_expect(write(pI[1], "y", 1) == 1, "write pI");
	g = wait_now(epw);
	zt_expect(g.n == 1 && has(&g, D_IN) == EPOLLIN, "epw after a write to the nested: %d", g.n);
	g = wait_now(epin);
	zt_expect(g.n == 1 && has(&g, D_PI) == EPOLLIN, "epin after a write: %d", g.n);
	zt_expect(read(pI[0], &c, 1) == 1 && c == 'y', "read pI");
	g = wait_now(epw);
	zt_expect(g.n == 0, "epw reports %d events once read", g.n);

	/* the epoll watching ep1 sees it ready */
	g = wait_now(ep2);
	zt_expect(g.n == 1 && has(&g, D_EP1) == EPOLLIN, "ep2: %d events", g.n);

	/* ep1: an edge may come again once (the kernel's view of readiness is rebuilt), the
	 * rest as before */
	for (int round = 0; round < 2; round++) {
		g = wait_now(ep1);
		zt_expect(has(&g, D_EVA) == EPOLLIN, "round %d: the ready eventfd is not reported",
			  round);
		zt_expect(!has(&g, D_EVC), "round %d: the disarmed one-shot eventfd is reported",
			  round);
		zt_expect(!has(&g, D_PC1), "round %d: the disarmed one-shot pipe is reported",
			  round);
		uint64_t quiet[] = {D_PA0, D_PB0, D_PD0, D_MOVED, D_NEW, D_CLOSED};
		for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
			zt_expect(!has(&g, quiet[i]), "round %d: data %#llx reported", round,
				  (unsigned long long)quiet[i]);
		if (round == 1)
			zt_expect(!has(&g, D_EVB) && !has(&g, D_PA1),
				  "an edge-triggered registration reported twice for one edge");
	}
	poke(evB);
	g = wait_now(ep1);
	zt_expect(has(&g, D_EVB) == EPOLLIN, "a new edge of the eventfd is not reported");
	g = wait_now(ep1);
	zt_expect(!has(&g, D_EVB), "the new edge is reported twice");

	/* the disarmed one-shot, armed again */
	struct epoll_event mod = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = D_EVC};
	zt_expect(epoll_ctl(ep1, EPOLL_CTL_MOD, evC, &mod) == 0, "re-arm: %m");
	g = wait_now(ep1);
	zt_expect(has(&g, D_EVC) == EPOLLIN, "the re-armed one-shot is not reported");
	g = wait_now(ep1);
	zt_expect(!has(&g, D_EVC), "the re-armed one-shot is reported twice");
	zt_expect(read(evC, &v, 8) == 8 && v == 2, "evC count %llu", (unsigned long long)v);

	/* the armed one-shot fires once */
	zt_expect(write(pB[1], "z", 1) == 1, "write pB");
	g = wait_now(ep1);
	zt_expect(has(&g, D_PB0) == EPOLLIN, "the armed one-shot does not fire");
	zt_expect(write(pB[1], "z", 1) == 1, "write pB");
	g = wait_now(ep1);
	zt_expect(!has(&g, D_PB0), "the one-shot fires twice");

	zt_expect(write(pD[1], "w", 1) == 1, "write pD");
	g = wait_now(ep1);
	zt_expect(has(&g, D_PD0) == EPOLLIN, "the exclusive registration does not report");
	zt_expect(write(pA[1], "v", 1) == 1, "write pA");
	g = wait_now(ep1);
	zt_expect(has(&g, D_PA0) == EPOLLIN, "the pipe's data is not reported with its data");

	/* the closed number: its file (dD) reports under its old data, the new file under its */
	poke(dD);
	g = wait_now(ep1);
	zt_expect(has(&g, D_MOVED) == EPOLLIN && !has(&g, D_NEW),
		  "the registration of the closed number: %#x, the new file: %#x", has(&g, D_MOVED),
		  has(&g, D_NEW));
	poke(evE);
	g = wait_now(ep1);
	zt_expect(has(&g, D_NEW) == EPOLLIN, "the new file at the number is not reported");
	poke(dF);
	g = wait_now(ep1);
	zt_expect(has(&g, D_CLOSED) == EPOLLIN, "the closed registration's dup is not reported");
	g = wait_now(epx);
	zt_expect(g.n == 0, "the epoll at its registration's number reports %d events", g.n);
	poke(dG);
	g = wait_now(epx);
	zt_expect(g.n == 1 && has(&g, D_AT_EP) == EPOLLIN,
		  "the epoll at its registration's number: %d events", g.n);
	/* the pipe of the fired one-shot is still empty; armed again, it reports a write */
	int avail = -1;
	zt_expect(ioctl(pE[0], FIONREAD, &avail) == 0 && avail == 0,
		  "the empty pipe of a fired one-shot holds %d bytes", avail);
	g = wait_now(ep1);
	zt_expect(!has(&g, D_PE0), "the fired one-shot on the empty pipe reports");
	mod.data.u64 = D_PE0;
	zt_expect(epoll_ctl(ep1, EPOLL_CTL_MOD, pE[0], &mod) == 0, "re-arm pE: %m");
	g = wait_now(ep1);
	zt_expect(!has(&g, D_PE0), "the re-armed one-shot on the empty pipe reports");
	zt_expect(write(pE[1], "f", 1) == 1, "write pE");
	g = wait_now(ep1);
	zt_expect(has(&g, D_PE0) == EPOLLIN, "the re-armed one-shot on the pipe does not fire");
	zt_expect(read(pE[0], &c, 1) == 1 && c == 'f', "read pE: '%c'", c);
	zt_expect(fcntl(ep2, F_GETFD) == FD_CLOEXEC && fcntl(ep1, F_GETFD) == 0,
		  "close-on-exec of the epolls");

	/* the child has the same epoll */
	int st;
	zt_expect(kill(child, SIGUSR1) == 0, "signal the child: %m");
	zt_expect(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the child did not see the eventfd through the shared epoll (status %#x)", st);
	(void)ep1dup;
	zt_pass();
}
