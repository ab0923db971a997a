/*
 * trpc.c - Transmission's RPC over tpd (see trpc.h).  Owns the method table,
 * the torrent-get field table and the translation of ids, limits and
 * states.  Runs on the HTTP connection thread of the request; everything it
 * holds lives for that one request.
 *
 * Units: Transmission's speed limits are kB/s (1000 bytes, as session-get's
 * "units" says); tpd's are bytes/s.  Transmission's seedIdleLimit is in
 * minutes; tpd's seed_time_limit in seconds.
 */
#include "trpc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "patron.h"
#include "proto.h"

#define TRPC_KB 1000
/* Most ids one request may name, and most files one torrent-set may
 * reprioritise: beyond them a request is refused rather than walked. */
#define TRPC_IDS_MAX 100000
#define TRPC_FILES_MAX 200000

struct trpc {
	struct patron p;
	json_object *list_ans; /* tpd's List answer, fetched once */
	char *why;             /* the result string of a failure */
};

/* One torrent of a torrent-get: its status, and what other ops said of it
 * (fetched only when a field needs them). */
struct trpc_tor {
	json_object *st;
	json_object *files_ans, *peers_ans, *trackers_ans;
	bool files_tried, peers_tried, trackers_tried;
};

__attribute__((format(printf, 2, 3)))
static int trpc_fail(struct trpc *x, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(x->why);
	x->why = s;
	return -1;
}

/* Calls tpd; a failure becomes the request's result string. */
static json_object *trpc_call(struct trpc *x, json_object *req,
			      const char *want)
{
	char *why = NULL;
	json_object *ans = patron_call(&x->p, req, want, &why);

	json_object_put(req);
	if (!ans) {
		free(x->why);
		x->why = why ? why : strdup("out of memory");
	}
	return ans;
}

/* The caller's torrents (tpd's `list`), or NULL with x->why. */
static json_object *trpc_list(struct trpc *x)
{
	json_object *t;

	if (!x->list_ans) {
		x->list_ans = trpc_call(x, patron_req("list"), "List");
		if (!x->list_ans)
			return NULL;
	}
	t = pj_get(x->list_ans, "torrents");
	if (!t || !json_object_is_type(t, json_type_array)) {
		trpc_fail(x, "tpd's list has no torrents array");
		return NULL;
	}
	return t;
}

static bool trpc_not_found(struct trpc *x)
{
	return strcmp(x->p.last_code, "not_found") == 0;
}

/* --- ids ------------------------------------------------------------- */

struct trpc_ids {
	int64_t *v;
	size_t n;
};

static int trpc_ids_add(struct trpc *x, struct trpc_ids *ids, int64_t id)
{
	int64_t *nv;

	if (ids->n >= TRPC_IDS_MAX)
		return trpc_fail(x, "more than %d ids in one request",
				 TRPC_IDS_MAX);
	nv = realloc(ids->v, (ids->n + 1) * sizeof *nv);
	if (!nv)
		return trpc_fail(x, "out of memory");
	ids->v = nv;
	ids->v[ids->n++] = id;
	return 0;
}

/* The id of the torrent with info-hash `hash` (any case), or -1. */
static int64_t trpc_id_of_hash(json_object *list, const char *hash)
{
	size_t n = json_object_array_length(list);

	for (size_t i = 0; i < n; i++) {
		json_object *st = json_object_array_get_idx(list, i);
		const char *h = pj_str(st, "info_hash");

		if (h && strcasecmp(h, hash) == 0)
			return pj_int(st, "id", -1);
	}
	return -1;
}

/* One entry of "ids": a number, or a hash string (unknown hashes name
 * nothing, as in Transmission). */
static int trpc_ids_one(struct trpc *x, struct trpc_ids *ids, json_object *v)
{
	json_object *list;
	int64_t id;

	if (json_object_is_type(v, json_type_int))
		return trpc_ids_add(x, ids, json_object_get_int64(v));
	if (!json_object_is_type(v, json_type_string))
		return trpc_fail(x, "each of \"ids\" must be a number or a "
				 "hash string");
	list = trpc_list(x);
	if (!list)
		return -1;
	id = trpc_id_of_hash(list, json_object_get_string(v));
	return id < 0 ? 0 : trpc_ids_add(x, ids, id);
}

/* Reads "ids": absent or "recently-active" is every torrent; a number; a
 * hash; an array of numbers and hashes.  all is set for "every torrent". */
static int trpc_ids(struct trpc *x, json_object *args, struct trpc_ids *ids,
		    bool *all)
{
	json_object *v = pj_get(args, "ids");
	size_t n;

	*all = false;
	if (!v || (json_object_is_type(v, json_type_string) &&
		   strcmp(json_object_get_string(v), "recently-active") == 0)) {
		json_object *list = trpc_list(x);

		if (!list)
			return -1;
		*all = true;
		n = json_object_array_length(list);
		for (size_t i = 0; i < n; i++)
			if (trpc_ids_add(x, ids, pj_int(json_object_array_get_idx(
							     list, i), "id", -1)) < 0)
				return -1;
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return trpc_ids_one(x, ids, v);
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++)
		if (trpc_ids_one(x, ids, json_object_array_get_idx(v, i)) < 0)
			return -1;
	return 0;
}

/* --- tpd's extra per-torrent answers, fetched on demand ---------------- */

/* Calls OP {id} once per torrent; NULL when tpd cannot say (an older tpd
 * answers unknown_op: the fields that need it are left out). */
