/*
 * engine.c - the engine thread and its two queues.
 *
 * Runs on: the engine thread (engine_main and everything it calls), except
 * the functions documented in engine.h as the main thread's API
 * (engine_start, engine_submit, engine_take_events, engine_stop), which
 * touch only the queues (queue.h) and the fields under e->lock.
 *
 * The thread sleeps in poll() on three descriptors: the command queue's
 * eventfd, libtorrent's alert fd and a timerfd for the status tick.  It
 * never sleeps for a fixed time, so an answer leaves as soon as libtorrent
 * has given it.
 */
#include "engine.h"
#include "engine_int.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "blocklist.h"
#include "idmap.h"
#include "log.h"
#include "lt_shim.h"
#include "monoclock.h"
#include "options.h"
#include "peernet.h"
#include "store.h"

/* Commands carried out between two syncs of the state directory. */
#define ENGINE_BATCH 256
/* How long SIGTERM waits for libtorrent to hand over resume data. */
#define ENGINE_SHUTDOWN_SAVE_MS 10000
/* Restore: adds posted to libtorrent and not yet answered, at most (each
 * holds its parsed .torrent and an alert slot until answered).  And how
 * long libtorrent may go without answering any before the rest are given
 * up as not restored. */
#define ENGINE_RESTORE_INFLIGHT 1024
#define ENGINE_RESTORE_STALL_MS 60000

struct engine_cmd *engine_cmd_new(enum engine_cmd_type type)
{
	struct engine_cmd *c = calloc(1, sizeof *c);
	if (c)
		c->type = type;
	return c;
}

void engine_cmd_free(struct engine_cmd *c)
{
	if (!c)
		return;
	free(c->torrent);
	free(c->magnet);
	free(c->save_dir);
	for (size_t i = 0; i < c->n_peers; i++)
		free(c->peers[i]);
	free(c->peers);
	free(c->reason);
	tp_tset_free(&c->tset);
	tp_session_free(&c->session);
	engine_net_free(&c->net);
	free(c);
}

void engine_net_free(struct engine_net *n)
{
	free(n->listen);
	free(n->download_dir);
	free(n->dht_bootstrap);
	memset(n, 0, sizeof *n);
}

void engine_event_free(struct engine_event *ev)
{
	if (!ev)
		return;
	free(ev->name);
	free(ev->save_path);
	free(ev->reason);
	for (size_t i = 0; i < ev->n_files; i++)
		free(ev->files[i]);
	free(ev->files);
	tp_status_free(&ev->status);
	tp_session_free(&ev->session);
	engine_net_free(&ev->net);
	json_object_put(ev->detail);
	free(ev);
}

/* Engine thread: hands an event to the main thread (at the end of the
 * batch when holding). */
void engine_emit(struct engine *e, struct engine_event *ev)
{
	if (e->holding) {
		ev->link.next = NULL;
		if (e->held_tail)
			e->held_tail->next = &ev->link;
		else
			e->held_head = &ev->link;
		e->held_tail = &ev->link;
		return;
	}
	/* The event queue is closed only after this thread has ended. */
	queue_push(&e->events, &ev->link);
}

struct engine_event *engine_event_new(enum engine_event_type type,
				      uint64_t seq)
{
	struct engine_event *ev = calloc(1, sizeof *ev);
	if (!ev) {
		/* Losing an answer would shift the FIFO: better to stop. */
		log_error("out of memory in the engine");
		abort();
	}
	ev->type = type;
	ev->seq = seq;
	return ev;
}

static char *engine_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void engine_status_copy(struct engine *e, struct tp_status *dst,
			       const struct lts_status *src)
{
	dst->id = src->id;
	dst->name = engine_strdup(src->name);
	memcpy(dst->info_hash, src->info_hash, sizeof dst->info_hash);
	dst->state = src->state;
	dst->paused = src->paused;
	dst->progress = src->progress;
	dst->done_bytes = src->done_bytes;
	dst->total_bytes = src->total_bytes;
	dst->down_rate = src->down_rate;
	dst->up_rate = src->up_rate;
	dst->peers = src->peers;
	dst->seeds = src->seeds;
	dst->error = engine_strdup(src->error);
	dst->save_path = engine_strdup(src->save_path);
	engine_steer_status(e, dst, src);
}

static void engine_on_status(void *ctx, const struct lts_status *st)
{
	struct engine *e = ctx;
	/* A torrent the rules just paused gets a fresh status from them. */
	if (engine_steer_rules(e, st))
		return;
	struct engine_event *ev = engine_event_new(EV_STATUS, 0);
	ev->id = st->id;
	engine_status_copy(e, &ev->status, st);
	engine_emit(e, ev);
}

static void engine_drain(struct engine *e);

/* Pushes one torrent's status now rather than at the next tick.  With
 * `fence`, alerts already queued are emitted first: lts_status_get() runs
 * in libtorrent's network thread after everything posted before it, so a
 * state update taken before a pause cannot come after (and undo) the
 * status read here. */
static void engine_push_status_ex(struct engine *e, int64_t id,
				  bool completed, bool fence)
{
	struct lts_status st;
	char *err = NULL;
	if (lts_status_get(e->lts, id, &st, &err) < 0) {
		log_debug("no status for torrent %lld: %s", (long long)id,
			  err ? err : "?");
		free(err);
		return;
	}
	if (fence)
		engine_drain(e);
	struct engine_event *ev = engine_event_new(EV_STATUS, 0);
	ev->id = id;
	ev->completed = completed;
	engine_status_copy(e, &ev->status, &st);
	lts_status_free(&st);
	engine_emit(e, ev);
}

