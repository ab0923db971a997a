/*
 * steer.c - checking `set` and `session_set` fields (see steer.h).  Pure.
 *
 * Each field has one entry in a table (its key, its bit, its reader), so
 * a request is checked whole before anything is applied: a `set` with one
 * bad field changes nothing.  Every refusal names the field and says what
 * it should be.
 */
#include "steer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rate.h"
#include "schedule.h"

/* Largest file_priorities array: the most files a torrent may have. */
#define STEER_MAX_FILES 200000

__attribute__((format(printf, 2, 3)))
static int steer_fail(char **why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(why, fmt, ap) < 0)
		*why = NULL;
	va_end(ap);
	if (!*why)
		*why = strdup("out of memory");
	return -1;
}

/* An integer in [lo, hi]; json-c saturates huge numbers, which the bounds
 * (all well inside int64) then refuse. */
static int steer_int(json_object *v, const char *key, int64_t lo, int64_t hi,
		     int64_t *out, char **why)
{
	if (!json_object_is_type(v, json_type_int))
		return steer_fail(why, "field \"%s\" must be an integer", key);
	int64_t x = json_object_get_int64(v);
	if (x < lo || x > hi)
		return steer_fail(why, "field \"%s\" must be from %lld to %lld",
				  key, (long long)lo, (long long)hi);
	*out = x;
	return 0;
}

static int steer_bool(json_object *v, const char *key, bool *out, char **why)
{
	if (!json_object_is_type(v, json_type_boolean))
		return steer_fail(why, "field \"%s\" must be a boolean", key);
	*out = json_object_get_boolean(v);
	return 0;
}

/* A non-negative finite number, or null (-1). */
static int steer_ratio(json_object *v, const char *key, double *out,
		       char **why)
{
	if (v == NULL) {
		*out = -1;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return steer_fail(why, "field \"%s\" must be a number or null",
				  key);
	double x = json_object_get_double(v);
	if (!isfinite(x) || x < 0 || x > 1e6)
		return steer_fail(why, "field \"%s\" must be from 0 to 1000000",
				  key);
	*out = x;
	return 0;
}

/* Seconds, or null (-1). */
static int steer_seconds(json_object *v, const char *key, int64_t *out,
			 char **why)
{
	if (v == NULL) {
		*out = -1;
		return 0;
	}
	return steer_int(v, key, 0, TP_DURATION_MAX, out, why);
}

static void steer_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A string fit to show and store: no control characters, no NUL. */
static bool steer_printable(json_object *v, size_t max)
{
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool steer_url_ok(const char *s)
{
	return strncmp(s, "http://", 7) == 0 ||
	       strncmp(s, "https://", 8) == 0 || strncmp(s, "udp://", 6) == 0;
}

/* An array of at most max strings checked by kind: 'l' label, 'u' URL. */
static int steer_strings(json_object *v, const char *key, size_t max,
			 int kind, char ***out, size_t *n_out, char **why)
{
	if (!json_object_is_type(v, json_type_array))
		return steer_fail(why, "field \"%s\" must be an array of "
				  "strings", key);
	size_t n = json_object_array_length(v);
	if (n > max)
		return steer_fail(why, "field \"%s\" holds %zu entries; at most "
				  "%zu are allowed", key, n, max);
	char **arr = calloc(n + 1, sizeof *arr);
	if (!arr)
		return steer_fail(why, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		bool ok = json_object_is_type(e, json_type_string) &&
			  steer_printable(e, kind == 'l' ? TP_MAX_LABEL_LEN
							 : TP_MAX_URL_LEN) &&
			  (kind != 'u' ||
			   steer_url_ok(json_object_get_string(e)));
		if (!ok) {
			steer_strv_free(arr, i);
			if (kind == 'l')
				return steer_fail(why, "field \"%s\": each label "
						  "must be 1 to %d bytes without "
						  "control characters", key,
						  TP_MAX_LABEL_LEN);
			return steer_fail(why, "field \"%s\": each entry must be "
					  "an http://, https:// or udp:// URL "
					  "of at most %d bytes", key,
					  TP_MAX_URL_LEN);
		}
		arr[i] = strdup(json_object_get_string(e));
	}
	*out = arr;
	*n_out = n;
	return 0;
}

static int steer_priorities(json_object *v, const char *key,
			    struct tp_tset *t, char **why)
{
	if (!json_object_is_type(v, json_type_array))
		return steer_fail(why, "field \"%s\" must be an array of "
				  "integers", key);
	size_t n = json_object_array_length(v);
	if (n > STEER_MAX_FILES)
		return steer_fail(why, "field \"%s\" is longer than any "
				  "torrent's file list", key);
	t->file_priorities = calloc(n + 1, sizeof *t->file_priorities);
	if (!t->file_priorities)
		return steer_fail(why, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int64_t p;
		json_object *e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_int) ||
		    (p = json_object_get_int64(e)) < 0 || p > 7)
			return steer_fail(why, "field \"%s\": each priority must "
					  "be an integer from 0 (skip) to 7 "
					  "(high)", key);
		t->file_priorities[i] = (int)p;
	}
	t->n_file_priorities = n;
	return 0;
}

