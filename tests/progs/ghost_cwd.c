/* Current and root directories removed while in use, as a shell or a build in a directory
 * that was `rm -rf`ed: the test (R) and its child A are in "wd", removed after A was forked
 * (two tasks, one removed directory: one ghost); child B is in a directory really named
 * "real (deleted)", which is not removed; child C chrooted into "jail", which R removed then;
 * child D is in "tree/a/b", and the whole of "tree" is removed (rm -rf).
 *
 * After the dump each checks its own directory as before: /proc/self/cwd (R, A, B) reads the
 * same text ("... (deleted)"), getcwd() fails with ENOENT (R, A, C) or gives B's path, fstat
 * of "." has the same mode, link count and mtime, creating a file there fails with ENOENT
 * (B's works); R and A are in the same directory (same inode); C's root is its cwd. */
// zt-run: gen2 predump
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct report {
	char problem[4][200]; /* A, B, C, D: empty when all is well */
	volatile int done[4];
	volatile ino_t r_ino; /* R's cwd inode, after the restore */
	volatile int r_set;
	volatile int chrooted, in_tree, gone; /* C is in jail, D in tree/a/b; they are removed */
};
static struct report *rep;
static volatile sig_atomic_t woken;

struct place {
	char link[512];
	struct stat st;
};

static void on_usr1(int sig)
{
	(void)sig;
	woken = 1;
}

static void take(struct place *p)
{
	ssize_t n = readlink("/proc/self/cwd", p->link, sizeof(p->link) - 1);
	p->link[n > 0 ? n : 0] = 0;
	stat(".", &p->st);
}

/* The checks of a task in a removed directory, into msg ("" if all is well) */
static void check_removed(const struct place *was, bool has_proc, char *msg, size_t len,
			  struct place *now_out)
{
	struct place now;
	char buf[512];

	take(&now);
	*now_out = now;
	errno = 0;
	if (has_proc && strcmp(now.link, was->link))
		snprintf(msg, len, "cwd reads %.80s, was %.80s", now.link, was->link);
	else if (getcwd(buf, sizeof(buf)) || errno != ENOENT)
		snprintf(msg, len, "getcwd gives %.80s (%s), not ENOENT", errno ? "" : buf,
			 strerror(errno));
	else if (!S_ISDIR(now.st.st_mode) || now.st.st_mode != was->st.st_mode ||
		 now.st.st_nlink != was->st.st_nlink)
		snprintf(msg, len, "'.' mode %o links %lu, was %o %lu", now.st.st_mode,
			 (unsigned long)now.st.st_nlink, was->st.st_mode,
			 (unsigned long)was->st.st_nlink);
	else if (now.st.st_mtim.tv_sec != was->st.st_mtim.tv_sec ||
		 now.st.st_mtim.tv_nsec != was->st.st_mtim.tv_nsec)
		snprintf(msg, len, "'.' mtime %ld.%09ld, was %ld.%09ld", now.st.st_mtim.tv_sec,
			 now.st.st_mtim.tv_nsec, was->st.st_mtim.tv_sec, was->st.st_mtim.tv_nsec);
	else if (open("newfile", O_CREAT | O_WRONLY, 0600) >= 0 || errno != ENOENT)
		snprintf(msg, len, "a file could be created in it (%s)", strerror(errno));
}

