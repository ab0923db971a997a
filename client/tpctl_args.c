/*
 * tpctl_args.c - tpctl's command table and command-line parsing.
 *
 * Owns the one table of commands (name, handler, usage, help, options) and
 * turns argv into a struct tpctl_args: global options, the command (found by
 * name or unambiguous prefix, as tmux does) and the command's own options.
 * Pure apart from printing usage text: no daemon, no files, so the unit
 * tests drive it directly.
 */
#include "tpctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rate.h"

/* Values of the commands' long options (above any short option char). */
enum {
	TPCTL_OPT_DIR = 256,
	TPCTL_OPT_WAIT,
	TPCTL_OPT_PEER,
	TPCTL_OPT_PAUSED,
	TPCTL_OPT_TRACKER,
	TPCTL_OPT_TORRENT_OUT,
	TPCTL_OPT_PIECE_SIZE,
	TPCTL_OPT_V1,
	TPCTL_OPT_V2,
	TPCTL_OPT_HYBRID,
	TPCTL_OPT_PRIVATE,
	TPCTL_OPT_COMMENT,
	TPCTL_OPT_WAIT_SEEDING,
	TPCTL_OPT_DELETE_FILES,
	TPCTL_OPT_TORRENT_DIR,
	TPCTL_OPT_JSON,
	TPCTL_OPT_TIMEOUT,
	TPCTL_OPT_LABEL,
	TPCTL_OPT_NO_LABELS,
	TPCTL_OPT_SEQUENTIAL,
	TPCTL_OPT_SEQUENTIAL_ARG,
	TPCTL_OPT_DOWN,
	TPCTL_OPT_UP,
	TPCTL_OPT_RATIO,
	TPCTL_OPT_SEED_TIME,
	TPCTL_OPT_SKIP,
	TPCTL_OPT_GET,
	TPCTL_OPT_LOW,
	TPCTL_OPT_NORMAL,
	TPCTL_OPT_HIGH,
	TPCTL_OPT_ADD,
	TPCTL_OPT_REMOVE
};

/* Every command also takes --help, --json and --timeout after its name. */
#define TPCTL_COMMON_OPTS                                   \
	{ "help", no_argument, NULL, 'h' },                 \
	{ "json", no_argument, NULL, TPCTL_OPT_JSON },      \
	{ "timeout", required_argument, NULL, TPCTL_OPT_TIMEOUT }

static const struct option tpctl_opts_none[] = {
	TPCTL_COMMON_OPTS, { NULL, 0, NULL, 0 }
};

static const struct option tpctl_opts_add[] = {
	TPCTL_COMMON_OPTS,
	{ "dir", required_argument, NULL, TPCTL_OPT_DIR },
	{ "wait", no_argument, NULL, TPCTL_OPT_WAIT },
	{ "peer", required_argument, NULL, TPCTL_OPT_PEER },
	{ "paused", no_argument, NULL, TPCTL_OPT_PAUSED },
	{ "label", required_argument, NULL, TPCTL_OPT_LABEL },
	{ "sequential", no_argument, NULL, TPCTL_OPT_SEQUENTIAL },
	{ "down", required_argument, NULL, TPCTL_OPT_DOWN },
	{ "up", required_argument, NULL, TPCTL_OPT_UP },
	{ NULL, 0, NULL, 0 }
};

static const struct option tpctl_opts_set[] = {
	TPCTL_COMMON_OPTS,
	{ "sequential", required_argument, NULL, TPCTL_OPT_SEQUENTIAL_ARG },
	{ "label", required_argument, NULL, TPCTL_OPT_LABEL },
	{ "no-labels", no_argument, NULL, TPCTL_OPT_NO_LABELS },
	{ "ratio", required_argument, NULL, TPCTL_OPT_RATIO },
	{ "seed-time", required_argument, NULL, TPCTL_OPT_SEED_TIME },
	{ "down", required_argument, NULL, TPCTL_OPT_DOWN },
	{ "up", required_argument, NULL, TPCTL_OPT_UP },
	{ NULL, 0, NULL, 0 }
};