void engine_push_status(struct engine *e, int64_t id, bool completed)
{
	engine_push_status_ex(e, id, completed, false);
}

void engine_save_meta(struct engine *e, struct store_meta *m)
{
	char *err = NULL;
	if (store_save_meta(e->store, m, &err) < 0)
		log_error("torrent %lld: %s", (long long)m->id,
			  err ? err : "cannot save its state");
	free(err);
}

/* Commits the state changes made so far (one fsync for all of them). */
static int engine_sync(struct engine *e)
{
	char *err = NULL;
	int rc = store_sync(e->store, &err);
	if (rc < 0) {
		log_error("state changes lost: %s",
			  err ? err : "cannot save the state");
		/* Creates held for the batch were in the lost commit. */
		if (e->holding && !e->held_lost)
			e->held_lost = err ? err : strdup("cannot save the state");
		else
			free(err);
		return rc;
	}
	free(err);
	return rc;
}

void engine_request_resume(struct engine *e, int64_t id)
{
	e->resume_waiting += lts_save_resume_one(e->lts, id);
}

/* A finished download gets its status pushed at once, so `tpctl add
 * --wait` returns as soon as the data is complete; its state is saved at
 * once too, so a restart will not check it again. */
static void engine_on_finished(void *ctx, int64_t id)
{
	struct engine *e = ctx;
	engine_push_status(e, id, true);
	struct store_meta *m = idmap_get(&e->metas, id);
	if (m && !m->complete) {
		m->complete = true;
		engine_save_meta(e, m);
	}
	/* Saved before it is announced: a crash after the hook ran must not
	 * run it again. */
	if (m && !m->hook_done) {
		m->hook_done = true;
		engine_save_meta(e, m);
		engine_sync(e);
		struct engine_event *ev = engine_event_new(EV_COMPLETED, 0);
		ev->id = id;
		ev->owner = m->owner;
		ev->name = engine_strdup(m->name);
		ev->save_path = engine_strdup(m->save_path);
		snprintf(ev->info_hash, sizeof ev->info_hash, "%s",
			 m->info_hash ? m->info_hash : "");
		size_t len = 1;
		for (size_t i = 0; i < m->n_labels; i++)
			len += strlen(m->labels[i]) + 1;
		ev->reason = calloc(1, len);
		for (size_t i = 0; ev->reason && i < m->n_labels; i++) {
			if (i)
				strcat(ev->reason, ",");
			strcat(ev->reason, m->labels[i]);
		}
		engine_emit(e, ev);
	}
	engine_request_resume(e, id);
	log_info("torrent %lld complete", (long long)id);
}

/* The info dict arrived: keep it, so a restart needs no peer for it. */
static void engine_on_metadata(void *ctx, int64_t id)
{
	struct engine *e = ctx;
	engine_request_resume(e, id);
	log_info("torrent %lld: metadata received", (long long)id);
}

static void engine_on_resume_data(void *ctx, int64_t id,
				  const unsigned char *buf, size_t len)
{
	struct engine *e = ctx;
	if (e->resume_waiting > 0)
		e->resume_waiting--;
	if (!idmap_get(&e->metas, id))
		return; /* closed meanwhile: do not bring it back */
	char *err = NULL;
	if (store_save_blob(e->store, id, "resume", buf, len, &err) < 0)
		log_error("torrent %lld: %s", (long long)id,
			  err ? err : "cannot save resume data");
	free(err);
}

static void engine_on_resume_failed(void *ctx, int64_t id, const char *why)
{
	struct engine *e = ctx;
	if (e->resume_waiting > 0)
		e->resume_waiting--;
	log_debug("torrent %lld: no resume data: %s", (long long)id, why);
}

static void engine_on_log(void *ctx, int level, int64_t id, const char *msg)
{
	(void)ctx;
	if (id > 0)
		log_msg((enum log_level)level, "torrent %lld: %s",
			(long long)id, msg);
	else
		log_msg((enum log_level)level, "libtorrent: %s", msg);
}

/* A listen socket opened or failed: after a reload changed the listen
 * list, the port may be another (0: none), and info must show it. */
static void engine_on_listening(void *ctx)
{
	struct engine *e = ctx;
	int port = lts_listen_port(e->lts);
	if (port == e->port_now)
		return;
	e->port_now = port;
	engine_steer_announce(e);
}

static void engine_on_added(void *ctx, int64_t id, const char *name,
			    const char *info_hash, const char *error);

static const struct lts_sink engine_sink_proto = {
	.added = engine_on_added,
	.status = engine_on_status,
	.finished = engine_on_finished,
	.metadata = engine_on_metadata,
	.resume_data = engine_on_resume_data,
	.resume_failed = engine_on_resume_failed,
	.moved = engine_detail_moved,
	.move_failed = engine_detail_move_failed,
	.log = engine_on_log,
	.listening = engine_on_listening,
};

static void engine_drain(struct engine *e)
{
	struct lts_sink sink = engine_sink_proto;
	sink.ctx = e;
	/* The restore's own status pass speaks for every torrent at its
	 * end; the updates asked for meanwhile only keep libtorrent's list
	 * short (engine_restore_wait). */
	if (e->in_restore)
		sink.status = NULL;
	lts_drain(e->lts, &sink);
	engine_sync(e); /* resume data and metas written by the alerts */
}

/* Saved before the patron hears of it: an answered create survives a
 * crash that follows the answer. */
