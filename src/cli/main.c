/* The command line: `cryo ACTION [options]`, with the actions and options of the original tool
 * so that existing scripts keep working. Options not implemented yet are refused by name. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cryo/cryo.h"
#include "core/fault.h"
#include "core/log.h"

enum {
	OPT_SHOW_HELP = 'h',
	OPT_PIDFILE = 1000,
	OPT_LOG_FILE = 'o',
	OPT_UNSUPPORTED,
	OPT_VERSION,
	OPT_RESTORE_SIBLING,
	OPT_FREEZE_CGROUP,
};

static const struct option long_opts[] = {
    {"tree", required_argument, NULL, 't'},
    {"images-dir", required_argument, NULL, 'D'},
    {"leave-running", no_argument, NULL, 'R'},
    {"restore-detached", no_argument, NULL, 'd'},
    {"shell-job", no_argument, NULL, 'j'},
    {"log-file", required_argument, NULL, 'o'},
    {"pidfile", required_argument, NULL, OPT_PIDFILE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    /* Options of the original tool that cryo does not implement yet: accepted by the parser
     * so that the message can name them, then refused. */
    {"work-dir", required_argument, NULL, OPT_UNSUPPORTED},
    {"prev-images-dir", required_argument, NULL, OPT_UNSUPPORTED},
    {"page-server", no_argument, NULL, OPT_UNSUPPORTED},
    {"address", required_argument, NULL, OPT_UNSUPPORTED},
    {"port", required_argument, NULL, OPT_UNSUPPORTED},
    {"track-mem", no_argument, NULL, OPT_UNSUPPORTED},
    {"lazy-pages", no_argument, NULL, OPT_UNSUPPORTED},
    {"tcp-established", no_argument, NULL, OPT_UNSUPPORTED},
    {"tcp-close", no_argument, NULL, OPT_UNSUPPORTED},
    {"ext-unix-sk", optional_argument, NULL, OPT_UNSUPPORTED},
    {"file-locks", no_argument, NULL, OPT_UNSUPPORTED},
    {"link-remap", no_argument, NULL, OPT_UNSUPPORTED},
    {"ghost-limit", required_argument, NULL, OPT_UNSUPPORTED},
    {"manage-cgroups", optional_argument, NULL, OPT_UNSUPPORTED},
    {"cgroup-root", required_argument, NULL, OPT_UNSUPPORTED},
    {"freeze-cgroup", required_argument, NULL, OPT_FREEZE_CGROUP},
    {"root", required_argument, NULL, OPT_UNSUPPORTED},
    {"external", required_argument, NULL, OPT_UNSUPPORTED},
    {"inherit-fd", required_argument, NULL, OPT_UNSUPPORTED},
    {"action-script", required_argument, NULL, OPT_UNSUPPORTED},
    {"exec-cmd", no_argument, NULL, OPT_UNSUPPORTED},
    {"restore-sibling", no_argument, NULL, OPT_RESTORE_SIBLING},
    {"auto-dedup", no_argument, NULL, OPT_UNSUPPORTED},
    {"skip-mnt", required_argument, NULL, OPT_UNSUPPORTED},
    {"evasive-devices", no_argument, NULL, OPT_UNSUPPORTED},
    {"network-lock", required_argument, NULL, OPT_UNSUPPORTED},
    {"status-fd", required_argument, NULL, OPT_UNSUPPORTED},
    {"timeout", required_argument, NULL, OPT_UNSUPPORTED},
    {"display-stats", no_argument, NULL, OPT_UNSUPPORTED},
    {"cpu-cap", optional_argument, NULL, OPT_UNSUPPORTED},
    {"weak-sysctls", no_argument, NULL, OPT_UNSUPPORTED},
    {"stream", no_argument, NULL, OPT_UNSUPPORTED},
    {"pre-dump-mode", required_argument, NULL, OPT_UNSUPPORTED},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage:\n"
		   "  cryo check\n"
		   "  cryo dump -t PID -D DIR [-R] [--shell-job] [-v4 -o FILE]\n"
		   "  cryo restore -D DIR [-d] [--shell-job] [--pidfile FILE] [-v4 -o FILE]\n"
		   "  cryo show IMAGE-FILE\n"
		   "\n"
		   "Options:\n"
		   "  -t, --tree PID          the process (and its descendants) to dump\n"
		   "  -D, --images-dir DIR    directory of the image files\n"
		   "  -R, --leave-running     keep the dumped process running\n"
		   "      --freeze-cgroup CG  freeze the tree with the freezer of cgroup CG first\n"
		   "  -d, --restore-detached  exit once the restored process runs\n"
		   "      --restore-sibling   the restored root becomes a child of cryo's parent\n"
		   "  -j, --shell-job         the process uses the terminal it was started from\n"
		   "      --pidfile FILE      write the restored root's PID to FILE\n"
		   "  -v[NUM]                 log level 0..4 (-v alone adds one level)\n"
		   "  -o, --log-file FILE     log to FILE (relative to the images dir, as the "
		   "original tool)\n");
}