static const struct option tpctl_opts_limit[] = {
	TPCTL_COMMON_OPTS,
	{ "down", required_argument, NULL, TPCTL_OPT_DOWN },
	{ "up", required_argument, NULL, TPCTL_OPT_UP },
	{ NULL, 0, NULL, 0 }
};

static const struct option tpctl_opts_files[] = {
	TPCTL_COMMON_OPTS,
	{ "skip", required_argument, NULL, TPCTL_OPT_SKIP },
	{ "get", required_argument, NULL, TPCTL_OPT_GET },
	{ "low", required_argument, NULL, TPCTL_OPT_LOW },
	{ "normal", required_argument, NULL, TPCTL_OPT_NORMAL },
	{ "high", required_argument, NULL, TPCTL_OPT_HIGH },
	{ NULL, 0, NULL, 0 }
};

static const struct option tpctl_opts_trackers[] = {
	TPCTL_COMMON_OPTS,
	{ "add", required_argument, NULL, TPCTL_OPT_ADD },
	{ "remove", required_argument, NULL, TPCTL_OPT_REMOVE },
	{ NULL, 0, NULL, 0 }
};

static const struct option tpctl_opts_list[] = {
	TPCTL_COMMON_OPTS,
	{ "label", required_argument, NULL, TPCTL_OPT_LABEL },
	{ NULL, 0, NULL, 0 }
};

static const struct option tpctl_opts_seed[] = {
	TPCTL_COMMON_OPTS,
	{ "tracker", required_argument, NULL, TPCTL_OPT_TRACKER },
	{ "torrent-out", required_argument, NULL, TPCTL_OPT_TORRENT_OUT },
	{ "piece-size", required_argument, NULL, TPCTL_OPT_PIECE_SIZE },
	{ "v1", no_argument, NULL, TPCTL_OPT_V1 },
	{ "v2", no_argument, NULL, TPCTL_OPT_V2 },
	{ "hybrid", no_argument, NULL, TPCTL_OPT_HYBRID },
	{ "private", no_argument, NULL, TPCTL_OPT_PRIVATE },
	{ "comment", required_argument, NULL, TPCTL_OPT_COMMENT },
	{ "wait-seeding", no_argument, NULL, TPCTL_OPT_WAIT_SEEDING },
	{ NULL, 0, NULL, 0 }
};

static const struct option tpctl_opts_close[] = {
	TPCTL_COMMON_OPTS,
	{ "delete-files", no_argument, NULL, TPCTL_OPT_DELETE_FILES },
	{ NULL, 0, NULL, 0 }
};

static const struct option tpctl_opts_pipe[] = {
	TPCTL_COMMON_OPTS,
	{ "torrent-dir", required_argument, NULL, TPCTL_OPT_TORRENT_DIR },
	{ "tracker", required_argument, NULL, TPCTL_OPT_TRACKER },
	{ NULL, 0, NULL, 0 }
};