static int steer_queue(json_object *v, const char *key, struct tp_tset *t,
		       char **why)
{
	static const char *const moves[] = {"", "top", "up", "down", "bottom"};
	if (json_object_is_type(v, json_type_string)) {
		for (int i = 1; i < 5; i++)
			if (strcmp(json_object_get_string(v), moves[i]) == 0) {
				t->queue_move = (enum tp_queue_move)i;
				return 0;
			}
	} else if (json_object_is_type(v, json_type_int)) {
		t->queue_move = TP_QUEUE_TO;
		return steer_int(v, key, 0, TP_MAX_ACTIVE * 100,
				 &t->queue_position, why);
	}
	return steer_fail(why, "field \"%s\" must be an integer or one of "
			  "\"top\", \"up\", \"down\", \"bottom\"", key);
}

/* One reader per tset field. */
static int steer_tset_field(unsigned bit, const char *key, json_object *v,
			    struct tp_tset *t, char **why)
{
	/* Only ratio and seed-time limits may be null (the default). */
	if (v == NULL && bit != TP_TSET_RATIO_LIMIT &&
	    bit != TP_TSET_SEED_TIME_LIMIT)
		return steer_fail(why, "field \"%s\" must not be null", key);
	switch (bit) {
	case TP_TSET_DOWNLOAD_LIMIT:
		return steer_int(v, key, 0, TP_RATE_MAX, &t->download_limit,
				 why);
	case TP_TSET_UPLOAD_LIMIT:
		return steer_int(v, key, 0, TP_RATE_MAX, &t->upload_limit, why);
	case TP_TSET_SEQUENTIAL:
		return steer_bool(v, key, &t->sequential, why);
	case TP_TSET_LABELS:
		return steer_strings(v, key, TP_MAX_LABELS, 'l', &t->labels,
				     &t->n_labels, why);
	case TP_TSET_RATIO_LIMIT:
		return steer_ratio(v, key, &t->ratio_limit, why);
	case TP_TSET_SEED_TIME_LIMIT:
		return steer_seconds(v, key, &t->seed_time_limit, why);
	case TP_TSET_FILE_PRIORITIES:
		return steer_priorities(v, key, t, why);
	case TP_TSET_QUEUE_POSITION:
		return steer_queue(v, key, t, why);
	case TP_TSET_TRACKERS_ADD:
		return steer_strings(v, key, TP_MAX_TRACKER_URLS, 'u',
				     &t->trackers_add, &t->n_trackers_add, why);
	default:
		return steer_strings(v, key, TP_MAX_TRACKER_URLS, 'u',
				     &t->trackers_remove, &t->n_trackers_remove,
				     why);
	}
}

