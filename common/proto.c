/*
 * proto.c - the tpd wire protocol codec (proto/PROTOCOL.md), shared by the
 * daemon and the client.
 *
 * Request lines become struct tp_request; status structs and events become
 * JSON objects and lines.  Nothing here keeps state or touches a socket, so
 * any thread may call it (the daemon calls it from the main thread).
 *
 * Parsing is strict about shape and says which field is wrong: every refusal
 * is a bad_request or unknown_op with a reason a person can act on, and the
 * request's tag is recovered first so that even those errors echo it.
 */
#include "proto.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "codec.h"
#include "escape.h"
#include "jsonw.h"
#include "jsonscan.h"
#include "utf8.h"

/* Nesting deeper than this is refused by the tokenizer; no request needs
 * more than three levels (object, array, scalar). */
#define PROTO_MAX_DEPTH 32
/* How much of an unknown op's name is quoted back in the reason. */
#define PROTO_OP_QUOTE_MAX 64
/* seed's piece_size bounds (0 means automatic). */
#define PROTO_PIECE_MIN ((int64_t)16 * 1024)
#define PROTO_PIECE_MAX ((int64_t)64 * 1024 * 1024)

/* What one request parse works on. */
struct proto_ctx {
	json_object *root;
	struct tp_request *req;
	struct tp_error *err;
};

/* Flags for proto_str(). */
#define PROTO_REQUIRED 0x1
#define PROTO_ABSOLUTE 0x2

static int proto_parse_none(struct proto_ctx *c);
static int proto_parse_hello(struct proto_ctx *c);
static int proto_parse_create(struct proto_ctx *c);
static int proto_parse_seed(struct proto_ctx *c);
static int proto_parse_close(struct proto_ctx *c);
static int proto_parse_id(struct proto_ctx *c);
static int proto_parse_watch(struct proto_ctx *c);
static int proto_parse_list(struct proto_ctx *c);
static int proto_parse_move(struct proto_ctx *c);
static int proto_parse_set(struct proto_ctx *c);
static int proto_parse_session_set(struct proto_ctx *c);

/* One entry per op: its wire name and the parser of its fields. */
static const struct proto_op_entry {
	const char *name;
	enum tp_op op;
	int (*parse)(struct proto_ctx *c);
} proto_ops[] = {
	{ "hello", TP_OP_HELLO, proto_parse_hello },
	{ "create", TP_OP_CREATE, proto_parse_create },
	{ "seed", TP_OP_SEED, proto_parse_seed },
	{ "close", TP_OP_CLOSE, proto_parse_close },
	{ "pause", TP_OP_PAUSE, proto_parse_id },
	{ "resume", TP_OP_RESUME, proto_parse_id },
	{ "reannounce", TP_OP_REANNOUNCE, proto_parse_id },
	{ "list", TP_OP_LIST, proto_parse_list },
	{ "status", TP_OP_STATUS, proto_parse_id },
	{ "watch", TP_OP_WATCH, proto_parse_watch },
	{ "unwatch", TP_OP_UNWATCH, proto_parse_watch },
	{ "info", TP_OP_INFO, proto_parse_none },
	{ "set", TP_OP_SET, proto_parse_set },
	{ "session_get", TP_OP_SESSION_GET, proto_parse_none },
	{ "session_set", TP_OP_SESSION_SET, proto_parse_session_set },
	{ "files", TP_OP_FILES, proto_parse_id },
	{ "peers", TP_OP_PEERS, proto_parse_id },
	{ "trackers", TP_OP_TRACKERS, proto_parse_id },
	{ "recheck", TP_OP_RECHECK, proto_parse_id },
	{ "move", TP_OP_MOVE, proto_parse_move },
};
#define PROTO_N_OPS (sizeof(proto_ops) / sizeof(proto_ops[0]))

static const char *const proto_err_names[TP_ERR_COUNT] = {
	[TP_ERR_BAD_REQUEST] = "bad_request",
	[TP_ERR_UNKNOWN_OP] = "unknown_op",
	[TP_ERR_NOT_FOUND] = "not_found",
	[TP_ERR_FORBIDDEN] = "forbidden",
	[TP_ERR_TOO_LARGE] = "too_large",
	[TP_ERR_BUSY] = "busy",
	[TP_ERR_INTERNAL] = "internal",
};

/* The states a status may carry; tp_status_from_json maps names onto these
 * literals so that st->state is always a static string. */
static const char *const proto_states[] = {
	"checking_resume_data", "checking_files", "downloading_metadata",
	"downloading", "finished", "seeding", "error",
};
static const char proto_state_unknown[] = "unknown";

const char *tp_op_name(enum tp_op op)
{
	size_t i;

	for (i = 0; i < PROTO_N_OPS; i++)
		if (proto_ops[i].op == op)
			return proto_ops[i].name;
	return "unknown";
}

const char *tp_err_name(enum tp_err code)
{
	if ((int)code < 0 || code >= TP_ERR_COUNT)
		return "unknown";
	return proto_err_names[code];
}

