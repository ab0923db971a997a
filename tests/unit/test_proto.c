/*
 * test_proto.c - unit tests of common/proto.c: every op parses with its
 * fields, every class of bad request is refused with the right code and an
 * echoed tag, status objects round-trip, and lines are framed correctly.
 * Single-threaded cmocka.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "jsonscan.h"
#include "proto.h"

/* ---- helpers ------------------------------------------------------------ */

static void tp_ok_len(const char *line, size_t len, struct tp_request *req)
{
	struct tp_error err;

	if (tp_request_parse(line, len, req, &err) != 0)
		fail_msg("refused %s: %s", line, err.reason);
	assert_null(err.reason);
}

static void tp_ok(const char *line, struct tp_request *req)
{
	tp_ok_len(line, strlen(line), req);
}

/* Expects a refusal with `code` whose reason contains `want` (if given). */
static void tp_bad_len(const char *line, size_t len, enum tp_err code,
		       const char *want, struct tp_error *err)
{
	struct tp_request req;

	memset(&req, 0xa5, sizeof(req));
	if (tp_request_parse(line, len, &req, err) == 0) {
		tp_request_free(&req);
		fail_msg("accepted %s", line);
	}
	/* Nothing is left behind in the request on failure. */
	assert_null(req.tag);
	assert_null(req.path);
	assert_null(req.ids);
	assert_non_null(err->reason);
	if (err->code != code)
		fail_msg("%s: code %s, want %s (%s)", line,
			 tp_err_name(err->code), tp_err_name(code), err->reason);
	if (want && !strstr(err->reason, want))
		fail_msg("%s: reason \"%s\" lacks \"%s\"", line, err->reason,
			 want);
}

static void tp_bad(const char *line, enum tp_err code, const char *want)
{
	struct tp_error err;

	tp_bad_len(line, strlen(line), code, want, &err);
	tp_error_free(&err);
}

/* A refusal that must echo the integer tag 7. */
static void tp_bad_tag7(const char *line, enum tp_err code, const char *want)
{
	struct tp_error err;

	tp_bad_len(line, strlen(line), code, want, &err);
	if (!err.tag)
		fail_msg("%s: tag not echoed", line);
	assert_true(json_object_is_type(err.tag, json_type_int));
	assert_int_equal(json_object_get_int64(err.tag), 7);
	tp_error_free(&err);
}

/* ---- ops that parse ----------------------------------------------------- */

static void test_parse_simple_ops(void **state)
{
	static const struct {
		const char *line;
		enum tp_op op;
	} cases[] = {
		{ "{\"op\":\"hello\"}", TP_OP_HELLO },
		{ "{\"op\":\"hello\",\"version\":1}", TP_OP_HELLO },
		{ "{\"op\":\"list\"}", TP_OP_LIST },
		{ "{\"op\":\"info\"}", TP_OP_INFO },
		{ " {\"op\" : \"info\"} \r\n\t", TP_OP_INFO },
		{ "{\"op\":\"list\",\"unknown\":{\"x\":[1,2]}}", TP_OP_LIST },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tp_request req;

		tp_ok(cases[i].line, &req);
		assert_int_equal(req.op, cases[i].op);
		assert_null(req.tag);
		tp_request_free(&req);
	}
}

static void test_parse_id_ops(void **state)
{
	static const struct {
		const char *name;
		enum tp_op op;
	} cases[] = {
		{ "close", TP_OP_CLOSE }, { "pause", TP_OP_PAUSE },
		{ "resume", TP_OP_RESUME }, { "reannounce", TP_OP_REANNOUNCE },
		{ "status", TP_OP_STATUS },
	};
	size_t i;
	struct tp_request req;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[128];

		snprintf(line, sizeof(line),
			 "{\"op\":\"%s\",\"tag\":\"t%zu\",\"id\":%zu}",
			 cases[i].name, i, i + 40);
		tp_ok(line, &req);
		assert_int_equal(req.op, cases[i].op);
		assert_int_equal(req.id, (int64_t)(i + 40));
		assert_false(req.delete_files);
		snprintf(line, sizeof(line), "t%zu", i);
		assert_string_equal(json_object_get_string(req.tag), line);
		tp_request_free(&req);
	}
	tp_ok("{\"op\":\"close\",\"id\":3,\"delete_files\":true}", &req);
	assert_int_equal(req.op, TP_OP_CLOSE);
	assert_int_equal(req.id, 3);
	assert_true(req.delete_files);
	tp_request_free(&req);
	/* An id that is an integer but names nothing is not a shape error:
	 * the service answers not_found. */
	tp_ok("{\"op\":\"status\",\"id\":0}", &req);
	assert_int_equal(req.id, 0);
	tp_request_free(&req);
	tp_ok("{\"op\":\"status\",\"id\":-5}", &req);
	assert_int_equal(req.id, -5);
	tp_request_free(&req);
	tp_ok("{\"op\":\"status\",\"id\":9223372036854775807}", &req);
	assert_true(req.id == INT64_MAX);
	tp_request_free(&req);
	/* And the zeroing after free. */
	assert_null(req.tag);
	assert_int_equal(req.id, 0);
}

static void test_parse_create_torrent(void **state)
{
	static const unsigned char bytes[] = "d4:infod4:name1:xee\0\xff\x01";
	char *b64 = tp_base64_encode(bytes, sizeof(bytes));
	char *line;
	struct tp_request req;

	(void)state;
	assert_non_null(b64);
	assert_true(asprintf(&line,
			     "{\"op\":\"create\",\"tag\":\"a\",\"torrent\":\"%s\","
			     "\"save_dir\":\"/srv/dl\",\"peers\":[\"127.0.0.1:6881\","
			     "\"127.0.0.1:6882\"],\"paused\":true}", b64) > 0);
	tp_ok(line, &req);
	assert_int_equal(req.op, TP_OP_CREATE);
	assert_int_equal(req.source, TP_SRC_TORRENT);
	assert_null(req.content_error);
	assert_int_equal(req.torrent_len, sizeof(bytes));
	assert_memory_equal(req.torrent, bytes, sizeof(bytes));
	assert_string_equal(req.save_dir, "/srv/dl");
	assert_int_equal(req.n_peers, 2);
	assert_string_equal(req.peers[0], "127.0.0.1:6881");
	assert_string_equal(req.peers[1], "127.0.0.1:6882");
	assert_true(req.paused);
	assert_string_equal(json_object_get_string(req.tag), "a");
	assert_null(req.path);
	assert_null(req.url);
	assert_null(req.magnet);
	tp_request_free(&req);
	free(line);
	free(b64);
}

static void test_parse_create_sources(void **state)
{
	struct tp_request req;

	(void)state;
	tp_ok("{\"op\":\"create\",\"path\":\"/tmp/x.torrent\"}", &req);
	assert_int_equal(req.source, TP_SRC_PATH);
	assert_string_equal(req.path, "/tmp/x.torrent");
	assert_null(req.save_dir);
	assert_null(req.peers);
	assert_int_equal(req.n_peers, 0);
	assert_false(req.paused);
	tp_request_free(&req);

	tp_ok("{\"op\":\"create\",\"url\":\"http://127.0.0.1:8080/a.torrent\","
	      "\"peers\":[]}", &req);
	assert_int_equal(req.source, TP_SRC_URL);
	assert_string_equal(req.url, "http://127.0.0.1:8080/a.torrent");
	assert_int_equal(req.n_peers, 0);
	tp_request_free(&req);

	/* The scheme is the fetcher's business, not the parser's. */
	tp_ok("{\"op\":\"create\",\"url\":\"gopher://x\"}", &req);
	assert_int_equal(req.source, TP_SRC_URL);
	tp_request_free(&req);

	tp_ok("{\"op\":\"create\",\"magnet\":\"magnet:?xt=urn:btih:0123456789"
	      "abcdef0123456789abcdef01234567&dn=x\",\"paused\":false}", &req);
	assert_int_equal(req.source, TP_SRC_MAGNET);
	assert_string_equal(req.magnet, "magnet:?xt=urn:btih:0123456789abcdef"
			    "0123456789abcdef01234567&dn=x");
	tp_request_free(&req);

	/* Unicode escapes decode to UTF-8. */
	tp_ok("{\"op\":\"create\",\"path\":\"/t/\\u00e9.torrent\"}", &req);
	assert_string_equal(req.path, "/t/\xc3\xa9.torrent");
	tp_request_free(&req);
}

