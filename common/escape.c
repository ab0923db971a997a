/*
 * escape.c - untrusted text made safe for a terminal or a log line (see
 * escape.h).  Pure functions.
 */
#include "escape.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* Longest escape of one input unit: "\u009F" (2 bytes in) or "\xNN"
 * (1 byte in); 4 output bytes per input byte covers both. */
#define ESCAPE_PER_BYTE 4

/* How the unit at s[0..len) is written: 0 when it is copied as it is
 * (*n bytes), else the escape is put into esc and *n is what it stands
 * for. */
static int escape_unit(const unsigned char *s, size_t len, size_t *n,
		       char esc[8])
{
	size_t k = tp_utf8_seq(s, len, NULL);

	if (k == 0) {
		*n = 1;
		snprintf(esc, 8, "\\x%02X", s[0]);
		return 1;
	}
	*n = k;
	if (k == 1 && (s[0] < 0x20 || s[0] == 0x7F)) {
		if (s[0] == '\n')
			strcpy(esc, "\\n");
		else if (s[0] == '\r')
			strcpy(esc, "\\r");
		else if (s[0] == '\t')
			strcpy(esc, "\\t");
		else
			snprintf(esc, 8, "\\x%02X", s[0]);
		return 1;
	}
	/* U+0080..U+009F: C2 80 .. C2 9F. */
	if (k == 2 && s[0] == 0xC2 && s[1] <= 0x9F) {
		snprintf(esc, 8, "\\u%04X", (unsigned)s[1]);
		return 1;
	}
	return 0;
}

bool tp_escape_needed(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	char esc[8];

	while (i < len) {
		size_t n;

		/* Printable ASCII is the common case: skip it cheaply. */
		if (u[i] >= 0x20 && u[i] < 0x7F) {
			i++;
			continue;
		}
		if (escape_unit(u + i, len - i, &n, esc))
			return true;
		i += n;
	}
	return false;
}

char *tp_escape(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;
	char *out;

	if (len > (SIZE_MAX - 1) / ESCAPE_PER_BYTE)
		return NULL;
	out = malloc(len * ESCAPE_PER_BYTE + 1);
	if (!out)
		return NULL;
	while (i < len) {
		char esc[8];
		size_t n;

		if (escape_unit(u + i, len - i, &n, esc)) {
			size_t e = strlen(esc);

			memcpy(out + o, esc, e);
			o += e;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
		}
		i += n;
	}
	out[o] = '\0';
	return out;
}
