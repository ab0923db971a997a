/*
 * tpctl.h - what the files of the tpctl command-line tool share: the parsed
 * command line, the command table, the handlers and the output helpers.
 * tpctl is single-threaded.
 */
#ifndef TPCTL_H
#define TPCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

#include "tpclient.h"

/* Exit codes (SPEC section 4). */
enum tpctl_exit {
	TPCTL_EXIT_OK = 0,
	TPCTL_EXIT_FAIL = 1,        /* StartFail, Error, torrent failed */
	TPCTL_EXIT_USAGE = 2,
	TPCTL_EXIT_ALREADY = 3,     /* AlreadyDownloading */
	TPCTL_EXIT_UNREACHABLE = 4  /* no daemon, or it went away */
};

struct tpctl_args;
typedef int tpctl_handler(const struct tpctl_args *a);

/* One command: the only place a command is described. */
struct tpctl_cmd {
	const char *name;
	tpctl_handler *handler;
	const char *usage;              /* arguments after the name */
	const char *help;               /* one-line summary */
	const char *options;            /* option lines for COMMAND --help */
	const struct option *longopts;  /* the command's own options */
	int min_args, max_args;         /* positional arguments; -1 = any */
};

extern const struct tpctl_cmd tpctl_cmds[];
extern const size_t tpctl_n_cmds;

/* The whole command line, parsed.  Strings point into argv; the arrays are
 * malloc'd and released by tpctl_args_free(). */
struct tpctl_args {
	/* global */
	const char *socket;         /* NULL: tpc_default_socket() */
	bool json;
	int64_t timeout_ms;         /* --timeout; 0: the command's default */
	bool help;                  /* --help (general, or of cmd) */
	bool version;
	const struct tpctl_cmd *cmd;

	/* add */
	const char *source;
	const char *dir;
	bool wait;
	bool paused;
	const char **peers;
	size_t n_peers;

	/* seed (trackers also for pipe) */
	const char *path;
	const char **trackers;
	size_t n_trackers;
	const char *torrent_out;
	int64_t piece_size;         /* 0 = automatic */
	const char *tversion;       /* "v1", "v2", "hybrid"; NULL = default */
	bool private_flag;
	const char *comment;
	bool wait_seeding;

	/* close, pause, resume, reannounce, status, wait */
	int64_t id;
	bool delete_files;

	/* watch */
	int64_t *ids;
	size_t n_ids;

	/* pipe */
	const char *torrent_dir;

	/* steering: add, set, limit, queue, session, list */
	const char **labels;        /* --label, repeatable */
	size_t n_labels;
	bool no_labels;
	int sequential;             /* -1 not given, 0 off, 1 on */
	int64_t down, up;           /* RATE; -1 not given */
	const char *ratio;          /* "default" or a number; NULL not given */
	const char *seed_time;      /* "default" or a DURATION; NULL not given */
	bool has_id;                /* limit: an ID was given */
	const char *queue_move;     /* queue: top|up|down|bottom */
	const char **kv;            /* session: KEY=VALUE words */
	size_t n_kv;

	/* files: priority changes in order given; trackers: --add (in
	 * trackers above) and --remove */
	struct tpctl_file_op {
		int priority;           /* 0 skip, 1 low, 4 normal, 7 high */
		int64_t *idx;
		size_t n_idx;
	} *file_ops;
	size_t n_file_ops;
	const char **remove;
	size_t n_remove;

	char *error;                /* malloc'd usage error, when parse fails */
};

/* tpctl_args.c: parses argv.  Returns 0 (a->help / a->version may be set
 * and a->cmd may be NULL then), or -1 with a->error set: a usage error. */
int tpctl_args_parse(int argc, char **argv, struct tpctl_args *a);
void tpctl_args_free(struct tpctl_args *a);
/* Finds a command by name or unambiguous prefix; NULL with *err set. */
const struct tpctl_cmd *tpctl_cmd_find(const char *name, char **err);
void tpctl_usage(FILE *f);
void tpctl_cmd_usage(FILE *f, const struct tpctl_cmd *cmd);

