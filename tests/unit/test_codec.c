/*
 * test_codec.c - unit tests of common/codec.c: base64 (RFC 4648 vectors,
 * round trips, strict rejection) and hex.  Single-threaded cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"

/* RFC 4648 section 10. */
static const struct {
	const char *plain;
	const char *b64;
	const char *hex;
} tc_vectors[] = {
	{ "", "", "" },
	{ "f", "Zg==", "66" },
	{ "fo", "Zm8=", "666f" },
	{ "foo", "Zm9v", "666f6f" },
	{ "foob", "Zm9vYg==", "666f6f62" },
	{ "fooba", "Zm9vYmE=", "666f6f6261" },
	{ "foobar", "Zm9vYmFy", "666f6f626172" },
};
#define TC_N_VECTORS (sizeof(tc_vectors) / sizeof(tc_vectors[0]))

static void test_base64_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < TC_N_VECTORS; i++) {
		const char *p = tc_vectors[i].plain;
		const char *b = tc_vectors[i].b64;
		char *enc = tp_base64_encode((const unsigned char *)p,
					     strlen(p));
		unsigned char *dec;
		size_t n = 12345;

		assert_non_null(enc);
		assert_string_equal(enc, b);
		free(enc);
		dec = tp_base64_decode(b, strlen(b), &n);
		assert_non_null(dec);
		assert_int_equal(n, strlen(p));
		if (n)
			assert_memory_equal(dec, p, n);
		free(dec);
	}
}

/* Deterministic bytes, so a failure reproduces. */
static uint32_t tc_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_base64_roundtrip(void **state)
{
	uint32_t seed = 0x12345678;
	unsigned char buf[300];
	size_t len, i;

	(void)state;
	for (len = 0; len <= sizeof(buf); len++) {
		char *enc;
		unsigned char *dec;
		size_t n = 0;

		for (i = 0; i < len; i++)
			buf[i] = (unsigned char)tc_rand(&seed);
		enc = tp_base64_encode(buf, len);
		assert_non_null(enc);
		assert_int_equal(strlen(enc), (len + 2) / 3 * 4);
		dec = tp_base64_decode(enc, strlen(enc), &n);
		assert_non_null(dec);
		assert_int_equal(n, len);
		if (len)
			assert_memory_equal(dec, buf, len);
		free(enc);
		free(dec);
	}
}

/* All 256 byte values survive, including those mapping to '+' and '/'. */
static void test_base64_all_bytes(void **state)
{
	unsigned char buf[256];
	char *enc;
	unsigned char *dec;
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)i;
	enc = tp_base64_encode(buf, sizeof(buf));
	assert_non_null(enc);
	assert_non_null(strchr(enc, '+'));
	assert_non_null(strchr(enc, '/'));
	dec = tp_base64_decode(enc, strlen(enc), &n);
	assert_non_null(dec);
	assert_int_equal(n, sizeof(buf));
	assert_memory_equal(dec, buf, sizeof(buf));
	free(enc);
	free(dec);
}

/* Bigger than the chunks codec.c hands to OpenSSL, with a padded tail,
 * so chunk boundaries and the final quantum are both exercised. */
static void test_base64_large(void **state)
{
	const size_t len = (size_t)7 * 1024 * 1024 + 3; /* len % 3 == 1 */
	unsigned char *buf = malloc(len), *dec;
	uint32_t seed = 99;
	char *enc;
	size_t i, n = 0;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)tc_rand(&seed);
	enc = tp_base64_encode(buf, len);
	assert_non_null(enc);
	assert_int_equal(strlen(enc), (len + 2) / 3 * 4);
	assert_string_equal(enc + strlen(enc) - 2, "==");
	dec = tp_base64_decode(enc, strlen(enc), &n);
	assert_non_null(dec);
	assert_int_equal(n, len);
	assert_memory_equal(dec, buf, len);
	/* One bad character deep inside is still found. */
	enc[5 * 1024 * 1024 + 1] = '.';
	assert_null(tp_base64_decode(enc, strlen(enc), &n));
	free(enc);
	free(dec);
	free(buf);
}

