/*
 * lt_shim.h - the C face of libtorrent-rasterbar (implemented in C++ by
 * lt_shim.cpp, the session, and lt_maker.cpp, making torrents; the disk
 * backend is lt_storage.cpp).  No C++ exception crosses this boundary: every
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

enum lts_encryption { LTS_ENC_PREFER, LTS_ENC_REQUIRE, LTS_ENC_DISABLE };

struct lts_config {
	const char *listen;      /* "ADDR:PORT[,...]", e.g. "127.0.0.1:0";
	                            NULL = "0.0.0.0:6881,[::]:6881" */
	bool dht, lsd, upnp;     /* upnp also switches NAT-PMP */
	bool no_utp, no_tcp;     /* each false = on (a zeroed config is
	                            libtorrent's defaults); PEX is each
	                            torrent's (lts_add.pex, lts_limits.pex) */
	int encryption;          /* enum lts_encryption */
	const char *dht_bootstrap; /* "HOST:PORT,..."; NULL = libtorrent's */
	int socket_buffer;       /* send/receive socket buffers; 0 = the OS's */
	int alert_queue_size;    /* 0 = shim default (100000) */
	bool multi_conn_per_ip;  /* allow_multiple_connections_per_ip: for a
	                            daemon on loopback, where every peer shares
	                            one address */
	const char *user_agent;  /* NULL = "tpd/VERSION" */
};

/* What the engine steers daemon-wide (SPEC section 8). */
struct lts_limits {
	int download_rate, upload_rate;  /* bytes/s now in force; 0 unlimited */
	int active_downloads, active_seeds; /* the queue's slots */
	int encryption;                  /* enum lts_encryption */
	bool dht, lsd, utp, pex;
	bool tcp;                        /* false only with --no-tcp */
};
/* Applies them (asynchronously; takes effect within a second). */
int lts_apply_limits(lts_session *s, const struct lts_limits *l, char **err);

/* The peer side's settings that lts_limits does not hold, changed while
 * running (SIGHUP): the listen list, UPnP/NAT-PMP, the DHT's bootstrap
 * nodes, the socket buffers and connections per address (lts_config has
 * the meaning of each). */
struct lts_network {
	const char *listen;        /* NULL = "0.0.0.0:6881,[::]:6881" */
	bool upnp;
	const char *dht_bootstrap; /* NULL = libtorrent's nodes */
	int socket_buffer;         /* 0 = the OS's */
	bool multi_conn_per_ip;
};
/* Applies them (asynchronously): a changed listen list reopens the
 * sockets, and the sink's listening() says when they are open. */
int lts_apply_network(lts_session *s, const struct lts_network *n,
		      char **err);

/* Creates the session (tpd's own disk backend, lt_storage.h), installs the
 * alert notifier.  NULL on failure with *err set.  Every peer, local
 * ones included, is put in the rate-limited global peer class. */
lts_session *lts_new(const struct lts_config *cfg, char **err);
/* Aborts the session and waits for libtorrent's threads to finish. */
void lts_free(lts_session *s);
/* Replaces the session's IP filter with these IPv4 ranges (inclusive,
 * host byte order) and IPv6 ranges (inclusive, network byte order): no
 * connection to or from them, and the peers already connected from them
 * are dropped.  n = n6 = 0 clears it.  0 or -1 (*err). */
struct lts_ip_range {
	uint32_t first, last;
};
struct lts_ip_range6 {
	unsigned char first[16], last[16];
};
int lts_set_ip_filter(lts_session *s, const struct lts_ip_range *r, size_t n,
		      const struct lts_ip_range6 *r6, size_t n6, char **err);
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
	int download_limit, upload_limit; /* bytes/s, 0 = unlimited */
	bool sequential;
	bool pex;                      /* false: ut_pex off for this torrent */
	uint32_t owner;                /* uid whose rights its files are used with */
};

enum lts_add_result { LTS_ADD_OK = 0, LTS_ADD_DUPLICATE = 1, LTS_ADD_FAIL = -1 };

struct lts_added {
	char info_hash[LTS_HASH_HEX_MAX + 1]; /* v1 hex if any, else v2 hex */
	char *name;                           /* malloc'd; magnet: dn or hash */
	int64_t existing_id;                  /* LTS_ADD_DUPLICATE: who has it */
};

/* Adds a torrent (blocking until libtorrent accepted or refused it):
 * paused and not auto-managed when paused, else auto-managed, so the
 * queue (active_downloads / active_seeds) decides when it runs.  Duplicate info-hash gives
 * LTS_ADD_DUPLICATE with existing_id.  LTS_ADD_FAIL sets *err to
 * libtorrent's reason ("not a valid bencoded torrent: ..."). */
enum lts_add_result lts_add(lts_session *s, const struct lts_add *p,
			    struct lts_added *out, char **err);
void lts_added_free(struct lts_added *a);

/* Posts the add and returns at once (0), or -1 with *err when the inputs
 * are refused before libtorrent sees them.  The answer comes through
 * lts_drain() as one sink->added call.  For many torrents at once (the
 * restore): libtorrent adds them in the order posted, while the caller
 * reads the next one. */
int lts_add_async(lts_session *s, const struct lts_add *p, char **err);
/* Posted adds whose sink->added has not come yet. */
size_t lts_add_pending(lts_session *s);
/* Every torrent's status in one round trip to libtorrent's thread, as
 * sink->status calls made before this returns. */
