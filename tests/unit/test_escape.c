/*
 * test_escape.c - unit tests of common/escape.c: untrusted text printed on
 * a terminal or written as a log line holds no control byte, no invalid
 * UTF-8 and no line break, and printable text is left alone.
 * Single-threaded cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "escape.h"
#include "utf8.h"

static const struct {
	const char *in;
	size_t len;
	const char *out;
} te_cases[] = {
	{ "", 0, "" },
	{ "Big Buck Bunny (2008) [1080p]", 29, "Big Buck Bunny (2008) [1080p]" },
	{ "caf\xC3\xA9 \xE2\x82\xAC", 9, "caf\xC3\xA9 \xE2\x82\xAC" },
	{ "back\\slash", 10, "back\\slash" },
	{ "\x1B[2J", 4, "\\x1B[2J" },
	{ "a\nb\rc\td", 7, "a\\nb\\rc\\td" },
	{ "x\0y", 3, "x\\x00y" },
	{ "del\x7F", 4, "del\\x7F" },
	/* U+009B (CSI for some terminals) and U+0085 (NEL). */
	{ "\xC2\x9B" "2J\xC2\x85", 6, "\\u009B2J\\u0085" },
	/* U+00A0 is printable (no-break space): kept. */
	{ "\xC2\xA0", 2, "\xC2\xA0" },
	/* Bytes that are not UTF-8 are shown, not passed on. */
	{ "\xFF\xC0\xAF", 3, "\\xFF\\xC0\\xAF" },
	{ "\xE2\x82", 2, "\\xE2\\x82" },
	{ "tpd: error: fake\ntpd: info: fake", 32,
	  "tpd: error: fake\\ntpd: info: fake" },
};

static void test_escape_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof te_cases / sizeof te_cases[0]; i++) {
		char *s = tp_escape(te_cases[i].in, te_cases[i].len);

		assert_non_null(s);
		assert_string_equal(s, te_cases[i].out);
		assert_int_equal(tp_escape_needed(te_cases[i].in,
						  te_cases[i].len),
				 strcmp(te_cases[i].in, te_cases[i].out) != 0 ||
				 strlen(te_cases[i].in) != te_cases[i].len);
		free(s);
	}
}

/* Whatever the bytes, the result is UTF-8 without C0, DEL or C1. */
static void test_escape_random(void **state)
{
	uint32_t x = 777;
	unsigned char buf[48];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(round % 48);
		char *s;

		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = (unsigned char)x;
		}
		s = tp_escape((const char *)buf, len);
		assert_non_null(s);
		size_t n = strlen(s);
		assert_true(tp_utf8_clean(s, n));
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];

			assert_true(c >= 0x20 && c != 0x7F);
			if (c == 0xC2 && i + 1 < n)
				assert_true((unsigned char)s[i + 1] >= 0xA0);
		}
		assert_false(tp_escape_needed(s, n));
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_cases),
		cmocka_unit_test(test_escape_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
