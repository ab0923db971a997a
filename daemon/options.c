/*
 * options.c - defaults, command line and config file (see options.h).
 * Main thread.  One table describes every setting, so the command line and
 * the config file cannot drift apart.
 */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "peernet.h"
#include "proto.h"
#include "rate.h"
#include "schedule.h"

/* OT_LIST: a comma-separated list; given again in the same source (the
 * command line, or the config file) it appends, so the command line's
 * --listen replaces the config file's list instead of adding to it. */
enum opt_type { OT_STR, OT_INT, OT_SIZE, OT_BOOL, OT_NOBOOL, OT_MODE,
		OT_LEVEL, OT_LONG, OT_LIST, OT_ENC, OT_RATE, OT_DURATION,
		OT_RATIO, OT_SCHEDULE, OT_COUNT };

static const char *const opt_enc_names[] = {
	[TPD_ENC_PREFER] = "prefer",
	[TPD_ENC_REQUIRE] = "require",
	[TPD_ENC_DISABLE] = "disable",
};

struct opt_def {
	const char *name;
	int short_name;
	enum opt_type type;
	size_t offset;
	const char *arg;
	const char *help;
	/* The default, as it would be typed: options_defaults() sets it and
	 * the help text shows it, so the two cannot disagree.  NULL for the
	 * older options whose defaults are set in code. */
	const char *dflt;
};

#define OFF(f) offsetof(struct tpd_options, f)
#define OPT_SIZE_MAX (1ull << 40)

