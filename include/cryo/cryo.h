/* libcryo: checkpoint and restore of Linux processes. The command-line tool is a thin front end
 * over these calls; tests and other programs may use them directly. */
#ifndef CRYO_CRYO_H
#define CRYO_CRYO_H

#include <stdbool.h>
#include <sys/types.h>

#define CRYO_MAX_EXTERNAL 32

/* --inherit-fd fd[N]:KEY: cryo's descriptor N (from its caller) stands for the external
 * resource KEY ("pipe:[INODE]", a regular file's path without its leading '/') */
struct cryo_inherit_fd {
	int fd;
	const char *key;
};

/* --tls and its files, on both ends of a page server connection (defaults: the original's,
 * under /etc/pki/) */
struct cryo_tls_opts {
	bool on;	     /* --tls */
	const char *cacert;  /* --tls-cacert: the CA that signed the peer's certificate */
	const char *cacrl;   /* --tls-cacrl: its revocation list (used if the file exists) */
	const char *cert;    /* --tls-cert: our certificate */
	const char *key;     /* --tls-key: its private key */
	bool no_cn_verify;   /* --tls-no-cn-verify: the server's name is not checked */
	bool no_cert_verify; /* --tls-no-cert-verify: the peer's certificate is not checked */
};

struct cryo_dump_opts {
	pid_t pid;		   /* -t: root of the tree to dump */
	const char *images_dir;	   /* -D */
	bool leave_running;	   /* -R */
	bool shell_job;		   /* -j */
	const char *freeze_cgroup; /* --freeze-cgroup: freeze the tree with this cgroup's freezer */
	bool leave_stopped;	   /* -s: after a dump that succeeded, the tree is left stopped */
	unsigned int timeout;	   /* --timeout: seconds to freeze the tree; 0: 10 */
	bool file_locks; /* --file-locks: save file locks (else a task with one is refused) */
	bool pre_dump;	 /* pre-dump: memory only, tree left running, writes tracked */
	bool track_mem;	 /* --track-mem */
	const char *prev_images_dir; /* --prev-images-dir: relative to images_dir, "../NAME" */
	/* --ext-unix-sk: datagram unix sockets connected to a named socket outside the tree */
	bool ext_unix_sk;
	bool skip_in_flight;   /* --skip-in-flight: leave out queued connections */
	bool tcp_established;  /* --tcp-established: save established TCP connections */
	bool tcp_close;	       /* --tcp-close: established connections restored closed */
	bool network_unlocked; /* --network-lock skip: no firewall rule holds the connections */
	/* --external KEY: resources held outside the tree that the dump saves as external
	 * (their key only; the restore is given them with --inherit-fd): "pipe:[INODE]" */
	const char *external[CRYO_MAX_EXTERNAL];
	int nr_external;
	/* --page-server: pagemaps and pages go to the page server at address:port */
	bool page_server;
	const char *address;
	int port;
	struct cryo_tls_opts tls;
	bool compress; /* --compress: page images as LZ4 frames */
	/* --auto-dedup: the chain of parents deduplicated (cryo_dedup) once the dump is done */
	bool auto_dedup;
	/* --lazy-pages --port [--address]: the private anonymous memory stays in the frozen
	 * tree, served to `cryo lazy-pages --page-server` until it has it all */
	bool lazy_remote;
	/* cryo_migrate's own: the session of migrate-target the pages go to ("1", "final") */
	const char *ps_session;
};

/* `cryo page-server`: receives the pages of one dump into images_dir, then exits. */
struct cryo_page_server_opts {
	const char *images_dir; /* -D */
	const char *address;	/* --address (NULL: every address) */
	int port;		/* --port */
	bool daemon;		/* -d, --daemon: in the background once it listens */
	int status_fd;		/* --status-fd: one byte once it listens (-1: none) */
	const char *pidfile;	/* --pidfile: the server's pid */
	struct cryo_tls_opts tls;
};

