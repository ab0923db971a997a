/*
 * test_options.c - unit tests of daemon/options.c: defaults from uid and
 * environment, getopt_long parsing (values, suffixes, every kind of usage
 * error), the config file (values, comments, FILE:LINE errors all in one
 * pass) and the order main.c uses: defaults, config, then argv again, so
 * the command line wins.  Single-threaded cmocka; no files are touched.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "options.h"

/* --- a fake environment ------------------------------------------------- */

static const char *to_env_socket;
static const char *to_env_xdg;
static const char *to_env_home;

static const char *to_env(const char *name)
{
	if (strcmp(name, "TPD_SOCKET") == 0)
		return to_env_socket;
	if (strcmp(name, "XDG_RUNTIME_DIR") == 0)
		return to_env_xdg;
	if (strcmp(name, "HOME") == 0)
		return to_env_home;
	return NULL;
}

static void to_set_env(const char *sock, const char *xdg, const char *home)
{
	to_env_socket = sock;
	to_env_xdg = xdg;
	to_env_home = home;
}

/* Defaults of an ordinary user with a session. */
static void to_defaults(struct tpd_options *o)
{
	to_set_env(NULL, "/run/user/1000", "/home/u");
	options_defaults(o, 1000, to_env);
}

/* Runs options_parse on a NULL-terminated list of arguments after "tpd";
 * *err is left for the caller (NULL when none). */
static enum options_result to_parse_v(struct tpd_options *o, char **err,
				      const char *const *args)
{
	char *argv[64];
	int argc = 0;
	argv[argc++] = "tpd";
	while (*args) {
		assert_true(argc < 63);
		argv[argc++] = (char *)*args++;
	}
	argv[argc] = NULL;
	*err = NULL;
	return options_parse(o, argc, argv, err);
}

#define to_parse(o, err, ...)                                              \
	to_parse_v((o), (err), (const char *const[]){__VA_ARGS__, NULL})

/* The given arguments must be refused with a reason containing `want`.
 * Everything is freed before a failure is reported, so a failing case
 * leaves valgrind nothing to complain about. */
static void to_refused(const char *want, const char *const *args)
{
	struct tpd_options o;
	char *err = NULL;
	char why[512] = "";
	to_defaults(&o);
	enum options_result r = to_parse_v(&o, &err, args);
	if (r != OPTIONS_ERROR)
		snprintf(why, sizeof why, "accepted: %s%s%s", args[0],
			 args[1] ? " " : "", args[1] ? args[1] : "");
	else if (!err)
		snprintf(why, sizeof why, "refused without a reason");
	else if (!strstr(err, want))
		snprintf(why, sizeof why, "reason \"%s\" does not mention \"%s\"",
			 err, want);
	free(err);
	options_free(&o);
	if (why[0])
		fail_msg("%s", why);
}

#define to_expect_refused(want, ...)                                       \
	to_refused((want), (const char *const[]){__VA_ARGS__, NULL})

/* Runs f with stdout sent to /dev/null (--help and --version print). */
static enum options_result to_quiet_parse(struct tpd_options *o, char **err,
					  const char *const *args)
{
	fflush(stdout);
	int saved = dup(1);
	int null = open("/dev/null", O_WRONLY);
	assert_true(saved >= 0 && null >= 0);
	dup2(null, 1);
	close(null);
	enum options_result r = to_parse_v(o, err, args);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	return r;
}

/* --- defaults ----------------------------------------------------------- */