static const struct opt_def opt_table[] = {
	{"socket", 's', OT_STR, OFF(socket_path), "SOCKET", "control socket", NULL},
	{"state-dir", 'd', OT_STR, OFF(state_dir), "DIR", "state directory", NULL},
	{"download-dir", 0, OT_STR, OFF(download_dir), "DIR",
	 "where creates without save_dir download (STATE_DIR/downloads)", NULL},
	{"listen", 0, OT_LIST, OFF(listen), "ADDR:PORT",
	 "BitTorrent listen address, may be repeated (" TPD_DEFAULT_LISTEN
	 "; port 0 picks one)", NULL},
	{"tracker", 0, OT_STR, OFF(tracker), "URL",
	 "default announce URL for torrents made by seed", NULL},
	{"tick", 0, OT_INT, OFF(tick_ms), "MS", "status push interval (1000)", NULL},
	{"no-dht", 0, OT_NOBOOL, OFF(dht), NULL, "disable the DHT", NULL},
	{"no-lsd", 0, OT_NOBOOL, OFF(lsd), NULL, "disable local peer discovery", NULL},
	{"no-upnp", 0, OT_NOBOOL, OFF(upnp), NULL, "disable UPnP and NAT-PMP", NULL},
	{"no-pex", 0, OT_NOBOOL, OFF(pex), NULL, "disable peer exchange", NULL},
	{"no-utp", 0, OT_NOBOOL, OFF(utp), NULL, "peers over TCP only", NULL},
	{"no-tcp", 0, OT_NOBOOL, OFF(tcp), NULL,
	 "peers over uTP only (for tests)", NULL},
	{"encryption", 0, OT_ENC, OFF(encryption), "MODE",
	 "prefer, require or disable (" TPD_DEFAULT_ENCRYPTION ")", NULL},
	{"dht-bootstrap", 0, OT_LIST, OFF(dht_bootstrap), "HOST:PORT",
	 "DHT nodes to start from instead of libtorrent's public ones; "
	 "comma-separated or repeated", NULL},
	{"blocklist", 0, OT_STR, OFF(blocklist), "FILE",
	 "IPv4 ranges refused as peers (reloaded on SIGHUP)", NULL},
	{"log-level", 0, OT_LEVEL, OFF(log_level), "LEVEL",
	 "error, warn, info (default) or debug", NULL},
	{"max-line", 0, OT_SIZE, OFF(max_line), "BYTES",
	 "longest request line (16 MiB)", NULL},
	{"max-connections", 0, OT_SIZE, OFF(max_conns), "N",
	 "patron connections at once (1024)", NULL},
	{"max-user-connections", 0, OT_SIZE, OFF(max_conns_user), "N",
	 "connections one user may hold, root excepted (256)", NULL},
	{"max-pending", 0, OT_SIZE, OFF(max_pending), "N",
	 "unanswered creates per connection (4096)", NULL},
	{"max-output", 0, OT_SIZE, OFF(max_output), "BYTES",
	 "unread answers before a patron is disconnected (64 MiB)", NULL},
	{"max-torrent-size", 0, OT_SIZE, OFF(max_torrent_size), "BYTES",
	 "largest .torrent read or fetched (16 MiB)", NULL},
	{"url-timeout", 0, OT_LONG, OFF(url_timeout), "SECONDS",
	 "total time allowed for fetching a .torrent URL (30)", NULL},
	{"socket-mode", 0, OT_MODE, OFF(socket_mode), "MODE",
	 "octal permissions of the socket (0660)", NULL},
	{"socket-group", 0, OT_STR, OFF(socket_group), "GROUP",
	 "group owning the socket (the daemon's group)", NULL},
	{"workers", 0, OT_INT, OFF(workers), "N",
	 "threads reading and hashing files (CPUs); URL fetches have 16 more", NULL},
	{"resume-interval", 0, OT_INT, OFF(resume_interval), "SECONDS",
	 "how often changed resume data is saved (60)", NULL},
	{"download-limit", 0, OT_RATE, OFF(session.download_limit), "RATE",
	 "download limit for all torrents, k/M/G per second, 0 unlimited",
	 "0"},
	{"upload-limit", 0, OT_RATE, OFF(session.upload_limit), "RATE",
	 "upload limit for all torrents, 0 unlimited", "0"},
	{"alt-download-limit", 0, OT_RATE, OFF(session.alt_download_limit),
	 "RATE", "download limit while alt speed is on", "0"},
	{"alt-upload-limit", 0, OT_RATE, OFF(session.alt_upload_limit), "RATE",
	 "upload limit while alt speed is on", "0"},
	{"alt-schedule", 0, OT_SCHEDULE, OFF(session.alt_schedule),
	 "SCHEDULE", "HH:MM-HH:MM [DAYS]: when alt speed is on by itself, e.g. "
	 "\"08:00-18:00 mon-fri\"; none: never", "none"},
	{"max-active-downloads", 0, OT_COUNT,
	 OFF(session.max_active_downloads), "N",
	 "torrents downloading at once; the rest are queued", "5"},
	{"max-active-seeds", 0, OT_COUNT, OFF(session.max_active_seeds), "N",
	 "torrents seeding at once; the rest are queued", "10"},
	{"ratio-limit", 0, OT_RATIO, OFF(session.ratio_limit), "RATIO",
	 "pause a torrent once uploaded / size reaches this; none: never",
	 "none"},
	{"seed-time-limit", 0, OT_DURATION, OFF(session.seed_time_limit),
	 "DURATION", "pause a torrent after seeding this long (s/m/h/d); "
	 "none: never", "none"},
	{"watch-dir", 0, OT_STR, OFF(watch_dir), "DIR",
	 "add every .torrent dropped here, for the file's owner", NULL},
	{"on-complete", 0, OT_STR, OFF(on_complete), "PROG",
	 "run PROG (no shell) when a torrent completes", NULL},
	{"hook-timeout", 0, OT_LONG, OFF(hook_timeout), "SECONDS",
	 "kill an --on-complete program after this long", "300"},
	{"config", 'c', OT_STR, OFF(config), "FILE",
	 "config file (/etc/tpd/tpd.conf)", NULL},
};

#define OPT_COUNT (sizeof opt_table / sizeof opt_table[0])

static char *opt_set(struct tpd_options *o, const struct opt_def *d,
		     const char *val, bool append);

