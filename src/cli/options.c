/* The command line and configuration files, parsed through the option table (opt_table.c):
 * getopt's tables are made from it, each option's argument is checked and applied to the
 * action's settings (struct cli), a refused one named, a no-op one logged. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt_table.h"
#include "core/log.h"

/* The version of the original tool's command line that cryo's follows: the one whose options
 * the table lists (clients such as lxc-checkpoint want 2.0 or later). */
#define INTERFACE_VERSION "3.17"
#define CRYO_VERSION "0.1"

static void print_version(void)
{
	printf("Version: %s\n"
	       "cryo version %s (the command line of CRIU %s)\n",
	       INTERFACE_VERSION, CRYO_VERSION, INTERFACE_VERSION);
}

char *cli_keep(struct cli *cli, char *s)
{
	char **n = realloc(cli->owned, (cli->nr_owned + 1) * sizeof(*n));
	if (!n) {
		free(s);
		return NULL;
	}
	cli->owned = n;
	cli->owned[cli->nr_owned++] = s;
	return s;
}

void cli_free(struct cli *cli)
{
	for (int i = 0; i < cli->nr_owned; i++)
		free(cli->owned[i]);
	free(cli->owned);
	cli->owned = NULL;
	cli->nr_owned = 0;
}

/* A decimal number in [min, max], the whole string. */
static int parse_num(const char *s, long min, long max, long *out)
{
	char *end;
	long v;
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "pipe:[INODE]", as /proc/PID/fd shows a pipe: its inode, or 0 */
static unsigned long long parse_pipe_key(const char *s)
{
	char *end;
	unsigned long long ino;
	if (strncmp(s, "pipe:[", 6) || s[6] < '1' || s[6] > '9')
		return 0;
	errno = 0;
	ino = strtoull(s + 6, &end, 10);
	return errno || strcmp(end, "]") ? 0 : ino;
}

/* "fifo:PATH": an absolute path, no longer than a path may be */
static bool fifo_key_ok(const char *s)
{
	return !strncmp(s, "fifo:/", 6) && strlen(s + 5) < 4096;
}

/* the other keys of the original's --external and --inherit-fd (file[mnt_id:inode],
 * tty[rdev:dev], unix[ino], dev[...], net[...], mnt[...]...): not supported yet */
static bool original_key(const char *s)
{
	static const char *const kinds[] = {"file[", "tty[",  "unix[",	  "dev[", "net[",
					    "mnt[",  "veth[", "macvlan[", "pid["};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strncmp(s, kinds[i], strlen(kinds[i])))
			return true;
	return false;
}

static int bad_arg(const struct opt_def *o, const char *arg, const char *why, const char *where)
{
	fprintf(stderr, "Error: invalid argument for --%s: '%s' (%s; %s)\n", o->name,
		arg ? arg : "", why, where);
	return -EINVAL;
}

