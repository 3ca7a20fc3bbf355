/* The command line's state: what every option source (configuration files, then the command
 * line) has set, merged in order, the last setting winning. */
#ifndef CRYO_CLI_H
#define CRYO_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "cryo/cryo.h"

/* Actions, as a mask: which ones an option means something for. */
enum {
	A_DUMP = 1 << 0,
	A_RESTORE = 1 << 1,
	A_CHECK = 1 << 2,
	A_SHOW = 1 << 3,
	A_CPUINFO = 1 << 4,
	A_OTHER = 1 << 5,   /* actions cryo refuses (exec, service...) */
	A_PSERVER = 1 << 6, /* page-server */
	A_MIGRATE = 1 << 7, /* migrate (with A_DUMP: the dump's options are its own) */
	A_MTARGET = 1 << 8, /* migrate-target (with A_PSERVER) */
	A_LAZY = 1 << 9,    /* lazy-pages */
	A_ALL = (1 << 10) - 1,
};

enum final_state { FINAL_KILL, FINAL_RUNNING, FINAL_STOPPED };

#define CLI_MAX_OPTS 128

struct cli {
	const char *action;
	unsigned action_mask;
	const char *args[2]; /* positional arguments after the action */
	int nr_args;

	struct cryo_dump_opts dump;
	struct cryo_restore_opts restore;
	const char *images_dir;
	const char *log_file;
	const char *pidfile;
	int verbosity;
	bool verbosity_set;
	enum final_state final_state;
	bool detach, sibling, shell_job;
	bool log_pid, display_stats, skip_in_flight;
	bool check_extra, check_experimental;
	const char *feature;
	int status_fd; /* -1: none */
	bool daemon;   /* page-server -d, --daemon */
	struct cryo_page_server_opts pserver;
	struct cryo_lazy_pages_opts lazy;
	bool lazy_pages;		  /* --lazy-pages */
	struct cryo_migrate_opts migrate; /* migrate: --to; its dump options are dump's */

	/* per option of the table: where it was last set ("the command line", FILE:LINE) and,
	 * for a yes/no option, its last value; read after parsing to refuse what cryo does not
	 * implement and to log what an option changes */
	const char *where[CLI_MAX_OPTS];
	bool value[CLI_MAX_OPTS];
	const char *arg[CLI_MAX_OPTS];

	/* strings read from configuration files, freed by cli_free */
	char **owned;
	int nr_owned;
};

/* Parse configuration files and argv into cli. Returns 0, 1 when the call is done (--help,
 * --version printed), or a negative errno value after printing the reason to stderr. */
int cli_parse(struct cli *cli, int argc, char **argv);
/* Log what options changed nothing or were given to an action they mean nothing for; called
 * once the log is set up. */
void cli_log_notes(const struct cli *cli);
void cli_usage(FILE *f);
void cli_free(struct cli *cli);

/* options.c: apply one option by its long name ("no-NAME" for the negation of a yes/no one),
 * for configuration files; where names the source in messages. */
int cli_apply_named(struct cli *cli, const char *name, const char *arg, bool has_arg,
		    const char *where);
char *cli_keep(struct cli *cli, char *s);

/* config.c: the configuration files, in the original's order. argv is scanned for
 * --no-default-config and --config FILE. */
int cli_read_configs(struct cli *cli, int argc, char **argv);
int cli_read_config_file(struct cli *cli, const char *path, bool must_exist);

/* actions.c */
int cli_run_dump(struct cli *cli);
int cli_run_restore(struct cli *cli);
int cli_run_check(struct cli *cli);
int cli_run_cpuinfo(struct cli *cli);
int cli_run_page_server(struct cli *cli);
int cli_run_lazy_pages(struct cli *cli);
int cli_run_migrate(struct cli *cli);
int cli_run_migrate_target(struct cli *cli);

#endif
