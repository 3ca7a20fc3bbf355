/* Every option of the original tool's command line, in one table: what cryo does with it
 * (honour it, accept it where it changes nothing for cryo and say so in the log, or refuse it
 * by name), its forms, and its line in --help, which is printed from it here. getopt's tables
 * and configuration files go through it too (options.c), so the three never disagree. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt_table.h"

static const char *const group_titles[G_NR] = {
    [G_GENERIC] = "Dump/Restore options:\n* Generic:",
    [G_EXTERNAL] = "* External resources support:",
    [G_SPECIAL] = "* Special resources support:",
    [G_LOGGING] = "* Logging:",
    [G_MEMORY] = "* Memory dumping options:",
    [G_CHECK] = "Check options:",
    [G_SERVER] = "Page/Service server options:",
    [G_CONFIG] = "Configuration file options:",
    [G_OTHER] = "Other options:",
};

#define D A_DUMP
#define R A_RESTORE
#define DR (A_DUMP | A_RESTORE)
#define PS A_PSERVER
#define DPS (A_DUMP | A_PSERVER)
#define LZ A_LAZY
#define DPSL (A_DUMP | A_PSERVER | A_LAZY)

const struct opt_def opts[] = {
    /* Generic */
    {"tree", 't', REQ, 0, DO, O_TREE, D, G_GENERIC, "PID",
     "dump the process PID and all its descendants"},
    {"restore-detached", 'd', NONE, 1, DO, O_DETACH, R | PS | LZ, G_GENERIC, NULL,
     "exit once the restored tree runs, without waiting for it (page-server, lazy-pages: "
     "--daemon)"},
    {"restore-sibling", 'S', NONE, 1, DO, O_SIBLING, R, G_GENERIC, NULL,
     "make the restored root a child of cryo's parent (implies -d)"},
    {"leave-stopped", 's', NONE, 0, DO, O_STOPPED, DR, G_GENERIC, NULL,
     "leave the tree stopped (SIGSTOP) after dump or restore"},
    {"leave-running", 'R', NONE, 0, DO, O_RUNNING, D, G_GENERIC, NULL,
     "leave the tree running after the dump"},
    {"images-dir", 'D', REQ, 0, DO, O_IMAGES, A_ALL, G_GENERIC, "DIR",
     "directory of the image files (default: the current one)"},
    {"pidfile", 0, REQ, 0, DO, O_PIDFILE, DR | PS | LZ, G_GENERIC, "FILE",
     "write the PID of the dumped or restored root to FILE"},
    {"work-dir", 'W', REQ, 0, REFUSE, O_OTHER},
    {"cpu-cap", 0, OPT, 0, REFUSE, O_OTHER},
    {"exec-cmd", 0, NONE, 0, REFUSE, O_OTHER},
    {"freeze-cgroup", 0, REQ, 0, DO, O_FREEZE_CG, D, G_GENERIC, "CGROUP",
     "freeze the tree with the freezer of CGROUP (a path) first"},
    {"weak-sysctls", 0, NONE, 1, NOOP, O_OTHER, R, G_GENERIC, NULL,
     "accepted: cryo restores no sysctl",
     "cryo restores no sysctl (a dump of a tree in namespaces of its own is refused)"},
    {"lazy-pages", 0, NONE, 1, DO, O_LAZY_PAGES, DR, G_GENERIC, NULL,
     "restore: private anonymous memory comes from `cryo lazy-pages` (-D DIR) as the tree "
     "runs; dump (with --port, --address): it stays in the frozen tree, served to `cryo "
     "lazy-pages --page-server` until it has it all, then the tree is killed (with "
     "--track-mem --prev-images-dir: only what was written since the pre-dump)"},
    {"stream", 0, NONE, 1, REFUSE, O_OTHER},
    {"mntns-compat-mode", 0, NONE, 1, NOOP, O_OTHER, R, G_GENERIC, NULL,
     "accepted: cryo restores no mount namespace",
     "cryo restores no mount namespace (a dump of a tree in one of its own is refused)"},
    {"network-lock", 0, REQ, 0, DO, O_NETWORK_LOCK, DR, G_GENERIC, "METHOD",
     "how established TCP connections are kept silent while saved: nftables (the "
     "default: a table of cryo's own drops their packets until the restore ends) or skip "
     "(nothing is blocked); iptables is not supported yet"},
    /* External resources */
    {"external", 0, REQ, 0, DO, O_EXTERNAL, D, G_EXTERNAL, "pipe:[INODE]|fifo:PATH",
     "a pipe with an end held outside the tree: saved by its key, without its bytes (the "
     "restore takes it with --inherit-fd); a FIFO a process outside the tree holds open: "
     "saved without its bytes, the restore opens it again by its path"},
    {"ext-unix-sk", 'x', OPT, 0, DO, O_EXT_UNIX_SK, DR, G_EXTERNAL, NULL,
     "allow datagram unix sockets connected to a named socket outside the tree: the restore "
     "connects them to that name again (no inode list)"},
    {"ext-mount-map", 'M', REQ, 0, REFUSE, O_OTHER},
    {"enable-external-sharing", 0, NONE, 0, REFUSE, O_OTHER},
    {"enable-external-masters", 0, NONE, 0, REFUSE, O_OTHER},
    {"inherit-fd", 0, REQ, 0, DO, O_INHERIT_FD, R, G_EXTERNAL, "fd[N]:KEY",
     "give the restored tree cryo's fd N for the external resource KEY (pipe:[INODE], or the "
     "path without its leading / of a regular file or of a FIFO dumped with --external "
     "fifo:PATH)"},
    {"join-ns", 'J', REQ, 0, REFUSE, O_OTHER},
    {"veth-pair", 0, REQ, 0, REFUSE, O_OTHER},
    {"empty-ns", 0, REQ, 0, REFUSE, O_OTHER},
    /* Special resources */
    {"tcp-established", 0, NONE, 1, DO, O_TCP_ESTABLISHED, DR, G_SPECIAL, NULL,
     "save established TCP connections (TCP_REPAIR) and make them again at restore"},
    {"skip-in-flight", 0, NONE, 1, DO, O_SKIP_IN_FLIGHT, D, G_SPECIAL, NULL,
     "leave out the connections queued on a listener, not accepted yet or being set up "
     "(their clients see a reset), instead of refusing the dump"},
    {"tcp-close", 0, NONE, 1, DO, O_TCP_CLOSE, DR, G_SPECIAL, NULL,
     "do not save established TCP connections: each is restored as a TCP socket whose "
     "connection ended"},
    {"root", 'r', REQ, 0, REFUSE, O_OTHER},
    {"evasive-devices", 0, NONE, 1, REFUSE, O_OTHER},
    {"link-remap", 0, NONE, 1, REFUSE, O_OTHER},
    {"ghost-limit", 0, REQ, 0, REFUSE, O_OTHER},
    {"action-script", 0, REQ, 0, REFUSE, O_OTHER},
    {"shell-job", 'j', NONE, 1, DO, O_SHELL_JOB, DR, G_SPECIAL, NULL,
     "the tree is a job of the shell it was started from (its terminal)"},
    {"file-locks", 'l', NONE, 1, DO, O_FILE_LOCKS, DR, G_SPECIAL, NULL,
     "save file locks (flock, POSIX, OFD) and take them again at restore"},
    {"libdir", 'L', REQ, 0, REFUSE, O_OTHER},
    {"timeout", 0, REQ, 0, DO, O_TIMEOUT, D, G_SPECIAL, "SECONDS",
     "give up freezing the tree after SECONDS (default 10)"},
    {"force-irmap", 0, NONE, 1, NOOP, O_OTHER, D, G_SPECIAL, NULL,
     "accepted: cryo reopens inotify watches by file handle",
     "cryo reopens each inotify watch by its file handle, never by a path: there is no "
     "path to resolve"},
    {"irmap-scan-path", 0, REQ, 0, NOOP, O_OTHER, D, G_SPECIAL, "PATH",
     "accepted: cryo reopens inotify watches by file handle",
     "cryo reopens each inotify watch by its file handle, never by a path: there is no "
     "path to resolve"},
    {"manage-cgroups", 0, OPT, 0, REFUSE, O_OTHER},
    {"cgroup-root", 0, REQ, 0, REFUSE, O_OTHER},
    {"cgroup-props", 0, REQ, 0, REFUSE, O_OTHER},
    {"cgroup-props-file", 0, REQ, 0, REFUSE, O_OTHER},
    {"cgroup-dump-controller", 0, REQ, 0, REFUSE, O_OTHER},
    {"cgroup-yard", 0, REQ, 0, REFUSE, O_OTHER},
    {"lsm-profile", 0, REQ, 0, REFUSE, O_OTHER},
    {"lsm-mount-context", 0, REQ, 0, REFUSE, O_OTHER},
    {"skip-mnt", 0, REQ, 0, REFUSE, O_OTHER},
    {"enable-fs", 0, REQ, 0, REFUSE, O_OTHER},
    {"file-validation", 0, REQ, 0, REFUSE, O_OTHER},
    {"close", 0, REQ, 0, REFUSE, O_OTHER},
    {"deprecated", 0, NONE, 1, REFUSE, O_OTHER},
    /* Logging */
    {"log-file", 'o', REQ, 0, DO, O_LOG_FILE, A_ALL, G_LOGGING, "FILE",
     "log to FILE (a relative name is in the images directory)"},
    {"log-pid", 0, NONE, 1, DO, O_LOG_PID, DR, G_LOGGING, NULL,
     "restore: each restored process logs to FILE.PID of its own"},
    {"verbosity", 'v', OPT, 0, DO, O_VERBOSITY, A_ALL, G_LOGGING, NULL, NULL},
    {"display-stats", 0, NONE, 1, DO, O_STATS, DR, G_LOGGING, NULL,
     "print the dump or restore statistics at the end"},
    /* Memory */
    {"track-mem", 0, NONE, 1, DO, O_TRACK_MEM, D, G_MEMORY, NULL,
     "track writes for the next dump (a pre-dump always does)"},
    {"prev-images-dir", 0, REQ, 0, DO, O_PREV_IMAGES, D, G_MEMORY, "DIR",
     "the pre-dump before (../NAME): save only pages written since"},
    {"page-server", 0, NONE, 1, DO, O_PAGE_SERVER, D | LZ, G_MEMORY, NULL,
     "send pagemaps and pages to `cryo page-server` at --address, --port (the other images "
     "stay in -D); lazy-pages: fetch the pages a dump --lazy-pages left in its tree from "
     "--address, --port"},
    {"compress", 0, NONE, 1, DO, O_COMPRESS, D, G_MEMORY, NULL,
     "compress the page images (LZ4); restore reads them as any"},
    {"auto-dedup", 0, NONE, 1, DO, O_AUTO_DEDUP, D, G_MEMORY, NULL,
     "with --prev-images-dir: once the dump is written, dedup its chain of parents"},
    {"pre-dump-mode", 0, REQ, 0, NOOP, O_PRE_DUMP_MODE, D, G_MEMORY, "MODE",
     "splice or read; accepted: cryo reads memory while frozen",
     "it chooses how a pre-dump reads memory; cryo's reads it while the tree is frozen"},
    /* Check */
    {"extra", 0, NONE, 1, DO, O_EXTRA, A_CHECK, G_CHECK, NULL,
     "also check the features needed only by some trees"},
    {"experimental", 0, NONE, 1, DO, O_EXPERIMENTAL, A_CHECK, G_CHECK, NULL,
     "also check experimental features (cryo has none)"},
    {"all", 0, NONE, 0, DO, O_ALL, A_CHECK, G_CHECK, NULL, "same as --extra --experimental"},
    {"feature", 0, REQ, 0, DO, O_FEATURE, A_CHECK, G_CHECK, "NAME",
     "check one feature only ('list' names them)"},
    {"ms", 0, NONE, 0, NOOP, O_OTHER, A_CHECK, G_CHECK, NULL,
     "accepted: cryo checks only what an upstream kernel has",
     "it limits the check to an upstream kernel's features, and cryo checks no other"},
    /* Page/Service server */
    {"address", 0, REQ, 0, DO, O_ADDRESS, DPSL, G_SERVER, "ADDR",
     "the page server's address (page-server: the one to listen on, default every one)"},
    {"port", 0, REQ, 0, DO, O_PORT, DPSL, G_SERVER, "PORT", "the page server's TCP port"},
    {"ps-socket", 0, REQ, 0, REFUSE, O_OTHER},
    {"to", 0, REQ, 0, DO, O_TO, A_MIGRATE, G_SERVER, "HOST:PORT",
     "migrate: the address and port cryo migrate-target listens on"},
    {"daemon", 0, NONE, 1, DO, O_DAEMON, PS | LZ, G_SERVER, NULL,
     "page-server, lazy-pages: go into the background once listening (also -d)"},
    {"status-fd", 0, REQ, 0, DO, O_STATUS_FD, R | PS | LZ, G_SERVER, "FD",
     "write one zero byte to FD, and close it, once the tree runs (restore) or the page "
     "server or lazy-pages daemon listens"},
    {"tls-cacert", 0, REQ, 0, DO, O_TLS_CACERT, DPSL, G_SERVER, "FILE",
     "TLS: the CA certificate (default /etc/pki/CA/cacert.pem)"},
    {"tls-cacrl", 0, REQ, 0, DO, O_TLS_CACRL, DPSL, G_SERVER, "FILE",
     "TLS: the CA's revocation list (default /etc/pki/CA/crl.pem, if it exists)"},
    {"tls-cert", 0, REQ, 0, DO, O_TLS_CERT, DPSL, G_SERVER, "FILE",
     "TLS: this end's certificate (default /etc/pki/criu/cert.pem)"},
    {"tls-key", 0, REQ, 0, DO, O_TLS_KEY, DPSL, G_SERVER, "FILE",
     "TLS: its private key (default /etc/pki/criu/private/key.pem)"},
    {"tls", 0, NONE, 1, DO, O_TLS, DPSL, G_SERVER, NULL,
     "encrypt the page server connection (GnuTLS), each end checking the other's "
     "certificate"},
    {"tls-no-cn-verify", 0, NONE, 0, DO, O_TLS_NO_CN, DPSL, G_SERVER, NULL,
     "TLS: do not check the server's name against its certificate"},
    {"tls-no-cert-verify", 0, NONE, 0, DO, O_TLS_NO_CERT, DPSL, G_SERVER, NULL,
     "TLS: do not check the peer's certificate at all (encryption only)"},
    /* Configuration files */
    {"config", 0, REQ, 0, DO, O_CONFIG, A_ALL, G_CONFIG, "FILE",
     "read options from FILE too (after the default files)"},
    {"no-default-config", 0, NONE, 0, DO, O_NO_DEFAULT_CONFIG, A_ALL, G_CONFIG, NULL,
     "do not read /etc/criu/default.conf and ~/.criu/default.conf"},
    /* Other */
    {"help", 'h', NONE, 0, DO, O_HELP, A_ALL, G_OTHER, NULL, "print this text"},
    {"version", 'V', NONE, 0, DO, O_VERSION, A_ALL, G_OTHER, NULL, "print the version"},
};

