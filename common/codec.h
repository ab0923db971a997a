/*
 * codec.h - base64 and hex, the two byte encodings the protocol uses.
 * Pure functions, any thread.  Base64 is OpenSSL's (EVP_EncodeBlock /
 * EVP_DecodeBlock) with the strict validation and padding arithmetic those
 * functions leave to the caller.
 */
#ifndef TP_CODEC_H
#define TP_CODEC_H

#include <stddef.h>

/* Standard base64 with padding; returns a malloc'd NUL-terminated string. */
char *tp_base64_encode(const unsigned char *data, size_t len);
/* Strict standard base64 (padding required, no whitespace).  Returns a
 * malloc'd buffer and its length in *out_len, or NULL if the text is not
 * valid base64 or memory ran out. */
unsigned char *tp_base64_decode(const char *text, size_t text_len,
				size_t *out_len);

/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void tp_hex_encode(const unsigned char *data, size_t len, char *out);
/* Parses exactly 2*len hex digits (either case); 0 on success, -1 if not. */
int tp_hex_decode(const char *text, size_t text_len, unsigned char *out,
		  size_t len);

#endif