static void test_parse_create_bad_base64(void **state)
{
	static const char *const lines[] = {
		"{\"op\":\"create\",\"tag\":7,\"torrent\":\"Zm9v!\"}",
		"{\"op\":\"create\",\"tag\":7,\"torrent\":\"Zg\"}",
		"{\"op\":\"create\",\"tag\":7,\"torrent\":\"Zg=a\"}",
		"{\"op\":\"create\",\"tag\":7,\"torrent\":\"Zm9v\\u0000===\"}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct tp_request req;

		/* Shape is right: it parses, with the content error set. */
		tp_ok(lines[i], &req);
		assert_int_equal(req.op, TP_OP_CREATE);
		assert_int_equal(req.source, TP_SRC_TORRENT);
		assert_null(req.torrent);
		assert_int_equal(req.torrent_len, 0);
		assert_non_null(req.content_error);
		assert_string_equal(req.content_error,
				    "torrent is not valid base64");
		assert_int_equal(json_object_get_int(req.tag), 7);
		tp_request_free(&req);
	}
}

static void test_parse_seed(void **state)
{
	struct tp_request req;

	(void)state;
	tp_ok("{\"op\":\"seed\",\"tag\":9,\"path\":\"/srv/data\","
	      "\"trackers\":[\"http://127.0.0.1:6969/announce\"],"
	      "\"torrent_out\":\"/srv/data.torrent\",\"piece_size\":262144,"
	      "\"version\":\"hybrid\",\"private\":true,\"comment\":\"c\","
	      "\"creator\":\"tpd test\"}", &req);
	assert_int_equal(req.op, TP_OP_SEED);
	assert_string_equal(req.path, "/srv/data");
	assert_int_equal(req.n_trackers, 1);
	assert_string_equal(req.trackers[0], "http://127.0.0.1:6969/announce");
	assert_string_equal(req.torrent_out, "/srv/data.torrent");
	assert_int_equal(req.piece_size, 262144);
	assert_int_equal(req.version, TP_TV_HYBRID);
	assert_true(req.private_flag);
	assert_string_equal(req.comment, "c");
	assert_string_equal(req.creator, "tpd test");
	assert_null(req.content_error);
	tp_request_free(&req);

	tp_ok("{\"op\":\"seed\",\"path\":\"/srv/f\"}", &req);
	assert_string_equal(req.path, "/srv/f");
	assert_int_equal(req.version, TP_TV_V1);
	assert_int_equal(req.piece_size, 0);
	assert_null(req.trackers);
	assert_null(req.torrent_out);
	assert_false(req.private_flag);
	assert_null(req.comment);
	tp_request_free(&req);

	tp_ok("{\"op\":\"seed\",\"path\":\"/f\",\"version\":\"v2\","
	      "\"piece_size\":16384}", &req);
	assert_int_equal(req.version, TP_TV_V2);
	assert_int_equal(req.piece_size, 16384);
	tp_request_free(&req);
	tp_ok("{\"op\":\"seed\",\"path\":\"/f\",\"version\":\"v1\","
	      "\"piece_size\":67108864}", &req);
	assert_int_equal(req.version, TP_TV_V1);
	assert_int_equal(req.piece_size, 67108864);
	tp_request_free(&req);
}

static void test_parse_watch(void **state)
{
	struct tp_request req;

	(void)state;
	tp_ok("{\"op\":\"watch\",\"ids\":[1,2,30]}", &req);
	assert_int_equal(req.op, TP_OP_WATCH);
	assert_true(req.has_ids);
	assert_int_equal(req.n_ids, 3);
	assert_int_equal(req.ids[0], 1);
	assert_int_equal(req.ids[1], 2);
	assert_int_equal(req.ids[2], 30);
	tp_request_free(&req);

	tp_ok("{\"op\":\"watch\"}", &req);
	assert_false(req.has_ids);
	assert_int_equal(req.n_ids, 0);
	tp_request_free(&req);

	tp_ok("{\"op\":\"unwatch\",\"ids\":[]}", &req);
	assert_int_equal(req.op, TP_OP_UNWATCH);
	assert_true(req.has_ids);
	assert_int_equal(req.n_ids, 0);
	tp_request_free(&req);

	tp_ok("{\"op\":\"unwatch\"}", &req);
	assert_false(req.has_ids);
	tp_request_free(&req);
}

static void test_parse_tags(void **state)
{
	struct tp_request req;
	json_object *ev;
	size_t len;
	char *line;

	(void)state;
	tp_ok("{\"op\":\"list\",\"tag\":\"abc\"}", &req);
	assert_true(json_object_is_type(req.tag, json_type_string));
	assert_string_equal(json_object_get_string(req.tag), "abc");
	tp_request_free(&req);
	tp_ok("{\"op\":\"list\",\"tag\":1.50}", &req);
	assert_true(json_object_is_type(req.tag, json_type_double));
	ev = tp_event_new("List", req.tag);
	tp_request_free(&req);
	line = tp_line(ev, &len);
	json_object_put(ev);
	/* Echoed unchanged: json-c keeps the number as it was written. */
	assert_string_equal(line, "{\"type\":\"List\",\"tag\":1.50}\n");
	free(line);
	tp_ok("{\"op\":\"list\",\"tag\":false}", &req);
	assert_true(json_object_is_type(req.tag, json_type_boolean));
	tp_request_free(&req);
	/* A null tag is echoed as null, not dropped. */
	tp_ok("{\"op\":\"list\",\"tag\":null}", &req);
	assert_non_null(req.tag);
	ev = tp_event_new("List", req.tag);
	tp_request_free(&req);
	line = tp_line(ev, &len);
	json_object_put(ev);
	assert_string_equal(line, "{\"type\":\"List\",\"tag\":null}\n");
	free(line);
	/* A big tag is echoed unchanged. */
	tp_ok("{\"op\":\"list\",\"tag\":123456789012}", &req);
	ev = tp_event_new("List", req.tag);
	tp_request_free(&req);
	line = tp_line(ev, &len);
	json_object_put(ev);
	assert_string_equal(line, "{\"type\":\"List\",\"tag\":123456789012}\n");
	free(line);
}

/* Echoes the tag of `line` and expects `want` as its text. */
static void tp_echo(const char *line, const char *want)
{
	struct tp_request req;
	json_object *ev;
	size_t len;
	char *out, *expect;

	tp_ok(line, &req);
	ev = tp_event_new("List", req.tag);
	tp_request_free(&req);
	out = tp_line(ev, &len);
	json_object_put(ev);
	assert_non_null(out);
	assert_true(asprintf(&expect, "{\"type\":\"List\",\"tag\":%s}\n",
			     want) > 0);
	assert_string_equal(out, expect);
	free(expect);
	free(out);
}

/* Number tags are echoed as the very text sent, also those json-c cannot
 * hold (it clamps them): two requests are never matched to one answer. */
