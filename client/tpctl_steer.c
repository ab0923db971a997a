/*
 * tpctl_steer.c - tpctl's steering commands: set, limit, queue and
 * session, and the steering options of add.  Each sends one request and
 * prints its answer (human text, or the event line with --json).
 * Single-threaded.
 */
#include "tpctl.h"

#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "rate.h"

static json_object *tpctl_labels_json(const struct tpctl_args *a)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < a->n_labels; i++)
		json_object_array_add(arr, json_object_new_string(a->labels[i]));
	return arr;
}

void tpctl_steer_add_fields(const struct tpctl_args *a, json_object *req)
{
	if (a->n_labels)
		json_object_object_add(req, "labels", tpctl_labels_json(a));
	if (a->sequential == 1)
		json_object_object_add(req, "sequential",
				       json_object_new_boolean(1));
	if (a->down >= 0)
		json_object_object_add(req, "download_limit",
				       json_object_new_int64(a->down));
	if (a->up >= 0)
		json_object_object_add(req, "upload_limit",
				       json_object_new_int64(a->up));
}

/* Sends a set for a->id with the fields already in req. */
static int tpctl_send_set(const struct tpctl_args *a, json_object *req,
			  const char *what)
{
	int rc;
	json_object_object_add(req, "id", json_object_new_int64(a->id));
	json_object *ans = tpctl_query(a, req, "Set", &rc);
	json_object_put(req);
	if (ans && !a->json)
		printf("%s torrent %lld\n", what, (long long)a->id);
	json_object_put(ans);
	return rc;
}

int tpctl_cmd_set(const struct tpctl_args *a)
{
	json_object *req = tp_request_new(TP_OP_SET, -1);

	if (a->n_labels && a->no_labels) {
		json_object_put(req);
		fprintf(stderr, "tpctl: set: --label and --no-labels exclude "
			"each other\n");
		return TPCTL_EXIT_USAGE;
	}
	if (a->n_labels || a->no_labels)
		json_object_object_add(req, "labels", tpctl_labels_json(a));
	if (a->sequential >= 0)
		json_object_object_add(req, "sequential",
				       json_object_new_boolean(a->sequential));
	if (a->down >= 0)
		json_object_object_add(req, "download_limit",
				       json_object_new_int64(a->down));
	if (a->up >= 0)
		json_object_object_add(req, "upload_limit",
				       json_object_new_int64(a->up));
	if (a->ratio)
		json_object_object_add(req, "ratio_limit",
				       strcmp(a->ratio, "default") == 0
					       ? NULL
					       : json_object_new_double(
							 strtod(a->ratio, NULL)));
	if (a->seed_time) {
		int64_t v = -1;
		if (strcmp(a->seed_time, "default") != 0)
			tp_duration_parse(a->seed_time, &v);
		json_object_object_add(req, "seed_time_limit",
				       v < 0 ? NULL : json_object_new_int64(v));
	}
	if (json_object_object_length(req) == 1) {
		json_object_put(req);
		fprintf(stderr, "tpctl: set: nothing to change (see tpctl set "
			"--help)\n");
		return TPCTL_EXIT_USAGE;
	}
	return tpctl_send_set(a, req, "Changed");
}

int tpctl_cmd_queue(const struct tpctl_args *a)
{
	json_object *req = tp_request_new(TP_OP_SET, -1);
	json_object_object_add(req, "queue_position",
			       json_object_new_string(a->queue_move));
	return tpctl_send_set(a, req, "Moved");
}

static void tpctl_print_limits(int64_t down, int64_t up)
{
	char d[32], u[32];
	tp_rate_format(d, sizeof d, down);
	tp_rate_format(u, sizeof u, up);
	printf("download limit: %s\nupload limit: %s\n", d, u);
}

/* limit ID: the torrent's own limits; limit: the daemon's. */
int tpctl_cmd_limit(const struct tpctl_args *a)
{
	json_object *req, *ans;
	int rc;
	bool change = a->down >= 0 || a->up >= 0;

	if (a->has_id && change) {
		req = tp_request_new(TP_OP_SET, -1);
		tpctl_steer_add_fields(&(struct tpctl_args){.down = a->down,
							    .up = a->up,
							    .sequential = -1},
				       req);
		return tpctl_send_set(a, req, "Limited");
	}
	if (a->has_id) {
		req = tp_request_new(TP_OP_STATUS, -1);
		json_object_object_add(req, "id", json_object_new_int64(a->id));
		ans = tpctl_query(a, req, "Status", &rc);
	} else {
		req = tp_request_new(change ? TP_OP_SESSION_SET
					    : TP_OP_SESSION_GET, -1);
		if (a->down >= 0)
			json_object_object_add(req, "download_limit",
					       json_object_new_int64(a->down));
		if (a->up >= 0)
			json_object_object_add(req, "upload_limit",
					       json_object_new_int64(a->up));
		ans = tpctl_query(a, req, "Session", &rc);
	}
	json_object_put(req);
	if (ans && !a->json)
		tpctl_print_limits(tpctl_ev_int(ans, "download_limit"),
				   tpctl_ev_int(ans, "upload_limit"));
	json_object_put(ans);
	return rc;
}

/* How a session key's VALUE is typed on the command line. */
enum tpctl_kv_type { KV_RATE, KV_BOOL, KV_COUNT, KV_RATIO, KV_DURATION,
		     KV_TEXT };