static void test_defaults_user(void **state)
{
	struct tpd_options o;
	to_defaults(&o);
	assert_string_equal(o.socket_path, "/run/user/1000/tpd.sock");
	assert_string_equal(o.state_dir, "/home/u/.local/state/tpd");
	assert_string_equal(o.config, "/etc/tpd/tpd.conf");
	assert_false(o.config_given);
	assert_null(o.download_dir);
	assert_string_equal(o.listen, TPD_DEFAULT_LISTEN);
	assert_null(o.tracker);
	assert_int_equal(o.tick_ms, 1000);
	assert_true(o.dht);
	assert_true(o.lsd);
	assert_true(o.upnp);
	assert_int_equal(o.log_level, LOG_LVL_INFO);
	assert_int_equal(o.max_line, 16u << 20);
	assert_int_equal(o.max_conns, 1024);
	assert_int_equal(o.max_pending, 4096);
	assert_int_equal(o.max_output, 64u << 20);
	assert_int_equal(o.max_torrent_size, 16u << 20);
	assert_int_equal(o.url_timeout, 30);
	assert_int_equal(o.socket_mode, 0660);
	assert_true(o.workers >= 1 && o.workers <= 16);
	assert_int_equal(o.resume_interval, 60);
	options_free(&o);
}

static void test_defaults_env(void **state)
{
	struct tpd_options o;

	/* $TPD_SOCKET wins for everybody. */
	to_set_env("/tmp/t.sock", "/run/user/1000", "/home/u");
	options_defaults(&o, 1000, to_env);
	assert_string_equal(o.socket_path, "/tmp/t.sock");
	options_free(&o);
	to_set_env("/tmp/t.sock", NULL, NULL);
	options_defaults(&o, 0, to_env);
	assert_string_equal(o.socket_path, "/tmp/t.sock");
	options_free(&o);

	/* Root: the system places, whatever the environment says. */
	to_set_env(NULL, "/run/user/0", "/root");
	options_defaults(&o, 0, to_env);
	assert_string_equal(o.socket_path, "/run/tpd/tpd.sock");
	assert_string_equal(o.state_dir, "/var/lib/tpd");
	options_free(&o);

	/* An empty variable counts as unset; without $XDG_RUNTIME_DIR a user's
	 * socket is in the systemd-logind runtime dir of that uid. */
	to_set_env("", "", "");
	options_defaults(&o, 1000, to_env);
	assert_string_equal(o.socket_path, "/run/user/1000/tpd.sock");
	assert_string_equal(o.state_dir, "/var/lib/tpd");
	options_free(&o);
	to_set_env(NULL, NULL, "/home/w");
	options_defaults(&o, 1234, to_env);
	assert_string_equal(o.socket_path, "/run/user/1234/tpd.sock");
	assert_string_equal(o.state_dir, "/home/w/.local/state/tpd");
	options_free(&o);
}

/* --- the command line --------------------------------------------------- */

static void test_parse_all(void **state)
{
	struct tpd_options o;
	char *err;
	to_defaults(&o);
	assert_int_equal(
		to_parse(&o, &err, "-s", "/tmp/a.sock", "-d", "/tmp/state",
			 "--download-dir", "/tmp/dl", "--listen",
			 "127.0.0.1:0", "--tracker",
			 "http://127.0.0.1:6969/announce", "--tick=250",
			 "--no-dht", "--no-lsd", "--no-upnp", "--log-level",
			 "debug", "--max-line", "1M", "--max-connections", "10",
			 "--max-pending", "5", "--max-output", "2k",
			 "--max-torrent-size", "1G", "--url-timeout", "7",
			 "--socket-mode", "0600", "--workers", "3",
			 "--resume-interval", "15", "-c",
			 "/tmp/tpd.conf"),
		OPTIONS_OK);
	assert_null(err);
	assert_string_equal(o.socket_path, "/tmp/a.sock");
	assert_string_equal(o.state_dir, "/tmp/state");
	assert_string_equal(o.download_dir, "/tmp/dl");
	assert_string_equal(o.listen, "127.0.0.1:0");
	assert_string_equal(o.tracker, "http://127.0.0.1:6969/announce");
	assert_int_equal(o.tick_ms, 250);
	assert_false(o.dht);
	assert_false(o.lsd);
	assert_false(o.upnp);
	assert_int_equal(o.log_level, LOG_LVL_DEBUG);
	assert_int_equal(o.max_line, 1u << 20);
	assert_int_equal(o.max_conns, 10);
	assert_int_equal(o.max_pending, 5);
	assert_int_equal(o.max_output, 2048);
	assert_int_equal(o.max_torrent_size, 1u << 30);
	assert_int_equal(o.url_timeout, 7);
	assert_int_equal(o.socket_mode, 0600);
	assert_int_equal(o.workers, 3);
	assert_int_equal(o.resume_interval, 15);
	assert_string_equal(o.config, "/tmp/tpd.conf");
	assert_true(o.config_given);
	options_free(&o);
}

