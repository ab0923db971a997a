/*
 * options.h - tpd's settings: defaults, the command line (getopt_long) and
 * the config file (`key = value` lines, one key per long option).
 * Pure functions, main thread; unit-tested.
 */
#ifndef TPD_OPTIONS_H
#define TPD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "steer.h"

/* Defaults that help texts are made from (each defined here only). */
#define TPD_DEFAULT_LISTEN "0.0.0.0:6881,[::]:6881"
#define TPD_DEFAULT_ENCRYPTION "prefer"

/* --encryption: prefer (encrypted handshake first, plaintext peers still
 * welcome), require (only encrypted peers, RC4 streams) or disable. */
enum tpd_encryption { TPD_ENC_PREFER, TPD_ENC_REQUIRE, TPD_ENC_DISABLE };

struct tpd_options {
	char *socket_path;
	char *state_dir;
	char *download_dir;
	char *listen;          /* "ADDR:PORT[,ADDR:PORT...]"; --listen repeats */
	char *tracker;
	char *config;
	bool config_given;      /* --config named it: a missing file is an error */
	int tick_ms;
	bool dht, lsd, upnp;
	bool pex, utp;
	bool tcp;              /* --no-tcp: uTP only (tests, uTP-only networks) */
	int encryption;        /* enum tpd_encryption */
	char *dht_bootstrap;   /* "HOST:PORT,..."; NULL: libtorrent's nodes */
	char *blocklist;       /* file of blocked ranges; NULL: none */
	int log_level;
	size_t max_line;
	size_t max_conns;
	size_t max_conns_user;  /* per uid, root excepted */
	size_t max_pending;
	size_t max_output;
	size_t max_torrent_size;
	long url_timeout;
	mode_t socket_mode;
	char *socket_group;    /* NULL: the daemon's own group */
	int workers;
	int resume_interval;   /* seconds between resume-data saves */
	/* Daemon-wide steering (SPEC section 8): limits, alt speed, the
	 * queue's slots, ratio and seed-time limits.  dht and lsd above are
	 * copied in by options_session(). */
	struct tp_session session;
	char *watch_dir;        /* NULL: no watch directory */
	char *on_complete;      /* NULL: no completion hook */
	long hook_timeout;      /* seconds before a hook is killed */
};

enum options_result { OPTIONS_OK, OPTIONS_EXIT, OPTIONS_ERROR };

/* Defaults for a daemon running as uid with the given environment
 * (getenv-like lookup so tests can pass their own). */
void options_defaults(struct tpd_options *o, uid_t uid,
		      const char *(*env)(const char *name));
/* Parses argv over the current values.  OPTIONS_EXIT: --help or --version
 * printed to stdout.  OPTIONS_ERROR: *err says why (usage problem). */
enum options_result options_parse(struct tpd_options *o, int argc,
				  char **argv, char **err);
/* Applies a config file's text over the current values.  The command line
 * wins because main parses argv again afterwards.  -1 with every problem in
 * *err, each as "FILE:LINE: message". */
int options_apply_config(struct tpd_options *o, const char *file,
			 const char *text, char **err);
/* Makes the relative paths absolute, derives download_dir. */
int options_finish(struct tpd_options *o, char **err);
void options_free(struct tpd_options *o);
/* The settings the engine starts with (the options' session, with the
 * DHT and LSD switches); the caller frees it with tp_session_free. */
void options_session(const struct tpd_options *o, struct tp_session *out);
void options_usage(void *stream);
/* "prefer", "require", "disable" for an enum tpd_encryption. */
const char *options_encryption_name(int enc);
/* The same words for the session's encryption (session_set's names). */
const char *options_encryption_word(enum tp_encryption e);

#endif