static int engine_persist_new(struct engine *e, const struct engine_cmd *c,
			      const struct engine_event *ev, char **err)
{
	struct store_meta *m = calloc(1, sizeof *m);
	if (!m) {
		*err = strdup("out of memory");
		return -1;
	}
	store_meta_init(m);
	engine_steer_new_meta(e, m, &c->tset);
	m->id = ev->id;
	m->owner = c->owner;
	m->save_path = strdup(ev->save_path);
	m->info_hash = strdup(ev->info_hash);
	m->name = engine_strdup(ev->name);
	m->magnet = engine_strdup(c->magnet);
	m->paused = c->paused;
	m->complete = c->have_all;
	/* Seeding what one has is no completion: no hook for it. */
	m->hook_done = c->have_all;
	if ((c->torrent && store_save_blob(e->store, m->id, "torrent",
					   c->torrent, c->torrent_len, err) < 0) ||
	    store_save_meta(e->store, m, err) < 0 ||
	    idmap_put(&e->metas, m->id, m) < 0) {
		if (!*err)
			*err = strdup("out of memory");
		store_forget(e->store, m->id);
		store_meta_free(m);
		free(m);
		return -1;
	}
	return 0;
}

/* The counter only needs saving when the highest ids may vanish: on
 * close and at exit.  Otherwise a restart derives it from the torrents. */
static void engine_save_next_id(struct engine *e)
{
	char *err = NULL;
	if (store_save_next_id(e->store, e->next_id, &err) < 0) {
		log_error("%s", err ? err : "cannot save the id counter");
		free(err);
	}
}

static void engine_do_create(struct engine *e, struct engine_cmd *c)
{
	const char *save = c->save_dir ? c->save_dir : e->download_dir;
	struct lts_add p = {
		.id = e->next_id,
		.torrent = c->torrent,
		.torrent_len = c->torrent_len,
		.magnet = c->magnet,
		.save_path = save,
		.have_all = c->have_all,
		.paused = c->paused,
		.peers = (const char *const *)c->peers,
		.n_peers = c->n_peers,
		.download_limit = (int)c->tset.download_limit,
		.upload_limit = (int)c->tset.upload_limit,
		.sequential = c->tset.sequential,
		.pex = e->sess.pex,
		.owner = c->owner,
	};
	struct lts_added added;
	memset(&added, 0, sizeof added);
	char *err = NULL;
	enum lts_add_result r = lts_add(e->lts, &p, &added, &err);
	struct engine_event *ev;
	switch (r) {
	case LTS_ADD_OK:
		ev = engine_event_new(EV_CREATED, c->seq);
		ev->id = e->next_id++;
		memcpy(ev->info_hash, added.info_hash, sizeof ev->info_hash);
		ev->name = engine_strdup(added.name);
		ev->save_path = strdup(save);
		/* Never acknowledge a torrent a restart would not bring back. */
		if (engine_persist_new(e, c, ev, &err) < 0) {
			log_error("torrent %lld not kept: cannot save its state: %s",
				  (long long)ev->id, err);
			lts_remove(e->lts, ev->id, false, NULL);
			engine_event_free(ev);
			ev = engine_event_new(EV_START_FAIL, c->seq);
			if (asprintf(&ev->reason, "cannot save the torrent's state "
				     "(%s)", err) < 0)
				ev->reason = strdup("cannot save the torrent's state");
			break;
		}
		log_info("torrent %lld added: %s (%s) in %s", (long long)ev->id,
			 ev->name ? ev->name : "?", ev->info_hash, save);
		break;
	case LTS_ADD_DUPLICATE:
		ev = engine_event_new(EV_DUPLICATE, c->seq);
		ev->id = added.existing_id;
		memcpy(ev->info_hash, added.info_hash, sizeof ev->info_hash);
		break;
	default:
		ev = engine_event_new(EV_START_FAIL, c->seq);
		ev->reason = err ? err : strdup("libtorrent refused the torrent");
		err = NULL;
		log_info("create refused: %s", ev->reason);
		break;
	}
	free(err);
	lts_added_free(&added);
	int64_t created = ev->type == EV_CREATED ? ev->id : 0;
	engine_emit(e, ev);
	/* Patrons listing right after the answer see the real state. */
	if (created)
		engine_push_status(e, created, false);
}

static void engine_do_control(struct engine *e, struct engine_cmd *c)
{
	char *err = NULL;
	char **files = NULL;
	size_t n_files = 0;
	int rc;
	switch (c->type) {
	case ENG_CLOSE:
		/* libtorrent would delete as the daemon's user, following
		 * whatever links the patron planted: the service deletes the
		 * files itself, with the patron's rights. */
		if (c->delete_files)
			lts_files(e->lts, c->id, &files, &n_files, NULL);
		rc = lts_remove(e->lts, c->id, false, &err);
		break;
	case ENG_PAUSE:
		rc = lts_pause(e->lts, c->id, &err);
		break;
	case ENG_RESUME:
		rc = lts_resume(e->lts, c->id, &err);
		break;
	default:
		rc = lts_reannounce(e->lts, c->id, &err);
		break;
	}
	struct store_meta *m = idmap_get(&e->metas, c->id);
	char *save_path = m ? engine_strdup(m->save_path) : NULL;
	if (rc == 0 && m && c->type == ENG_CLOSE) {
		engine_save_next_id(e);
		store_forget(e->store, c->id);
		idmap_del(&e->metas, c->id);
		store_meta_free(m);
		free(m);
	} else if (rc == 0 && m &&
		   (c->type == ENG_PAUSE || c->type == ENG_RESUME)) {
		m->paused = c->type == ENG_PAUSE;
		if (c->type == ENG_RESUME)
			engine_steer_resumed(e, m);
		engine_save_meta(e, m);
		engine_request_resume(e, c->id);
	}
	/* Read-your-writes: the new paused value reaches the service before
	 * the answer does, so a status or list sent after Paused/Resumed,
	 * on any connection, shows it. */
	if (rc == 0 && (c->type == ENG_PAUSE || c->type == ENG_RESUME))
		engine_push_status_ex(e, c->id, false, true);
	struct engine_event *ev =
		engine_event_new(rc == 0 ? EV_DONE : EV_FAILED, c->seq);
	ev->cmd = c->type;
	ev->id = c->id;
	ev->reason = err;
	ev->files = files;
	ev->n_files = n_files;
	ev->save_path = save_path;
	engine_emit(e, ev);
}

