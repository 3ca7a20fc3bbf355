/* libcryo: checkpoint and restore of Linux processes. The command-line tool is a thin front end
 * over these calls; tests and other programs may use them directly. */
#ifndef CRYO_CRYO_H
#define CRYO_CRYO_H

#include <stdbool.h>
#include <sys/types.h>

struct cryo_dump_opts {
	pid_t pid;		   /* -t: root of the tree to dump */
	const char *images_dir;	   /* -D */
	bool leave_running;	   /* -R */
	bool shell_job;		   /* -j */
	const char *freeze_cgroup; /* --freeze-cgroup: freeze the tree with this cgroup's freezer */
};

struct cryo_restore_opts {
	const char *images_dir; /* -D */
	bool detach;		/* -d */
	bool sibling;		/* --restore-sibling: the root is cryo's sibling (implies detach) */
	bool shell_job;		/* -j */
	const char *pidfile;	/* --pidfile */
};

/* Each returns 0 on success or a negative errno value; the reason has been logged. */
int cryo_check(void);
int cryo_dump(const struct cryo_dump_opts *opts);
/* On success without opts->detach this waits for the restored root and returns its wait
 * status in *status (when status is not NULL). */
int cryo_restore(const struct cryo_restore_opts *opts, int *status);
/* Print one image file as JSON on stdout. */
int cryo_show(const char *path);

#endif