static json_object *trpc_extra(struct trpc *x, struct trpc_tor *t,
			       const char *op, const char *want,
			       const char *key, json_object **ans, bool *tried)
{
	json_object *req, *v;

	if (!*tried) {
		char *why = NULL;

		*tried = true;
		req = patron_req(op);
		json_object_object_add(req, "id", json_object_new_int64(
							  pj_int(t->st, "id", -1)));
		*ans = patron_call(&x->p, req, want, &why);
		json_object_put(req);
		free(why);
	}
	v = pj_get(*ans, key);
	return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

static json_object *trpc_files(struct trpc *x, struct trpc_tor *t)
{
	return trpc_extra(x, t, "files", "Files", "files", &t->files_ans,
			  &t->files_tried);
}

static json_object *trpc_peers(struct trpc *x, struct trpc_tor *t)
{
	return trpc_extra(x, t, "peers", "Peers", "peers", &t->peers_ans,
			  &t->peers_tried);
}

static json_object *trpc_trackers(struct trpc *x, struct trpc_tor *t)
{
	return trpc_extra(x, t, "trackers", "Trackers", "trackers",
			  &t->trackers_ans, &t->trackers_tried);
}

/* --- torrent-get fields ---------------------------------------------- */

/* Transmission's status numbers (tr_torrent_activity). */
enum {
	TRPC_STOPPED = 0,
	TRPC_CHECK_WAIT = 1,
	TRPC_CHECK = 2,
	TRPC_DOWNLOAD_WAIT = 3,
	TRPC_DOWNLOAD = 4,
	TRPC_SEED_WAIT = 5,
	TRPC_SEED = 6,
};

static int trpc_status_num(json_object *st)
{
	const char *s = pj_str(st, "state");
	bool queued = pj_bool(st, "queued", 0);

	if (pj_bool(st, "paused", 0) || !s || strcmp(s, "error") == 0)
		return TRPC_STOPPED;
	if (strncmp(s, "checking", 8) == 0)
		return queued ? TRPC_CHECK_WAIT : TRPC_CHECK;
	if (strcmp(s, "finished") == 0 || strcmp(s, "seeding") == 0)
		return queued ? TRPC_SEED_WAIT : TRPC_SEED;
	return queued ? TRPC_DOWNLOAD_WAIT : TRPC_DOWNLOAD;
}

/* Transmission's file priority (-1 low, 0 normal, 1 high) of tpd's 0..7. */
static int trpc_prio_of(int64_t p)
{
	return p == 0 ? 0 : p < 4 ? -1 : p > 4 ? 1 : 0;
}

/* A copy of status field `key`, or NULL (left out) when tpd has none. */
static json_object *trpc_copy(json_object *st, const char *key)
{
	json_object *v = pj_get(st, key), *out = NULL;

	if (!v)
		return NULL;
	if (json_object_deep_copy(v, &out, NULL) < 0)
		return NULL;
	return out;
}

#define TRPC_GETTER(name) \
	static json_object *name(struct trpc *x, struct trpc_tor *t)
#define TRPC_UNUSED (void)x

TRPC_GETTER(tg_id) { TRPC_UNUSED; return trpc_copy(t->st, "id"); }
TRPC_GETTER(tg_hash) { TRPC_UNUSED; return trpc_copy(t->st, "info_hash"); }
TRPC_GETTER(tg_name) { TRPC_UNUSED; return trpc_copy(t->st, "name"); }
TRPC_GETTER(tg_dir) { TRPC_UNUSED; return trpc_copy(t->st, "save_path"); }
TRPC_GETTER(tg_down) { TRPC_UNUSED; return trpc_copy(t->st, "down_rate"); }
TRPC_GETTER(tg_up) { TRPC_UNUSED; return trpc_copy(t->st, "up_rate"); }
TRPC_GETTER(tg_labels_raw) { TRPC_UNUSED; return trpc_copy(t->st, "labels"); }
TRPC_GETTER(tg_up_ever) { TRPC_UNUSED; return trpc_copy(t->st, "uploaded_bytes"); }
TRPC_GETTER(tg_down_ever) { TRPC_UNUSED; return trpc_copy(t->st, "downloaded_bytes"); }
TRPC_GETTER(tg_seeding) { TRPC_UNUSED; return trpc_copy(t->st, "seeding_time"); }
TRPC_GETTER(tg_queue) { TRPC_UNUSED; return trpc_copy(t->st, "queue_position"); }
TRPC_GETTER(tg_seq) { TRPC_UNUSED; return trpc_copy(t->st, "sequential"); }
TRPC_GETTER(tg_peers_conn) { TRPC_UNUSED; return trpc_copy(t->st, "peers"); }

TRPC_GETTER(tg_status)
{
	TRPC_UNUSED;
	return json_object_new_int(trpc_status_num(t->st));
}

TRPC_GETTER(tg_percent)
{
	TRPC_UNUSED;
	return json_object_new_double(pj_num(t->st, "progress", 0));
}

TRPC_GETTER(tg_size)
{
	TRPC_UNUSED;
	return json_object_new_int64(pj_int(t->st, "total_bytes", 0));
}

TRPC_GETTER(tg_have)
{
	TRPC_UNUSED;
	return json_object_new_int64(pj_int(t->st, "done_bytes", 0));
}

TRPC_GETTER(tg_zero)
{
	TRPC_UNUSED;
	(void)t;
	return json_object_new_int(0);
}

TRPC_GETTER(tg_left)
{
	int64_t left = pj_int(t->st, "total_bytes", 0) -
		       pj_int(t->st, "done_bytes", 0);

	TRPC_UNUSED;
	return json_object_new_int64(left < 0 ? 0 : left);
}

/* Transmission: -1 "not available"; tpd null or absent is the same. */
TRPC_GETTER(tg_eta)
{
	TRPC_UNUSED;
	return json_object_new_int64(pj_int(t->st, "eta", -1));
}

TRPC_GETTER(tg_ratio)
{
	TRPC_UNUSED;
	return json_object_new_double(pj_num(t->st, "ratio", -1));
}

/* Transmission's isFinished: stopped because a seeding limit was met. */
TRPC_GETTER(tg_finished)
{
	TRPC_UNUSED;
	return json_object_new_boolean(pj_str(t->st, "stop_reason") != NULL);
}

TRPC_GETTER(tg_false)
{
	TRPC_UNUSED;
	(void)t;
	return json_object_new_boolean(0);
}

/* 3 is Transmission's "local error"; tpd's errors are the torrent's own. */
TRPC_GETTER(tg_error)
{
	TRPC_UNUSED;
	return json_object_new_int(pj_str(t->st, "error") ? 3 : 0);
}

TRPC_GETTER(tg_error_string)
{
	const char *e = pj_str(t->st, "error");

	TRPC_UNUSED;
	return json_object_new_string(e ? e : "");
}

/* Transmission always has labels; a tpd without them has none. */
TRPC_GETTER(tg_labels)
{
	json_object *v = tg_labels_raw(x, t);

	return v ? v : json_object_new_array();
}

TRPC_GETTER(tg_metadata)
{
	const char *s = pj_str(t->st, "state");

	TRPC_UNUSED;
	return json_object_new_double(
		s && strcmp(s, "downloading_metadata") == 0 ? 0.0 : 1.0);
}

TRPC_GETTER(tg_recheck)
{
	const char *s = pj_str(t->st, "state");

	TRPC_UNUSED;
	return json_object_new_double(s && strncmp(s, "checking", 8) == 0
					      ? pj_num(t->st, "progress", 0)
					      : 0.0);
}

/* Peers sending to us / getting from us: tpd counts peers, not their
 * direction, so a torrent moving data counts its peers on that side. */
TRPC_GETTER(tg_peers_to_us)
{
	TRPC_UNUSED;
	return json_object_new_int64(pj_int(t->st, "down_rate", 0) > 0
					     ? pj_int(t->st, "peers", 0)
					     : 0);
}

TRPC_GETTER(tg_peers_from_us)
{
	TRPC_UNUSED;
	return json_object_new_int64(pj_int(t->st, "up_rate", 0) > 0
					     ? pj_int(t->st, "peers", 0)
					     : 0);
}

static json_object *trpc_kb_limit(json_object *st, const char *key)
{
	json_object *v = pj_get(st, key);

	return v ? json_object_new_int64(json_object_get_int64(v) / TRPC_KB)
		 : NULL;
}

static json_object *trpc_limited(json_object *st, const char *key)
{
	json_object *v = pj_get(st, key);

	return v ? json_object_new_boolean(json_object_get_int64(v) > 0)
		 : NULL;
}

TRPC_GETTER(tg_dl_limit) { TRPC_UNUSED; return trpc_kb_limit(t->st, "download_limit"); }
TRPC_GETTER(tg_ul_limit) { TRPC_UNUSED; return trpc_kb_limit(t->st, "upload_limit"); }
TRPC_GETTER(tg_dl_limited) { TRPC_UNUSED; return trpc_limited(t->st, "download_limit"); }
TRPC_GETTER(tg_ul_limited) { TRPC_UNUSED; return trpc_limited(t->st, "upload_limit"); }

/* A status without ratio_limit (an older tpd) leaves these out; null is
 * "the daemon's default", Transmission's mode 0. */
TRPC_GETTER(tg_ratio_limit)
{
	json_object *v = pj_get(t->st, "ratio_limit");

	TRPC_UNUSED;
	if (!json_object_object_get_ex(t->st, "ratio_limit", NULL))
		return NULL;
	return json_object_new_double(v ? json_object_get_double(v) : 0);
}

TRPC_GETTER(tg_ratio_mode)
{
	TRPC_UNUSED;
	if (!json_object_object_get_ex(t->st, "ratio_limit", NULL))
		return NULL;
	return json_object_new_int(pj_get(t->st, "ratio_limit") ? 1 : 0);
}

TRPC_GETTER(tg_idle_limit)
{
	TRPC_UNUSED;
	if (!json_object_object_get_ex(t->st, "seed_time_limit", NULL))
		return NULL;
	return json_object_new_int64(pj_int(t->st, "seed_time_limit", 0) / 60);
}

TRPC_GETTER(tg_idle_mode)
{
	TRPC_UNUSED;
	if (!json_object_object_get_ex(t->st, "seed_time_limit", NULL))
		return NULL;
	return json_object_new_int(pj_get(t->st, "seed_time_limit") ? 1 : 0);
}

TRPC_GETTER(tg_magnet)
{
	const char *h = pj_str(t->st, "info_hash");
	const char *n = pj_str(t->st, "name");
	json_object *out;
	char *s = NULL, *enc;
	size_t len;

	TRPC_UNUSED;
	if (!h || strlen(h) != 40)
		return NULL;
	n = n ? n : "";
	len = strlen(n);
	enc = malloc(len * 3 + 1);
	if (!enc)
		return NULL;
	for (size_t i = 0, o = 0; i <= len; i++) {
		unsigned char c = (unsigned char)n[i];

		if (c == '\0' || isalnum(c) || strchr("-._~", c)) {
			enc[o++] = (char)c;
		} else {
			snprintf(enc + o, 4, "%%%02X", c);
			o += 3;
		}
	}
	if (asprintf(&s, "magnet:?xt=urn:btih:%s&dn=%s", h, enc) < 0)
		s = NULL;
	free(enc);
	out = s ? json_object_new_string(s) : NULL;
	free(s);
	return out;
}

TRPC_GETTER(tg_files)
{
	json_object *f = trpc_files(x, t), *out;
	size_t n;

	if (!f)
		return NULL;
	out = json_object_new_array();
	n = json_object_array_length(f);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(f, i);
		json_object *o = json_object_new_object();
		const char *p = pj_str(e, "path");

		json_object_object_add(o, "name",
				       json_object_new_string(p ? p : ""));
		json_object_object_add(o, "length", json_object_new_int64(
							    pj_int(e, "size", 0)));
		json_object_object_add(o, "bytesCompleted",
				       json_object_new_int64(
					       pj_int(e, "done_bytes", 0)));
		json_object_array_add(out, o);
	}
	return out;
}

