/*
 * test_pipe_parse.c - unit tests of the `tpctl pipe` line grammar
 * (client/pipe_parse.c, compiled in here so no client object is needed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../client/pipe_parse.c"

/* Parses line and checks kind and (for kinds with one) the argument. */
static void check(const char *line, enum pipe_kind kind, const char *arg)
{
	struct pipe_cmd cmd;

	assert_int_equal(pipe_parse_line(line, &cmd), kind);
	assert_int_equal(cmd.kind, kind);
	if (kind == PIPE_BAD) {
		assert_non_null(cmd.why);
		return;
	}
	if (!arg)
		return;
	assert_int_equal(cmd.arg_len, strlen(arg));
	assert_memory_equal(cmd.arg, arg, strlen(arg));
}

static void test_empty(void **state)
{
	check("", PIPE_EMPTY, NULL);
	check("\n", PIPE_EMPTY, NULL);
	check("  \t\r\n", PIPE_EMPTY, NULL);
}

static void test_file(void **state)
{
	check("file:/srv/x/song.ogg", PIPE_FILE, "/srv/x/song.ogg");
	check("file:song.ogg\n", PIPE_FILE, "song.ogg");
	check("file:dir/with space.ogg \r\n", PIPE_FILE, "dir/with space.ogg");
	check("  file:a", PIPE_FILE, "a");
	check("file:", PIPE_BAD, NULL);
	check("file:   ", PIPE_BAD, NULL);
}

static void test_torrent_url(void **state)
{
	check("torrent:http://127.0.0.1:8080/a.torrent", PIPE_TORRENT_URL,
	      "http://127.0.0.1:8080/a.torrent");
	check("torrent:https://127.0.0.1/a.torrent\r\n", PIPE_TORRENT_URL,
	      "https://127.0.0.1/a.torrent");
	check("torrent:HTTP://127.0.0.1/a", PIPE_TORRENT_URL,
	      "HTTP://127.0.0.1/a");
	check("torrent:http://", PIPE_BAD, NULL);
	check("torrent:ftp://127.0.0.1/a.torrent", PIPE_BAD, NULL);
	check("torrent:file:///tmp/a.torrent", PIPE_BAD, NULL);
}

static void test_torrent_path(void **state)
{
	check("torrent:/tmp/a.torrent", PIPE_TORRENT_PATH, "/tmp/a.torrent");
	check("torrent:a.torrent", PIPE_TORRENT_PATH, "a.torrent");
	check("torrent:sub/dir:with:colons.torrent", PIPE_TORRENT_PATH,
	      "sub/dir:with:colons.torrent");
	check("torrent:httpfoo.torrent", PIPE_TORRENT_PATH, "httpfoo.torrent");
	check("torrent:", PIPE_BAD, NULL);
}

static void test_magnet(void **state)
{
	const char *m = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=x";
	char line[256];

	check(m, PIPE_MAGNET, m);
	snprintf(line, sizeof line, "%s\n", m);
	check(line, PIPE_MAGNET, m);
	snprintf(line, sizeof line, "torrent:%s", m);
	check(line, PIPE_MAGNET, m);
	check("magnet:?", PIPE_BAD, NULL);
	check("magnet:xt=foo", PIPE_BAD, NULL);
}

static void test_bad(void **state)
{
	check("hello", PIPE_BAD, NULL);
	check("files:/x", PIPE_BAD, NULL);
	check("/tmp/a.torrent", PIPE_BAD, NULL);
	check("http://127.0.0.1/a.torrent", PIPE_BAD, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_torrent_url),
		cmocka_unit_test(test_torrent_path),
		cmocka_unit_test(test_magnet),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