const struct tpctl_cmd tpctl_cmds[] = {
	{ "add", tpctl_cmd_add, "SOURCE [--dir DIR] [--wait] [--peer HOST:PORT]... [--paused] [--label L]... [--sequential] [--down RATE] [--up RATE]",
	  "start downloading a .torrent file, an http(s) URL of one, or a magnet URI",
	  "  --dir DIR          download into DIR (default: the daemon's download dir)\n"
	  "  --wait             wait until the download is complete\n"
	  "  --peer HOST:PORT   connect to this peer at once (repeatable)\n"
	  "  --paused           add the torrent paused\n"
	  "  --label L          give it label L (repeatable)\n"
	  "  --sequential       download the pieces in order\n"
	  "  --down RATE        its download limit (k/M/G: powers of 1024 bytes/s)\n"
	  "  --up RATE          its upload limit\n",
	  tpctl_opts_add, 1, 1 },
	{ "seed", tpctl_cmd_seed, "PATH [--tracker URL]... [--torrent-out FILE] [--piece-size BYTES] [--v1|--v2|--hybrid] [--private] [--comment TEXT] [--wait-seeding]",
	  "make a .torrent for a file or directory and seed it where it lies",
	  "  --tracker URL        announce URL (repeatable; default: the daemon's --tracker)\n"
	  "  --torrent-out FILE   where to write the .torrent (default: ./NAME.torrent)\n"
	  "  --piece-size BYTES   a power of two >= 16384, K/M suffixes allowed (default: automatic)\n"
	  "  --v1 | --v2 | --hybrid   torrent format (default: v1)\n"
	  "  --private            set the private flag (no DHT, no PEX)\n"
	  "  --comment TEXT       comment stored in the .torrent\n"
	  "  --wait-seeding       wait until the torrent is seeding\n",
	  tpctl_opts_seed, 1, 1 },
	{ "close", tpctl_cmd_close, "ID [--delete-files]",
	  "stop a torrent and forget it",
	  "  --delete-files   also delete the downloaded data\n",
	  tpctl_opts_close, 1, 1 },
	{ "pause", tpctl_cmd_pause, "ID", "pause a torrent", "",
	  tpctl_opts_none, 1, 1 },
	{ "resume", tpctl_cmd_resume, "ID", "resume a paused torrent", "",
	  tpctl_opts_none, 1, 1 },
	{ "reannounce", tpctl_cmd_reannounce, "ID",
	  "announce to the trackers now", "", tpctl_opts_none, 1, 1 },
	{ "list", tpctl_cmd_list, "[--label L]", "list your torrents",
	  "  --label L   only the torrents carrying label L\n",
	  tpctl_opts_list, 0, 0 },
	{ "set", tpctl_cmd_set, "ID [--sequential on|off] [--label L]... [--no-labels] [--ratio R|default] [--seed-time DURATION|default] [--down RATE] [--up RATE]",
	  "change how one torrent runs",
	  "  --sequential on|off        download the pieces in order, or not\n"
	  "  --label L                  set its labels to these (repeatable)\n"
	  "  --no-labels                remove every label\n"
	  "  --ratio R|default          pause it once uploaded / size reaches R\n"
	  "  --seed-time DURATION|default  pause it after seeding this long (s/m/h/d)\n"
	  "  --down RATE, --up RATE     its limits (k/M/G per second; 0 unlimited)\n",
	  tpctl_opts_set, 1, 1 },
	{ "limit", tpctl_cmd_limit, "[ID] [--down RATE] [--up RATE]",
	  "show or set the rate limits of a torrent, or without ID the daemon's",
	  "  --down RATE   download limit (k/M/G: powers of 1024 bytes/s; 0 unlimited)\n"
	  "  --up RATE     upload limit\n",
	  tpctl_opts_limit, 0, 1 },
	{ "files", tpctl_cmd_files, "ID [--skip IDX,...] [--get IDX,...] [--low|--normal|--high IDX,...]",
	  "list a torrent's files (INDEX PRIORITY PROGRESS SIZE PATH), or choose which to download",
	  "  --skip IDX,...     do not download these files\n"
	  "  --get IDX,...      download these (normal priority)\n"
	  "  --low IDX,...      low priority\n"
	  "  --normal IDX,...   normal priority\n"
	  "  --high IDX,...     high priority\n",
	  tpctl_opts_files, 1, 1 },
	{ "peers", tpctl_cmd_peers, "ID",
	  "list the peers a torrent is connected to", "", tpctl_opts_none,
	  1, 1 },
	{ "trackers", tpctl_cmd_trackers, "ID [--add URL]... [--remove URL]...",
	  "list a torrent's trackers, or add and remove some",
	  "  --add URL      add this tracker (repeatable)\n"
	  "  --remove URL   remove this tracker (repeatable)\n",
	  tpctl_opts_trackers, 1, 1 },
	{ "move", tpctl_cmd_move, "ID DIR",
	  "move a torrent's data into DIR and go on from there", "",
	  tpctl_opts_none, 2, 2 },
	{ "recheck", tpctl_cmd_recheck, "ID",
	  "verify a torrent's data on disk again", "", tpctl_opts_none, 1, 1 },
	{ "queue", tpctl_cmd_queue, "ID top|up|down|bottom",
	  "move a torrent in the download queue", "", tpctl_opts_none, 2, 2 },
	{ "session", tpctl_cmd_session, "[KEY=VALUE]...",
	  "show, or set, the daemon-wide settings (root or the daemon's user)",
	  "  keys: download_limit upload_limit alt_download_limit alt_upload_limit\n"
	  "        (RATE), alt_speed dht pex lsd utp (on|off), alt_schedule\n"
	  "        (\"HH:MM-HH:MM [DAYS]\"|none), max_active_downloads\n"
	  "        max_active_seeds (N), ratio_limit (R|none), seed_time_limit\n"
	  "        (DURATION|none), encryption (enabled|forced|disabled)\n",
	  tpctl_opts_none, 0, -1 },
	{ "status", tpctl_cmd_status, "ID", "show one torrent's status", "",
	  tpctl_opts_none, 1, 1 },
	{ "info", tpctl_cmd_info, "",
	  "daemon version, listen port, counts", "", tpctl_opts_none, 0, 0 },
	{ "watch", tpctl_cmd_watch, "[ID...]",
	  "live progress bars on a terminal, lines otherwise (all torrents without IDs)",
	  "", tpctl_opts_none, 0, -1 },
	{ "wait", tpctl_cmd_wait, "ID",
	  "block until the torrent is complete (progress bar on a terminal)",
	  "", tpctl_opts_none, 1, 1 },
	{ "pipe", tpctl_cmd_pipe, "[--torrent-dir DIR] [--tracker URL]",
	  "read file:PATH, torrent:URL|PATH, magnet:? lines on stdin; print ID:NAME:PERCENT",
	  "  --torrent-dir DIR   where .torrent files are written and torrent:PATH is\n"
	  "                      looked up (default: the current directory)\n"
	  "  --tracker URL       announce URL for file: lines (default: the daemon's)\n",
	  tpctl_opts_pipe, 0, 0 },
	{ "explain", tpctl_cmd_explain, "",
	  "print every event of your torrents as a human-readable line", "",
	  tpctl_opts_none, 0, 0 },
};

