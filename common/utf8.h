/*
 * utf8.h - checking and repairing UTF-8 (RFC 3629).
 *
 * Torrent names, file paths and libtorrent's messages are untrusted bytes;
 * the protocol promises UTF-8 on the wire.  These pure functions (any
 * thread) say whether text is well-formed and turn any text into
 * well-formed UTF-8 the way transmission does: every ill-formed sequence
 * (a stray byte, an overlong form, an encoded surrogate, a code point past
 * U+10FFFF, a truncated sequence) becomes one U+FFFD REPLACEMENT
 * CHARACTER per maximal ill-formed subpart (Unicode 15, section 3.9), and
 * a NUL byte becomes U+FFFD as well, so a C string never ends early.
 */
#ifndef TP_UTF8_H
#define TP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The replacement character's encoding. */
#define TP_UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* Length (1..4) of the well-formed sequence at s[0..len), or 0 when it is
 * ill-formed; then *bad (when not NULL) is the length of the maximal
 * ill-formed subpart (at least 1), the bytes one U+FFFD stands for. */
size_t tp_utf8_seq(const unsigned char *s, size_t len, size_t *bad);
/* Offset of the first byte that is not part of well-formed UTF-8, or len
 * when every byte is.  NUL counts as well-formed here (it is U+0000). */
size_t tp_utf8_check(const char *s, size_t len);
/* True when s[0..len) is well-formed and holds no NUL: it needs no
 * repair. */
bool tp_utf8_clean(const char *s, size_t len);
/* A malloc'd, NUL-terminated, well-formed copy of s[0..len) with the
 * replacements above; its length in *out_len when not NULL.  NULL only
 * when memory ran out. */
char *tp_utf8_sanitize(const char *s, size_t len, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif
