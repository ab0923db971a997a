/*
 * test_steer.c - unit tests of the pure parts of steering: rates and
 * durations (common/rate.c), the alt-speed schedule (common/schedule.c)
 * and the checks of `set` and `session_set` fields (common/steer.c).
 * Single-threaded cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rate.h"
#include "schedule.h"
#include "steer.h"

static void test_rates(void **state)
{
	static const struct {
		const char *in;
		int64_t want;
	} ok[] = {
		{"0", 0}, {"1", 1}, {"512k", 512 * 1024}, {"2M", 2 << 20},
		{"2m", 2 << 20}, {"1.5M", 3 << 19}, {"1G", 1 << 30},
		{"2MiB", 2 << 20}, {"2MB/s", 2 << 20}, {"100B", 100},
	};
	static const char *const bad[] = {
		"", "M", "-1", "2X", "2M ", " 2M", "1e6", "0x10", "inf", "nan",
		"2GG", "3G", "99999999999999999999", "1..2", ".",
	};
	int64_t v;
	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		assert_int_equal(tp_rate_parse(ok[i].in, &v), 0);
		assert_int_equal(v, ok[i].want);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(tp_rate_parse(bad[i], &v), -1);
	assert_int_equal(tp_rate_parse(NULL, &v), -1);
}

static void test_durations(void **state)
{
	int64_t v;
	(void)state;
	assert_int_equal(tp_duration_parse("5", &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(tp_duration_parse("5s", &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(tp_duration_parse("15m", &v), 0);
	assert_int_equal(v, 900);
	assert_int_equal(tp_duration_parse("1.5h", &v), 0);
	assert_int_equal(v, 5400);
	assert_int_equal(tp_duration_parse("7d", &v), 0);
	assert_int_equal(v, 7 * 86400);
	assert_int_equal(tp_duration_parse("", &v), -1);
	assert_int_equal(tp_duration_parse("5x", &v), -1);
	assert_int_equal(tp_duration_parse("-5", &v), -1);
	assert_int_equal(tp_duration_parse("5 s", &v), -1);
	assert_int_equal(tp_duration_parse("99999d", &v), -1);
}

static void test_schedule(void **state)
{
	struct tp_schedule sc;
	const char *why = NULL;
	(void)state;
	assert_int_equal(tp_schedule_parse("", &sc, &why), 0);
	assert_false(sc.set);
	assert_false(tp_schedule_active(&sc, 1, 600));

	assert_int_equal(tp_schedule_parse("09:00-17:30", &sc, &why), 0);
	assert_true(tp_schedule_active(&sc, 0, 9 * 60));
	assert_true(tp_schedule_active(&sc, 6, 17 * 60 + 29));
	assert_false(tp_schedule_active(&sc, 3, 17 * 60 + 30));
	assert_false(tp_schedule_active(&sc, 3, 8 * 60 + 59));

	/* Past midnight, weekdays only. */
	assert_int_equal(tp_schedule_parse("22:00-07:00 mon-fri", &sc, &why), 0);
	assert_true(tp_schedule_active(&sc, 1, 23 * 60));
	assert_true(tp_schedule_active(&sc, 5, 6 * 60));
	assert_false(tp_schedule_active(&sc, 0, 23 * 60));
	assert_false(tp_schedule_active(&sc, 3, 12 * 60));

	assert_int_equal(tp_schedule_parse("00:00-23:59 sat,sun", &sc, &why), 0);
	assert_true(tp_schedule_active(&sc, 6, 0));
	assert_true(tp_schedule_active(&sc, 0, 100));
	assert_false(tp_schedule_active(&sc, 2, 100));
	assert_int_equal(tp_schedule_parse("10:00-12:00 fri-mon", &sc, &why), 0);
	assert_true(tp_schedule_active(&sc, 0, 660));
	assert_false(tp_schedule_active(&sc, 3, 660));

	static const char *const bad[] = {
		"9:00-17:00", "24:00-01:00", "09:60-10:00", "09:00", "09:00-",
		"09:00-09:00", "09:00-10:00x", "09:00-10:00 funday",
		"09:00-10:00 mon-", "09:00-10:00 mon,,tue", "09:00 - 10:00",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		assert_int_equal(tp_schedule_parse(bad[i], &sc, &why), -1);
		assert_non_null(why);
	}
}

/* Parses a JSON text as a set request with every field allowed. */
static int ts_set(const char *text, struct tp_tset *t, char **why)
{
	json_object *o = json_tokener_parse(text);
	assert_non_null(o);
	int rc = tp_tset_parse(o, TP_TSET_ALL, true, t, why);
	json_object_put(o);
	return rc;
}