const size_t tpctl_n_cmds = sizeof tpctl_cmds / sizeof tpctl_cmds[0];

static const struct option tpctl_global_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, TPCTL_OPT_JSON },
	{ "timeout", required_argument, NULL, TPCTL_OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

__attribute__((format(printf, 2, 3)))
static int tpctl_args_fail(struct tpctl_args *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(a->error);
	a->error = s ? s : strdup("out of memory");
	return -1;
}

void tpctl_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: tpctl [-s SOCKET] [--json] [--timeout SECONDS] COMMAND [ARGS]\n\n"
		   "Control tpd, the BitTorrent daemon.\n\n"
		   "Options:\n"
		   "  -s, --socket SOCKET   the daemon's socket (default: $TPD_SOCKET,\n"
		   "                        /run/tpd/tpd.sock for root, else\n"
		   "                        $XDG_RUNTIME_DIR/tpd.sock)\n"
		   "      --json            print every event as received, one JSON line each\n"
		   "      --timeout SECONDS give up (exit 4) when the command has not\n"
		   "                        finished by then (default: 30 s for an answer,\n"
		   "                        60 s for add's; none for seed, wait, watch,\n"
		   "                        explain, pipe)\n"
		   "  -h, --help            this help; tpctl COMMAND --help for one command\n"
		   "      --version         print the version\n\n"
		   "Commands:\n");
	for (i = 0; i < tpctl_n_cmds; i++)
		fprintf(f, "  %-11s %s\n", tpctl_cmds[i].name,
			tpctl_cmds[i].help);
	fprintf(f, "\nCommands may be abbreviated to any unambiguous prefix.\n"
		   "Exit status: 0 ok, 1 the daemon refused or the torrent failed,\n"
		   "2 usage, 3 already downloading, 4 cannot reach the daemon.\n");
}