static void test_tag_exact_text(void **state)
{
	char *line, *digits;

	(void)state;
	tp_echo("{\"op\":\"list\",\"tag\":18446744073709551616}",
		"18446744073709551616");
	tp_echo("{\"op\":\"list\",\"tag\":12345678901234567890123}",
		"12345678901234567890123");
	tp_echo("{\"op\":\"list\",\"tag\":-99999999999999999999}",
		"-99999999999999999999");
	tp_echo("{\"op\":\"list\",\"tag\":-9223372036854775808}",
		"-9223372036854775808");
	tp_echo("{\"op\":\"list\",\"tag\":1e400}", "1e400");
	tp_echo("{\"op\":\"list\",\"tag\":1e999}", "1e999");
	tp_echo("{\"op\":\"list\",\"tag\":-0}", "-0");
	tp_echo("{\"op\":\"list\",\"tag\":2.50E+3}", "2.50E+3");
	/* Blanks, an escaped member name, a nested value before it, and a
	 * repeated name (the last counts, as for json-c). */
	tp_echo(" { \"x\" : [1,{\"tag\":5}], \"op\":\"list\", \"t\\u0061g\" :  42 } ",
		"42");
	tp_echo("{\"tag\":1,\"op\":\"list\",\"tag\":18446744073709551617}",
		"18446744073709551617");
	/* json-c cuts a member name at an escaped NUL: that member is its
	 * "tag", so it is ours (found by the fuzzer). */
	tp_echo("{\"op\":\"list\",\"tag\":2.5,\"tag\\u0000x\":-4707}",
		"-4707");
	/* A 10,000-digit integer. */
	digits = malloc(10001);
	assert_non_null(digits);
	memset(digits, '9', 10000);
	digits[10000] = '\0';
	assert_true(asprintf(&line, "{\"op\":\"list\",\"tag\":%s}",
			     digits) > 0);
	tp_echo(line, digits);
	free(line);
	free(digits);
}

static void test_json_scan(void **state)
{
	size_t off = 0, n = 0;
	const char *t = "{\"a\":\"}\\\"\",\"tag\":\"x,y\"}";

	(void)state;
	assert_int_equal(tp_json_member(t, strlen(t), "tag", &off, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(t + off, "\"x,y\"", 5);
	assert_int_equal(tp_json_member("{}", 2, "tag", &off, &n), -1);
	assert_int_equal(tp_json_member("{\"tags\":1}", 10, "tag", &off, &n),
			 -1);
	assert_true(tp_json_is_number("0", 1));
	assert_true(tp_json_is_number("-1.5e-7", 7));
	assert_false(tp_json_is_number("01", 2));
	assert_false(tp_json_is_number("1.", 2));
	assert_false(tp_json_is_number("NaN", 3));
	assert_false(tp_json_is_number("-Infinity", 9));
	assert_false(tp_json_is_number("", 0));
}

/* The line need not be NUL-terminated: only len bytes count. */
static void test_parse_length_bound(void **state)
{
	static const char buf[] = "{\"op\":\"list\"}GARBAGE";
	struct tp_request req;

	(void)state;
	tp_ok_len(buf, 13, &req);
	assert_int_equal(req.op, TP_OP_LIST);
	tp_request_free(&req);
	tp_bad("{\"op\":\"list\"}GARBAGE", TP_ERR_BAD_REQUEST, NULL);
}

/* ---- refusals ----------------------------------------------------------- */

static void test_bad_json(void **state)
{
	(void)state;
	tp_bad("", TP_ERR_BAD_REQUEST, "empty request");
	tp_bad(" \t\r", TP_ERR_BAD_REQUEST, "empty request");
	tp_bad("{", TP_ERR_BAD_REQUEST, "not JSON");
	tp_bad("{\"op\":\"list\"", TP_ERR_BAD_REQUEST, "not JSON");
	tp_bad("hello", TP_ERR_BAD_REQUEST, "not JSON");
	tp_bad("{op:\"list\"}", TP_ERR_BAD_REQUEST, "not JSON");
	tp_bad("{\"op\":\"list\",}", TP_ERR_BAD_REQUEST, "not JSON");
	tp_bad("{\"op\":\"status\",\"id\":01}", TP_ERR_BAD_REQUEST, NULL);
}

static void test_bad_trailing(void **state)
{
	(void)state;
	tp_bad("{\"op\":\"list\"} x", TP_ERR_BAD_REQUEST, "not JSON");
	tp_bad("{\"op\":\"list\"}{\"op\":\"list\"}", TP_ERR_BAD_REQUEST,
	       "not JSON");
	tp_bad("{\"op\":\"list\"}]", TP_ERR_BAD_REQUEST, "not JSON");
	tp_bad("{\"op\":\"list\"} 1", TP_ERR_BAD_REQUEST, "not JSON");
}

static void test_bad_deep(void **state)
{
	const size_t depth = 1000;
	const char *head = "{\"op\":\"list\",\"tag\":7,\"x\":";
	size_t hl = strlen(head), i, n = 0;
	/* Room for either nesting below: 2 or 5 bytes per level. */
	char *line = malloc(hl + 5 * depth + 2);

	(void)state;
	assert_non_null(line);
	memcpy(line, head, hl);
	n = hl;
	for (i = 0; i < depth; i++)
		line[n++] = '[';
	for (i = 0; i < depth; i++)
		line[n++] = ']';
	line[n++] = '}';
	line[n] = '\0';
	tp_bad(line, TP_ERR_BAD_REQUEST, "not JSON");
	/* Same with objects. */
	n = hl;
	for (i = 0; i < depth / 2; i++) {
		memcpy(line + n, "{\"", 2);
		n += 2;
		line[n++] = 'a';
		line[n++] = '"';
		line[n++] = ':';
	}
	line[n] = '\0';
	tp_bad(line, TP_ERR_BAD_REQUEST, "not JSON");
	free(line);
}

static void test_bad_not_object(void **state)
{
	(void)state;
	tp_bad("[1,2]", TP_ERR_BAD_REQUEST, "object");
	tp_bad("[{\"op\":\"list\"}]", TP_ERR_BAD_REQUEST, "object");
	tp_bad("1", TP_ERR_BAD_REQUEST, "object");
	tp_bad("\"list\"", TP_ERR_BAD_REQUEST, "object");
	tp_bad("null", TP_ERR_BAD_REQUEST, "object");
	tp_bad("true", TP_ERR_BAD_REQUEST, "object");
}

static void test_bad_op(void **state)
{
	(void)state;
	tp_bad_tag7("{\"tag\":7}", TP_ERR_BAD_REQUEST, "\"op\" is required");
	tp_bad_tag7("{\"op\":1,\"tag\":7}", TP_ERR_BAD_REQUEST,
		    "\"op\" must be a string");
	tp_bad_tag7("{\"op\":null,\"tag\":7}", TP_ERR_BAD_REQUEST,
		    "\"op\" must be a string");
	tp_bad_tag7("{\"op\":[\"list\"],\"tag\":7}", TP_ERR_BAD_REQUEST,
		    "\"op\" must be a string");
	tp_bad_tag7("{\"op\":\"LIST\",\"tag\":7}", TP_ERR_UNKNOWN_OP, "LIST");
	tp_bad_tag7("{\"op\":\"\",\"tag\":7}", TP_ERR_UNKNOWN_OP, NULL);
	/* An op name with a NUL in it is not a prefix match, and the
	 * reason shows all of it, the NUL escaped, not "list". */
	tp_bad_tag7("{\"op\":\"list\\u0000x\",\"tag\":7}", TP_ERR_UNKNOWN_OP,
		    "unknown op \"list\\x00x\"");
	tp_bad_tag7("{\"op\":\"a\\u001b[2J\\nb\",\"tag\":7}", TP_ERR_UNKNOWN_OP,
		    "unknown op \"a\\x1B[2J\\nb\"");
}

/* The exact Error line of the protocol's example session. */
static void test_unknown_op_event(void **state)
{
	struct tp_error err;
	json_object *ev;
	char *line;
	size_t len;

	(void)state;
	tp_bad_len("{\"op\":\"frobnicate\",\"tag\":3}", 27, TP_ERR_UNKNOWN_OP,
		   NULL, &err);
	assert_string_equal(err.reason, "unknown op \"frobnicate\"");
	ev = tp_error_event(err.code, err.reason, err.tag);
	line = tp_line(ev, &len);
	assert_string_equal(line, "{\"type\":\"Error\",\"tag\":3,\"code\":"
			    "\"unknown_op\",\"reason\":\"unknown op "
			    "\\\"frobnicate\\\"\"}\n");
	assert_int_equal(len, strlen(line));
	free(line);
	json_object_put(ev);
	tp_error_free(&err);
	assert_null(err.reason);
	assert_null(err.tag);

	/* A string tag is echoed too, and a long op name is cut short. */
	{
		char big[400];

		memset(big, 0, sizeof(big));
		strcpy(big, "{\"tag\":\"s\",\"op\":\"");
		memset(big + strlen(big), 'z', 300);
		strcat(big, "\"}");
		tp_bad_len(big, strlen(big), TP_ERR_UNKNOWN_OP, "zzz...",
			   &err);
		assert_string_equal(json_object_get_string(err.tag), "s");
		assert_true(strlen(err.reason) < 120);
		tp_error_free(&err);
	}
}

static void test_bad_types(void **state)
{
	(void)state;
	tp_bad_tag7("{\"op\":\"status\",\"tag\":7,\"id\":\"1\"}",
		    TP_ERR_BAD_REQUEST, "field \"id\" must be an integer");
	tp_bad_tag7("{\"op\":\"status\",\"tag\":7,\"id\":1.0}",
		    TP_ERR_BAD_REQUEST, "field \"id\" must be an integer");
	tp_bad_tag7("{\"op\":\"status\",\"tag\":7,\"id\":true}",
		    TP_ERR_BAD_REQUEST, "field \"id\" must be an integer");
	tp_bad_tag7("{\"op\":\"status\",\"tag\":7,\"id\":null}",
		    TP_ERR_BAD_REQUEST, "field \"id\" must be an integer");
	tp_bad_tag7("{\"op\":\"close\",\"tag\":7,\"id\":1,\"delete_files\":1}",
		    TP_ERR_BAD_REQUEST, "\"delete_files\" must be a boolean");
	tp_bad_tag7("{\"op\":\"hello\",\"tag\":7,\"version\":\"1\"}",
		    TP_ERR_BAD_REQUEST, "\"version\" must be an integer");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"magnet\":\"m\",\"paused\":\"yes\"}",
		    TP_ERR_BAD_REQUEST, "\"paused\" must be a boolean");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"magnet\":5}",
		    TP_ERR_BAD_REQUEST, "\"magnet\" must be a string");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"torrent\":[]}",
		    TP_ERR_BAD_REQUEST, "\"torrent\" must be a string");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"url\":{}}",
		    TP_ERR_BAD_REQUEST, "\"url\" must be a string");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"magnet\":\"m\",\"save_dir\":1}",
		    TP_ERR_BAD_REQUEST, "\"save_dir\" must be a string");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"magnet\":\"m\",\"peers\":\"a:1\"}",
		    TP_ERR_BAD_REQUEST, "\"peers\" must be an array of strings");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"magnet\":\"m\",\"peers\":[\"a:1\",2]}",
		    TP_ERR_BAD_REQUEST, "\"peers\" must be an array of strings");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"/a\",\"trackers\":[[]]}",
		    TP_ERR_BAD_REQUEST, "\"trackers\" must be an array of strings");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"/a\",\"version\":\"v3\"}",
		    TP_ERR_BAD_REQUEST, "\"version\"");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"/a\",\"version\":2}",
		    TP_ERR_BAD_REQUEST, "\"version\" must be a string");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"/a\",\"private\":0}",
		    TP_ERR_BAD_REQUEST, "\"private\" must be a boolean");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"/a\",\"comment\":false}",
		    TP_ERR_BAD_REQUEST, "\"comment\" must be a string");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"/a\",\"creator\":[]}",
		    TP_ERR_BAD_REQUEST, "\"creator\" must be a string");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"/a\",\"piece_size\":\"16384\"}",
		    TP_ERR_BAD_REQUEST, "\"piece_size\" must be an integer");
	tp_bad_tag7("{\"op\":\"watch\",\"tag\":7,\"ids\":1}",
		    TP_ERR_BAD_REQUEST, "\"ids\" must be an array of integers");
	tp_bad_tag7("{\"op\":\"watch\",\"tag\":7,\"ids\":[1,\"2\"]}",
		    TP_ERR_BAD_REQUEST, "\"ids\" must be an array of integers");
	tp_bad_tag7("{\"op\":\"unwatch\",\"tag\":7,\"ids\":[1.5]}",
		    TP_ERR_BAD_REQUEST, "\"ids\" must be an array of integers");
}

