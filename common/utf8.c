/*
 * utf8.c - checking and repairing UTF-8 (see utf8.h).  Pure functions.
 *
 * One decoder serves both the strict check of request lines and the repair
 * of untrusted names, so the daemon never sends what it would refuse.
 */
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t tp_utf8_seq(const unsigned char *s, size_t len, size_t *bad)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n, k;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 1;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 2;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 3;
	else
		goto ill; /* 80..C1 (continuation, overlong lead), F5..FF */
	/* The second byte's range rules out overlongs (E0, F0), surrogates
	 * (ED) and code points past U+10FFFF (F4). */
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	for (k = 1; k <= n; k++) {
		if (k >= len || s[k] < lo || s[k] > hi) {
			/* s[0..k) is the maximal subpart: a valid start that
			 * cannot be completed. */
			if (bad)
				*bad = k;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return n + 1;
ill:
	if (bad)
		*bad = 1;
	return 0;
}

size_t tp_utf8_check(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		/* Every line the daemon sends passes here (a List of 10,000
		 * torrents is megabytes): skip ASCII eight bytes at a time. */
		while (len - i >= 8) {
			uint64_t w;

			memcpy(&w, u + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= len)
			break;
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = tp_utf8_seq(u + i, len - i, NULL);

		if (n == 0)
			return i;
		i += n;
	}
	return len;
}

bool tp_utf8_clean(const char *s, size_t len)
{
	return tp_utf8_check(s, len) == len && !memchr(s, '\0', len);
}

char *tp_utf8_sanitize(const char *s, size_t len, size_t *out_len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;
	char *out;

	/* Each input byte yields at most 3 output bytes (one U+FFFD). */
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	while (i < len) {
		size_t bad = 1;
		size_t n = u[i] ? tp_utf8_seq(u + i, len - i, &bad) : 0;

		if (n > 0) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, TP_UTF8_REPLACEMENT, 3);
			o += 3;
			i += bad;
		}
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	/* Give back the slack of the worst case: names are kept long. */
	char *fit = realloc(out, o + 1);
	return fit ? fit : out;
}