void tpctl_cmd_usage(FILE *f, const struct tpctl_cmd *cmd)
{
	fprintf(f, "usage: tpctl %s%s%s\n\n%s\n", cmd->name,
		*cmd->usage ? " " : "", cmd->usage, cmd->help);
	if (*cmd->options)
		fprintf(f, "\nOptions:\n%s", cmd->options);
}

const struct tpctl_cmd *tpctl_cmd_find(const char *name, char **err)
{
	const struct tpctl_cmd *found = NULL;
	size_t len = strlen(name), i, matches = 0;
	char *list = NULL;

	*err = NULL;
	for (i = 0; i < tpctl_n_cmds; i++)
		if (strcmp(tpctl_cmds[i].name, name) == 0)
			return &tpctl_cmds[i];
	for (i = 0; len > 0 && i < tpctl_n_cmds; i++) {
		if (strncmp(tpctl_cmds[i].name, name, len) != 0)
			continue;
		found = &tpctl_cmds[i];
		matches++;
	}
	if (matches == 1)
		return found;
	if (matches == 0) {
		if (asprintf(err, "unknown command '%s' (see tpctl --help)",
			     name) < 0)
			*err = NULL;
		return NULL;
	}
	/* Name the candidates so the user sees what to type. */
	for (i = 0; i < tpctl_n_cmds; i++) {
		char *next = NULL;

		if (strncmp(tpctl_cmds[i].name, name, len) != 0)
			continue;
		if (asprintf(&next, "%s%s%s", list ? list : "",
			     list ? ", " : "", tpctl_cmds[i].name) < 0)
			next = NULL;
		free(list);
		list = next;
	}
	if (asprintf(err, "ambiguous command '%s': %s", name,
		     list ? list : "?") < 0)
		*err = NULL;
	free(list);
	return NULL;
}

/* --timeout: seconds, a fraction allowed, more than 0 and at most a
 * year (so that milliseconds fit every int64 and int computation). */
static int tpctl_parse_timeout(const char *s, int64_t *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 366.0 * 86400)
		return -1;
	*ms = (int64_t)(v * 1000);
	if (*ms < 1)
		*ms = 1;
	return 0;
}

/* A positive torrent id, the whole string. */
static int tpctl_parse_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || *s == '+' || *s == ' ')
		return -1;
	*out = v;
	return 0;
}

/* A piece size: decimal bytes with an optional K or M (binary) suffix;
 * 0 (automatic) or a power of two of at least 16 KiB. */
static int tpctl_parse_piece_size(const char *s, int64_t *out)
{
	long long mult = 1;
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kib") == 0)
		mult = 1024;
	else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mib") == 0)
		mult = 1024 * 1024;
	else if (*end && strcasecmp(end, "b") != 0)
		return -1;
	if (v > INT64_MAX / mult)
		return -1;
	v *= mult;
	if (v != 0 && (v < 16384 || (v & (v - 1)) != 0))
		return -1;
	*out = v;
	return 0;
}

static int tpctl_push_str(struct tpctl_args *a, const char ***arr, size_t *n,
			  const char *s)
{
	const char **na = realloc(*arr, (*n + 1) * sizeof **arr);

	if (!na)
		return tpctl_args_fail(a, "out of memory");
	na[(*n)++] = s;
	*arr = na;
	return 0;
}

/* "0,2,5" after --skip and friends: the file indexes, in a new op. */
static int tpctl_file_op(struct tpctl_args *a, int priority, const char *arg,
			 const char *opt)
{
	struct tpctl_file_op *ops = realloc(a->file_ops,
					    (a->n_file_ops + 1) * sizeof *ops);
	if (!ops)
		return tpctl_args_fail(a, "out of memory");
	a->file_ops = ops;
	struct tpctl_file_op *op = &ops[a->n_file_ops++];
	memset(op, 0, sizeof *op);
	op->priority = priority;
	size_t n = 1;
	for (const char *p = arg; *p; p++)
		n += *p == ',';
	op->idx = calloc(n, sizeof *op->idx);
	if (!op->idx)
		return tpctl_args_fail(a, "out of memory");
	const char *p = arg;
	for (size_t i = 0; i < n; i++) {
		char *end;
		errno = 0;
		long long v = strtoll(p, &end, 10);
		if (errno || end == p || v < 0 || v > INT32_MAX ||
		    (*end && *end != ',') || *p == '+' || *p == ' ')
			return tpctl_args_fail(a, "--%s wants file indexes "
					       "such as 0,2,5, not '%s'", opt,
					       arg);
		op->idx[op->n_idx++] = v;
		p = end + (*end == ',');
	}
	return 0;
}

