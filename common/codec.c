/*
 * codec.c - base64 and hex for the protocol (create's `torrent` field,
 * info-hashes).  Pure functions without state: any thread may call them.
 *
 * Base64 uses OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock.  Those functions
 * are lenient (EVP_DecodeBlock skips surrounding whitespace and counts the
 * padding as zero bytes), so the strict checks and the exact output length
 * are done here before OpenSSL sees the text.
 */
#include "codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* EVP_*Block take an int length; big inputs go through in chunks that are
 * whole base64 quanta (3 bytes in, 4 characters out). */
#define CODEC_ENC_CHUNK ((size_t)3 * 1024 * 1024)
#define CODEC_DEC_CHUNK ((size_t)4 * 1024 * 1024)

char *tp_base64_encode(const unsigned char *data, size_t len)
{
	size_t quanta = len / 3 + (len % 3 != 0);
	char *out;
	size_t in_off = 0, out_off = 0;

	if (quanta > (SIZE_MAX - 1) / 4)
		return NULL;
	out = malloc(quanta * 4 + 1);
	if (!out)
		return NULL;
	while (in_off < len) {
		size_t n = len - in_off;
		int w;

		if (n > CODEC_ENC_CHUNK)
			n = CODEC_ENC_CHUNK;
		w = EVP_EncodeBlock((unsigned char *)out + out_off,
				    data + in_off, (int)n);
		if (w < 0) {
			free(out);
			return NULL;
		}
		in_off += n;
		out_off += (size_t)w;
	}
	out[out_off] = '\0';
	return out;
}

/* True for the 64 characters of the standard alphabet (not '='). */
static int codec_b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Checks the text is strict padded base64 and returns the number of
 * padding characters (0..2), or -1 if it is not. */
static int codec_b64_check(const char *text, size_t len)
{
	size_t pad = 0, i;

	if (len % 4 != 0)
		return -1;
	/* '=' may only be the last one or two characters; any other '=' is
	 * caught by the alphabet loop below. */
	if (len >= 4 && text[len - 1] == '=') {
		pad = 1;
		if (text[len - 2] == '=')
			pad = 2;
	}
	for (i = 0; i < len - pad; i++)
		if (!codec_b64_char((unsigned char)text[i]))
			return -1;
	return (int)pad;
}

unsigned char *tp_base64_decode(const char *text, size_t text_len,
				size_t *out_len)
{
	int pad;
	size_t raw, in_off = 0, out_off = 0;
	unsigned char *out;

	if (!text && text_len != 0)
		return NULL;
	pad = codec_b64_check(text, text_len);
	if (pad < 0)
		return NULL;
	/* EVP_DecodeBlock writes 3 bytes per quantum, padding included; the
	 * buffer has room for that, the caller gets the exact length. */
	raw = text_len / 4 * 3;
	out = malloc(raw ? raw : 1);
	if (!out)
		return NULL;
	while (in_off < text_len) {
		size_t n = text_len - in_off;
		int w;

		if (n > CODEC_DEC_CHUNK)
			n = CODEC_DEC_CHUNK;
		w = EVP_DecodeBlock(out + out_off,
				    (const unsigned char *)text + in_off,
				    (int)n);
		if (w < 0 || (size_t)w != n / 4 * 3) {
			free(out);
			return NULL;
		}
		in_off += n;
		out_off += (size_t)w;
	}
	if (out_len)
		*out_len = raw - (size_t)pad;
	return out;
}

void tp_hex_encode(const unsigned char *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* Value of one hex digit, or -1. */
static int codec_hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int tp_hex_decode(const char *text, size_t text_len, unsigned char *out,
		  size_t len)
{
	size_t i;

	if (len > SIZE_MAX / 2 || text_len != 2 * len)
		return -1;
	/* Validate everything first so a bad string leaves out untouched. */
	for (i = 0; i < text_len; i++)
		if (codec_hex_val((unsigned char)text[i]) < 0)
			return -1;
	for (i = 0; i < len; i++)
		out[i] = (unsigned char)(codec_hex_val((unsigned char)text[2 * i]) << 4 |
					 codec_hex_val((unsigned char)text[2 * i + 1]));
	return 0;
}
