/*
 * store.h - the state directory, from which a restart brings every torrent
 * back with its id, owner, save path and progress.
 *
 *   STATE/next_id             the id counter (ids are never reused)
 *   STATE/running             exists while a daemon runs: found at start,
 *                             it means the last run did not stop cleanly
 *   STATE/session.json        daemon-wide settings changed by session_set
 *   STATE/state.db            SQLite (WAL), table blobs(id, kind, data),
 *                             per torrent:
 *       kind "meta"           JSON: id, owner, save_path, info_hash, name,
 *                             magnet, paused, complete, and what `set`
 *                             steers: limits, sequential, labels, ratio and
 *                             seed-time limits, queue position, stop reason
 *       kind "torrent"        the .torrent bytes, when known
 *       kind "resume"         libtorrent's resume data (bencoded)
 *
 * Group commit: the torrent changes (store_save_meta, store_save_blob,
 * store_forget) join one open transaction, and store_sync() commits it
 * with one fsync of the WAL for the whole batch.  The engine calls it
 * before it tells anyone about the batch, so an answered create survives
 * kill -9 and power cuts, and an unanswered one is either whole or absent.
 * The daemon-wide files (next_id, running, session.json) are written
 * atomically (temporary file, fsync, rename, fsync of the directory) at
 * once.  A state directory of an older tpd (STATE/torrents/ID.meta, .torrent,
 * .resume files) is imported by store_open().  Engine thread only.
 */
#ifndef TPD_STORE_H
#define TPD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct store;

struct store_meta {
	int64_t id;
	uid_t owner;
	char *save_path;
	char *info_hash;
	char *name;
	char *magnet;    /* set while the metadata may be unknown */
	bool paused;
	bool complete;
	/* Steering; libtorrent's resume data holds file priorities and
	 * trackers, the rest is ours. */
	int64_t download_limit, upload_limit;  /* 0 = unlimited */
	bool sequential;
	char **labels;
	size_t n_labels;
	double ratio_limit;       /* < 0: the daemon's default */
	int64_t seed_time_limit;  /* < 0: the daemon's default */
	int queue_pos;            /* order of the download queue; -1 none */
	char *stop_reason;        /* "ratio", "seed_time" or NULL */
	/* The limit that last stopped it and was then overridden by a manual
	 * resume: not applied again until the limit changes. */
	double ratio_waived;      /* < 0: none */
	int64_t seed_time_waived; /* < 0: none */
	bool hook_done;           /* its completion was announced (the
	                             --on-complete hook runs once) */
};

struct store *store_open(const char *state_dir, char **err);
void store_close(struct store *st);

/* True if the previous daemon did not remove its running mark. */
bool store_was_unclean(struct store *st);
/* Creates the running mark; store_mark_clean() removes it at exit. */
void store_mark_running(struct store *st);
void store_mark_clean(struct store *st);

int64_t store_next_id(struct store *st);
int store_save_next_id(struct store *st, int64_t next_id, char **err);

int store_save_meta(struct store *st, const struct store_meta *m, char **err);
int store_save_blob(struct store *st, int64_t id, const char *ext,
		    const void *data, size_t len, char **err);
/* Removes every file of a torrent. */
void store_forget(struct store *st, int64_t id);

/* The ids with a meta file, ascending (malloc'd; count in *n). */
int64_t *store_list(struct store *st, size_t *n);
int store_load_meta(struct store *st, int64_t id, struct store_meta *m,
		    char **err);
/* A blob's bytes, or NULL if absent (or unreadable: *err says why). */
unsigned char *store_load_blob(struct store *st, int64_t id, const char *ext,
			       size_t *len, char **err);
void store_meta_free(struct store_meta *m);

/* STATE/NAME as a whole file, atomically and durably (session.json). */
int store_save_file(struct store *st, const char *name, const void *data,
		    size_t len, char **err);
/* Its bytes (NUL-terminated), or NULL if absent or unreadable (*err). */
char *store_load_file(struct store *st, const char *name, char **err);
/* A meta with the defaults: no limits, -1 for "none". */
void store_meta_init(struct store_meta *m);

/* Commits the torrent changes made since the last call: one fsync.  -1
 * (*err says why) when any of them is lost, e.g. to a full disk. */
int store_sync(struct store *st, char **err);

/* Opens the transaction store_sync() will commit now, before any change:
 * the reads made until then share it (one snapshot, no lock taken and
 * dropped per read: the restore reads two blobs per torrent). */
void store_hold(struct store *st);

#endif