/* ---- errors ----------------------------------------------------------- */

/* Fills err with a formatted reason; returns -1 so callers can
 * `return proto_fail(...)`.  Only the first failure is kept. */
__attribute__((format(printf, 3, 4)))
static int proto_fail(struct tp_error *err, enum tp_err code,
		      const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (err->reason)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	err->code = s ? code : TP_ERR_INTERNAL;
	err->reason = s ? s : strdup("out of memory");
	return -1;
}

static int proto_oom(struct tp_error *err)
{
	return proto_fail(err, TP_ERR_INTERNAL, "out of memory");
}

/* ---- field readers ------------------------------------------------------
 * Each returns 0 when the field was read or is absent (and optional), -1
 * with err filled otherwise.  A present `null` is a wrong type: the
 * protocol has no nullable fields. */

/* Looks the field up; *val is NULL if absent.  -1 if absent but required. */
static int proto_field(struct proto_ctx *c, const char *key, bool required,
		       json_object **val, bool *present)
{
	*val = NULL;
	*present = json_object_object_get_ex(c->root, key, val);
	if (!*present && required)
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "field \"%s\" is required", key);
	return 0;
}

/* Copies a JSON string that must not hold NUL characters (a C string would
 * silently cut them off, so "/a\u0000b" would name "/a"). */
static int proto_dup_string(struct proto_ctx *c, const char *key,
			    json_object *v, char **out)
{
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);

	if (memchr(s, '\0', n))
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "field \"%s\" must not contain NUL characters",
				  key);
	*out = strdup(s);
	if (!*out)
		return proto_oom(c->err);
	return 0;
}

static int proto_str(struct proto_ctx *c, const char *key, int flags,
		     char **out)
{
	json_object *v;
	bool present;

	if (proto_field(c, key, flags & PROTO_REQUIRED, &v, &present) < 0)
		return -1;
	if (!present)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "field \"%s\" must be a string", key);
	if ((flags & PROTO_ABSOLUTE) && json_object_get_string(v)[0] != '/')
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "field \"%s\" must be an absolute path", key);
	return proto_dup_string(c, key, v, out);
}

/* Reads an integer that fits int64.  json-c saturates out-of-range numbers
 * without telling the caller (beyond INT64_MAX it keeps a uint64, below
 * INT64_MIN it clamps), so INT64_MIN itself is refused as well: it cannot
 * be told apart from a clamped value, and no field needs it. */
static int proto_int_value(json_object *v, int64_t *out)
{
	int64_t x = json_object_get_int64(v);

	if (x == INT64_MIN)
		return -1;
	if (x == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
		return -1;
	*out = x;
	return 0;
}

static int proto_int(struct proto_ctx *c, const char *key, bool required,
		     int64_t *out)
{
	json_object *v;
	bool present;

	if (proto_field(c, key, required, &v, &present) < 0)
		return -1;
	if (!present)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "field \"%s\" must be an integer", key);
	if (proto_int_value(v, out) < 0)
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "field \"%s\" out of range", key);
	return 0;
}

static int proto_bool(struct proto_ctx *c, const char *key, bool *out)
{
	json_object *v;
	bool present;

	if (proto_field(c, key, false, &v, &present) < 0)
		return -1;
	if (!present)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "field \"%s\" must be a boolean", key);
	*out = json_object_get_boolean(v);
	return 0;
}

/* Optional array of strings; *out stays NULL when absent. */
static int proto_str_array(struct proto_ctx *c, const char *key, char ***out,
			   size_t *n_out)
{
	json_object *v;
	bool present;
	size_t n, i;

	if (proto_field(c, key, false, &v, &present) < 0)
		return -1;
	if (!present)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		goto wrong_type;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i),
					 json_type_string))
			goto wrong_type;
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return proto_oom(c->err);
	/* n_out counts what is allocated so a failure half-way frees it. */
	for (i = 0; i < n; i++) {
		if (proto_dup_string(c, key, json_object_array_get_idx(v, i),
				     &(*out)[i]) < 0)
			return -1;
		*n_out = i + 1;
	}
	return 0;
wrong_type:
	return proto_fail(c->err, TP_ERR_BAD_REQUEST,
			  "field \"%s\" must be an array of strings", key);
}

/* Optional array of integers; *has tells whether it was there. */
static int proto_int_array(struct proto_ctx *c, const char *key,
			   int64_t **out, size_t *n_out, bool *has)
{
	json_object *v;
	bool present;
	size_t n, i;

	if (proto_field(c, key, false, &v, &present) < 0)
		return -1;
	if (!present)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		goto wrong_type;
	n = json_object_array_length(v);
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return proto_oom(c->err);
	*has = true;
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);

		if (!json_object_is_type(e, json_type_int))
			goto wrong_type;
		if (proto_int_value(e, &(*out)[i]) < 0)
			return proto_fail(c->err, TP_ERR_BAD_REQUEST,
					  "field \"%s\" out of range", key);
	}
	*n_out = n;
	return 0;