/* Handlers (tpctl_cmds.c, tpctl_watch.c, tpctl_pipe.c). */
tpctl_handler tpctl_cmd_add, tpctl_cmd_seed, tpctl_cmd_close,
	tpctl_cmd_pause, tpctl_cmd_resume, tpctl_cmd_reannounce,
	tpctl_cmd_list, tpctl_cmd_status, tpctl_cmd_info, tpctl_cmd_watch,
	tpctl_cmd_wait, tpctl_cmd_pipe, tpctl_cmd_explain, tpctl_cmd_set,
	tpctl_cmd_limit, tpctl_cmd_queue, tpctl_cmd_session, tpctl_cmd_files,
	tpctl_cmd_peers, tpctl_cmd_trackers, tpctl_cmd_recheck, tpctl_cmd_move;

/* tpctl_steer.c: the steering fields shared by add and set. */
/* Adds --label/--sequential/--down/--up of `a` to a create request. */
void tpctl_steer_add_fields(const struct tpctl_args *a, json_object *req);
/* Builds a session_set request from KEY=VALUE words; NULL with a message
 * printed when one is wrong. */
json_object *tpctl_session_request(const char *const *kv, size_t n);

/* tpctl.c: shared plumbing. */
/* Connects; on failure prints "tpctl: REASON" and returns NULL (exit 4). */
tpc *tpctl_connect(const struct tpctl_args *a);
/* Sets the time limits of this run from --timeout or the command's
 * default: an explicit --timeout bounds the whole command; without it an
 * answer is awaited 30 s (add: 60 s, its URL fetch alone may take the
 * daemon's 30 s) and seed, wait, watch, explain and pipe wait for ever. */
void tpctl_timeout_init(const struct tpctl_args *a);
/* Milliseconds left before --timeout passes, or -1 when there is none. */
int tpctl_time_left_ms(void);
/* True (with the reason printed once) when --timeout has passed. */
bool tpctl_timed_out(void);
/* tpc_call() with the error printed; -1 means exit 4 (also when no answer
 * came within the time limit). */
int tpctl_call(tpc *c, json_object *req, json_object **answer);
/* Sends req (the caller keeps it) on a new connection and returns the
 * answer when its type is `want`, else NULL with *rc set (the answer is
 * printed as tpctl prints failures). */
json_object *tpctl_query(const struct tpctl_args *a, json_object *req,
			 const char *want, int *rc);
/* Escapes (escape.h) every string inside a received event, in place, so
 * that names chosen by other people print no control byte.  The event
 * still prints as received for --json: its text is kept aside. */
void tpctl_ev_clean(json_object *ev);
/* The event's "type", or "" when it has none. */
const char *tpctl_ev_type(json_object *ev);
const char *tpctl_ev_str(json_object *ev, const char *key);
int64_t tpctl_ev_int(json_object *ev, const char *key);
/* Prints an event as received, one line, for --json. */
void tpctl_print_json(json_object *ev);
/* Handles the answers every command shares (Error, unexpected types):
 * prints them and returns the exit code. */
int tpctl_answer_fail(json_object *ev);
/* Absolute form of a path against the client's cwd: realpath() when it
 * exists, else realpath() of its directory plus the last component.
 * Malloc'd; NULL with a message printed when it cannot be made absolute. */
char *tpctl_abspath(const char *path);

/* tpctl_fmt.c: pure formatting helpers (buffers are the caller's). */
/* "1.2 MiB" style; buf of at least 16 bytes. */
void tpctl_fmt_size(char *buf, size_t len, int64_t bytes);
/* Integer percent, floored and clamped to 0..100. */
int tpctl_percent(double progress);
/* Percent floored to one decimal (99.99% shows 99.9, never 100.0). */
double tpctl_percent1(double progress);
/* A bar of `width` cells for progress: "#####-----". */
void tpctl_fmt_bar(char *buf, size_t len, int width, double progress);

/* tpctl_watch.c: waits until torrent `id` is complete (or seeding when
 * `until_seeding`), drawing a bar on a terminal; returns the exit code. */
int tpctl_wait_id(tpc *c, const struct tpctl_args *a, int64_t id,
		  bool until_seeding);

#endif
