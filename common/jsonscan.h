/*
 * jsonscan.h - where a member's value lies in the text of a JSON object.
 *
 * json-c keeps no text of the integers it parses and clamps those that do
 * not fit 64 bits (2^64 and 10^22 both read as 18446744073709551615), so a
 * tag echoed from json-c's value would not be the tag the patron sent.
 * The codec finds the tag's own text with this scanner and echoes that.
 * Pure functions, any thread.
 */
#ifndef TP_JSONSCAN_H
#define TP_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Finds the value of the top-level member named `key` in text[0..len),
 * which must be one JSON object that a strict parser has already accepted
 * (blanks around it allowed).  Names are matched as json-c matches them:
 * a name written with escapes ("t\u0061g") counts as the name it stands
 * for, a name is cut at an escaped NUL ("tag\u0000x" is "tag"), and when
 * the name occurs more than once the last one counts.  Returns 0 with the value's offset
 * and length, or -1 when there is no such member. */
int tp_json_member(const char *text, size_t len, const char *key,
		   size_t *off, size_t *n);
/* True when s[0..len) is exactly one JSON number (RFC 8259 grammar:
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?), of any length. */
bool tp_json_is_number(const char *s, size_t len);

#endif