void options_defaults(struct tpd_options *o, uid_t uid,
		      const char *(*env)(const char *name))
{
	memset(o, 0, sizeof *o);
	const char *sock = env("TPD_SOCKET");
	const char *xdg = env("XDG_RUNTIME_DIR");
	if (sock && *sock)
		o->socket_path = strdup(sock);
	else if (uid == 0)
		o->socket_path = strdup("/run/tpd/tpd.sock");
	else if (xdg && *xdg
			 ? asprintf(&o->socket_path, "%s/tpd.sock", xdg) < 0
			 : asprintf(&o->socket_path, "/run/user/%u/tpd.sock",
				    (unsigned)uid) < 0)
		o->socket_path = NULL;
	const char *home = env("HOME");
	if (uid == 0 || !home || !*home)
		o->state_dir = strdup("/var/lib/tpd");
	else if (asprintf(&o->state_dir, "%s/.local/state/tpd", home) < 0)
		o->state_dir = NULL;
	o->config = strdup("/etc/tpd/tpd.conf");
	o->tick_ms = 1000;
	o->dht = o->lsd = o->upnp = true;
	o->pex = o->utp = o->tcp = true;
	o->listen = strdup(TPD_DEFAULT_LISTEN);
	for (size_t i = 0; i < sizeof opt_enc_names / sizeof opt_enc_names[0]; i++)
		if (!strcmp(opt_enc_names[i], TPD_DEFAULT_ENCRYPTION))
			o->encryption = (int)i;
	o->log_level = LOG_LVL_INFO;
	o->max_line = 16u << 20;
	o->max_conns = 1024;
	o->max_conns_user = 256;
	o->max_pending = 4096;
	o->max_output = 64u << 20;
	o->max_torrent_size = 16u << 20;
	o->url_timeout = 30;
	o->socket_mode = 0660;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	o->resume_interval = 60;
	o->workers = cpus > 0 ? (int)(cpus < 16 ? cpus : 16) : 2;
	for (size_t i = 0; i < OPT_COUNT; i++)
		if (opt_table[i].dflt) {
			char *why = opt_set(o, &opt_table[i], opt_table[i].dflt,
					    false);
			/* A default that does not parse is our bug. */
			if (why)
				log_error("bad default of --%s: %s",
					  opt_table[i].name, why);
			free(why);
		}
}

void options_session(const struct tpd_options *o, struct tp_session *out)
{
	struct tp_session all = o->session;
	all.has = TP_SES_ALL; /* every key: these are the starting values */
	memset(out, 0, sizeof *out);
	tp_session_merge(out, &all);
	/* The network switches have their own options (SPEC section 9);
	 * session_set may change them later. */
	out->dht = o->dht;
	out->lsd = o->lsd;
	out->pex = o->pex;
	out->utp = o->utp;
	out->encryption = o->encryption == TPD_ENC_REQUIRE   ? TP_ENC_FORCED
			  : o->encryption == TPD_ENC_DISABLE ? TP_ENC_DISABLED
							     : TP_ENC_ENABLED;
}

const char *options_encryption_name(int enc)
{
	if (enc < 0 || (size_t)enc >= sizeof opt_enc_names / sizeof opt_enc_names[0])
		return "?";
	return opt_enc_names[enc];
}

const char *options_encryption_word(enum tp_encryption e)
{
	return options_encryption_name(e == TP_ENC_FORCED     ? TPD_ENC_REQUIRE
				       : e == TP_ENC_DISABLED ? TPD_ENC_DISABLE
							      : TPD_ENC_PREFER);
}

/* Stores one value; a malloc'd reason on failure.  append: an OT_LIST
 * given before in the same source grows instead of being replaced. */