static void test_bad_piece_size(void **state)
{
	static const char *const sizes[] = {
		"1", "8192", "16383", "16385", "49152", "134217728", "-16384",
		"9223372036854775807",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char line[128];

		snprintf(line, sizeof(line), "{\"op\":\"seed\",\"tag\":7,"
			 "\"path\":\"/a\",\"piece_size\":%s}", sizes[i]);
		tp_bad_tag7(line, TP_ERR_BAD_REQUEST, "piece_size");
	}
}

static void test_bad_missing(void **state)
{
	(void)state;
	tp_bad_tag7("{\"op\":\"close\",\"tag\":7}", TP_ERR_BAD_REQUEST,
		    "field \"id\" is required");
	tp_bad_tag7("{\"op\":\"pause\",\"tag\":7}", TP_ERR_BAD_REQUEST,
		    "field \"id\" is required");
	tp_bad_tag7("{\"op\":\"resume\",\"tag\":7}", TP_ERR_BAD_REQUEST,
		    "field \"id\" is required");
	tp_bad_tag7("{\"op\":\"reannounce\",\"tag\":7}", TP_ERR_BAD_REQUEST,
		    "field \"id\" is required");
	tp_bad_tag7("{\"op\":\"status\",\"tag\":7}", TP_ERR_BAD_REQUEST,
		    "field \"id\" is required");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7}", TP_ERR_BAD_REQUEST,
		    "field \"path\" is required");
}

static void test_bad_paths(void **state)
{
	(void)state;
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"path\":\"rel/x.torrent\"}",
		    TP_ERR_BAD_REQUEST, "\"path\" must be an absolute path");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"path\":\"\"}",
		    TP_ERR_BAD_REQUEST, "\"path\" must be an absolute path");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"magnet\":\"m\",\"save_dir\":\"dl\"}",
		    TP_ERR_BAD_REQUEST, "\"save_dir\" must be an absolute path");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"./data\"}",
		    TP_ERR_BAD_REQUEST, "\"path\" must be an absolute path");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"/d\",\"torrent_out\":\"x.torrent\"}",
		    TP_ERR_BAD_REQUEST, "\"torrent_out\" must be an absolute path");
}

static void test_bad_sources(void **state)
{
	(void)state;
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7}", TP_ERR_BAD_REQUEST,
		    "create needs exactly one of torrent, path, url, magnet");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"save_dir\":\"/x\"}",
		    TP_ERR_BAD_REQUEST, "exactly one");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"path\":\"/a\",\"magnet\":\"m\"}",
		    TP_ERR_BAD_REQUEST, "exactly one");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"torrent\":\"\",\"url\":\"http://a\"}",
		    TP_ERR_BAD_REQUEST, "exactly one");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"torrent\":\"\",\"path\":\"/a\","
		    "\"url\":\"u\",\"magnet\":\"m\"}",
		    TP_ERR_BAD_REQUEST, "exactly one");
	/* A null source is present, of the wrong type. */
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"path\":null}",
		    TP_ERR_BAD_REQUEST, "\"path\" must be a string");
}