static void engine_do(struct engine *e, struct engine_cmd *c)
{
	switch (c->type) {
	case ENG_CREATE:
		engine_do_create(e, c);
		break;
	case ENG_SET:
		engine_steer_set(e, c);
		break;
	case ENG_SESSION:
		engine_steer_session(e, c);
		break;
	case ENG_FILES:
	case ENG_PEERS:
	case ENG_TRACKERS:
	case ENG_RECHECK:
	case ENG_MOVE:
		engine_detail(e, c);
		break;
	case ENG_FAIL: {
		struct engine_event *ev = engine_event_new(EV_START_FAIL, c->seq);
		ev->reason = c->reason;
		c->reason = NULL;
		engine_emit(e, ev);
		break;
	}
	default:
		engine_do_control(e, c);
		break;
	}
}

/* --- bringing saved torrents back ------------------------------------- */

/* A saved torrent posted to libtorrent, until its answer. */
struct engine_restoring {
	struct store_meta *m;
	bool recheck;     /* check the data on disk once it is in */
	bool had_resume;  /* refused with resume data: try without */
};

/* Posts one saved torrent: with its resume data when that is usable, else
 * from its .torrent (or magnet) with a full check of the data on disk.
 * The answer comes to engine_on_added. */
static int engine_restore_post(struct engine *e, struct store_meta *m,
			       bool unclean, bool use_resume)
{
	char *err = NULL;
	size_t tlen = 0, rlen = 0;
	unsigned char *tor = store_load_blob(e->store, m->id, "torrent", &tlen,
					     &err);
	if (err) {
		log_warn("torrent %lld: %s", (long long)m->id, err);
		free(err);
		err = NULL;
	}
	unsigned char *res = use_resume ? store_load_blob(e->store, m->id,
							  "resume", &rlen, &err)
					: NULL;
	if (err) {
		log_warn("torrent %lld: %s", (long long)m->id, err);
		free(err);
		err = NULL;
	}
	struct lts_add p = {
		.id = m->id,
		.torrent = tor,
		.torrent_len = tlen,
		.magnet = tor ? NULL : m->magnet,
		.save_path = m->save_path,
		.paused = m->paused,
		.resume = res,
		.resume_len = rlen,
		.download_limit = (int)m->download_limit,
		.upload_limit = (int)m->upload_limit,
		.sequential = m->sequential,
		.pex = e->sess.pex,
		.owner = (uint32_t)m->owner,
	};
	int rc = res ? lts_add_async(e->lts, &p, &err) : -1;
	bool recheck = false;
	if (rc < 0) {
		if (res)
			log_warn("torrent %lld: resume data unusable (%s); "
				 "re-checking its data from its %s",
				 (long long)m->id, err ? err : "?",
				 tor ? ".torrent" : "magnet");
		else if (tor && use_resume)
			log_warn("torrent %lld: no resume data; re-checking "
				 "its data", (long long)m->id);
		free(err);
		err = NULL;
		p.resume = NULL;
		p.resume_len = 0;
		rc = (tor || m->magnet) ? lts_add_async(e->lts, &p, &err) : -1;
		recheck = tor != NULL;
	} else if (unclean && !m->complete) {
		/* Pieces verified after the last resume save are on disk
		 * but not in the resume data: find them again. */
		recheck = true;
		log_info("torrent %lld: the daemon stopped uncleanly; "
			 "re-checking its data", (long long)m->id);
	}
	bool had_resume = res != NULL && rc == 0 && !recheck;
	bool fallback = tor || m->magnet;
	free(tor);
	free(res);
	struct engine_restoring *r = rc == 0 ? calloc(1, sizeof *r) : NULL;
	if (r) {
		r->m = m;
		r->recheck = recheck;
		r->had_resume = had_resume && fallback;
		if (idmap_put(&e->restoring, m->id, r) == 0)
			return 0;
		free(r);
		/* libtorrent will answer for a torrent we no longer wait
		 * for: take it out again. */
		lts_remove(e->lts, m->id, false, NULL);
		free(err);
		err = strdup("out of memory");
	}
	log_error("torrent %lld cannot be restored: %s", (long long)m->id,
		  err ? err : rc == 0 ? "out of memory"
				      : "no .torrent, magnet or resume data");
	free(err);
	return -1;
}

