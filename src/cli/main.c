/* The command line: `cryo ACTION [options]`, with the actions, options and configuration
 * files of the original tool so that existing scripts keep working (options.c, config.c);
 * what cryo does not implement yet is refused by name. Each action is run by actions.c. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fault.h"
#include "core/log.h"
#include "res/track_lend.h"

int main(int argc, char **argv)
{
	struct cli cli = {0};
	int ret;

	/* not an action: a lender of a pre-dump's descriptors (res/track_lend.h), executed by
	 * cryo itself with nothing but them open */
	if (argc == 4 && !strcmp(argv[1], "__track-lend"))
		track_lend_main(atoi(argv[2]), atoi(argv[3]));
	/* freed memory is kept for the next allocations rather than given back at once: a dump
	 * of 10,000 descriptors frees and takes again a read-ahead's buffers (files/fd_read.c)
	 * all along, and glibc's default trimming made it fault in 4,000-10,000 pages again
	 * beside the 3,800 it needs (measured with perf stat; 5-10% of its time) */
	mallopt(M_TRIM_THRESHOLD, 16 << 20);
	mallopt(M_TOP_PAD, 1 << 20);
	fault_init();
	ret = cli_parse(&cli, argc, argv);
	if (ret) {
		cli_free(&cli);
		return ret > 0 ? 0 : 1;
	}
	if (!strcmp(cli.action, "show")) {
		if (cli.nr_args < 1) {
			fprintf(stderr, "Error: show needs an image file\n");
			ret = -EINVAL;
		} else {
			log_init(NULL, NULL, cli.verbosity > LOG_DEBUG ? LOG_DEBUG : cli.verbosity);
			ret = cryo_show(cli.args[0]);
		}
		cli_free(&cli);
		return ret ? 1 : 0;
	}
	/* the original tool's rule: a relative -o is inside the images directory */
	if (log_init(cli.images_dir, cli.log_file,
		     cli.verbosity > LOG_DEBUG ? LOG_DEBUG : cli.verbosity)) {
		cli_free(&cli);
		return 1;
	}
	cli_log_notes(&cli);
	if (!strcmp(cli.action, "check")) {
		ret = cli_run_check(&cli);
	} else if (!strcmp(cli.action, "dump") || !strcmp(cli.action, "pre-dump")) {
		cli.dump.pre_dump = !strcmp(cli.action, "pre-dump");
		ret = cli_run_dump(&cli);
	} else if (!strcmp(cli.action, "dedup")) {
		ret = cryo_dedup(cli.dump.images_dir) ? 1 : 0;
	} else if (!strcmp(cli.action, "restore")) {
		ret = cli_run_restore(&cli);
	} else if (!strcmp(cli.action, "page-server")) {
		ret = cli_run_page_server(&cli);
	} else if (!strcmp(cli.action, "lazy-pages")) {
		ret = cli_run_lazy_pages(&cli);
	} else if (!strcmp(cli.action, "migrate")) {
		ret = cli_run_migrate(&cli);
	} else if (!strcmp(cli.action, "migrate-target")) {
		ret = cli_run_migrate_target(&cli);
	} else if (!strcmp(cli.action, "cpuinfo")) {
		ret = cli_run_cpuinfo(&cli);
	} else if (cli.action_mask == A_OTHER) {
		pr_err("action '%s' is not supported yet", cli.action);
		ret = 1;
	} else {
		pr_err("unknown action '%s'", cli.action);
		cli_usage(stderr);
		ret = 1;
	}
	log_close();
	cli_free(&cli);
	return ret;
}
