/*
 * jsonw.c - JSON text written directly, as json-c writes it (see jsonw.h).
 * Any thread.
 */
#include "jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool jsonw_room(struct jsonw *w, size_t more)
{
	if (w->failed)
		return false;
	if (w->len + more + 1 <= w->cap)
		return true;
	size_t cap = w->cap ? w->cap : 256;
	while (cap < w->len + more + 1) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	char *b = realloc(w->buf, cap);
	if (!b)
		goto fail;
	w->buf = b;
	w->cap = cap;
	return true;
fail:
	w->failed = true;
	return false;
}

void jsonw_raw(struct jsonw *w, const char *s, size_t len)
{
	if (!jsonw_room(w, len))
		return;
	memcpy(w->buf + w->len, s, len);
	w->len += len;
	w->buf[w->len] = '\0';
}

void jsonw_lit(struct jsonw *w, const char *s)
{
	jsonw_raw(w, s, strlen(s));
}

void jsonw_str(struct jsonw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0, i;

	jsonw_raw(w, "\"", 1);
	/* json_escape_str: these seven as two-byte escapes ('/' not, under
	 * NOSLASHESCAPE), other bytes below 0x20 as \u00xx, the rest as is. */
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = {'\\', 0};
		size_t n = 2;

		switch (c) {
		case '\b': esc[1] = 'b'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\f': esc[1] = 'f'; break;
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		default:
			if (c >= ' ')
				continue;
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		jsonw_raw(w, s + start, i - start);
		jsonw_raw(w, esc, n);
		start = i + 1;
	}
	jsonw_raw(w, s + start, i - start);
	jsonw_raw(w, "\"", 1);
}

void jsonw_i64(struct jsonw *w, int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof b, "%" PRId64, v);
	jsonw_raw(w, b, (size_t)n);
}

void jsonw_double(struct jsonw *w, double v)
{
	/* 128 bytes, json-c's own: "%.17g" of a double is at most 24. */
	char b[128];
	int n;

	if (isnan(v)) {
		jsonw_lit(w, "NaN");
		return;
	}
	if (isinf(v)) {
		jsonw_lit(w, v > 0 ? "Infinity" : "-Infinity");
		return;
	}
	n = snprintf(b, sizeof b, "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof b - 2) {
		w->failed = true;
		return;
	}
	/* A locale's decimal comma becomes a point, as json-c does. */
	char *p = strchr(b, ',');
	if (p)
		*p = '.';
	else
		p = strchr(b, '.');
	bool numeric = (b[0] >= '0' && b[0] <= '9') ||
		       (n > 1 && b[0] == '-' && b[1] >= '0' && b[1] <= '9');
	if (numeric && !p && !strchr(b, 'e')) {
		memcpy(b + n, ".0", 3);
		n += 2;
	}
	jsonw_raw(w, b, (size_t)n);
}

void jsonw_bool(struct jsonw *w, bool v)
{
	jsonw_lit(w, v ? "true" : "false");
}

char *jsonw_take(struct jsonw *w, size_t *len)
{
	char *b = w->buf;

	if (w->failed || !jsonw_room(w, 0)) {
		free(w->buf);
		*w = (struct jsonw){0};
		return NULL;
	}
	*len = w->len;
	*w = (struct jsonw){0};
	return b;
}