static const struct {
	const char *key;
	unsigned bit;
} steer_tset_keys[] = {
	{"download_limit", TP_TSET_DOWNLOAD_LIMIT},
	{"upload_limit", TP_TSET_UPLOAD_LIMIT},
	{"sequential", TP_TSET_SEQUENTIAL},
	{"labels", TP_TSET_LABELS},
	{"ratio_limit", TP_TSET_RATIO_LIMIT},
	{"seed_time_limit", TP_TSET_SEED_TIME_LIMIT},
	{"file_priorities", TP_TSET_FILE_PRIORITIES},
	{"queue_position", TP_TSET_QUEUE_POSITION},
	{"trackers_add", TP_TSET_TRACKERS_ADD},
	{"trackers_remove", TP_TSET_TRACKERS_REMOVE},
};
#define STEER_N_TSET (sizeof steer_tset_keys / sizeof steer_tset_keys[0])

/* Hooks run programs: rtorrent's `execute` and qBittorrent's "run external
 * program" were set over their RPC and that is how those daemons were
 * taken over.  Named so the refusal says why rather than "unknown". */
static bool steer_is_hook(const char *key)
{
	return strstr(key, "hook") != NULL || strcmp(key, "on_complete") == 0 ||
	       strstr(key, "exec") != NULL || strstr(key, "command") != NULL;
}

int tp_tset_parse(json_object *obj, unsigned allowed, bool strict,
		  struct tp_tset *out, char **why)
{
	memset(out, 0, sizeof *out);
	out->ratio_limit = -1;
	out->seed_time_limit = -1;
	*why = NULL;
	json_object_object_foreach(obj, key, val) {
		size_t i;
		for (i = 0; i < STEER_N_TSET; i++)
			if (strcmp(key, steer_tset_keys[i].key) == 0)
				break;
		if (i < STEER_N_TSET && (allowed & steer_tset_keys[i].bit)) {
			if (steer_tset_field(steer_tset_keys[i].bit, key, val,
					     out, why) < 0)
				goto fail;
			out->has |= steer_tset_keys[i].bit;
			continue;
		}
		if (!strict || !strcmp(key, "op") || !strcmp(key, "tag") ||
		    !strcmp(key, "id"))
			continue;
		if (steer_is_hook(key))
			steer_fail(why, "field \"%s\": programs to run are set "
				   "only in tpd's own configuration, never over "
				   "the socket", key);
		else
			steer_fail(why, "unknown field \"%s\"", key);
		goto fail;
	}
	return 0;
fail:
	tp_tset_free(out);
	return -1;
}

void tp_tset_free(struct tp_tset *t)
{
	if (!t)
		return;
	steer_strv_free(t->labels, t->n_labels);
	free(t->file_priorities);
	steer_strv_free(t->trackers_add, t->n_trackers_add);
	steer_strv_free(t->trackers_remove, t->n_trackers_remove);
	memset(t, 0, sizeof *t);
}

/* --- the session ------------------------------------------------------ */

static const struct {
	const char *key;
	unsigned bit;
} steer_ses_keys[] = {
	{"download_limit", TP_SES_DOWNLOAD_LIMIT},
	{"upload_limit", TP_SES_UPLOAD_LIMIT},
	{"alt_download_limit", TP_SES_ALT_DOWNLOAD_LIMIT},
	{"alt_upload_limit", TP_SES_ALT_UPLOAD_LIMIT},
	{"alt_speed", TP_SES_ALT_SPEED},
	{"alt_schedule", TP_SES_ALT_SCHEDULE},
	{"max_active_downloads", TP_SES_MAX_ACTIVE_DOWNLOADS},
	{"max_active_seeds", TP_SES_MAX_ACTIVE_SEEDS},
	{"ratio_limit", TP_SES_RATIO_LIMIT},
	{"seed_time_limit", TP_SES_SEED_TIME_LIMIT},
	{"encryption", TP_SES_ENCRYPTION},
	{"dht", TP_SES_DHT},
	{"pex", TP_SES_PEX},
	{"lsd", TP_SES_LSD},
	{"utp", TP_SES_UTP},
};
#define STEER_N_SES (sizeof steer_ses_keys / sizeof steer_ses_keys[0])

unsigned tp_session_key_bit(const char *key)
{
	for (size_t i = 0; i < STEER_N_SES; i++)
		if (strcmp(key, steer_ses_keys[i].key) == 0)
			return steer_ses_keys[i].bit;
	return 0;
}

static const char *const steer_enc_names[] = {"enabled", "forced",
					      "disabled"};

