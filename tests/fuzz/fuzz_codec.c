/*
 * fuzz_codec.c - libFuzzer target for base64 and hex (common/codec.c).
 * The input is tried as base64 text and as hex text; whatever decodes must
 * encode back to the same text (the decoder is strict, so the encoding is
 * canonical except for the unused low bits of a padded last quantum), and
 * the raw bytes must survive an encode/decode round trip.
 * Single-threaded fuzzer process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static void fuzz_codec_die(const char *what)
{
	fprintf(stderr, "fuzz_codec: %s\n", what);
	abort();
}

/* Value of a base64 character (the input was accepted, so it is one). */
static int fuzz_codec_b64val(char c)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = strchr(alpha, c);

	return p && c ? (int)(p - alpha) : -1;
}

static void fuzz_codec_base64(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	unsigned char *raw;
	size_t n = 0, pad = 0;
	char *again;

	if (!text)
		return;
	if (size)
		memcpy(text, data, size);
	raw = tp_base64_decode(text, size, &n);
	if (raw) {
		if (size % 4 != 0)
			fuzz_codec_die("accepted base64 of a length not a multiple of 4");
		while (pad < size && text[size - 1 - pad] == '=')
			pad++;
		if (n != size / 4 * 3 - pad)
			fuzz_codec_die("decoded length is wrong");
		again = tp_base64_encode(raw, n);
		if (!again || strlen(again) != size)
			fuzz_codec_die("re-encoded length differs");
		/* Everything matches exactly except the unused low bits of the
		 * last character before the padding (4 bits with "==", 2 with
		 * "="), which the decoder ignores and the encoder zeroes. */
		for (size_t i = 0; i < size; i++) {
			int a, b;

			if (text[i] == again[i])
				continue;
			if (pad == 0 || i != size - 1 - pad)
				fuzz_codec_die("re-encoding differs");
			a = fuzz_codec_b64val(text[i]);
			b = fuzz_codec_b64val(again[i]);
			if (a < 0 || b < 0 || (a >> (pad == 2 ? 4 : 2)) !=
					      (b >> (pad == 2 ? 4 : 2)))
				fuzz_codec_die("last quantum re-encodes differently");
		}
		free(again);
		free(raw);
	}
	free(text);
}

static void fuzz_codec_roundtrip(const uint8_t *data, size_t size)
{
	char *text = tp_base64_encode(data, size);
	unsigned char *raw;
	size_t n = 0;
	char *hex;
	unsigned char *back;

	if (!text)
		fuzz_codec_die("encode failed");
	raw = tp_base64_decode(text, strlen(text), &n);
	if (!raw || n != size || (size && memcmp(raw, data, size) != 0))
		fuzz_codec_die("base64 round trip differs");
	free(raw);
	free(text);

	hex = malloc(2 * size + 1);
	back = malloc(size ? size : 1);
	if (!hex || !back)
		fuzz_codec_die("out of memory");
	tp_hex_encode(data, size, hex);
	if (strlen(hex) != 2 * size)
		fuzz_codec_die("hex length wrong");
	if (tp_hex_decode(hex, 2 * size, back, size) != 0 ||
	    (size && memcmp(back, data, size) != 0))
		fuzz_codec_die("hex round trip differs");
	free(hex);
	free(back);
}

static void fuzz_codec_hex(const uint8_t *data, size_t size)
{
	unsigned char *out = malloc(size / 2 + 1);
	char *again;

	if (!out)
		return;
	if (tp_hex_decode((const char *)data, size, out, size / 2) == 0) {
		if (size % 2)
			fuzz_codec_die("odd-length hex accepted");
		again = malloc(size + 1);
		if (!again)
			fuzz_codec_die("out of memory");
		tp_hex_encode(out, size / 2, again);
		for (size_t i = 0; i < size; i++) {
			char c = (char)data[i];

			if (c >= 'A' && c <= 'F')
				c = (char)(c - 'A' + 'a');
			if (c != again[i])
				fuzz_codec_die("hex does not re-encode to itself");
		}
		free(again);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_codec_base64(data, size);
	fuzz_codec_hex(data, size);
	fuzz_codec_roundtrip(data, size);
	return 0;
}
