/*
 * test_web.c - unit tests of tpweb's parts that need no server: the
 * password file and Basic credentials (web/auth.c), and the RPC's answers
 * that need no tpd (web/trpc.c: malformed requests, unknown methods, the
 * tag, an unreachable tpd).  Single-threaded cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "auth.h"
#include "codec.h"
#include "trpc.h"

/* Writes `text` to a new temporary file; its path is malloc'd. */
static char *tw_file(const char *text)
{
	char *path = strdup("/tmp/test_web.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static char *tw_basic(const char *user_pass)
{
	char *b64 = tp_base64_encode((const unsigned char *)user_pass,
				     strlen(user_pass));
	char *h = NULL;

	assert_true(asprintf(&h, "Basic %s", b64) > 0);
	free(b64);
	return h;
}

static void test_auth_round_trip(void **state)
{
	struct sockaddr_in peer = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(0x7f000002) };
	struct sockaddr_in other = { .sin_family = AF_INET,
				     .sin_addr.s_addr = htonl(0x7f000003) };
	char *err = NULL, *hash = auth_hash("s3cret pass", &err);
	char *line = NULL, *path, *good, *bad, *nouser;
	struct auth *a;

	(void)state;
	assert_non_null(hash);
	assert_null(strstr(hash, "s3cret"));
	assert_true(asprintf(&line, "# tpweb\n\nalice:%s\n", hash) > 0);
	path = tw_file(line);
	a = auth_load(path, &err);
	assert_non_null(a);
	good = tw_basic("alice:s3cret pass");
	bad = tw_basic("alice:s3cret pasS");
	nouser = tw_basic("bob:s3cret pass");
	assert_int_equal(auth_check(a, good, (struct sockaddr *)&peer), 0);
	assert_int_equal(auth_check(a, NULL, (struct sockaddr *)&peer), -1);
	assert_int_equal(auth_check(a, "Bearer x", (struct sockaddr *)&peer), -1);
	/* One wrong guess costs a second; the table then forgives on success. */
	assert_int_equal(auth_check(a, bad, (struct sockaddr *)&peer), -1);
	assert_int_equal(auth_check(a, nouser, (struct sockaddr *)&other), -1);
	assert_int_equal(auth_check(a, good, (struct sockaddr *)&peer), 0);
	auth_free(a);
	unlink(path);
	free(path);
	free(line);
	free(hash);
	free(good);
	free(bad);
	free(nouser);
}

static void test_auth_bad_files(void **state)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "", "has no USER:HASH line" },
		{ "alice\n", ":1: expected USER:HASH" },
		{ "alice:plaintext\n", ":1: expected USER:HASH" },
		{ "\nalice:$pbkdf2-sha256$1$AAAA$AAAA\n", ":2: expected USER:HASH" },
	};
	char *err = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *path = tw_file(cases[i].text);

		assert_null(auth_load(path, &err));
		assert_non_null(err);
		assert_non_null(strstr(err, cases[i].why));
		free(err);
		err = NULL;
		unlink(path);
		free(path);
	}
	assert_null(auth_load("/nonexistent/passwd", &err));
	assert_non_null(strstr(err, "cannot read the password file"));
	free(err);
}

/* The result and tag of one RPC answer. */
static void tw_rpc(const char *body, const char *want_result,
		   const char *want_tag)
{
	char *text = trpc_handle("/nonexistent/tpd.sock", body, strlen(body));
	json_object *o = json_tokener_parse(text), *v;

	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "result", &v));
	assert_non_null(strstr(json_object_get_string(v), want_result));
	if (want_tag) {
		assert_true(json_object_object_get_ex(o, "tag", &v));
		assert_string_equal(json_object_to_json_string(v), want_tag);
	} else {
		assert_false(json_object_object_get_ex(o, "tag", NULL));
	}
	assert_true(json_object_object_get_ex(o, "arguments", &v));
	json_object_put(o);
	free(text);
}

static void test_rpc_without_tpd(void **state)
{
	(void)state;
	tw_rpc("", "not a JSON object", NULL);
	tw_rpc("[1,2]", "not a JSON object", NULL);
	tw_rpc("{\"method\":", "not a JSON object", NULL);
	tw_rpc("{\"tag\":5}", "no method name", "5");
	tw_rpc("{\"method\":\"nope\",\"tag\":\"x\"}", "method name not recognized",
	       "\"x\"");
	tw_rpc("{\"method\":\"torrent-get\",\"arguments\":[]}",
	       "\"arguments\" must be an object", NULL);
	tw_rpc("{\"method\":\"torrent-get\",\"arguments\":{}}",
	       "no fields specified", NULL);
	tw_rpc("{\"method\":\"torrent-add\",\"arguments\":{}}",
	       "no filename or metainfo", NULL);
	tw_rpc("{\"method\":\"torrent-add\",\"arguments\":{\"filename\":\"x\"}}",
	       "absolute path", NULL);
	tw_rpc("{\"method\":\"session-get\",\"tag\":1}",
	       "cannot connect to /nonexistent/tpd.sock", "1");
	tw_rpc("{\"method\":\"free-space\",\"arguments\":{\"path\":\"rel\"}}",
	       "absolute", NULL);
	tw_rpc("{\"method\":\"free-space\",\"arguments\":{\"path\":\"/\"}}",
	       "success", NULL);
	/* Deeper than TRPC_DEPTH_MAX is refused, not walked. */
	tw_rpc("{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
	       "not a JSON object", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_round_trip),
		cmocka_unit_test(test_auth_bad_files),
		cmocka_unit_test(test_rpc_without_tpd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