struct cli {
	const char *action;
	struct cryo_dump_opts dump;
	struct cryo_restore_opts restore;
	const char *images_dir;
	const char *log_file;
	int verbosity;
	bool verbosity_set;
};

static int parse(int argc, char **argv, struct cli *cli)
{
	int c, idx;

	cli->verbosity = LOG_WARN;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:D:Rdjo:v::hV", long_opts, &idx)) != -1) {
		switch (c) {
		case 't': {
			char *end;
			long pid = strtol(optarg, &end, 10);
			if (*end || pid <= 0 || pid > 4194304) {
				fprintf(stderr, "Error: -t needs a process id, got '%s'\n", optarg);
				return -EINVAL;
			}
			cli->dump.pid = pid;
			break;
		}
		case 'D':
			cli->images_dir = optarg;
			break;
		case 'R':
			cli->dump.leave_running = true;
			break;
		case 'd':
			cli->restore.detach = true;
			break;
		case 'j':
			cli->dump.shell_job = cli->restore.shell_job = true;
			break;
		case 'o':
			cli->log_file = optarg;
			break;
		case OPT_PIDFILE:
			cli->restore.pidfile = optarg;
			break;
		case OPT_FREEZE_CGROUP:
			cli->dump.freeze_cgroup = optarg;
			break;
		case OPT_RESTORE_SIBLING:
			cli->restore.sibling = cli->restore.detach = true;
			break;
		case 'v':
			if (!optarg)
				cli->verbosity = cli->verbosity_set ? cli->verbosity + 1 : LOG_INFO;
			else if (optarg[0] == 'v')
				cli->verbosity += 1 + strlen(optarg);
			else
				cli->verbosity = atoi(optarg);
			cli->verbosity_set = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("cryo version 0.1\n");
			exit(0);
		case OPT_UNSUPPORTED:
			fprintf(stderr, "Error: option --%s is not supported yet\n",
				long_opts[idx].name);
			return -ENOTSUP;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return -EINVAL;
	}
	cli->action = argv[optind++];
	return optind;
}

/* The original tool opens a relative -o path inside the images directory (the current one
 * without -D). */
static int setup_log(struct cli *cli)
{
	return log_init(cli->images_dir, cli->log_file,
			cli->verbosity > LOG_DEBUG ? LOG_DEBUG : cli->verbosity);
}

int main(int argc, char **argv)
{
	struct cli cli = {0};
	int first_arg, ret;

	fault_init();
	first_arg = parse(argc, argv, &cli);
	if (first_arg < 0)
		return 1;
	cli.dump.images_dir = cli.restore.images_dir = cli.images_dir ? cli.images_dir : ".";

	if (!strcmp(cli.action, "show")) {
		if (first_arg >= argc) {
			fprintf(stderr, "Error: show needs an image file\n");
			return 1;
		}
		log_init(NULL, NULL, cli.verbosity);
		return cryo_show(argv[first_arg]) ? 1 : 0;
	}
	if (first_arg < argc) {
		fprintf(stderr, "Error: unexpected argument '%s'\n", argv[first_arg]);
		return 1;
	}
	if (setup_log(&cli))
		return 1;

	if (!strcmp(cli.action, "check")) {
		ret = cryo_check();
		if (!ret)
			pr_msg("Looks good.");
	} else if (!strcmp(cli.action, "dump")) {
		if (!cli.dump.pid) {
			pr_err("dump needs the process to dump: -t PID");
			ret = -EINVAL;
		} else {
			ret = cryo_dump(&cli.dump);
		}
	} else if (!strcmp(cli.action, "restore")) {
		int status = 0;
		ret = cryo_restore(&cli.restore, &status);
		if (!ret && !cli.restore.detach) {
			log_close();
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
	} else if (!strcmp(cli.action, "pre-dump") || !strcmp(cli.action, "page-server") ||
		   !strcmp(cli.action, "lazy-pages") || !strcmp(cli.action, "dedup") ||
		   !strcmp(cli.action, "cpuinfo") || !strcmp(cli.action, "exec") ||
		   !strcmp(cli.action, "service") || !strcmp(cli.action, "swrk")) {
		pr_err("action '%s' is not supported yet", cli.action);
		ret = -ENOTSUP;
	} else {
		pr_err("unknown action '%s'", cli.action);
		usage(stderr);
		ret = -EINVAL;
	}
	log_close();
	return ret ? 1 : 0;
}
