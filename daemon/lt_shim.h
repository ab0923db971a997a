/*
 * lt_shim.h - the C face of libtorrent-rasterbar (implemented in the only
 * C++ file, lt_shim.cpp).  No C++ exception crosses this boundary: every
 * function catches and turns failures into a return code plus a malloc'd
 * reason in *err (caller frees).
 *
 * Threads: every lts_* function that takes an lts_session is called by the
 * engine thread only.  lts_make_torrent() touches no session and is safe on
 * any thread (the workers use it).
 *
 * Torrents are named by the daemon's own id (int64) on this side; the shim
 * keeps the id <-> torrent_handle map, so no call blocks on info_hashes().
 */
#ifndef TP_LT_SHIM_H
#define TP_LT_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LTS_HASH_HEX_MAX 64

typedef struct lts_session lts_session;

struct lts_config {
	const char *listen;      /* "ADDR:PORT", e.g. "127.0.0.1:0"; NULL = "0.0.0.0:6881" */
	bool dht, lsd, upnp;     /* upnp also switches NAT-PMP */
	int alert_queue_size;    /* 0 = shim default (100000) */
	int active_limit;        /* auto-manage ceilings; 0 = shim default (huge) */
	bool loopback_friendly;  /* allow_multiple_connections_per_ip, TCP only */
	const char *user_agent;  /* NULL = "tpd/VERSION" */
};

/* Creates the session (tpd's own disk backend, lt_storage.h), installs the
 * alert notifier.  NULL on failure with *err set. */
lts_session *lts_new(const struct lts_config *cfg, char **err);
/* Aborts the session and waits for libtorrent's threads to finish. */
void lts_free(lts_session *s);
/* A descriptor that becomes readable when alerts are waiting.  The engine
 * polls it, then calls lts_drain(), which also clears it. */
int lts_alert_fd(lts_session *s);
/* The TCP port actually listened on (after "...:0"), 0 if none. */
int lts_listen_port(lts_session *s);

struct lts_add {
	int64_t id;                    /* the daemon's id for this torrent */
	const unsigned char *torrent;  /* .torrent bytes, or NULL ... */
	size_t torrent_len;
	const char *magnet;            /* ... a magnet URI */
	const char *save_path;         /* absolute directory */
	bool have_all;                 /* seeding data we just hashed: all pieces
	                                  marked have, no re-check */
	bool paused;
	const unsigned char *resume;   /* resume data (bencoded), may be NULL */
	size_t resume_len;
	const char *const *peers;      /* "HOST:PORT" to connect to at once */
	size_t n_peers;
	uint32_t owner;                /* uid whose rights its files are used with */
};

enum lts_add_result { LTS_ADD_OK = 0, LTS_ADD_DUPLICATE = 1, LTS_ADD_FAIL = -1 };

struct lts_added {
	char info_hash[LTS_HASH_HEX_MAX + 1]; /* v1 hex if any, else v2 hex */
	char *name;                           /* malloc'd; magnet: dn or hash */
	int64_t existing_id;                  /* LTS_ADD_DUPLICATE: who has it */
};

/* Adds a torrent (blocking until libtorrent accepted or refused it), started
 * at once unless paused, not auto-managed.  Duplicate info-hash gives
 * LTS_ADD_DUPLICATE with existing_id.  LTS_ADD_FAIL sets *err to
 * libtorrent's reason ("not a valid bencoded torrent: ..."). */
enum lts_add_result lts_add(lts_session *s, const struct lts_add *p,
			    struct lts_added *out, char **err);
void lts_added_free(struct lts_added *a);

/* 0 on success, -1 with *err (e.g. "no such torrent"). */
int lts_remove(lts_session *s, int64_t id, bool delete_files, char **err);
int lts_pause(lts_session *s, int64_t id, char **err);
int lts_resume(lts_session *s, int64_t id, char **err);
int lts_reannounce(lts_session *s, int64_t id, char **err);
/* Hashes the data on disk again (after a crash, the resume data may
 * predate pieces that were verified and written since). */
int lts_force_recheck(lts_session *s, int64_t id, char **err);
int lts_connect_peer(lts_session *s, int64_t id, const char *hostport,
		     char **err);

struct lts_status {
	int64_t id;
	char *name;                /* malloc'd */
	char info_hash[LTS_HASH_HEX_MAX + 1];
	const char *state;         /* static: checking_resume_data, checking_files,
	                              downloading_metadata, downloading, finished,
	                              seeding, error */
	bool paused;
	double progress;
	int64_t done_bytes, total_bytes;
	int64_t down_rate, up_rate;
	int peers, seeds;
	char *error;               /* malloc'd or NULL */
	char *save_path;           /* malloc'd */
};
void lts_status_free(struct lts_status *st); /* members only */

/* The torrent's files, relative to its save path (pad files left out):
 * a malloc'd array of malloc'd strings; none for a magnet still without
 * metadata.  0 or -1 (*err). */
int lts_files(lts_session *s, int64_t id, char ***paths, size_t *n,
	      char **err);

/* Blocking status of one torrent; 0 or -1 (*err). */
int lts_status_get(lts_session *s, int64_t id, struct lts_status *out,
		   char **err);

/* Asks for the statuses of torrents that changed since the last call; they
 * arrive through lts_drain() as sink->status calls. */
void lts_post_updates(lts_session *s);

/* Asks for resume data of every torrent that needs saving (or all of them
 * when all is true); each request ends in exactly one sink->resume_data or
 * sink->resume_failed.  Returns how many were requested. */
int lts_save_resume(lts_session *s, bool all);

/* One torrent's resume data (e.g. when its metadata or its last piece
 * arrived): 1 if requested (one sink answer will follow), else 0. */
int lts_save_resume_one(lts_session *s, int64_t id);

struct lts_sink {
	void *ctx;
	void (*status)(void *ctx, const struct lts_status *st);
	void (*finished)(void *ctx, int64_t id);        /* download complete */
	void (*metadata)(void *ctx, int64_t id);        /* magnet got its info */
	void (*resume_data)(void *ctx, int64_t id, const unsigned char *buf,
			    size_t len);
	void (*resume_failed)(void *ctx, int64_t id, const char *reason);
	/* Any other notable event (tracker error, file error, dropped alerts),
	 * already formatted; level: 0 error, 1 warn, 2 info, 3 debug. */
	void (*log)(void *ctx, int level, int64_t id, const char *msg);
};

/* Pops every waiting alert and calls the sink (any member may be NULL).
 * Everything passed to the sink dies when the callback returns. */
void lts_drain(lts_session *s, const struct lts_sink *sink);

/* --- Making torrents (any thread; no session involved) ----------------- */
struct lts_make {
	const char *path;            /* file or directory, absolute */
	const char *const *trackers; /* announce URLs, tier per URL */
	size_t n_trackers;
	int piece_size;              /* 0 = automatic; else power of two >= 16 KiB */
	int version;                 /* 1 = v1 only, 2 = v2 only, 3 = hybrid */
	bool private_flag;
	const char *comment;         /* may be NULL */
	const char *creator;         /* may be NULL */
	int threads;                 /* hashing threads, >= 1 */
};
/* Hashes the data and returns the .torrent bytes (malloc'd) in *out, or
 * -1 with *err. */
int lts_make_torrent(const struct lts_make *m, unsigned char **out,
		     size_t *out_len, char **err);

#ifdef __cplusplus
}
#endif
#endif
