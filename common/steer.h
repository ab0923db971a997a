/*
 * steer.h - the fields that steer torrents and the daemon (SPEC section 8):
 * a `set` request's per-torrent changes and the daemon-wide settings of
 * `session_get` / `session_set`, checked field by field before anything is
 * changed.  Shared by the daemon (parsing, the engine's session) and tpctl
 * (building requests); pure, any thread.
 */
#ifndef TP_STEER_H
#define TP_STEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

/* Bounds of what a patron may ask for; beyond them is a typo or an
 * attack, never a wish. */
#define TP_MAX_LABELS 32
#define TP_MAX_LABEL_LEN 64
#define TP_MAX_TRACKER_URLS 64
#define TP_MAX_URL_LEN 2048
#define TP_MAX_ACTIVE 100000

/* Bits of tp_tset.has: which fields the request carried. */
enum tp_tset_field {
	TP_TSET_DOWNLOAD_LIMIT = 1u << 0,
	TP_TSET_UPLOAD_LIMIT = 1u << 1,
	TP_TSET_SEQUENTIAL = 1u << 2,
	TP_TSET_LABELS = 1u << 3,
	TP_TSET_RATIO_LIMIT = 1u << 4,
	TP_TSET_SEED_TIME_LIMIT = 1u << 5,
	TP_TSET_FILE_PRIORITIES = 1u << 6,
	TP_TSET_QUEUE_POSITION = 1u << 7,
	TP_TSET_TRACKERS_ADD = 1u << 8,
	TP_TSET_TRACKERS_REMOVE = 1u << 9,
	TP_TSET_ALL = (1u << 10) - 1,
	/* What create and seed may carry besides their own fields. */
	TP_TSET_AT_ADD = TP_TSET_DOWNLOAD_LIMIT | TP_TSET_UPLOAD_LIMIT |
			 TP_TSET_SEQUENTIAL | TP_TSET_LABELS,
};

enum tp_queue_move {
	TP_QUEUE_TO,     /* queue_position holds the place */
	TP_QUEUE_TOP,
	TP_QUEUE_UP,
	TP_QUEUE_DOWN,
	TP_QUEUE_BOTTOM,
};

/* One torrent's changes.  Owned arrays, released by tp_tset_free(). */
struct tp_tset {
	unsigned has;
	int64_t download_limit, upload_limit;  /* bytes/s, 0 = unlimited */
	bool sequential;
	char **labels;
	size_t n_labels;
	double ratio_limit;      /* < 0: the daemon's default (null) */
	int64_t seed_time_limit; /* seconds; < 0: the daemon's default */
	int *file_priorities;    /* 0..7 each */
	size_t n_file_priorities;
	enum tp_queue_move queue_move;
	int64_t queue_position;
	char **trackers_add;
	size_t n_trackers_add;
	char **trackers_remove;
	size_t n_trackers_remove;
};

/* Reads the fields of `allowed` from obj.  With strict, any other key but
 * op, tag and id is refused.  0, or -1 with a malloc'd reason in *why
 * (a bad_request: nothing may be changed). */
int tp_tset_parse(json_object *obj, unsigned allowed, bool strict,
		  struct tp_tset *out, char **why);
void tp_tset_free(struct tp_tset *t);

/* Bits of tp_session.has. */
enum tp_session_field {
	TP_SES_DOWNLOAD_LIMIT = 1u << 0,
	TP_SES_UPLOAD_LIMIT = 1u << 1,
	TP_SES_ALT_DOWNLOAD_LIMIT = 1u << 2,
	TP_SES_ALT_UPLOAD_LIMIT = 1u << 3,
	TP_SES_ALT_SPEED = 1u << 4,
	TP_SES_ALT_SCHEDULE = 1u << 5,
	TP_SES_MAX_ACTIVE_DOWNLOADS = 1u << 6,
	TP_SES_MAX_ACTIVE_SEEDS = 1u << 7,
	TP_SES_RATIO_LIMIT = 1u << 8,
	TP_SES_SEED_TIME_LIMIT = 1u << 9,
	TP_SES_ENCRYPTION = 1u << 10,
	TP_SES_DHT = 1u << 11,
	TP_SES_PEX = 1u << 12,
	TP_SES_LSD = 1u << 13,
	TP_SES_UTP = 1u << 14,
	TP_SES_ALL = (1u << 15) - 1,
};

enum tp_encryption { TP_ENC_ENABLED, TP_ENC_FORCED, TP_ENC_DISABLED };

/* The daemon-wide settings. */
struct tp_session {
	unsigned has;
	int64_t download_limit, upload_limit;          /* 0 = unlimited */
	int64_t alt_download_limit, alt_upload_limit;  /* 0 = unlimited */
	bool alt_speed;
	char *alt_schedule;       /* NULL or "": none */
	int64_t max_active_downloads, max_active_seeds;
	double ratio_limit;       /* < 0: none */
	int64_t seed_time_limit;  /* seconds; < 0: none */
	enum tp_encryption encryption;
	bool dht, pex, lsd, utp;
};

/* Reads session keys from obj (any other key but op and tag is refused). */
int tp_session_parse(json_object *obj, struct tp_session *out, char **why);
/* Copies the fields `src->has` names into dst (which then has them). */
void tp_session_merge(struct tp_session *dst, const struct tp_session *src);
/* Every field (has ignored) into obj. */
void tp_session_to_json(const struct tp_session *s, json_object *obj);
void tp_session_free(struct tp_session *s);
const char *tp_encryption_name(enum tp_encryption e);
/* The TP_SES_* bit of a session key, 0 for an unknown key. */
unsigned tp_session_key_bit(const char *key);

#endif