/* libtorrent's answer to a restore post (sink->added). */
static void engine_on_added(void *ctx, int64_t id, const char *name,
			    const char *info_hash, const char *error)
{
	struct engine *e = ctx;
	struct engine_restoring *r = idmap_del(&e->restoring, id);
	if (!r) {
		/* given up on (engine_restore_wait): no state goes with it */
		if (!error)
			lts_remove(e->lts, id, false, NULL);
		return;
	}
	struct store_meta *m = r->m;
	if (error && r->had_resume) {
		log_warn("torrent %lld: refused with its resume data (%s); "
			 "re-checking its data", (long long)id, error);
		free(r);
		if (engine_restore_post(e, m, false, false) < 0) {
			store_meta_free(m);
			free(m);
		}
		return;
	}
	bool recheck = r->recheck;
	free(r);
	if (error) {
		log_error("torrent %lld cannot be restored: %s", (long long)id,
			  error);
		store_meta_free(m);
		free(m);
		return;
	}
	char *err = NULL;
	if (recheck && lts_force_recheck(e->lts, id, &err) < 0) {
		log_warn("torrent %lld: %s", (long long)id, err);
		free(err);
	}
	if (!m->name && name)
		m->name = strdup(name);
	if (!m->info_hash && info_hash)
		m->info_hash = strdup(info_hash);
	if (idmap_put(&e->metas, id, m) < 0) {
		log_error("torrent %lld cannot be restored: out of memory",
			  (long long)id);
		lts_remove(e->lts, id, false, NULL);
		store_meta_free(m);
		free(m);
		return;
	}
	e->restored++;
	struct engine_event *ev = engine_event_new(EV_RESTORED, 0);
	ev->id = m->id;
	ev->owner = m->owner;
	snprintf(ev->info_hash, sizeof ev->info_hash, "%s",
		 m->info_hash ? m->info_hash : "");
	ev->name = engine_strdup(m->name);
	ev->save_path = strdup(m->save_path);
	/* Until the restore's status pass, patrons see the saved state (a
	 * torrent paused by its ratio limit must not read as running). */
	struct lts_status st = {
		.id = id,
		.name = m->name,
		.state = "checking_resume_data",
		.paused = m->paused,
		.save_path = m->save_path,
		.queue_position = -1,
		.sequential = m->sequential,
	};
	snprintf(st.info_hash, sizeof st.info_hash, "%s", ev->info_hash);
	engine_status_copy(e, &ev->status, &st);
	ev->status.eta = -1;
	engine_emit(e, ev);
}

/* The restore's status pass: as engine_push_status, for all at once. */
static void engine_on_restore_status(void *ctx, const struct lts_status *st)
{
	struct engine *e = ctx;
	struct engine_event *ev = engine_event_new(EV_STATUS, 0);
	ev->id = st->id;
	engine_status_copy(e, &ev->status, st);
	engine_emit(e, ev);
}

/* Drains answers until at most `left` posts wait.  Gives the rest up when
 * libtorrent answers none for ENGINE_RESTORE_STALL_MS. */
static void engine_restore_wait(struct engine *e, size_t left)
{
	struct pollfd pfd = {.fd = lts_alert_fd(e->lts), .events = POLLIN};
	int64_t last = monoclock_us();
	size_t before = lts_add_pending(e->lts);
	/* Every torrent added joins libtorrent's list of torrents whose
	 * state changed (update_subscribe).  Until post_torrent_updates
	 * empties it, each further add copies an array of one pointer per
	 * torrent (gdb on libtorrent 2.0.8: the copy grows by 8 bytes an
	 * add, 800 KB at 100,000): quadratic.  Measured with the Python
	 * bindings, 60,000 paused adds: 9.8 s, 2.7 s with the list emptied
	 * every 1,000 adds; our 100,000-torrent restart: 45 to 16 CPU s.
	 * So it is emptied at every wait, every ENGINE_RESTORE_INFLIGHT / 2
	 * adds. */
	lts_post_updates_bare(e->lts);
	while (lts_add_pending(e->lts) > left) {
		if (poll(&pfd, 1, 1000) > 0)
			engine_drain(e);
		size_t waiting = lts_add_pending(e->lts);
		int64_t now = monoclock_us();
		if (waiting < before) {
			before = waiting;
			last = now;
		} else if (now - last >= ENGINE_RESTORE_STALL_MS * 1000LL) {
			log_error("libtorrent answered none of %zu torrents "
				  "for %d s: they are not restored", waiting,
				  ENGINE_RESTORE_STALL_MS / 1000);
			break;
		}
	}
	if (left > 0)
		return;
	/* Whatever is still waiting will not be restored this run. */
	int64_t id;
	void *v;
	for (size_t i = 0; idmap_next(&e->restoring, &i, &id, &v);) {
		struct engine_restoring *r = v;
		log_error("torrent %lld cannot be restored: libtorrent did not "
			  "answer", (long long)id);
		store_meta_free(r->m);
		free(r->m);
		free(r);
	}
	idmap_free(&e->restoring);
}

/* The download queue's order: libtorrent appends each torrent added, so
 * adding them in their saved order brings the order back. */
static int engine_cmp_queue(const void *a, const void *b)
{
	const struct store_meta *x = *(struct store_meta *const *)a;
	const struct store_meta *y = *(struct store_meta *const *)b;
	int64_t kx = x->queue_pos >= 0 ? x->queue_pos : INT32_MAX;
	int64_t ky = y->queue_pos >= 0 ? y->queue_pos : INT32_MAX;
	if (kx != ky)
		return (kx > ky) - (kx < ky);
	return (x->id > y->id) - (x->id < y->id);
}