TRPC_GETTER(tg_file_stats)
{
	json_object *f = trpc_files(x, t), *out;
	size_t n;

	if (!f)
		return NULL;
	out = json_object_new_array();
	n = json_object_array_length(f);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(f, i);
		json_object *o = json_object_new_object();
		int64_t p = pj_int(e, "priority", 4);

		json_object_object_add(o, "bytesCompleted",
				       json_object_new_int64(
					       pj_int(e, "done_bytes", 0)));
		json_object_object_add(o, "wanted",
				       json_object_new_boolean(p != 0));
		json_object_object_add(o, "priority",
				       json_object_new_int(trpc_prio_of(p)));
		json_object_array_add(out, o);
	}
	return out;
}

/* "priorities" or "wanted": one number per file. */
static json_object *trpc_file_column(struct trpc *x, struct trpc_tor *t,
				     bool wanted)
{
	json_object *f = trpc_files(x, t), *out;
	size_t n;

	if (!f)
		return NULL;
	out = json_object_new_array();
	n = json_object_array_length(f);
	for (size_t i = 0; i < n; i++) {
		int64_t p = pj_int(json_object_array_get_idx(f, i), "priority",
				   4);

		json_object_array_add(out, json_object_new_int(
						   wanted ? p != 0 : trpc_prio_of(p)));
	}
	return out;
}

TRPC_GETTER(tg_priorities) { return trpc_file_column(x, t, false); }
TRPC_GETTER(tg_wanted) { return trpc_file_column(x, t, true); }

TRPC_GETTER(tg_file_count)
{
	json_object *f = trpc_files(x, t);

	return f ? json_object_new_int64((int64_t)json_object_array_length(f))
		 : NULL;
}

/* "IP:PORT" or "[IPv6]:PORT" into the address and the port. */
static void trpc_split_addr(const char *a, char *host, size_t cap, int *port)
{
	const char *colon = strrchr(a, ':');
	size_t len;

	*port = colon ? atoi(colon + 1) : 0;
	len = colon ? (size_t)(colon - a) : strlen(a);
	if (len >= 2 && a[0] == '[' && a[len - 1] == ']') {
		a++;
		len -= 2;
	}
	if (len >= cap)
		len = cap - 1;
	memcpy(host, a, len);
	host[len] = '\0';
}

TRPC_GETTER(tg_peers)
{
	json_object *pl = trpc_peers(x, t), *out;
	size_t n;

	if (!pl)
		return NULL;
	out = json_object_new_array();
	n = json_object_array_length(pl);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(pl, i);
		json_object *o = json_object_new_object();
		const char *a = pj_str(e, "address"), *c = pj_str(e, "client");
		char host[64];
		int port;

		trpc_split_addr(a ? a : "", host, sizeof host, &port);
		json_object_object_add(o, "address",
				       json_object_new_string(host));
		json_object_object_add(o, "port", json_object_new_int(port));
		json_object_object_add(o, "clientName",
				       json_object_new_string(c ? c : ""));
		json_object_object_add(o, "rateToClient", json_object_new_int64(
							       pj_int(e, "down_rate", 0)));
		json_object_object_add(o, "rateToPeer", json_object_new_int64(
							     pj_int(e, "up_rate", 0)));
		json_object_object_add(o, "progress", json_object_new_double(
							   pj_num(e, "progress", 0)));
		json_object_object_add(o, "isEncrypted",
				       json_object_new_boolean(
					       pj_bool(e, "encrypted", 0)));
		json_object_object_add(o, "isUTP", json_object_new_boolean(
							   pj_bool(e, "utp", 0)));
		json_object_object_add(o, "flagStr", json_object_new_string(""));
		json_object_array_add(out, o);
	}
	return out;
}

/* "trackers" (stats false) or "trackerStats" (true). */
static json_object *trpc_tracker_rows(struct trpc *x, struct trpc_tor *t,
				      bool stats)
{
	json_object *tl = trpc_trackers(x, t), *out;
	size_t n;

	if (!tl)
		return NULL;
	out = json_object_new_array();
	n = json_object_array_length(tl);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(tl, i);
		json_object *o = json_object_new_object();
		const char *u = pj_str(e, "url"), *m = pj_str(e, "message");
		const char *st = pj_str(e, "status");

		json_object_object_add(o, "id", json_object_new_int64((int64_t)i));
		json_object_object_add(o, "announce",
				       json_object_new_string(u ? u : ""));
		json_object_object_add(o, "tier", json_object_new_int64(
							  pj_int(e, "tier", 0)));
		if (!stats) {
			json_object_object_add(o, "scrape",
					       json_object_new_string(""));
		} else {
			json_object_object_add(o, "host",
					       json_object_new_string(u ? u : ""));
			json_object_object_add(o, "seederCount",
					       json_object_new_int64(pj_int(
						       e, "seeders", -1)));
			json_object_object_add(o, "leecherCount",
					       json_object_new_int64(pj_int(
						       e, "leechers", -1)));
			json_object_object_add(o, "lastAnnounceResult",
					       json_object_new_string(m ? m : ""));
			json_object_object_add(o, "lastAnnounceSucceeded",
					       json_object_new_boolean(
						       !m || !*m));
			json_object_object_add(o, "announceState",
					       json_object_new_string(st ? st : ""));
		}
		json_object_array_add(out, o);
	}
	return out;
}

TRPC_GETTER(tg_trackers) { return trpc_tracker_rows(x, t, false); }
TRPC_GETTER(tg_tracker_stats) { return trpc_tracker_rows(x, t, true); }