const size_t cli_nr_opts = sizeof(opts) / sizeof(opts[0]);
_Static_assert(sizeof(opts) / sizeof(opts[0]) <= CLI_MAX_OPTS, "CLI_MAX_OPTS too small");

void cli_usage(FILE *f)
{
	fprintf(f, "Usage:\n"
		   "  cryo dump -t PID [<options>]\n"
		   "  cryo pre-dump -t PID [<options>]\n"
		   "  cryo restore [<options>]\n"
		   "  cryo dedup [-D DIR]\n"
		   "  cryo page-server -D DIR --port PORT [--address ADDR] [-d]\n"
		   "  cryo lazy-pages -D DIR [-d]   (then: cryo restore --lazy-pages -D DIR)\n"
		   "  cryo lazy-pages -D DIR --page-server --address ADDR --port PORT [-d]\n"
		   "                 (the pages of a cryo dump --lazy-pages --port PORT)\n"
		   "  cryo migrate -t PID --to HOST:PORT [-D WORK-DIR] [<options>]\n"
		   "  cryo migrate-target -D DIR --port PORT [--address ADDR] [-d]\n"
		   "  cryo check [--feature NAME | --extra | --all]\n"
		   "  cryo cpuinfo dump|check [-D DIR]\n"
		   "  cryo show IMAGE-FILE\n"
		   "\n"
		   "Commands:\n"
		   "  dump           checkpoint a process and its descendants\n"
		   "  pre-dump       save their memory, leave them running, track what they write\n"
		   "  restore        restore them from the images\n"
		   "  dedup          punch out of parent pre-dumps the pages DIR does not need\n"
		   "  page-server    receive the pages of one dump into DIR, then exit\n"
		   "  lazy-pages     serve the memory of one lazy restore from DIR, then exit\n"
		   "  migrate        move a running tree to a migrate-target: pre-dumps while it\n"
		   "                 runs, a short final dump, the restore there\n"
		   "  migrate-target receive one migration into DIR and restore it\n"
		   "  check          check that this kernel has what cryo needs\n"
		   "  cpuinfo dump   write the CPU's features into cpuinfo.img\n"
		   "  cpuinfo check  check that this CPU has the features of cpuinfo.img\n"
		   "  show           print an image file as JSON\n"
		   "\n"
		   "Yes/no options without an argument can be turned off by --no-NAME\n"
		   "(--display-stats, --no-display-stats).\n");
	for (int g = 0; g < G_NR; g++) {
		bool title = false;
		for (size_t i = 0; i < NR_OPTS; i++) {
			const struct opt_def *o = &opts[i];
			char left[64];
			if (o->group != (enum group)g || o->kind == REFUSE)
				continue;
			if (!title) {
				fprintf(f, "\n%s\n", group_titles[g]);
				title = true;
			}
			if (o->id == O_VERBOSITY) {
				fprintf(
				    f,
				    "  -v[v...], --verbosity  one level more for each v\n"
				    "  -vNUM, --verbosity=NUM set the level: 0 nothing, 1 errors,\n"
				    "                         2 warnings too (default), 3 "
				    "information "
				    "and\n"
				    "                         timestamps, 4 debug\n");
				continue;
			}
			if (o->short_name)
				snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name,
					 o->name, o->metavar ? " " : "",
					 o->metavar ? o->metavar : "");
			else
				snprintf(left, sizeof(left), "    --%s%s%s", o->name,
					 o->metavar ? " " : "", o->metavar ? o->metavar : "");
			if (strlen(left) > 22)
				fprintf(f, "  %s\n  %-22s %s\n", left, "", o->help);
			else
				fprintf(f, "  %-22s %s\n", left, o->help);
		}
	}
}