static void test_bad_nul(void **state)
{
	static const char raw[] = "{\"op\":\"list\",\"x\":\"a\0b\"}";
	struct tp_error err;

	(void)state;
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"path\":\"/a\\u0000b\"}",
		    TP_ERR_BAD_REQUEST, "NUL");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"url\":\"http://a\\u0000b\"}",
		    TP_ERR_BAD_REQUEST, "NUL");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"magnet\":\"\\u0000\"}",
		    TP_ERR_BAD_REQUEST, "NUL");
	tp_bad_tag7("{\"op\":\"create\",\"tag\":7,\"magnet\":\"m\",\"peers\":[\"a\\u0000\"]}",
		    TP_ERR_BAD_REQUEST, "NUL");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"/a\",\"comment\":\"\\u0000\"}",
		    TP_ERR_BAD_REQUEST, "NUL");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"/a\",\"version\":\"v1\\u0000x\"}",
		    TP_ERR_BAD_REQUEST, "NUL");
	/* A raw NUL byte inside the line itself. */
	tp_bad_len(raw, sizeof(raw) - 1, TP_ERR_BAD_REQUEST, "NUL", &err);
	tp_error_free(&err);
}

static void test_bad_utf8(void **state)
{
	struct tp_error err;
	struct tp_request req;

	(void)state;
	tp_bad("{\"op\":\"create\",\"magnet\":\"\xff\xfe\"}", TP_ERR_BAD_REQUEST,
	       "UTF-8");
	tp_bad("{\"op\":\"create\",\"path\":\"/\xc0\xaf\"}", TP_ERR_BAD_REQUEST,
	       "UTF-8");
	tp_bad("{\"op\":\"list\",\"tag\":\"\xe2\x82\"}", TP_ERR_BAD_REQUEST,
	       "UTF-8");
	tp_bad("{\"op\":\"li\x80st\"}", TP_ERR_BAD_REQUEST, "UTF-8");
	tp_bad("{\"op\":\"create\",\"path\":\"/\xed\xa0\x80\"}",
	       TP_ERR_BAD_REQUEST, "UTF-8");      /* encoded surrogate */
	tp_bad("{\"op\":\"create\",\"path\":\"/\xe0\x80\xaf\"}",
	       TP_ERR_BAD_REQUEST, "UTF-8");      /* overlong, 3 bytes */
	tp_bad("{\"op\":\"create\",\"path\":\"/\xf4\x90\x80\x80\"}",
	       TP_ERR_BAD_REQUEST, "UTF-8");      /* past U+10FFFF */
	tp_bad("{\"op\":\"create\",\"path\":\"/\xf8\x88\x80\x80\x80\"}",
	       TP_ERR_BAD_REQUEST, "UTF-8");      /* 5-byte form */
	tp_bad("{\"op\":\"list\",\"tag\":\"\xc3\"}", TP_ERR_BAD_REQUEST,
	       "UTF-8");                          /* cut short by the quote */
	tp_bad_len("{\"op\":\"list\"} \xc3\xa9", 15, TP_ERR_BAD_REQUEST,
		   "UTF-8", &err);                /* cut short by the end */
	tp_error_free(&err);
	/* Well-formed multi-byte characters of every length pass. */
	tp_ok("{\"op\":\"create\",\"path\":\"/\xc3\xa9\xe2\x82\xac"
	      "\xf0\x9f\x98\x80\xed\x9f\xbf\xf4\x8f\xbf\xbf\"}", &req);
	assert_string_equal(req.path, "/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
			    "\xed\x9f\xbf\xf4\x8f\xbf\xbf");
	tp_request_free(&req);
}

static void test_bad_integers(void **state)
{
	(void)state;
	tp_bad_tag7("{\"op\":\"status\",\"tag\":7,\"id\":9223372036854775808}",
		    TP_ERR_BAD_REQUEST, "field \"id\" out of range");
	tp_bad_tag7("{\"op\":\"status\",\"tag\":7,\"id\":99999999999999999999999}",
		    TP_ERR_BAD_REQUEST, "field \"id\" out of range");
	tp_bad_tag7("{\"op\":\"status\",\"tag\":7,\"id\":-9223372036854775809}",
		    TP_ERR_BAD_REQUEST, "field \"id\" out of range");
	tp_bad_tag7("{\"op\":\"watch\",\"tag\":7,\"ids\":[1,18446744073709551616]}",
		    TP_ERR_BAD_REQUEST, "field \"ids\" out of range");
	tp_bad_tag7("{\"op\":\"seed\",\"tag\":7,\"path\":\"/a\",\"piece_size\":1e400}",
		    TP_ERR_BAD_REQUEST, "piece_size");
}

static void test_bad_tag(void **state)
{
	struct tp_error err;

	(void)state;
	tp_bad_len("{\"op\":\"list\",\"tag\":[1]}", 23, TP_ERR_BAD_REQUEST,
		   "\"tag\" must be a scalar", &err);
	assert_null(err.tag);
	tp_error_free(&err);
	tp_bad("{\"op\":\"list\",\"tag\":{\"a\":1}}", TP_ERR_BAD_REQUEST,
	       "\"tag\" must be a scalar");
	tp_bad("{\"op\":\"list\",\"tag\":NaN}", TP_ERR_BAD_REQUEST,
	       "\"tag\" must be a finite number");
	tp_bad("{\"op\":\"list\",\"tag\":-Infinity}", TP_ERR_BAD_REQUEST,
	       "\"tag\" must be a finite number");
	/* The tag is checked before the op. */
	tp_bad("{\"op\":\"nope\",\"tag\":[]}", TP_ERR_BAD_REQUEST, "\"tag\"");
}

/* ---- names, events, lines ----------------------------------------------- */

static void test_names(void **state)
{
	static const char *const ops[TP_OP_COUNT] = {
		"hello", "create", "seed", "close", "pause", "resume",
		"reannounce", "list", "status", "watch", "unwatch", "info",
		"set", "session_get", "session_set", "files", "peers",
		"trackers", "recheck", "move",
	};
	static const char *const errs[TP_ERR_COUNT] = {
		"bad_request", "unknown_op", "not_found", "forbidden",
		"too_large", "busy", "internal",
	};
	int i;

	(void)state;
	for (i = 0; i < TP_OP_COUNT; i++)
		assert_string_equal(tp_op_name((enum tp_op)i), ops[i]);
	for (i = 0; i < TP_ERR_COUNT; i++)
		assert_string_equal(tp_err_name((enum tp_err)i), errs[i]);
	assert_non_null(tp_op_name(TP_OP_COUNT));
	assert_non_null(tp_err_name(TP_ERR_COUNT));
}

static void test_request_new(void **state)
{
	json_object *obj;
	char *line;
	size_t len;
	struct tp_request req;
	int i;

	(void)state;
	obj = tp_request_new(TP_OP_LIST, 7);
	line = tp_line(obj, &len);
	assert_string_equal(line, "{\"op\":\"list\",\"tag\":7}\n");
	free(line);
	json_object_put(obj);
	obj = tp_request_new(TP_OP_INFO, -1);
	line = tp_line(obj, &len);
	assert_string_equal(line, "{\"op\":\"info\"}\n");
	free(line);
	json_object_put(obj);
	assert_null(tp_request_new(TP_OP_COUNT, 1));

	/* What the client builds, the daemon parses back. */
	for (i = 0; i < TP_OP_COUNT; i++) {
		obj = tp_request_new((enum tp_op)i, i);
		switch (i) {
		case TP_OP_CREATE:
			json_object_object_add(obj, "magnet",
					       json_object_new_string("magnet:?x"));
			break;
		case TP_OP_SEED:
			json_object_object_add(obj, "path",
					       json_object_new_string("/a/b"));
			break;
		case TP_OP_CLOSE: case TP_OP_PAUSE: case TP_OP_RESUME:
		case TP_OP_REANNOUNCE: case TP_OP_STATUS: case TP_OP_SET:
		case TP_OP_FILES: case TP_OP_PEERS: case TP_OP_TRACKERS:
		case TP_OP_RECHECK:
			json_object_object_add(obj, "id",
					       json_object_new_int64(5));
			break;
		case TP_OP_MOVE:
			json_object_object_add(obj, "save_dir",
					       json_object_new_string("/x"));
			json_object_object_add(obj, "id",
					       json_object_new_int64(5));
			break;
		default:
			break;
		}
		line = tp_line(obj, &len);
		assert_non_null(line);
		/* The parser is given the line without its newline. */
		tp_ok_len(line, len - 1, &req);
		assert_int_equal(req.op, i);
		assert_int_equal(json_object_get_int(req.tag), i);
		tp_request_free(&req);
		free(line);
		json_object_put(obj);
	}
}

