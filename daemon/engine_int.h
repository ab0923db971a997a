/*
 * engine_int.h - what the engine's own files share (engine.c: the thread,
 * its queues, creating and restoring torrents; engine_steer.c: limits,
 * the queue, alt speed, ratio and seed-time rules).  Engine thread only,
 * except the fields marked as shared with the main thread.
 */
#ifndef TPD_ENGINE_INT_H
#define TPD_ENGINE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "idmap.h"
#include "lt_shim.h"
#include "queue.h"
#include "schedule.h"
#include "steer.h"
#include "store.h"

struct blocklist;

struct engine {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t started_cond;

	/* Shared with the main thread: the queues lock themselves; the
	 * rest is under lock.  Closing cmds is the request to stop; a kick
	 * of it (no command) is a new blocklist. */
	struct queue cmds;         /* struct engine_cmd, main -> engine */
	struct queue events;       /* struct engine_event, engine -> main */
	bool started;
	struct blocklist *new_blocklist; /* waiting to be applied */
	bool blocklist_changed;
	char *start_err;


	/* Engine thread only after start. */
	lts_session *lts;
	int timer_fd;
	int listen_port;           /* at start (engine_listen_port) */
	int port_now;              /* now, after a reload moved it */
	int64_t next_id;
	/* The peer side as started; listen, download_dir, upnp, tcp and
	 * dht_bootstrap then follow SIGHUP (engine_steer.c), the others live
	 * on in sess. */
	char *listen;
	char *download_dir;
	char *state_dir;
	bool dht, lsd, upnp;
	bool pex, utp, tcp;
	int encryption;
	char *dht_bootstrap;
	int tick_ms;
	struct store *store;
	struct idmap metas;        /* id -> struct store_meta * */
	/* Restore (engine.c): posted adds waiting for libtorrent's answer,
	 * id -> struct engine_restoring *, and how many came back. */
	struct idmap restoring;
	size_t restored;
	bool in_restore;           /* state updates are dropped meanwhile */
	int resume_every;          /* ticks between periodic resume saves */
	int ticks;
	int resume_waiting;        /* resume requests not yet answered */
	/* Events of a command batch wait here until the batch's state
	 * changes are durable (store_sync), then leave together. */
	bool holding;
	struct queue_link *held_head, *held_tail;
	char *held_lost;           /* a commit during the batch failed: why */

	/* Steering (engine_steer.c). */
	struct tp_session sess;    /* the daemon-wide settings in force */
	unsigned sess_saved;       /* keys session_set changed: saved ones */
	struct tp_schedule sched;  /* parsed sess.alt_schedule */
	bool alt_on;               /* alt-speed limits in force */
	int queue_tail;            /* queue_pos for the next new torrent */
};


/* engine.c */
void engine_emit(struct engine *e, struct engine_event *ev);
struct engine_event *engine_event_new(enum engine_event_type type,
				      uint64_t seq);
void engine_save_meta(struct engine *e, struct store_meta *m);
void engine_push_status(struct engine *e, int64_t id, bool completed);
void engine_request_resume(struct engine *e, int64_t id);

/* engine_steer.c */
/* Loads STATE/session.json over the settings engine_start took from its
 * config (e->sess), and applies them. */
void engine_steer_open(struct engine *e);
/* Every tick: the alt-speed schedule. */
void engine_steer_tick(struct engine *e);
void engine_steer_set(struct engine *e, struct engine_cmd *c);
void engine_steer_session(struct engine *e, struct engine_cmd *c);
/* Tells the service, unasked (EV_SESSION, seq 0), the settings in force:
 * at start and when the listen port changed. */
void engine_steer_announce(struct engine *e);
/* A new torrent's steering from its create (limits, labels...). */
void engine_steer_new_meta(struct engine *e, struct store_meta *m,
			   const struct tp_tset *t);
/* Fills the steering fields of a status from the torrent's meta. */
void engine_steer_status(struct engine *e, struct tp_status *dst,
			 const struct lts_status *src);
/* The ratio and seed-time rules, on each status; true if it paused it. */
bool engine_steer_rules(struct engine *e, const struct lts_status *st);
/* A manual resume: clears stop_reason and waives the limit that set it. */
void engine_steer_resumed(struct engine *e, struct store_meta *m);
void engine_steer_free(struct engine *e);

/* engine_detail.c: files, peers, trackers and recheck of one torrent. */
void engine_detail(struct engine *e, struct engine_cmd *c);
/* The sink's moved / move_failed, and starting a move. */
void engine_detail_moved(void *ctx, int64_t id, const char *save_path);
void engine_detail_move_failed(void *ctx, int64_t id, const char *reason);

#endif
