/*
 * patron.c - tpweb's calls to tpd (see patron.h).  Runs on the HTTP
 * connection thread that owns the struct patron.
 */
#include "patron.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_object *patron_req(const char *op)
{
	json_object *r = json_object_new_object();

	json_object_object_add(r, "op", json_object_new_string(op));
	return r;
}

static bool patron_type_in(const char *type, const char *want)
{
	size_t n = strlen(type);

	while (*want) {
		const char *bar = strchr(want, '|');
		size_t len = bar ? (size_t)(bar - want) : strlen(want);

		if (len == n && strncmp(want, type, n) == 0)
			return true;
		if (!bar)
			break;
		want = bar + 1;
	}
	return false;
}

json_object *patron_call(struct patron *p, json_object *req,
			 const char *want, char **why)
{
	json_object *ans = NULL;
	char *err = NULL;
	const char *type;
	int rc;

	p->last_code[0] = '\0';
	if (!p->c) {
		p->c = tpc_connect(p->socket, &err);
		if (!p->c) {
			*why = err ? err : strdup("cannot reach tpd");
			return NULL;
		}
	}
	rc = tpc_call(p->c, req, PATRON_ANSWER_MS, &ans, &err);
	if (rc <= 0) {
		if (rc == 0 && asprintf(why, "tpd did not answer %s within %d s",
					pj_str(req, "op"),
					PATRON_ANSWER_MS / 1000) < 0)
			*why = NULL;
		if (rc < 0)
			*why = err;
		else
			free(err);
		/* The connection's framing is now unknown: start afresh. */
		tpc_close(p->c);
		p->c = NULL;
		return NULL;
	}
	type = pj_str(ans, "type");
	if (type && patron_type_in(type, want))
		return ans;
	if (type && strcmp(type, "Error") == 0) {
		snprintf(p->last_code, sizeof p->last_code, "%s",
			 pj_str(ans, "code") ? pj_str(ans, "code") : "");
	}
	*why = strdup(pj_str(ans, "reason") ? pj_str(ans, "reason")
					    : "tpd gave an unexpected answer");
	json_object_put(ans);
	return NULL;
}

void patron_close(struct patron *p)
{
	tpc_close(p->c);
	p->c = NULL;
}

json_object *pj_get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

int64_t pj_int(json_object *o, const char *key, int64_t def)
{
	json_object *v = pj_get(o, key);

	if (v && (json_object_is_type(v, json_type_int) ||
		  json_object_is_type(v, json_type_double)))
		return json_object_get_int64(v);
	return def;
}

double pj_num(json_object *o, const char *key, double def)
{
	json_object *v = pj_get(o, key);

	if (v && (json_object_is_type(v, json_type_int) ||
		  json_object_is_type(v, json_type_double)))
		return json_object_get_double(v);
	return def;
}

const char *pj_str(json_object *o, const char *key)
{
	json_object *v = pj_get(o, key);

	return v && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

int pj_bool(json_object *o, const char *key, int def)
{
	json_object *v = pj_get(o, key);

	if (v && json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	return def;
}