static void test_base64_rejects(void **state)
{
	static const char *const bad[] = {
		"Zg",        /* length not a multiple of 4 */
		"Zg=",       /* same, with padding */
		"Zm9vY",     /* same */
		"Zg===",     /* three '=' */
		"Z===",      /* three '=' in one quantum */
		"====",      /* padding only */
		"Z=g=",      /* '=' in the middle of a quantum */
		"Zg==Zm8=",  /* padding before the end */
		"Zm9v\n",    /* whitespace (EVP_DecodeBlock would skip it) */
		" Zm9v",
		"Zm9 ",
		"Zm9-",      /* base64url alphabet */
		"Zm9_",
		"Zm9*",
		"Zm\xc3\xa9",/* non-ASCII */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = 777;
		unsigned char *dec = tp_base64_decode(bad[i], strlen(bad[i]),
						      &n);

		if (dec)
			fail_msg("accepted bad base64 \"%s\"", bad[i]);
		assert_int_equal(n, 777);
	}
}

/* A NUL inside the given length is not part of the alphabet. */
static void test_base64_embedded_nul(void **state)
{
	size_t n;

	(void)state;
	assert_null(tp_base64_decode("Zm\0v", 4, &n));
	/* The length given is what counts, not the NUL terminator. */
	assert_null(tp_base64_decode("Zm9vYmFy", 7, &n));
}

static void test_base64_length_only_prefix(void **state)
{
	unsigned char *dec;
	size_t n = 0;

	(void)state;
	dec = tp_base64_decode("Zm9vYmFy", 4, &n);
	assert_non_null(dec);
	assert_int_equal(n, 3);
	assert_memory_equal(dec, "foo", 3);
	free(dec);
}

static void test_hex_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < TC_N_VECTORS; i++) {
		const char *p = tc_vectors[i].plain;
		size_t n = strlen(p);
		char out[32];
		unsigned char back[16];

		memset(out, 'x', sizeof(out));
		tp_hex_encode((const unsigned char *)p, n, out);
		assert_string_equal(out, tc_vectors[i].hex);
		assert_int_equal(tp_hex_decode(out, strlen(out), back, n), 0);
		if (n)
			assert_memory_equal(back, p, n);
	}
}

static void test_hex_cases(void **state)
{
	static const unsigned char bytes[] = { 0x00, 0x7f, 0x80, 0xab, 0xff };
	unsigned char out[5];
	char hex[11];

	(void)state;
	tp_hex_encode(bytes, sizeof(bytes), hex);
	assert_string_equal(hex, "007f80abff");
	assert_int_equal(tp_hex_decode("007F80ABFF", 10, out, 5), 0);
	assert_memory_equal(out, bytes, 5);
	assert_int_equal(tp_hex_decode("007f80AbfF", 10, out, 5), 0);
	assert_memory_equal(out, bytes, 5);
}

static void test_hex_rejects(void **state)
{
	unsigned char out[4] = { 1, 2, 3, 4 };

	(void)state;
	assert_int_equal(tp_hex_decode("0011223", 7, out, 4), -1);  /* short */
	assert_int_equal(tp_hex_decode("001122334", 9, out, 4), -1); /* long */
	assert_int_equal(tp_hex_decode("0011223g", 8, out, 4), -1);
	assert_int_equal(tp_hex_decode("0x112233", 8, out, 4), -1);
	assert_int_equal(tp_hex_decode(" 0112233", 8, out, 4), -1);
	assert_int_equal(tp_hex_decode("00112\0" "33", 8, out, 4), -1);
	assert_int_equal(tp_hex_decode("001122-3", 8, out, 4), -1);
	/* A refused string leaves the output untouched. */
	assert_int_equal(out[0], 1);
	assert_int_equal(out[3], 4);
	assert_int_equal(tp_hex_decode("", 0, out, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_base64_all_bytes),
		cmocka_unit_test(test_base64_large),
		cmocka_unit_test(test_base64_rejects),
		cmocka_unit_test(test_base64_embedded_nul),
		cmocka_unit_test(test_base64_length_only_prefix),
		cmocka_unit_test(test_hex_vectors),
		cmocka_unit_test(test_hex_cases),
		cmocka_unit_test(test_hex_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