static const struct trpc_field {
	const char *name;
	json_object *(*get)(struct trpc *x, struct trpc_tor *t);
} trpc_fields[] = {
	{ "id", tg_id },
	{ "hashString", tg_hash },
	{ "name", tg_name },
	{ "status", tg_status },
	{ "percentDone", tg_percent },
	{ "percentComplete", tg_percent },
	{ "totalSize", tg_size },
	{ "sizeWhenDone", tg_size },
	{ "leftUntilDone", tg_left },
	{ "haveValid", tg_have },
	{ "haveUnchecked", tg_zero },
	{ "corruptEver", tg_zero },
	{ "rateDownload", tg_down },
	{ "rateUpload", tg_up },
	{ "eta", tg_eta },
	{ "uploadRatio", tg_ratio },
	{ "uploadedEver", tg_up_ever },
	{ "downloadedEver", tg_down_ever },
	{ "downloadDir", tg_dir },
	{ "isFinished", tg_finished },
	{ "isStalled", tg_false },
	{ "isPrivate", tg_false },
	{ "error", tg_error },
	{ "errorString", tg_error_string },
	{ "labels", tg_labels },
	{ "secondsSeeding", tg_seeding },
	{ "seedRatioLimit", tg_ratio_limit },
	{ "seedRatioMode", tg_ratio_mode },
	{ "seedIdleLimit", tg_idle_limit },
	{ "seedIdleMode", tg_idle_mode },
	{ "queuePosition", tg_queue },
	{ "sequentialDownload", tg_seq },
	{ "downloadLimit", tg_dl_limit },
	{ "downloadLimited", tg_dl_limited },
	{ "uploadLimit", tg_ul_limit },
	{ "uploadLimited", tg_ul_limited },
	{ "peersConnected", tg_peers_conn },
	{ "peersSendingToUs", tg_peers_to_us },
	{ "peersGettingFromUs", tg_peers_from_us },
	{ "webseedsSendingToUs", tg_zero },
	{ "magnetLink", tg_magnet },
	{ "metadataPercentComplete", tg_metadata },
	{ "recheckProgress", tg_recheck },
	{ "files", tg_files },
	{ "fileStats", tg_file_stats },
	{ "priorities", tg_priorities },
	{ "wanted", tg_wanted },
	{ "fileCount", tg_file_count },
	{ "file-count", tg_file_count },
	{ "peers", tg_peers },
	{ "trackers", tg_trackers },
	{ "trackerStats", tg_tracker_stats },
};
#define TRPC_N_FIELDS (sizeof trpc_fields / sizeof trpc_fields[0])

static const struct trpc_field *trpc_field_find(const char *name)
{
	for (size_t i = 0; i < TRPC_N_FIELDS; i++)
		if (strcmp(trpc_fields[i].name, name) == 0)
			return &trpc_fields[i];
	return NULL;
}

static bool trpc_ids_has(const struct trpc_ids *ids, int64_t id)
{
	for (size_t i = 0; i < ids->n; i++)
		if (ids->v[i] == id)
			return true;
	return false;
}

/* One torrent's row: an object, or (table format) an array in the order of
 * `fields`, with null where an object would leave the field out. */
static json_object *trpc_row(struct trpc *x, json_object *st,
			     json_object *fields, bool table)
{
	struct trpc_tor t = { .st = st };
	json_object *row = table ? json_object_new_array()
				 : json_object_new_object();
	size_t n = json_object_array_length(fields);

	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(fields, i);
		const struct trpc_field *fd;
		json_object *v = NULL;

		if (!json_object_is_type(f, json_type_string))
			continue;
		fd = trpc_field_find(json_object_get_string(f));
		if (fd)
			v = fd->get(x, &t);
		if (table)
			json_object_array_add(row, v);
		else if (v)
			json_object_object_add(row, json_object_get_string(f), v);
	}
	json_object_put(t.files_ans);
	json_object_put(t.peers_ans);
	json_object_put(t.trackers_ans);
	return row;
}

static int trpc_torrent_get(struct trpc *x, json_object *args,
			    json_object *out)
{
	json_object *fields = pj_get(args, "fields"), *list, *torrents;
	const char *format = pj_str(args, "format");
	bool table = format && strcmp(format, "table") == 0;
	struct trpc_ids ids = { 0 };
	bool all;
	size_t n;

	if (!fields || !json_object_is_type(fields, json_type_array))
		return trpc_fail(x, "no fields specified");
	if (trpc_ids(x, args, &ids, &all) < 0 || !(list = trpc_list(x))) {
		free(ids.v);
		return -1;
	}
	torrents = json_object_new_array();
	if (table)
		json_object_array_add(torrents, json_object_get(fields));
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		json_object *st = json_object_array_get_idx(list, i);

		if (all || trpc_ids_has(&ids, pj_int(st, "id", -1)))
			json_object_array_add(torrents,
					      trpc_row(x, st, fields, table));
	}
	free(ids.v);
	json_object_object_add(out, "torrents", torrents);
	if (pj_str(args, "ids"))
		json_object_object_add(out, "removed", json_object_new_array());
	return 0;
}

/* --- torrent-add ------------------------------------------------------- */

static bool trpc_prefix(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

/* Transmission's metainfo may carry line breaks; tpd's base64 may not. */
static char *trpc_strip_space(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			*o++ = *s;
	*o = '\0';
	return out;
}

/* Copies "labels" (an array of strings) into a tpd request. */
static int trpc_copy_labels(struct trpc *x, json_object *args,
			    json_object *req)
{
	json_object *l = pj_get(args, "labels"), *copy = NULL;
	size_t n;

	if (!l)
		return 0;
	if (!json_object_is_type(l, json_type_array))
		return trpc_fail(x, "\"labels\" must be an array of strings");
	n = json_object_array_length(l);
	for (size_t i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(l, i),
					 json_type_string))
			return trpc_fail(x, "\"labels\" must be an array of "
					 "strings");
	if (json_object_deep_copy(l, &copy, NULL) < 0)
		return trpc_fail(x, "out of memory");
	json_object_object_add(req, "labels", copy);
	return 0;
}

/* The source of a torrent-add: metainfo, or filename as magnet, URL or
 * path. */
static int trpc_add_source(struct trpc *x, json_object *args,
			   json_object *req)
{
	const char *meta = pj_str(args, "metainfo");
	const char *fn = pj_str(args, "filename");

	if (meta) {
		char *b64 = trpc_strip_space(meta);

		if (!b64)
			return trpc_fail(x, "out of memory");
		json_object_object_add(req, "torrent",
				       json_object_new_string(b64));
		free(b64);
		return 0;
	}
	if (!fn)
		return trpc_fail(x, "no filename or metainfo specified");
	if (trpc_prefix(fn, "magnet:"))
		json_object_object_add(req, "magnet", json_object_new_string(fn));
	else if (trpc_prefix(fn, "http://") || trpc_prefix(fn, "https://"))
		json_object_object_add(req, "url", json_object_new_string(fn));
	else if (fn[0] == '/')
		json_object_object_add(req, "path", json_object_new_string(fn));
	else
		return trpc_fail(x, "filename must be a magnet link, an http(s) "
				 "URL or an absolute path: %s", fn);
	return 0;
}

/* The torrent-added / torrent-duplicate object. */
static json_object *trpc_added(struct trpc *x, json_object *ans)
{
	json_object *o = json_object_new_object();
	int64_t id = pj_int(ans, "id", -1);
	const char *name = pj_str(ans, "name");
	json_object *st = NULL;

	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "hashString",
			       json_object_new_string(pj_str(ans, "info_hash")
							      ? pj_str(ans, "info_hash")
							      : ""));
	if (!name) {
		/* AlreadyDownloading names only the id: ask for the name. */
		json_object *req = patron_req("status");

		json_object_object_add(req, "id", json_object_new_int64(id));
		st = trpc_call(x, req, "Status");
		name = pj_str(st, "name");
	}
	json_object_object_add(o, "name",
			       json_object_new_string(name ? name : ""));
	json_object_put(st);
	return o;
}

