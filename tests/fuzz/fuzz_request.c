/*
 * fuzz_request.c - libFuzzer target for the request codec (common/proto.c).
 *
 * Each input is one request line.  tp_request_parse must either succeed or
 * fill an Error (code in range, a reason); the tag it recovered is echoed
 * through tp_event_new / tp_error_event / tp_line exactly as the daemon
 * does, and the line that comes out must be one valid request-sized JSON
 * line without a raw newline that parses back (as a "list" request) to an
 * equal tag.  The same bytes also go through tp_status_from_json, the
 * client's reader of status events.  Single-threaded fuzzer process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "proto.h"

/* Aborts with a message: libFuzzer records the input as a crash. */
static void fuzz_request_die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_request: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	abort();
}

/* The echo path: an event carrying `tag` becomes a line, which must be a
 * single JSON line that the request parser reads back with the same tag. */
static void fuzz_request_echo(json_object *ev, json_object *tag)
{
	struct tp_request back;
	struct tp_error err;
	size_t len = 0;
	char *line;

	if (!ev)
		fuzz_request_die("event allocation failed", NULL);
	json_object_object_add(ev, "op", json_object_new_string("list"));
	line = tp_line(ev, &len);
	if (!line)
		fuzz_request_die("tp_line returned NULL", NULL);
	if (len == 0 || line[len - 1] != '\n' || strlen(line) != len)
		fuzz_request_die("line not newline-terminated", line);
	if (memchr(line, '\n', len - 1))
		fuzz_request_die("raw newline inside an event line", line);
	if (tp_request_parse(line, len - 1, &back, &err) != 0)
		fuzz_request_die("echoed line does not parse back", err.reason);
	if (back.op != TP_OP_LIST)
		fuzz_request_die("echoed line changed op", line);
	if (!json_object_equal(back.tag, tag))
		fuzz_request_die("tag not echoed unchanged", line);
	tp_request_free(&back);
	free(line);
	json_object_put(ev);
}

/* The client reading the same bytes as a status event. */
static void fuzz_request_status(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	json_object *obj;
	struct tp_status st, copy;

	if (!tok)
		return;
	obj = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!obj)
		return;
	if (tp_status_from_json(obj, &st) == 0) {
		size_t n = 0;
		char *text;
		json_object *back;

		tp_status_copy(&copy, &st);
		/* The daemon's own writer (common/jsonw.c) on whatever the
		 * client accepted: it must still be one JSON object. */
		text = tp_status_text(&copy, &n);
		if (text) {
			back = json_tokener_parse(text);
			if (!back || strlen(text) != n)
				abort();
			json_object_put(back);
		}
		free(text);
		tp_status_free(&copy);
		tp_status_free(&st);
	}
	json_object_put(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_request req;
	struct tp_error err;
	/* A copy of exactly `size` bytes so ASan sees any read past the end
	 * (the line need not be NUL-terminated). */
	char *line = malloc(size ? size : 1);

	if (!line)
		return 0;
	if (size)
		memcpy(line, data, size);
	if (tp_request_parse(size ? line : NULL, size, &req, &err) == 0) {
		if ((int)req.op < 0 || req.op >= TP_OP_COUNT)
			fuzz_request_die("op out of range", NULL);
		if (req.op == TP_OP_CREATE &&
		    (req.source == TP_SRC_NONE ||
		     (req.source == TP_SRC_TORRENT && !req.torrent &&
		      !req.content_error)))
			fuzz_request_die("create without a usable source", NULL);
		fuzz_request_echo(tp_event_new("List", req.tag), req.tag);
		tp_request_free(&req);
	} else {
		if ((int)err.code < 0 || err.code >= TP_ERR_COUNT || !err.reason)
			fuzz_request_die("error without code or reason", NULL);
		fuzz_request_echo(tp_error_event(err.code, err.reason, err.tag),
				  err.tag);
		tp_error_free(&err);
	}
	free(line);
	if (size < (1u << 20))
		fuzz_request_status(data, size);
	return 0;
}