static void engine_restore(struct engine *e)
{
	int64_t t0 = monoclock_us();
	bool unclean = store_was_unclean(e->store);
	if (unclean)
		log_warn("the last run did not stop cleanly");
	int64_t next = store_next_id(e->store);
	size_t n = 0, ok = 0, nm = 0;
	int64_t *ids = store_list(e->store, &n);
	struct store_meta **metas = calloc(n + 1, sizeof *metas);
	for (size_t i = 0; metas && i < n; i++) {
		struct store_meta *m = calloc(1, sizeof *m);
		char *err = NULL;
		if (!m || store_load_meta(e->store, ids[i], m, &err) < 0) {
			log_error("torrent %lld not restored: %s",
				  (long long)ids[i], err ? err : "out of memory");
			free(err);
			free(m);
			continue;
		}
		if (ids[i] >= next)
			next = ids[i] + 1;
		if (m->queue_pos >= e->queue_tail)
			e->queue_tail = m->queue_pos + 1;
		metas[nm++] = m;
	}
	if (metas)
		qsort(metas, nm, sizeof *metas, engine_cmp_queue);
	int64_t t1 = monoclock_us();
	/* All posted without waiting for each (libtorrent adds them in
	 * this order, which keeps the queue's), then one status pass. */
	e->restored = 0;
	e->in_restore = true;
	for (size_t i = 0; i < nm; i++) {
		struct store_meta *m = metas[i];
		store_hold(e->store); /* until the next engine_sync() */
		if (engine_restore_post(e, m, unclean, true) < 0) {
			store_meta_free(m);
			free(m);
			continue;
		}
		if (lts_add_pending(e->lts) >= ENGINE_RESTORE_INFLIGHT)
			engine_restore_wait(e, ENGINE_RESTORE_INFLIGHT / 2);
	}
	engine_sync(e);
	engine_restore_wait(e, 0);
	ok = e->restored;
	struct lts_sink sink = {.ctx = e, .status = engine_on_restore_status};
	lts_status_all(e->lts, &sink);
	/* The pass ran on libtorrent's thread after the restore's last
	 * post_torrent_updates, so that answer is queued by now: dropped
	 * here, it cannot arrive after the pass with older statuses.  A
	 * change after that post stays in libtorrent's list for the tick. */
	engine_drain(e);
	e->in_restore = false;
	free(ids);
	free(metas);
	if (next > e->next_id)
		e->next_id = next;
	int64_t t2 = monoclock_us();
	/* Both times, as a slow restart is either the store or libtorrent. */
	if (n)
		log_info("restored %zu of %zu torrents in %lld ms (%lld ms "
			 "reading their state)", ok, n,
			 (long long)((t2 - t0) / 1000),
			 (long long)((t1 - t0) / 1000));
	store_mark_running(e->store);
	engine_emit(e, engine_event_new(EV_LOADED, 0));
}

/* SIGTERM: hand over what libtorrent has not saved yet, then stop. */
static void engine_save_all(struct engine *e)
{
	e->resume_waiting += lts_save_resume(e->lts, false);
	struct pollfd pfd = {.fd = lts_alert_fd(e->lts), .events = POLLIN};
	int64_t start = monoclock_us();
	while (e->resume_waiting > 0) {
		long spent = (long)((monoclock_us() - start) / 1000);
		if (spent >= ENGINE_SHUTDOWN_SAVE_MS) {
			log_warn("%d resume answers still missing at exit",
				 e->resume_waiting);
			break;
		}
		if (poll(&pfd, 1, (int)(ENGINE_SHUTDOWN_SAVE_MS - spent)) > 0)
			engine_drain(e);
	}
	engine_save_next_id(e);
	engine_sync(e);
	store_mark_clean(e->store);
}

/* The batch's state could not be committed: no create of it may be
 * acknowledged, since a restart would not bring the torrent back.  Each
 * becomes a StartFail that says why, and the torrent goes again. */
static void engine_unacknowledge(struct engine *e, const char *why)
{
	struct queue_link **link = &e->held_head;
	struct queue_link *prev = NULL;
	while (*link) {
		struct engine_event *ev =
			QUEUE_ITEM(*link, struct engine_event, link);
		if (ev->type == EV_CREATED) {
			log_error("torrent %lld not kept: cannot save its state: %s",
				  (long long)ev->id, why);
			lts_remove(e->lts, ev->id, false, NULL);
			store_forget(e->store, ev->id);
			struct store_meta *m = idmap_get(&e->metas, ev->id);
			if (m) {
				idmap_del(&e->metas, ev->id);
				store_meta_free(m);
				free(m);
			}
			struct engine_event *f = engine_event_new(EV_START_FAIL,
								  ev->seq);
			if (asprintf(&f->reason, "cannot save the torrent's "
				     "state (%s)", why) < 0)
				f->reason = strdup("cannot save the torrent's state");
			f->link.next = ev->link.next;
			*link = &f->link;
			engine_event_free(ev);
			ev = f;
		}
		prev = &ev->link;
		link = &ev->link.next;
	}
	e->held_tail = prev;
	/* Forgetting them is itself a change; if even that cannot be
	 * committed they stay out of this run and the log says so. */
	engine_sync(e);
}

/* One commit for the batch, then its events: a patron never hears of a
 * torrent that a crash or power cut could still lose. */
static void engine_release_held(struct engine *e)
{
	char *err = NULL;
	if (store_sync(e->store, &err) < 0 || e->held_lost) {
		const char *why = e->held_lost ? e->held_lost : err;
		engine_unacknowledge(e, why ? why : "cannot save the state");
	}
	free(err);
	free(e->held_lost);
	e->held_lost = NULL;
	bool holding = e->holding;
	e->holding = false;
	struct queue_link *held = e->held_head;
	e->held_head = e->held_tail = NULL;
	while (held) {
		struct queue_link *next = held->next;
		struct engine_event *ev =
			QUEUE_ITEM(held, struct engine_event, link);
		/* A status of a torrent just unacknowledged is of none. */
		if (ev->type == EV_STATUS && !idmap_get(&e->metas, ev->id))
			engine_event_free(ev);
		else
			engine_emit(e, ev);
		held = next;
	}
	e->holding = holding;
}