static int apply(struct cli *cli, const struct opt_def *o, bool neg, const char *arg,
		 const char *where)
{
	size_t i = o - opts;
	long n;

	cli->where[i] = where;
	cli->value[i] = !neg;
	cli->arg[i] = arg;
	switch (o->id) {
	case O_TREE:
		if (parse_num(arg, 1, 4194304, &n))
			return bad_arg(o, arg, "a process id", where);
		cli->dump.pid = n;
		break;
	case O_DETACH:
		cli->detach = !neg;
		break;
	case O_SIBLING:
		cli->sibling = !neg;
		break;
	case O_STOPPED:
		cli->final_state = FINAL_STOPPED;
		break;
	case O_RUNNING:
		cli->final_state = FINAL_RUNNING;
		break;
	case O_TRACK_MEM:
		cli->dump.track_mem = !neg;
		break;
	case O_PREV_IMAGES:
		cli->dump.prev_images_dir = arg;
		break;
	case O_PAGE_SERVER:
		cli->dump.page_server = !neg;
		break;
	case O_COMPRESS:
		cli->dump.compress = !neg;
		break;
	case O_AUTO_DEDUP:
		cli->dump.auto_dedup = !neg;
		break;
	case O_LAZY_PAGES:
		cli->lazy_pages = !neg;
		break;
	case O_ADDRESS:
		cli->dump.address = cli->pserver.address = arg;
		break;
	case O_PORT:
		if (parse_num(arg, 1, 65535, &n))
			return bad_arg(o, arg, "a TCP port, 1 to 65535", where);
		cli->dump.port = cli->pserver.port = n;
		break;
	case O_DAEMON:
		cli->daemon = !neg;
		break;
	case O_TO: {
		const char *colon = strrchr(arg, ':');
		if (!colon || colon == arg || parse_num(colon + 1, 1, 65535, &n))
			return bad_arg(o, arg, "HOST:PORT, the port 1 to 65535", where);
		char *host = cli_keep(cli, strndup(arg, (size_t)(colon - arg)));
		if (!host)
			return -ENOMEM;
		/* [::1]:PORT: the address inside the brackets */
		size_t hl = strlen(host);
		if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = 0;
		}
		cli->migrate.to_address = host;
		cli->migrate.to_port = (int)n;
		break;
	}
	case O_TLS:
		cli->dump.tls.on = !neg;
		break;
	case O_TLS_CACERT:
		cli->dump.tls.cacert = arg;
		break;
	case O_TLS_CACRL:
		cli->dump.tls.cacrl = arg;
		break;
	case O_TLS_CERT:
		cli->dump.tls.cert = arg;
		break;
	case O_TLS_KEY:
		cli->dump.tls.key = arg;
		break;
	case O_TLS_NO_CN:
		cli->dump.tls.no_cn_verify = true;
		break;
	case O_TLS_NO_CERT:
		cli->dump.tls.no_cert_verify = true;
		break;
	case O_IMAGES:
		cli->images_dir = arg;
		break;
	case O_PIDFILE:
		cli->pidfile = arg;
		break;
	case O_FREEZE_CG:
		cli->dump.freeze_cgroup = arg;
		break;
	case O_SHELL_JOB:
		cli->shell_job = !neg;
		break;
	case O_FILE_LOCKS:
		/* a restore takes again whatever locks the images hold: only the dump needs it */
		cli->dump.file_locks = !neg;
		break;
	case O_TIMEOUT:
		if (parse_num(arg, 1, 1000000, &n))
			return bad_arg(o, arg, "seconds, 1 to 1000000", where);
		cli->dump.timeout = n;
		break;
	case O_EXT_UNIX_SK:
		/* the images say which sockets to connect again: only the dump needs it */
		if (arg)
			return bad_arg(o, arg, "nothing (cryo takes no inode list)", where);
		cli->dump.ext_unix_sk = true;
		break;
	case O_EXTERNAL:
		if (cli->dump.nr_external == CRYO_MAX_EXTERNAL)
			return bad_arg(o, arg, "too many of them", where);
		if (!parse_pipe_key(arg) && !fifo_key_ok(arg)) {
			if (original_key(arg)) {
				fprintf(stderr,
					"Error: --external %s: not supported yet (only "
					"pipe:[INODE] and fifo:PATH; %s)\n",
					arg, where);
				return -ENOTSUP;
			}
			return bad_arg(o, arg, "pipe:[INODE] or fifo:/ABSOLUTE/PATH", where);
		}
		cli->dump.external[cli->dump.nr_external++] = arg;
		break;
	case O_INHERIT_FD: {
		char num[16];
		const char *key;
		size_t len = strlen("fd[");
		if (strncmp(arg, "fd[", len) || !(key = strstr(arg, "]:")) ||
		    (size_t)(key - arg - len) >= sizeof(num) || !key[2])
			return bad_arg(o, arg, "fd[N]:KEY", where);
		memcpy(num, arg + len, key - arg - len);
		num[key - arg - len] = 0;
		key += 2;
		if (parse_num(num, 0, INT_MAX, &n))
			return bad_arg(o, arg, "fd[N]:KEY with N a descriptor number", where);
		if (!strncmp(key, "socket:[", 8) || original_key(key)) {
			fprintf(stderr,
				"Error: --inherit-fd %s: the key %s is not supported yet (%s)\n",
				arg, key, where);
			return -ENOTSUP;
		}
		if (!strncmp(key, "pipe:", 5) && !parse_pipe_key(key))
			return bad_arg(o, arg, "fd[N]:pipe:[INODE]", where);
		if (fcntl((int)n, F_GETFD) < 0) {
			fprintf(stderr, "Error: --inherit-fd %s: cryo has no fd %ld\n", arg, n);
			return -EBADF;
		}
		if (cli->restore.nr_inherit == CRYO_MAX_EXTERNAL)
			return bad_arg(o, arg, "too many of them", where);
		cli->restore.inherit[cli->restore.nr_inherit++] =
		    (struct cryo_inherit_fd){(int)n, key};
		break;
	}
	case O_SKIP_IN_FLIGHT:
		cli->skip_in_flight = cli->dump.skip_in_flight = !neg;
		break;
	case O_NETWORK_LOCK:
		if (!strcmp(arg, "iptables")) {
			fprintf(stderr,
				"Error: --network-lock iptables is not supported yet (%s)\n",
				where);
			return -ENOTSUP;
		}
		if (strcmp(arg, "nftables") && strcmp(arg, "skip"))
			return bad_arg(o, arg, "nftables or skip", where);
		cli->dump.network_unlocked = !strcmp(arg, "skip");
		break;
	case O_TCP_ESTABLISHED:
		cli->dump.tcp_established = cli->restore.tcp_established = !neg;
		break;
	case O_TCP_CLOSE:
		cli->dump.tcp_close = !neg;
		break;
	case O_LOG_FILE:
		cli->log_file = arg;
		break;
	case O_LOG_PID:
		cli->log_pid = !neg;
		break;
	case O_VERBOSITY:
		/* -v and --verbosity: one more; -vvv: three more; -v4, --verbosity=4: 4 */
		if (!arg) {
			cli->verbosity++;
		} else if (arg[0] == 'v') {
			if (strspn(arg, "v") != strlen(arg))
				return bad_arg(o, arg, "-v, -vv..., or -vNUM", where);
			cli->verbosity += 1 + strlen(arg);
		} else {
			if (parse_num(arg, 0, 100, &n))
				return bad_arg(o, arg, "a level, 0 to 4", where);
			cli->verbosity = n;
		}
		cli->verbosity_set = true;
		break;
	case O_STATS:
		cli->display_stats = !neg;
		break;
	case O_PRE_DUMP_MODE:
		if (strcmp(arg, "splice") && strcmp(arg, "read"))
			return bad_arg(o, arg, "splice or read", where);
		break;
	case O_EXTRA:
		cli->check_extra = !neg;
		break;
	case O_EXPERIMENTAL:
		cli->check_experimental = !neg;
		break;
	case O_ALL:
		cli->check_extra = cli->check_experimental = true;
		break;
	case O_FEATURE:
		cli->feature = arg;
		break;
	case O_STATUS_FD:
		if (parse_num(arg, 0, INT_MAX, &n))
			return bad_arg(o, arg, "a descriptor number", where);
		cli->status_fd = n;
		break;
	case O_CONFIG:
	case O_NO_DEFAULT_CONFIG:
		/* read before everything else (config.c); in a file they make no sense */
		if (strcmp(where, "the command line")) {
			fprintf(stderr, "Error: --%s is not allowed in a configuration file (%s)\n",
				o->name, where);
			return -EINVAL;
		}
		break;
	case O_HELP:
	case O_VERSION:
		if (strcmp(where, "the command line")) {
			fprintf(stderr, "Error: --%s is not allowed in a configuration file (%s)\n",
				o->name, where);
			return -EINVAL;
		}
		if (o->id == O_HELP)
			cli_usage(stdout);
		else
			print_version();
		return 1;
	case O_OTHER:
		/* REFUSE: judged once every source is read (a later --no-NAME may turn it
		 * off); NOOP: logged by cli_log_notes */
		break;
	}
	return 0;
}