static int trpc_torrent_add(struct trpc *x, json_object *args,
			    json_object *out)
{
	json_object *req = patron_req("create"), *ans, *v;
	const char *dir = pj_str(args, "download-dir");
	const char *type;

	if (trpc_add_source(x, args, req) < 0 ||
	    trpc_copy_labels(x, args, req) < 0) {
		json_object_put(req);
		return -1;
	}
	if (dir && *dir) {
		if (dir[0] != '/') {
			json_object_put(req);
			return trpc_fail(x, "download-dir must be an absolute "
					 "path: %s", dir);
		}
		json_object_object_add(req, "save_dir",
				       json_object_new_string(dir));
	}
	v = pj_get(args, "paused");
	if (v)
		json_object_object_add(req, "paused",
				       json_object_new_boolean(
					       json_object_get_boolean(v)));
	ans = trpc_call(x, req, "NewTorrentCreated|AlreadyDownloading");
	if (!ans)
		return -1;
	type = pj_str(ans, "type");
	json_object_object_add(out, strcmp(type, "AlreadyDownloading") == 0
					    ? "torrent-duplicate"
					    : "torrent-added",
			       trpc_added(x, ans));
	json_object_put(ans);
	return 0;
}

/* --- actions on ids ----------------------------------------------------- */

/* Sends op {id, ...extra} for every id; a torrent that is gone is skipped
 * as Transmission skips it. */
static int trpc_each(struct trpc *x, json_object *args, const char *op,
		     const char *want, json_object *extra)
{
	struct trpc_ids ids = { 0 };
	bool all;
	int rc = 0;

	if (trpc_ids(x, args, &ids, &all) < 0) {
		free(ids.v);
		return -1;
	}
	for (size_t i = 0; i < ids.n && rc == 0; i++) {
		json_object *req = patron_req(op), *ans;

		json_object_object_add(req, "id",
				       json_object_new_int64(ids.v[i]));
		if (extra) {
			json_object_object_foreach(extra, k, v)
				json_object_object_add(req, k,
						       json_object_get(v));
		}
		ans = trpc_call(x, req, want);
		if (!ans && !trpc_not_found(x))
			rc = -1;
		json_object_put(ans);
	}
	free(ids.v);
	return rc;
}

static int trpc_torrent_start(struct trpc *x, json_object *args,
			      json_object *out)
{
	(void)out;
	return trpc_each(x, args, "resume", "Resumed", NULL);
}

static int trpc_torrent_stop(struct trpc *x, json_object *args,
			     json_object *out)
{
	(void)out;
	return trpc_each(x, args, "pause", "Paused", NULL);
}

static int trpc_torrent_verify(struct trpc *x, json_object *args,
			       json_object *out)
{
	(void)out;
	return trpc_each(x, args, "recheck", "Rechecking", NULL);
}

static int trpc_torrent_reannounce(struct trpc *x, json_object *args,
				   json_object *out)
{
	(void)out;
	return trpc_each(x, args, "reannounce", "Reannounced", NULL);
}

static int trpc_torrent_remove(struct trpc *x, json_object *args,
			       json_object *out)
{
	json_object *extra = json_object_new_object();
	int rc;

	(void)out;
	json_object_object_add(extra, "delete_files",
			       json_object_new_boolean(
				       pj_bool(args, "delete-local-data", 0)));
	rc = trpc_each(x, args, "close", "Closed", extra);
	json_object_put(extra);
	return rc;
}

static int trpc_queue_move(struct trpc *x, json_object *args,
			   const char *where)
{
	json_object *extra = json_object_new_object();
	int rc;

	json_object_object_add(extra, "queue_position",
			       json_object_new_string(where));
	rc = trpc_each(x, args, "set", "Set", extra);
	json_object_put(extra);
	return rc;
}

static int trpc_queue_top(struct trpc *x, json_object *a, json_object *o)
{
	(void)o;
	return trpc_queue_move(x, a, "top");
}

static int trpc_queue_up(struct trpc *x, json_object *a, json_object *o)
{
	(void)o;
	return trpc_queue_move(x, a, "up");
}

static int trpc_queue_down(struct trpc *x, json_object *a, json_object *o)
{
	(void)o;
	return trpc_queue_move(x, a, "down");
}

static int trpc_queue_bottom(struct trpc *x, json_object *a, json_object *o)
{
	(void)o;
	return trpc_queue_move(x, a, "bottom");
}

static int trpc_set_location(struct trpc *x, json_object *args,
			     json_object *out)
{
	const char *loc = pj_str(args, "location");
	json_object *extra;
	int rc;

	(void)out;
	if (!loc || loc[0] != '/')
		return trpc_fail(x, "location must be an absolute path");
	/* tpd always moves the data; "move": false (look for the data
	 * there) has no counterpart, and moving is the safe reading. */
	extra = json_object_new_object();
	json_object_object_add(extra, "save_dir", json_object_new_string(loc));
	rc = trpc_each(x, args, "move", "Moved", extra);
	json_object_put(extra);
	return rc;
}

/* --- torrent-set -------------------------------------------------------- */

/* kB/s limit + enabled flag into tpd's bytes/s (0 = unlimited). */
static void trpc_set_limit(json_object *args, const char *lim,
			   const char *limited, json_object *req,
			   const char *key)
{
	json_object *on = pj_get(args, limited), *v = pj_get(args, lim);

	if (on && !json_object_get_boolean(on))
		json_object_object_add(req, key, json_object_new_int64(0));
	else if (v)
		json_object_object_add(req, key, json_object_new_int64(
						     json_object_get_int64(v) *
						     TRPC_KB));
}

/* seedRatioLimit/seedRatioMode and seedIdleLimit/seedIdleMode. */
static int trpc_set_seeding(struct trpc *x, json_object *args,
			    json_object *req)
{
	json_object *rl = pj_get(args, "seedRatioLimit");
	json_object *il = pj_get(args, "seedIdleLimit");
	int64_t rmode = pj_int(args, "seedRatioMode", rl ? 1 : -1);
	int64_t imode = pj_int(args, "seedIdleMode", il ? 1 : -1);

	if (rmode == 2 || imode == 2)
		return trpc_fail(x, "tpd has no per-torrent \"unlimited\" "
				 "seeding; use mode 0 (the daemon's limit) "
				 "or 1 with a limit");
	if (rmode == 0)
		json_object_object_add(req, "ratio_limit", NULL);
	else if (rmode == 1 && rl)
		json_object_object_add(req, "ratio_limit",
				       json_object_new_double(
					       json_object_get_double(rl)));
	if (imode == 0)
		json_object_object_add(req, "seed_time_limit", NULL);
	else if (imode == 1 && il)
		json_object_object_add(req, "seed_time_limit",
				       json_object_new_int64(
					       json_object_get_int64(il) * 60));
	return 0;
}

/* Applies files-wanted / -unwanted / priority-* to tpd's priorities
 * (0 skip, 1 low, 4 normal, 7 high).  An empty array means every file, as
 * in Transmission. */
static void trpc_prio_apply(json_object *args, const char *key, int *prio,
			    size_t n, int what)
{
	json_object *l = pj_get(args, key);
	size_t m;

	if (!l || !json_object_is_type(l, json_type_array))
		return;
	m = json_object_array_length(l);
	for (size_t i = 0; i < (m ? m : n); i++) {
		int64_t idx = m ? json_object_get_int64(
					  json_object_array_get_idx(l, i))
				: (int64_t)i;

		if (idx < 0 || (size_t)idx >= n)
			continue;
		if (what == -1)           /* wanted: unskip at normal */
			prio[idx] = prio[idx] ? prio[idx] : 4;
		else if (what == 0)       /* unwanted */
			prio[idx] = 0;
		else if (prio[idx] != 0)  /* a priority keeps skipped skipped */
			prio[idx] = what;
	}
}

