/*
 * proto.h - the tpd wire protocol codec, shared by the daemon and the client.
 *
 * One JSON object per line in both directions (proto/PROTOCOL.md is the
 * normative text).  This module turns request lines into typed structs and
 * typed events into lines, and nothing else: it owns no sockets and keeps no
 * state, so any thread may call it.  Bump TP_PROTOCOL_VERSION whenever a
 * request or event changes shape.
 */
#ifndef TP_PROTO_H
#define TP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "jsonw.h"
#include "steer.h"

#define TP_PROTOCOL_VERSION 1
#define TP_VERSION "0.1.0"

/* Largest info-hash in hex: a v2-only torrent's SHA-256 (64 digits). */
#define TP_HASH_HEX_MAX 64

enum tp_op {
	TP_OP_HELLO,
	TP_OP_CREATE,
	TP_OP_SEED,
	TP_OP_CLOSE,
	TP_OP_PAUSE,
	TP_OP_RESUME,
	TP_OP_REANNOUNCE,
	TP_OP_LIST,
	TP_OP_STATUS,
	TP_OP_WATCH,
	TP_OP_UNWATCH,
	TP_OP_INFO,
	TP_OP_SET,
	TP_OP_SESSION_GET,
	TP_OP_SESSION_SET,
	TP_OP_FILES,
	TP_OP_PEERS,
	TP_OP_TRACKERS,
	TP_OP_RECHECK,
	TP_OP_MOVE,
	TP_OP_COUNT
};

/* Where a create's torrent comes from: exactly one per create. */
enum tp_source {
	TP_SRC_NONE,
	TP_SRC_TORRENT, /* base64 .torrent bytes, already decoded here */
	TP_SRC_PATH,    /* absolute path of a .torrent file */
	TP_SRC_URL,     /* http(s) URL of a .torrent */
	TP_SRC_MAGNET   /* magnet URI */
};

/* Typed result codes of an Error event; tp_err_name() gives the wire name. */
enum tp_err {
	TP_ERR_BAD_REQUEST, /* not JSON, wrong types, missing/extra fields */
	TP_ERR_UNKNOWN_OP,
	TP_ERR_NOT_FOUND,   /* no torrent with that id (or not visible) */
	TP_ERR_FORBIDDEN,   /* visible but not the caller's to change */
	TP_ERR_TOO_LARGE,   /* line over the limit: the connection closes */
	TP_ERR_BUSY,        /* a per-connection limit was hit; retry later */
	TP_ERR_INTERNAL,    /* the daemon failed; the reason says how */
	TP_ERR_COUNT
};

enum tp_torrent_version { TP_TV_V1, TP_TV_V2, TP_TV_HYBRID };

/* A decoded request.  All pointers are owned by the struct and released by
 * tp_request_free(); `tag` is a json-c reference (NULL when absent). */
struct tp_request {
	enum tp_op op;
	json_object *tag;

	/* create */
	enum tp_source source;
	unsigned char *torrent; /* TP_SRC_TORRENT: decoded bytes */
	size_t torrent_len;
	char *path;             /* TP_SRC_PATH, and seed's path */
	char *url;              /* TP_SRC_URL */
	char *magnet;           /* TP_SRC_MAGNET */
	char *save_dir;         /* optional, absolute */
	char **peers;           /* optional "HOST:PORT" list to connect to */
	size_t n_peers;
	bool paused;            /* start paused */

	/* seed */
	char **trackers;
	size_t n_trackers;
	char *torrent_out;      /* absolute; NULL = daemon decides */
	int64_t piece_size;     /* 0 = automatic */
	enum tp_torrent_version version;
	bool private_flag;
	char *comment;
	char *creator;

	/* close / pause / resume / reannounce / status */
	int64_t id;
	bool delete_files;

	/* set; create and seed carry the TP_TSET_AT_ADD fields here too */
	struct tp_tset tset;
	/* session_set */
	struct tp_session session;
	/* list: only torrents carrying this label (NULL: all) */
	char *label;

	/* malloc'd; see tp_request_parse() */
	char *content_error;

	/* watch / unwatch: has_ids false means "all of the caller's" */
	bool has_ids;
	int64_t *ids;
	size_t n_ids;
};

/* Why a request line was refused.  `reason` is malloc'd; `tag` is the
 * request's tag when one could be recovered, so the Error can echo it. */
struct tp_error {
	enum tp_err code;
	char *reason;
	json_object *tag;
};

