/*
 * pipe_parse.c - parses the lines `tpctl pipe` reads on stdin (the grammar
 * is in pipe_parse.h).  Pure; kept apart from the I/O of tpctl_pipe.c so
 * the unit tests can drive it line by line.
 */
#include "pipe_parse.h"

#include <string.h>
#include <strings.h>

static int pipe_parse_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int pipe_parse_bad(struct pipe_cmd *out, const char *why)
{
	out->kind = PIPE_BAD;
	out->why = why;
	return PIPE_BAD;
}

static int pipe_parse_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && strncasecmp(s, prefix, n) == 0;
}

/* Length of a URL scheme followed by "://" at the start of s, else 0. */
static size_t pipe_parse_scheme(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && ((s[i] >= 'a' && s[i] <= 'z') ||
			   (s[i] >= 'A' && s[i] <= 'Z') ||
			   (i > 0 && ((s[i] >= '0' && s[i] <= '9') ||
				      s[i] == '+' || s[i] == '-' ||
				      s[i] == '.'))))
		i++;
	if (i > 0 && len - i >= 3 && memcmp(s + i, "://", 3) == 0)
		return i;
	return 0;
}

/* torrent:ARG - a URL, a magnet (accepted for convenience) or a path. */
static int pipe_parse_torrent(const char *s, size_t len, struct pipe_cmd *out)
{
	size_t scheme = pipe_parse_scheme(s, len);

	out->arg = s;
	out->arg_len = len;
	if (len == 0)
		return pipe_parse_bad(out, "torrent: needs a URL or a path");
	if (pipe_parse_prefix(s, len, "magnet:?")) {
		out->kind = PIPE_MAGNET;
		return out->kind;
	}
	if (scheme == 0) {
		out->kind = PIPE_TORRENT_PATH;
		return out->kind;
	}
	/* Any other scheme is a mistake, not a file called "ftp:". */
	if (!((scheme == 4 && strncasecmp(s, "http", 4) == 0) ||
	      (scheme == 5 && strncasecmp(s, "https", 5) == 0)))
		return pipe_parse_bad(out, "only http and https URLs are "
				      "fetched");
	if (len == scheme + 3)
		return pipe_parse_bad(out, "the URL has no host");
	out->kind = PIPE_TORRENT_URL;
	return out->kind;
}

int pipe_parse_line(const char *line, struct pipe_cmd *out)
{
	size_t len = strlen(line);
	const char *s = line;

	memset(out, 0, sizeof *out);
	while (len > 0 && pipe_parse_blank(*s)) {
		s++;
		len--;
	}
	while (len > 0 && pipe_parse_blank(s[len - 1]))
		len--;
	if (len == 0) {
		out->kind = PIPE_EMPTY;
		return out->kind;
	}
	if (pipe_parse_prefix(s, len, "file:")) {
		out->arg = s + 5;
		out->arg_len = len - 5;
		if (out->arg_len == 0)
			return pipe_parse_bad(out, "file: needs a path");
		out->kind = PIPE_FILE;
		return out->kind;
	}
	if (pipe_parse_prefix(s, len, "torrent:"))
		return pipe_parse_torrent(s + 8, len - 8, out);
	if (pipe_parse_prefix(s, len, "magnet:?")) {
		out->arg = s;
		out->arg_len = len;
		if (len == 8)
			return pipe_parse_bad(out, "the magnet URI is empty");
		out->kind = PIPE_MAGNET;
		return out->kind;
	}
	return pipe_parse_bad(out, "expected file:PATH, torrent:URL, "
			      "torrent:PATH or magnet:?...");
}
