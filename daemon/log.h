/*
 * log.h - one line per event on stderr (journald adds the time).
 * Any thread may log; a line is written with a single write(2) so lines
 * from different threads never interleave.
 */
#ifndef TPD_LOG_H
#define TPD_LOG_H

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level level);
/* Parses "error", "warn", "info", "debug"; -1 if none of them. */
int log_level_parse(const char *name);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