static bool trpc_has_file_keys(json_object *args)
{
	return pj_get(args, "files-wanted") || pj_get(args, "files-unwanted") ||
	       pj_get(args, "priority-high") || pj_get(args, "priority-low") ||
	       pj_get(args, "priority-normal");
}

/* Adds file_priorities for torrent `id` (tpd's current ones changed). */
static int trpc_set_files(struct trpc *x, json_object *args, int64_t id,
			  json_object *req)
{
	json_object *q = patron_req("files"), *ans, *files, *arr;
	size_t n;
	int *prio;

	json_object_object_add(q, "id", json_object_new_int64(id));
	ans = trpc_call(x, q, "Files");
	if (!ans)
		return -1;
	files = pj_get(ans, "files");
	n = files && json_object_is_type(files, json_type_array)
		    ? json_object_array_length(files)
		    : 0;
	if (n > TRPC_FILES_MAX || !(prio = calloc(n ? n : 1, sizeof *prio))) {
		json_object_put(ans);
		return trpc_fail(x, "cannot hold the priorities of %zu files", n);
	}
	for (size_t i = 0; i < n; i++)
		prio[i] = (int)pj_int(json_object_array_get_idx(files, i),
				      "priority", 4);
	json_object_put(ans);
	trpc_prio_apply(args, "files-wanted", prio, n, -1);
	trpc_prio_apply(args, "files-unwanted", prio, n, 0);
	trpc_prio_apply(args, "priority-low", prio, n, 1);
	trpc_prio_apply(args, "priority-normal", prio, n, 4);
	trpc_prio_apply(args, "priority-high", prio, n, 7);
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_int(prio[i]));
	free(prio);
	json_object_object_add(req, "file_priorities", arr);
	return 0;
}

/* trackerAdd (URLs), trackerRemove (Transmission's tracker ids, which are
 * indexes into tpd's tracker list) and trackerList (the whole list, one
 * URL a line) into trackers_add / trackers_remove. */
static int trpc_set_trackers(struct trpc *x, json_object *args, int64_t id,
			     json_object *req)
{
	json_object *add = pj_get(args, "trackerAdd");
	json_object *rem = pj_get(args, "trackerRemove");
	const char *list = pj_str(args, "trackerList");
	json_object *q, *ans, *cur, *radd, *rrem;
	size_t n;

	if (!add && !rem && !list)
		return 0;
	/* json-c asserts on array calls with other types: check first. */
	if ((add && !json_object_is_type(add, json_type_array)) ||
	    (rem && !json_object_is_type(rem, json_type_array)))
		return trpc_fail(x, "\"trackerAdd\" and \"trackerRemove\" "
				 "must be arrays");
	q = patron_req("trackers");
	json_object_object_add(q, "id", json_object_new_int64(id));
	ans = trpc_call(x, q, "Trackers");
	if (!ans)
		return -1;
	cur = pj_get(ans, "trackers");
	n = cur && json_object_is_type(cur, json_type_array)
		    ? json_object_array_length(cur)
		    : 0;
	radd = json_object_new_array();
	rrem = json_object_new_array();
	for (size_t i = 0; add && i < json_object_array_length(add); i++)
		json_object_array_add(radd, json_object_get(
						    json_object_array_get_idx(add, i)));
	for (size_t i = 0; rem && i < json_object_array_length(rem); i++) {
		int64_t k = json_object_get_int64(json_object_array_get_idx(rem, i));

		if (k >= 0 && (size_t)k < n)
			json_object_array_add(rrem, json_object_new_string(pj_str(
				json_object_array_get_idx(cur, (size_t)k), "url")));
	}
	if (list) {
		char *copy = strdup(list), *save = NULL;

		for (size_t i = 0; i < n; i++) {
			const char *u = pj_str(json_object_array_get_idx(cur, i),
					       "url");

			if (u && !strstr(list, u))
				json_object_array_add(rrem,
						      json_object_new_string(u));
		}
		for (char *tok = copy ? strtok_r(copy, "\r\n", &save) : NULL;
		     tok; tok = strtok_r(NULL, "\r\n", &save))
			json_object_array_add(radd, json_object_new_string(tok));
		free(copy);
	}
	json_object_put(ans);
	json_object_object_add(req, "trackers_add", radd);
	json_object_object_add(req, "trackers_remove", rrem);
	return 0;
}

/* The `set` request for one id; *empty when nothing tpd knows was asked. */
static json_object *trpc_set_req(struct trpc *x, json_object *args,
				 int64_t id)
{
	json_object *req = patron_req("set"), *v;

	json_object_object_add(req, "id", json_object_new_int64(id));
	trpc_set_limit(args, "downloadLimit", "downloadLimited", req,
		       "download_limit");
	trpc_set_limit(args, "uploadLimit", "uploadLimited", req,
		       "upload_limit");
	if ((v = pj_get(args, "sequentialDownload")))
		json_object_object_add(req, "sequential",
				       json_object_new_boolean(
					       json_object_get_boolean(v)));
	if ((v = pj_get(args, "queuePosition")))
		json_object_object_add(req, "queue_position",
				       json_object_new_int64(
					       json_object_get_int64(v)));
	if (trpc_copy_labels(x, args, req) < 0 ||
	    trpc_set_seeding(x, args, req) < 0 ||
	    (trpc_has_file_keys(args) && trpc_set_files(x, args, id, req) < 0) ||
	    trpc_set_trackers(x, args, id, req) < 0) {
		json_object_put(req);
		return NULL;
	}
	return req;
}

static int trpc_torrent_set(struct trpc *x, json_object *args,
			    json_object *out)
{
	struct trpc_ids ids = { 0 };
	const char *loc = pj_str(args, "location");
	bool all;
	int rc = 0;

	if (trpc_ids(x, args, &ids, &all) < 0) {
		free(ids.v);
		return -1;
	}
	for (size_t i = 0; i < ids.n && rc == 0; i++) {
		json_object *req = trpc_set_req(x, args, ids.v[i]), *ans;

		if (!req) {
			rc = -1;
			break;
		}
		/* Only id and op: nothing tpd steers was asked (Transmission
		 * ignores keys it does not know, so do we). */
		if (json_object_object_length(req) <= 2) {
			json_object_put(req);
			continue;
		}
		ans = trpc_call(x, req, "Set");
		if (!ans && !trpc_not_found(x))
			rc = -1;
		json_object_put(ans);
	}
	free(ids.v);
	if (rc == 0 && loc)
		rc = trpc_set_location(x, args, out);
	return rc;
}

/* --- session ------------------------------------------------------------ */

static json_object *trpc_units(void)
{
	static const char *const speed[] = { "kB/s", "MB/s", "GB/s", "TB/s" };
	static const char *const size[] = { "kB", "MB", "GB", "TB" };
	static const char *const mem[] = { "KiB", "MiB", "GiB", "TiB" };
	json_object *u = json_object_new_object();
	json_object *a = json_object_new_array(), *b = json_object_new_array();
	json_object *c = json_object_new_array();

	for (size_t i = 0; i < 4; i++) {
		json_object_array_add(a, json_object_new_string(speed[i]));
		json_object_array_add(b, json_object_new_string(size[i]));
		json_object_array_add(c, json_object_new_string(mem[i]));
	}
	json_object_object_add(u, "speed-units", a);
	json_object_object_add(u, "speed-bytes", json_object_new_int(TRPC_KB));
	json_object_object_add(u, "size-units", b);
	json_object_object_add(u, "size-bytes", json_object_new_int(TRPC_KB));
	json_object_object_add(u, "memory-units", c);
	json_object_object_add(u, "memory-bytes", json_object_new_int(1024));
	return u;
}