static char *opt_set(struct tpd_options *o, const struct opt_def *d,
		     const char *val, bool append)
{
	char *field = (char *)o + d->offset;
	char *end = NULL;
	char *reason = NULL;
	errno = 0;
	switch (d->type) {
	case OT_STR:
		if (!*val)
			goto bad;
		free(*(char **)field);
		*(char **)field = strdup(val);
		return NULL;
	case OT_INT: {
		long v = strtol(val, &end, 10);
		if (errno || *end || end == val || v < 1 || v > INT_MAX)
			goto bad;
		*(int *)field = (int)v;
		return NULL;
	}
	case OT_LONG: {
		long v = strtol(val, &end, 10);
		if (errno || *end || end == val || v < 1)
			goto bad;
		*(long *)field = v;
		return NULL;
	}
	case OT_SIZE: {
		/* strtoull would skip blanks and wrap "-1" to the maximum. */
		if (!isdigit((unsigned char)val[0]))
			goto bad;
		unsigned long long v = strtoull(val, &end, 10);
		unsigned long long mult = 1;
		if (end && (*end == 'K' || *end == 'k'))
			mult = 1ull << 10, end++;
		else if (end && (*end == 'M' || *end == 'm'))
			mult = 1ull << 20, end++;
		else if (end && (*end == 'G' || *end == 'g'))
			mult = 1ull << 30, end++;
		/* Nothing tpd counts or buffers is meaningful beyond 1 TiB;
		 * a larger value is a typo, not a wish. */
		if (errno || *end || end == val || v == 0 ||
		    v > OPT_SIZE_MAX / mult)
			goto bad;
		*(size_t *)field = (size_t)(v * mult);
		return NULL;
	}
	case OT_MODE: {
		unsigned long v = strtoul(val, &end, 8);
		if (errno || *end || end == val || v > 0777)
			goto bad;
		*(mode_t *)field = (mode_t)v;
		return NULL;
	}
	case OT_LIST: {
		if (!*val)
			goto bad;
		char **slot = (char **)field;
		char *joined = NULL;
		if (append && *slot
			    ? asprintf(&joined, "%s,%s", *slot, val) < 0
			    : (joined = strdup(val)) == NULL)
			return strdup("out of memory");
		free(*slot);
		*slot = joined;
		return NULL;
	}
	case OT_ENC:
		for (size_t i = 0;
		     i < sizeof opt_enc_names / sizeof opt_enc_names[0]; i++)
			if (!strcmp(val, opt_enc_names[i])) {
				*(int *)field = (int)i;
				return NULL;
			}
		goto bad;
	case OT_LEVEL: {
		int v = log_level_parse(val);
		if (v < 0)
			goto bad;
		*(int *)field = v;
		return NULL;
	}
	case OT_RATE:
		if (tp_rate_parse(val, (int64_t *)field) < 0)
			goto bad;
		return NULL;
	case OT_DURATION:
		if (!strcmp(val, "none"))
			*(int64_t *)field = -1;
		else if (tp_duration_parse(val, (int64_t *)field) < 0)
			goto bad;
		return NULL;
	case OT_COUNT: {
		long v = strtol(val, &end, 10);
		if (errno || *end || end == val || v < 1 || v > TP_MAX_ACTIVE)
			goto bad;
		*(int64_t *)field = v;
		return NULL;
	}
	case OT_RATIO: {
		if (!strcmp(val, "none")) {
			*(double *)field = -1;
			return NULL;
		}
		/* Digits and one dot only: no "inf", "nan" or hex floats. */
		if (!*val || strspn(val, "0123456789.") != strlen(val))
			goto bad;
		double v = strtod(val, &end);
		if (errno || *end || end == val || v > 1e6)
			goto bad;
		*(double *)field = v;
		return NULL;
	}
	case OT_SCHEDULE: {
		struct tp_schedule sc;
		const char *why = NULL;
		if (!strcmp(val, "none"))
			val = "";
		if (strlen(val) > 128 || tp_schedule_parse(val, &sc, &why) < 0)
			goto bad;
		free(*(char **)field);
		*(char **)field = strdup(val);
		return NULL;
	}
	case OT_BOOL:
	case OT_NOBOOL: {
		bool v;
		if (!strcmp(val, "yes") || !strcmp(val, "true") || !strcmp(val, "1"))
			v = true;
		else if (!strcmp(val, "no") || !strcmp(val, "false") ||
			 !strcmp(val, "0"))
			v = false;
		else
			goto bad;
		*(bool *)field = v;
		return NULL;
	}
	}
bad:
	if (asprintf(&reason, "invalid value for %s: \"%s\"", d->name, val) < 0)
		reason = NULL;
	return reason ? reason : strdup("invalid value");
}