int cli_apply_named(struct cli *cli, const char *name, const char *arg, bool has_arg,
		    const char *where)
{
	for (size_t i = 0; i < NR_OPTS; i++) {
		const struct opt_def *o = &opts[i];
		bool neg = false;
		if (strcmp(name, o->name)) {
			if (!o->negatable || strncmp(name, "no-", 3) || strcmp(name + 3, o->name))
				continue;
			neg = true;
		}
		if (has_arg && (neg || o->arg == NONE)) {
			fprintf(stderr, "Error: option %s takes no argument (%s)\n", name, where);
			return -EINVAL;
		}
		if (!has_arg && !neg && o->arg == REQ) {
			fprintf(stderr, "Error: option %s needs an argument (%s)\n", name, where);
			return -EINVAL;
		}
		return apply(cli, o, neg, has_arg ? arg : NULL, where);
	}
	fprintf(stderr, "Error: unknown option '%s' (%s)\n", name, where);
	return -EINVAL;
}

/* getopt's tables, from ours: each option's val is 1000 + 2 * index (+ 1 for --no-NAME). */
struct getopt_tables {
	struct option longs[2 * CLI_MAX_OPTS + 1];
	char no_names[CLI_MAX_OPTS][40];
	char shorts[3 * CLI_MAX_OPTS + 2];
};

