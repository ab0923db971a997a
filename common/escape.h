/*
 * escape.h - untrusted text made safe to print on a terminal or to write
 * as one log line.
 *
 * A torrent's name is chosen by whoever made the torrent; printed raw it
 * could clear root's screen (ESC sequences), fake a row or a log line
 * (CR, LF) or hide its end (NUL).  The escaped form keeps every printable
 * character, including non-ASCII ones, and writes the rest visibly:
 * \n, \r and \t for those three, \xNN for every other C0 control byte,
 * DEL and every byte that is not part of well-formed UTF-8, and \u0080 ..
 * \u009F for the C1 controls (some terminals obey U+009B as CSI).  A
 * backslash stays a backslash.  Pure functions, any thread.
 */
#ifndef TP_ESCAPE_H
#define TP_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) holds something tp_escape() would rewrite. */
bool tp_escape_needed(const char *s, size_t len);
/* A malloc'd, NUL-terminated escaped copy of s[0..len); NULL only when
 * memory ran out. */
char *tp_escape(const char *s, size_t len);

#endif
