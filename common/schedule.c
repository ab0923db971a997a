/*
 * schedule.c - parsing and evaluating the alt-speed schedule (see
 * schedule.h).  Pure: the caller passes the day and minute, so the unit
 * tests need no clock.
 */
#include "schedule.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define SCHED_ALL_DAYS 0x7fu

static const char *const sched_days[7] = {"sun", "mon", "tue", "wed",
					  "thu", "fri", "sat"};

/* "HH:MM" at *s; advances *s.  -1 if malformed. */
static int sched_time(const char **s)
{
	const char *p = *s;
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
	    p[2] != ':' || !isdigit((unsigned char)p[3]) ||
	    !isdigit((unsigned char)p[4]))
		return -1;
	int h = (p[0] - '0') * 10 + (p[1] - '0');
	int m = (p[3] - '0') * 10 + (p[4] - '0');
	if (h > 23 || m > 59)
		return -1;
	*s = p + 5;
	return h * 60 + m;
}

/* A three-letter day name at *s; advances *s.  -1 if none. */
static int sched_day(const char **s)
{
	for (int i = 0; i < 7; i++)
		if (strncasecmp(*s, sched_days[i], 3) == 0) {
			*s += 3;
			return i;
		}
	return -1;
}

/* "mon-fri,sun" -> bits.  -1 if malformed. */
static int sched_day_list(const char *s, unsigned *days)
{
	*days = 0;
	for (;;) {
		int a = sched_day(&s), b;
		if (a < 0)
			return -1;
		b = a;
		if (*s == '-') {
			s++;
			if ((b = sched_day(&s)) < 0)
				return -1;
		}
		/* mon-fri, or fri-mon across the weekend */
		for (int d = a;; d = (d + 1) % 7) {
			*days |= 1u << d;
			if (d == b)
				break;
		}
		if (*s == 0)
			return 0;
		if (*s++ != ',')
			return -1;
	}
}

int tp_schedule_parse(const char *s, struct tp_schedule *out,
		      const char **why)
{
	memset(out, 0, sizeof *out);
	if (!s || !*s)
		return 0;
	const char *p = s;
	int begin = sched_time(&p);
	int end = begin >= 0 && *p == '-' ? (p++, sched_time(&p)) : -1;
	if (begin < 0 || end < 0) {
		*why = "the schedule must look like HH:MM-HH:MM [DAYS]";
		return -1;
	}
	if (begin == end) {
		*why = "the schedule's start and end are the same time";
		return -1;
	}
	unsigned days = SCHED_ALL_DAYS;
	if (*p) {
		if (*p != ' ')
			goto bad_days;
		while (*p == ' ')
			p++;
		if (sched_day_list(p, &days) < 0)
			goto bad_days;
	}
	out->set = true;
	out->begin = begin;
	out->end = end;
	out->days = days;
	return 0;
bad_days:
	*why = "the schedule's days must be names like mon-fri or sat,sun";
	return -1;
}

bool tp_schedule_active(const struct tp_schedule *sc, int wday, int minute)
{
	if (!sc->set || wday < 0 || wday > 6 || !(sc->days & (1u << wday)))
		return false;
	if (sc->begin < sc->end)
		return minute >= sc->begin && minute < sc->end;
	return minute >= sc->begin || minute < sc->end;
}