wrong_type:
	return proto_fail(c->err, TP_ERR_BAD_REQUEST,
			  "field \"%s\" must be an array of integers", key);
}

/* ---- per-op parsers ----------------------------------------------------- */

static int proto_parse_none(struct proto_ctx *c)
{
	(void)c;
	return 0;
}

/* The client's protocol version is only checked for type: version 1 is the
 * only one, and the Hello answer tells the client what the daemon speaks. */
static int proto_parse_hello(struct proto_ctx *c)
{
	int64_t version = 0;

	return proto_int(c, "version", false, &version);
}

static int proto_parse_create_torrent(struct proto_ctx *c)
{
	struct tp_request *req = c->req;
	json_object *v;
	size_t n;

	json_object_object_get_ex(c->root, "torrent", &v);
	if (!json_object_is_type(v, json_type_string))
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "field \"torrent\" must be a string");
	req->source = TP_SRC_TORRENT;
	/* Bad base64 is content, not shape: the create still gets its one
	 * StartFail answer from the service. */
	req->torrent = tp_base64_decode(json_object_get_string(v),
					(size_t)json_object_get_string_len(v),
					&n);
	if (!req->torrent) {
		req->content_error = strdup("torrent is not valid base64");
		if (!req->content_error)
			return proto_oom(c->err);
		return 0;
	}
	req->torrent_len = n;
	return 0;
}

/* The steering fields a create or seed may carry (labels, limits,
 * sequential); other keys are the op's own. */
static int proto_parse_at_add(struct proto_ctx *c)
{
	char *why = NULL;

	if (tp_tset_parse(c->root, TP_TSET_AT_ADD, false, &c->req->tset,
			  &why) < 0) {
		proto_fail(c->err, TP_ERR_BAD_REQUEST, "%s", why);
		free(why);
		return -1;
	}
	return 0;
}

static int proto_parse_create(struct proto_ctx *c)
{
	static const char *const sources[] = { "torrent", "path", "url",
					       "magnet" };
	struct tp_request *req = c->req;
	size_t i, n = 0;

	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (json_object_object_get_ex(c->root, sources[i], NULL))
			n++;
	if (n != 1)
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "create needs exactly one of torrent, path, url, magnet");
	if (json_object_object_get_ex(c->root, "torrent", NULL)) {
		if (proto_parse_create_torrent(c) < 0)
			return -1;
	} else if (json_object_object_get_ex(c->root, "path", NULL)) {
		req->source = TP_SRC_PATH;
		if (proto_str(c, "path", PROTO_ABSOLUTE, &req->path) < 0)
			return -1;
	} else if (json_object_object_get_ex(c->root, "url", NULL)) {
		/* The scheme is the fetcher's to judge: it answers StartFail. */
		req->source = TP_SRC_URL;
		if (proto_str(c, "url", 0, &req->url) < 0)
			return -1;
	} else {
		req->source = TP_SRC_MAGNET;
		if (proto_str(c, "magnet", 0, &req->magnet) < 0)
			return -1;
	}
	if (proto_str(c, "save_dir", PROTO_ABSOLUTE, &req->save_dir) < 0 ||
	    proto_str_array(c, "peers", &req->peers, &req->n_peers) < 0 ||
	    proto_bool(c, "paused", &req->paused) < 0)
		return -1;
	return proto_parse_at_add(c);
}

static int proto_parse_seed_version(struct proto_ctx *c)
{
	static const struct {
		const char *name;
		enum tp_torrent_version v;
	} versions[] = {
		{ "v1", TP_TV_V1 }, { "v2", TP_TV_V2 },
		{ "hybrid", TP_TV_HYBRID },
	};
	char *s = NULL;
	size_t i;

	c->req->version = TP_TV_V1;
	if (proto_str(c, "version", 0, &s) < 0)
		return -1;
	if (!s)
		return 0;
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		if (strcmp(s, versions[i].name) == 0) {
			c->req->version = versions[i].v;
			free(s);
			return 0;
		}
	}
	free(s);
	return proto_fail(c->err, TP_ERR_BAD_REQUEST,
			  "field \"version\" must be \"v1\", \"v2\" or \"hybrid\"");
}

static int proto_parse_seed(struct proto_ctx *c)
{
	struct tp_request *req = c->req;
	int64_t ps;

	if (proto_str(c, "path", PROTO_REQUIRED | PROTO_ABSOLUTE,
		      &req->path) < 0 ||
	    proto_str_array(c, "trackers", &req->trackers,
			    &req->n_trackers) < 0 ||
	    proto_str(c, "torrent_out", PROTO_ABSOLUTE, &req->torrent_out) < 0 ||
	    proto_int(c, "piece_size", false, &req->piece_size) < 0 ||
	    proto_parse_seed_version(c) < 0 ||
	    proto_bool(c, "private", &req->private_flag) < 0 ||
	    proto_str(c, "comment", 0, &req->comment) < 0 ||
	    proto_str(c, "creator", 0, &req->creator) < 0 ||
	    proto_bool(c, "paused", &req->paused) < 0 ||
	    proto_parse_at_add(c) < 0)
		return -1;
	ps = req->piece_size;
	if (ps != 0 && (ps < PROTO_PIECE_MIN || ps > PROTO_PIECE_MAX ||
			(ps & (ps - 1)) != 0))
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "field \"piece_size\" must be 0 or a power of two from 16384 to 67108864");
	return 0;
}