static int tpctl_set_version(struct tpctl_args *a, const char *v)
{
	if (a->tversion && strcmp(a->tversion, v) != 0)
		return tpctl_args_fail(a, "seed: --%s and --%s exclude each "
				       "other", a->tversion, v);
	a->tversion = v;
	return 0;
}

/* Applies one command option. */
static int tpctl_apply_opt(struct tpctl_args *a, int opt, const char *arg)
{
	switch (opt) {
	case 'h': a->help = true; return 0;
	case TPCTL_OPT_JSON: a->json = true; return 0;
	case TPCTL_OPT_TIMEOUT:
		if (tpctl_parse_timeout(arg, &a->timeout_ms) < 0)
			return tpctl_args_fail(a, "--timeout wants a number of "
					       "seconds above 0, not '%s'", arg);
		return 0;
	case TPCTL_OPT_DIR: a->dir = arg; return 0;
	case TPCTL_OPT_WAIT: a->wait = true; return 0;
	case TPCTL_OPT_PAUSED: a->paused = true; return 0;
	case TPCTL_OPT_PEER:
		if (!strchr(arg, ':'))
			return tpctl_args_fail(a, "--peer wants HOST:PORT, "
					       "not '%s'", arg);
		return tpctl_push_str(a, &a->peers, &a->n_peers, arg);
	case TPCTL_OPT_TRACKER:
		return tpctl_push_str(a, &a->trackers, &a->n_trackers, arg);
	case TPCTL_OPT_TORRENT_OUT: a->torrent_out = arg; return 0;
	case TPCTL_OPT_PIECE_SIZE:
		if (tpctl_parse_piece_size(arg, &a->piece_size) < 0)
			return tpctl_args_fail(a, "--piece-size wants 0 or a "
					       "power of two >= 16384, not "
					       "'%s'", arg);
		return 0;
	case TPCTL_OPT_V1: return tpctl_set_version(a, "v1");
	case TPCTL_OPT_V2: return tpctl_set_version(a, "v2");
	case TPCTL_OPT_HYBRID: return tpctl_set_version(a, "hybrid");
	case TPCTL_OPT_PRIVATE: a->private_flag = true; return 0;
	case TPCTL_OPT_COMMENT: a->comment = arg; return 0;
	case TPCTL_OPT_WAIT_SEEDING: a->wait_seeding = true; return 0;
	case TPCTL_OPT_DELETE_FILES: a->delete_files = true; return 0;
	case TPCTL_OPT_TORRENT_DIR: a->torrent_dir = arg; return 0;
	case TPCTL_OPT_LABEL:
		if (!*arg)
			return tpctl_args_fail(a, "--label wants a non-empty "
					       "label");
		return tpctl_push_str(a, &a->labels, &a->n_labels, arg);
	case TPCTL_OPT_NO_LABELS: a->no_labels = true; return 0;
	case TPCTL_OPT_SEQUENTIAL: a->sequential = 1; return 0;
	case TPCTL_OPT_SEQUENTIAL_ARG:
		if (!strcmp(arg, "on") || !strcmp(arg, "off")) {
			a->sequential = !strcmp(arg, "on");
			return 0;
		}
		return tpctl_args_fail(a, "--sequential wants on or off, not "
				       "'%s'", arg);
	case TPCTL_OPT_DOWN:
	case TPCTL_OPT_UP:
		if (tp_rate_parse(arg, opt == TPCTL_OPT_DOWN ? &a->down
							     : &a->up) < 0)
			return tpctl_args_fail(a, "--%s wants a RATE such as "
					       "512k, 2M or 0 (unlimited), not "
					       "'%s'", opt == TPCTL_OPT_DOWN
					       ? "down" : "up", arg);
		return 0;
	case TPCTL_OPT_SKIP: return tpctl_file_op(a, 0, arg, "skip");
	case TPCTL_OPT_GET: return tpctl_file_op(a, 4, arg, "get");
	case TPCTL_OPT_LOW: return tpctl_file_op(a, 1, arg, "low");
	case TPCTL_OPT_NORMAL: return tpctl_file_op(a, 4, arg, "normal");
	case TPCTL_OPT_HIGH: return tpctl_file_op(a, 7, arg, "high");
	case TPCTL_OPT_ADD:
		return tpctl_push_str(a, &a->trackers, &a->n_trackers, arg);
	case TPCTL_OPT_REMOVE:
		return tpctl_push_str(a, &a->remove, &a->n_remove, arg);
	case TPCTL_OPT_RATIO: {
		char *end = NULL;
		if (strcmp(arg, "default") != 0 &&
		    (!*arg || strspn(arg, "0123456789.") != strlen(arg) ||
		     (strtod(arg, &end), *end)))
			return tpctl_args_fail(a, "--ratio wants a number such "
					       "as 1.5, or default, not '%s'",
					       arg);
		a->ratio = arg;
		return 0;
	}
	case TPCTL_OPT_SEED_TIME: {
		int64_t v;
		if (strcmp(arg, "default") != 0 && tp_duration_parse(arg, &v) < 0)
			return tpctl_args_fail(a, "--seed-time wants a DURATION "
					       "such as 90m or 2d, or default, "
					       "not '%s'", arg);
		a->seed_time = arg;
		return 0;
	}
	}
	return tpctl_args_fail(a, "internal: unhandled option %d", opt);
}