static const char *trpc_enc_name(const char *tpd)
{
	if (!tpd)
		return NULL;
	if (strcmp(tpd, "forced") == 0)
		return "required";
	if (strcmp(tpd, "disabled") == 0)
		return "tolerated";
	return "preferred";
}

static void trpc_add_kb(json_object *out, const char *name, json_object *ses,
			const char *key, const char *enabled)
{
	json_object *v = pj_get(ses, key);

	if (!v)
		return;
	json_object_object_add(out, name, json_object_new_int64(
						  json_object_get_int64(v) / TRPC_KB));
	if (enabled)
		json_object_object_add(out, enabled, json_object_new_boolean(
							     json_object_get_int64(v) > 0));
}

static void trpc_add_copy(json_object *out, const char *name,
			  json_object *ses, const char *key)
{
	json_object *v = trpc_copy(ses, key);

	if (v)
		json_object_object_add(out, name, v);
}

/* The keys that come from tpd's `session_get` (absent from an older tpd). */
static void trpc_session_keys(json_object *out, json_object *ses)
{
	json_object *rl = pj_get(ses, "ratio_limit");
	json_object *stl = pj_get(ses, "seed_time_limit");
	const char *sched = pj_str(ses, "alt_schedule");

	if (!ses)
		return;
	trpc_add_kb(out, "speed-limit-down", ses, "download_limit",
		    "speed-limit-down-enabled");
	trpc_add_kb(out, "speed-limit-up", ses, "upload_limit",
		    "speed-limit-up-enabled");
	trpc_add_kb(out, "alt-speed-down", ses, "alt_download_limit", NULL);
	trpc_add_kb(out, "alt-speed-up", ses, "alt_upload_limit", NULL);
	trpc_add_copy(out, "alt-speed-enabled", ses, "alt_speed");
	json_object_object_add(out, "alt-speed-time-enabled",
			       json_object_new_boolean(sched && *sched));
	trpc_add_copy(out, "download-queue-size", ses, "max_active_downloads");
	trpc_add_copy(out, "seed-queue-size", ses, "max_active_seeds");
	json_object_object_add(out, "download-queue-enabled",
			       json_object_new_boolean(1));
	json_object_object_add(out, "seed-queue-enabled",
			       json_object_new_boolean(1));
	json_object_object_add(out, "seedRatioLimit", json_object_new_double(
							      rl ? json_object_get_double(rl) : 2.0));
	json_object_object_add(out, "seedRatioLimited",
			       json_object_new_boolean(rl != NULL));
	json_object_object_add(out, "idle-seeding-limit", json_object_new_int64(
								  stl ? json_object_get_int64(stl) / 60 : 30));
	json_object_object_add(out, "idle-seeding-limit-enabled",
			       json_object_new_boolean(stl != NULL));
	if (trpc_enc_name(pj_str(ses, "encryption")))
		json_object_object_add(out, "encryption", json_object_new_string(
								  trpc_enc_name(pj_str(ses, "encryption"))));
	trpc_add_copy(out, "dht-enabled", ses, "dht");
	trpc_add_copy(out, "pex-enabled", ses, "pex");
	trpc_add_copy(out, "lpd-enabled", ses, "lsd");
	trpc_add_copy(out, "utp-enabled", ses, "utp");
}

static void trpc_free_space(json_object *out, const char *key,
			    const char *path)
{
	struct statvfs sv;

	if (path && statvfs(path, &sv) == 0)
		json_object_object_add(out, key, json_object_new_int64(
							 (int64_t)sv.f_bavail *
							 (int64_t)sv.f_frsize));
}

/* Copies into out the keys of `all` named in "fields" (RPC 16+), or every
 * key when there is no such list. */
static void trpc_only_fields(json_object *out, json_object *all,
			     json_object *fields)
{
	bool every = !fields || !json_object_is_type(fields, json_type_array);

	json_object_object_foreach(all, k, v)
	{
		bool keep = every;

		for (size_t i = 0; !keep && i < json_object_array_length(fields);
		     i++) {
			const char *f = json_object_get_string(
				json_object_array_get_idx(fields, i));

			keep = f && strcmp(f, k) == 0;
		}
		if (keep)
			json_object_object_add(out, k, json_object_get(v));
	}
}

static int trpc_session_get(struct trpc *x, json_object *args,
			    json_object *result)
{
	json_object *out, *info = trpc_call(x, patron_req("info"), "Info");
	json_object *ses;
	char *why = NULL, *ver = NULL;
	const char *dir;

	if (!info)
		return -1;
	out = json_object_new_object();
	/* An older tpd has no session_get: those keys are left out. */
	{
		json_object *req = patron_req("session_get");

		ses = patron_call(&x->p, req, "Session", &why);
		json_object_put(req);
		free(why);
	}
	dir = pj_str(info, "download_dir");
	if (asprintf(&ver, "4.0.0 (tpd %s)",
		     pj_str(info, "version") ? pj_str(info, "version") : "?") < 0)
		ver = NULL;
	json_object_object_add(out, "version",
			       json_object_new_string(ver ? ver : "4.0.0"));
	free(ver);
	json_object_object_add(out, "rpc-version",
			       json_object_new_int(TRPC_RPC_VERSION));
	json_object_object_add(out, "rpc-version-minimum",
			       json_object_new_int(TRPC_RPC_VERSION_MIN));
	json_object_object_add(out, "rpc-version-semver",
			       json_object_new_string(TRPC_RPC_SEMVER));
	if (dir) {
		json_object_object_add(out, "download-dir",
				       json_object_new_string(dir));
		trpc_free_space(out, "download-dir-free-space", dir);
	}
	trpc_add_copy(out, "peer-port", info, "listen_port");
	json_object_object_add(out, "start-added-torrents",
			       json_object_new_boolean(1));
	json_object_object_add(out, "rename-partial-files",
			       json_object_new_boolean(0));
	json_object_object_add(out, "incomplete-dir-enabled",
			       json_object_new_boolean(0));
	json_object_object_add(out, "units", trpc_units());
	trpc_session_keys(out, ses);
	json_object_put(ses);
	json_object_put(info);
	trpc_only_fields(result, out, pj_get(args, "fields"));
	json_object_put(out);
	return 0;
}

static void trpc_ses_kb(json_object *args, const char *lim,
			const char *enabled, json_object *req, const char *key)
{
	trpc_set_limit(args, lim, enabled, req, key);
}