static const struct {
	const char *key;
	enum tpctl_kv_type type;
} tpctl_kv_keys[] = {
	{"download_limit", KV_RATE}, {"upload_limit", KV_RATE},
	{"alt_download_limit", KV_RATE}, {"alt_upload_limit", KV_RATE},
	{"alt_speed", KV_BOOL}, {"alt_schedule", KV_TEXT},
	{"max_active_downloads", KV_COUNT}, {"max_active_seeds", KV_COUNT},
	{"ratio_limit", KV_RATIO}, {"seed_time_limit", KV_DURATION},
	{"encryption", KV_TEXT}, {"dht", KV_BOOL}, {"pex", KV_BOOL},
	{"lsd", KV_BOOL}, {"utp", KV_BOOL},
};

/* VALUE as JSON (*out may be NULL for "none"); -1 when it does not fit. */
static int tpctl_kv_value(enum tpctl_kv_type type, const char *v,
			  json_object **out)
{
	int64_t n;
	char *end = NULL;

	*out = NULL;
	switch (type) {
	case KV_RATE:
		if (tp_rate_parse(v, &n) < 0)
			return -1;
		*out = json_object_new_int64(n);
		return 0;
	case KV_BOOL:
		if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
			*out = json_object_new_boolean(1);
		else if (!strcmp(v, "off") || !strcmp(v, "false") ||
			 !strcmp(v, "0"))
			*out = json_object_new_boolean(0);
		else
			return -1;
		return 0;
	case KV_COUNT:
		n = strtoll(v, &end, 10);
		if (!*v || *end || n < 1)
			return -1;
		*out = json_object_new_int64(n);
		return 0;
	case KV_RATIO:
		if (!strcmp(v, "none"))
			return 0;
		if (!*v || strspn(v, "0123456789.") != strlen(v) ||
		    (strtod(v, &end), *end))
			return -1;
		*out = json_object_new_double(strtod(v, NULL));
		return 0;
	case KV_DURATION:
		if (!strcmp(v, "none"))
			return 0;
		if (tp_duration_parse(v, &n) < 0)
			return -1;
		*out = json_object_new_int64(n);
		return 0;
	default:
		if (strcmp(v, "none") != 0)
			*out = json_object_new_string(v);
		return 0;
	}
}

json_object *tpctl_session_request(const char *const *kv, size_t n)
{
	json_object *req = tp_request_new(TP_OP_SESSION_SET, -1);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		size_t klen = (size_t)(eq - kv[i]), k;
		for (k = 0; k < sizeof tpctl_kv_keys / sizeof tpctl_kv_keys[0];
		     k++)
			if (strlen(tpctl_kv_keys[k].key) == klen &&
			    !strncmp(tpctl_kv_keys[k].key, kv[i], klen))
				break;
		json_object *v = NULL;
		if (k == sizeof tpctl_kv_keys / sizeof tpctl_kv_keys[0]) {
			fprintf(stderr, "tpctl: session: unknown setting '%.*s' "
				"(see tpctl session --help)\n", (int)klen, kv[i]);
			json_object_put(req);
			return NULL;
		}
		if (tpctl_kv_value(tpctl_kv_keys[k].type, eq + 1, &v) < 0) {
			fprintf(stderr, "tpctl: session: bad value for %s: "
				"'%s'\n", tpctl_kv_keys[k].key, eq + 1);
			json_object_put(req);
			return NULL;
		}
		json_object_object_add(req, tpctl_kv_keys[k].key, v);
	}
	return req;
}

int tpctl_cmd_session(const struct tpctl_args *a)
{
	json_object *req, *ans;
	int rc;

	if (a->n_kv) {
		req = tpctl_session_request(a->kv, a->n_kv);
		if (!req)
			return TPCTL_EXIT_USAGE;
	} else {
		req = tp_request_new(TP_OP_SESSION_GET, -1);
	}
	ans = tpctl_query(a, req, "Session", &rc);
	json_object_put(req);
	if (ans && !a->json) {
		json_object_object_foreach(ans, key, val) {
			if (!strcmp(key, "type") || !strcmp(key, "tag"))
				continue;
			printf("%s: %s\n", key,
			       !val ? "none"
			       : json_object_is_type(val, json_type_string)
				       ? json_object_get_string(val)
				       : json_object_to_json_string(val));
		}
	}
	json_object_put(ans);
	return rc;
}

/* The answer comes once the data is in its new place. */
int tpctl_cmd_move(const struct tpctl_args *a)
{
	int rc;
	char *dir = tpctl_abspath(a->dir);
	if (!dir)
		return TPCTL_EXIT_FAIL;
	json_object *req = tp_request_new(TP_OP_MOVE, -1);
	json_object_object_add(req, "id", json_object_new_int64(a->id));
	json_object_object_add(req, "save_dir", json_object_new_string(dir));
	free(dir);
	json_object *ans = tpctl_query(a, req, "Moved", &rc);
	json_object_put(req);
	if (ans && !a->json) {
		const char *to = tpctl_ev_str(ans, "save_path");
		printf("Moved torrent %lld to %s\n", (long long)a->id,
		       to ? to : "?");
	}
	json_object_put(ans);
	return rc;
}