/* Parses one request line (without its newline; need not be NUL-terminated).
 * Returns 0 and fills *req, or -1 and fills *err (Error event material).
 * A create or seed whose shape is right but whose content is unusable is
 * NOT refused here: it parses with req->content_error set (e.g. "torrent is
 * not valid base64") and the service answers StartFail, so every well-formed
 * create still gets exactly one create answer.  Paths must be absolute. */
int tp_request_parse(const char *line, size_t len, struct tp_request *req,
		     struct tp_error *err);
void tp_request_free(struct tp_request *req);
void tp_error_free(struct tp_error *err);

const char *tp_op_name(enum tp_op op);
const char *tp_err_name(enum tp_err code);

/* Status of one torrent, as carried by StatusUpdate, Status and List. */
struct tp_status {
	int64_t id;
	char *name;
	char info_hash[TP_HASH_HEX_MAX + 1];
	const char *state;      /* static string: checking_files, seeding, ... */
	bool paused;
	double progress;        /* 0..1 */
	int64_t done_bytes;
	int64_t total_bytes;
	int64_t down_rate;      /* bytes/s */
	int64_t up_rate;
	int peers;
	int seeds;
	char *error;            /* NULL when none */
	char *save_path;
	uint32_t owner;         /* uid */

	/* Steering (SPEC section 8). */
	char **labels;
	size_t n_labels;
	int queue_position;     /* -1: not in the download queue (seeding) */
	bool queued;            /* waiting for a slot (max_active_*) */
	bool sequential;
	int64_t download_limit, upload_limit;   /* 0 = unlimited */
	int64_t uploaded_bytes, downloaded_bytes; /* all-time */
	double ratio;           /* uploaded / size */
	double ratio_limit;     /* < 0: the daemon's default (null) */
	int64_t seed_time_limit; /* < 0: the daemon's default (null) */
	int64_t seeding_time;   /* seconds */
	int64_t eta;            /* seconds; < 0: unknown (null) */
	const char *stop_reason; /* static "ratio" / "seed_time", or NULL */
};

void tp_status_free(struct tp_status *st);           /* frees members only */
void tp_status_copy(struct tp_status *dst, const struct tp_status *src);
/* Client side: reads status fields from an event object; -1 if malformed. */
int tp_status_from_json(json_object *obj, struct tp_status *st);

/* --- Building events (daemon side) and requests (client side) ----------
 * tp_event_new() returns {"type": TYPE} with the tag echoed when non-NULL;
 * the caller adds fields with json_object_object_add.  tp_line() serialises
 * an object into a malloc'd, newline-terminated line (length in *len). */
json_object *tp_event_new(const char *type, json_object *tag);
json_object *tp_error_event(enum tp_err code, const char *reason,
			    json_object *tag);
char *tp_line(json_object *obj, size_t *len);

/* The status fields as the text of one JSON object, "{"id":...}" (no
 * newline; malloc'd, length in *len), byte for byte what json-c would
 * print for the same object, repaired as tp_line does.  The daemon keeps it per
 * torrent and splices it into lines with tp_status_line and
 * tp_line_array below, which give byte for byte the line tp_line would
 * give for the same objects. */
char *tp_status_text(const struct tp_status *st, size_t *len);
/* The same events written directly (common/jsonw.h), without a json-c
 * tree: tp_event_open writes {"type":TYPE[,"tag":TAG]; the caller adds
 * ,"member":value pairs; tp_event_close ends the object and the line
 * (made UTF-8 as tp_line does) and returns it as tp_line would, NULL
 * when memory ran out. */
void tp_event_open(struct jsonw *w, const char *type, json_object *tag);
char *tp_event_close(struct jsonw *w, size_t *len);
/* The line {"type":TYPE[,"tag":TAG],<the members of text>}: a Status
 * (tag given) or StatusUpdate (NULL) from tp_status_text. */
char *tp_status_line(const char *type, json_object *tag, const char *text,
		     size_t text_len, size_t *len);
/* ev's line with a member `key` (plain ASCII, needing no escape) added at
 * its end: the array of the object texts texts[0..count) (a List). */
char *tp_line_array(json_object *ev, const char *key,
		    const char *const *texts, const size_t *lens, size_t count,
		    size_t *len);

/* Client side: {"op": NAME} with an integer tag when tag >= 0. */
json_object *tp_request_new(enum tp_op op, int64_t tag);

#endif