static int trpc_session_set(struct trpc *x, json_object *args,
			    json_object *out)
{
	json_object *req = patron_req("session_set"), *ans, *v;
	const char *enc = pj_str(args, "encryption");

	(void)out;
	trpc_ses_kb(args, "speed-limit-down", "speed-limit-down-enabled", req,
		    "download_limit");
	trpc_ses_kb(args, "speed-limit-up", "speed-limit-up-enabled", req,
		    "upload_limit");
	if ((v = pj_get(args, "alt-speed-down")))
		json_object_object_add(req, "alt_download_limit",
				       json_object_new_int64(json_object_get_int64(v) * TRPC_KB));
	if ((v = pj_get(args, "alt-speed-up")))
		json_object_object_add(req, "alt_upload_limit",
				       json_object_new_int64(json_object_get_int64(v) * TRPC_KB));
	if ((v = pj_get(args, "alt-speed-enabled")))
		json_object_object_add(req, "alt_speed",
				       json_object_new_boolean(json_object_get_boolean(v)));
	if ((v = pj_get(args, "download-queue-size")))
		json_object_object_add(req, "max_active_downloads",
				       json_object_new_int64(json_object_get_int64(v)));
	if ((v = pj_get(args, "seed-queue-size")))
		json_object_object_add(req, "max_active_seeds",
				       json_object_new_int64(json_object_get_int64(v)));
	if ((v = pj_get(args, "seedRatioLimited")) && !json_object_get_boolean(v))
		json_object_object_add(req, "ratio_limit", NULL);
	else if ((v = pj_get(args, "seedRatioLimit")))
		json_object_object_add(req, "ratio_limit",
				       json_object_new_double(json_object_get_double(v)));
	if ((v = pj_get(args, "idle-seeding-limit-enabled")) &&
	    !json_object_get_boolean(v))
		json_object_object_add(req, "seed_time_limit", NULL);
	else if ((v = pj_get(args, "idle-seeding-limit")))
		json_object_object_add(req, "seed_time_limit",
				       json_object_new_int64(json_object_get_int64(v) * 60));
	if (enc)
		json_object_object_add(req, "encryption", json_object_new_string(
			strcmp(enc, "required") == 0    ? "forced"
			: strcmp(enc, "tolerated") == 0 ? "disabled"
							: "enabled"));
	if ((v = pj_get(args, "dht-enabled")))
		json_object_object_add(req, "dht", json_object_get(v));
	if ((v = pj_get(args, "pex-enabled")))
		json_object_object_add(req, "pex", json_object_get(v));
	if ((v = pj_get(args, "lpd-enabled")))
		json_object_object_add(req, "lsd", json_object_get(v));
	if ((v = pj_get(args, "utp-enabled")))
		json_object_object_add(req, "utp", json_object_get(v));
	if (json_object_object_length(req) <= 1) {
		json_object_put(req);
		return 0; /* nothing tpd steers was asked */
	}
	ans = trpc_call(x, req, "Session");
	json_object_put(ans);
	return ans ? 0 : -1;
}

static json_object *trpc_stats_block(int64_t up, int64_t down, int64_t n)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "uploadedBytes", json_object_new_int64(up));
	json_object_object_add(o, "downloadedBytes", json_object_new_int64(down));
	json_object_object_add(o, "filesAdded", json_object_new_int64(n));
	json_object_object_add(o, "sessionCount", json_object_new_int(1));
	json_object_object_add(o, "secondsActive", json_object_new_int(0));
	return o;
}

static int trpc_session_stats(struct trpc *x, json_object *args,
			      json_object *out)
{
	json_object *list = trpc_list(x);
	int64_t active = 0, paused = 0, down = 0, up = 0, upe = 0, downe = 0;
	size_t n;

	(void)args;
	if (!list)
		return -1;
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		json_object *st = json_object_array_get_idx(list, i);
		int64_t d = pj_int(st, "down_rate", 0), u = pj_int(st, "up_rate", 0);

		down += d;
		up += u;
		upe += pj_int(st, "uploaded_bytes", 0);
		downe += pj_int(st, "downloaded_bytes", 0);
		if (pj_bool(st, "paused", 0))
			paused++;
		else if (d > 0 || u > 0)
			active++;
	}
	json_object_object_add(out, "torrentCount", json_object_new_int64((int64_t)n));
	json_object_object_add(out, "activeTorrentCount", json_object_new_int64(active));
	json_object_object_add(out, "pausedTorrentCount", json_object_new_int64(paused));
	json_object_object_add(out, "downloadSpeed", json_object_new_int64(down));
	json_object_object_add(out, "uploadSpeed", json_object_new_int64(up));
	json_object_object_add(out, "cumulative-stats",
			       trpc_stats_block(upe, downe, (int64_t)n));
	json_object_object_add(out, "current-stats",
			       trpc_stats_block(upe, downe, (int64_t)n));
	return 0;
}

static int trpc_free_space_m(struct trpc *x, json_object *args,
			     json_object *out)
{
	const char *path = pj_str(args, "path");
	struct statvfs sv;

	if (!path || path[0] != '/')
		return trpc_fail(x, "free-space needs an absolute \"path\"");
	/* tpweb's own rights: the user could run df(1) as well. */
	if (statvfs(path, &sv) < 0)
		return trpc_fail(x, "%s: %s", path, strerror(errno));
	json_object_object_add(out, "path", json_object_new_string(path));
	json_object_object_add(out, "size-bytes", json_object_new_int64(
							  (int64_t)sv.f_bavail * (int64_t)sv.f_frsize));
	json_object_object_add(out, "total_size", json_object_new_int64(
							  (int64_t)sv.f_blocks * (int64_t)sv.f_frsize));
	return 0;
}

/* --- the method table --------------------------------------------------- */

static const struct trpc_method {
	const char *name;
	int (*fn)(struct trpc *x, json_object *args, json_object *out);
} trpc_methods[] = {
	{ "session-get", trpc_session_get },
	{ "session-set", trpc_session_set },
	{ "session-stats", trpc_session_stats },
	{ "torrent-get", trpc_torrent_get },
	{ "torrent-add", trpc_torrent_add },
	{ "torrent-remove", trpc_torrent_remove },
	{ "torrent-start", trpc_torrent_start },
	{ "torrent-start-now", trpc_torrent_start },
	{ "torrent-stop", trpc_torrent_stop },
	{ "torrent-verify", trpc_torrent_verify },
	{ "torrent-reannounce", trpc_torrent_reannounce },
	{ "torrent-set", trpc_torrent_set },
	{ "torrent-set-location", trpc_set_location },
	{ "queue-move-top", trpc_queue_top },
	{ "queue-move-up", trpc_queue_up },
	{ "queue-move-down", trpc_queue_down },
	{ "queue-move-bottom", trpc_queue_bottom },
	{ "free-space", trpc_free_space_m },
};
#define TRPC_N_METHODS (sizeof trpc_methods / sizeof trpc_methods[0])

static json_object *trpc_parse(const char *body, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(TRPC_DEPTH_MAX);
	json_object *o = NULL;

	if (!tok || len > TRPC_BODY_MAX) {
		json_tokener_free(tok);
		return NULL;
	}
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

char *trpc_handle(const char *socket, const char *body, size_t len)
{
	struct trpc x = { .p = { .socket = socket } };
	json_object *req = trpc_parse(body, len), *resp, *out, *args;
	const char *method = pj_str(req, "method");
	const struct trpc_method *m = NULL;
	char *text;

	resp = json_object_new_object();
	out = json_object_new_object();
	if (pj_get(req, "tag"))
		json_object_object_add(resp, "tag",
				       json_object_get(pj_get(req, "tag")));
	args = pj_get(req, "arguments");
	if (!req) {
		trpc_fail(&x, "the request is not a JSON object");
	} else if (!method) {
		trpc_fail(&x, "no method name");
	} else if (args && !json_object_is_type(args, json_type_object)) {
		trpc_fail(&x, "\"arguments\" must be an object");
	} else {
		for (size_t i = 0; i < TRPC_N_METHODS; i++)
			if (strcmp(trpc_methods[i].name, method) == 0)
				m = &trpc_methods[i];
		if (!m)
			trpc_fail(&x, "method name not recognized");
		else if (m->fn(&x, args, out) == 0) {
			/* Failures the method chose to pass over (a torrent
			 * already gone) are not the request's result. */
			free(x.why);
			x.why = NULL;
		} else if (!x.why)
			x.why = strdup("failed");
	}
	json_object_object_add(resp, "result",
			       json_object_new_string(x.why ? x.why : "success"));
	json_object_object_add(resp, "arguments", out);
	text = strdup(json_object_to_json_string_ext(
		resp, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(resp);
	json_object_put(req);
	json_object_put(x.list_ans);
	free(x.why);
	patron_close(&x.p);
	return text;
}
