/*
 * engine_steer.c - what steers torrents and the daemon, inside the engine:
 * `set` and `session_set` applied to libtorrent and saved, the alt-speed
 * switch and schedule, the download queue's order, and the ratio and
 * seed-time rules (libtorrent's own limits only order the seeding queue;
 * they never stop a torrent, so tpd pauses it itself and says why).
 *
 * Engine thread only: everything here runs inside engine_do() or the
 * engine's tick and status callbacks.
 */
#include "engine_int.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "peernet.h"

#define STEER_SESSION_FILE "session.json"

static char *steer_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static bool steer_alt_wanted(struct engine *e)
{
	if (e->sess.alt_speed)
		return true;
	time_t now = time(NULL);
	struct tm tm;
	if (!localtime_r(&now, &tm))
		return false;
	return tp_schedule_active(&e->sched, tm.tm_wday,
				  tm.tm_hour * 60 + tm.tm_min);
}

/* Puts the settings in force; the alt limits replace the normal ones
 * while alt speed is on. */
static void steer_apply(struct engine *e)
{
	struct lts_limits l = {
		.download_rate = (int)(e->alt_on ? e->sess.alt_download_limit
						 : e->sess.download_limit),
		.upload_rate = (int)(e->alt_on ? e->sess.alt_upload_limit
					       : e->sess.upload_limit),
		.active_downloads = (int)e->sess.max_active_downloads,
		.active_seeds = (int)e->sess.max_active_seeds,
		.encryption = (int)e->sess.encryption,
		.dht = e->sess.dht,
		.lsd = e->sess.lsd,
		.utp = e->sess.utp,
		.pex = e->sess.pex,
		.tcp = e->tcp,
	};
	char *err = NULL;
	if (lts_apply_limits(e->lts, &l, &err) < 0)
		log_error("cannot apply the daemon's settings: %s",
			  err ? err : "?");
	free(err);
	err = NULL;
	struct lts_network n = {
		.listen = e->listen,
		.upnp = e->upnp,
		.dht_bootstrap = e->dht_bootstrap,
		/* Only with uTP: the size also binds TCP sockets, where the
		 * kernel's autotuning does better. */
		.socket_buffer = e->sess.utp ? PEERNET_UTP_BUFFER : 0,
		/* On loopback every peer shares one address. */
		.multi_conn_per_ip = peernet_listen_is_loopback(e->listen),
	};
	if (lts_apply_network(e->lts, &n, &err) < 0)
		log_error("cannot apply the peer side's settings: %s",
			  err ? err : "?");
	free(err);
}

/* The EV_SESSION of what runs now: the session keys and the peer side. */
static struct engine_event *steer_session_event(struct engine *e,
						uint64_t seq)
{
	struct engine_event *ev = engine_event_new(EV_SESSION, seq);
	ev->session.has = TP_SES_ALL;
	tp_session_merge(&ev->session, &e->sess);
	ev->session.has = TP_SES_ALL;
	ev->net.listen = steer_strdup(e->listen);
	ev->net.download_dir = steer_strdup(e->download_dir);
	ev->net.dht_bootstrap = steer_strdup(e->dht_bootstrap);
	ev->net.upnp = e->upnp;
	ev->net.tcp = e->tcp;
	ev->net.several_per_address = peernet_listen_is_loopback(e->listen);
	ev->net.listen_port = e->port_now;
	return ev;
}

void engine_steer_announce(struct engine *e)
{
	engine_emit(e, steer_session_event(e, 0));
}

static void steer_schedule(struct engine *e)
{
	const char *why = NULL;
	if (tp_schedule_parse(e->sess.alt_schedule, &e->sched, &why) < 0) {
		/* Checked on the way in; a damaged saved file lands here. */
		log_warn("alt-speed schedule \"%s\" ignored: %s",
			 e->sess.alt_schedule, why);
		memset(&e->sched, 0, sizeof e->sched);
	}
}

void engine_steer_open(struct engine *e)
{
	char *err = NULL;
	char *text = store_load_file(e->store, STEER_SESSION_FILE, &err);
	if (err) {
		log_warn("%s", err);
		free(err);
	}
	if (text) {
		json_object *o = json_tokener_parse(text);
		struct tp_session saved;
		char *why = NULL;
		if (o && json_object_is_type(o, json_type_object) &&
		    tp_session_parse(o, &saved, &why) == 0) {
			tp_session_merge(&e->sess, &saved);
			e->sess_saved = saved.has;
			tp_session_free(&saved);
		} else {
			log_warn("%s/%s ignored: %s", e->state_dir,
				 STEER_SESSION_FILE, why ? why : "not JSON");
		}
		free(why);
		json_object_put(o);
		free(text);
	}
	steer_schedule(e);
	e->alt_on = steer_alt_wanted(e);
	steer_apply(e);
	engine_steer_announce(e);
}

