/*
 * test_tpctl_args.c - unit tests of tpctl's command line parsing and pure
 * formatting (client/tpctl_args.c and client/tpctl_fmt.c, compiled in here;
 * the command handlers are stubbed, since only the table is exercised).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../client/tpctl_args.c"
#include "../../client/tpctl_fmt.c"

#define TEST_STUB(name) \
	int tpctl_cmd_##name(const struct tpctl_args *a) { (void)a; return 0; }
TEST_STUB(add) TEST_STUB(seed) TEST_STUB(close) TEST_STUB(pause)
TEST_STUB(resume) TEST_STUB(reannounce) TEST_STUB(list) TEST_STUB(status)
TEST_STUB(info) TEST_STUB(watch) TEST_STUB(wait) TEST_STUB(pipe)
TEST_STUB(explain) TEST_STUB(set) TEST_STUB(limit) TEST_STUB(queue)
TEST_STUB(session) TEST_STUB(files) TEST_STUB(peers) TEST_STUB(trackers)
TEST_STUB(recheck) TEST_STUB(move)

/* Parses a NULL-terminated word list (copied: getopt permutes argv). */
static int parse(struct tpctl_args *a, ...)
{
	char *argv[32];
	int argc = 0;
	const char *w;
	va_list ap;

	argv[argc++] = "tpctl";
	va_start(ap, a);
	while ((w = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = (char *)w;
	va_end(ap);
	argv[argc] = NULL;
	return tpctl_args_parse(argc, argv, a);
}

static void test_global(void **state)
{
	struct tpctl_args a;

	assert_int_equal(parse(&a, NULL), -1);
	assert_non_null(strstr(a.error, "no command"));
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "--version", NULL), 0);
	assert_true(a.version);
	assert_null(a.cmd);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "-h", NULL), 0);
	assert_true(a.help);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "-s", "/tmp/x.sock", "--json", "list",
			       NULL), 0);
	assert_string_equal(a.socket, "/tmp/x.sock");
	assert_true(a.json);
	assert_string_equal(a.cmd->name, "list");
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "--socket=/s", "info", NULL), 0);
	assert_string_equal(a.socket, "/s");
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "--frob", "list", NULL), -1);
	assert_non_null(strstr(a.error, "--frob"));
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "list", "--json", NULL), 0);
	assert_true(a.json);
	tpctl_args_free(&a);

	/* --timeout: seconds (fractions allowed), before or after the
	 * command; 0 means "the command's default". */
	assert_int_equal(parse(&a, "list", NULL), 0);
	assert_int_equal(a.timeout_ms, 0);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "--timeout", "2.5", "list", NULL), 0);
	assert_int_equal(a.timeout_ms, 2500);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "watch", "--timeout=7", "3", NULL), 0);
	assert_int_equal(a.timeout_ms, 7000);
	assert_int_equal(a.n_ids, 1);
	tpctl_args_free(&a);
	for (const char *const *bad = (const char *const[]){ "0", "-1", "x",
			"1s", "nan", "inf", "1e9", "", NULL }; *bad; bad++) {
		assert_int_equal(parse(&a, "--timeout", *bad, "list", NULL), -1);
		assert_non_null(strstr(a.error, "--timeout"));
		tpctl_args_free(&a);
	}

	/* Options after the command belong to the command. */
	assert_int_equal(parse(&a, "list", "-s", "/x", NULL), -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "-s", NULL), -1);
	assert_non_null(strstr(a.error, "needs a value"));
	tpctl_args_free(&a);
}

static void test_lookup(void **state)
{
	char *err = NULL;
	size_t i;

	/* "li" was list until limit came (SPEC 8): now it is ambiguous. */
	assert_string_equal(tpctl_cmd_find("lis", &err)->name, "list");
	assert_null(tpctl_cmd_find("li", &err));
	assert_non_null(strstr(err, "limit"));
	free(err);
	assert_string_equal(tpctl_cmd_find("reanno", &err)->name,
			    "reannounce");
	assert_string_equal(tpctl_cmd_find("wait", &err)->name, "wait");
	assert_null(tpctl_cmd_find("wa", &err));
	assert_non_null(strstr(err, "ambiguous"));
	assert_non_null(strstr(err, "watch"));
	free(err);
	assert_null(tpctl_cmd_find("frobnicate", &err));
	assert_non_null(strstr(err, "unknown"));
	free(err);
	assert_null(tpctl_cmd_find("", &err));
	free(err);
	/* Every command is reachable by its full name and has help. */
	for (i = 0; i < tpctl_n_cmds; i++) {
		assert_ptr_equal(tpctl_cmd_find(tpctl_cmds[i].name, &err),
				 &tpctl_cmds[i]);
		assert_non_null(tpctl_cmds[i].handler);
		assert_true(strlen(tpctl_cmds[i].help) > 0);
	}
}