/* Long forms with "=", short forms glued to their value, the last of a
 * repeated option wins, and the parser can run more than once. */
static void test_parse_forms(void **state)
{
	struct tpd_options o;
	char *err;
	to_defaults(&o);
	assert_int_equal(to_parse(&o, &err, "-s/tmp/x.sock", "--state-dir=/s",
				  "--config=/c", "--tick", "5", "--tick", "6"),
			 OPTIONS_OK);
	assert_string_equal(o.socket_path, "/tmp/x.sock");
	assert_string_equal(o.state_dir, "/s");
	assert_string_equal(o.config, "/c");
	assert_true(o.config_given);
	assert_int_equal(o.tick_ms, 6);

	/* A second run over the same struct starts from optind 1 again. */
	assert_int_equal(to_parse(&o, &err, "--workers", "2", "-d", "/t"),
			 OPTIONS_OK);
	assert_int_equal(o.workers, 2);
	assert_string_equal(o.state_dir, "/t");
	assert_string_equal(o.socket_path, "/tmp/x.sock");
	assert_int_equal(o.tick_ms, 6);

	/* No arguments: nothing changes. */
	assert_int_equal(to_parse_v(&o, &err, (const char *const[]){NULL}),
			 OPTIONS_OK);
	assert_int_equal(o.workers, 2);
	options_free(&o);

	/* Sizes: plain, K/M/G in either case. */
	to_defaults(&o);
	assert_int_equal(to_parse(&o, &err, "--max-line", "3K", "--max-output",
				  "5m", "--max-torrent-size", "2g",
				  "--max-connections", "1"),
			 OPTIONS_OK);
	assert_int_equal(o.max_line, 3 * 1024);
	assert_int_equal(o.max_output, 5u << 20);
	assert_int_equal(o.max_torrent_size, 2ull << 30);
	assert_int_equal(o.max_conns, 1);
	options_free(&o);
}

static void test_parse_help_version(void **state)
{
	struct tpd_options o;
	char *err;
	to_defaults(&o);
	assert_int_equal(to_quiet_parse(&o, &err,
					(const char *const[]){"--help", NULL}),
			 OPTIONS_EXIT);
	assert_null(err);
	assert_int_equal(to_quiet_parse(&o, &err,
					(const char *const[]){"-h", NULL}),
			 OPTIONS_EXIT);
	assert_int_equal(to_quiet_parse(&o, &err,
					(const char *const[]){"--version", NULL}),
			 OPTIONS_EXIT);
	assert_int_equal(to_quiet_parse(&o, &err,
					(const char *const[]){"-V", NULL}),
			 OPTIONS_EXIT);
	options_free(&o);
}