static int proto_parse_id(struct proto_ctx *c)
{
	return proto_int(c, "id", true, &c->req->id);
}

static int proto_parse_close(struct proto_ctx *c)
{
	if (proto_parse_id(c) < 0)
		return -1;
	return proto_bool(c, "delete_files", &c->req->delete_files);
}

static int proto_parse_move(struct proto_ctx *c)
{
	if (proto_parse_id(c) < 0)
		return -1;
	return proto_str(c, "save_dir", PROTO_REQUIRED | PROTO_ABSOLUTE,
			 &c->req->save_dir);
}

static int proto_parse_list(struct proto_ctx *c)
{
	return proto_str(c, "label", 0, &c->req->label);
}

/* Checked whole before anything changes: one bad field refuses all. */
static int proto_parse_set(struct proto_ctx *c)
{
	char *why = NULL;

	if (proto_parse_id(c) < 0)
		return -1;
	if (tp_tset_parse(c->root, TP_TSET_ALL, true, &c->req->tset,
			  &why) < 0) {
		proto_fail(c->err, TP_ERR_BAD_REQUEST, "%s", why);
		free(why);
		return -1;
	}
	return 0;
}

static int proto_parse_session_set(struct proto_ctx *c)
{
	char *why = NULL;

	if (tp_session_parse(c->root, &c->req->session, &why) < 0) {
		proto_fail(c->err, TP_ERR_BAD_REQUEST, "%s", why);
		free(why);
		return -1;
	}
	return 0;
}

static int proto_parse_watch(struct proto_ctx *c)
{
	struct tp_request *req = c->req;

	return proto_int_array(c, "ids", &req->ids, &req->n_ids,
			       &req->has_ids);
}

/* ---- the request line --------------------------------------------------- */

/* Tokenizes the whole line into one JSON value.  Returns 0 with *out set
 * (NULL for a JSON null), or -1 with err filled. */
static int proto_tokenize(const char *line, size_t len, json_object **out,
			  struct tp_error *err)
{
	struct json_tokener *tok;
	enum json_tokener_error e;
	json_object *obj;
	size_t end, i;

	*out = NULL;
	if (memchr(line, '\0', len))
		return proto_fail(err, TP_ERR_BAD_REQUEST,
				  "request contains a NUL byte");
	if (len > INT32_MAX)
		return proto_fail(err, TP_ERR_BAD_REQUEST,
				  "request is too long");
	for (i = 0; i < len && strchr(" \t\r\n", line[i]); i++)
		;
	if (i == len)
		return proto_fail(err, TP_ERR_BAD_REQUEST, "empty request");
	i = tp_utf8_check(line, len);
	if (i < len)
		return proto_fail(err, TP_ERR_BAD_REQUEST,
				  "request is not valid UTF-8 (byte %zu)", i);
	tok = json_tokener_new_ex(PROTO_MAX_DEPTH);
	if (!tok)
		return proto_oom(err);
	/* Strict refuses trailing commas and garbage after the value; json-c's
	 * UTF-8 check is kept as a second line behind tp_utf8_check(). */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
				    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (e == json_tokener_continue) {
		/* A bare number or literal may still "continue": a NUL ends
		 * the input, the way json_tokener_parse() does it. */
		obj = json_tokener_parse_ex(tok, "", 1);
		e = json_tokener_get_error(tok);
		end = len;
	}
	if (e != json_tokener_success) {
		json_tokener_free(tok);
		if (e == json_tokener_error_parse_eof ||
		    e == json_tokener_continue)
			return proto_fail(err, TP_ERR_BAD_REQUEST,
					  "not JSON: the line ends inside a value");
		return proto_fail(err, TP_ERR_BAD_REQUEST,
				  "not JSON: %s at byte %zu",
				  json_tokener_error_desc(e), end);
	}
	json_tokener_free(tok);
	for (i = end; i < len; i++) {
		if (!strchr(" \t\r\n", line[i])) {
			json_object_put(obj);
			return proto_fail(err, TP_ERR_BAD_REQUEST,
					  "not JSON: data after the value at byte %zu",
					  i);
		}
	}
	*out = obj;
	return 0;
}

static int proto_print_null(json_object *jso, struct printbuf *pb, int level,
			    int flags)
{
	(void)jso;
	(void)level;
	(void)flags;
	return printbuf_strappend(pb, "null");
}

/* json-c has no null object (a NULL pointer is null), yet a tag must be a
 * real object to be carried and echoed: this one prints as null. */
static json_object *proto_null_tag(void)
{
	json_object *o = json_object_new_boolean(0);
	if (o)
		json_object_set_serializer(o, proto_print_null, NULL, NULL);
	return o;
}

