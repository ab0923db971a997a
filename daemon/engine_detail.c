/*
 * engine_detail.c - what a patron asks about one torrent, beyond its
 * status: its files, its peers and its trackers (each answered with a JSON
 * array, EV_DETAIL), and a recheck of its data.
 *
 * Engine thread only.  The shim's calls here block until libtorrent's
 * network thread answers; they are made only when a patron asks.
 */
#include "engine_int.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static json_object *detail_files(struct engine *e, int64_t id, char **err)
{
	struct lts_file_info *v;
	size_t n;
	if (lts_file_info(e->lts, id, &v, &n, err) < 0)
		return NULL;
	json_object *arr = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "index", json_object_new_int64((int64_t)i));
		json_object_object_add(o, "path",
				       json_object_new_string(v[i].path ? v[i].path
									: ""));
		json_object_object_add(o, "size", json_object_new_int64(v[i].size));
		json_object_object_add(o, "done_bytes",
				       json_object_new_int64(v[i].done));
		json_object_object_add(o, "priority",
				       json_object_new_int(v[i].priority));
		json_object_array_add(arr, o);
	}
	lts_file_info_free(v, n);
	return arr;
}

static json_object *detail_peers(struct engine *e, int64_t id, char **err)
{
	struct lts_peer_info *v;
	size_t n;
	if (lts_peer_info(e->lts, id, &v, &n, err) < 0)
		return NULL;
	json_object *arr = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "address",
				       json_object_new_string(v[i].address));
		/* Peer ids come from the network: json-c escapes what it
		 * must, and invalid UTF-8 is left to the client's parser. */
		json_object_object_add(o, "client",
				       json_object_new_string(v[i].client ? v[i].client
									  : ""));
		json_object_object_add(o, "down_rate",
				       json_object_new_int64(v[i].down_rate));
		json_object_object_add(o, "up_rate",
				       json_object_new_int64(v[i].up_rate));
		json_object_object_add(o, "progress",
				       json_object_new_double(v[i].progress));
		json_object_object_add(o, "encrypted",
				       json_object_new_boolean(v[i].encrypted));
		json_object_object_add(o, "utp", json_object_new_boolean(v[i].utp));
		json_object_array_add(arr, o);
	}
	lts_peer_info_free(v, n);
	return arr;
}

static json_object *detail_count(int v)
{
	return v < 0 ? NULL : json_object_new_int(v);
}

static json_object *detail_trackers(struct engine *e, int64_t id, char **err)
{
	struct lts_tracker_info *v;
	size_t n;
	if (lts_tracker_info(e->lts, id, &v, &n, err) < 0)
		return NULL;
	json_object *arr = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "url",
				       json_object_new_string(v[i].url ? v[i].url
									: ""));
		json_object_object_add(o, "tier", json_object_new_int(v[i].tier));
		json_object_object_add(o, "status",
				       json_object_new_string(v[i].status));
		json_object_object_add(o, "message",
				       json_object_new_string(v[i].message
								      ? v[i].message
								      : ""));
		json_object_object_add(o, "seeders", detail_count(v[i].seeders));
		json_object_object_add(o, "leechers", detail_count(v[i].leechers));
		json_object_array_add(arr, o);
	}
	lts_tracker_info_free(v, n);
	return arr;
}

void engine_detail(struct engine *e, struct engine_cmd *c)
{
	char *err = NULL;
	json_object *detail = NULL;
	int rc = 0;
	switch (c->type) {
	case ENG_FILES:
		detail = detail_files(e, c->id, &err);
		break;
	case ENG_PEERS:
		detail = detail_peers(e, c->id, &err);
		break;
	case ENG_TRACKERS:
		detail = detail_trackers(e, c->id, &err);
		break;
	case ENG_MOVE:
		/* The answer here only says the move began; the service
		 * answers Moved when EV_MOVED comes. */
		rc = lts_move(e->lts, c->id, c->save_dir, &err);
		if (rc == 0)
			log_info("torrent %lld: moving its data to %s",
				 (long long)c->id, c->save_dir);
		break;
	default:
		rc = lts_force_recheck(e->lts, c->id, &err);
		if (rc == 0)
			log_info("torrent %lld: re-checking its data",
				 (long long)c->id);
		break;
	}
	bool done_only = c->type == ENG_RECHECK || c->type == ENG_MOVE;
	bool ok = done_only ? rc == 0 : detail != NULL;
	struct engine_event *ev = engine_event_new(
		!ok ? EV_FAILED : done_only ? EV_DONE : EV_DETAIL, c->seq);
	ev->cmd = c->type;
	ev->id = c->id;
	ev->detail = detail;
	ev->reason = ok ? NULL : err ? err : strdup("libtorrent failed");
	if (ok)
		free(err);
	engine_emit(e, ev);
}

/* The data is in its new place: a restart must look for it there. */
void engine_detail_moved(void *ctx, int64_t id, const char *save_path)
{
	struct engine *e = ctx;
	struct store_meta *m = idmap_get(&e->metas, id);
	if (m) {
		char *p = strdup(save_path);
		if (p) {
			free(m->save_path);
			m->save_path = p;
			engine_save_meta(e, m);
		}
		engine_request_resume(e, id);
	}
	log_info("torrent %lld moved to %s", (long long)id, save_path);
	struct engine_event *ev = engine_event_new(EV_MOVED, 0);
	ev->id = id;
	ev->save_path = strdup(save_path);
	engine_emit(e, ev);
	engine_push_status(e, id, false);
}

void engine_detail_move_failed(void *ctx, int64_t id, const char *reason)
{
	struct engine *e = ctx;
	log_warn("torrent %lld not moved: %s", (long long)id, reason);
	struct engine_event *ev = engine_event_new(EV_MOVED, 0);
	ev->id = id;
	ev->reason = strdup(reason);
	engine_emit(e, ev);
}