static void make_tables(struct getopt_tables *t)
{
	int nl = 0, ns = 0;
	t->shorts[ns++] = ':'; /* missing arguments reported as ':' */
	for (size_t i = 0; i < NR_OPTS; i++) {
		const struct opt_def *o = &opts[i];
		int has = o->arg == NONE  ? no_argument
			  : o->arg == REQ ? required_argument
					  : optional_argument;
		t->longs[nl++] = (struct option){o->name, has, NULL, 1000 + 2 * (int)i};
		if (o->negatable) {
			snprintf(t->no_names[i], sizeof(t->no_names[i]), "no-%s", o->name);
			t->longs[nl++] =
			    (struct option){t->no_names[i], no_argument, NULL, 1001 + 2 * (int)i};
		}
		if (o->short_name) {
			t->shorts[ns++] = o->short_name;
			if (o->arg != NONE)
				t->shorts[ns++] = ':';
			if (o->arg == OPT)
				t->shorts[ns++] = ':';
		}
	}
	t->longs[nl] = (struct option){NULL, 0, NULL, 0};
	t->shorts[ns] = 0;
}

static const struct opt_def *by_short(int c)
{
	for (size_t i = 0; i < NR_OPTS; i++)
		if (opts[i].short_name == c)
			return &opts[i];
	return NULL;
}

static int parse_argv(struct cli *cli, int argc, char **argv)
{
	struct getopt_tables *t = calloc(1, sizeof(*t));
	int c, ret = 0;

	if (!t)
		return -ENOMEM;
	make_tables(t);
	optind = 0; /* glibc: start afresh */
	opterr = 0;
	while (!ret && (c = getopt_long(argc, argv, t->shorts, t->longs, NULL)) != -1) {
		const struct opt_def *o;
		bool neg = false;
		if (c == '?' || c == ':') {
			const char *what = argv[optind - 1];
			if (optopt && optopt < 256)
				fprintf(stderr, "Error: %s -%c\n",
					c == ':' ? "missing argument for" : "unknown option",
					optopt);
			else
				fprintf(stderr, "Error: %s %s\n",
					c == ':' ? "missing argument for" : "unknown option", what);
			ret = -EINVAL;
			break;
		}
		if (c >= 1000) {
			o = &opts[(c - 1000) / 2];
			neg = (c - 1000) & 1;
		} else if (!(o = by_short(c))) {
			ret = -EINVAL;
			break;
		}
		ret = apply(cli, o, neg, optarg, "the command line");
	}
	free(t);
	if (ret)
		return ret;
	if (optind >= argc) {
		cli_usage(stderr);
		return -EINVAL;
	}
	cli->action = argv[optind++];
	for (; optind < argc; optind++) {
		if (cli->nr_args == 2) {
			fprintf(stderr, "Error: unexpected argument '%s'\n", argv[optind]);
			return -EINVAL;
		}
		cli->args[cli->nr_args++] = argv[optind];
	}
	return 0;
}

static const struct {
	const char *name;
	unsigned mask;
	int nr_args;
} actions[] = {
    {"dump", A_DUMP, 0},
    {"restore", A_RESTORE, 0},
    {"check", A_CHECK, 0},
    {"show", A_SHOW, 1},
    {"cpuinfo", A_CPUINFO, 1},
    {"pre-dump", A_DUMP, 0},
    {"page-server", A_PSERVER, 0},
    {"lazy-pages", A_LAZY, 0},
    {"dedup", A_DUMP, 0},
    {"migrate", A_DUMP | A_MIGRATE, 0},
    {"migrate-target", A_PSERVER | A_MTARGET, 0},
    {"exec", A_OTHER, 2},
    {"service", A_OTHER, 0},
    {"swrk", A_OTHER, 1},
};