const char *tp_encryption_name(enum tp_encryption e)
{
	return (unsigned)e < 3 ? steer_enc_names[e] : "enabled";
}

static int steer_schedule(json_object *v, const char *key,
			  struct tp_session *s, char **why)
{
	if (v && !json_object_is_type(v, json_type_string))
		return steer_fail(why, "field \"%s\" must be a string "
				  "(HH:MM-HH:MM [DAYS]) or null", key);
	const char *text = v ? json_object_get_string(v) : "";
	struct tp_schedule sc;
	const char *reason = NULL;
	if (strlen(text) > 128 || tp_schedule_parse(text, &sc, &reason) < 0)
		return steer_fail(why, "field \"%s\": %s", key,
				  reason ? reason : "too long");
	free(s->alt_schedule);
	s->alt_schedule = strdup(text);
	return 0;
}

static int steer_ses_field(unsigned bit, const char *key, json_object *v,
			   struct tp_session *s, char **why)
{
	if (v == NULL && bit != TP_SES_ALT_SCHEDULE &&
	    bit != TP_SES_RATIO_LIMIT && bit != TP_SES_SEED_TIME_LIMIT)
		return steer_fail(why, "field \"%s\" must not be null", key);
	switch (bit) {
	case TP_SES_DOWNLOAD_LIMIT:
		return steer_int(v, key, 0, TP_RATE_MAX, &s->download_limit, why);
	case TP_SES_UPLOAD_LIMIT:
		return steer_int(v, key, 0, TP_RATE_MAX, &s->upload_limit, why);
	case TP_SES_ALT_DOWNLOAD_LIMIT:
		return steer_int(v, key, 0, TP_RATE_MAX, &s->alt_download_limit,
				 why);
	case TP_SES_ALT_UPLOAD_LIMIT:
		return steer_int(v, key, 0, TP_RATE_MAX, &s->alt_upload_limit,
				 why);
	case TP_SES_ALT_SPEED:
		return steer_bool(v, key, &s->alt_speed, why);
	case TP_SES_ALT_SCHEDULE:
		return steer_schedule(v, key, s, why);
	case TP_SES_MAX_ACTIVE_DOWNLOADS:
		return steer_int(v, key, 1, TP_MAX_ACTIVE,
				 &s->max_active_downloads, why);
	case TP_SES_MAX_ACTIVE_SEEDS:
		return steer_int(v, key, 1, TP_MAX_ACTIVE, &s->max_active_seeds,
				 why);
	case TP_SES_RATIO_LIMIT:
		return steer_ratio(v, key, &s->ratio_limit, why);
	case TP_SES_SEED_TIME_LIMIT:
		return steer_seconds(v, key, &s->seed_time_limit, why);
	case TP_SES_ENCRYPTION:
		if (json_object_is_type(v, json_type_string))
			for (int i = 0; i < 3; i++)
				if (!strcmp(json_object_get_string(v),
					    steer_enc_names[i])) {
					s->encryption = (enum tp_encryption)i;
					return 0;
				}
		return steer_fail(why, "field \"%s\" must be \"enabled\", "
				  "\"forced\" or \"disabled\"", key);
	case TP_SES_DHT:
		return steer_bool(v, key, &s->dht, why);
	case TP_SES_PEX:
		return steer_bool(v, key, &s->pex, why);
	case TP_SES_LSD:
		return steer_bool(v, key, &s->lsd, why);
	default:
		return steer_bool(v, key, &s->utp, why);
	}
}

int tp_session_parse(json_object *obj, struct tp_session *out, char **why)
{
	memset(out, 0, sizeof *out);
	*why = NULL;
	json_object_object_foreach(obj, key, val) {
		size_t i;
		if (!strcmp(key, "op") || !strcmp(key, "tag"))
			continue;
		for (i = 0; i < STEER_N_SES; i++)
			if (strcmp(key, steer_ses_keys[i].key) == 0)
				break;
		if (i == STEER_N_SES) {
			if (steer_is_hook(key))
				steer_fail(why, "field \"%s\": programs to run "
					   "are set only in tpd's own "
					   "configuration, never over the "
					   "socket", key);
			else
				steer_fail(why, "unknown field \"%s\"", key);
			goto fail;
		}
		if (steer_ses_field(steer_ses_keys[i].bit, key, val, out,
				    why) < 0)
			goto fail;
		out->has |= steer_ses_keys[i].bit;
	}
	return 0;
fail:
	tp_session_free(out);
	return -1;
}