/* The error for getopt's '?' or ':' answer: argv[optind - 1] is the word
 * that was wrong (getopt has already advanced past it). */
static int tpctl_bad_opt(struct tpctl_args *a, int argc, char **argv,
			 int ret, const char *where)
{
	const char *word = optind - 1 < argc ? argv[optind - 1] : "?";

	if (ret == ':')
		return tpctl_args_fail(a, "%s: option '%s' needs a value",
				       where, word);
	if (optopt && !(word[0] == '-' && word[1] == '-'))
		return tpctl_args_fail(a, "%s: unknown option '-%c'", where,
				       optopt);
	return tpctl_args_fail(a, "%s: unknown option '%s'", where, word);
}

/* The positional arguments of the command, in order. */
static int tpctl_apply_pos(struct tpctl_args *a, int n, char **pos)
{
	const char *name = a->cmd->name;
	int i;

	if (n < a->cmd->min_args || (a->cmd->max_args >= 0 &&
				     n > a->cmd->max_args))
		return tpctl_args_fail(a, "usage: tpctl %s %s", name,
				       a->cmd->usage);
	if (strcmp(name, "add") == 0) {
		a->source = pos[0];
		if (!*a->source)
			return tpctl_args_fail(a, "add: SOURCE is empty");
	} else if (strcmp(name, "seed") == 0) {
		a->path = pos[0];
		if (!*a->path)
			return tpctl_args_fail(a, "seed: PATH is empty");
	} else if (strcmp(name, "watch") == 0) {
		a->ids = calloc((size_t)n + 1, sizeof *a->ids);
		if (!a->ids)
			return tpctl_args_fail(a, "out of memory");
		for (i = 0; i < n; i++)
			if (tpctl_parse_id(pos[i], &a->ids[i]) < 0)
				return tpctl_args_fail(a, "watch: ID must be "
						       "a positive integer, "
						       "not '%s'", pos[i]);
		a->n_ids = (size_t)n;
	} else if (strcmp(name, "queue") == 0) {
		static const char *const moves[] = {"top", "up", "down",
						    "bottom"};
		if (tpctl_parse_id(pos[0], &a->id) < 0)
			return tpctl_args_fail(a, "queue: ID must be a positive "
					       "integer, not '%s'", pos[0]);
		for (i = 0; i < 4; i++)
			if (!strcmp(pos[1], moves[i]))
				a->queue_move = moves[i];
		if (!a->queue_move)
			return tpctl_args_fail(a, "queue: where to? top, up, "
					       "down or bottom, not '%s'",
					       pos[1]);
	} else if (strcmp(name, "move") == 0) {
		if (tpctl_parse_id(pos[0], &a->id) < 0)
			return tpctl_args_fail(a, "move: ID must be a positive "
					       "integer, not '%s'", pos[0]);
		if (!*pos[1])
			return tpctl_args_fail(a, "move: DIR is empty");
		a->dir = pos[1];
	} else if (strcmp(name, "session") == 0) {
		for (i = 0; i < n; i++) {
			if (!strchr(pos[i], '=') || pos[i][0] == '=')
				return tpctl_args_fail(a, "session: settings "
						       "are KEY=VALUE, not "
						       "'%s'", pos[i]);
			if (tpctl_push_str(a, &a->kv, &a->n_kv, pos[i]) < 0)
				return -1;
		}
	} else if (n == 1) {
		a->has_id = true;
		if (tpctl_parse_id(pos[0], &a->id) < 0)
			return tpctl_args_fail(a, "%s: ID must be a positive "
					       "integer, not '%s'", name,
					       pos[0]);
	}
	return 0;
}

