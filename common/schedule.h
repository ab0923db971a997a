/*
 * schedule.h - the alt-speed schedule: "HH:MM-HH:MM", optionally followed
 * by days ("22:00-07:00 mon-fri", "09:00-17:30 sat,sun").  A window whose
 * end is before its start runs past midnight; the days name the day the
 * clock shows.  Pure, any thread; the engine asks it every tick.
 */
#ifndef TP_SCHEDULE_H
#define TP_SCHEDULE_H

#include <stdbool.h>

struct tp_schedule {
	bool set;         /* false: no schedule, never active */
	int begin, end;   /* minutes after midnight, [0, 1440) */
	unsigned days;    /* bit 0 Sunday .. bit 6 Saturday */
};

/* "" or NULL gives an unset schedule.  0, or -1 with a static reason. */
int tp_schedule_parse(const char *s, struct tp_schedule *out,
		      const char **why);
/* wday 0 = Sunday (struct tm's), minute of the day. */
bool tp_schedule_active(const struct tp_schedule *sc, int wday, int minute);

#endif