struct lts_sink;
void lts_status_all(lts_session *s, const struct lts_sink *sink);

/* 0 on success, -1 with *err (e.g. "no such torrent"). */
int lts_remove(lts_session *s, int64_t id, bool delete_files, char **err);
/* Pause takes the torrent out of the queue; resume puts it back in (it
 * runs when the queue has a slot for it). */
int lts_pause(lts_session *s, int64_t id, char **err);
int lts_resume(lts_session *s, int64_t id, char **err);

/* Steering one torrent; each 0 or -1 with *err. */
int lts_set_limits(lts_session *s, int64_t id, int download, int upload,
		   char **err);
int lts_set_sequential(lts_session *s, int64_t id, bool on, char **err);
/* move: 0 to position pos, 1 top, 2 up, 3 down, 4 bottom. */
int lts_queue_move(lts_session *s, int64_t id, int move, int pos,
		   char **err);
/* The torrent's place in the download queue, -1 when not queued there. */
int lts_queue_position(lts_session *s, int64_t id);
/* One priority (0..7) per file as lts_files lists them (pad files left
 * out); n must match. */
int lts_set_file_priorities(lts_session *s, int64_t id, const int *prio,
			    size_t n, char **err);
int lts_edit_trackers(lts_session *s, int64_t id, const char *const *add,
		      size_t n_add, const char *const *remove,
		      size_t n_remove, char **err);
int lts_reannounce(lts_session *s, int64_t id, char **err);
/* Starts moving the data to save_path (never over files already there);
 * the end comes through the sink's moved or move_failed. */
int lts_move(lts_session *s, int64_t id, const char *save_path, char **err);
/* Renames file `index` of the torrent to new_name (a path relative to the
 * save directory, '/'-separated); the disk backend moves the file with
 * the owner's rights, below the save directory's descriptor, following
 * no link.  The end comes through the sink's renamed. */
int lts_rename_file(lts_session *s, int64_t id, int index,
		    const char *new_name, char **err);
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
	bool queued;               /* paused by the queue, not by a person */
	int queue_position;        /* -1 when not in the download queue */
	bool sequential;
	int64_t uploaded, downloaded; /* all-time payload bytes */
	int64_t size;              /* the whole torrent, wanted or not */
	int64_t seeding_time;      /* seconds */
};
void lts_status_free(struct lts_status *st); /* members only */

/* The torrent's files, relative to its save path (pad files left out):
 * a malloc'd array of malloc'd strings; none for a magnet still without
 * metadata.  0 or -1 (*err). */
int lts_files(lts_session *s, int64_t id, char ***paths, size_t *n,
	      char **err);

/* Details asked for by a patron (files, peers, trackers): blocking
 * calls, each 0 with a malloc'd array or -1 with *err.  Free the arrays
 * with the matching _free function. */
struct lts_file_info {
	char *path;            /* relative to the save path */
	int64_t size, done;    /* bytes */
	int priority;          /* 0 skip .. 7 high */
};
int lts_file_info(lts_session *s, int64_t id, struct lts_file_info **out,
		  size_t *n, char **err);
void lts_file_info_free(struct lts_file_info *v, size_t n);

struct lts_peer_info {
	char address[64];      /* "IP:PORT", "[IPv6]:PORT" */
	char *client;
	int64_t down_rate, up_rate;
	double progress;
	bool encrypted, utp;
};
int lts_peer_info(lts_session *s, int64_t id, struct lts_peer_info **out,
		  size_t *n, char **err);
void lts_peer_info_free(struct lts_peer_info *v, size_t n);

struct lts_tracker_info {
	char *url;
	int tier;
	const char *status;    /* static: "working", "updating", "error",
	                          "not contacted" */
	char *message;         /* last error or tracker message; may be "" */
	int seeders, leechers; /* from the last scrape or announce; -1 unknown */
};
int lts_tracker_info(lts_session *s, int64_t id,
		     struct lts_tracker_info **out, size_t *n, char **err);
void lts_tracker_info_free(struct lts_tracker_info *v, size_t n);

/* Blocking status of one torrent; 0 or -1 (*err). */
int lts_status_get(lts_session *s, int64_t id, struct lts_status *out,
		   char **err);

/* Asks for the statuses of torrents that changed since the last call; they
 * arrive through lts_drain() as sink->status calls. */
void lts_post_updates(lts_session *s);

/* As lts_post_updates, but asks for no name or save path: for the restore,
 * which discards these statuses (see engine_restore_wait). */
void lts_post_updates_bare(lts_session *s);

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
	void (*moved)(void *ctx, int64_t id, const char *save_path);
	void (*move_failed)(void *ctx, int64_t id, const char *reason);
	/* lts_rename_file ended: error is NULL when the file was renamed. */
	void (*renamed)(void *ctx, int64_t id, int index, const char *new_name,
			const char *error);
	/* A listen socket opened or failed to (at start, or after
	 * lts_apply_network): lts_listen_port() may say another port. */
	void (*listening)(void *ctx);
	/* Any other notable event (tracker error, file error, dropped alerts),
	 * already formatted; level: 0 error, 1 warn, 2 info, 3 debug. */
	void (*log)(void *ctx, int level, int64_t id, const char *msg);
	/* An lts_add_async answered: error is NULL when the torrent is in
	 * (name and info_hash as lts_added gives them). */
	void (*added)(void *ctx, int64_t id, const char *name,
		      const char *info_hash, const char *error);
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