int tpctl_args_parse(int argc, char **argv, struct tpctl_args *a)
{
	char *err = NULL;
	char **pos;
	int opt, idx, npos = 0, i;

	memset(a, 0, sizeof *a);
	a->sequential = -1;
	a->down = a->up = -1;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:s:h", tpctl_global_opts,
				  &idx)) != -1) {
		switch (opt) {
		case 's': a->socket = optarg; break;
		case 'h': a->help = true; break;
		case 'V': a->version = true; break;
		case TPCTL_OPT_JSON: a->json = true; break;
		case TPCTL_OPT_TIMEOUT:
			if (tpctl_apply_opt(a, opt, optarg) < 0)
				return -1;
			break;
		default: return tpctl_bad_opt(a, argc, argv, opt, "tpctl");
		}
	}
	if (optind >= argc) {
		if (a->help || a->version)
			return 0;
		return tpctl_args_fail(a, "no command given (see tpctl "
				       "--help)");
	}
	a->cmd = tpctl_cmd_find(argv[optind], &err);
	if (!a->cmd) {
		tpctl_args_fail(a, "%s", err ? err : "out of memory");
		free(err);
		return -1;
	}
	argc -= optind;
	argv += optind;
	/* Collect positionals ourselves: getopt's "-" mode hands them over
	 * one by one (opt == 1) without reordering argv. */
	pos = calloc((size_t)argc + 1, sizeof *pos);
	if (!pos)
		return tpctl_args_fail(a, "out of memory");
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "-:h", a->cmd->longopts,
				  &idx)) != -1) {
		if (opt == 1) {
			pos[npos++] = optarg;
			continue;
		}
		if (opt == '?' || opt == ':') {
			free(pos);
			return tpctl_bad_opt(a, argc, argv, opt,
					     a->cmd->name);
		}
		if (tpctl_apply_opt(a, opt, optarg) < 0) {
			free(pos);
			return -1;
		}
	}
	/* After "--" getopt stops; the rest are positionals too. */
	for (i = optind; i < argc; i++)
		pos[npos++] = argv[i];
	if (a->help) {
		free(pos);
		return 0;
	}
	i = tpctl_apply_pos(a, npos, pos);
	free(pos);
	return i;
}

void tpctl_args_free(struct tpctl_args *a)
{
	free(a->peers);
	free(a->trackers);
	free(a->ids);
	free(a->labels);
	free(a->kv);
	for (size_t i = 0; i < a->n_file_ops; i++)
		free(a->file_ops[i].idx);
	free(a->file_ops);
	free(a->remove);
	free(a->error);
	memset(a, 0, sizeof *a);
}
