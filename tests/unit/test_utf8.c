/*
 * test_utf8.c - unit tests of common/utf8.c: the strict check and the
 * repair of untrusted names into well-formed UTF-8 (one U+FFFD per
 * maximal ill-formed subpart; NUL replaced too).  Single-threaded cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

#define R TP_UTF8_REPLACEMENT

/* Input bytes (with their length, NULs allowed) and the repaired text. */
static const struct {
	const char *in;
	size_t len;
	const char *out;
} tu_cases[] = {
	{ "", 0, "" },
	{ "plain ascii", 11, "plain ascii" },
	{ "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14,
	  "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80" },
	/* Control characters are well-formed UTF-8: kept (JSON escapes
	 * them; terminals and logs are escape.c's job). */
	{ "\x1B[2J\nfake\r\t", 11, "\x1B[2J\nfake\r\t" },
	/* A stray 0xFF, a lone continuation byte, bytes that never occur. */
	{ "\xFF", 1, R },
	{ "a\x80z", 3, "a" R "z" },
	{ "\xC0\xC1\xF5\xFE", 4, R R R R },
	/* Overlong forms: each byte is its own subpart (C0/E0 80 invalid). */
	{ "\xC0\xAF", 2, R R },
	{ "\xE0\x80\xAF", 3, R R R },
	{ "\xF0\x80\x80\xAF", 4, R R R R },
	/* An encoded surrogate (U+D800) and a code point past U+10FFFF. */
	{ "\xED\xA0\x80", 3, R R R },
	{ "\xF4\x90\x80\x80", 4, R R R R },
	/* Truncated sequences: one U+FFFD for the valid start. */
	{ "\xE2\x82", 2, R },
	{ "\xE2\x82z", 3, R "z" },
	{ "\xF0\x9F\x98", 3, R },
	{ "\xF0\x9F\x98\xE2\x82\xAC", 6, R "\xE2\x82\xAC" },
	/* NUL never cuts the text short. */
	{ "x\0y", 3, "x" R "y" },
	{ "\0", 1, R },
};

static void test_sanitize_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof tu_cases / sizeof tu_cases[0]; i++) {
		size_t n = 99;
		char *s = tp_utf8_sanitize(tu_cases[i].in, tu_cases[i].len, &n);

		assert_non_null(s);
		assert_string_equal(s, tu_cases[i].out);
		assert_int_equal(n, strlen(tu_cases[i].out));
		assert_int_equal(tp_utf8_check(s, n), n);
		assert_true(tp_utf8_clean(s, n));
		free(s);
	}
}

static void test_check_offsets(void **state)
{
	(void)state;
	assert_int_equal(tp_utf8_check("abc", 3), 3);
	assert_int_equal(tp_utf8_check("ab\xFF", 3), 2);
	assert_int_equal(tp_utf8_check("\xC3\xA9\xED\xA0\x80", 5), 2);
	assert_int_equal(tp_utf8_check("\xE2\x82", 2), 0);
	/* NUL is U+0000: well-formed, yet not clean. */
	assert_int_equal(tp_utf8_check("a\0b", 3), 3);
	assert_false(tp_utf8_clean("a\0b", 3));
	assert_true(tp_utf8_clean("\xF4\x8F\xBF\xBF", 4)); /* U+10FFFF */
	assert_false(tp_utf8_clean("\xF4\x90\x80\x80", 4));

	/* Long ASCII runs are skipped a word at a time: a bad byte at any
	 * position, and a good multi-byte one, are still seen. */
	char buf[100];
	for (size_t pos = 0; pos < sizeof buf; pos++) {
		memset(buf, 'a', sizeof buf);
		buf[pos] = (char)0xFF;
		assert_int_equal(tp_utf8_check(buf, sizeof buf), pos);
		if (pos + 2 <= sizeof buf) {
			memset(buf, 'a', sizeof buf);
			memcpy(buf + pos, "\xC3\xA9", 2);
			assert_int_equal(tp_utf8_check(buf, sizeof buf),
					 sizeof buf);
		}
	}
}

static void test_seq_subparts(void **state)
{
	size_t bad = 0;

	(void)state;
	assert_int_equal(tp_utf8_seq((const unsigned char *)"\xE2\x82\xAC", 3,
				     &bad), 3);
	assert_int_equal(tp_utf8_seq((const unsigned char *)"\xE2\x82!", 3,
				     &bad), 0);
	assert_int_equal(bad, 2);
	assert_int_equal(tp_utf8_seq((const unsigned char *)"\xED\xA0\x80", 3,
				     &bad), 0);
	assert_int_equal(bad, 1);
}

/* Whatever the bytes, the repair is well-formed and has no NUL. */
static void test_sanitize_random(void **state)
{
	uint32_t x = 12345;
	unsigned char buf[64];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(round % 64), n;
		char *s;

		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = (unsigned char)x;
		}
		s = tp_utf8_sanitize((const char *)buf, len, &n);
		assert_non_null(s);
		assert_int_equal(strlen(s), n);
		assert_true(tp_utf8_clean(s, n));
		/* Already clean text comes back unchanged. */
		if (tp_utf8_clean((const char *)buf, len))
			assert_memory_equal(s, buf, len);
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_cases),
		cmocka_unit_test(test_check_offsets),
		cmocka_unit_test(test_seq_subparts),
		cmocka_unit_test(test_sanitize_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