void engine_steer_tick(struct engine *e)
{
	bool want = steer_alt_wanted(e);
	if (want != e->alt_on) {
		e->alt_on = want;
		log_info("alt-speed limits %s", want ? "on" : "off");
		steer_apply(e);
	}
	/* A seeding torrent nobody talks to is not in libtorrent's change
	 * list, so its seeding time is looked at here. */
	size_t pos = 0;
	int64_t key;
	void *val;
	while (idmap_next(&e->metas, &pos, &key, &val)) {
		struct store_meta *m = val;
		int64_t lim = m->seed_time_limit >= 0 ? m->seed_time_limit
						      : e->sess.seed_time_limit;
		if (m->paused || lim < 0 || !m->complete)
			continue;
		struct lts_status st;
		if (lts_status_get(e->lts, m->id, &st, NULL) < 0)
			continue;
		engine_steer_rules(e, &st);
		lts_status_free(&st);
	}
}

/* Only the keys session_set changed are saved: the others keep following
 * the options and config file. */
static void steer_save_session(struct engine *e)
{
	json_object *all = json_object_new_object();
	json_object *o = json_object_new_object();
	tp_session_to_json(&e->sess, all);
	json_object_object_foreach(all, key, val)
		if (tp_session_key_bit(key) & e->sess_saved)
			json_object_object_add(o, key, json_object_get(val));
	json_object_put(all);
	size_t len;
	const char *text = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN, &len);
	char *err = NULL;
	if (store_save_file(e->store, STEER_SESSION_FILE, text, len, &err) < 0)
		log_error("the daemon's settings are not saved: %s",
			  err ? err : "?");
	free(err);
	json_object_put(o);
}

/* A string setting of a reload: taken (and logged) when it differs. */
static void steer_take(char **run, char **fresh, const char *name)
{
	bool same = (*run == NULL) == (*fresh == NULL) &&
		    (*run == NULL || strcmp(*run, *fresh) == 0);
	if (same)
		return;
	log_info("SIGHUP: %s now %s", name, *fresh ? *fresh : "(default)");
	free(*run);
	*run = *fresh;
	*fresh = NULL;
}

static void steer_take_bool(bool *run, bool fresh, const char *name)
{
	if (*run == fresh)
		return;
	log_info("SIGHUP: %s now %s", name, fresh ? "on" : "off");
	*run = fresh;
}

/* SIGHUP: the reloaded options, applied as session_set's are, but not
 * saved; a key session_set changed keeps its value, as at start
 * (STATE/session.json wins over the options), and the log says so. */
static void steer_reload(struct engine *e, struct engine_cmd *c)
{
	json_object *before = json_object_new_object();
	json_object *file = json_object_new_object();
	tp_session_to_json(&e->sess, before);
	tp_session_to_json(&c->session, file);
	json_object_object_foreach(file, key, val) {
		unsigned bit = tp_session_key_bit(key);
		json_object *run = json_object_object_get(before, key);
		if ((bit & c->session.has & e->sess_saved) &&
		    !json_object_equal(run, val))
			log_warn("SIGHUP: %s stays %s: session_set changed it "
				 "(%s/%s wins over the options)", key,
				 json_object_to_json_string(run), e->state_dir,
				 STEER_SESSION_FILE);
	}
	c->session.has &= ~e->sess_saved;
	tp_session_merge(&e->sess, &c->session);
	json_object *after = json_object_new_object();
	tp_session_to_json(&e->sess, after);
	json_object_object_foreach(after, key2, val2) {
		if (!json_object_equal(json_object_object_get(before, key2),
				       val2))
			log_info("SIGHUP: %s now %s", key2,
				 json_object_to_json_string(val2));
	}
	json_object_put(before);
	json_object_put(file);
	json_object_put(after);
	steer_take(&e->listen, &c->net.listen, "listen");
	steer_take(&e->download_dir, &c->net.download_dir, "download-dir");
	steer_take(&e->dht_bootstrap, &c->net.dht_bootstrap, "dht-bootstrap");
	steer_take_bool(&e->upnp, c->net.upnp, "upnp");
	steer_take_bool(&e->tcp, c->net.tcp, "tcp");
	steer_schedule(e);
	e->alt_on = steer_alt_wanted(e);
	steer_apply(e);
}