static void test_parse_errors(void **state)
{
	to_expect_refused("--bogus", "--bogus");
	to_expect_refused("--bogus", "-s", "/x", "--bogus", "1");
	to_expect_refused("-z", "-z");
	to_expect_refused("--no-dht", "--no-dht=yes");
	/* A missing value names the option. */
	to_expect_refused("--tick", "--tick");
	to_expect_refused("-s", "-s");
	to_expect_refused("--log-level", "--log-level");
	/* Positional arguments are not taken. */
	to_expect_refused("extra", "extra");
	to_expect_refused("extra", "--tick", "5", "extra");
	/* Bad values name the option and the value. */
	to_expect_refused("tick", "--tick", "0");
	to_expect_refused("tick", "--tick", "-5");
	to_expect_refused("tick", "--tick", "abc");
	to_expect_refused("tick", "--tick", "5ms");
	to_expect_refused("tick", "--tick", "");
	to_expect_refused("tick", "--tick", "99999999999");
	to_expect_refused("workers", "--workers", "0");
	to_expect_refused("resume-interval", "--resume-interval", "0");
	to_expect_refused("url-timeout", "--url-timeout", "0");
	to_expect_refused("url-timeout", "--url-timeout",
			  "99999999999999999999999");
	to_expect_refused("max-line", "--max-line", "0");
	to_expect_refused("max-line", "--max-line", "0K");
	to_expect_refused("max-line", "--max-line", "-1");
	to_expect_refused("max-line", "--max-line", "10X");
	to_expect_refused("max-line", "--max-line", "1KB");
	to_expect_refused("max-line", "--max-line", "K");
	to_expect_refused("max-line", "--max-line", "");
	to_expect_refused("max-line", "--max-line", "99999999999999999999");
	to_expect_refused("max-line", "--max-line", "18446744073709551615G");
	to_expect_refused("socket-mode", "--socket-mode", "0999");
	to_expect_refused("socket-mode", "--socket-mode", "1777");
	to_expect_refused("socket-mode", "--socket-mode", "rw");
	to_expect_refused("log-level", "--log-level", "loud");
	to_expect_refused("log-level", "--log-level", "INFO");
	to_expect_refused("socket", "-s", "");
	to_expect_refused("state-dir", "--state-dir=");
}

/* An unknown letter inside a group of short options is named, not the
 * argument before it.  getopt does not advance optind until the group is
 * done, so argv[optind - 1] is then the previous argument (or "tpd"). */
static void test_parse_error_short_group(void **state)
{
	to_expect_refused("-x", "-xs", "/tmp/a.sock");
	to_expect_refused("-x", "--tick", "5", "-xV");
}

/* A number with a leading blank and a minus sign must not wrap around to
 * an enormous size. */
static void test_parse_size_negative_blank(void **state)
{
	to_expect_refused("max-line", "--max-line", " -1");
	to_expect_refused("max-pending", "--max-pending", "\t-1");
}

/* --- the config file ---------------------------------------------------- */

static void test_config_values(void **state)
{
	struct tpd_options o;
	char *err = NULL;
	to_defaults(&o);
	const char *text =
		"# tpd.conf\n"
		"\n"
		"socket = /run/x.sock\n"
		"  state-dir=/var/x  \n"
		"download-dir\t=\t/srv/dl\r\n"
		"listen = 127.0.0.1:6881\n"
		"tracker = http://127.0.0.1:6969/announce\n"
		"tick = 333\n"
		"dht = no\n"
		"lsd = false\n"
		"upnp = 0\n"
		"   # an indented comment\n"
		"log-level = warn\n"
		"max-line = 2M\n"
		"max-connections = 64\n"
		"max-pending = 8\n"
		"max-output = 1G\n"
		"max-torrent-size = 512K\n"
		"url-timeout = 9\n"
		"socket-mode = 0666\n"
		"resume-interval = 120\n"
		"workers = 4"; /* no final newline */
	assert_int_equal(options_apply_config(&o, "/etc/tpd.conf", text, &err),
			 0);
	assert_null(err);
	assert_string_equal(o.socket_path, "/run/x.sock");
	assert_string_equal(o.state_dir, "/var/x");
	assert_string_equal(o.download_dir, "/srv/dl");
	assert_string_equal(o.listen, "127.0.0.1:6881");
	assert_string_equal(o.tracker, "http://127.0.0.1:6969/announce");
	assert_int_equal(o.tick_ms, 333);
	assert_false(o.dht);
	assert_false(o.lsd);
	assert_false(o.upnp);
	assert_int_equal(o.log_level, LOG_LVL_WARN);
	assert_int_equal(o.max_line, 2u << 20);
	assert_int_equal(o.max_conns, 64);
	assert_int_equal(o.max_pending, 8);
	assert_int_equal(o.max_output, 1u << 30);
	assert_int_equal(o.max_torrent_size, 512 * 1024);
	assert_int_equal(o.url_timeout, 9);
	assert_int_equal(o.socket_mode, 0666);
	assert_int_equal(o.workers, 4);
	assert_int_equal(o.resume_interval, 120);
	/* The config file cannot name another config file. */
	assert_string_equal(o.config, "/etc/tpd/tpd.conf");

	/* The switches can be turned back on. */
	assert_int_equal(options_apply_config(&o, "f",
					      "dht = yes\nlsd = true\nupnp = 1\n",
					      &err),
			 0);
	assert_true(o.dht && o.lsd && o.upnp);
	options_free(&o);

	/* An empty file or one of comments only is fine. */
	to_defaults(&o);
	assert_int_equal(options_apply_config(&o, "f", "", &err), 0);
	assert_int_equal(options_apply_config(&o, "f", "\n\n# x\n  \n", &err),
			 0);
	assert_null(err);
	assert_int_equal(o.tick_ms, 1000);
	options_free(&o);
}

