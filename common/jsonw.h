/*
 * jsonw.h - JSON text written straight into a growing buffer, byte for
 * byte as json-c 0.16 writes the same values with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE (what tp_line uses).
 *
 * Why: the daemon's main thread built each torrent's status as a json-c
 * tree only to print it; while 10,000 torrents were added that was about
 * 40 % of the thread (perf, issue 12).  Writing the text directly costs a
 * fraction of that, and the unit test checks it against json-c's own
 * output.  Pure functions, any thread (one buffer per thread).
 */
#ifndef TP_JSONW_H
#define TP_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
	char *buf;      /* NUL-terminated while not failed */
	size_t len, cap;
	bool failed;    /* memory ran out: every later write is ignored */
};

/* Bytes as they are (punctuation, member names that need no escape). */
void jsonw_raw(struct jsonw *w, const char *s, size_t len);
void jsonw_lit(struct jsonw *w, const char *s);  /* jsonw_raw of a C string */
/* A JSON string of the C string s, escaped as json-c escapes. */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_i64(struct jsonw *w, int64_t v);
/* As json_object_new_double's default: "%.17g", ".0" added to an
 * integral value, NaN, Infinity and -Infinity as json-c spells them. */
void jsonw_double(struct jsonw *w, double v);
void jsonw_bool(struct jsonw *w, bool v);
/* The buffer, malloc'd (length in *len), leaving w empty; NULL when
 * memory ran out (then w is freed too). */
char *jsonw_take(struct jsonw *w, size_t *len);

#endif