static void test_add(void **state)
{
	struct tpctl_args a;

	assert_int_equal(parse(&a, "add", "x.torrent", "--dir", "d",
			       "--wait", "--peer", "127.0.0.1:1", "--peer",
			       "127.0.0.1:2", "--paused", NULL), 0);
	assert_string_equal(a.cmd->name, "add");
	assert_string_equal(a.source, "x.torrent");
	assert_string_equal(a.dir, "d");
	assert_true(a.wait);
	assert_true(a.paused);
	assert_int_equal(a.n_peers, 2);
	assert_string_equal(a.peers[1], "127.0.0.1:2");
	tpctl_args_free(&a);

	/* Options may come first; "--" ends them. */
	assert_int_equal(parse(&a, "add", "--dir=/d", "magnet:?xt=1", NULL), 0);
	assert_string_equal(a.source, "magnet:?xt=1");
	assert_string_equal(a.dir, "/d");
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "add", "--", "-odd.torrent", NULL), 0);
	assert_string_equal(a.source, "-odd.torrent");
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "add", NULL), -1);
	assert_non_null(strstr(a.error, "usage"));
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "add", "a", "b", NULL), -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "add", "a", "--peer", "nocolon", NULL), -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "add", "a", "--dir", NULL), -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "add", "a", "--delete-files", NULL), -1);
	assert_non_null(strstr(a.error, "--delete-files"));
	tpctl_args_free(&a);

	/* COMMAND --help needs no arguments. */
	assert_int_equal(parse(&a, "add", "--help", NULL), 0);
	assert_true(a.help);
	assert_string_equal(a.cmd->name, "add");
	tpctl_args_free(&a);
}

static void test_seed(void **state)
{
	struct tpctl_args a;

	assert_int_equal(parse(&a, "seed", "song.ogg", "--tracker", "t1",
			       "--tracker", "t2", "--torrent-out", "o.torrent",
			       "--piece-size", "64K", "--hybrid", "--private",
			       "--comment", "hi", "--wait-seeding", NULL), 0);
	assert_string_equal(a.path, "song.ogg");
	assert_int_equal(a.n_trackers, 2);
	assert_string_equal(a.trackers[0], "t1");
	assert_string_equal(a.torrent_out, "o.torrent");
	assert_int_equal(a.piece_size, 65536);
	assert_string_equal(a.tversion, "hybrid");
	assert_true(a.private_flag);
	assert_string_equal(a.comment, "hi");
	assert_true(a.wait_seeding);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "seed", "x", NULL), 0);
	assert_null(a.tversion);
	assert_int_equal(a.piece_size, 0);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "seed", "x", "--v1", "--v1", NULL), 0);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "seed", "x", "--v1", "--v2", NULL), -1);
	tpctl_args_free(&a);
}

static void test_piece_size(void **state)
{
	static const struct {
		const char *text;
		long long want; /* -1: refused */
	} cases[] = {
		{ "0", 0 }, { "16384", 16384 }, { "16k", 16384 },
		{ "1M", 1048576 }, { "4MiB", 4194304 }, { "32768B", 32768 },
		{ "1000", -1 }, { "8192", -1 }, { "3M", -1 }, { "-16384", -1 },
		{ "abc", -1 }, { "", -1 }, { "16kb", -1 },
		{ "99999999999999999999", -1 },
	};
	struct tpctl_args a;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = parse(&a, "seed", "x", "--piece-size", cases[i].text,
			       NULL);

		if (cases[i].want < 0) {
			assert_int_equal(rc, -1);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(a.piece_size, cases[i].want);
		}
		tpctl_args_free(&a);
	}
}

static void test_ids(void **state)
{
	struct tpctl_args a;

	assert_int_equal(parse(&a, "close", "7", "--delete-files", NULL), 0);
	assert_int_equal(a.id, 7);
	assert_true(a.delete_files);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "st", "12", NULL), 0);
	assert_string_equal(a.cmd->name, "status");
	assert_int_equal(a.id, 12);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "pause", "0", NULL), -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "resume", "3x", NULL), -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "wait", NULL), -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "list", "extra", NULL), -1);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "watch", NULL), 0);
	assert_int_equal(a.n_ids, 0);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "watch", "1", "2", "30", NULL), 0);
	assert_int_equal(a.n_ids, 3);
	assert_int_equal(a.ids[2], 30);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "watch", "1", "x", NULL), -1);
	tpctl_args_free(&a);
}

static void test_pipe(void **state)
{
	struct tpctl_args a;

	assert_int_equal(parse(&a, "pipe", "--torrent-dir", "td", "--tracker",
			       "http://127.0.0.1:6969/announce", NULL), 0);
	assert_string_equal(a.torrent_dir, "td");
	assert_int_equal(a.n_trackers, 1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "pipe", "--wait", NULL), -1);
	tpctl_args_free(&a);
}

