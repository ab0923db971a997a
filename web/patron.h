/*
 * patron.h - tpweb's calls to tpd: one libtpclient connection per HTTP
 * request, opened on first use, with a bounded wait for each answer and
 * tpd's Error and StartFail turned into a sentence.  Used by the thread
 * serving that request.
 */
#ifndef TW_PATRON_H
#define TW_PATRON_H

#include <json-c/json.h>

#include "tpclient.h"

/* How long one answer from tpd may take: a create from a URL waits for the
 * fetch (tpd's --url-timeout, 30 s by default), a close with files for the
 * deletion. */
#define PATRON_ANSWER_MS 120000

struct patron {
	const char *socket;  /* tpd's socket; NULL: libtpclient's default */
	tpc *c;              /* NULL until the first call */
	/* The code of tpd's last Error answer ("unknown_op", ...), or "". */
	char last_code[32];
};

/* Sends `req` (the caller keeps it) and returns tpd's answer when its type
 * is `want` (or one of `want`'s '|'-separated names).  Otherwise NULL and
 * *why: tpd's reason for an Error or StartFail, or why tpd could not be
 * reached; last_code names an Error's code. */
json_object *patron_call(struct patron *p, json_object *req,
			 const char *want, char **why);
/* A request {"op": op}, to which the caller adds fields. */
json_object *patron_req(const char *op);
void patron_close(struct patron *p);

/* Small readers of event fields with defaults for absent or ill-typed. */
int64_t pj_int(json_object *o, const char *key, int64_t def);
double pj_num(json_object *o, const char *key, double def);
const char *pj_str(json_object *o, const char *key);
int pj_bool(json_object *o, const char *key, int def);
json_object *pj_get(json_object *o, const char *key);

#endif