static void test_line_framing(void **state)
{
	json_object *ev = tp_event_new("StartFail", NULL);
	char *line;
	size_t len = 0;

	(void)state;
	json_object_object_add(ev, "reason",
			       json_object_new_string("two\nlines\r\n/and/a/path"));
	line = tp_line(ev, &len);
	assert_non_null(line);
	assert_int_equal(len, strlen(line));
	assert_true(len >= 2);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1));
	/* No escaped slashes: paths read as paths. */
	assert_non_null(strstr(line, "/and/a/path"));
	assert_null(strstr(line, "\\/"));
	assert_null(strstr(line, "tag"));
	assert_non_null(strstr(line, "\"type\":\"StartFail\""));
	free(line);
	json_object_put(ev);
	assert_null(tp_line(NULL, &len));
}

static void test_event_tag_echo(void **state)
{
	json_object *tag = json_object_new_string("x\"y");
	json_object *ev = tp_event_new("Closed", tag);
	json_object *back, *v;
	char *line;
	size_t len;

	(void)state;
	json_object_object_add(ev, "id", json_object_new_int(4));
	line = tp_line(ev, &len);
	json_object_put(ev);
	/* The event holds its own reference: the tag is still ours. */
	assert_string_equal(json_object_get_string(tag), "x\"y");
	json_object_put(tag);
	back = json_tokener_parse(line);
	assert_non_null(back);
	assert_true(json_object_object_get_ex(back, "tag", &v));
	assert_string_equal(json_object_get_string(v), "x\"y");
	assert_true(json_object_object_get_ex(back, "type", &v));
	assert_string_equal(json_object_get_string(v), "Closed");
	json_object_put(back);
	free(line);

	ev = tp_error_event(TP_ERR_NOT_FOUND, "no torrent 9", NULL);
	line = tp_line(ev, &len);
	assert_string_equal(line, "{\"type\":\"Error\",\"code\":\"not_found\","
			    "\"reason\":\"no torrent 9\"}\n");
	free(line);
	json_object_put(ev);
}

/* ---- status ------------------------------------------------------------- */

static void tp_fill_status(struct tp_status *st)
{
	memset(st, 0, sizeof(*st));
	st->id = 12;
	st->name = strdup("ubuntu \"iso\"");
	strcpy(st->info_hash, "0123456789abcdef0123456789abcdef01234567");
	st->state = "downloading";
	st->paused = true;
	st->progress = 0.25;
	st->done_bytes = 5000000000LL;
	st->total_bytes = 20000000000LL;
	st->down_rate = 123456;
	st->up_rate = 789;
	st->peers = 17;
	st->seeds = 3;
	st->error = strdup("disk full");
	st->save_path = strdup("/var/lib/tpd/downloads");
	st->owner = 4000000000u;
}

static void tp_assert_status_equal(const struct tp_status *a,
				   const struct tp_status *b)
{
	assert_int_equal(a->id, b->id);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->info_hash, b->info_hash);
	assert_string_equal(a->state, b->state);
	assert_int_equal(a->paused, b->paused);
	assert_true(a->progress == b->progress);
	assert_int_equal(a->done_bytes, b->done_bytes);
	assert_int_equal(a->total_bytes, b->total_bytes);
	assert_int_equal(a->down_rate, b->down_rate);
	assert_int_equal(a->up_rate, b->up_rate);
	assert_int_equal(a->peers, b->peers);
	assert_int_equal(a->seeds, b->seeds);
	if (a->error || b->error)
		assert_string_equal(a->error, b->error);
	assert_string_equal(a->save_path, b->save_path);
	assert_int_equal(a->owner, b->owner);
}

/* The oracle for the daemon's status text (common/jsonw.c): the same
 * fields built as a json-c object, as tpd built them before.  The
 * steering fields of SPEC section 8 are null where the value is "the
 * default" or unknown. */
static void ref_status_steer_json(const struct tp_status *st,
				    json_object *obj)
{
	json_object *labels = json_object_new_array_ext((int)st->n_labels);

	for (size_t i = 0; i < st->n_labels; i++)
		json_object_array_add(labels,
				      json_object_new_string(st->labels[i]));
	json_object_object_add(obj, "labels", labels);
	json_object_object_add(obj, "queue_position",
			       json_object_new_int(st->queue_position));
	json_object_object_add(obj, "queued",
			       json_object_new_boolean(st->queued));
	json_object_object_add(obj, "sequential",
			       json_object_new_boolean(st->sequential));
	json_object_object_add(obj, "download_limit",
			       json_object_new_int64(st->download_limit));
	json_object_object_add(obj, "upload_limit",
			       json_object_new_int64(st->upload_limit));
	json_object_object_add(obj, "uploaded_bytes",
			       json_object_new_int64(st->uploaded_bytes));
	json_object_object_add(obj, "downloaded_bytes",
			       json_object_new_int64(st->downloaded_bytes));
	json_object_object_add(obj, "ratio", json_object_new_double(st->ratio));
	json_object_object_add(obj, "ratio_limit",
			       st->ratio_limit < 0
				       ? NULL
				       : json_object_new_double(st->ratio_limit));
	json_object_object_add(obj, "seed_time_limit",
			       st->seed_time_limit < 0
				       ? NULL
				       : json_object_new_int64(st->seed_time_limit));
	json_object_object_add(obj, "seeding_time",
			       json_object_new_int64(st->seeding_time));
	json_object_object_add(obj, "eta",
			       st->eta < 0 ? NULL : json_object_new_int64(st->eta));
	json_object_object_add(obj, "stop_reason",
			       st->stop_reason
				       ? json_object_new_string(st->stop_reason)
				       : NULL);
}

static void ref_status_to_json(const struct tp_status *st, json_object *obj)
{
	json_object_object_add(obj, "id", json_object_new_int64(st->id));
	json_object_object_add(obj, "name",
			       json_object_new_string(st->name ? st->name : ""));
	json_object_object_add(obj, "info_hash",
			       json_object_new_string(st->info_hash));
	json_object_object_add(obj, "state",
			       json_object_new_string(st->state ? st->state :
						      "unknown"));
	json_object_object_add(obj, "paused",
			       json_object_new_boolean(st->paused));
	json_object_object_add(obj, "progress",
			       json_object_new_double(st->progress));
	json_object_object_add(obj, "done_bytes",
			       json_object_new_int64(st->done_bytes));
	json_object_object_add(obj, "total_bytes",
			       json_object_new_int64(st->total_bytes));
	json_object_object_add(obj, "down_rate",
			       json_object_new_int64(st->down_rate));
	json_object_object_add(obj, "up_rate",
			       json_object_new_int64(st->up_rate));
	json_object_object_add(obj, "peers", json_object_new_int(st->peers));
	json_object_object_add(obj, "seeds", json_object_new_int(st->seeds));
	json_object_object_add(obj, "save_path",
			       json_object_new_string(st->save_path ?
						      st->save_path : ""));
	json_object_object_add(obj, "owner",
			       json_object_new_int64((int64_t)st->owner));
	if (st->error)
		json_object_object_add(obj, "error",
				       json_object_new_string(st->error));
	ref_status_steer_json(st, obj);
}