static int proto_print_raw(json_object *jso, struct printbuf *pb, int level,
			   int flags)
{
	(void)level;
	(void)flags;
	const char *text = json_object_get_userdata(jso);

	return printbuf_memappend(pb, text, (int)strlen(text));
}

/* A number tag is echoed as the very text the patron sent: json-c clamps
 * integers beyond 64 bits (2^64 and 10^22 both become 2^64-1) and keeps
 * no text of them, so its value could match two requests to one answer.
 * The text is found in the line itself (jsonscan.h). */
static int proto_number_tag(struct proto_ctx *c, const char *line,
			    size_t len, json_object *v)
{
	size_t off, n;
	char *text;
	json_object *o;

	if (tp_json_member(line, len, "tag", &off, &n) < 0 ||
	    !tp_json_is_number(line + off, n))
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "field \"tag\" must be a finite number");
	text = strndup(line + off, n);
	o = json_object_is_type(v, json_type_int) ?
		json_object_new_int64(json_object_get_int64(v)) :
		json_object_new_double(json_object_get_double(v));
	if (!text || !o) {
		free(text);
		json_object_put(o);
		return proto_oom(c->err);
	}
	json_object_set_serializer(o, proto_print_raw, text,
				   json_object_free_userdata);
	c->req->tag = o;
	return 0;
}

/* Reads the tag before anything else so every later error can echo it. */
static int proto_read_tag(struct proto_ctx *c, const char *line, size_t len)
{
	json_object *v;

	if (!json_object_object_get_ex(c->root, "tag", &v))
		return 0;
	switch (json_object_get_type(v)) {
	case json_type_object:
	case json_type_array:
		return proto_fail(c->err, TP_ERR_BAD_REQUEST,
				  "field \"tag\" must be a scalar (string, number, boolean or null)");
	case json_type_int:
	case json_type_double:
		return proto_number_tag(c, line, len, v);
	case json_type_null:
		c->req->tag = proto_null_tag();
		return 0;
	default:
		c->req->tag = json_object_get(v);
		return 0;
	}
}

/* Length of at most max bytes of s that does not end inside a UTF-8
 * sequence, so a quoted prefix stays valid UTF-8. */
static size_t proto_utf8_prefix(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

static const struct proto_op_entry *proto_find_op(struct proto_ctx *c)
{
	json_object *v;
	const char *name;
	char *quoted;
	size_t len, i;

	if (!json_object_object_get_ex(c->root, "op", &v)) {
		proto_fail(c->err, TP_ERR_BAD_REQUEST, "field \"op\" is required");
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		proto_fail(c->err, TP_ERR_BAD_REQUEST,
			   "field \"op\" must be a string");
		return NULL;
	}
	name = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	/* Compare with the length: "list\u0000x" is not "list". */
	for (i = 0; i < PROTO_N_OPS; i++)
		if (strlen(proto_ops[i].name) == len &&
		    memcmp(proto_ops[i].name, name, len) == 0)
			return &proto_ops[i];
	/* Quoted escaped, so that a NUL or a control character inside the
	 * name is shown rather than cutting or breaking the reason. */
	quoted = tp_escape(name, proto_utf8_prefix(name, len,
						   PROTO_OP_QUOTE_MAX));
	if (!quoted) {
		proto_oom(c->err);
		return NULL;
	}
	proto_fail(c->err, TP_ERR_UNKNOWN_OP, "unknown op \"%s%s\"", quoted,
		   len > PROTO_OP_QUOTE_MAX ? "..." : "");
	free(quoted);
	return NULL;
}

int tp_request_parse(const char *line, size_t len, struct tp_request *req,
		     struct tp_error *err)
{
	struct proto_ctx c = { NULL, req, err };
	const struct proto_op_entry *op;

	memset(req, 0, sizeof(*req));
	memset(err, 0, sizeof(*err));
	if (!line && len)
		return proto_fail(err, TP_ERR_BAD_REQUEST, "empty request");
	if (proto_tokenize(line ? line : "", len, &c.root, err) < 0)
		return -1;
	if (!json_object_is_type(c.root, json_type_object)) {
		proto_fail(err, TP_ERR_BAD_REQUEST,
			   "request must be a JSON object");
		goto fail;
	}
	if (proto_read_tag(&c, line, len) < 0)
		goto fail;
	op = proto_find_op(&c);
	if (!op)
		goto fail;
	req->op = op->op;
	if (op->parse(&c) < 0)
		goto fail;
	json_object_put(c.root);
	return 0;
fail:
	err->tag = json_object_get(req->tag);
	json_object_put(c.root);
	tp_request_free(req);
	return -1;
}

static void proto_free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void tp_request_free(struct tp_request *req)
{
	if (!req)
		return;
	json_object_put(req->tag);
	free(req->torrent);
	free(req->path);
	free(req->url);
	free(req->magnet);
	free(req->save_dir);
	proto_free_strv(req->peers, req->n_peers);
	proto_free_strv(req->trackers, req->n_trackers);
	free(req->torrent_out);
	free(req->comment);
	free(req->creator);
	free(req->content_error);
	free(req->ids);
	tp_tset_free(&req->tset);
	tp_session_free(&req->session);
	free(req->label);
	memset(req, 0, sizeof(*req));
}

void tp_error_free(struct tp_error *err)
{
	if (!err)
		return;
	free(err->reason);
	json_object_put(err->tag);
	memset(err, 0, sizeof(*err));
}

/* ---- status ------------------------------------------------------------- */

static char *proto_strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void tp_status_free(struct tp_status *st)
{
	if (!st)
		return;
	free(st->name);
	free(st->error);
	free(st->save_path);
	st->name = st->error = st->save_path = NULL;
	for (size_t i = 0; i < st->n_labels; i++)
		free(st->labels[i]);
	free(st->labels);
	st->labels = NULL;
	st->n_labels = 0;
}

void tp_status_copy(struct tp_status *dst, const struct tp_status *src)
{
	*dst = *src;
	dst->name = proto_strdup_or_null(src->name);
	dst->error = proto_strdup_or_null(src->error);
	dst->save_path = proto_strdup_or_null(src->save_path);
	dst->labels = NULL;
	dst->n_labels = 0;
	if (src->n_labels) {
		dst->labels = calloc(src->n_labels, sizeof *dst->labels);
		for (size_t i = 0; dst->labels && i < src->n_labels; i++)
			dst->labels[i] = proto_strdup_or_null(src->labels[i]);
		if (dst->labels)
			dst->n_labels = src->n_labels;
	}
}

/* Reads an optional integer field within [lo, hi]; -1 if malformed. */
static int proto_status_int(json_object *obj, const char *key, int64_t lo,
			    int64_t hi, int64_t *out)
{
	json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    proto_int_value(v, &x) < 0 || x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

/* Reads an optional string field into a malloc'd copy; -1 if malformed. */
static int proto_status_str(json_object *obj, const char *key, char **out)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	free(*out);
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : -1;
}

static const char *proto_state_static(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(proto_states) / sizeof(proto_states[0]); i++)
		if (strcmp(name, proto_states[i]) == 0)
			return proto_states[i];
	return proto_state_unknown;
}