void engine_steer_session(struct engine *e, struct engine_cmd *c)
{
	if (c->reload) {
		steer_reload(e, c);
	} else if (c->session.has) {
		tp_session_merge(&e->sess, &c->session);
		e->sess_saved |= c->session.has;
		steer_save_session(e);
		steer_schedule(e);
		e->alt_on = steer_alt_wanted(e);
		steer_apply(e);
		log_info("daemon settings changed");
	}
	engine_emit(e, steer_session_event(e, c->seq));
}

static void steer_labels(struct store_meta *m, char **labels, size_t n)
{
	for (size_t i = 0; i < m->n_labels; i++)
		free(m->labels[i]);
	free(m->labels);
	m->labels = calloc(n + 1, sizeof *m->labels);
	m->n_labels = 0;
	for (size_t i = 0; m->labels && i < n; i++)
		m->labels[m->n_labels++] = strdup(labels[i]);
}

void engine_steer_new_meta(struct engine *e, struct store_meta *m,
			   const struct tp_tset *t)
{
	m->download_limit = t->download_limit;
	m->upload_limit = t->upload_limit;
	m->sequential = t->sequential;
	if (t->has & TP_TSET_LABELS)
		steer_labels(m, t->labels, t->n_labels);
	/* libtorrent appends a new torrent to the queue: so do we. */
	m->queue_pos = e->queue_tail++;
}

/* After a queue move every torrent may have a new place: saved so a
 * restart adds them back in this order. */
static void steer_save_queue(struct engine *e)
{
	size_t pos = 0;
	int64_t key;
	void *val;
	while (idmap_next(&e->metas, &pos, &key, &val)) {
		struct store_meta *m = val;
		int q = lts_queue_position(e->lts, m->id);
		if (q < 0 || q == m->queue_pos)
			continue;
		m->queue_pos = q;
		if (q >= e->queue_tail)
			e->queue_tail = q + 1;
		engine_save_meta(e, m);
	}
}

static void steer_fail(struct engine *e, struct engine_cmd *c, char *err,
		       bool bad_request)
{
	struct engine_event *ev = engine_event_new(EV_FAILED, c->seq);
	ev->cmd = c->type;
	ev->id = c->id;
	ev->reason = err ? err : strdup("the torrent could not be changed");
	ev->bad_request = bad_request;
	engine_emit(e, ev);
}

void engine_steer_set(struct engine *e, struct engine_cmd *c)
{
	struct tp_tset *t = &c->tset;
	struct store_meta *m = idmap_get(&e->metas, c->id);
	char *err = NULL;
	if (!m) {
		steer_fail(e, c, strdup("no such torrent"), false);
		return;
	}
	/* The one change that can fail on the torrent's content goes first,
	 * so a refusal leaves everything as it was. */
	if ((t->has & TP_TSET_FILE_PRIORITIES) &&
	    lts_set_file_priorities(e->lts, c->id, t->file_priorities,
				    t->n_file_priorities, &err) < 0) {
		steer_fail(e, c, err, true);
		return;
	}
	if (t->has & (TP_TSET_DOWNLOAD_LIMIT | TP_TSET_UPLOAD_LIMIT)) {
		if (t->has & TP_TSET_DOWNLOAD_LIMIT)
			m->download_limit = t->download_limit;
		if (t->has & TP_TSET_UPLOAD_LIMIT)
			m->upload_limit = t->upload_limit;
		lts_set_limits(e->lts, c->id, (int)m->download_limit,
			       (int)m->upload_limit, NULL);
	}
	if (t->has & TP_TSET_SEQUENTIAL) {
		m->sequential = t->sequential;
		lts_set_sequential(e->lts, c->id, t->sequential, NULL);
	}
	if (t->has & TP_TSET_LABELS)
		steer_labels(m, t->labels, t->n_labels);
	if (t->has & TP_TSET_RATIO_LIMIT)
		m->ratio_limit = t->ratio_limit;
	if (t->has & TP_TSET_SEED_TIME_LIMIT)
		m->seed_time_limit = t->seed_time_limit;
	if (t->has & (TP_TSET_TRACKERS_ADD | TP_TSET_TRACKERS_REMOVE))
		lts_edit_trackers(e->lts, c->id,
				  (const char *const *)t->trackers_add,
				  t->n_trackers_add,
				  (const char *const *)t->trackers_remove,
				  t->n_trackers_remove, NULL);
	engine_save_meta(e, m);
	if (t->has & TP_TSET_QUEUE_POSITION) {
		lts_queue_move(e->lts, c->id, (int)t->queue_move,
			       (int)t->queue_position, NULL);
		steer_save_queue(e);
	}
	/* File priorities and trackers live in libtorrent's resume data. */
	if (t->has & (TP_TSET_FILE_PRIORITIES | TP_TSET_TRACKERS_ADD |
		      TP_TSET_TRACKERS_REMOVE | TP_TSET_SEQUENTIAL))
		engine_request_resume(e, c->id);
	struct engine_event *ev = engine_event_new(EV_DONE, c->seq);
	ev->cmd = c->type;
	ev->id = c->id;
	engine_emit(e, ev);
	engine_push_status(e, c->id, false);
}

