/*
 * engine.h - the engine thread: the one thread that owns the libtorrent
 * session (through lt_shim.h).
 *
 * The main thread hands it commands through engine_submit() and collects
 * its events with engine_take_events() when engine_event_fd() is readable.
 * The engine answers every command with exactly one event carrying the
 * command's seq, in the order the commands were submitted: this is what
 * lets the service route create answers with a plain FIFO.  Status events
 * (seq 0) are interleaved between answers.
 */
#ifndef TPD_ENGINE_H
#define TPD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "queue.h"

struct engine;

enum engine_cmd_type {
	ENG_CREATE,      /* add a torrent (bytes or magnet) */
	ENG_FAIL,        /* answer StartFail with reason, in FIFO order */
	ENG_CLOSE,
	ENG_PAUSE,
	ENG_RESUME,
	ENG_REANNOUNCE,
	ENG_SET,         /* steer one torrent: tset */
	ENG_SESSION,     /* session.has == 0: read the settings, else change;
	                    reload: SIGHUP's settings (session and net) */
	ENG_FILES,       /* details of one torrent: EV_DETAIL */
	ENG_PEERS,
	ENG_TRACKERS,
	ENG_RECHECK,     /* hash the data on disk again: EV_DONE */
	ENG_MOVE,        /* save_dir: EV_DONE when started, then EV_MOVED */
};

/* The peer side's settings that are not session keys (SPEC section 9),
 * as the engine runs them (EV_SESSION) or as SIGHUP read them. */
struct engine_net {
	char *listen;              /* "ADDR:PORT,..." */
	char *download_dir;        /* where new torrents go by default */
	char *dht_bootstrap;       /* NULL: libtorrent's public nodes */
	bool upnp, tcp;
	bool several_per_address;  /* EV_SESSION: listen is all loopback */
	int listen_port;           /* EV_SESSION: the TCP port listened on */
};
void engine_net_free(struct engine_net *n);

struct engine_cmd {
	enum engine_cmd_type type;
	uint64_t seq;              /* set by the service, echoed by the event */
	int64_t id;                /* CLOSE/PAUSE/RESUME/REANNOUNCE */
	bool delete_files;         /* CLOSE */

	/* CREATE: exactly one of torrent / magnet */
	unsigned char *torrent;
	size_t torrent_len;
	char *magnet;
	char *save_dir;            /* absolute; NULL = default download dir */
	uint32_t owner;            /* uid the torrent will belong to */
	bool have_all;             /* data just hashed by us: seed at once */
	bool paused;
	char **peers;
	size_t n_peers;

	char *reason;              /* FAIL */
	struct tp_tset tset;       /* SET; CREATE: the TP_TSET_AT_ADD fields */
	struct tp_session session; /* SESSION */
	bool reload;               /* SESSION from SIGHUP: the keys session_set
	                              changed keep their values; net applies */
	struct engine_net net;     /* SESSION with reload */
	struct queue_link link;    /* in the engine's command queue */
};

enum engine_event_type {
	EV_CREATED,      /* id, info_hash, name, save_path */
	EV_DUPLICATE,    /* id of the existing torrent, info_hash */
	EV_START_FAIL,   /* reason */
	EV_DONE,         /* a CLOSE/PAUSE/RESUME/REANNOUNCE succeeded */
	EV_FAILED,       /* ... or failed: reason */
	EV_STATUS,       /* status, pushed (seq 0) */
	EV_RESTORED,     /* a torrent brought back from the state dir (seq 0):
	                    id, owner, info_hash, name, save_path */
	EV_LOADED,       /* every saved torrent is back (seq 0) */
	EV_SESSION,      /* the daemon-wide settings now in force: session
	                    and net; also unasked (seq 0) at start and when
	                    the listen port changes */
	EV_DETAIL,       /* FILES/PEERS/TRACKERS: detail, a JSON array */
	EV_MOVED,        /* a move ended (seq 0): id, save_path, or reason
	                    when it failed and the data stayed */
	EV_COMPLETED,    /* a download completed, once per torrent ever
	                    (seq 0): id, name, info_hash, save_path, owner,
	                    labels (comma-separated, in reason) */
};

struct engine_event {
	enum engine_event_type type;
	enum engine_cmd_type cmd;  /* what EV_DONE/EV_FAILED answer */
	uint64_t seq;
	int64_t id;
	char info_hash[TP_HASH_HEX_MAX + 1];
	char *name;
	char *save_path;
	char *reason;
	bool completed;            /* EV_STATUS sent because it just finished */
	bool bad_request;          /* EV_FAILED: the request did not fit the
	                              torrent (e.g. file_priorities' length) */
	uint32_t owner;            /* EV_RESTORED */
	char **files;              /* EV_DONE of a CLOSE with delete_files: */
	size_t n_files;            /* its files, relative to save_path */
	struct tp_status status;   /* EV_STATUS */
	struct tp_session session; /* EV_SESSION */
	struct engine_net net;     /* EV_SESSION */
	json_object *detail;       /* EV_DETAIL (owned) */
	struct queue_link link;    /* in the event queue or a held batch */
};

struct blocklist;

struct engine_config {
	const char *listen;        /* "ADDR:PORT,..."; all loopback: several
	                              connections per address are allowed */
	const char *download_dir;  /* absolute */
	bool dht, lsd, upnp;
	bool pex, utp, tcp;
	int encryption;            /* enum tpd_encryption (options.h) */
	const char *dht_bootstrap; /* NULL: libtorrent's public nodes */
	struct blocklist *blocklist; /* taken over; NULL: none */
	int tick_ms;
	const char *state_dir;     /* absolute; where torrents persist */
	int resume_interval_s;     /* how often changed resume data is saved */
	/* The daemon-wide settings of the options and config; those changed
	 * by session_set (STATE/session.json) win over them. */
	const struct tp_session *session;
};

/* Starts the thread and its session.  NULL with *err if the session could
 * not be created (e.g. the listen address is unusable).  The thread then
 * brings back the saved torrents (EV_RESTORED each, then EV_LOADED) before
 * it carries out any command. */
struct engine *engine_start(const struct engine_config *cfg, char **err);
/* Descriptor readable when events are waiting. */
int engine_event_fd(struct engine *e);
int engine_listen_port(struct engine *e);
/* Takes ownership of cmd.  Never blocks on the engine's work. */
void engine_submit(struct engine *e, struct engine_cmd *cmd);
/* At most max waiting events, oldest first, linked through their `link`
 * (QUEUE_ITEM(l, struct engine_event, link)); NULL when none.  While
 * more wait, engine_event_fd() stays readable. */
struct queue_link *engine_take_events(struct engine *e, size_t max);
/* Replaces the blocklist (takes bl over; NULL clears it).  Applied by the
 * engine thread before its next command; peers connected from a newly
 * blocked address are dropped. */
void engine_set_blocklist(struct engine *e, struct blocklist *bl);
/* Saves the resume data that needs saving (waiting for every answer, at
 * most a few seconds), stops the session and joins the thread. */
void engine_stop(struct engine *e);

struct engine_cmd *engine_cmd_new(enum engine_cmd_type type);
void engine_cmd_free(struct engine_cmd *cmd);
void engine_event_free(struct engine_event *ev);

#endif
