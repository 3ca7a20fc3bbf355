/* Configuration files, read as the original tool reads them: /etc/criu/default.conf, then
 * $HOME/.criu/default.conf (neither with --no-default-config), then $CRIU_CONFIG_FILE, then
 * each --config FILE; the command line comes last, and the last setting of an option wins.
 *
 * Syntax: one option per line, its long name without the leading dashes, then its argument
 * after white space or '=' (in double quotes if it holds white space; \" is a quote inside
 * them, every other backslash is itself). '#' starts a comment, on a line of its own or after
 * the option.
 *
 * CRYO_TEST_SYSTEM_CONFIG replaces the path /etc/criu/default.conf; it exists for the test
 * suite, which must not write /etc. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

#define CONFIG_MAX (1u << 20) /* far beyond any list of options */

static int fail(const char *where, const char *what)
{
	fprintf(stderr, "Error: %s: %s\n", where, what);
	return -EINVAL;
}

/* One line, NUL-terminated, modified in place. */
static int parse_line(struct cli *cli, char *p, const char *where)
{
	char *name, *arg = NULL;
	bool has_arg = false;

	p += strspn(p, " \t\r");
	if (!*p || *p == '#')
		return 0;
	if (*p == '-')
		return fail(where, "write an option without its leading dashes");
	name = p;
	p += strcspn(p, " \t\r=#");
	if (*p == '#') {
		*p = 0;
		return cli_apply_named(cli, name, NULL, false, where);
	}
	if (*p) {
		bool eq = *p == '=';
		*p++ = 0;
		if (!eq)
			p += strspn(p, " \t\r");
		if (eq && (!*p || strchr(" \t\r#", *p)))
			return fail(where, "nothing after '='");
	}
	if (*p == '"') {
		char *out = ++p;
		arg = out;
		for (;; p++) {
			if (!*p)
				return fail(where, "a quote is not closed");
			if (*p == '\\' && p[1] == '"') {
				*out++ = '"';
				p++;
			} else if (*p == '"') {
				p++;
				break;
			} else {
				*out++ = *p;
			}
		}
		*out = 0;
		has_arg = true;
	} else if (*p && *p != '#') {
		arg = p;
		p += strcspn(p, " \t\r");
		if (*p)
			*p++ = 0;
		has_arg = true;
	}
	p += strspn(p, " \t\r");
	if (*p && *p != '#')
		return fail(where, "one option per line (text after its argument)");
	if (has_arg && !(arg = cli_keep(cli, strdup(arg))))
		return -ENOMEM;
	return cli_apply_named(cli, name, arg, has_arg, where);
}

int cli_read_config_file(struct cli *cli, const char *path, bool must_exist)
{
	struct stat st;
	char *buf, *line, *next;
	ssize_t n;
	int fd, ret = 0, nr = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (!must_exist && (errno == ENOENT || errno == ENOTDIR))
			return 0;
		/* a default file of someone else's (HOME=/root for a user cryo runs as) */
		if (!must_exist && errno == EACCES) {
			fprintf(stderr, "Warning: configuration file %s not read: %s\n", path,
				strerror(errno));
			return 0;
		}
		fprintf(stderr, "Error: cannot open configuration file %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX) {
		fprintf(stderr,
			"Error: configuration file %s is not a regular file of at most %u "
			"bytes\n",
			path, CONFIG_MAX);
		close(fd);
		return -EINVAL;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, st.st_size);
	close(fd);
	if (n != st.st_size) {
		fprintf(stderr, "Error: cannot read configuration file %s\n", path);
		free(buf);
		return -EIO;
	}
	buf[n] = 0;
	if (memchr(buf, 0, n)) {
		fprintf(stderr, "Error: configuration file %s holds a NUL byte\n", path);
		free(buf);
		return -EINVAL;
	}
	for (line = buf; line && !ret; line = next) {
		char *where;
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		nr++;
		if (asprintf(&where, "%s:%d", path, nr) < 0 || !cli_keep(cli, where)) {
			ret = -ENOMEM;
			break;
		}
		ret = parse_line(cli, line, where);
	}
	free(buf);
	return ret;
}

int cli_read_configs(struct cli *cli, int argc, char **argv)
{
	const char *sys = getenv("CRYO_TEST_SYSTEM_CONFIG");
	const char *home = getenv("HOME"), *env = getenv("CRIU_CONFIG_FILE");
	bool defaults = true;
	int ret;

	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--no-default-config"))
			defaults = false;
	if (defaults) {
		if ((ret = cli_read_config_file(cli, sys ? sys : "/etc/criu/default.conf", false)))
			return ret;
		if (home && home[0]) {
			char *path;
			if (asprintf(&path, "%s/.criu/default.conf", home) < 0)
				return -ENOMEM;
			ret = cli_read_config_file(cli, path, false);
			free(path);
			if (ret)
				return ret;
		}
	}
	/* named explicitly, so read even with --no-default-config */
	if (env && env[0] && (ret = cli_read_config_file(cli, env, true)))
		return ret;
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *path = NULL;
		if (!strcmp(argv[i], "--config")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "Error: --config needs a file\n");
				return -EINVAL;
			}
			path = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			path = argv[i] + 9;
		}
		if (path && (ret = cli_read_config_file(cli, path, true)))
			return ret;
	}
	return 0;
}