/* After every source: refuse what cryo does not implement, check what goes together. */
static int finish(struct cli *cli)
{
	for (size_t i = 0; i < NR_OPTS; i++) {
		const struct opt_def *o = &opts[i];
		if (o->kind != REFUSE || !cli->where[i] || !cli->value[i])
			continue;
		fprintf(stderr, "Error: option --%s is not supported yet%s%s%s\n", o->name,
			strcmp(cli->where[i], "the command line") ? " (" : "",
			strcmp(cli->where[i], "the command line") ? cli->where[i] : "",
			strcmp(cli->where[i], "the command line") ? ")" : "");
		return -ENOTSUP;
	}
	cli->action_mask = 0;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(cli->action, actions[i].name)) {
			cli->action_mask = actions[i].mask;
			if (cli->nr_args > actions[i].nr_args) {
				fprintf(stderr, "Error: unexpected argument '%s'\n",
					cli->args[actions[i].nr_args]);
				return -EINVAL;
			}
		}
	if (cli->status_fd >= 0 && fcntl(cli->status_fd, F_GETFD) < 0) {
		fprintf(stderr, "Error: --status-fd %d: no such open descriptor\n", cli->status_fd);
		return -EBADF;
	}
	cli->dump.images_dir = cli->restore.images_dir = cli->images_dir ? cli->images_dir : ".";
	cli->dump.leave_running = cli->final_state == FINAL_RUNNING;
	cli->dump.leave_stopped = cli->final_state == FINAL_STOPPED;
	cli->dump.shell_job = cli->restore.shell_job = cli->shell_job;
	cli->restore.sibling = cli->sibling;
	cli->restore.detach = cli->detach || cli->sibling;
	cli->restore.leave_stopped = cli->final_state == FINAL_STOPPED;
	cli->restore.pidfile = cli->pidfile;
	cli->restore.log_pid = cli->log_pid;
	if (cli->status_fd >= 0) {
		cli->restore.status_fd = cli->status_fd;
		cli->restore.has_status_fd = true;
	}
	cli->pserver.images_dir = cli->images_dir ? cli->images_dir : ".";
	cli->pserver.daemon = cli->daemon || cli->detach; /* the original's -d */
	cli->pserver.status_fd = cli->status_fd;
	cli->pserver.pidfile = cli->pidfile;
	cli->pserver.tls = cli->dump.tls;
	cli->lazy.images_dir = cli->pserver.images_dir;
	cli->lazy.daemon = cli->pserver.daemon;
	cli->lazy.status_fd = cli->status_fd;
	cli->lazy.pidfile = cli->pidfile;
	cli->restore.lazy_pages = cli->lazy_pages;
	return 0;
}

int cli_parse(struct cli *cli, int argc, char **argv)
{
	int ret;

	cli->verbosity = LOG_WARN;
	cli->status_fd = -1;
	/* --help and --version answer at once, whatever the configuration files hold */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ||
		    !strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			if (argv[i][1] == 'h' || argv[i][2] == 'h')
				cli_usage(stdout);
			else
				print_version();
			return 1;
		}
	ret = cli_read_configs(cli, argc, argv);
	if (!ret)
		ret = parse_argv(cli, argc, argv);
	if (!ret)
		ret = finish(cli);
	return ret;
}

void cli_log_notes(const struct cli *cli)
{
	for (size_t i = 0; i < NR_OPTS; i++) {
		const struct opt_def *o = &opts[i];
		if (!cli->where[i])
			continue;
		/* what each option ended as, and from where: the log says what cryo was told */
		pr_debug("option --%s%s%s%s (%s)", cli->value[i] ? "" : "no-", o->name,
			 cli->arg[i] ? " " : "", cli->arg[i] ? cli->arg[i] : "", cli->where[i]);
		if (o->kind == REFUSE)
			continue;
		if (!(o->actions & cli->action_mask))
			pr_info("--%s (%s) changes nothing for %s", o->name, cli->where[i],
				cli->action);
		else if (o->kind == NOOP)
			pr_info("--%s (%s) changes nothing: %s", o->name, cli->where[i], o->why);
	}
}