void options_usage(void *stream)
{
	FILE *f = stream;
	fprintf(f, "usage: tpd [options]\n\n"
		   "tpd %s - a BitTorrent daemon shared by local programs "
		   "(see tpd(8)).\n\n",
		TP_VERSION);
	for (size_t i = 0; i < OPT_COUNT; i++) {
		const struct opt_def *d = &opt_table[i];
		char left[64];
		snprintf(left, sizeof left, "%s%c%s--%s%s%s",
			 d->short_name ? "-" : " ",
			 d->short_name ? d->short_name : ' ',
			 d->short_name ? ", " : "  ", d->name,
			 d->arg ? " " : "", d->arg ? d->arg : "");
		if (d->dflt)
			fprintf(f, "  %-30s %s (default: %s)\n", left, d->help,
				d->dflt);
		else
			fprintf(f, "  %-30s %s\n", left, d->help);
	}
	fprintf(f, "  %-30s %s\n  %-30s %s\n", "-h, --help", "this text",
		"-V, --version", "print the version");
}

enum options_result options_parse(struct tpd_options *o, int argc,
				  char **argv, char **err)
{
	struct option longopts[OPT_COUNT + 3];
	char shortopts[3 * OPT_COUNT + 8];
	size_t ns = 0;
	shortopts[ns++] = ':';
	for (size_t i = 0; i < OPT_COUNT; i++) {
		const struct opt_def *d = &opt_table[i];
		bool arg = d->type != OT_NOBOOL;
		longopts[i] = (struct option){d->name,
					      arg ? required_argument : no_argument,
					      NULL, 1000 + (int)i};
		if (d->short_name) {
			shortopts[ns++] = (char)d->short_name;
			if (arg)
				shortopts[ns++] = ':';
		}
	}
	longopts[OPT_COUNT] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[OPT_COUNT + 1] = (struct option){"version", no_argument, NULL, 'V'};
	longopts[OPT_COUNT + 2] = (struct option){0, 0, 0, 0};
	shortopts[ns++] = 'h';
	shortopts[ns++] = 'V';
	shortopts[ns] = 0;

	bool seen[OPT_COUNT] = {false};
	optind = 0; /* full reset: the parser may run more than once */
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct opt_def *d = NULL;
		if (ch >= 1000)
			d = &opt_table[ch - 1000];
		for (size_t i = 0; !d && i < OPT_COUNT; i++)
			if (opt_table[i].short_name == ch)
				d = &opt_table[i];
		if (d) {
			if (d->type == OT_NOBOOL) {
				*(bool *)((char *)o + d->offset) = false;
				continue;
			}
			if (d->offset == OFF(config))
				o->config_given = true;
			*err = opt_set(o, d, optarg, seen[d - opt_table]);
			seen[d - opt_table] = true;
			if (*err)
				return OPTIONS_ERROR;
			continue;
		}
		switch (ch) {
		case 'h':
			options_usage(stdout);
			return OPTIONS_EXIT;
		case 'V':
			printf("tpd %s (protocol %d)\n", TP_VERSION,
			       TP_PROTOCOL_VERSION);
			return OPTIONS_EXIT;
		case ':':
			if (asprintf(err, "option %s needs a value",
				     argv[optind - 1]) < 0)
				*err = NULL;
			return OPTIONS_ERROR;
		default:
			/* Inside a group of short options optind has not moved
			 * on yet: name the letter itself. */
			if ((optopt > 0 && optopt < 1000
				     ? asprintf(err, "unknown option -%c", optopt)
				     : asprintf(err, "unknown option %s",
						argv[optind - 1])) < 0)
				*err = NULL;
			return OPTIONS_ERROR;
		}
	}
	if (optind < argc) {
		if (asprintf(err, "unexpected argument \"%s\"", argv[optind]) < 0)
			*err = NULL;
		return OPTIONS_ERROR;
	}
	return OPTIONS_OK;
}

static char *opt_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
			 s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

