/*
 * service.h - the routing layer between patrons and the engine (the seed's
 * TorrentService): the FIFO of commands waiting for the engine, torrent
 * ownership, watchers and the latest status of every torrent.
 *
 * Runs on the main thread only.  It reaches the rest of the daemon through
 * struct service_io, so unit tests can drive it without sockets or
 * libtorrent.
 */
#ifndef TPD_SERVICE_H
#define TPD_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine.h"
#include "proto.h"
#include "worker.h"

struct service;

struct service_io {
	void *ctx;
	/* A direct answer; never dropped while the connection is open. */
	void (*answer)(void *ctx, uint64_t conn, const char *line, size_t len);
	/* Optional: the same, taking over the malloc'd line, so a long one
	 * (a `list` of 100,000 is ~50 MB) need not be copied again. */
	void (*answer_take)(void *ctx, uint64_t conn, char *line, size_t len);
	/* A status push; may be replaced by a later push for the same id. */
	void (*push)(void *ctx, uint64_t conn, int64_t id, const char *line,
		     size_t len);
	void (*engine)(void *ctx, struct engine_cmd *cmd);
	void (*work)(void *ctx, struct work_job *job);
	/* access_check() in the daemon, for connection conn's patron (its
	 * groups as the kernel gave them, when known); 0 or -1 with *err. */
	int (*access)(void *ctx, uint64_t conn, uid_t uid, gid_t gid,
		      const char *path, int mode, char **err);
	/* Optional: every saved torrent is back (EV_LOADED). */
	void (*loaded)(void *ctx);
	/* Optional: a file of the watch directory was taken (added is true
	 * when the torrent exists now, also as a duplicate) or refused. */
	void (*watched)(void *ctx, const char *path, bool added);
	/* Optional: a download completed (EV_COMPLETED, once per torrent). */
	void (*completed)(void *ctx, const struct engine_event *ev);
};

struct service_config {
	uid_t daemon_uid;          /* this user and root see every torrent */
	const char *download_dir;
	const char *default_tracker; /* NULL: seed needs trackers */
	int listen_port;
	size_t max_pending;        /* creates waiting per connection */
	size_t max_torrent_bytes;  /* .torrent files read or fetched */
	long url_timeout_s;
	bool loading;              /* saved torrents are still coming back */
	/* download_dir and listen_port are info's until the engine's first
	 * EV_SESSION: from then on info shows what the engine runs with
	 * (each EV_SESSION, asked for or not, replaces the service's copy). */
};

struct service *service_new(const struct service_config *cfg,
			    const struct service_io *io);
void service_free(struct service *s);
/* SIGHUP: takes the run-time settings of cfg (default tracker, limits,
 * URL timeout); the rest of cfg is ignored. */
void service_reconfigure(struct service *s, const struct service_config *cfg);
/* SIGHUP: hands the engine the reloaded daemon-wide settings and peer
 * side (taken over; freed here), through the FIFO as session_set is; the
 * engine logs what changed, and info shows it once applied. */
void service_reload_engine(struct service *s, struct tp_session *ses,
			   struct engine_net *net);

void service_conn_open(struct service *s, uint64_t conn, uid_t uid,
		       gid_t gid, pid_t pid);
/* How many of the connection's requests still await their answer (a
 * patron that half-closed is closed once this is 0 and all is sent). */
size_t service_conn_owed(const struct service *s, uint64_t conn);
/* Pending answers for it are then dropped; its torrents keep running. */
void service_conn_close(struct service *s, uint64_t conn);

/* Carries out one decoded request; the request stays the caller's. */
void service_request(struct service *s, uint64_t conn,
		     struct tp_request *req);
/* Takes ownership of the event. */
void service_engine_event(struct service *s, struct engine_event *ev);
/* Takes ownership of the job. */
void service_work_done(struct service *s, struct work_job *job);

/* Adds the .torrent at path (in the watch directory) for user uid: read
 * by a worker with that user's rights, then created as a create from
 * that user would be; the outcome comes back through io.watched. */
void service_watch_create(struct service *s, const char *path, uid_t uid,
			  gid_t gid);

size_t service_torrent_count(const struct service *s);

struct service_totals {
	size_t torrents, downloading, seeding, paused;
	int64_t down_rate, up_rate;
	size_t connections;
};
void service_totals(const struct service *s, struct service_totals *t);
size_t service_pending_count(const struct service *s);

#endif
