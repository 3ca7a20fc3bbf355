/* The actions of the command line, around the library calls: what the options ask for before
 * and after each (pid files, statistics, the notes the log owes the user). Each returns the
 * exit status of cryo. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/safeopen.h"
#include "img/image.h"

/* --pidfile of a dump: the root's PID (known before anything is touched, so written first:
 * a pid file that cannot be written fails the dump before it begins). */
static int write_dump_pidfile(const struct cli *cli)
{
	int dirfd = dir_open_root(cli->dump.images_dir), ret;
	if (dirfd < 0) {
		pr_errno(-dirfd, "cannot open images directory %s", cli->dump.images_dir);
		return dirfd;
	}
	ret = pidfile_write(dirfd, cli->pidfile, cli->dump.pid);
	close(dirfd);
	return ret;
}

/* --display-stats: on the console (stdout), as they are, and in the log */
static void __attribute__((format(printf, 1, 2))) stat_line(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("%s\n", buf);
	pr_info("%s", buf);
}

static void display_dump_stats(const char *dir)
{
	ProtobufCMessage *msg = NULL;
	int dirfd = dir_open_root(dir);

	if (dirfd < 0 || img_read(dirfd, IMG_STATS, 0, &msg)) {
		pr_err("--display-stats: cannot read the statistics of the dump in %s", dir);
		if (dirfd >= 0)
			close(dirfd);
		return;
	}
	DumpStats *s = (DumpStats *)msg;
	stat_line("Displaying dump stats:");
	stat_line("Frozen time: %llu us", (unsigned long long)s->frozen_ns / 1000);
	stat_line("Memory dump time: %llu us", (unsigned long long)s->memory_ns / 1000);
	stat_line("Total time: %llu us", (unsigned long long)s->total_ns / 1000);
	stat_line("Pages scanned: %llu", (unsigned long long)s->pages_scanned);
	stat_line("Pages skipped (zero): %llu", (unsigned long long)s->pages_skipped_zero);
	stat_line("Pages written: %llu", (unsigned long long)s->pages_written);
	stat_line("Bytes written: %llu", (unsigned long long)s->bytes_written);
	img_free(msg);
	close(dirfd);
	fflush(stdout);
}

int cli_run_dump(struct cli *cli)
{
	int ret;

	if (cli->lazy_pages && !cli->dump.port) {
		pr_err("dump --lazy-pages needs --port (and --address): the port the pages are "
		       "served on to `cryo lazy-pages --page-server`; for a local lazy restore, "
		       "dump as usual, then `cryo lazy-pages -D DIR` and `cryo restore "
		       "--lazy-pages -D DIR`");
		return 1;
	}
	cli->dump.lazy_remote = cli->lazy_pages;
	if (!cli->dump.pid) {
		pr_err("dump needs the process to dump: -t PID");
		return 1;
	}
	if (cli->skip_in_flight)
		pr_info(
		    "--skip-in-flight: connections queued on a listener (not accepted yet, or "
		    "being set up) are left out, each listener named; an established connection "
		    "is refused unless --tcp-established or --tcp-close");
	if (cli->dump.tcp_established && cli->dump.tcp_close) {
		pr_err("--tcp-established and --tcp-close: choose one");
		return 1;
	}
	if (cli->dump.network_unlocked)
		pr_info("--network-lock skip: nothing blocks the packets of the connections "
			"saved; their peers may see them reset meanwhile");
	if (cli->log_pid)
		pr_info("--log-pid: a dump runs in cryo's process only; its whole log is here");
	if (cli->pidfile && write_dump_pidfile(cli))
		return 1;
	ret = cryo_dump(&cli->dump);
	if (ret)
		return 1;
	if (cli->display_stats)
		display_dump_stats(cli->dump.images_dir);
	return 0;
}

int cli_run_restore(struct cli *cli)
{
	struct cryo_restore_stats stats = {0};
	int status = 0, ret;

	if (cli->log_pid && (!cli->log_file || !strcmp(cli->log_file, "-")))
		pr_info("--log-pid: the log goes to stderr, which every restored process shares");
	cli->restore.stats = &stats;
	ret = cryo_restore(&cli->restore, &status);
	if (ret)
		return 1;
	if (cli->display_stats) {
		stat_line("Displaying restore stats:");
		stat_line("Processes restored: %u", stats.tasks);
		stat_line("Pages restored: %llu", stats.pages);
		stat_line("Restore time: %llu us", stats.total_ns / 1000);
		fflush(stdout);
	}
	if (cli->restore.detach)
		return 0;
	log_close();
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int cli_run_check(struct cli *cli)
{
	int ret, missing = 0;

	if (cli->feature) {
		if (!strcmp(cli->feature, "list")) {
			cryo_list_features();
			return 0;
		}
		ret = cryo_check_feature(cli->feature);
		if (!ret)
			pr_msg("%s is supported", cli->feature);
		return ret ? 1 : 0;
	}
	ret = cryo_check();
	if (ret) {
		pr_msg("Does not look good.");
		return 1;
	}
	if (cli->check_extra)
		missing = cryo_check_extra();
	/* the original's experimental features: cryo relies on none */
	if (missing) {
		pr_msg("Looks good but %d feature(s) are missing: a dump or restore of a tree that "
		       "needs one is refused.",
		       missing);
		return 1;
	}
	pr_msg("Looks good.");
	return 0;
}

int cli_run_cpuinfo(struct cli *cli)
{
	const char *what = cli->nr_args ? cli->args[0] : "";

	if (!strcmp(what, "dump"))
		return cryo_cpuinfo_dump(cli->dump.images_dir) ? 1 : 0;
	if (!strcmp(what, "check"))
		return cryo_cpuinfo_check(cli->dump.images_dir) ? 1 : 0;
	pr_err("cpuinfo needs 'dump' or 'check', got '%s'", what);
	return 1;
}

int cli_run_page_server(struct cli *cli)
{
	if (!cli->pserver.port) {
		pr_err("page-server needs --port");
		return 1;
	}
	return cryo_page_server(&cli->pserver) ? 1 : 0;
}

int cli_run_lazy_pages(struct cli *cli)
{
	if (cli->dump.page_server || cli->dump.port || cli->dump.address) {
		if (!cli->dump.page_server || !cli->dump.port || !cli->dump.address) {
			pr_err("lazy-pages: pages from a dump --lazy-pages need --page-server, "
			       "--address and --port (where that dump serves them)");
			return 1;
		}
		cli->lazy.address = cli->dump.address;
		cli->lazy.port = cli->dump.port;
		cli->lazy.tls = cli->dump.tls;
	}
	return cryo_lazy_pages(&cli->lazy) ? 1 : 0;
}

int cli_run_migrate(struct cli *cli)
{
	if (!cli->dump.pid) {
		pr_err("migrate needs the process to move: -t PID");
		return 1;
	}
	if (cli->dump.tcp_established && cli->dump.tcp_close) {
		pr_err("--tcp-established and --tcp-close: choose one");
		return 1;
	}
	cli->migrate.dump = cli->dump;
	cli->migrate.lazy = cli->lazy_pages;
	/* its own work directory when none is given (not the current one) */
	cli->migrate.dump.images_dir = cli->images_dir;
	return cryo_migrate(&cli->migrate) ? 1 : 0;
}

int cli_run_migrate_target(struct cli *cli)
{
	struct cryo_migrate_target_opts o = {.server = cli->pserver};

	if (!cli->pserver.port) {
		pr_err("migrate-target needs --port");
		return 1;
	}
	return cryo_migrate_target(&o) ? 1 : 0;
}