/* Status -> object -> line -> object -> status. */
static void tp_roundtrip(const struct tp_status *st, struct tp_status *out)
{
	json_object *ev = tp_event_new("StatusUpdate", NULL), *back;
	char *line;
	size_t len;

	ref_status_to_json(st, ev);
	line = tp_line(ev, &len);
	json_object_put(ev);
	back = json_tokener_parse(line);
	free(line);
	assert_non_null(back);
	assert_int_equal(tp_status_from_json(back, out), 0);
	json_object_put(back);
}

static void test_status_roundtrip(void **state)
{
	struct tp_status st, out;

	(void)state;
	tp_fill_status(&st);
	tp_roundtrip(&st, &out);
	tp_assert_status_equal(&st, &out);
	tp_status_free(&out);

	/* No error: the field is absent and comes back NULL. */
	free(st.error);
	st.error = NULL;
	st.progress = 1.0;
	st.state = "seeding";
	st.paused = false;
	{
		json_object *obj = json_object_new_object();

		ref_status_to_json(&st, obj);
		assert_false(json_object_object_get_ex(obj, "error", NULL));
		assert_true(json_object_object_get_ex(obj, "owner", NULL));
		json_object_put(obj);
	}
	tp_roundtrip(&st, &out);
	tp_assert_status_equal(&st, &out);
	assert_null(out.error);
	tp_status_free(&out);
	assert_null(out.name);
	tp_status_free(&st);
}

/* The lines the daemon splices from kept status texts (tp_status_text,
 * tp_status_line, tp_line_array) are byte for byte those json-c gives for
 * the same objects: the wire format does not depend on the shortcut. */
static void test_status_text_splice(void **state)
{
	struct tp_status st[3];
	char *texts[3];
	size_t lens[3];
	json_object *tag = json_object_new_string("t\"1");
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++)
		tp_fill_status(&st[i]);
	/* Without error; a name with bytes that are not UTF-8 (repaired as
	 * tp_line repairs them); odd doubles. */
	free(st[1].error);
	st[1].error = NULL;
	st[1].progress = 1.0 / 3.0;
	free(st[2].name);
	st[2].name = strdup("caf\xc3 \xff \xe2\x82\xac \"q\"\\ /x");
	st[2].ratio = 1e-9;
	for (i = 0; i < 3; i++) {
		texts[i] = tp_status_text(&st[i], &lens[i]);
		assert_non_null(texts[i]);
		assert_int_equal(strlen(texts[i]), lens[i]);
	}
	for (i = 0; i < 3; i++) {
		const char *types[] = {"Status", "StatusUpdate"};
		for (size_t k = 0; k < 2; k++) {
			json_object *want_ev = tp_event_new(types[k], k ? NULL : tag);
			size_t want_len, len;
			char *want, *got;

			ref_status_to_json(&st[i], want_ev);
			want = tp_line(want_ev, &want_len);
			got = tp_status_line(types[k], k ? NULL : tag, texts[i],
					     lens[i], &len);
			assert_non_null(got);
			assert_int_equal(len, want_len);
			assert_string_equal(got, want);
			free(want);
			free(got);
			json_object_put(want_ev);
		}
	}
	for (size_t n = 0; n <= 3; n++) {
		json_object *want_ev = tp_event_new("List", tag);
		json_object *arr = json_object_new_array();
		json_object *ev = tp_event_new("List", tag);
		size_t want_len, len;
		char *want, *got;

		for (i = 0; i < n; i++) {
			json_object *o = json_object_new_object();
			ref_status_to_json(&st[i], o);
			json_object_array_add(arr, o);
		}
		json_object_object_add(want_ev, "torrents", arr);
		want = tp_line(want_ev, &want_len);
		got = tp_line_array(ev, "torrents", (const char *const *)texts,
				    lens, n, &len);
		assert_non_null(got);
		assert_int_equal(len, want_len);
		assert_string_equal(got, want);
		free(want);
		free(got);
		json_object_put(want_ev);
		json_object_put(ev);
	}
	for (i = 0; i < 3; i++) {
		free(texts[i]);
		tp_status_free(&st[i]);
	}
	json_object_put(tag);
}

/* A string of random bytes 1..255, those json-c escapes (and '/' and
 * bytes that are not UTF-8) often among them. */
static char *tp_random_str(unsigned *seed)
{
	static const char tricky[] = "\"\\/\b\f\n\r\t\x01\x1f\x7f\xc3\xa9\xff";
	size_t n = (size_t)(rand_r(seed) % 12);
	char *s = malloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		int r = rand_r(seed) % 4;
		s[i] = r == 0 ? tricky[rand_r(seed) % (sizeof(tricky) - 1)]
		     : r == 1 ? (char)(1 + rand_r(seed) % 255)
			      : (char)('a' + rand_r(seed) % 26);
	}
	s[n] = '\0';
	return s;
}

static double tp_random_double(unsigned *seed)
{
	static const double odd[] = {0.0, -0.0, 1.0, -1.0, 0.1, 1.0 / 3.0,
				     1e-9, 1e21, 1e300, 5e-324, 123456789012.0,
				     0.25, 2.5e17};
	int r = rand_r(seed) % 4;

	if (r == 0)
		return odd[rand_r(seed) % (int)(sizeof(odd) / sizeof(odd[0]))];
	if (r == 1)
		return (double)rand_r(seed);
	if (r == 2)
		return (double)rand_r(seed) / (double)(rand_r(seed) + 1);
	return -1.0;
}

static int64_t tp_random_i64(unsigned *seed)
{
	static const int64_t odd[] = {0, -1, 1, INT64_MAX, INT64_MIN,
				      INT32_MAX, INT32_MIN};
	if (rand_r(seed) % 3 == 0)
		return odd[rand_r(seed) % 7];
	return ((int64_t)rand_r(seed) << 20) - (int64_t)rand_r(seed);
}

/* tp_status_text and tp_status_line, written without json-c, against
 * json-c's own output for many random statuses (issue 12). */
