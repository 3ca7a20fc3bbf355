/* Inside src/cli/: the table of every option (opt_table.c) that the parser (options.c) reads.
 * One entry per option of the original tool's command line: what cryo does with it, its
 * forms, and its line in --help. */
#ifndef CRYO_CLI_OPT_TABLE_H
#define CRYO_CLI_OPT_TABLE_H

#include <stdbool.h>
#include <stddef.h>

enum kind {
	DO,	/* implemented */
	NOOP,	/* accepted: nothing for cryo to change; the reason goes to the log */
	REFUSE, /* not implemented yet: refused by name */
};

enum arg { NONE, REQ, OPT };

enum group {
	G_GENERIC,
	G_EXTERNAL,
	G_SPECIAL,
	G_LOGGING,
	G_MEMORY,
	G_CHECK,
	G_SERVER,
	G_CONFIG,
	G_OTHER,
	G_NR
};

enum id {
	O_TREE = 1,
	O_DETACH,
	O_SIBLING,
	O_STOPPED,
	O_RUNNING,
	O_IMAGES,
	O_PIDFILE,
	O_FREEZE_CG,
	O_SHELL_JOB,
	O_FILE_LOCKS,
	O_TIMEOUT,
	O_SKIP_IN_FLIGHT,
	O_EXT_UNIX_SK,
	O_EXTERNAL,
	O_INHERIT_FD,
	O_LOG_FILE,
	O_LOG_PID,
	O_VERBOSITY,
	O_STATS,
	O_PRE_DUMP_MODE,
	O_EXTRA,
	O_EXPERIMENTAL,
	O_ALL,
	O_FEATURE,
	O_STATUS_FD,
	O_CONFIG,
	O_NO_DEFAULT_CONFIG,
	O_HELP,
	O_VERSION,
	O_TRACK_MEM,
	O_PREV_IMAGES,
	O_NETWORK_LOCK,
	O_TCP_ESTABLISHED,
	O_TCP_CLOSE,
	O_PAGE_SERVER,
	O_ADDRESS,
	O_PORT,
	O_DAEMON,
	O_TLS,
	O_TLS_CACERT,
	O_TLS_CACRL,
	O_TLS_CERT,
	O_TLS_KEY,
	O_TLS_NO_CN,
	O_TLS_NO_CERT,
	O_COMPRESS,
	O_AUTO_DEDUP,
	O_LAZY_PAGES,
	O_TO,
	O_OTHER, /* NOOP and REFUSE entries */
};

struct opt_def {
	const char *name;
	char short_name;
	enum arg arg;
	bool negatable; /* a yes/no option: --no-NAME turns it off */
	enum kind kind;
	enum id id;
	unsigned actions; /* where it means something (DO, NOOP) */
	enum group group;
	const char *metavar;
	const char *help; /* the --help line */
	const char *why;  /* NOOP: why nothing changes, for the log */
};

/* The table, and how many entries it has (at most CLI_MAX_OPTS) */
extern const struct opt_def opts[];
extern const size_t cli_nr_opts;
#define NR_OPTS cli_nr_opts

#endif