static double steer_ratio_limit(struct engine *e, const struct store_meta *m)
{
	return m->ratio_limit >= 0 ? m->ratio_limit : e->sess.ratio_limit;
}

static int64_t steer_seed_limit(struct engine *e, const struct store_meta *m)
{
	return m->seed_time_limit >= 0 ? m->seed_time_limit
				       : e->sess.seed_time_limit;
}

void engine_steer_status(struct engine *e, struct tp_status *dst,
			 const struct lts_status *src)
{
	struct store_meta *m = idmap_get(&e->metas, src->id);
	dst->queue_position = src->queue_position;
	dst->queued = src->queued;
	dst->sequential = src->sequential;
	dst->uploaded_bytes = src->uploaded;
	dst->downloaded_bytes = src->downloaded;
	dst->ratio = src->size > 0 ? (double)src->uploaded / (double)src->size
				   : 0;
	dst->seeding_time = src->seeding_time;
	int64_t left = src->total_bytes - src->done_bytes;
	dst->eta = left <= 0 ? 0 : src->down_rate > 0 ? left / src->down_rate
						      : -1;
	dst->ratio_limit = -1;
	dst->seed_time_limit = -1;
	if (!m)
		return;
	dst->download_limit = m->download_limit;
	dst->upload_limit = m->upload_limit;
	dst->ratio_limit = m->ratio_limit;
	dst->seed_time_limit = m->seed_time_limit;
	dst->stop_reason = !m->stop_reason ? NULL
			   : strcmp(m->stop_reason, "ratio") == 0 ? "ratio"
								  : "seed_time";
	if (m->n_labels) {
		dst->labels = calloc(m->n_labels, sizeof *dst->labels);
		for (size_t i = 0; dst->labels && i < m->n_labels; i++)
			dst->labels[dst->n_labels++] = steer_strdup(m->labels[i]);
	}
}

bool engine_steer_rules(struct engine *e, const struct lts_status *st)
{
	struct store_meta *m = idmap_get(&e->metas, st->id);
	if (!m || m->paused || st->paused || !st->state ||
	    (strcmp(st->state, "seeding") && strcmp(st->state, "finished")))
		return false;
	const char *why = NULL;
	double rl = steer_ratio_limit(e, m);
	int64_t sl = steer_seed_limit(e, m);
	if (rl >= 0 && rl != m->ratio_waived && st->size > 0 &&
	    (double)st->uploaded >= rl * (double)st->size)
		why = "ratio";
	else if (sl >= 0 && sl != m->seed_time_waived && st->seeding_time >= sl)
		why = "seed_time";
	if (!why)
		return false;
	char *err = NULL;
	if (lts_pause(e->lts, st->id, &err) < 0) {
		log_warn("torrent %lld reached its %s limit but cannot be "
			 "paused: %s", (long long)st->id, why, err ? err : "?");
		free(err);
		return false;
	}
	m->paused = true;
	free(m->stop_reason);
	m->stop_reason = strdup(why);
	engine_save_meta(e, m);
	engine_request_resume(e, st->id);
	log_info("torrent %lld paused: it reached its %s limit",
		 (long long)st->id, why);
	engine_push_status(e, st->id, false);
	return true;
}

void engine_steer_resumed(struct engine *e, struct store_meta *m)
{
	if (!m->stop_reason)
		return;
	if (strcmp(m->stop_reason, "ratio") == 0)
		m->ratio_waived = steer_ratio_limit(e, m);
	else
		m->seed_time_waived = steer_seed_limit(e, m);
	free(m->stop_reason);
	m->stop_reason = NULL;
}

void engine_steer_free(struct engine *e)
{
	tp_session_free(&e->sess);
}