/* Appends "FILE:LINE: msg" to the error list. */
static void opt_complain(char **errs, const char *file, int line,
			 const char *msg)
{
	char *next = NULL;
	if (asprintf(&next, "%s%s%s:%d: %s", *errs ? *errs : "",
		     *errs ? "\n" : "", file, line, msg) < 0)
		return;
	free(*errs);
	*errs = next;
}

int options_apply_config(struct tpd_options *o, const char *file,
			 const char *text, char **err)
{
	char *copy = strdup(text);
	char *errs = NULL;
	bool seen[OPT_COUNT] = {false};
	int lineno = 0;
	char *save = NULL;
	/* strtok_r would merge empty lines, which only shifts numbering. */
	for (char *line = copy; line; line = save) {
		char *nl = strchr(line, '\n');
		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = 0;
		lineno++;
		char *s = opt_trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			opt_complain(&errs, file, lineno,
				     "expected \"key = value\"");
			continue;
		}
		*eq = 0;
		char *key = opt_trim(s);
		char *val = opt_trim(eq + 1);
		/* SPEC 8 names keys with underscores: both spellings work. */
		for (char *k = key; *k; k++)
			if (*k == '_')
				*k = '-';
		const struct opt_def *d = NULL;
		for (size_t i = 0; i < OPT_COUNT; i++) {
			const char *name = opt_table[i].name;
			/* "no-dht" is the flag; the key is "dht = no". */
			if (opt_table[i].type == OT_NOBOOL)
				name += 3;
			if (!strcmp(key, name))
				d = &opt_table[i];
		}
		if (!d || d->offset == OFF(config)) {
			char *m = NULL;
			if (asprintf(&m, "unknown key \"%s\"", key) >= 0)
				opt_complain(&errs, file, lineno, m);
			free(m);
			continue;
		}
		char *why = opt_set(o, d, val, seen[d - opt_table]);
		seen[d - opt_table] = true;
		if (why) {
			opt_complain(&errs, file, lineno, why);
			free(why);
		}
	}
	free(copy);
	if (errs) {
		*err = errs;
		return -1;
	}
	return 0;
}

static int opt_absolute(char **path, char **err)
{
	if (!*path || (*path)[0] == '/')
		return 0;
	char *cwd = getcwd(NULL, 0);
	char *abs = NULL;
	if (!cwd || asprintf(&abs, "%s/%s", cwd, *path) < 0) {
		free(cwd);
		*err = strdup("cannot find the current directory");
		return -1;
	}
	free(cwd);
	free(*path);
	*path = abs;
	return 0;
}

int options_finish(struct tpd_options *o, char **err)
{
	if (!o->socket_path || !o->state_dir) {
		*err = strdup("out of memory");
		return -1;
	}
	if (!o->download_dir &&
	    asprintf(&o->download_dir, "%s/downloads", o->state_dir) < 0) {
		*err = strdup("out of memory");
		return -1;
	}
	if (opt_absolute(&o->watch_dir, err) < 0 ||
	    opt_absolute(&o->on_complete, err) < 0 ||
	    opt_absolute(&o->socket_path, err) < 0 ||
	    opt_absolute(&o->state_dir, err) < 0 ||
	    opt_absolute(&o->download_dir, err) < 0 ||
	    opt_absolute(&o->blocklist, err) < 0)
		return -1;
	if (!o->listen) {
		*err = strdup("out of memory");
		return -1;
	}
	if (peernet_check_listen(o->listen, err) < 0)
		return -1;
	if (o->dht_bootstrap && peernet_check_hostports(o->dht_bootstrap, err) < 0)
		return -1;
	if (!o->tcp && !o->utp) {
		*err = strdup("--no-tcp and --no-utp together leave no way to "
			      "reach a peer");
		return -1;
	}
	return 0;
}

void options_free(struct tpd_options *o)
{
	free(o->socket_path);
	free(o->state_dir);
	free(o->download_dir);
	free(o->listen);
	free(o->dht_bootstrap);
	free(o->blocklist);
	free(o->tracker);
	free(o->config);
	free(o->socket_group);
	free(o->watch_dir);
	free(o->on_complete);
	tp_session_free(&o->session);
	memset(o, 0, sizeof *o);
}