static void wait_usr1(void)
{
	sigset_t none;
	sigemptyset(&none);
	while (!woken)
		sigsuspend(&none);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	struct timespec ts[2] = {{1200000000, 123456789}, {1250000000, 987654321}};
	struct place r_was, was, now;
	pid_t kids[4];
	char top[4096];
	sigset_t usr1;
	int status;

	zt_init(argc, argv);
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED)
		zt_fail("mmap: %m");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	if (mkdir("wd", 0751) < 0 || mkdir("real (deleted)", 0700) < 0 || mkdir("jail", 0705) < 0 ||
	    utimensat(AT_FDCWD, "wd", ts, 0) < 0 || utimensat(AT_FDCWD, "jail", ts, 0) < 0)
		zt_fail("mkdir: %m");

	/* B: in a directory whose name only looks like a removed one's */
	if ((kids[1] = fork()) == 0) {
		char *p = rep->problem[1], buf[512], want[512];
		if (chdir("real (deleted)") < 0 || !getcwd(want, sizeof(want)))
			_exit(2);
		take(&was);
		wait_usr1();
		struct place now;
		take(&now);
		int fd = open("newfile", O_CREAT | O_WRONLY, 0600);
		if (strcmp(now.link, was.link) || now.st.st_ino != was.st.st_ino)
			snprintf(p, 200, "cwd %.80s, was %.80s", now.link, was.link);
		else if (!getcwd(buf, sizeof(buf)) || strcmp(buf, want))
			snprintf(p, 200, "getcwd: %m");
		else if (fd < 0)
			snprintf(p, 200, "cannot create a file in it: %m");
		unlink("newfile");
		rep->done[1] = 1;
		_exit(p[0] ? 1 : 0);
	}
	/* C: chrooted into a directory R removes */
	if ((kids[2] = fork()) == 0) {
		char *p = rep->problem[2];
		struct stat root, dot;
		if (chdir("jail") < 0 || chroot(".") < 0)
			_exit(2);
		rep->chrooted = 1;
		while (!rep->gone)
			usleep(1000);
		take(&was);
		wait_usr1();
		check_removed(&was, false, p, 200, &now);
		if (!p[0] && (stat("/", &root) < 0 || stat(".", &dot) < 0 ||
			      root.st_ino != dot.st_ino || root.st_dev != dot.st_dev))
			snprintf(p, 200, "root inode %lu, cwd %lu: not one directory",
				 (unsigned long)root.st_ino, (unsigned long)dot.st_ino);
		rep->done[2] = 1;
		_exit(p[0] ? 1 : 0);
	}
	/* D: in tree/a/b, and the whole tree is removed (rm -rf) */
	if (mkdir("tree", 0755) < 0 || mkdir("tree/a", 0755) < 0 || mkdir("tree/a/b", 0713) < 0 ||
	    !getcwd(top, sizeof(top)))
		zt_fail("mkdir tree: %m");
	if ((kids[3] = fork()) == 0) {
		char *p = rep->problem[3];
		if (chdir("tree/a/b") < 0)
			_exit(2);
		rep->in_tree = 1;
		while (!rep->gone)
			usleep(1000);
		take(&was);
		wait_usr1();
		check_removed(&was, true, p, 200, &now);
		if (!p[0] && !strstr(now.link, "/tree/a/b (deleted)"))
			snprintf(p, 200, "cwd %.100s", now.link);
		rep->done[3] = 1;
		_exit(p[0] ? 1 : 0);
	}
	if (chdir("wd") < 0)
		zt_fail("chdir: %m");
	/* A: in R's directory, a directory of its own (fork: no CLONE_FS) */
	if ((kids[0] = fork()) == 0) {
		char *p = rep->problem[0];
		while (!rep->gone)
			usleep(1000);
		take(&was);
		wait_usr1();
		check_removed(&was, true, p, 200, &now);
		while (!p[0] && !rep->r_set)
			usleep(1000);
		if (!p[0] && rep->r_ino != now.st.st_ino)
			snprintf(p, 200, "not in R's directory: inode %lu, R's %lu",
				 (unsigned long)now.st.st_ino, (unsigned long)rep->r_ino);
		rep->done[0] = 1;
		_exit(p[0] ? 1 : 0);
	}
	if (kids[0] < 0 || kids[1] < 0 || kids[2] < 0 || kids[3] < 0)
		zt_fail("fork: %m");
	while (!rep->chrooted || !rep->in_tree)
		usleep(1000);
	if (rmdir("../wd") < 0 || rmdir("../jail") < 0 || rmdir("../tree/a/b") < 0 ||
	    rmdir("../tree/a") < 0 || rmdir("../tree") < 0)
		zt_fail("rmdir: %m");
	take(&r_was);
	rep->gone = 1;

	zt_ready();
	zt_wait_for_check();

	char msg[200] = "";
	struct stat st;
	struct place r_now;
	check_removed(&r_was, true, msg, sizeof(msg), &r_now);
	zt_expect(!msg[0], "R: %s", msg);
	zt_expect(strstr(r_was.link, "/wd (deleted)") != NULL, "R: cwd was '%s'", r_was.link);
	stat(".", &st);
	rep->r_ino = st.st_ino;
	rep->r_set = 1;
	/* the directories made again above D's for the restore are gone again */
	char gone[4200];
	snprintf(gone, sizeof(gone), "%s/tree", top);
	errno = 0;
	zt_expect(access(gone, F_OK) < 0 && errno == ENOENT, "%s is there", gone);
	for (int i = 0; i < 4; i++)
		kill(kids[i], SIGUSR1);
	for (int i = 0; i < 4; i++) {
		zt_expect(waitpid(kids[i], &status, 0) == kids[i] && WIFEXITED(status),
			  "child %c: lost", "ABCD"[i]);
		zt_expect(rep->done[i], "child %c never checked in", "ABCD"[i]);
		zt_expect(!rep->problem[i][0], "child %c: %s", "ABCD"[i], rep -> problem[i]);
	}
	zt_pass();
}