static void test_fmt(void **state)
{
	char buf[32];

	tpctl_fmt_size(buf, sizeof buf, 0);
	assert_string_equal(buf, "0 B");
	tpctl_fmt_size(buf, sizeof buf, 1023);
	assert_string_equal(buf, "1023 B");
	tpctl_fmt_size(buf, sizeof buf, 1536);
	assert_string_equal(buf, "1.5 KiB");
	tpctl_fmt_size(buf, sizeof buf, 3LL << 30);
	assert_string_equal(buf, "3.0 GiB");

	assert_int_equal(tpctl_percent(0), 0);
	assert_int_equal(tpctl_percent(0.579), 57);
	assert_int_equal(tpctl_percent(0.9999), 99);
	assert_int_equal(tpctl_percent(1), 100);
	assert_int_equal(tpctl_percent(1.5), 100);
	assert_int_equal(tpctl_percent(-1), 0);
	assert_true(tpctl_percent1(0.99999) < 100);
	assert_true(tpctl_percent1(0.452) > 45.1 &&
		    tpctl_percent1(0.452) < 45.3);

	tpctl_fmt_bar(buf, sizeof buf, 10, 0.5);
	assert_string_equal(buf, "#####-----");
	tpctl_fmt_bar(buf, sizeof buf, 4, 2);
	assert_string_equal(buf, "####");
	tpctl_fmt_bar(buf, 4, 10, 0);
	assert_string_equal(buf, "---");
}

static void test_steering(void **state)
{
	struct tpctl_args a;

	(void)state;
	assert_int_equal(parse(&a, "add", "/x.torrent", "--label", "a",
			       "--label", "b", "--sequential", "--down", "2M",
			       "--up", "512k", "--paused", NULL), 0);
	assert_int_equal(a.n_labels, 2);
	assert_string_equal(a.labels[1], "b");
	assert_int_equal(a.sequential, 1);
	assert_int_equal(a.down, 2 << 20);
	assert_int_equal(a.up, 512 << 10);
	assert_true(a.paused);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "set", "3", "--sequential", "off",
			       "--ratio", "1.5", "--seed-time", "2d", NULL), 0);
	assert_int_equal(a.id, 3);
	assert_int_equal(a.sequential, 0);
	assert_string_equal(a.ratio, "1.5");
	assert_string_equal(a.seed_time, "2d");
	assert_int_equal(a.down, -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "set", "3", "--sequential", "yes", NULL), -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "set", "3", "--ratio", "lots", NULL), -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "set", "3", "--seed-time", "5w", NULL), -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "set", "3", "--down", "fast", NULL), -1);
	assert_non_null(strstr(a.error, "RATE"));
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "limit", "--up", "1M", NULL), 0);
	assert_false(a.has_id);
	assert_int_equal(a.up, 1 << 20);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "limit", "4", NULL), 0);
	assert_true(a.has_id);
	assert_int_equal(a.id, 4);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "queue", "3", "top", NULL), 0);
	assert_string_equal(a.queue_move, "top");
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "queue", "3", "first", NULL), -1);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "queue", "3", NULL), -1);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "session", "alt_speed=on",
			       "download_limit=1M", NULL), 0);
	assert_int_equal(a.n_kv, 2);
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "session", "alt_speed", NULL), -1);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "files", "2", "--skip", "1,3", "--high", "0",
			       NULL), 0);
	assert_int_equal(a.n_file_ops, 2);
	assert_int_equal(a.file_ops[0].priority, 0);
	assert_int_equal(a.file_ops[0].n_idx, 2);
	assert_int_equal(a.file_ops[0].idx[1], 3);
	assert_int_equal(a.file_ops[1].priority, 7);
	tpctl_args_free(&a);
	static const char *const bad_idx[] = {"", "1,", ",1", "a", "-1",
					      "1,,2", "1 2", "+1"};
	for (size_t i = 0; i < sizeof bad_idx / sizeof bad_idx[0]; i++) {
		assert_int_equal(parse(&a, "files", "2", "--skip", bad_idx[i],
				       NULL), -1);
		tpctl_args_free(&a);
	}
	assert_int_equal(parse(&a, "trackers", "2", "--add", "http://a/announce",
			       "--remove", "udp://b:1", NULL), 0);
	assert_int_equal(a.n_trackers, 1);
	assert_int_equal(a.n_remove, 1);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "move", "4", "/srv/new", NULL), 0);
	assert_int_equal(a.id, 4);
	assert_string_equal(a.dir, "/srv/new");
	tpctl_args_free(&a);
	assert_int_equal(parse(&a, "move", "4", NULL), -1);
	tpctl_args_free(&a);

	assert_int_equal(parse(&a, "list", "--label", "music", NULL), 0);
	assert_string_equal(a.labels[0], "music");
	tpctl_args_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_global),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_piece_size),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_fmt),
		cmocka_unit_test(test_steering),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