/* Every problem is reported in one pass, as FILE:LINE: message, with
 * blank and comment lines counted; the good lines still apply. */
static void test_config_errors(void **state)
{
	struct tpd_options o;
	char *err = NULL;
	to_defaults(&o);
	const char *text =
		"# comment\n"          /* 1 */
		"\n"                   /* 2 */
		"tick = 0\n"           /* 3: bad value */
		"just some words\n"    /* 4: no '=' */
		"colour = blue\n"      /* 5: unknown key */
		"workers = 2\n"        /* 6: fine */
		"no-dht = yes\n"       /* 7: the key is "dht" */
		"config = /etc/x\n"    /* 8: not in a config file */
		"dht = maybe\n"        /* 9: bad boolean */
		"socket =\n"           /* 10: empty value */
		"max-line = -5\r\n"    /* 11: negative size */
		"= 5\n";               /* 12: no key */
	assert_int_equal(options_apply_config(&o, "/etc/tpd/tpd.conf", text,
					      &err),
			 -1);
	assert_non_null(err);

	static const struct {
		int line;
		const char *word;
	} want[] = {
		{3, "tick"}, {4, "key = value"}, {5, "colour"},
		{7, "no-dht"}, {8, "config"}, {9, "dht"}, {10, "socket"},
		{11, "max-line"}, {12, "\"\""},
	};
	size_t n_want = sizeof want / sizeof want[0];
	size_t n = 0;
	char *save = NULL;
	for (char *line = strtok_r(err, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		assert_true(n < n_want);
		char prefix[64];
		snprintf(prefix, sizeof prefix, "/etc/tpd/tpd.conf:%d: ",
			 want[n].line);
		if (strncmp(line, prefix, strlen(prefix)) != 0)
			fail_msg("error %zu is \"%s\", wanted prefix \"%s\"", n,
				 line, prefix);
		if (!strstr(line, want[n].word))
			fail_msg("error \"%s\" does not mention %s", line,
				 want[n].word);
	}
	assert_int_equal(n, n_want);
	free(err);
	/* The good line was applied, the bad ones left the defaults. */
	assert_int_equal(o.workers, 2);
	assert_int_equal(o.tick_ms, 1000);
	assert_true(o.dht);
	assert_int_equal(o.max_line, 16u << 20);
	assert_string_equal(o.socket_path, "/run/user/1000/tpd.sock");
	options_free(&o);
}

/* main.c: defaults, then the config file, then argv again: the command
 * line wins over the file, the file over the defaults. */
static void test_command_line_wins(void **state)
{
	struct tpd_options o;
	char *err = NULL;
	to_defaults(&o);
	assert_int_equal(options_apply_config(&o, "f",
					      "tick = 500\n"
					      "socket = /cfg.sock\n"
					      "dht = yes\n"
					      "lsd = no\n"
					      "max-pending = 10\n"
					      "tracker = http://127.0.0.1:1/a\n",
					      &err),
			 0);
	assert_int_equal(to_parse(&o, &err, "--tick", "250", "--no-dht",
				  "--max-pending", "20", "-c", "/x.conf"),
			 OPTIONS_OK);
	assert_int_equal(o.tick_ms, 250);
	assert_false(o.dht);
	assert_false(o.lsd);             /* file only */
	assert_int_equal(o.max_pending, 20);
	assert_string_equal(o.socket_path, "/cfg.sock"); /* file only */
	assert_string_equal(o.tracker, "http://127.0.0.1:1/a");
	assert_string_equal(o.config, "/x.conf");
	assert_int_equal(o.url_timeout, 30); /* default */
	options_free(&o);
}

/* --- finishing ---------------------------------------------------------- */

static void test_finish_paths(void **state)
{
	struct tpd_options o;
	char *err = NULL;
	char *cwd = getcwd(NULL, 0);
	assert_non_null(cwd);
	char *want = NULL;

	/* Absolute paths stay; download_dir is derived from state_dir. */
	to_defaults(&o);
	assert_int_equal(options_finish(&o, &err), 0);
	assert_string_equal(o.download_dir,
			    "/home/u/.local/state/tpd/downloads");
	assert_string_equal(o.socket_path, "/run/user/1000/tpd.sock");
	options_free(&o);

	/* Relative ones are made absolute against the current directory. */
	to_defaults(&o);
	assert_int_equal(to_parse(&o, &err, "-s", "run/tpd.sock", "-d", "var"),
			 OPTIONS_OK);
	assert_int_equal(options_finish(&o, &err), 0);
	assert_true(asprintf(&want, "%s/run/tpd.sock", cwd) > 0);
	assert_string_equal(o.socket_path, want);
	free(want);
	assert_true(asprintf(&want, "%s/var", cwd) > 0);
	assert_string_equal(o.state_dir, want);
	free(want);
	assert_true(asprintf(&want, "%s/var/downloads", cwd) > 0);
	assert_string_equal(o.download_dir, want);
	free(want);
	options_free(&o);

	/* An explicit download dir is kept (made absolute too). */
	to_defaults(&o);
	assert_int_equal(to_parse(&o, &err, "--download-dir", "dl"),
			 OPTIONS_OK);
	assert_int_equal(options_finish(&o, &err), 0);
	assert_true(asprintf(&want, "%s/dl", cwd) > 0);
	assert_string_equal(o.download_dir, want);
	free(want);
	options_free(&o);
	free(cwd);
}

static void test_usage_lists_options(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	options_usage(f);
	fclose(f);
	static const char *const names[] = {
		"--socket", "--state-dir", "--download-dir", "--listen",
		"--tracker", "--tick", "--no-dht", "--no-lsd", "--no-upnp",
		"--log-level", "--max-line", "--max-connections",
		"--max-pending", "--max-output", "--max-torrent-size",
		"--url-timeout", "--socket-mode", "--workers",
		"--resume-interval", "--config", "--no-pex", "--no-utp",
		"--encryption", "--dht-bootstrap", "--blocklist",
		"--help", "--version",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strstr(buf, names[i]))
			fail_msg("usage does not mention %s", names[i]);
	free(buf);
}


/* --- the peer side (SPEC 9) ---------------------------------------------- */

static void test_peer_defaults(void **state)
{
	struct tpd_options o;
	to_defaults(&o);
	assert_string_equal(o.listen, "0.0.0.0:6881,[::]:6881");
	assert_true(o.pex);
	assert_true(o.utp);
	assert_true(o.tcp);
	assert_int_equal(o.encryption, TPD_ENC_PREFER);
	assert_string_equal(options_encryption_name(o.encryption), "prefer");
	assert_null(o.dht_bootstrap);
	assert_null(o.blocklist);
	options_free(&o);
}

static void test_peer_options(void **state)
{
	struct tpd_options o;
	char *err = NULL;
	to_defaults(&o);
	assert_int_equal(to_parse(&o, &err, "--no-pex", "--no-utp",
				  "--encryption", "require", "--dht-bootstrap",
				  "10.0.0.1:6881", "--dht-bootstrap",
				  "node.example:1", "--blocklist", "/etc/bl"),
			 OPTIONS_OK);
	assert_false(o.pex);
	assert_false(o.utp);
	assert_true(o.tcp);
	assert_int_equal(o.encryption, TPD_ENC_REQUIRE);
	assert_string_equal(o.dht_bootstrap, "10.0.0.1:6881,node.example:1");
	assert_string_equal(o.blocklist, "/etc/bl");
	assert_int_equal(to_parse(&o, &err, "--encryption", "disable",
				  "--no-tcp"), OPTIONS_OK);
	assert_int_equal(o.encryption, TPD_ENC_DISABLE);
	assert_false(o.tcp);
	options_free(&o);
	to_expect_refused("encryption", "--encryption", "always");
	to_expect_refused("encryption", "--encryption", "");
}

/* --listen may be repeated; the command line's list replaces the config
 * file's instead of adding to it, whatever the order main parses in. */
static void test_listen_repeated(void **state)
{
	struct tpd_options o;
	char *err = NULL;
	to_defaults(&o);
	assert_int_equal(options_apply_config(&o, "f",
					      "listen = 10.0.0.1:6881\n"
					      "listen = [fd00::1]:6881\n"
					      "pex = no\n"
					      "utp = no\n"
					      "encryption = disable\n"
					      "dht-bootstrap = a:1, b:2\n",
					      &err),
			 0);
	assert_string_equal(o.listen, "10.0.0.1:6881,[fd00::1]:6881");
	assert_false(o.pex);
	assert_false(o.utp);
	assert_int_equal(o.encryption, TPD_ENC_DISABLE);
	assert_string_equal(o.dht_bootstrap, "a:1, b:2");
	assert_int_equal(to_parse(&o, &err, "--listen", "127.0.0.1:0",
				  "--listen", "[::1]:0"),
			 OPTIONS_OK);
	assert_string_equal(o.listen, "127.0.0.1:0,[::1]:0");
	/* Parsing argv again (main does) gives the same list, not twice. */
	assert_int_equal(to_parse(&o, &err, "--listen", "127.0.0.1:0",
				  "--listen", "[::1]:0"),
			 OPTIONS_OK);
	assert_string_equal(o.listen, "127.0.0.1:0,[::1]:0");
	assert_int_equal(options_finish(&o, &err), 0);
	options_free(&o);
}

/* options_finish refuses what libtorrent would silently ignore. */
static void test_peer_finish_checks(void **state)
{
	static const char *const bad[][2] = {
		{"--listen", "6881"},
		{"--listen", "::1:6881"},
		{"--listen", "0.0.0.0:70000"},
		{"--listen", "0.0.0.0:"},
		{"--dht-bootstrap", "host"},
		{"--dht-bootstrap", "host:0"},
		{"--dht-bootstrap", "a:1,,b:2"},
		{"--dht-bootstrap", "a b:1"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct tpd_options o;
		char *err = NULL;
		to_defaults(&o);
		assert_int_equal(to_parse(&o, &err, bad[i][0], bad[i][1]),
				 OPTIONS_OK);
		int rc = options_finish(&o, &err);
		options_free(&o);
		if (rc != -1 || !err)
			fail_msg("%s %s accepted by options_finish", bad[i][0],
				 bad[i][1]);
		free(err);
	}
	struct tpd_options o;
	char *err = NULL;
	to_defaults(&o);
	assert_int_equal(to_parse(&o, &err, "--no-tcp", "--no-utp"), OPTIONS_OK);
	assert_int_equal(options_finish(&o, &err), -1);
	assert_non_null(strstr(err, "no way"));
	free(err);
	options_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_user),
		cmocka_unit_test(test_defaults_env),
		cmocka_unit_test(test_parse_all),
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_help_version),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_error_short_group),
		cmocka_unit_test(test_parse_size_negative_blank),
		cmocka_unit_test(test_config_values),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_command_line_wins),
		cmocka_unit_test(test_finish_paths),
		cmocka_unit_test(test_usage_lists_options),
		cmocka_unit_test(test_peer_defaults),
		cmocka_unit_test(test_peer_options),
		cmocka_unit_test(test_listen_repeated),
		cmocka_unit_test(test_peer_finish_checks),
	};
	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