/* Gives libtorrent the ranges as its IP filter (takes bl over). */
static void engine_apply_blocklist(struct engine *e, struct blocklist *bl)
{
	size_t n = bl ? bl->n : 0, n6 = bl ? bl->n6 : 0;
	struct lts_ip_range *r = n ? calloc(n, sizeof *r) : NULL;
	struct lts_ip_range6 *r6 = n6 ? calloc(n6, sizeof *r6) : NULL;
	char *err = NULL;
	if ((n && !r) || (n6 && !r6)) {
		log_error("blocklist: out of memory; the old one stays");
	} else {
		for (size_t i = 0; i < n; i++) {
			r[i].first = bl->ranges[i].first;
			r[i].last = bl->ranges[i].last;
		}
		for (size_t i = 0; i < n6; i++) {
			memcpy(r6[i].first, bl->ranges6[i].first, 16);
			memcpy(r6[i].last, bl->ranges6[i].last, 16);
		}
		if (lts_set_ip_filter(e->lts, r, n, r6, n6, &err) < 0)
			log_error("blocklist: %s", err ? err : "not applied");
		else
			log_info("blocklist: %zu IPv4 and %zu IPv6 ranges applied",
				 n, n6);
	}
	free(err);
	free(r);
	free(r6);
	blocklist_free(bl);
	free(bl);
}

/* Applies the list engine_set_blocklist() left, if it left one. */
static void engine_apply_new_blocklist(struct engine *e)
{
	pthread_mutex_lock(&e->lock);
	struct blocklist *bl = e->new_blocklist;
	bool changed = e->blocklist_changed;
	e->new_blocklist = NULL;
	e->blocklist_changed = false;
	pthread_mutex_unlock(&e->lock);
	if (changed)
		engine_apply_blocklist(e, bl);
}

/* Returns false once the engine is asked to stop. */
static bool engine_run_commands(struct engine *e)
{
	bool stopping;
	struct queue_link *list = queue_take_all(&e->cmds, &stopping);
	engine_apply_new_blocklist(e);
	int in_batch = 0;
	e->holding = true;
	while (list) {
		struct queue_link *next = list->next;
		struct engine_cmd *c = QUEUE_ITEM(list, struct engine_cmd, link);
		engine_do(e, c);
		engine_cmd_free(c);
		list = next;
		/* Bounded batches: the first answers need not wait for a
		 * long queue to be done. */
		if (++in_batch == ENGINE_BATCH || !list) {
			engine_release_held(e);
			in_batch = 0;
		}
	}
	e->holding = false;
	return !stopping;
}

static int engine_open(struct engine *e, char **err)
{
	struct lts_config lc = {
		.listen = e->listen,
		.dht = e->dht,
		.lsd = e->lsd,
		.upnp = e->upnp,
		.no_utp = !e->utp,
		.no_tcp = !e->tcp,
		.encryption = e->encryption == TPD_ENC_REQUIRE   ? LTS_ENC_REQUIRE
			      : e->encryption == TPD_ENC_DISABLE ? LTS_ENC_DISABLE
								 : LTS_ENC_PREFER,
		.dht_bootstrap = e->dht_bootstrap,
		/* Asked for only when uTP is on: the size also binds TCP
		 * sockets, where the kernel's autotuning does better. */
		.socket_buffer = e->utp ? PEERNET_UTP_BUFFER : 0,
		/* On loopback every peer shares one address: with libtorrent's
		 * one connection per address they would collapse into one.
		 * Between hosts, one per address is what keeps a peer from
		 * being counted (and unchoked) twice. */
		.multi_conn_per_ip = peernet_listen_is_loopback(e->listen),
	};
	e->store = store_open(e->state_dir, err);
	if (!e->store)
		return -1;
	e->lts = lts_new(&lc, err);
	if (!e->lts)
		return -1;
	e->listen_port = lts_listen_port(e->lts);
	e->port_now = e->listen_port;
	/* Before any torrent is restored, so no blocked peer gets in. */
	engine_apply_new_blocklist(e);
	engine_steer_open(e);
	e->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (e->timer_fd < 0) {
		if (asprintf(err, "timerfd: %s", strerror(errno)) < 0)
			*err = NULL;
		return -1;
	}
	struct itimerspec its = {
		.it_interval = {e->tick_ms / 1000, (e->tick_ms % 1000) * 1000000L},
		.it_value = {e->tick_ms / 1000, (e->tick_ms % 1000) * 1000000L},
	};
	timerfd_settime(e->timer_fd, 0, &its, NULL);
	return 0;
}