static void test_set_fields(void **state)
{
	struct tp_tset t;
	char *why = NULL;
	(void)state;
	assert_int_equal(ts_set("{\"op\":\"set\",\"id\":1,\"tag\":3,"
				"\"download_limit\":2097152,\"upload_limit\":0,"
				"\"sequential\":true,\"labels\":[\"a\",\"b c\"],"
				"\"ratio_limit\":0.5,\"seed_time_limit\":null,"
				"\"file_priorities\":[0,4,7],"
				"\"queue_position\":\"top\","
				"\"trackers_add\":[\"http://t/announce\"],"
				"\"trackers_remove\":[\"udp://u:1\"]}",
				&t, &why), 0);
	assert_int_equal(t.has, TP_TSET_ALL);
	assert_int_equal(t.download_limit, 2097152);
	assert_true(t.sequential);
	assert_int_equal(t.n_labels, 2);
	assert_string_equal(t.labels[1], "b c");
	assert_true(t.ratio_limit == 0.5);
	assert_int_equal(t.seed_time_limit, -1);
	assert_int_equal(t.n_file_priorities, 3);
	assert_int_equal(t.file_priorities[2], 7);
	assert_int_equal(t.queue_move, TP_QUEUE_TOP);
	assert_string_equal(t.trackers_remove[0], "udp://u:1");
	tp_tset_free(&t);

	assert_int_equal(ts_set("{\"queue_position\":3}", &t, &why), 0);
	assert_int_equal(t.queue_move, TP_QUEUE_TO);
	assert_int_equal(t.queue_position, 3);
	tp_tset_free(&t);

	static const char *const bad[] = {
		"{\"colour\":1}", "{\"download_limit\":-1}",
		"{\"download_limit\":\"2M\"}", "{\"download_limit\":1.5}",
		"{\"download_limit\":null}", "{\"download_limit\":4294967296}",
		"{\"sequential\":1}", "{\"labels\":\"a\"}", "{\"labels\":[1]}",
		"{\"labels\":[\"\"]}", "{\"labels\":[\"a\\nb\"]}",
		"{\"ratio_limit\":-1}", "{\"ratio_limit\":\"1\"}",
		"{\"seed_time_limit\":1.5}", "{\"file_priorities\":[8]}",
		"{\"file_priorities\":[-1]}", "{\"file_priorities\":3}",
		"{\"queue_position\":\"first\"}", "{\"queue_position\":-1}",
		"{\"trackers_add\":[\"ftp://x\"]}", "{\"on_complete\":\"/bin/sh\"}",
		"{\"hook\":\"x\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		assert_int_equal(ts_set(bad[i], &t, &why), -1);
		assert_non_null(why);
		assert_int_equal(t.has, 0);
		free(why);
	}
	/* The hook refusal says why. */
	assert_int_equal(ts_set("{\"on_complete\":\"x\"}", &t, &why), -1);
	assert_non_null(strstr(why, "never over the socket"));
	free(why);

	/* create: only the add-time fields, other keys are not ours. */
	json_object *o = json_tokener_parse("{\"op\":\"create\",\"magnet\":\"m\","
					    "\"labels\":[\"x\"],\"sequential\":true}");
	assert_int_equal(tp_tset_parse(o, TP_TSET_AT_ADD, false, &t, &why), 0);
	assert_int_equal(t.has, TP_TSET_LABELS | TP_TSET_SEQUENTIAL);
	tp_tset_free(&t);
	json_object_put(o);
}

static void test_session_fields(void **state)
{
	struct tp_session s, cur;
	char *why = NULL;
	(void)state;
	json_object *o = json_tokener_parse(
		"{\"op\":\"session_set\",\"alt_speed\":true,"
		"\"alt_download_limit\":1024,\"alt_schedule\":\"01:00-02:00\","
		"\"max_active_downloads\":1,\"ratio_limit\":null,"
		"\"encryption\":\"forced\",\"utp\":false}");
	assert_int_equal(tp_session_parse(o, &s, &why), 0);
	json_object_put(o);
	memset(&cur, 0, sizeof cur);
	cur.max_active_downloads = 5;
	cur.ratio_limit = 2;
	cur.utp = true;
	tp_session_merge(&cur, &s);
	assert_true(cur.alt_speed);
	assert_int_equal(cur.alt_download_limit, 1024);
	assert_string_equal(cur.alt_schedule, "01:00-02:00");
	assert_int_equal(cur.max_active_downloads, 1);
	assert_true(cur.ratio_limit < 0);
	assert_int_equal(cur.encryption, TP_ENC_FORCED);
	assert_false(cur.utp);
	json_object *out = json_object_new_object();
	tp_session_to_json(&cur, out);
	assert_string_equal(json_object_to_json_string(
				    json_object_object_get(out, "encryption")),
			    "\"forced\"");
	json_object_put(out);
	tp_session_free(&cur);
	tp_session_free(&s);
	assert_int_equal(tp_session_key_bit("alt_speed"), TP_SES_ALT_SPEED);
	assert_int_equal(tp_session_key_bit("utp"), TP_SES_UTP);
	assert_int_equal(tp_session_key_bit("nope"), 0);

	static const char *const bad[] = {
		"{\"max_active_downloads\":0}", "{\"alt_speed\":\"on\"}",
		"{\"alt_schedule\":\"25:00-01:00\"}", "{\"encryption\":\"yes\"}",
		"{\"speed\":1}", "{\"on_complete\":\"/bin/true\"}",
		"{\"dht\":null}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		o = json_tokener_parse(bad[i]);
		why = NULL;
		assert_int_equal(tp_session_parse(o, &s, &why), -1);
		assert_non_null(why);
		free(why);
		json_object_put(o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_set_fields),
		cmocka_unit_test(test_session_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