void tp_session_merge(struct tp_session *dst, const struct tp_session *src)
{
	unsigned h = src->has;
#define STEER_TAKE(bit, f)          \
	if (h & (bit))              \
		dst->f = src->f;
	STEER_TAKE(TP_SES_DOWNLOAD_LIMIT, download_limit)
	STEER_TAKE(TP_SES_UPLOAD_LIMIT, upload_limit)
	STEER_TAKE(TP_SES_ALT_DOWNLOAD_LIMIT, alt_download_limit)
	STEER_TAKE(TP_SES_ALT_UPLOAD_LIMIT, alt_upload_limit)
	STEER_TAKE(TP_SES_ALT_SPEED, alt_speed)
	STEER_TAKE(TP_SES_MAX_ACTIVE_DOWNLOADS, max_active_downloads)
	STEER_TAKE(TP_SES_MAX_ACTIVE_SEEDS, max_active_seeds)
	STEER_TAKE(TP_SES_RATIO_LIMIT, ratio_limit)
	STEER_TAKE(TP_SES_SEED_TIME_LIMIT, seed_time_limit)
	STEER_TAKE(TP_SES_ENCRYPTION, encryption)
	STEER_TAKE(TP_SES_DHT, dht)
	STEER_TAKE(TP_SES_PEX, pex)
	STEER_TAKE(TP_SES_LSD, lsd)
	STEER_TAKE(TP_SES_UTP, utp)
#undef STEER_TAKE
	if (h & TP_SES_ALT_SCHEDULE) {
		free(dst->alt_schedule);
		dst->alt_schedule = src->alt_schedule ? strdup(src->alt_schedule)
						      : NULL;
	}
	dst->has |= h;
}

static json_object *steer_ratio_json(double r)
{
	return r < 0 ? NULL : json_object_new_double(r);
}

static json_object *steer_seconds_json(int64_t s)
{
	return s < 0 ? NULL : json_object_new_int64(s);
}

void tp_session_to_json(const struct tp_session *s, json_object *o)
{
	json_object_object_add(o, "download_limit",
			       json_object_new_int64(s->download_limit));
	json_object_object_add(o, "upload_limit",
			       json_object_new_int64(s->upload_limit));
	json_object_object_add(o, "alt_download_limit",
			       json_object_new_int64(s->alt_download_limit));
	json_object_object_add(o, "alt_upload_limit",
			       json_object_new_int64(s->alt_upload_limit));
	json_object_object_add(o, "alt_speed",
			       json_object_new_boolean(s->alt_speed));
	json_object_object_add(o, "alt_schedule",
			       s->alt_schedule && *s->alt_schedule
				       ? json_object_new_string(s->alt_schedule)
				       : NULL);
	json_object_object_add(o, "max_active_downloads",
			       json_object_new_int64(s->max_active_downloads));
	json_object_object_add(o, "max_active_seeds",
			       json_object_new_int64(s->max_active_seeds));
	json_object_object_add(o, "ratio_limit", steer_ratio_json(s->ratio_limit));
	json_object_object_add(o, "seed_time_limit",
			       steer_seconds_json(s->seed_time_limit));
	json_object_object_add(o, "encryption",
			       json_object_new_string(
				       tp_encryption_name(s->encryption)));
	json_object_object_add(o, "dht", json_object_new_boolean(s->dht));
	json_object_object_add(o, "pex", json_object_new_boolean(s->pex));
	json_object_object_add(o, "lsd", json_object_new_boolean(s->lsd));
	json_object_object_add(o, "utp", json_object_new_boolean(s->utp));
}

void tp_session_free(struct tp_session *s)
{
	if (!s)
		return;
	free(s->alt_schedule);
	memset(s, 0, sizeof *s);
}