static void *engine_main(void *arg)
{
	struct engine *e = arg;
	char *err = NULL;
	int rc = engine_open(e, &err);
	if (rc < 0 && e->lts) {
		lts_free(e->lts);
		e->lts = NULL;
	}
	pthread_mutex_lock(&e->lock);
	e->started = true;
	e->start_err = rc < 0 ? (err ? err : strdup("engine failed")) : NULL;
	pthread_cond_signal(&e->started_cond);
	pthread_mutex_unlock(&e->lock);
	if (rc < 0)
		return NULL;

	struct pollfd pfd[3] = {
		{.fd = queue_fd(&e->cmds), .events = POLLIN},
		{.fd = lts_alert_fd(e->lts), .events = POLLIN},
		{.fd = e->timer_fd, .events = POLLIN},
	};
	engine_drain(e);
	engine_restore(e);
	for (;;) {
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("engine poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			engine_drain(e);
		if (pfd[2].revents) {
			uint64_t expirations;
			ssize_t n = read(e->timer_fd, &expirations,
					 sizeof expirations);
			(void)n; /* a tick missed under load is not made up */
			engine_steer_tick(e);
			lts_post_updates(e->lts);
			if (++e->ticks >= e->resume_every) {
				e->ticks = 0;
				e->resume_waiting += lts_save_resume(e->lts, false);
			}
		}
		if (pfd[0].revents && !engine_run_commands(e))
			break;
	}
	engine_drain(e);
	engine_save_all(e);
	lts_free(e->lts);
	e->lts = NULL;
	return NULL;
}

/* With the thread gone: what neither side took, and the queues. */
static void engine_free_queued(struct engine *e)
{
	struct queue_link *l = queue_take_all(&e->events, NULL);
	while (l) {
		struct queue_link *next = l->next;
		engine_event_free(QUEUE_ITEM(l, struct engine_event, link));
		l = next;
	}
	l = queue_take_all(&e->cmds, NULL);
	while (l) {
		struct queue_link *next = l->next;
		engine_cmd_free(QUEUE_ITEM(l, struct engine_cmd, link));
		l = next;
	}
	queue_destroy(&e->events);
	queue_destroy(&e->cmds);
}

struct engine *engine_start(const struct engine_config *cfg, char **err)
{
	struct engine *e = calloc(1, sizeof *e);
	if (!e) {
		*err = strdup("out of memory");
		return NULL;
	}
	if (queue_init(&e->cmds, QUEUE_FD, err) < 0) {
		free(e);
		return NULL;
	}
	if (queue_init(&e->events, QUEUE_FD, err) < 0) {
		queue_destroy(&e->cmds);
		free(e);
		return NULL;
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->started_cond, NULL);
	e->timer_fd = -1;
	e->listen = engine_strdup(cfg->listen);
	e->download_dir = strdup(cfg->download_dir);
	e->dht = cfg->dht;
	e->lsd = cfg->lsd;
	e->upnp = cfg->upnp;
	e->pex = cfg->pex;
	e->utp = cfg->utp;
	e->tcp = cfg->tcp;
	e->encryption = cfg->encryption;
	e->dht_bootstrap = cfg->dht_bootstrap ? strdup(cfg->dht_bootstrap) : NULL;
	e->new_blocklist = cfg->blocklist;
	e->blocklist_changed = cfg->blocklist != NULL;
	e->tick_ms = cfg->tick_ms > 0 ? cfg->tick_ms : 1000;
	e->next_id = 1;
	e->state_dir = strdup(cfg->state_dir);
	if (cfg->session)
		tp_session_merge(&e->sess, cfg->session);
	int interval = cfg->resume_interval_s > 0 ? cfg->resume_interval_s : 60;
	e->resume_every = (int)((interval * 1000L + e->tick_ms - 1) / e->tick_ms);
	if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
		*err = strdup("cannot start the engine thread");
		goto fail;
	}
	pthread_mutex_lock(&e->lock);
	while (!e->started)
		pthread_cond_wait(&e->started_cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
	if (e->start_err) {
		pthread_join(e->thread, NULL);
		*err = e->start_err;
		e->start_err = NULL;
		goto fail;
	}
	return e;
fail:
	if (e->timer_fd >= 0)
		close(e->timer_fd);
	engine_free_queued(e);
	free(e->listen);
	free(e->download_dir);
	free(e->state_dir);
	free(e->dht_bootstrap);
	blocklist_free(e->new_blocklist);
	free(e->new_blocklist);
	store_close(e->store);
	tp_session_free(&e->sess);
	free(e);
	return NULL;
}

int engine_event_fd(struct engine *e)
{
	return queue_fd(&e->events);
}

void engine_set_blocklist(struct engine *e, struct blocklist *bl)
{
	pthread_mutex_lock(&e->lock);
	struct blocklist *old = e->new_blocklist;
	e->new_blocklist = bl;
	e->blocklist_changed = true;
	pthread_mutex_unlock(&e->lock);
	blocklist_free(old);
	free(old);
	/* The command queue's wake-up; the engine applies the list before
	 * (or without) any command. */
	queue_kick(&e->cmds);
}

int engine_listen_port(struct engine *e)
{
	return e->listen_port;
}

void engine_submit(struct engine *e, struct engine_cmd *cmd)
{
	/* Closed only by engine_stop, on this same thread: never refused. */
	if (!queue_push(&e->cmds, &cmd->link))
		engine_cmd_free(cmd);
}

struct queue_link *engine_take_events(struct engine *e, size_t max)
{
	return queue_take_some(&e->events, max);
}

void engine_stop(struct engine *e)
{
	if (!e)
		return;
	queue_close(&e->cmds);
	pthread_join(e->thread, NULL);
	close(e->timer_fd);
	engine_free_queued(e);
	free(e->listen);
	free(e->download_dir);
	free(e->state_dir);
	free(e->dht_bootstrap);
	blocklist_free(e->new_blocklist);
	free(e->new_blocklist);
	size_t pos = 0;
	int64_t key;
	void *val;
	while (idmap_next(&e->metas, &pos, &key, &val)) {
		store_meta_free(val);
		free(val);
	}
	idmap_free(&e->metas);
	store_close(e->store);
	engine_steer_free(e);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->started_cond);
	free(e);
}