/* `cryo lazy-pages`: serves the memory of one lazy restore (--lazy-pages), then exits. */
struct cryo_lazy_pages_opts {
	const char *images_dir; /* -D: the images, and the socket lazy-pages.socket */
	bool daemon;		/* -d, --daemon: in the background once it listens */
	int status_fd;		/* --status-fd: one byte once it listens (-1: none) */
	const char *pidfile;	/* --pidfile: the daemon's pid */
	/* --page-server --address --port: the pages left in a tree by dump --lazy-pages come
	 * from that dump (pages/lazy_fetch.c); NULL address: local pages only */
	const char *address;
	int port;
	struct cryo_tls_opts tls;
};

/* `cryo migrate -t PID --to HOST:PORT`: iterative pre-dumps through migrate-target's page
 * server, the final dump, its other images sent, the restore there (src/migrate/). */
struct cryo_migrate_opts {
	struct cryo_dump_opts dump; /* the tree and the dump's options; images_dir: a work
				     * directory here (NULL: a new one in /tmp) */
	const char *to_address;
	int to_port;
	int max_iterations; /* pre-dumps at most (0: 8) */
	bool lazy; /* --lazy-pages: post-copy, the memory comes in as the tree runs there */
};

/* `cryo migrate-target -D DIR --port P`: receives one migration into DIR and restores it. */
struct cryo_migrate_target_opts {
	struct cryo_page_server_opts server; /* -D, --address, --port, -d, --status-fd, --tls */
};

struct cryo_restore_stats {
	unsigned int tasks;
	unsigned long long total_ns;
	unsigned long long pages; /* pages of memory read in from the images */
};

struct cryo_restore_opts {
	const char *images_dir; /* -D */
	bool detach;		/* -d */
	bool sibling;		/* --restore-sibling: the root is cryo's sibling (implies detach) */
	bool shell_job;		/* -j */
	const char *pidfile;	/* --pidfile */
	bool leave_stopped;	/* -s: the restored tree is left stopped (SIGSTOP) */
	bool log_pid;		/* --log-pid: each restored process logs to LOG.PID */
	bool has_status_fd;	/* --status-fd: one zero byte written to status_fd, which is */
	int status_fd;		/* then closed, once the tree runs */
	struct cryo_restore_stats *stats; /* filled on success when not NULL */
	bool tcp_established;		  /* --tcp-established: images may hold TCP connections */
	bool lazy_pages;		  /* --lazy-pages: private anonymous memory comes from the
					   * lazy-pages daemon as the tree runs */
	struct cryo_inherit_fd inherit[CRYO_MAX_EXTERNAL];
	int nr_inherit;
};

/* Each returns 0 on success or a negative errno value; the reason has been logged. */
int cryo_check(void);
/* `check --feature NAME`: 0 when this kernel and cryo can do what the original tool's feature
 * NAME stands for, -ENOTSUP when not (why is logged), -EINVAL for an unknown name. */
int cryo_check_feature(const char *name);
/* Print the feature names on stdout. */
void cryo_list_features(void);
/* `check --extra`: every feature; returns how many are missing. */
int cryo_check_extra(void);
/* `cpuinfo dump` / `cpuinfo check`: the CPU's features into cpuinfo.img of dir, or this CPU
 * against them (0: it has every one; -ENOTSUP: some are missing, named in the log). */
int cryo_cpuinfo_dump(const char *dir);
int cryo_cpuinfo_check(const char *dir);
int cryo_dump(const struct cryo_dump_opts *opts);
/* On success without opts->detach this waits for the restored root and returns its wait
 * status in *status (when status is not NULL). */
int cryo_restore(const struct cryo_restore_opts *opts, int *status);
/* `dedup`: holes punched in the page images of the pre-dumps DIR's chain of parents holds,
 * where no page of DIR needs them any more (res/parent.c). */
int cryo_dedup(const char *dir);
/* The page server: 0 once its client's dump was received whole, else -errno (logged). */
int cryo_page_server(const struct cryo_page_server_opts *opts);
/* The lazy-pages daemon: 0 once every task of its restore has its memory whole (or
 * exited), else -errno (logged). */
int cryo_lazy_pages(const struct cryo_lazy_pages_opts *opts);
int cryo_migrate(const struct cryo_migrate_opts *opts);
int cryo_migrate_target(const struct cryo_migrate_target_opts *opts);
/* Print one image file as JSON on stdout. */
int cryo_show(const char *path);

#endif
