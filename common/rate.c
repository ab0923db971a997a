/*
 * rate.c - parsing and printing rates and durations (see rate.h).  Pure.
 *
 * A number may have a fraction ("1.5M") because people write rates that
 * way; it is read digit by digit rather than with strtod so that locale,
 * hex floats, "inf" and "nan" can never slip through.
 */
#include "rate.h"

#include <ctype.h>
#include <stdio.h>

/* Reads [digits][.digits] into *whole and *frac (frac as a fraction of
 * 1e6); returns the end, or NULL when there is no digit at all. */
static const char *rate_number(const char *s, int64_t *whole, int64_t *frac)
{
	int64_t w = 0, f = 0, scale = 100000;
	int digits = 0;
	while (isdigit((unsigned char)*s)) {
		if (w > INT64_MAX / 100)
			return NULL; /* far beyond every maximum */
		w = w * 10 + (*s++ - '0');
		digits++;
	}
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			f += (*s++ - '0') * scale;
			scale /= 10;
			digits++;
		}
	}
	if (!digits)
		return NULL;
	*whole = w;
	*frac = f;
	return s;
}

/* whole.frac * mult, or -1 if above max. */
static int64_t rate_scale(int64_t whole, int64_t frac, int64_t mult,
			  int64_t max)
{
	if (whole > max / mult)
		return -1;
	int64_t v = whole * mult + (frac * mult) / 1000000;
	return v > max ? -1 : v;
}

int tp_rate_parse(const char *s, int64_t *out)
{
	int64_t whole, frac, mult = 1;
	if (!s)
		return -1;
	const char *p = rate_number(s, &whole, &frac);
	if (!p)
		return -1;
	switch (*p) {
	case 'k': case 'K': mult = 1024; p++; break;
	case 'm': case 'M': mult = 1024 * 1024; p++; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; p++; break;
	default: break;
	}
	/* "2MiB", "2M/s", "2MB/s": the unit words people add are allowed. */
	if (mult > 1 && *p == 'i')
		p++;
	if (*p == 'B' || *p == 'b')
		p++;
	if (p[0] == '/' && p[1] == 's')
		p += 2;
	if (*p)
		return -1;
	int64_t v = rate_scale(whole, frac, mult, TP_RATE_MAX);
	if (v < 0)
		return -1;
	*out = v;
	return 0;
}

int tp_duration_parse(const char *s, int64_t *out)
{
	int64_t whole, frac, mult = 1;
	if (!s)
		return -1;
	const char *p = rate_number(s, &whole, &frac);
	if (!p)
		return -1;
	switch (*p) {
	case 's': mult = 1; p++; break;
	case 'm': mult = 60; p++; break;
	case 'h': mult = 3600; p++; break;
	case 'd': mult = 86400; p++; break;
	default: break;
	}
	if (*p)
		return -1;
	int64_t v = rate_scale(whole, frac, mult, TP_DURATION_MAX);
	if (v < 0)
		return -1;
	*out = v;
	return 0;
}

void tp_rate_format(char *buf, size_t len, int64_t rate)
{
	if (rate <= 0) {
		snprintf(buf, len, "unlimited");
		return;
	}
	if (rate < 1024)
		snprintf(buf, len, "%lld B/s", (long long)rate);
	else if (rate < 1024 * 1024)
		snprintf(buf, len, "%.1f KiB/s", rate / 1024.0);
	else
		snprintf(buf, len, "%.1f MiB/s", rate / (1024.0 * 1024));
}