static void test_status_text_matches_json_c(void **state)
{
	static const char *states[] = {"downloading", "seeding", "unknown"};
	unsigned seed = 12;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		struct tp_status st;
		memset(&st, 0, sizeof st);
		st.id = tp_random_i64(&seed);
		st.name = rand_r(&seed) % 8 ? tp_random_str(&seed) : NULL;
		snprintf(st.info_hash, sizeof st.info_hash, "%08x", rand_r(&seed));
		st.state = rand_r(&seed) % 8 ? states[rand_r(&seed) % 3] : NULL;
		st.paused = rand_r(&seed) & 1;
		st.progress = tp_random_double(&seed);
		st.done_bytes = tp_random_i64(&seed);
		st.total_bytes = tp_random_i64(&seed);
		st.down_rate = tp_random_i64(&seed);
		st.up_rate = tp_random_i64(&seed);
		st.peers = (int)tp_random_i64(&seed);
		st.seeds = rand_r(&seed);
		st.error = rand_r(&seed) % 2 ? tp_random_str(&seed) : NULL;
		st.save_path = rand_r(&seed) % 8 ? tp_random_str(&seed) : NULL;
		st.owner = (uint32_t)rand_r(&seed) * 3u;
		st.n_labels = (size_t)(rand_r(&seed) % 3);
		st.labels = calloc(st.n_labels + 1, sizeof *st.labels);
		for (size_t i = 0; i < st.n_labels; i++)
			st.labels[i] = tp_random_str(&seed);
		st.queue_position = (int)tp_random_i64(&seed);
		st.queued = rand_r(&seed) & 1;
		st.sequential = rand_r(&seed) & 1;
		st.download_limit = tp_random_i64(&seed);
		st.upload_limit = tp_random_i64(&seed);
		st.uploaded_bytes = tp_random_i64(&seed);
		st.downloaded_bytes = tp_random_i64(&seed);
		st.ratio = tp_random_double(&seed);
		st.ratio_limit = tp_random_double(&seed);
		st.seed_time_limit = tp_random_i64(&seed);
		st.seeding_time = tp_random_i64(&seed);
		st.eta = tp_random_i64(&seed);
		st.stop_reason = rand_r(&seed) % 2 ? "ratio" : NULL;
		if (round == 0) {
			st.progress = NAN;
			st.ratio = INFINITY;
			st.ratio_limit = 2.0;
		}

		json_object *obj = json_object_new_object();
		ref_status_to_json(&st, obj);
		size_t want_len, len;
		char *want = tp_line(obj, &want_len);
		json_object_put(obj);
		char *text = tp_status_text(&st, &len);
		assert_non_null(want);
		assert_non_null(text);
		want[--want_len] = '\0';
		assert_int_equal(len, want_len);
		assert_string_equal(text, want);
		free(want);

		/* The event lines: StatusUpdate untagged, Status with tags of
		 * every kind. */
		char *tagstr = tp_random_str(&seed);
		json_object *tags[] = {NULL, json_object_new_string(tagstr),
				       json_object_new_int64(tp_random_i64(&seed)),
				       json_tokener_parse("{\"a\":[1,2.50,\"x/y\"]}")};
		free(tagstr);
		for (size_t k = 0; k < sizeof tags / sizeof tags[0]; k++) {
			const char *type = k ? "Status" : "StatusUpdate";
			json_object *ev = tp_event_new(type, tags[k]);
			ref_status_to_json(&st, ev);
			want = tp_line(ev, &want_len);
			json_object_put(ev);
			char *got = tp_status_line(type, tags[k], text, len,
						   &len);
			assert_non_null(got);
			assert_string_equal(got, want);
			assert_int_equal(strlen(got), len);
			free(want);
			free(got);
			len = strlen(text);

			/* An event of other members (NewTorrentCreated's). */
			ev = tp_event_new("NewTorrentCreated", tags[k]);
			json_object_object_add(ev, "id", json_object_new_int64(st.id));
			json_object_object_add(ev, "name", json_object_new_string(
					       st.save_path ? st.save_path : "x"));
			want = tp_line(ev, &want_len);
			json_object_put(ev);
			struct jsonw w = {0};
			tp_event_open(&w, "NewTorrentCreated", tags[k]);
			jsonw_lit(&w, ",\"id\":");
			jsonw_i64(&w, st.id);
			jsonw_lit(&w, ",\"name\":");
			jsonw_str(&w, st.save_path ? st.save_path : "x");
			size_t got_len = 0;
			got = tp_event_close(&w, &got_len);
			assert_non_null(got);
			assert_string_equal(got, want);
			assert_int_equal(got_len, want_len);
			free(want);
			free(got);
			json_object_put(tags[k]);
		}
		free(text);
		tp_status_free(&st);
	}
}

static void test_status_copy(void **state)
{
	struct tp_status st, cp;

	(void)state;
	tp_fill_status(&st);
	tp_status_copy(&cp, &st);
	tp_assert_status_equal(&st, &cp);
	assert_ptr_not_equal(cp.name, st.name);
	assert_ptr_not_equal(cp.error, st.error);
	assert_ptr_not_equal(cp.save_path, st.save_path);
	tp_status_free(&st);
	/* The copy outlives the original. */
	assert_string_equal(cp.save_path, "/var/lib/tpd/downloads");
	tp_status_free(&cp);
}

static void test_status_from_json(void **state)
{
	static const char *const good[] = {
		"{\"id\":1,\"state\":\"seeding\"}",
		("{\"type\":\"StatusUpdate\",\"id\":2,\"state\":\"checking_files\","
		 "\"progress\":0,\"name\":\"x\"}"),
		"{\"id\":3,\"state\":\"warp_drive\",\"progress\":1}",
	};
	static const char *const bad[] = {
		"{\"state\":\"seeding\"}",
		"{\"id\":1}",
		"{\"id\":\"1\",\"state\":\"seeding\"}",
		"{\"id\":1,\"state\":3}",
		"{\"id\":1,\"state\":\"seeding\",\"peers\":\"3\"}",
		"{\"id\":1,\"state\":\"seeding\",\"peers\":4294967296}",
		"{\"id\":1,\"state\":\"seeding\",\"owner\":-1}",
		"{\"id\":1,\"state\":\"seeding\",\"name\":1,\"save_path\":\"/a\"}",
		"{\"id\":1,\"state\":\"seeding\",\"name\":\"x\",\"error\":1}",
		"{\"id\":1,\"state\":\"seeding\",\"info_hash\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\"}",
		"[1]",
	};
	struct tp_status st;
	json_object *o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		o = json_tokener_parse(good[i]);
		assert_non_null(o);
		assert_int_equal(tp_status_from_json(o, &st), 0);
		assert_int_equal(st.id, (int64_t)i + 1);
		json_object_put(o);
		tp_status_free(&st);
	}
	o = json_tokener_parse(good[2]);
	assert_int_equal(tp_status_from_json(o, &st), 0);
	json_object_put(o);
	/* An unknown state maps to a static "unknown", not freed memory. */
	assert_string_equal(st.state, "unknown");
	assert_true(st.progress == 1.0);
	assert_null(st.name);
	assert_int_equal(st.info_hash[0], '\0');
	tp_status_free(&st);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = json_tokener_parse(bad[i]);
		assert_non_null(o);
		if (tp_status_from_json(o, &st) != -1)
			fail_msg("accepted status %s", bad[i]);
		assert_null(st.name);
		assert_null(st.save_path);
		json_object_put(o);
	}
}

/* The state pointer survives the JSON it came from. */
static void test_status_state_static(void **state)
{
	struct tp_status st;
	json_object *o = json_tokener_parse("{\"id\":1,\"state\":\"finished\"}");

	(void)state;
	assert_int_equal(tp_status_from_json(o, &st), 0);
	json_object_put(o);
	assert_string_equal(st.state, "finished");
	tp_status_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_simple_ops),
		cmocka_unit_test(test_parse_id_ops),
		cmocka_unit_test(test_parse_create_torrent),
		cmocka_unit_test(test_parse_create_sources),
		cmocka_unit_test(test_parse_create_bad_base64),
		cmocka_unit_test(test_parse_seed),
		cmocka_unit_test(test_parse_watch),
		cmocka_unit_test(test_parse_tags),
		cmocka_unit_test(test_tag_exact_text),
		cmocka_unit_test(test_json_scan),
		cmocka_unit_test(test_parse_length_bound),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_bad_trailing),
		cmocka_unit_test(test_bad_deep),
		cmocka_unit_test(test_bad_not_object),
		cmocka_unit_test(test_bad_op),
		cmocka_unit_test(test_unknown_op_event),
		cmocka_unit_test(test_bad_types),
		cmocka_unit_test(test_bad_piece_size),
		cmocka_unit_test(test_bad_missing),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_bad_sources),
		cmocka_unit_test(test_bad_nul),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_bad_integers),
		cmocka_unit_test(test_bad_tag),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_request_new),
		cmocka_unit_test(test_line_framing),
		cmocka_unit_test(test_event_tag_echo),
		cmocka_unit_test(test_status_roundtrip),
		cmocka_unit_test(test_status_copy),
		cmocka_unit_test(test_status_text_splice),
		cmocka_unit_test(test_status_text_matches_json_c),
		cmocka_unit_test(test_status_from_json),
		cmocka_unit_test(test_status_state_static),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
