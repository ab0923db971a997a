/*
 * log.c - stderr logging with a level filter.  Any thread.
 * The level is read without a lock: it only changes at start-up and on
 * SIGHUP, and a racing reader sees either the old or the new value.
 *
 * Messages quote untrusted text (torrent names chosen by any local user,
 * paths, libtorrent's messages).  This is the one place every log line
 * passes, so it is where that text is escaped (escape.h): a line holds no
 * control byte and no invalid UTF-8, so nobody can forge a line of their
 * own or hide a line's end, whatever the caller quoted.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"

static volatile enum log_level log_level = LOG_LVL_INFO;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
	log_level = level;
}

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof log_names / sizeof log_names[0]; i++)
		if (strcmp(name, log_names[i]) == 0)
			return (int)i;
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *body = NULL;
	int n = vasprintf(&body, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (tp_escape_needed(body, (size_t)n)) {
		char *safe = tp_escape(body, (size_t)n);
		free(body);
		if (!safe)
			return;
		body = safe;
	}
	/* Under journald, "<N>" prefixes carry the priority: 3 err,
	 * 4 warning, 6 info, 7 debug.  On a terminal they would be noise. */
	static const int prio[] = {3, 4, 6, 7};
	char *line = NULL;
	int len = getenv("JOURNAL_STREAM")
		? asprintf(&line, "<%d>%s: %s\n", prio[level],
			   log_names[level], body)
		: asprintf(&line, "tpd: %s: %s\n", log_names[level], body);
	free(body);
	if (len < 0)
		return;
	ssize_t w = write(STDERR_FILENO, line, (size_t)len);
	(void)w;
	free(line);
}