static int proto_status_read(json_object *obj, struct tp_status *st)
{
	json_object *v;
	int64_t peers = 0, seeds = 0, owner = 0;
	const char *hash;

	if (!json_object_object_get_ex(obj, "id", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    proto_int_value(v, &st->id) < 0)
		return -1;
	if (!json_object_object_get_ex(obj, "state", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	st->state = proto_state_static(json_object_get_string(v));
	if (json_object_object_get_ex(obj, "info_hash", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) > TP_HASH_HEX_MAX)
			return -1;
		hash = json_object_get_string(v);
		memcpy(st->info_hash, hash, strlen(hash) + 1);
	}
	if (json_object_object_get_ex(obj, "paused", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return -1;
		st->paused = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(obj, "queued", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return -1;
		st->queued = json_object_get_boolean(v);
	}
	/* A progress of exactly 0 or 1 may be written as an integer. */
	if (json_object_object_get_ex(obj, "progress", &v)) {
		if (!json_object_is_type(v, json_type_double) &&
		    !json_object_is_type(v, json_type_int))
			return -1;
		st->progress = json_object_get_double(v);
	}
	if (proto_status_int(obj, "done_bytes", INT64_MIN, INT64_MAX,
			     &st->done_bytes) < 0 ||
	    proto_status_int(obj, "total_bytes", INT64_MIN, INT64_MAX,
			     &st->total_bytes) < 0 ||
	    proto_status_int(obj, "down_rate", INT64_MIN, INT64_MAX,
			     &st->down_rate) < 0 ||
	    proto_status_int(obj, "up_rate", INT64_MIN, INT64_MAX,
			     &st->up_rate) < 0 ||
	    proto_status_int(obj, "peers", INT32_MIN, INT32_MAX, &peers) < 0 ||
	    proto_status_int(obj, "seeds", INT32_MIN, INT32_MAX, &seeds) < 0 ||
	    proto_status_int(obj, "owner", 0, UINT32_MAX, &owner) < 0)
		return -1;
	st->peers = (int)peers;
	st->seeds = (int)seeds;
	st->owner = (uint32_t)owner;
	if (proto_status_str(obj, "name", &st->name) < 0 ||
	    proto_status_str(obj, "save_path", &st->save_path) < 0 ||
	    proto_status_str(obj, "error", &st->error) < 0)
		return -1;
	return 0;
}

int tp_status_from_json(json_object *obj, struct tp_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = proto_state_unknown;
	if (!json_object_is_type(obj, json_type_object) ||
	    proto_status_read(obj, st) < 0) {
		tp_status_free(st);
		memset(st, 0, sizeof(*st));
		st->state = proto_state_unknown;
		return -1;
	}
	return 0;
}

/* ---- events and requests ------------------------------------------------ */

json_object *tp_event_new(const char *type, json_object *tag)
{
	json_object *obj = json_object_new_object();

	if (!obj)
		return NULL;
	json_object_object_add(obj, "type", json_object_new_string(type));
	if (tag)
		json_object_object_add(obj, "tag", json_object_get(tag));
	return obj;
}

json_object *tp_error_event(enum tp_err code, const char *reason,
			    json_object *tag)
{
	json_object *obj = tp_event_new("Error", tag);

	if (!obj)
		return NULL;
	json_object_object_add(obj, "code",
			       json_object_new_string(tp_err_name(code)));
	json_object_object_add(obj, "reason",
			       json_object_new_string(reason ? reason :
						      "out of memory"));
	return obj;
}

char *tp_line(json_object *obj, size_t *len)
{
	const char *s;
	size_t n;
	char *line;

	if (!obj)
		return NULL;
	/* PLAIN has no newlines of its own, and json-c escapes any newline
	 * inside a string, so the only newline is the terminator. */
	s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
						JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return NULL;
	n = strlen(s);
	/* Every string that can carry untrusted bytes (names, paths,
	 * libtorrent's messages) is repaired where it enters the daemon; this
	 * is the last guard of the promise that every line is UTF-8.  Only
	 * strings can hold such bytes, and U+FFFD keeps a string a string. */
	if (tp_utf8_check(s, n) != n) {
		size_t fixed_len;
		char *fixed = tp_utf8_sanitize(s, n, &fixed_len);

		if (!fixed)
			return NULL;
		line = realloc(fixed, fixed_len + 2);
		if (!line) {
			free(fixed);
			return NULL;
		}
		n = fixed_len;
	} else {
		line = malloc(n + 2);
		if (!line)
			return NULL;
		memcpy(line, s, n);
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	if (len)
		*len = n + 1;
	return line;
}

/* Member names are written as they are: plain ASCII, none to escape. */
static void proto_w_key(struct jsonw *w, const char *key)
{
	jsonw_lit(w, ",\"");
	jsonw_lit(w, key);
	jsonw_lit(w, "\":");
}

static void proto_w_i64(struct jsonw *w, const char *key, int64_t v)
{
	proto_w_key(w, key);
	jsonw_i64(w, v);
}

static void proto_w_str(struct jsonw *w, const char *key, const char *v)
{
	proto_w_key(w, key);
	jsonw_str(w, v);
}

/* Every status field, in the order of the Status event of PROTOCOL.md,
 * written as json-c would print that object (test_proto checks it
 * against json-c building the same object). */
static void proto_status_write(struct jsonw *w, const struct tp_status *st)
{
	jsonw_lit(w, "{\"id\":");
	jsonw_i64(w, st->id);
	proto_w_str(w, "name", st->name ? st->name : "");
	proto_w_str(w, "info_hash", st->info_hash);
	proto_w_str(w, "state", st->state ? st->state : proto_state_unknown);
	proto_w_key(w, "paused");
	jsonw_bool(w, st->paused);
	proto_w_key(w, "progress");
	jsonw_double(w, st->progress);
	proto_w_i64(w, "done_bytes", st->done_bytes);
	proto_w_i64(w, "total_bytes", st->total_bytes);
	proto_w_i64(w, "down_rate", st->down_rate);
	proto_w_i64(w, "up_rate", st->up_rate);
	proto_w_i64(w, "peers", st->peers);
	proto_w_i64(w, "seeds", st->seeds);
	proto_w_str(w, "save_path", st->save_path ? st->save_path : "");
	proto_w_i64(w, "owner", (int64_t)st->owner);
	if (st->error)
		proto_w_str(w, "error", st->error);
	proto_w_key(w, "labels");
	jsonw_lit(w, "[");
	for (size_t i = 0; i < st->n_labels; i++) {
		if (i)
			jsonw_lit(w, ",");
		jsonw_str(w, st->labels[i]);
	}
	jsonw_lit(w, "]");
	proto_w_i64(w, "queue_position", st->queue_position);
	proto_w_key(w, "queued");
	jsonw_bool(w, st->queued);
	proto_w_key(w, "sequential");
	jsonw_bool(w, st->sequential);
	proto_w_i64(w, "download_limit", st->download_limit);
	proto_w_i64(w, "upload_limit", st->upload_limit);
	proto_w_i64(w, "uploaded_bytes", st->uploaded_bytes);
	proto_w_i64(w, "downloaded_bytes", st->downloaded_bytes);
	proto_w_key(w, "ratio");
	jsonw_double(w, st->ratio);
	proto_w_key(w, "ratio_limit");
	if (st->ratio_limit < 0)
		jsonw_lit(w, "null");
	else
		jsonw_double(w, st->ratio_limit);
	proto_w_key(w, "seed_time_limit");
	if (st->seed_time_limit < 0)
		jsonw_lit(w, "null");
	else
		jsonw_i64(w, st->seed_time_limit);
	proto_w_i64(w, "seeding_time", st->seeding_time);
	proto_w_key(w, "eta");
	if (st->eta < 0)
		jsonw_lit(w, "null");
	else
		jsonw_i64(w, st->eta);
	proto_w_key(w, "stop_reason");
	if (st->stop_reason)
		jsonw_str(w, st->stop_reason);
	else
		jsonw_lit(w, "null");
	jsonw_lit(w, "}");
}

/* text[0..n) (malloc'd) made UTF-8 as tp_line makes its line: every
 * string was escaped to ASCII bytes or kept, so repairing the whole text
 * repairs exactly the strings' bytes tp_line would. */
static char *proto_utf8_whole(char *text, size_t *n)
{
	if (!text || tp_utf8_check(text, *n) == *n)
		return text;
	size_t fixed_len;
	char *fixed = tp_utf8_sanitize(text, *n, &fixed_len);
	free(text);
	if (fixed)
		*n = fixed_len;
	return fixed;
}

char *tp_status_text(const struct tp_status *st, size_t *len)
{
	struct jsonw w = {0};

	proto_status_write(&w, st);
	char *text = proto_utf8_whole(jsonw_take(&w, len), len);
	/* Kept per torrent until its status changes: copied to its exact
	 * size (the buffer grew by doubling, and shrinking it in place left
	 * the slack between texts: +0.6 KiB a torrent in RSS). */
	char *fit = text ? malloc(*len + 1) : NULL;
	if (!fit)
		return text;
	memcpy(fit, text, *len + 1);
	free(text);
	return fit;
}

void tp_event_open(struct jsonw *w, const char *type, json_object *tag)
{
	jsonw_lit(w, "{\"type\":");
	jsonw_str(w, type);
	if (!tag)
		return;
	/* The tag as json-c prints it inside the event (tp_line's flags). */
	const char *t = json_object_to_json_string_ext(
		tag, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!t) {
		w->failed = true;
		return;
	}
	jsonw_lit(w, ",\"tag\":");
	jsonw_lit(w, t);
}

char *tp_event_close(struct jsonw *w, size_t *len)
{
	jsonw_lit(w, "}\n");
	char *line = jsonw_take(w, len);
	return proto_utf8_whole(line, len);
}

char *tp_status_line(const char *type, json_object *tag, const char *text,
		     size_t text_len, size_t *len)
{
	struct jsonw w = {0};

	if (text_len < 2 || text[0] != '{' || text[text_len - 1] != '}')
		return NULL;
	tp_event_open(&w, type, tag);
	/* The members of text, if any, without its braces. */
	if (text_len > 2) {
		jsonw_lit(&w, ",");
		jsonw_raw(&w, text + 1, text_len - 2);
	}
	return tp_event_close(&w, len);
}

/* A line of many megabytes (a `list` of 100,000 torrents is ~50 MB) is
 * fresh memory each time: faulting it in 4 KiB at a time was a quarter
 * of such a list's time (perf, issue 12).  Asking for huge pages where
 * the kernel gives them on request only; no effect elsewhere. */
static void proto_huge_pages(void *p, size_t n)
{
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
	uintptr_t hi = ((uintptr_t)p + n) & ~(huge - 1);

	if (n >= 4 * huge && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

/* ev's line without its closing "}\n", in a buffer with room for `more`
 * bytes after it; *sep is "," when ev has members, "" when it has none. */
static char *proto_line_open(json_object *ev, size_t more, size_t *len,
			     const char **sep)
{
	size_t n;
	char *line = tp_line(ev, &n);
	char *big;

	if (!line || n < 3 || line[n - 2] != '}') {
		free(line);
		return NULL;
	}
	n -= 2;
	*sep = line[n - 1] == '{' ? "" : ",";
	big = realloc(line, n + more + 1);
	if (!big) {
		free(line);
		return NULL;
	}
	proto_huge_pages(big, n + more + 1);
	*len = n;
	return big;
}

char *tp_line_array(json_object *ev, const char *key,
		    const char *const *texts, const size_t *lens, size_t count,
		    size_t *len)
{
	const char *sep;
	size_t n, i, more = strlen(key) + 16;
	char *line;

	for (i = 0; i < count; i++)
		more += lens[i] + 1;
	line = proto_line_open(ev, more, &n, &sep);
	if (!line)
		return NULL;
	n += (size_t)sprintf(line + n, "%s\"%s\":[", sep, key);
	for (i = 0; i < count; i++) {
		if (i)
			line[n++] = ',';
		memcpy(line + n, texts[i], lens[i]);
		n += lens[i];
	}
	memcpy(line + n, "]}\n", 4);
	*len = n + 3;
	return line;
}

json_object *tp_request_new(enum tp_op op, int64_t tag)
{
	json_object *obj;

	if ((int)op < 0 || op >= TP_OP_COUNT)
		return NULL;
	obj = json_object_new_object();
	if (!obj)
		return NULL;
	json_object_object_add(obj, "op", json_object_new_string(tp_op_name(op)));
	if (tag >= 0)
		json_object_object_add(obj, "tag", json_object_new_int64(tag));
	return obj;
}
